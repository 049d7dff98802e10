/* dn-cli-synth.c: `dualneuron-cli synth`: pole synthesis (most / least exciting inputs) for many neurons
 * and seeds into one resumable HDF5 file in DualNeuron's layout (compute/synth/dn-synth.h).
 *
 *   dualneuron-cli synth --model MODEL --neurons 0-9,100 (--seeds 5 | --seed-list 17,42)
 *       [--poles least,most] [--preset v1-pixel|v4-fourier] [--steps 128 --lr … --crops … --noise …
 *       --norm …] --output results.h5 [--batch N] [--shard i/N] [--backend …]
 *
 * Jobs run in the order neuron → seed → pole. Rerunning the same command skips the finished jobs; Ctrl-C
 * stops at the next step and keeps every finished batch. Progress goes to stderr.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dn-cli.h"
#include "dn-npy.h"
#include "dn-synth.h"
#include "dn-twin-load.h"

static void
synth_usage (FILE *f)
{
  fprintf (f,
           "usage: dualneuron-cli synth --model MODEL --neurons LIST (--seeds N | --seed-list S,S…) --output OUT.h5\n"
           "                            [options]\n"
           "  --neurons LIST        neuron indices and ranges, e.g. 0-9,100 (or 'all')\n"
           "  --seeds N             seeds 0 … N−1          --seed-list 17,42   these seeds\n"
           "  --poles most,least    which poles (default least,most, DualNeuron's order)\n"
           "  --preset NAME         v1-pixel, gabor-pixel or v4-fourier (default: v4-fourier for V4 twins,\n"
           "                        gabor-pixel for builtin:gabor-v1, else v1-pixel)\n"
           "  --steps N --lr X --crops N --noise X --norm X (target L2 norm) --jitter X --tv X\n"
           "  --box MIN,MAX --pad-frac X --oversample N --values LO,HI --range sigmoid|tanh --no-schedule\n"
           "  --momentum X --init-std X --blur K,SIGMA (pixel)   --betas B1,B2 --adam-eps X (Fourier)\n"
           "  --prior NPY           Fourier amplitude prior (default: <model>/../priors/natural_{rgb,gray}.npy)\n"
           "  --init-image NPY      start image (C,H,W) in image space\n"
           "  --batch N             jobs advancing together (default: adapt to the device)\n"
           "  --shard I/N           run the I-th of N interleaved parts of the job list (1-based)\n"
           "  --quiet               no progress on stderr\n"
           "  and --backend, --device, --software, --threads, --validation (see dualneuron-cli --help)\n");
}

static volatile sig_atomic_t interrupted;

static void
on_sigint (int sig)
{
  (void) sig;
  interrupted = 1;
}

static bool
should_stop (void *user)
{
  (void) user;
  return interrupted != 0;
}

typedef struct
{
  double t0, last;
  bool quiet;
} Progress;

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void
progress (int jobs_done, int n_jobs, int step, int n_steps, const float *resp, void *user)
{
  Progress *p = user;
  double t = now ();
  if (p->quiet || (t - p->last < 1.0 && step != n_steps))
    return;
  p->last = t;
  /* the ETA from the elapsed time and the fraction of the run done (the current batch counted as one job:
   * a lower bound on the fraction, so the ETA errs long) */
  double frac = ((double) jobs_done + (double) step / n_steps * (jobs_done < n_jobs ? 1 : 0)) / (n_jobs ? n_jobs : 1);
  double elapsed = t - p->t0, eta = frac > 0 ? elapsed * (1 - frac) / frac : NAN;
  fprintf (stderr, "\rsynth: %d/%d jobs done, step %3d/%d, response %8.3f, elapsed %6.0f s, ETA %6.0f s ", jobs_done,
           n_jobs, step, n_steps, resp ? resp[0] : NAN, elapsed, eta);
  fflush (stderr);
}

static int
cmp_int (const void *a, const void *b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return (x > y) - (x < y);
}

