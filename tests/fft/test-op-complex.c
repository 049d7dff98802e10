/* test-op-complex.c: the complex elementwise ops (polar, real, from_real, angle) forward and backward
 * against the float64 references on odd shapes, the references' backward against finite differences, the
 * Fourier-ascent precondition chain D = Re(ifft2(M·e^{iφ})) and its phase gradient (twins.md §6.2) for the
 * app's 1×93×93 and 3×100×100 images, bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

#define TOL 1e-5

typedef struct
{
  int ndim;
  int64_t shape[3];
} Shape;

/* odd shapes; the phase range (±20 rad) exercises the shader's argument reduction */
static const Shape shapes[] = { { 1, { 1 } }, { 2, { 3, 7 } }, { 3, { 13, 3, 31 } }, { 2, { 1, 93 } } };

static int64_t
numel (const Shape *s)
{
  int64_t n = 1;
  for (int d = 0; d < s->ndim; d++)
    n *= s->shape[d];
  return n;
}

static DnTensor *
real_tensor (const Shape *s, const double *v)
{
  return dn_test_tensor (s->ndim, s->shape, v);
}

static DnTensor *
complex_tensor (const Shape *s, const double *v)
{
  int64_t shape[4];
  memcpy (shape, s->shape, sizeof s->shape);
  shape[s->ndim] = 2;
  return dn_test_tensor (s->ndim + 1, shape, v);
}

static double *
copy_of (const double *v, int64_t n)
{
  return g_memdup2 (v, (gsize) n * sizeof *v);
}

static void
test_polar (void)
{
  for (size_t si = 0; si < G_N_ELEMENTS (shapes); si++)
    {
      const Shape *s = &shapes[si];
      int64_t n = numel (s);
      double *mag = dn_test_uniform (n, 0.1, 3, 1 + si), *ph = dn_test_uniform (n, -20, 20, 2 + si);
      double *g = dn_test_randn (2 * n, 3 + si), *dm0 = dn_test_randn (n, 4 + si), *dp0 = dn_test_randn (n, 5 + si);
      double *want = g_new (double, 2 * n);
      DnTensor *tm = real_tensor (s, mag), *tp = real_tensor (s, ph), *tg = complex_tensor (s, g);
      DnTensor *out = complex_tensor (s, g); /* overwritten */
      DN_TEST_OK (dn_complex_polar_forward (out, tm, tp));
      dn_ref_complex_polar_forward (want, mag, ph, n);
      dn_test_check_tensor ("polar forward", out, want, TOL);

      DnTensor *tdm = real_tensor (s, dm0), *tdp = real_tensor (s, dp0);
      double *wdm = copy_of (dm0, n), *wdp = copy_of (dp0, n);
      DN_TEST_OK (dn_complex_polar_backward (tdm, tdp, tg, tm, tp));
      dn_ref_complex_polar_backward (wdm, wdp, g, mag, ph, n);
      dn_test_check_tensor ("polar backward dmag", tdm, wdm, TOL);
      dn_test_check_tensor ("polar backward dphase", tdp, wdp, TOL);
      /* one gradient at a time */
      double *dm_before = dn_test_download (tdm);
      DN_TEST_OK (dn_complex_polar_backward (NULL, tdp, tg, tm, tp));
      dn_ref_complex_polar_backward (NULL, wdp, g, mag, ph, n);
      dn_test_check_tensor ("polar backward dphase only", tdp, wdp, TOL);
      dn_test_check_tensor ("polar backward dmag untouched", tdm, dm_before, 0);
      g_free (dm_before);
      DN_TEST_OK (dn_complex_polar_backward (tdm, NULL, tg, tm, tp));
      dn_ref_complex_polar_backward (wdm, NULL, g, mag, ph, n);
      dn_test_check_tensor ("polar backward dmag only", tdm, wdm, TOL);
      DN_TEST_OK (dn_complex_polar_backward (NULL, NULL, tg, tm, tp));

      dn_tensor_free (tm);
      dn_tensor_free (tp);
      dn_tensor_free (tg);
      dn_tensor_free (out);
      dn_tensor_free (tdm);
      dn_tensor_free (tdp);
      g_free (mag);
      g_free (ph);
      g_free (g);
      g_free (dm0);
      g_free (dp0);
      g_free (want);
      g_free (wdm);
      g_free (wdp);
    }
}

