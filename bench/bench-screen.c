/* bench-screen.c: screening throughput (images/s) of a twin on one backend, JPEG decoding included: the
 * whole pipeline (decode, DualNeuron's transforms, batched forward, top-K and statistics, the result file)
 * over a folder of JPEGs, beside the PyTorch reference (tools/torch-screen-reference.py: PIL decoding,
 * torchvision transforms and the functional V1 ensemble, 1 thread) on the same files and machine.
 *   bench-screen [--model DIR|builtin:gabor-v1] [--images 256] [--folder DIR] [--batch 64] [--workers N]
 *                [--backend cpu|vulkan] [--threads N] [--torch] [--torch-images N]
 * Without --folder it writes --images ImageNet-like JPEGs (500×375, quality 90) into a temporary folder.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dn-screen.h"
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
  fprintf (stderr, "bench-screen: %s: %s\n", what, dn_last_error ());
  exit (1);
}

static uint64_t
rng (uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double
unif (uint64_t *s)
{
  return (double) (rng (s) >> 11) * 0x1.0p-53;
}

/* A photo-like 500×375 image: smooth colour waves, discs and bars, fine texture (so the JPEG is about as
 * costly to decode as an ImageNet photo). */
static void
make_image (DnImage *im, uint64_t seed)
{
  int W = 500, H = 375;
  if (dn_image_alloc (im, W, H, 3, DN_PIXEL_U8) != DN_OK)
    fail ("allocating");
  uint64_t s = seed;
  double fx[3][3], fy[3][3], ph[3][3];
  for (int c = 0; c < 3; c++)
    for (int k = 0; k < 3; k++)
      {
        fx[c][k] = unif (&s) * 0.04 - 0.02;
        fy[c][k] = unif (&s) * 0.04 - 0.02;
        ph[c][k] = unif (&s) * 6.3;
      }
  double dcx[6], dcy[6], dr[6], dv[6];
  for (int d = 0; d < 6; d++)
    {
      dcx[d] = unif (&s) * W;
      dcy[d] = unif (&s) * H;
      dr[d] = 10 + unif (&s) * 80;
      dv[d] = unif (&s) * 0.6 - 0.3;
    }
  uint8_t *p = im->pixels;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        {
          double v = 0.5;
          for (int k = 0; k < 3; k++)
            v += 0.15 * cos (2 * M_PI * (fx[c][k] * x + fy[c][k] * y) + ph[c][k]);
          for (int d = 0; d < 6; d++)
            if ((x - dcx[d]) * (x - dcx[d]) + (y - dcy[d]) * (y - dcy[d]) < dr[d] * dr[d])
              v += dv[d];
          v += 0.04 * (unif (&s) - 0.5);
          int q = (int) lround (v * 255);
          p[((size_t) y * W + x) * 3 + c] = (uint8_t) (q < 0 ? 0 : q > 255 ? 255 : q);
        }
}

/* Runs the PyTorch reference and returns its images/s (0 if it could not run). */
static double
torch_rate (const char *folder, int n, const char *shared)
{
  char cmd[4096];
  snprintf (cmd, sizeof cmd, "/usr/bin/python3 %s/tools/torch-screen-reference.py '%s' --n %d --threads 1 --shared '%s'",
            DN_SOURCE_ROOT, folder, n, shared);
  fprintf (stderr, "running: %s\n", cmd);
  FILE *p = popen (cmd, "r");
  if (!p)
    return 0;
  char line[512];
  double rate = 0;
  while (fgets (line, sizeof line, p))
    {
      fputs (line, stdout);
      sscanf (line, "images/s: %lf", &rate);
    }
  pclose (p);
  return rate;
}

