/* dn-test.c: shared test helpers (see dn-test.h).
 * SPDX-License-Identifier: MIT
 */
#include "dn-test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static DnDevice *test_dev;

const char *
dn_test_backend_name (void)
{
  const char *b = g_getenv ("DN_TEST_BACKEND");
  return b && *b ? b : "cpu";
}

DnDevice *
dn_test_device (void)
{
  if (test_dev)
    return test_dev;
  DnDeviceOptions opts;
  dn_device_options_init (&opts);
  const char *b = dn_test_backend_name ();
  if (strcmp (b, "cpu") == 0)
    opts.backend = DN_BACKEND_CPU;
  else if (strcmp (b, "vulkan") == 0)
    {
      opts.backend = DN_BACKEND_VULKAN;
      opts.prefer_software = true;
      opts.validation = true;
      const char *d = g_getenv ("DN_TEST_DEVICE");
      if (d && *d)
        opts.device_index = atoi (d);
      DnDeviceInfo infos[8];
      if (dn_device_enumerate (infos, 8) < 2)
        {
          const char *req = g_getenv ("DN_TEST_REQUIRE_VULKAN");
          if (req && req[0] == '1')
            g_error ("no Vulkan device, and DN_TEST_REQUIRE_VULKAN=1");
          g_printerr ("no Vulkan device: skipping\n");
          exit (77);
        }
    }
  else
    g_error ("DN_TEST_BACKEND=%s: expected cpu or vulkan", b);
  DnStatus st;
  test_dev = dn_device_new (&opts, &st);
  if (!test_dev)
    g_error ("cannot create the %s device: %s", b, dn_last_error ());
  return test_dev;
}

void
dn_test_device_free (void)
{
  if (!test_dev)
    return;
  int msgs = dn_device_validation_messages (test_dev);
  dn_device_free (test_dev);
  test_dev = NULL;
  if (msgs != 0)
    g_error ("%d Vulkan validation message(s) were reported (see above)", msgs);
}

int
dn_test_run (void)
{
  int rc = g_test_run ();
  dn_test_device_free ();
  return rc;
}

static uint64_t
splitmix (uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
unit (uint64_t *s)
{
  return ((double) (splitmix (s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double *
dn_test_randn (int64_t n, uint64_t seed)
{
  double *v = g_new (double, n > 0 ? n : 1);
  uint64_t s = seed * 7919 + 1;
  for (int64_t i = 0; i < n; i++)
    {
      double u1 = unit (&s), u2 = unit (&s);
      v[i] = sqrt (-2.0 * log (u1)) * cos (2 * M_PI * u2);
    }
  dn_test_round_f32 (v, n);
  return v;
}

double *
dn_test_uniform (int64_t n, double lo, double hi, uint64_t seed)
{
  double *v = g_new (double, n > 0 ? n : 1);
  uint64_t s = seed * 104729 + 3;
  for (int64_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * unit (&s);
  dn_test_round_f32 (v, n);
  return v;
}

void
dn_test_round_f32 (double *v, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    v[i] = (double) (float) v[i];
}

DnTensor *
dn_test_zeros (int ndim, const int64_t *shape)
{
  DnStatus st;
  DnTensor *t = dn_tensor_new (dn_test_device (), ndim, shape, &st);
  if (!t)
    g_error ("dn_tensor_new: %s", dn_last_error ());
  return t;
}

DnTensor *
dn_test_tensor (int ndim, const int64_t *shape, const double *vals)
{
  DnTensor *t = dn_test_zeros (ndim, shape);
  int64_t n = dn_tensor_numel (t);
  float *f = g_new (float, n > 0 ? n : 1);
  for (int64_t i = 0; i < n; i++)
    f[i] = (float) vals[i];
  DN_TEST_OK (dn_tensor_upload (t, f, n));
  g_free (f);
  return t;
}

double *
dn_test_download (const DnTensor *t)
{
  int64_t n = dn_tensor_numel (t);
  float *f = g_new (float, n > 0 ? n : 1);
  DN_TEST_OK (dn_tensor_download (t, f, n));
  double *d = g_new (double, n > 0 ? n : 1);
  for (int64_t i = 0; i < n; i++)
    d[i] = f[i];
  g_free (f);
  return d;
}

double
dn_test_rel_err (const double *got, const double *want, int64_t n)
{
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs (got[i] - want[i]);
      if (!(d <= num)) /* NaN-propagating max */
        num = d;
      if (fabs (want[i]) > den)
        den = fabs (want[i]);
    }
  if (den < 1e-30)
    den = 1e-30;
  return num / den;
}

void
dn_test_check_close (const char *what, const double *got, const double *want, int64_t n, double tol)
{
  double err = dn_test_rel_err (got, want, n);
  if (!(err <= tol))
    {
      int64_t worst = 0;
      double wd = -1;
      for (int64_t i = 0; i < n; i++)
        if (!(fabs (got[i] - want[i]) <= wd))
          {
            wd = fabs (got[i] - want[i]);
            worst = i;
            if (isnan (wd))
              break;
          }
      g_error ("%s [%s]: relative error %.3g > %.3g (worst at %lld: got %.9g, want %.9g)", what,
               dn_test_backend_name (), err, tol, (long long) worst, got[worst], want[worst]);
    }
  if (g_test_verbose ())
    g_printerr ("  %s [%s]: rel err %.3g\n", what, dn_test_backend_name (), err);
}

void
dn_test_check_tensor (const char *what, const DnTensor *t, const double *want, double tol)
{
  double *got = dn_test_download (t);
  dn_test_check_close (what, got, want, dn_tensor_numel (t), tol);
  g_free (got);
}

void
dn_test_numeric_grad (DnTestFn f, void *ctx, double *x, int64_t nx, int64_t ny, const double *dy, double eps,
                      double *numeric)
{
  double *y = g_new (double, ny > 0 ? ny : 1);
  for (int64_t i = 0; i < nx; i++)
    {
      double x0 = x[i];
      x[i] = x0 + eps;
      f (ctx, x, y);
      double lp = 0;
      for (int64_t j = 0; j < ny; j++)
        lp += dy[j] * y[j];
      x[i] = x0 - eps;
      f (ctx, x, y);
      double lm = 0;
      for (int64_t j = 0; j < ny; j++)
        lm += dy[j] * y[j];
      x[i] = x0;
      numeric[i] = (lp - lm) / (2 * eps);
    }
  g_free (y);
}

void
dn_test_gradcheck (const char *what, DnTestFn f, void *ctx, double *x, int64_t nx, int64_t ny, const double *dy,
                   const double *analytic, double eps, double tol)
{
  double *num = g_new (double, nx > 0 ? nx : 1);
  dn_test_numeric_grad (f, ctx, x, nx, ny, dy, eps, num);
  char label[256];
  g_snprintf (label, sizeof label, "%s (reference backward vs finite differences)", what);
  dn_test_check_close (label, analytic, num, nx, tol);
  g_free (num);
}
