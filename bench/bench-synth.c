/* bench-synth.c: pole-synthesis throughput on one backend: seconds per (neuron, seed, pole) job for a
 * preset at several batch sizes (jobs advancing together), the best batch, and the projection for a whole
 * DualNeuron run (458 V1 neurons × 5 seeds × 2 poles by default). The PyTorch side is
 * tools/torch-synth-reference.py (the same step written from twins.md §6.1, 1 thread) on the same
 * machine: with --torch the script is run here and the ratio printed.
 *   bench-synth [--model PATH|builtin:gabor-v1] [--preset v1-pixel|v4-fourier] [--prior NPY]
 *               [--batches 1,2,4,8,16] [--steps 6] [--poles-steps 128] [--neurons 458] [--seeds 5]
 *               [--backend cpu|vulkan] [--device N] [--threads N] [--profile] [--torch [PYTHON]]
 * Timing: per batch size, one warm-up step (the twin's workspace, pipelines) and then --steps timed steps;
 * a job's time = (the median step × poles-steps + the finish) / batch. The PyTorch figure is its median
 * step too (the machine may be shared: medians of both sides are the fair comparison).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-synth.h"
#include "dn-twin-load.h"

#ifndef DN_TORCH_SYNTH_SCRIPT
#define DN_TORCH_SYNTH_SCRIPT "tools/torch-synth-reference.py"
#endif

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static void
fail (const char *what)
{
  fprintf (stderr, "bench-synth: %s: %s\n", what, dn_last_error ());
  exit (1);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Seconds per job of one batch size; *step_s gets the seconds per batch step. */
static double
measure (DnTwin *twin, const DnSynthParams *p, int batch, int steps, int pole_steps, double *step_s, bool profile)
{
  DnStatus st;
  DnSynthParams q = *p;
  q.steps = steps + 1;
  DnSynthBatch *b = dn_synth_batch_new (twin, &q, batch, &st);
  if (!b)
    fail ("batch");
  const DnTwinInfo *info = dn_twin_info (twin);
  DnSynthJob *jobs = calloc ((size_t) batch, sizeof *jobs);
  DnSynthResult *res = calloc ((size_t) batch, sizeof *res);
  for (int j = 0; j < batch; j++)
    jobs[j] = (DnSynthJob){ (j * 37) % info->n_neurons, (uint32_t) j, j % 2 ? -1 : 1 };
  if (dn_synth_batch_start (b, jobs, batch, NULL) || dn_synth_batch_step (b, 0))
    fail ("warm-up step");
  DnDevice *dev = dn_twin_device (twin);
  if (profile)
    dn_device_profile_reset (dev);
  double *ts = calloc ((size_t) steps, sizeof *ts);
  if (!ts)
    fail ("memory");
  for (int t = 1; t <= steps; t++)
    {
      double s0 = now ();
      if (dn_synth_batch_step (b, t))
        fail ("step");
      ts[t - 1] = now () - s0;
    }
  double t1 = now ();
  if (profile)
    {
      static char rep[1 << 16];
      dn_device_profile_report (dev, rep, sizeof rep);
      printf ("profile, batch %d, %d steps:\n%s", batch, steps, rep);
    }
  if (dn_synth_batch_finish (b, res))
    fail ("finish");
  double t2 = now ();
  qsort (ts, (size_t) steps, sizeof *ts, cmp_double);
  *step_s = 0.5 * (ts[(steps - 1) / 2] + ts[steps / 2]); /* the median step: the machine may be shared */
  free (ts);
  dn_synth_batch_free (b);
  free (jobs);
  free (res);
  return (*step_s * pole_steps + (t2 - t1)) / batch;
}

/* Runs the PyTorch reference and returns its median seconds per step (batch 1), or NaN. */
static double
torch_step_seconds (const char *python, const char *model_dir, int steps, int threads)
{
  char cmd[8192];
  snprintf (cmd, sizeof cmd, "%s '%s' --model '%s' --steps %d --threads %d", python, DN_TORCH_SYNTH_SCRIPT, model_dir,
            steps, threads);
  printf ("running: %s\n", cmd);
  fflush (stdout);
  FILE *f = popen (cmd, "r");
  if (!f)
    return NAN;
  char line[512];
  double s = NAN;
  while (fgets (line, sizeof line, f))
    {
      fputs ("  torch: ", stdout);
      fputs (line, stdout);
      sscanf (line, "median seconds per step: %lf", &s);
    }
  pclose (f);
  return s;
}

