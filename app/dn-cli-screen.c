/* dn-cli-screen.c: the screening commands of dualneuron-cli (issue #5):
 *
 *   screen --model MODEL --dataset PATH|FILE.h5:/ds|FILE.npy|builtin:gratings|plaids|noise|shapes
 *          --output OUT.h5 [--top K] [--keep-responses] [--batch N] [--shard i/N] [--workers N]
 *          [--geometry auto|imagenet|crop|model] [--mask model|none|FILE.npy] [--max-pixels N]
 *          [--overwrite] [--quiet] [--backend …]
 *   stats OUT.h5 [--rows N] [--by-index]     the per-neuron table (by gini, descending)
 *   merge OUT.h5 SHARD.h5…                   shard files into the single run's file
 *
 * Ctrl-C checkpoints the run; the same command continues it.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-cli.h"
#include "dn-screen.h"
#include "dn-twin-load.h"

typedef struct
{
  bool quiet;
  double last_print;
  int64_t failures_printed;
} ScreenUi;

static volatile sig_atomic_t interrupted;

static void
on_sigint (int sig)
{
  interrupted = 1;
}

static bool
should_stop (void *user)
{
  return interrupted != 0;
}

static double
mono_s (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void
format_duration (double s, char *buf, size_t size)
{
  if (s < 0 || !isfinite (s))
    snprintf (buf, size, "?");
  else if (s < 60)
    snprintf (buf, size, "%.0fs", s);
  else if (s < 3600)
    snprintf (buf, size, "%dm%02ds", (int) (s / 60), (int) fmod (s, 60));
  else
    snprintf (buf, size, "%dh%02dm", (int) (s / 3600), (int) fmod (s / 60, 60));
}

static void
on_progress (const DnScreenProgress *p, void *user)
{
  ScreenUi *ui = user;
  double t = mono_s ();
  if (ui->quiet || (t - ui->last_print < 1.0 && p->done < p->total))
    return;
  ui->last_print = t;
  char eta[32];
  format_duration (p->eta_s, eta, sizeof eta);
  fprintf (stderr, "\r  %lld/%lld items (%.1f%%), %lld failed, %.1f items/s, ETA %s   ", (long long) p->done,
           (long long) p->total, p->total ? 100.0 * (double) p->done / (double) p->total : 100.0, (long long) p->failed,
           p->items_per_s, eta);
  if (p->done == p->total)
    fputc ('\n', stderr);
}

static void
on_failure (int64_t index, const char *id, const char *reason, void *user)
{
  ScreenUi *ui = user;
  /* the full list is in the output file (/failures); the terminal gets the first hundred */
  if (ui->failures_printed++ < 100)
    fprintf (stderr, "\rdualneuron-cli: skipped item %lld (%s): %s\n", (long long) index, id, reason);
  else if (ui->failures_printed == 101)
    fprintf (stderr, "\rdualneuron-cli: more items skipped (see /failures in the output)\n");
}

static void
screen_usage (void)
{
  fprintf (stderr,
           "usage: dualneuron-cli screen --model MODEL --dataset DATASET --output OUT.h5 [--top K] [--keep-responses]\n"
           "         [--batch N] [--shard i/N] [--workers N] [--geometry auto|imagenet|crop|model]\n"
           "         [--mask model|none|FILE.npy] [--max-pixels N] [--overwrite] [--quiet] [--backend cpu|vulkan]\n"
           "DATASET: a folder of PNG/JPEG files, FILE.h5:/dataset, FILE.npy, or builtin:gratings|plaids|noise|shapes\n"
           "         (options as builtin:noise:n=10000,size=93)\n");
}

