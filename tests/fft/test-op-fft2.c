/* test-op-fft2.c: dn_fft2_forward/backward against the float64 direct DFT (dn_ref_fft2_*), for the sizes
 * the app uses (93×93, 100×100, 224×224, 68×270, batched) and odd small ones, both directions, round
 * trips, every norm, views, in place, the Vulkan direct-DFT fallback and mixed VkFFT/direct plans; the
 * reference backward against finite differences; bad shapes and zero sizes.
 *
 * Error measures (style.md §14: explicit avg/max relative thresholds, as VkFFT's precision samples):
 *   max = ||got − want||_inf / ||want||_inf ≤ 1e-5   (the engine-wide f32-vs-f64 contract)
 *   avg = sum |got − want| / sum |want|       ≤ 1e-6
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

#define MAX_TOL 1e-5
#define AVG_TOL 1e-6

static bool
is_vulkan (void)
{
  return !dn_device_is_cpu (dn_test_device ());
}

static void
check_fft (const char *what, const DnTensor *t, const double *want, int64_t n)
{
  double *got = dn_test_download (t);
  double emax = 0, wmax = 0, esum = 0, wsum = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double e = fabs (got[i] - want[i]);
      if (isnan (e))
        g_error ("%s: NaN at %ld", what, (long) i);
      emax = e > emax ? e : emax;
      wmax = fabs (want[i]) > wmax ? fabs (want[i]) : wmax;
      esum += e;
      wsum += fabs (want[i]);
    }
  double max_rel = emax / (wmax > 1e-30 ? wmax : 1e-30), avg_rel = esum / (wsum > 1e-30 ? wsum : 1e-30);
  if (g_test_verbose ())
    g_printerr ("  %-44s max %.2e  avg %.2e\n", what, max_rel, avg_rel);
  if (!(max_rel <= MAX_TOL) || !(avg_rel <= AVG_TOL))
    g_error ("%s: relative error max %.3e (tol %.0e), avg %.3e (tol %.0e)", what, max_rel, MAX_TOL, avg_rel,
             AVG_TOL);
  g_free (got);
}

static DnFftPlan *
plan_new (int64_t h, int64_t w, int64_t batch, unsigned flags)
{
  DnStatus st;
  DnFftPlan *p = dn_fft_plan_new_full (dn_test_device (), h, w, batch, flags | DN_FFT_PLAN_ESTIMATE, &st);
  if (!p)
    g_error ("dn_fft_plan_new (%ldx%ld, batch %ld): %s", (long) h, (long) w, (long) batch, dn_last_error ());
  if (g_test_verbose ())
    g_printerr ("  plan %ldx%ld batch %ld: %s\n", (long) h, (long) w, (long) batch, dn_fft_plan_describe (p));
  return p;
}

/* Forward both directions, backward both directions (accumulating onto non-zero gradients) and the
 * round trip, for one plan, against the reference. */
static void
check_plan (DnFftPlan *p, int64_t batch, int64_t h, int64_t w, DnFftNorm norm, uint64_t seed)
{
  int64_t n = batch * h * w * 2;
  double *x = dn_test_randn (n, seed), *g0 = dn_test_randn (n, seed + 1);
  double *want = g_new (double, n);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, batch, h, w, 2);
  DnTensor *ty = DN_TEST_ZEROS (4, batch, h, w, 2);
  DnTensor *tz = DN_TEST_ZEROS (4, batch, h, w, 2);
  char what[128];
  for (int dir = -1; dir <= 1; dir += 2)
    {
      const char *dn = dir < 0 ? "fft2" : "ifft2";
      DN_TEST_OK (dn_fft2_forward (p, ty, tx, dir, norm));
      dn_ref_fft2_forward (want, x, batch, h, w, dir, norm);
      snprintf (what, sizeof what, "%s %ldx%ldx%ld norm %d", dn, (long) batch, (long) h, (long) w, norm);
      check_fft (what, ty, want, n);

      /* round trip: with one norm, a transform then the opposite one is the identity */
      DN_TEST_OK (dn_fft2_forward (p, tz, ty, -dir, norm));
      snprintf (what, sizeof what, "%s round trip %ldx%ldx%ld", dn, (long) batch, (long) h, (long) w);
      check_fft (what, tz, x, n);

      /* backward accumulates: onto gradients as large as what is added (s·sqrt(HW) for unit inputs) */
      double gs = dn_ref_fft2_scale (h, w, dir, norm) * sqrt ((double) (h * w));
      for (int64_t i = 0; i < n; i++)
        want[i] = g0[i] * gs;
      dn_test_round_f32 (want, n);
      DnTensor *tg = DN_TEST_TENSOR (want, 4, batch, h, w, 2);
      DN_TEST_OK (dn_fft2_backward (p, tg, tx, dir, norm)); /* any dout will do: x */
      dn_ref_fft2_backward (want, x, batch, h, w, dir, norm);
      snprintf (what, sizeof what, "%s backward %ldx%ldx%ld norm %d", dn, (long) batch, (long) h, (long) w, norm);
      check_fft (what, tg, want, n);
      dn_tensor_free (tg);
    }
  dn_tensor_free (tx);
  dn_tensor_free (ty);
  dn_tensor_free (tz);
  g_free (x);
  g_free (g0);
  g_free (want);
}