static void
test_real_from_real (void)
{
  for (size_t si = 0; si < G_N_ELEMENTS (shapes); si++)
    {
      const Shape *s = &shapes[si];
      int64_t n = numel (s);
      double *z = dn_test_randn (2 * n, 10 + si), *r = dn_test_randn (n, 11 + si);
      double *want = g_new (double, 2 * n);
      DnTensor *tz = complex_tensor (s, z), *tr = real_tensor (s, r);
      DnTensor *outr = real_tensor (s, r), *outz = complex_tensor (s, z);

      DN_TEST_OK (dn_complex_real_forward (outr, tz));
      dn_ref_complex_real_forward (want, z, n);
      dn_test_check_tensor ("real forward", outr, want, 0);
      DN_TEST_OK (dn_complex_from_real_forward (outz, tr));
      dn_ref_complex_from_real_forward (want, r, n);
      dn_test_check_tensor ("from_real forward", outz, want, 0);

      /* backward accumulates: dz (complex) += real_backward (dr); dr += from_real_backward (dz) */
      double *wz = copy_of (z, 2 * n), *wr = copy_of (r, n);
      DN_TEST_OK (dn_complex_real_backward (tz, tr));
      dn_ref_complex_real_backward (wz, r, n);
      dn_test_check_tensor ("real backward", tz, wz, TOL);
      DN_TEST_OK (dn_complex_from_real_backward (tr, outz));
      double *oz = g_new (double, 2 * n);
      dn_ref_complex_from_real_forward (oz, r, n);
      dn_ref_complex_from_real_backward (wr, oz, n);
      dn_test_check_tensor ("from_real backward", tr, wr, TOL);

      dn_tensor_free (tz);
      dn_tensor_free (tr);
      dn_tensor_free (outr);
      dn_tensor_free (outz);
      g_free (z);
      g_free (r);
      g_free (want);
      g_free (wz);
      g_free (wr);
      g_free (oz);
    }
}

static void
test_angle (void)
{
  for (size_t si = 0; si < G_N_ELEMENTS (shapes); si++)
    {
      const Shape *s = &shapes[si];
      int64_t n = numel (s);
      double *z = dn_test_randn (2 * n, 20 + si), *g = dn_test_randn (n, 21 + si), *d0 = dn_test_randn (2 * n, 22 + si);
      if (n >= 8)
        {
          /* special points: 0, ±0 imaginary on the negative axis, the axes, huge and tiny magnitudes */
          double sp[16] = { 0, 0, -1, 0, -1, -0.0, 0, 2, 0, -3, 1e30, 1e30, 1e-30, -1e-30, 4, 4 };
          memcpy (z, sp, sizeof sp);
        }
      double *want = g_new (double, 2 * n);
      DnTensor *tz = complex_tensor (s, z), *tg = real_tensor (s, g), *out = real_tensor (s, g);
      DN_TEST_OK (dn_complex_angle_forward (out, tz));
      dn_ref_complex_angle_forward (want, z, n);
      dn_test_check_tensor ("angle forward", out, want, TOL);

      if (n >= 8)
        for (int i = 5; i < 7; i++) /* the gradient is unbounded near 0: leave out the tiny point */
          z[2 * i] = z[2 * i + 1] = 0.5;
      DnTensor *tz2 = complex_tensor (s, z), *td = complex_tensor (s, d0);
      double *wd = copy_of (d0, 2 * n);
      DN_TEST_OK (dn_complex_angle_backward (td, tg, tz2));
      dn_ref_complex_angle_backward (wd, g, z, n);
      dn_test_check_tensor ("angle backward", td, wd, TOL);

      dn_tensor_free (tz);
      dn_tensor_free (tz2);
      dn_tensor_free (tg);
      dn_tensor_free (td);
      dn_tensor_free (out);
      g_free (z);
      g_free (g);
      g_free (d0);
      g_free (want);
      g_free (wd);
    }
}

/* Finite differences of the references ------------------------------------------------------------- */

static int64_t fd_n;

static void
polar_fn (void *ctx, const double *x, double *y)
{
  dn_ref_complex_polar_forward (y, x, x + fd_n, fd_n);
}

static void
real_fn (void *ctx, const double *x, double *y)
{
  dn_ref_complex_real_forward (y, x, fd_n);
}

static void
from_real_fn (void *ctx, const double *x, double *y)
{
  dn_ref_complex_from_real_forward (y, x, fd_n);
}