/* "0-9,100" → sorted unique list; "all" = 0 … n−1. */
static int
parse_list (const char *s, int n_max, int **out)
{
  int cap = 64, n = 0;
  int *v = malloc ((size_t) cap * sizeof *v);
  if (!v)
    return -1;
  if (strcmp (s, "all") == 0)
    {
      free (v);
      v = malloc ((size_t) (n_max > 0 ? n_max : 1) * sizeof *v);
      for (int i = 0; v && i < n_max; i++)
        v[n++] = i;
      *out = v;
      return v ? n : -1;
    }
  const char *p = s;
  while (*p)
    {
      char *end;
      long a = strtol (p, &end, 10), b = a;
      if (end == p)
        goto bad;
      p = end;
      if (*p == '-')
        {
          b = strtol (p + 1, &end, 10);
          if (end == p + 1 || b < a)
            goto bad;
          p = end;
        }
      if (a < 0 || b >= n_max)
        {
          fprintf (stderr, "dualneuron-cli: synth: neuron %ld does not exist (0 … %d)\n", a < 0 ? a : b, n_max - 1);
          free (v);
          return -1;
        }
      for (long i = a; i <= b; i++)
        {
          if (n == cap)
            {
              cap *= 2;
              int *nv = realloc (v, (size_t) cap * sizeof *v);
              if (!nv)
                goto bad;
              v = nv;
            }
          v[n++] = (int) i;
        }
      if (*p == ',')
        p++;
      else if (*p)
        goto bad;
    }
  qsort (v, (size_t) n, sizeof *v, cmp_int);
  int u = 0;
  for (int i = 0; i < n; i++)
    if (u == 0 || v[i] != v[u - 1])
      v[u++] = v[i];
  *out = v;
  return u;
bad:
  fprintf (stderr, "dualneuron-cli: synth: bad list '%s' (e.g. 0-9,100)\n", s);
  free (v);
  return -1;
}

static bool
parse_pair (const char *s, double *a, double *b)
{
  char *end;
  *a = strtod (s, &end);
  if (*end != ',')
    return false;
  *b = strtod (end + 1, &end);
  return *end == '\0';
}

static bool
parse_double (const char *s, double *v)
{
  char *end;
  *v = strtod (s, &end);
  return end != s && *end == '\0';
}

/* A start image (.npy, (C,H,W) or (1,C,H,W)) of the twin's input shape. */
static float *
load_init_image (const char *path, const DnTwinInfo *info)
{
  DnNpyArray *a = NULL;
  if (dn_npy_load (path, DN_NPY_FLOAT32, &a) != DN_OK)
    {
      dn_cli_fail ("reading the start image");
      return NULL;
    }
  int64_t want = (int64_t) info->in_channels * info->in_h * info->in_w;
  float *img = NULL;
  if (a->numel != want || a->shape[a->ndim - 1] != info->in_w)
    fprintf (stderr, "dualneuron-cli: synth: %s: the start image must be (%d,%d,%d)\n", path, info->in_channels,
             info->in_h, info->in_w);
  else if ((img = malloc ((size_t) want * sizeof *img)))
    memcpy (img, a->data, (size_t) want * sizeof *img);
  dn_npy_array_free (a);
  return img;
}