static int
parse_shard (const char *s, DnScreenOptions *o)
{
  int i, n;
  char tail;
  if (sscanf (s, "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || i < 1 || i > n)
    {
      fprintf (stderr, "dualneuron-cli: --shard %s: expected i/N with 1 <= i <= N\n", s);
      return -1;
    }
  o->shard_index = i - 1;
  o->n_shards = n;
  return 0;
}

int
dn_cli_screen (int argc, char **argv)
{
  CliCommon c;
  dn_cli_common_init (&c);
  DnScreenOptions o;
  dn_screen_options_init (&o);
  DnDatasetOptions dopt;
  dn_dataset_options_init (&dopt);
  ScreenUi ui = { 0 };
  const char *model = NULL, *dataset = NULL, *output = NULL;
  for (int i = 2; i < argc; i++)
    {
      int j = dn_cli_parse_common (argc, argv, i, &c);
      if (j < 0)
        return 2;
      if (j > i)
        {
          i = j - 1;
          continue;
        }
      const char *a = argv[i];
      bool has = i + 1 < argc;
      if (!strcmp (a, "--model") && has)
        model = argv[++i];
      else if (!strcmp (a, "--dataset") && has)
        dataset = argv[++i];
      else if (!strcmp (a, "--output") && has)
        output = argv[++i];
      else if (!strcmp (a, "--top") && has)
        o.top_k = atoi (argv[++i]);
      else if (!strcmp (a, "--batch") && has)
        o.batch = atoi (argv[++i]);
      else if (!strcmp (a, "--workers") && has)
        o.n_workers = atoi (argv[++i]);
      else if (!strcmp (a, "--max-pixels") && has)
        dopt.max_pixels = atoll (argv[++i]);
      else if (!strcmp (a, "--shard") && has)
        {
          if (parse_shard (argv[++i], &o) < 0)
            return 2;
        }
      else if (!strcmp (a, "--geometry") && has)
        {
          const char *g = argv[++i];
          static const char *names[] = { "auto", "imagenet", "crop", "model" };
          int k = 0;
          while (k < 4 && strcmp (g, names[k]))
            k++;
          if (k == 4)
            {
              fprintf (stderr, "dualneuron-cli: --geometry %s: auto, imagenet, crop or model\n", g);
              return 2;
            }
          o.preprocess.geometry = (DnGeometry) k;
        }
      else if (!strcmp (a, "--mask") && has)
        {
          const char *m = argv[++i];
          o.preprocess.mask = !strcmp (m, "model") ? DN_MASK_MODEL : !strcmp (m, "none") ? DN_MASK_NONE : DN_MASK_FILE;
          o.preprocess.mask_path = o.preprocess.mask == DN_MASK_FILE ? m : NULL;
        }
      else if (!strcmp (a, "--keep-responses"))
        o.keep_responses = true;
      else if (!strcmp (a, "--overwrite"))
        o.overwrite = true;
      else if (!strcmp (a, "--quiet"))
        ui.quiet = true;
      else
        {
          fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", a);
          screen_usage ();
          return 2;
        }
    }
  if (!model || !dataset || !output || o.top_k < 0 || o.batch < 1)
    {
      screen_usage ();
      return 2;
    }
  DnDevice *dev = dn_cli_device (&c);
  if (!dev)
    return 1;
  DnStatus st;
  int rc = 0;
  DnDataset *ds = NULL;
  DnTwin *twin = dn_twin_open (dev, model, &st);
  if (!twin)
    {
      rc = dn_cli_fail ("opening the model");
      goto out;
    }
  dopt.builtin_size = dn_twin_info (twin)->in_h;
  if (!(ds = dn_dataset_open (dataset, &dopt, &st)))
    {
      rc = dn_cli_fail ("opening the dataset");
      goto out;
    }
  int64_t lo, hi;
  dn_screen_shard_range (dn_dataset_count (ds), o.shard_index, o.n_shards, &lo, &hi);
  if (!ui.quiet)
    fprintf (stderr, "screening %s (%s, %lld items; this run: %lld to %lld) with %s (%d neurons) on %s\n", dataset,
             dn_dataset_kind_name (ds), (long long) dn_dataset_count (ds), (long long) lo, (long long) hi,
             dn_twin_name (twin), dn_twin_info (twin)->n_neurons, dn_device_info (dev)->name);
  o.model_spec = model;
  o.progress = on_progress;
  o.failure = on_failure;
  o.should_stop = should_stop;
  o.user = &ui;
  struct sigaction sa = { 0 }, old;
  sa.sa_handler = on_sigint;
  sigaction (SIGINT, &sa, &old);
  st = dn_screen_run (twin, ds, output, &o);
  sigaction (SIGINT, &old, NULL);
  if (st == DN_ERROR_CANCELLED)
    {
      fprintf (stderr, "\ndualneuron-cli: interrupted; progress is saved in %s.partial, the same command continues\n",
               output);
      rc = 130;
    }
  else if (st != DN_OK)
    rc = dn_cli_fail ("screening");
  else if (!ui.quiet)
    printf ("screen: %s written\n", output);
out:
  dn_dataset_free (ds);
  dn_twin_free (twin);
  dn_device_free (dev);
  return rc;
}

int
dn_cli_stats (int argc, char **argv)
{
  const char *path = NULL;
  int rows = -1;
  bool by_index = false;
  for (int i = 2; i < argc; i++)
    {
      if (!strcmp (argv[i], "--rows") && i + 1 < argc)
        rows = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--by-index"))
        by_index = true;
      else if (!path && argv[i][0] != '-')
        path = argv[i];
      else
        {
          fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", argv[i]);
          return 2;
        }
    }
  if (!path)
    {
      fprintf (stderr, "usage: dualneuron-cli stats SCREEN.h5 [--rows N] [--by-index]\n");
      return 2;
    }
  DnScreenResult *r;
  if (dn_screen_result_load (path, &r) != DN_OK)
    return dn_cli_fail ("reading the screening");
  int active = 0;
  for (int k = 0; k < r->n_neurons; k++)
    active += r->stats[k].active;
  printf ("model:     %s (%s)\n", r->model, r->model_name);
  printf ("dataset:   %s, %lld items (hash %s)\n", r->dataset, (long long) r->dataset_count, r->dataset_hash);
  printf ("items:     %lld to %lld: %lld screened, %lld failed\n", (long long) r->item_start, (long long) r->item_end,
          (long long) r->n_valid, (long long) r->n_failed);
  printf ("neurons:   %d (%d active: max > 0.5, mean > 0.01, std > 0)\n", r->n_neurons, active);
  printf ("quantiles: %s\n", r->exact_quantiles ? "exact (response matrix)" : "from the histogram (within 0.5%)");
  printf ("%6s %8s %9s %9s %9s %9s %8s %9s %9s %9s %6s  %s\n", "neuron", "gini", "skewness", "mean", "std", "range",
          "cv", "max", "q95", "q05", "active", "most activating item");
  int n = rows < 0 || rows > r->n_neurons ? r->n_neurons : rows;
  for (int i = 0; i < n; i++)
    {
      int k = by_index ? i : r->order[i];
      const DnNeuronStats *s = &r->stats[k];
      int64_t best = r->top_k ? r->top_index[(size_t) k * r->top_k] : -1;
      const char *id = best >= 0 ? dn_screen_result_item_id (r, best) : NULL;
      printf ("%6d %8.4f %9.3f %9.4f %9.4f %9.4f %8.3f %9.4f %9.4f %9.4f %6s  %s\n", k, s->gini, s->skewness, s->mean,
              s->std, s->range, s->cv, s->max, s->q95, s->q05, s->active ? "yes" : "no", id ? id : "-");
    }
  dn_screen_result_free (r);
  return 0;
}

int
dn_cli_merge (int argc, char **argv)
{
  if (argc < 4)
    {
      fprintf (stderr, "usage: dualneuron-cli merge OUT.h5 SHARD1.h5 SHARD2.h5 …\n");
      return 2;
    }
  if (dn_screen_merge (argv[2], (const char *const *) argv + 3, argc - 3) != DN_OK)
    return dn_cli_fail ("merging");
  printf ("merge: %d shards written to %s\n", argc - 3, argv[2]);
  return 0;
}