int
main (int argc, char **argv)
{
  const char *model = NULL, *folder = NULL;
  int n_images = 256, batch = 64, workers = 0, torch_images = 64;
  bool torch = false;
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      bool has = i + 1 < argc;
      if (!strcmp (a, "--model") && has)
        model = argv[++i];
      else if (!strcmp (a, "--folder") && has)
        folder = argv[++i];
      else if (!strcmp (a, "--images") && has)
        n_images = atoi (argv[++i]);
      else if (!strcmp (a, "--torch-images") && has)
        torch_images = atoi (argv[++i]);
      else if (!strcmp (a, "--batch") && has)
        batch = atoi (argv[++i]);
      else if (!strcmp (a, "--workers") && has)
        workers = atoi (argv[++i]);
      else if (!strcmp (a, "--backend") && has)
        o.backend = !strcmp (argv[++i], "vulkan") ? DN_BACKEND_VULKAN : DN_BACKEND_CPU;
      else if (!strcmp (a, "--threads") && has)
        o.n_threads = atoi (argv[++i]);
      else if (!strcmp (a, "--torch"))
        torch = true;
      else
        {
          fprintf (stderr, "usage: bench-screen [--model DIR] [--images N] [--folder DIR] [--batch N] [--workers N] "
                           "[--backend cpu|vulkan] [--threads N] [--torch] [--torch-images N]\n");
          return 2;
        }
    }
  const char *shared = getenv ("DN_SHARED_DIR") ? getenv ("DN_SHARED_DIR") : DN_SHARED_DIR_DEFAULT;
  char model_buf[4096];
  if (!model)
    {
      snprintf (model_buf, sizeof model_buf, "%s/dualneuron/V1GrayTaskDriven", shared);
      model = model_buf;
    }
  char tmp[] = "/tmp/dn-bench-screen-XXXXXX";
  if (!mkdtemp (tmp))
    {
      perror ("mkdtemp");
      return 1;
    }
  if (!folder)
    {
      double t0 = now ();
      for (int i = 0; i < n_images; i++)
        {
          DnImage im;
          char path[4200];
          make_image (&im, (uint64_t) i + 1);
          snprintf (path, sizeof path, "%s/img%05d.jpg", tmp, i);
          if (dn_image_save_jpeg (&im, path, 90) != DN_OK)
            fail ("writing the JPEGs");
          dn_image_clear (&im);
        }
      fprintf (stderr, "wrote %d JPEGs (500x375, q90) in %.1f s\n", n_images, now () - t0);
      folder = tmp;
    }
  DnStatus st;
  DnDevice *dev = dn_device_new (&o, &st);
  if (!dev)
    fail ("device");
  DnTwin *twin = dn_twin_open (dev, model, &st);
  if (!twin)
    fail ("model");
  DnDataset *ds = dn_dataset_open (folder, NULL, &st);
  if (!ds)
    fail ("dataset");
  char out[4200];
  snprintf (out, sizeof out, "%s/screen.h5", tmp);
  DnScreenOptions so;
  dn_screen_options_init (&so);
  so.batch = batch;
  so.n_workers = workers;
  double t0 = now ();
  if (dn_screen_run (twin, ds, out, &so) != DN_OK)
    fail ("screening");
  double dt = now () - t0;
  double rate = (double) dn_dataset_count (ds) / dt;
  printf ("dualneuron-screen %s, %s, %d members, %lld images, batch %d: %.2f s = %.2f images/s\n",
          dn_device_info (dev)->name, dn_twin_name (twin), dn_twin_info (twin)->n_members,
          (long long) dn_dataset_count (ds), batch, dt, rate);
  if (torch)
    {
      double tr = torch_rate (folder, torch_images < n_images ? torch_images : n_images, shared);
      if (tr > 0)
        printf ("PyTorch reference (1 thread): %.2f images/s; DualNeuron / PyTorch = %.1fx\n", tr, rate / tr);
      else
        printf ("PyTorch reference could not run (python3-torch missing?)\n");
    }
  unlink (out);
  if (folder == tmp)
    for (int i = 0; i < n_images; i++)
      {
        char path[4200];
        snprintf (path, sizeof path, "%s/img%05d.jpg", tmp, i);
        unlink (path);
      }
  rmdir (tmp);
  dn_dataset_free (ds);
  dn_twin_free (twin);
  dn_device_free (dev);
  return 0;
}
