/* bench-fft.c: milliseconds per FFT pair (fft2 then ifft2, out of place) for the app's image sizes, on the
 * CPU backend (FFTW) and on a Vulkan device (VkFFT, or the direct-DFT shader for lengths VkFFT cannot do
 * exactly). Prints one table row per (size, backend) with the plan's path and the plan time (VkFFT
 * compiles kernels with glslang when a plan is made).
 *
 *   bench-fft [--batch N] [--iters N] [--cpu-only] [--device I] [--threads N] [--cache DIR]
 *
 * --cache DIR: DnDeviceOptions.cache_dir of the Vulkan device (VkFFT kernels are compiled once, then
 * loaded: compare the plan times of two runs).
 *
 * Vulkan timings include recording and one submit + wait per timed block of iterations (as the app runs
 * an ascent step), not uploads. Built by tests/fft/meson.build.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-ops.h"

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec * 1e-6;
}

typedef struct
{
  int64_t h, w;
} Size;

static int
bench (DnDevice *dev, const char *label, Size s, int64_t batch, int iters)
{
  DnStatus st;
  double t0 = now_ms ();
  DnFftPlan *plan = dn_fft_plan_new (dev, s.h, s.w, batch, &st);
  if (!plan)
    {
      fprintf (stderr, "bench-fft: %s %ldx%ld: %s\n", label, (long) s.h, (long) s.w, dn_last_error ());
      return 1;
    }
  double plan_ms = now_ms () - t0;
  const int64_t shape[] = { batch, s.h, s.w, 2 };
  DnTensor *x = dn_tensor_new (dev, 4, shape, &st), *y = dn_tensor_new (dev, 4, shape, &st);
  int64_t n = batch * s.h * s.w * 2;
  float *host = malloc ((size_t) n * sizeof *host);
  if (!x || !y || !host)
    {
      fprintf (stderr, "bench-fft: out of memory\n");
      return 1;
    }
  for (int64_t i = 0; i < n; i++)
    host[i] = (float) ((i * 7919) % 1000) / 500.0f - 1.0f;
  dn_tensor_upload (x, host, n);
  /* warm up: the first use makes FFTW's plans (FFTW_MEASURE) */
  for (int i = 0; i < 3; i++)
    {
      dn_fft2_forward (plan, y, x, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD);
      dn_fft2_forward (plan, x, y, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD);
    }
  dn_device_sync (dev);
  double best = 1e30;
  for (int rep = 0; rep < 3; rep++)
    {
      t0 = now_ms ();
      for (int i = 0; i < iters; i++)
        {
          dn_fft2_forward (plan, y, x, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD);
          dn_fft2_forward (plan, x, y, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD);
        }
      if (dn_device_sync (dev) != DN_OK)
        {
          fprintf (stderr, "bench-fft: %s\n", dn_last_error ());
          return 1;
        }
      double ms = (now_ms () - t0) / iters;
      best = ms < best ? ms : best;
    }
  printf ("| %4ldx%-4ld | %5ld | %-6s | %-20s | %10.3f | %10.1f |\n", (long) s.h, (long) s.w, (long) batch, label,
          dn_fft_plan_describe (plan), best, plan_ms);
  fflush (stdout);
  free (host);
  dn_tensor_free (x);
  dn_tensor_free (y);
  dn_fft_plan_free (plan);
  return 0;
}

int
main (int argc, char **argv)
{
  int64_t batch = 16;
  int iters = 20, device = -1, threads = 0;
  bool cpu_only = false;
  const char *cache = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
        batch = atoll (argv[++i]);
      else if (strcmp (argv[i], "--iters") == 0 && i + 1 < argc)
        iters = atoi (argv[++i]);
      else if (strcmp (argv[i], "--device") == 0 && i + 1 < argc)
        device = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--cache") == 0 && i + 1 < argc)
        cache = argv[++i];
      else if (strcmp (argv[i], "--cpu-only") == 0)
        cpu_only = true;
      else
        {
          fprintf (stderr, "usage: bench-fft [--batch N] [--iters N] [--cpu-only] [--device I] [--threads N] "
                           "[--cache DIR]\n");
          return 2;
        }
    }
  if (iters < 1)
    iters = 1;
  static const Size sizes[] = { { 93, 93 }, { 100, 100 }, { 224, 224 }, { 68, 270 } };

  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  o.n_threads = threads;
  DnStatus st;
  DnDevice *cpu = dn_device_new (&o, &st);
  DnDevice *gpu = NULL;
  if (!cpu_only)
    {
      dn_device_options_init (&o);
      o.backend = DN_BACKEND_VULKAN;
      o.device_index = device;
      o.cache_dir = cache;
      gpu = dn_device_new (&o, &st);
      if (!gpu)
        fprintf (stderr, "bench-fft: no Vulkan device (%s): CPU only\n", dn_last_error ());
    }
  printf ("FFT pair (fft2 + ifft2), complex float32, ms per pair; best of 3 blocks of %d pairs\n", iters);
  printf ("CPU: %s, %d threads", cpu ? dn_device_info (cpu)->name : "-", cpu ? dn_device_n_threads (cpu) : 0);
  if (gpu)
    printf ("; Vulkan: %s", dn_device_info (gpu)->name);
  printf ("\n\n| size      | batch | device | path                 | ms / pair  | plan ms    |\n");
  printf ("|-----------|-------|--------|----------------------|------------|------------|\n");
  int rc = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    {
      if (cpu)
        rc |= bench (cpu, "fftw", sizes[i], batch, iters);
      if (gpu)
        rc |= bench (gpu, "vulkan", sizes[i], batch, iters);
    }
  dn_device_free (gpu);
  dn_device_free (cpu);
  return rc;
}
