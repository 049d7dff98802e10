/* bench-twin.c: twin throughput on one backend: the ensemble forward for a batch (images/s) and the
 * forward+backward to the input (images/s), min over repeats; the PyTorch side is
 * tools/torch-twin-reference.py on the same machine.
 *   bench-twin [--model PATH|builtin:gabor-v1] [--batch 128] [--grad-batch 16] [--repeats 3]
 *              [--backend cpu|vulkan] [--device N] [--threads N] [--profile]
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-twin-load.h"

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
  fprintf (stderr, "bench-twin: %s: %s\n", what, dn_last_error ());
  exit (1);
}

int
main (int argc, char **argv)
{
  const char *model = NULL;
  int batch = 128, gbatch = 16, repeats = 3;
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      bool has = i + 1 < argc;
      if (!strcmp (a, "--model") && has)
        model = argv[++i];
      else if (!strcmp (a, "--batch") && has)
        batch = atoi (argv[++i]);
      else if (!strcmp (a, "--grad-batch") && has)
        gbatch = atoi (argv[++i]);
      else if (!strcmp (a, "--repeats") && has)
        repeats = atoi (argv[++i]);
      else if (!strcmp (a, "--backend") && has)
        o.backend = !strcmp (argv[++i], "vulkan") ? DN_BACKEND_VULKAN : DN_BACKEND_CPU;
      else if (!strcmp (a, "--device") && has)
        o.device_index = atoi (argv[++i]);
      else if (!strcmp (a, "--threads") && has)
        o.n_threads = atoi (argv[++i]);
      else if (!strcmp (a, "--profile"))
        o.profile = true;
      else
        {
          fprintf (stderr, "usage: bench-twin [--model PATH] [--batch N] [--grad-batch N] [--repeats N] "
                           "[--backend cpu|vulkan] [--device N] [--threads N] [--profile]\n");
          return 2;
        }
    }
  static char default_model[4096];
  if (!model)
    {
      const char *shared = getenv ("DN_SHARED_DIR");
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
  int64_t per = (int64_t) info->in_channels * info->in_h * info->in_w;
  float *x = malloc ((size_t) (batch * per) * sizeof *x);
  unsigned s = 1;
  for (int64_t i = 0; i < batch * per; i++)
    {
      s = s * 1103515245u + 12345u;
      x[i] = ((float) (s >> 8) / 16777216.0f - 0.5f) * 0.4f;
    }
  DnTensor *tx = dn_tensor_new4 (dev, batch, info->in_channels, info->in_h, info->in_w, &st);
  DnTensor *ty = dn_tensor_new2 (dev, batch, info->n_neurons, &st);
  if (!tx || !ty || dn_tensor_upload (tx, x, batch * per))
    fail ("tensors");
  double best = INFINITY;
  for (int r = 0; r <= repeats; r++) /* the first run warms up (pipelines, workspace) */
    {
      double t0 = now ();
      if (dn_twin_forward (twin, ty, tx) || dn_device_sync (dev))
        fail ("forward");
      double t = now () - t0;
      if (r > 0 && t < best)
        best = t;
    }
  printf ("device: %s\nmodel: %s (%d members, %d neurons)\n", dn_device_info (dev)->name, dn_twin_name (twin),
          info->n_members, info->n_neurons);
  printf ("forward  batch %d: %.3f s = %.2f ms/image = %.1f images/s\n", batch, best, best / batch * 1e3, batch / best);
  DnStatus gs;
  DnTensor *gx = dn_tensor_view (tx, 0, 4, (const int64_t[]){ gbatch, info->in_channels, info->in_h, info->in_w }, &gs);
  DnTensor *dx = dn_tensor_new4 (dev, gbatch, info->in_channels, info->in_h, info->in_w, &st);
  DnTensor *dout = dn_tensor_new2 (dev, gbatch, info->n_neurons, &st);
  float *oh = calloc ((size_t) (gbatch * info->n_neurons), sizeof *oh);
  for (int b = 0; b < gbatch; b++)
    oh[b * info->n_neurons + info->n_neurons / 4] = 1;
  if (!gx || !dx || !dout || dn_tensor_upload (dout, oh, gbatch * info->n_neurons))
    fail ("gradient tensors");
  best = INFINITY;
  for (int r = 0; r <= repeats; r++)
    {
      double t0 = now ();
      if (dn_tensor_fill (dx, 0) || dn_twin_forward_backward (twin, NULL, dx, gx, dout) || dn_device_sync (dev))
        fail ("gradient");
      double t = now () - t0;
      if (r > 0 && t < best)
        best = t;
    }
  printf ("gradient batch %d: %.3f s = %.1f images/s\n", gbatch, best, gbatch / best);
  if (o.profile)
    {
      char rep[8192];
      dn_device_profile_report (dev, rep, sizeof rep);
      printf ("%s", rep);
    }
  free (oh);
  free (x);
  dn_tensor_free (gx);
  dn_tensor_free (dx);
  dn_tensor_free (dout);
  dn_tensor_free (tx);
  dn_tensor_free (ty);
  dn_twin_free (twin);
  dn_device_free (dev);
  return 0;
}