typedef struct
{
  int64_t batch, h, w;
} Size;

static const Size sizes[] = {
  { 1, 1, 1 }, { 1, 3, 5 }, { 2, 7, 13 }, { 1, 93, 93 }, { 1, 100, 100 }, { 1, 224, 224 }, { 1, 68, 270 },
  { 3, 100, 100 }, { 2, 93, 93 },
};

static bool
radix (int64_t n)
{
  for (int p = 2; p <= 13; p++)
    while (n % p == 0)
      n /= p;
  return n == 1;
}

static void
test_size (gconstpointer data)
{
  const Size *s = data;
  DnFftPlan *p = plan_new (s->h, s->w, s->batch, 0);
  if (is_vulkan ())
    {
      /* VkFFT is never used for a length with a prime factor > 13 (wrong on lavapipe) */
      bool need_direct = !radix (s->h) || !radix (s->w);
      if (need_direct)
        g_assert_true (dn_fft_plan_uses_fallback (p));
    }
  else
    g_assert_false (dn_fft_plan_uses_fallback (p));
  check_plan (p, s->batch, s->h, s->w, DN_FFT_NORM_BACKWARD, (uint64_t) (s->h * 1000 + s->w));
  dn_fft_plan_free (p);
}

static void
test_norms (void)
{
  DnFftPlan *p = plan_new (3, 5, 2, 0);
  check_plan (p, 2, 3, 5, DN_FFT_NORM_ORTHO, 11);
  check_plan (p, 2, 3, 5, DN_FFT_NORM_FORWARD, 12);
  dn_fft_plan_free (p);
}

/* Plans that mix the paths (Vulkan): the direct shader everywhere, direct(W)+VkFFT(H) via VkFFT's
 * omitDimension, VkFFT over a column (W = 1) or a row (H = 1). On the CPU these are plain FFTW plans. */