int
dn_cli_synth (int argc, char **argv)
{
  CliCommon common;
  dn_cli_common_init (&common);
  const char *model = NULL, *neurons_s = NULL, *seed_list = NULL, *poles_s = "least,most", *preset = NULL;
  const char *output = NULL, *prior = NULL, *init_path = NULL, *shard_s = NULL;
  int n_seeds = 0, batch = 0;
  bool quiet = false;
  /* overrides, applied after the preset: name/value pairs kept until the twin is known */
  const char *ov_name[64], *ov_val[64];
  int n_ov = 0;
  for (int i = 2; i < argc;)
    {
      int j = dn_cli_parse_common (argc, argv, i, &common);
      if (j < 0)
        return 2;
      if (j > i)
        {
          i = j;
          continue;
        }
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (!strcmp (a, "--help") || !strcmp (a, "-h"))
        {
          synth_usage (stdout);
          return 0;
        }
      if (!strcmp (a, "--quiet"))
        {
          quiet = true;
          i++;
          continue;
        }
      if (!strcmp (a, "--no-schedule"))
        {
          ov_name[n_ov] = a;
          ov_val[n_ov++] = "";
          i++;
          continue;
        }
      if (!v)
        {
          fprintf (stderr, "dualneuron-cli: synth: %s needs a value\n", a);
          synth_usage (stderr);
          return 2;
        }
      if (!strcmp (a, "--model"))
        model = v;
      else if (!strcmp (a, "--neurons"))
        neurons_s = v;
      else if (!strcmp (a, "--seeds"))
        n_seeds = atoi (v);
      else if (!strcmp (a, "--seed-list"))
        seed_list = v;
      else if (!strcmp (a, "--poles"))
        poles_s = v;
      else if (!strcmp (a, "--preset"))
        preset = v;
      else if (!strcmp (a, "--output"))
        output = v;
      else if (!strcmp (a, "--prior"))
        prior = v;
      else if (!strcmp (a, "--init-image"))
        init_path = v;
      else if (!strcmp (a, "--batch"))
        batch = atoi (v);
      else if (!strcmp (a, "--shard"))
        shard_s = v;
      else if (n_ov < 64
               && (!strcmp (a, "--steps") || !strcmp (a, "--lr") || !strcmp (a, "--crops") || !strcmp (a, "--noise")
                   || !strcmp (a, "--norm") || !strcmp (a, "--jitter") || !strcmp (a, "--tv") || !strcmp (a, "--box")
                   || !strcmp (a, "--pad-frac") || !strcmp (a, "--oversample") || !strcmp (a, "--values")
                   || !strcmp (a, "--range") || !strcmp (a, "--momentum") || !strcmp (a, "--init-std")
                   || !strcmp (a, "--blur") || !strcmp (a, "--betas") || !strcmp (a, "--adam-eps")))
        {
          ov_name[n_ov] = a;
          ov_val[n_ov++] = v;
        }
      else
        {
          fprintf (stderr, "dualneuron-cli: synth: unknown option '%s'\n", a);
          synth_usage (stderr);
          return 2;
        }
      i += 2;
    }
  if (!model || !neurons_s || !output || (n_seeds <= 0 && !seed_list))
    {
      fprintf (stderr, "dualneuron-cli: synth: --model, --neurons, --seeds (or --seed-list) and --output are needed\n");
      synth_usage (stderr);
      return 2;
    }
  int shard_i = 1, shard_n = 1;
  if (shard_s && (sscanf (shard_s, "%d/%d", &shard_i, &shard_n) != 2 || shard_n < 1 || shard_i < 1 || shard_i > shard_n))
    {
      fprintf (stderr, "dualneuron-cli: synth: --shard I/N needs 1 ≤ I ≤ N (got '%s')\n", shard_s);
      return 2;
    }
  int weights[2], n_poles = 0;
  for (const char *p = poles_s; *p;)
    {
      size_t len = strcspn (p, ",");
      int w = len == 4 && !strncmp (p, "most", 4) ? 1 : len == 5 && !strncmp (p, "least", 5) ? -1 : 0;
      if (!w || n_poles == 2 || (n_poles == 1 && weights[0] == w))
        {
          fprintf (stderr, "dualneuron-cli: synth: --poles takes most, least or both (got '%s')\n", poles_s);
          return 2;
        }
      weights[n_poles++] = w;
      p += len + (p[len] == ',');
    }

  DnDevice *dev = dn_cli_device (&common);
  if (!dev)
    return 1;
  DnStatus st;
  int rc = 1;
  DnTwin *twin = dn_twin_open (dev, model, &st);
  int *neurons = NULL, *seeds = NULL, n_neurons = 0, n_seed = 0;
  float *mag = NULL, *init = NULL;
  DnSynthJob *jobs = NULL;
  if (!twin)
    {
      dn_cli_fail (model);
      goto out;
    }
  const DnTwinInfo *info = dn_twin_info (twin);
  if ((n_neurons = parse_list (neurons_s, info->n_neurons, &neurons)) <= 0)
    goto out;
  if (seed_list)
    {
      if ((n_seed = parse_list (seed_list, 1 << 30, &seeds)) <= 0)
        goto out;
    }
  else
    {
      seeds = malloc ((size_t) n_seeds * sizeof *seeds);
      for (int i = 0; seeds && i < n_seeds; i++)
        seeds[n_seed++] = i;
    }

  DnSynthParams p;
  if (!preset)
    preset = info->arch == DN_ARCH_V4_RESNET ? "v4-fourier"
             : strcmp (dn_twin_name (twin), "builtin:gabor-v1") == 0 ? "gabor-pixel" : "v1-pixel";
  if (dn_synth_params_preset (&p, preset) != DN_OK)
    {
      dn_cli_fail ("synth");
      rc = 2;
      goto out;
    }
  for (int i = 0; i < n_ov; i++)
    {
      const char *a = ov_name[i], *v = ov_val[i];
      double x = 0, y = 0;
      bool ok = true;
      if (!strcmp (a, "--no-schedule"))
        p.lr_schedule = false;
      else if (!strcmp (a, "--box"))
        ok = parse_pair (v, &p.box_min, &p.box_max);
      else if (!strcmp (a, "--values"))
        ok = parse_pair (v, &p.lo, &p.hi);
      else if (!strcmp (a, "--betas"))
        ok = parse_pair (v, &p.beta1, &p.beta2);
      else if (!strcmp (a, "--blur"))
        {
          ok = parse_pair (v, &x, &y);
          p.blur_ksize = (int) x;
          p.blur_sigma = y;
        }
      else if (!strcmp (a, "--range"))
        {
          ok = !strcmp (v, "sigmoid") || !strcmp (v, "tanh");
          p.range = !strcmp (v, "tanh") ? DN_SYNTH_RANGE_TANH : DN_SYNTH_RANGE_SIGMOID;
        }
      else if ((ok = parse_double (v, &x)))
        {
          if (!strcmp (a, "--steps"))
            p.steps = (int) x;
          else if (!strcmp (a, "--lr"))
            p.lr = x;
          else if (!strcmp (a, "--crops"))
            p.n_crops = (int) x;
          else if (!strcmp (a, "--noise"))
            p.noise = x;
          else if (!strcmp (a, "--norm"))
            p.target_norm = x;
          else if (!strcmp (a, "--jitter"))
            p.jitter = x;
          else if (!strcmp (a, "--tv"))
            p.tv_weight = x;
          else if (!strcmp (a, "--pad-frac"))
            p.pad_frac = x;
          else if (!strcmp (a, "--oversample"))
            p.oversample = (int) x;
          else if (!strcmp (a, "--momentum"))
            p.momentum = x;
          else if (!strcmp (a, "--init-std"))
            p.init_std = x;
          else if (!strcmp (a, "--adam-eps"))
            p.adam_eps = x;
        }
      if (!ok)
        {
          fprintf (stderr, "dualneuron-cli: synth: bad value '%s' for %s\n", v, a);
          rc = 2;
          goto out;
        }
    }
  if (p.kind == DN_SYNTH_FOURIER)
    {
      char buf[4096];
      struct stat sb;
      if (!prior)
        {
          /* DualNeuron's twins/<Model>/ sits next to priors/ */
          snprintf (buf, sizeof buf, "%s/../priors/natural_%s.npy", model, info->in_channels == 3 ? "rgb" : "gray");
          if (stat (model, &sb) != 0 || !S_ISDIR (sb.st_mode) || stat (buf, &sb) != 0)
            {
              fprintf (stderr, "dualneuron-cli: synth: the Fourier preset needs an amplitude prior: give --prior "
                               "natural_%s.npy\n", info->in_channels == 3 ? "rgb" : "gray");
              rc = 2;
              goto out;
            }
          prior = buf;
        }
      if (dn_synth_prior_load (dev, prior, info->in_channels, info->in_h, info->in_w, &mag) != DN_OK)
        {
          dn_cli_fail ("reading the prior");
          goto out;
        }
      p.magnitude = mag;
    }
  if (init_path)
    {
      if (!(init = load_init_image (init_path, info)))
        goto out;
      p.init_image = init;
    }
  if (dn_synth_params_check (&p, twin) != DN_OK)
    {
      dn_cli_fail ("synth");
      rc = 2;
      goto out;
    }

  int n_jobs = n_neurons * n_seed * n_poles;
  jobs = malloc ((size_t) n_jobs * sizeof *jobs);
  if (!jobs)
    {
      fprintf (stderr, "dualneuron-cli: synth: out of memory\n");
      goto out;
    }
  int k = 0;
  for (int a = 0; a < n_neurons; a++)
    for (int s = 0; s < n_seed; s++)
      for (int w = 0; w < n_poles; w++)
        jobs[k++] = (DnSynthJob){ neurons[a], (uint32_t) seeds[s], weights[w] };

  Progress prog = { .t0 = now (), .quiet = quiet };
  DnSynthFileOptions fo;
  dn_synth_file_options_init (&fo);
  fo.output = output;
  fo.model_id = model;
  fo.preset = preset;
  fo.shard_index = shard_i - 1;
  fo.shard_count = shard_n;
  fo.run.batch = batch;
  fo.run.progress = progress;
  fo.run.should_stop = should_stop;
  fo.run.user = &prog;
  struct sigaction sa = { .sa_handler = on_sigint }, old_int, old_term;
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  if (!quiet)
    fprintf (stderr, "synth: %s, %s, %d neurons × %d seeds × %d poles on %s\n", dn_twin_name (twin), preset, n_neurons,
             n_seed, n_poles, dn_device_info (dev)->name);
  DnSynthFileReport rep;
  st = dn_synth_to_file (twin, &p, jobs, n_jobs, &fo, &rep);
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  if (!quiet && (st == DN_OK || st == DN_ERROR_CANCELLED || st == DN_ERROR_NON_FINITE))
    fprintf (stderr, "\nsynth: %d jobs in this shard: %d already in %s, %d done now, %d failed (%.1f s)\n",
             rep.n_jobs, rep.n_skipped, output, rep.n_done, rep.n_failed, now () - prog.t0);
  else if (!quiet)
    fputc ('\n', stderr);
  if (st == DN_ERROR_CANCELLED)
    {
      fprintf (stderr, "dualneuron-cli: synth: interrupted; the finished jobs are in %s (rerun to resume)\n", output);
      rc = 130;
    }
  else if (st != DN_OK)
    dn_cli_fail ("synth");
  else
    rc = 0;
out:
  free (jobs);
  free (neurons);
  free (seeds);
  free (mag);
  free (init);
  dn_twin_free (twin);
  dn_device_free (dev);
  return rc;
}