static void
angle_fn (void *ctx, const double *x, double *y)
{
  dn_ref_complex_angle_forward (y, x, fd_n);
}

static void
test_gradcheck (void)
{
  fd_n = 21;
  int64_t n = fd_n;
  double *x = g_new (double, 2 * n), *dy2 = dn_test_randn (2 * n, 31), *dy1 = dn_test_randn (n, 32);
  double *an = g_new0 (double, 2 * n);
  double *mag = dn_test_uniform (n, 0.5, 2, 33), *ph = dn_test_uniform (n, -4, 4, 34);
  memcpy (x, mag, (size_t) n * sizeof *x);
  memcpy (x + n, ph, (size_t) n * sizeof *x);
  dn_ref_complex_polar_backward (an, an + n, dy2, mag, ph, n);
  dn_test_gradcheck ("ref polar backward", polar_fn, NULL, x, 2 * n, 2 * n, dy2, an, 1e-6, 1e-6);

  double *z = dn_test_randn (2 * n, 35);
  memset (an, 0, (size_t) (2 * n) * sizeof *an);
  dn_ref_complex_real_backward (an, dy1, n);
  dn_test_gradcheck ("ref real backward", real_fn, NULL, z, 2 * n, n, dy1, an, 1e-6, 1e-6);
  memset (an, 0, (size_t) (2 * n) * sizeof *an);
  dn_ref_complex_angle_backward (an, dy1, z, n);
  dn_test_gradcheck ("ref angle backward", angle_fn, NULL, z, 2 * n, n, dy1, an, 1e-6, 1e-6);
  memset (an, 0, (size_t) (2 * n) * sizeof *an);
  dn_ref_complex_from_real_backward (an, dy2, n);
  dn_test_gradcheck ("ref from_real backward", from_real_fn, NULL, mag, n, 2 * n, dy2, an, 1e-6, 1e-6);
  g_free (x);
  g_free (dy2);
  g_free (dy1);
  g_free (an);
  g_free (mag);
  g_free (ph);
  g_free (z);
}

/* The Fourier-ascent precondition (twins.md §6.2) ------------------------------------------------- */

typedef struct
{
  int64_t c, h, w;
  const double *mag;
} PreCtx;

/* D (c,h,w) = Re(ifft2(mag·e^{iφ})) in float64 */
static void
precondition_ref (void *ctx, const double *phase, double *d)
{
  PreCtx *p = ctx;
  int64_t n = p->c * p->h * p->w;
  double *s = g_new (double, 2 * n), *y = g_new (double, 2 * n);
  dn_ref_complex_polar_forward (s, p->mag, phase, n);
  dn_ref_fft2_forward (y, s, p->c, p->h, p->w, +1, 0);
  dn_ref_complex_real_forward (d, y, n);
  g_free (s);
  g_free (y);
}