int
main (int argc, char **argv)
{
  const char *model = NULL, *preset = "v1-pixel", *prior = NULL, *batches = "1,2,4,8,16", *python = NULL;
  int steps = 6, pole_steps = 128, neurons = 458, seeds = 5;
  bool profile = false;
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      bool has = i + 1 < argc;
      if (!strcmp (a, "--model") && has)
        model = argv[++i];
      else if (!strcmp (a, "--preset") && has)
        preset = argv[++i];
      else if (!strcmp (a, "--prior") && has)
        prior = argv[++i];
      else if (!strcmp (a, "--batches") && has)
        batches = argv[++i];
      else if (!strcmp (a, "--steps") && has)
        steps = atoi (argv[++i]);
      else if (!strcmp (a, "--poles-steps") && has)
        pole_steps = atoi (argv[++i]);
      else if (!strcmp (a, "--neurons") && has)
        neurons = atoi (argv[++i]);
      else if (!strcmp (a, "--seeds") && has)
        seeds = atoi (argv[++i]);
      else if (!strcmp (a, "--backend") && has)
        o.backend = !strcmp (argv[++i], "vulkan") ? DN_BACKEND_VULKAN : DN_BACKEND_CPU;
      else if (!strcmp (a, "--device") && has)
        o.device_index = atoi (argv[++i]);
      else if (!strcmp (a, "--threads") && has)
        o.n_threads = atoi (argv[++i]);
      else if (!strcmp (a, "--profile"))
        o.profile = profile = true;
      else if (!strcmp (a, "--torch"))
        python = has && argv[i + 1][0] != '-' ? argv[++i] : "/usr/bin/python3";
      else
        {
          fprintf (stderr, "usage: bench-synth [--model PATH] [--preset v1-pixel|v4-fourier] [--prior NPY] "
                           "[--batches 1,2,4,8] [--steps N] [--poles-steps 128] [--neurons 458] [--seeds 5] "
                           "[--backend cpu|vulkan] [--device N] [--threads N] [--profile] [--torch [PYTHON]]\n");
          return 2;
        }
    }
  static char default_model[4096];
  const char *shared = getenv ("DN_SHARED_DIR");
  if (!model)
    {
      snprintf (default_model, sizeof default_model, "%s/dualneuron/V1GrayTaskDriven", shared ? shared : "../shared");
      model = default_model;
    }
  DnStatus st;
  DnDevice *dev = dn_device_new (&o, &st);
  if (!dev)
    fail ("device");
  DnTwin *twin = dn_twin_open (dev, model, &st);
  if (!twin)
    fail ("model");
  const DnTwinInfo *info = dn_twin_info (twin);
  DnSynthParams p;
  if (dn_synth_params_preset (&p, preset))
    fail ("preset");
  float *mag = NULL;
  if (p.kind == DN_SYNTH_FOURIER)
    {
      static char default_prior[4096];
      if (!prior)
        {
          snprintf (default_prior, sizeof default_prior, "%s/dualneuron/priors/natural_%s.npy", shared ? shared : "../shared",
                    info->in_channels == 3 ? "rgb" : "gray");
          prior = default_prior;
        }
      if (dn_synth_prior_load (dev, prior, info->in_channels, info->in_h, info->in_w, &mag))
        fail ("prior");
      p.magnitude = mag;
    }
  printf ("device: %s\nmodel: %s (%d members, %d neurons), preset %s, %d crops\n",
          dn_device_info (dev)->name, dn_twin_name (twin), info->n_members,
          info->n_neurons, preset, p.n_crops);
  printf ("%6s %12s %14s %12s\n", "batch", "s/step", "s/job-step", "s/pole");
  double best = INFINITY, single = NAN;
  int best_b = 0;
  for (const char *s = batches; s && *s;)
    {
      int b = atoi (s);
      if (b >= 1)
        {
          double step_s, pole = measure (twin, &p, b, steps, pole_steps, &step_s, profile);
          printf ("%6d %12.4f %14.4f %12.3f\n", b, step_s, step_s / b, pole);
          fflush (stdout);
          if (b == 1)
            single = pole;
          if (pole < best)
            best = pole, best_b = b;
        }
      s = strchr (s, ',');
      if (s)
        s++;
    }
  long n_poles = (long) neurons * seeds * 2;
  printf ("best batch %d: %.3f s per pole (%d steps); batch 1: %.3f s per pole\n", best_b, best, pole_steps, single);
  printf ("projected: %d neurons × %d seeds × 2 poles = %ld poles: %.2f h at the best batch\n", neurons, seeds, n_poles,
          best * (double) n_poles / 3600);
  if (python)
    {
      /* PyTorch with 1 thread (the reference figure of the issue) and with as many threads as ours */
      int n_ours = dn_device_n_threads (dev);
      for (int k = 0; k < (n_ours > 1 ? 2 : 1); k++)
        {
          int nt = k ? n_ours : 1;
          double ts = torch_step_seconds (python, model, steps, nt);
          if (!isfinite (ts))
            {
              printf ("PyTorch reference failed (see above)\n");
              continue;
            }
          double tp = ts * pole_steps;
          printf ("PyTorch (%d thread%s): %.4f s/step = %.2f s per pole; ratio PyTorch/ours: %.2f× at batch 1, "
                  "%.2f× at batch %d\n",
                  nt, nt > 1 ? "s" : "", ts, tp, tp / single, tp / best, best_b);
          printf ("projected PyTorch (%d thread%s): %.1f h for the %ld poles\n", nt, nt > 1 ? "s" : "",
                  tp * (double) n_poles / 3600, n_poles);
        }
    }
  free (mag);
  dn_twin_free (twin);
  dn_device_free (dev);
  return 0;
}