static void
test_paths (void)
{
  static const struct
  {
    Size s;
    unsigned flags;
  } cases[] = {
    { { 2, 100, 100 }, DN_FFT_PLAN_DIRECT }, { { 2, 7, 13 }, DN_FFT_PLAN_DIRECT }, { { 2, 12, 17 }, 0 },
    { { 2, 17, 12 }, 0 }, { { 1, 8, 1 }, 0 }, { { 3, 1, 8 }, 0 }, { { 1, 1, 31 }, 0 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Size *s = &cases[i].s;
      DnFftPlan *p = plan_new (s->h, s->w, s->batch, cases[i].flags);
      if (is_vulkan () && (cases[i].flags & DN_FFT_PLAN_DIRECT))
        g_assert_true (dn_fft_plan_uses_fallback (p));
      check_plan (p, s->batch, s->h, s->w, DN_FFT_NORM_BACKWARD, 100 + i);
      dn_fft_plan_free (p);
    }
}

/* Views at odd element offsets, in place, and several calls recorded back to back (one submit). */
static void
test_views_inplace (void)
{
  const int64_t b = 2, h = 7, w = 10, n = b * h * w * 2;
  DnFftPlan *p = plan_new (h, w, b, 0);
  double *x = dn_test_randn (n, 5);
  double *want = g_new (double, n);
  DnTensor *base_in = DN_TEST_ZEROS (1, n + 7), *base_out = DN_TEST_ZEROS (1, n + 9);
  DnStatus st;
  const int64_t shape[] = { b, h, w, 2 };
  DnTensor *vin = dn_tensor_view (base_in, 3, 4, shape, &st);
  DnTensor *vout = dn_tensor_view (base_out, 5, 4, shape, &st);
  g_assert_nonnull (vin);
  g_assert_nonnull (vout);
  float *xf = g_new (float, n);
  for (int64_t i = 0; i < n; i++)
    xf[i] = (float) x[i];
  DN_TEST_OK (dn_tensor_upload (vin, xf, n));
  DN_TEST_OK (dn_fft2_forward (p, vout, vin, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  dn_ref_fft2_forward (want, x, b, h, w, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD);
  check_fft ("fft2 on views", vout, want, n);
  /* in place, twice in a row without a sync in between: fft2 then ifft2 gives x back */
  DN_TEST_OK (dn_fft2_forward (p, vin, vin, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  DN_TEST_OK (dn_fft2_forward (p, vout, vin, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  DN_TEST_OK (dn_fft2_forward (p, vin, vin, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  check_fft ("fft2 in place, ifft2 on views", vout, x, n);
  check_fft ("fft2 then ifft2, both in place", vin, x, n);
  /* the elements around the views are untouched */
  double *all = dn_test_download (base_out);
  for (int64_t i = 0; i < 5; i++)
    g_assert_cmpfloat (all[i], ==, 0.0);
  for (int64_t i = 5 + n; i < n + 9; i++)
    g_assert_cmpfloat (all[i], ==, 0.0);
  g_free (all);
  dn_tensor_free (vin);
  dn_tensor_free (vout);
  dn_tensor_free (base_in);
  dn_tensor_free (base_out);
  g_free (xf);
  g_free (x);
  g_free (want);
  dn_fft_plan_free (p);
}

typedef struct
{
  int64_t batch, h, w;
  int dir, norm;
} RefCtx;

static void
ref_fn (void *ctx, const double *x, double *y)
{
  RefCtx *c = ctx;
  dn_ref_fft2_forward (y, x, c->batch, c->h, c->w, c->dir, c->norm);
}

static void
test_gradcheck (void)
{
  static const Size gs[] = { { 2, 3, 5 }, { 1, 4, 3 }, { 1, 1, 7 } };
  for (size_t si = 0; si < G_N_ELEMENTS (gs); si++)
    for (int dir = -1; dir <= 1; dir += 2)
      for (int norm = 0; norm <= 2; norm++)
        {
          RefCtx c = { gs[si].batch, gs[si].h, gs[si].w, dir, norm };
          int64_t n = c.batch * c.h * c.w * 2;
          double *x = dn_test_randn (n, 40 + si), *dy = dn_test_randn (n, 50 + si);
          double *an = g_new0 (double, n);
          dn_ref_fft2_backward (an, dy, c.batch, c.h, c.w, dir, norm);
          char what[96];
          snprintf (what, sizeof what, "ref fft2 backward %ldx%ldx%ld dir %d norm %d", (long) c.batch, (long) c.h,
                    (long) c.w, dir, norm);
          dn_test_gradcheck (what, ref_fn, &c, x, n, n, dy, an, 1e-6, 1e-6);
          g_free (x);
          g_free (dy);
          g_free (an);
        }
}

static void
test_bad_shapes (void)
{
  DnDevice *dev = dn_test_device ();
  DnStatus st;
  g_assert_null (dn_fft_plan_new (dev, -1, 5, 1, &st));
  g_assert_cmpint (st, ==, DN_ERROR_SHAPE);
  DnFftPlan *p = plan_new (3, 5, 2, 0);
  DnTensor *good = DN_TEST_ZEROS (4, 2, 3, 5, 2);
  DnTensor *good3 = DN_TEST_ZEROS (3, 6, 5, 2); /* (6,5,2): batch·H merged is not (…,3,5,2) with batch 2 */
  DnTensor *last3 = DN_TEST_ZEROS (4, 2, 3, 5, 3);
  DnTensor *wrong_w = DN_TEST_ZEROS (4, 2, 3, 6, 2);
  DnTensor *wrong_b = DN_TEST_ZEROS (4, 3, 3, 5, 2);
  DnTensor *flat = DN_TEST_ZEROS (2, 15, 2);
  DnTensor *lead = DN_TEST_ZEROS (5, 1, 2, 3, 5, 2); /* leading dims multiply to 2: fine */
  DN_TEST_FAILS (dn_fft2_forward (p, good, last3, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_forward (p, wrong_w, good, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_forward (p, good, wrong_b, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_forward (p, flat, good, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_forward (p, good3, good, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_backward (p, good, wrong_w, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_fft2_forward (p, good, good, 0, DN_FFT_NORM_BACKWARD), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_fft2_forward (p, good, good, DN_FFT_FORWARD, 7), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_OK (dn_fft2_forward (p, lead, good, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  dn_tensor_free (good);
  dn_tensor_free (good3);
  dn_tensor_free (last3);
  dn_tensor_free (wrong_w);
  dn_tensor_free (wrong_b);
  dn_tensor_free (flat);
  dn_tensor_free (lead);
  dn_fft_plan_free (p);
}

static void
test_zero_size (void)
{
  DnFftPlan *p = plan_new (5, 7, 0, 0);
  DnTensor *t = DN_TEST_ZEROS (4, 0, 5, 7, 2);
  DN_TEST_OK (dn_fft2_forward (p, t, t, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  DN_TEST_OK (dn_fft2_backward (p, t, t, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  dn_tensor_free (t);
  dn_fft_plan_free (p);
  p = plan_new (0, 7, 3, 0);
  t = DN_TEST_ZEROS (4, 3, 0, 7, 2);
  DN_TEST_OK (dn_fft2_forward (p, t, t, DN_FFT_INVERSE, DN_FFT_NORM_ORTHO));
  dn_tensor_free (t);
  dn_fft_plan_free (p);
}

static void
test_nan (void)
{
  /* NaN propagates (no crash, no error); the other batch item stays finite */
  const int64_t n = 2 * 5 * 6 * 2;
  double *x = dn_test_randn (n, 9);
  x[3] = NAN;
  DnFftPlan *p = plan_new (5, 6, 2, 0);
  DnTensor *t = DN_TEST_TENSOR (x, 4, 2, 5, 6, 2);
  DnTensor *y = DN_TEST_ZEROS (4, 2, 5, 6, 2);
  DN_TEST_OK (dn_fft2_forward (p, y, t, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  double *got = dn_test_download (y);
  g_assert_true (isnan (got[1])); /* Im X[0,0] sums every imaginary part (Re X[0,0] may stay finite) */
  for (int64_t i = n / 2; i < n; i++)
    g_assert_true (isfinite (got[i]));
  g_free (got);
  g_free (x);
  dn_tensor_free (t);
  dn_tensor_free (y);
  dn_fft_plan_free (p);
}

/* Vulkan: VkFFT's compiled kernels are cached in DnDeviceOptions.cache_dir and loaded by the next plan. */
static void
test_cache (void)
{
  if (!is_vulkan ())
    {
      g_test_skip ("the VkFFT kernel cache is Vulkan only");
      return;
    }
  char *dir = g_dir_make_tmp ("dn-fft-cache-XXXXXX", NULL);
  g_assert_nonnull (dir);
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_VULKAN;
  o.device_index = dn_device_info (dn_test_device ())->index;
  o.validation = true;
  o.cache_dir = dir;
  DnStatus st;
  DnDevice *dev = dn_device_new (&o, &st);
  g_assert_nonnull (dev);
  const int64_t b = 2, h = 6, w = 10, n = b * h * w * 2;
  double *x = dn_test_randn (n, 77), *want = g_new (double, n), *got = g_new (double, n);
  float *f = g_new (float, n);
  for (int64_t i = 0; i < n; i++)
    f[i] = (float) x[i];
  dn_ref_fft2_forward (want, x, b, h, w, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD);
  for (int round = 0; round < 2; round++)
    {
      DnFftPlan *p = dn_fft_plan_new (dev, h, w, b, &st);
      g_assert_nonnull (p);
      g_assert_cmpstr (dn_fft_plan_describe (p), ==, "vkfft");
      DnTensor *tx = dn_tensor_new4 (dev, b, h, w, 2, &st), *ty = dn_tensor_new4 (dev, b, h, w, 2, &st);
      DN_TEST_OK (dn_tensor_upload (tx, f, n));
      DN_TEST_OK (dn_fft2_forward (p, ty, tx, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
      DN_TEST_OK (dn_tensor_download (ty, f, n));
      for (int64_t i = 0; i < n; i++)
        got[i] = f[i];
      dn_test_check_close (round ? "fft2 with kernels from the cache" : "fft2 compiling the cache", got, want, n,
                           MAX_TOL);
      for (int64_t i = 0; i < n; i++)
        f[i] = (float) x[i];
      dn_tensor_free (tx);
      dn_tensor_free (ty);
      dn_fft_plan_free (p);
      /* the first plan wrote one cache file */
      GDir *d = g_dir_open (dir, 0, NULL);
      int files = 0;
      for (const char *name; (name = g_dir_read_name (d));)
        files += g_str_has_suffix (name, ".spv");
      g_dir_close (d);
      g_assert_cmpint (files, ==, 1);
    }
  g_assert_cmpint (dn_device_validation_messages (dev), ==, 0);
  dn_device_free (dev);
  GDir *d = g_dir_open (dir, 0, NULL);
  for (const char *name; (name = g_dir_read_name (d));)
    {
      char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
      g_free (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
  g_free (dir);
  g_free (x);
  g_free (want);
  g_free (got);
  g_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      char *name = g_strdup_printf ("/ops/fft2/size/%ldx%ldx%ld", (long) sizes[i].batch, (long) sizes[i].h,
                                    (long) sizes[i].w);
      g_test_add_data_func (name, &sizes[i], test_size);
      g_free (name);
    }
  g_test_add_func ("/ops/fft2/norms", test_norms);
  g_test_add_func ("/ops/fft2/paths", test_paths);
  g_test_add_func ("/ops/fft2/views-inplace", test_views_inplace);
  g_test_add_func ("/ops/fft2/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/fft2/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/fft2/zero-size", test_zero_size);
  g_test_add_func ("/ops/fft2/nan", test_nan);
  g_test_add_func ("/ops/fft2/cache", test_cache);
  return dn_test_run ();
}