static void
check_precondition (int64_t c, int64_t h, int64_t w)
{
  int64_t n = c * h * w;
  double *mag = dn_test_uniform (n, 0, 50, 60 + h), *ph = dn_test_uniform (n, -M_PI, M_PI, 61 + h);
  double *dd = dn_test_randn (n, 62 + h);
  PreCtx ctx = { c, h, w, mag };
  DnStatus st;
  DnFftPlan *plan = dn_fft_plan_new (dn_test_device (), h, w, c, &st);
  g_assert_nonnull (plan);
  DnTensor *tm = DN_TEST_TENSOR (mag, 3, c, h, w), *tp = DN_TEST_TENSOR (ph, 3, c, h, w);
  DnTensor *ts = DN_TEST_ZEROS (4, c, h, w, 2), *ty = DN_TEST_ZEROS (4, c, h, w, 2), *td = DN_TEST_ZEROS (3, c, h, w);
  DN_TEST_OK (dn_complex_polar_forward (ts, tm, tp));
  DN_TEST_OK (dn_fft2_forward (plan, ty, ts, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  DN_TEST_OK (dn_complex_real_forward (td, ty));
  double *want = g_new (double, n);
  precondition_ref (&ctx, ph, want);
  char what[96];
  snprintf (what, sizeof what, "precondition %ldx%ldx%ld", (long) c, (long) h, (long) w);
  dn_test_check_tensor (what, td, want, TOL);

  /* dφ through real → ifft2 → polar, every stage accumulating into zeroed gradients */
  DnTensor *tdd = DN_TEST_TENSOR (dd, 3, c, h, w), *tdy = DN_TEST_ZEROS (4, c, h, w, 2);
  DnTensor *tds = DN_TEST_ZEROS (4, c, h, w, 2), *tdp = DN_TEST_ZEROS (3, c, h, w);
  DN_TEST_OK (dn_complex_real_backward (tdy, tdd));
  DN_TEST_OK (dn_fft2_backward (plan, tds, tdy, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  DN_TEST_OK (dn_complex_polar_backward (NULL, tdp, tds, tm, tp));
  double *gy = g_new0 (double, 2 * n), *gs = g_new0 (double, 2 * n), *gp = g_new0 (double, n);
  dn_ref_complex_real_backward (gy, dd, n);
  dn_ref_fft2_backward (gs, gy, c, h, w, +1, 0);
  dn_ref_complex_polar_backward (NULL, gp, gs, mag, ph, n);
  snprintf (what, sizeof what, "precondition dphase %ldx%ldx%ld", (long) c, (long) h, (long) w);
  dn_test_check_tensor (what, tdp, gp, TOL);

  if (h * w <= 100)
    dn_test_gradcheck ("ref precondition dphase", precondition_ref, &ctx, ph, n, n, dd, gp, 1e-6, 1e-6);

  dn_tensor_free (tm);
  dn_tensor_free (tp);
  dn_tensor_free (ts);
  dn_tensor_free (ty);
  dn_tensor_free (td);
  dn_tensor_free (tdd);
  dn_tensor_free (tdy);
  dn_tensor_free (tds);
  dn_tensor_free (tdp);
  dn_fft_plan_free (plan);
  g_free (mag);
  g_free (ph);
  g_free (dd);
  g_free (want);
  g_free (gy);
  g_free (gs);
  g_free (gp);
}

static void
test_precondition (void)
{
  check_precondition (2, 3, 5); /* small enough for finite differences */
  check_precondition (1, 93, 93);
  check_precondition (3, 100, 100);
}

static void
test_bad_shapes (void)
{
  DnTensor *r = DN_TEST_ZEROS (2, 3, 4), *z = DN_TEST_ZEROS (3, 3, 4, 2), *zbad = DN_TEST_ZEROS (3, 3, 5, 2);
  DnTensor *z3 = DN_TEST_ZEROS (3, 3, 4, 3), *r2 = DN_TEST_ZEROS (2, 4, 3);
  DN_TEST_FAILS (dn_complex_polar_forward (zbad, r, r), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_polar_forward (z, r, r2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_polar_backward (r2, NULL, z, r, r), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_polar_backward (NULL, r2, z, r, r), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_real_forward (r, z3), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_real_backward (zbad, r), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_from_real_forward (r, r), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_from_real_backward (r2, z), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_angle_forward (r2, z), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_complex_angle_backward (z, r, zbad), DN_ERROR_SHAPE);
  dn_tensor_free (r);
  dn_tensor_free (z);
  dn_tensor_free (zbad);
  dn_tensor_free (z3);
  dn_tensor_free (r2);
}

static void
test_zero_size (void)
{
  DnTensor *r = DN_TEST_ZEROS (2, 0, 4), *z = DN_TEST_ZEROS (3, 0, 4, 2);
  DN_TEST_OK (dn_complex_polar_forward (z, r, r));
  DN_TEST_OK (dn_complex_polar_backward (r, r, z, r, r));
  DN_TEST_OK (dn_complex_real_forward (r, z));
  DN_TEST_OK (dn_complex_real_backward (z, r));
  DN_TEST_OK (dn_complex_from_real_forward (z, r));
  DN_TEST_OK (dn_complex_from_real_backward (r, z));
  DN_TEST_OK (dn_complex_angle_forward (r, z));
  DN_TEST_OK (dn_complex_angle_backward (z, r, z));
  dn_tensor_free (r);
  dn_tensor_free (z);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/complex/polar", test_polar);
  g_test_add_func ("/ops/complex/real-from-real", test_real_from_real);
  g_test_add_func ("/ops/complex/angle", test_angle);
  g_test_add_func ("/ops/complex/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/complex/precondition", test_precondition);
  g_test_add_func ("/ops/complex/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/complex/zero-size", test_zero_size);
  return dn_test_run ();
}
