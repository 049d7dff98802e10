/* test-op-sample-norm.c: per-sample L2 norm, change-norm and min-max normalisation, forward and backward on
 * the test backend against the float64 reference, the reference backward against finite differences,
 * zero samples (finite gradients), min/max ties (gradient split evenly, like PyTorch's amin/amax),
 * constant samples (max == min), bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef struct
{
  int64_t N, M;
  double target, eps;
} SnCtx;

static void
l2_fn (void *ctx, const double *x, double *y)
{
  SnCtx *c = ctx;
  dn_ref_l2norm_forward (y, x, c->N, c->M);
}

static void
cn_fn (void *ctx, const double *x, double *y)
{
  SnCtx *c = ctx;
  double *nr = nt_zeros (c->N);
  dn_ref_change_norm_forward (y, nr, x, c->N, c->M, c->target, c->eps);
  g_free (nr);
}

static void
mm_fn (void *ctx, const double *x, double *y)
{
  SnCtx *c = ctx;
  double *st = nt_zeros (2 * c->N);
  dn_ref_minmax_norm_forward (y, st, x, c->N, c->M, c->eps);
  g_free (st);
}

/* x (N, shape[1..]) with special samples: zero = sample 0 is all zero; ties = repeated min/max values. */
static double *
make_input (int64_t N, int64_t M, bool zero, bool ties, uint64_t seed)
{
  double *x = dn_test_randn (N * M, seed);
  if (zero)
    for (int64_t i = 0; i < M; i++)
      x[i] = 0;
  if (ties && M >= 4)
    for (int64_t n = zero ? 1 : 0; n < N; n++)
      {
        double *s = x + n * M;
        double lo = s[0], hi = s[0];
        for (int64_t i = 0; i < M; i++)
          {
            lo = s[i] < lo ? s[i] : lo;
            hi = s[i] > hi ? s[i] : hi;
          }
        /* three copies of the min and two of the max */
        s[1] = lo;
        s[M - 1] = lo;
        s[M / 2] = lo;
        s[2] = hi;
        s[M - 2] = hi;
      }
  return x;
}

static void
run_case (const int64_t *shape, bool zero, bool ties, uint64_t seed)
{
  const int64_t N = shape[0], M = shape[1] * shape[2] * shape[3], n = N * M;
  const double target = 12.0, cn_eps = 1e-8;
  char sh[128], lbl[256];
  g_snprintf (sh, sizeof sh, "(%lld,%lld,%lld,%lld)%s%s", (long long) N, (long long) shape[1], (long long) shape[2],
              (long long) shape[3], zero ? " zero sample" : "", ties ? " ties" : "");
  double *x = make_input (N, M, zero, ties, seed);
  double *dy = dn_test_randn (n, seed + 1), *dyn = dn_test_randn (N, seed + 2), *dx0 = dn_test_randn (n, seed + 3);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, N, shape[1], shape[2], shape[3]);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 4, N, shape[1], shape[2], shape[3]);
  DnTensor *tdyn = DN_TEST_TENSOR (dyn, 1, N);

  /* L2 norm */
  {
    double *y = nt_zeros (N);
    dn_ref_l2norm_forward (y, x, N, M);
    DnTensor *ty = DN_TEST_ZEROS (1, N);
    DN_TEST_OK (dn_l2norm_forward (ty, tx));
    g_snprintf (lbl, sizeof lbl, "l2norm forward %s", sh);
    dn_test_check_tensor (lbl, ty, y, 1e-5);
    double *ey = dn_test_download (ty), *dx = nt_copy (dx0, n);
    dn_ref_l2norm_backward (dx, dyn, x, ey, N, M);
    DnTensor *tdx = DN_TEST_TENSOR (dx0, 4, N, shape[1], shape[2], shape[3]);
    DN_TEST_OK (dn_l2norm_backward (tdx, tdyn, tx, ty));
    g_snprintf (lbl, sizeof lbl, "l2norm backward %s", sh);
    dn_test_check_tensor (lbl, tdx, dx, 1e-5);
    g_assert_true (nt_all_finite (tdx));
    if (n <= 300 && !zero)
      {
        SnCtx c = { N, M, 0, 0 };
        double *an = nt_zeros (n);
        dn_ref_l2norm_backward (an, dyn, x, y, N, M);
        g_snprintf (lbl, sizeof lbl, "l2norm %s", sh);
        dn_test_gradcheck (lbl, l2_fn, &c, x, n, N, dyn, an, 1e-6, 1e-6);
        g_free (an);
      }
    nt_free (ty);
    nt_free (tdx);
    g_free (y);
    g_free (ey);
    g_free (dx);
  }

  /* change-norm */
  {
    double *y = nt_zeros (n), *nr = nt_zeros (N);
    dn_ref_change_norm_forward (y, nr, x, N, M, target, cn_eps);
    DnTensor *ty = DN_TEST_ZEROS (4, N, shape[1], shape[2], shape[3]), *tn = DN_TEST_ZEROS (1, N);
    DN_TEST_OK (dn_change_norm_forward (ty, tn, tx, (float) target, (float) cn_eps));
    g_snprintf (lbl, sizeof lbl, "change_norm forward out %s", sh);
    dn_test_check_tensor (lbl, ty, y, 1e-5);
    g_snprintf (lbl, sizeof lbl, "change_norm forward norm %s", sh);
    dn_test_check_tensor (lbl, tn, nr, 1e-5);
    double *en = dn_test_download (tn), *dx = nt_copy (dx0, n);
    dn_ref_change_norm_backward (dx, dy, x, en, N, M, target, cn_eps);
    DnTensor *tdx = DN_TEST_TENSOR (dx0, 4, N, shape[1], shape[2], shape[3]);
    DN_TEST_OK (dn_change_norm_backward (tdx, tdy, tx, tn, (float) target, (float) cn_eps));
    g_snprintf (lbl, sizeof lbl, "change_norm backward %s", sh);
    if (zero)
      {
        /* a zero sample: dinp = dout·target/eps (1.2e9·dout); the other samples' gradients are tiny in
         * comparison, so check the samples separately */
        double *got = dn_test_download (tdx);
        dn_test_check_close (lbl, got, dx, M, 1e-5);
        if (N > 1)
          dn_test_check_close (lbl, got + M, dx + M, n - M, 1e-5);
        g_free (got);
      }
    else
      dn_test_check_tensor (lbl, tdx, dx, 1e-5);
    g_assert_true (nt_all_finite (tdx));
    /* (M = 1 is skipped: the output is ±target up to eps, its true gradient ~1e-8 is below the
     * finite-difference noise) */
    if (n <= 300 && !zero && M > 1)
      {
        SnCtx c = { N, M, target, cn_eps };
        double *an = nt_zeros (n);
        dn_ref_change_norm_backward (an, dy, x, nr, N, M, target, cn_eps);
        g_snprintf (lbl, sizeof lbl, "change_norm %s", sh);
        dn_test_gradcheck (lbl, cn_fn, &c, x, n, n, dy, an, 1e-6, 1e-6);
        g_free (an);
      }
    nt_free (ty);
    nt_free (tn);
    nt_free (tdx);
    g_free (y);
    g_free (nr);
    g_free (en);
    g_free (dx);
  }

  /* min-max, eps 0 (plain) and 1e-8 (dual tower) */
  for (int e = 0; e < 2; e++)
    {
      double eps = e ? 1e-8 : 0.0;
      double *y = nt_zeros (n), *st = nt_zeros (2 * N);
      dn_ref_minmax_norm_forward (y, st, x, N, M, eps);
      DnTensor *ty = DN_TEST_ZEROS (4, N, shape[1], shape[2], shape[3]), *ts = DN_TEST_ZEROS (2, N, 2);
      DN_TEST_OK (dn_minmax_norm_forward (ty, ts, tx, (float) eps));
      g_snprintf (lbl, sizeof lbl, "minmax_norm eps %g forward out %s", eps, sh);
      dn_test_check_tensor (lbl, ty, y, 1e-5);
      g_assert_true (nt_all_finite (ty));
      g_snprintf (lbl, sizeof lbl, "minmax_norm eps %g forward stats %s", eps, sh);
      dn_test_check_tensor (lbl, ts, st, 0);
      double *dx = nt_copy (dx0, n);
      dn_ref_minmax_norm_backward (dx, dy, x, st, N, M, eps);
      DnTensor *tdx = DN_TEST_TENSOR (dx0, 4, N, shape[1], shape[2], shape[3]);
      DN_TEST_OK (dn_minmax_norm_backward (tdx, tdy, tx, ts, (float) eps));
      g_snprintf (lbl, sizeof lbl, "minmax_norm eps %g backward %s", eps, sh);
      if (zero && eps > 0)
        {
          /* a constant sample with eps > 0: gradients of order 1/eps; check the samples separately */
          double *got = dn_test_download (tdx);
          dn_test_check_close (lbl, got, dx, M, 1e-5);
          if (N > 1)
            dn_test_check_close (lbl, got + M, dx + M, n - M, 1e-5);
          g_free (got);
        }
      else
        dn_test_check_tensor (lbl, tdx, dx, 1e-5);
      g_assert_true (nt_all_finite (tdx));
      /* finite differences only without ties (a kink; the reference's even split is checked by hand in
       * test_minmax_ties) and without a constant sample */
      if (n <= 300 && !zero && !ties)
        {
          SnCtx c = { N, M, 0, eps };
          double *an = nt_zeros (n);
          dn_ref_minmax_norm_backward (an, dy, x, st, N, M, eps);
          g_snprintf (lbl, sizeof lbl, "minmax_norm eps %g %s", eps, sh);
          dn_test_gradcheck (lbl, mm_fn, &c, x, n, n, dy, an, 1e-6, 1e-6);
          g_free (an);
        }
      nt_free (ty);
      nt_free (ts);
      nt_free (tdx);
      g_free (y);
      g_free (st);
      g_free (dx);
    }

  nt_free (tx);
  nt_free (tdy);
  nt_free (tdyn);
  g_free (x);
  g_free (dy);
  g_free (dyn);
  g_free (dx0);
}

static const int64_t shapes[][4] = {
  { 1, 1, 1, 1 }, { 3, 1, 1, 1 }, { 2, 3, 3, 5 }, { 1, 1, 7, 13 }, { 3, 1, 23, 23 }, { 2, 3, 13, 7 },
  { 1, 3, 93, 93 }, { 7, 1, 1, 40 },
};

static void
test_sample_norms (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      run_case (shapes[i], false, false, 1000 + i);
      run_case (shapes[i], true, false, 1100 + i);
      run_case (shapes[i], false, true, 1200 + i);
    }
}

/* Ties split the gradient evenly, as PyTorch's amin/amax backward does, worked by hand:
 * x = (0, 0, 1, 2, 2, 2), eps = 0: lo = 0 (×2), hi = 2 (×3), den = 2, y = x/2.
 * With dout = (1, 2, 3, 4, 5, 6): S1 = 21, S2 = sum g·x = 0+0+3+8+10+12 = 33,
 * dlo = (S2 - S1·den)/den² = (33 - 42)/4 = -2.25 → -1.125 to each of the two minima;
 * dhi = -S2/den² = -8.25 → -2.75 to each of the three maxima; plus dout/den everywhere. */
static void
test_minmax_ties (void)
{
  double x[6] = { 0, 0, 1, 2, 2, 2 }, g[6] = { 1, 2, 3, 4, 5, 6 };
  double want[6] = { 0.5 - 1.125, 1.0 - 1.125, 1.5, 2.0 - 2.75, 2.5 - 2.75, 3.0 - 2.75 };
  DnTensor *tx = DN_TEST_TENSOR (x, 2, 1, 6), *tg = DN_TEST_TENSOR (g, 2, 1, 6);
  DnTensor *ty = DN_TEST_ZEROS (2, 1, 6), *ts = DN_TEST_ZEROS (2, 1, 2), *tdx = DN_TEST_ZEROS (2, 1, 6);
  DN_TEST_OK (dn_minmax_norm_forward (ty, ts, tx, 0.0f));
  DN_TEST_OK (dn_minmax_norm_backward (tdx, tg, tx, ts, 0.0f));
  dn_test_check_tensor ("minmax_norm ties by hand", tdx, want, 1e-6);
  double ref[6] = { 0 }, st[2] = { 0, 2 };
  dn_ref_minmax_norm_backward (ref, g, x, st, 1, 6, 0.0);
  dn_test_check_close ("minmax_norm ties by hand (reference)", ref, want, 6, 1e-12);
  /* a constant sample with eps = 0: output 0 and gradient 0, no NaN */
  double c[6] = { 3, 3, 3, 3, 3, 3 }, zeros[6] = { 0 };
  DnTensor *tc = DN_TEST_TENSOR (c, 2, 1, 6);
  DN_TEST_OK (dn_tensor_fill (tdx, 0));
  DN_TEST_OK (dn_minmax_norm_forward (ty, ts, tc, 0.0f));
  DN_TEST_OK (dn_minmax_norm_backward (tdx, tg, tc, ts, 0.0f));
  dn_test_check_tensor ("minmax_norm constant sample out", ty, zeros, 0);
  dn_test_check_tensor ("minmax_norm constant sample gradient", tdx, zeros, 0);
  DnTensor *all[] = { tx, tg, ty, ts, tdx, tc };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

/* Views at odd offsets: the same results as contiguous tensors. */
static void
test_views (void)
{
  const int64_t sh[4] = { 3, 2, 3, 5 }, N = 3, n = 90, s2[2] = { 3, 2 };
  double *x = dn_test_randn (n, 1300), *dy = dn_test_randn (n, 1301), *dn = dn_test_randn (N, 1302);
  DnTensor *tx = dn_test_tensor (4, sh, x), *tdy = dn_test_tensor (4, sh, dy), *tdn = DN_TEST_TENSOR (dn, 1, N),
           *ty = dn_test_zeros (4, sh), *tn = DN_TEST_ZEROS (1, N), *ts = dn_test_zeros (2, s2), *tdx = dn_test_zeros (4, sh);
  DnTensor *bs[7];
  DnTensor *vx = nt_view_of (x, 4, sh, 1, &bs[0]), *vdy = nt_view_of (dy, 4, sh, 3, &bs[1]),
           *vdn = nt_view_of (dn, 1, &N, 5, &bs[2]), *vy = nt_view_of (NULL, 4, sh, 7, &bs[3]),
           *vn = nt_view_of (NULL, 1, &N, 9, &bs[4]), *vs = nt_view_of (NULL, 2, s2, 11, &bs[5]),
           *vdx = nt_view_of (NULL, 4, sh, 13, &bs[6]);
  DN_TEST_OK (dn_l2norm_forward (tn, tx));
  DN_TEST_OK (dn_l2norm_forward (vn, vx));
  nt_check_same ("l2norm views forward", vn, tn);
  DN_TEST_OK (dn_l2norm_backward (tdx, tdn, tx, tn));
  DN_TEST_OK (dn_l2norm_backward (vdx, vdn, vx, vn));
  nt_check_same ("l2norm views backward", vdx, tdx);
  DN_TEST_OK (dn_change_norm_forward (ty, tn, tx, 12, 1e-8f));
  DN_TEST_OK (dn_change_norm_forward (vy, vn, vx, 12, 1e-8f));
  nt_check_same ("change_norm views forward", vy, ty);
  DN_TEST_OK (dn_change_norm_backward (tdx, tdy, tx, tn, 12, 1e-8f));
  DN_TEST_OK (dn_change_norm_backward (vdx, vdy, vx, vn, 12, 1e-8f));
  nt_check_same ("change_norm views backward", vdx, tdx);
  DN_TEST_OK (dn_minmax_norm_forward (ty, ts, tx, 1e-8f));
  DN_TEST_OK (dn_minmax_norm_forward (vy, vs, vx, 1e-8f));
  nt_check_same ("minmax_norm views forward", vy, ty);
  nt_check_same ("minmax_norm views stats", vs, ts);
  DN_TEST_OK (dn_minmax_norm_backward (tdx, tdy, tx, ts, 1e-8f));
  DN_TEST_OK (dn_minmax_norm_backward (vdx, vdy, vx, vs, 1e-8f));
  nt_check_same ("minmax_norm views backward", vdx, tdx);
  DnTensor *all[] = { tx, tdy, tdn, ty, tn, ts, tdx, vx, vdy, vdn, vy, vn, vs, vdx };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  for (unsigned i = 0; i < G_N_ELEMENTS (bs); i++)
    nt_free (bs[i]);
  g_free (x);
  g_free (dy);
  g_free (dn);
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (2, 3, 4), *y = DN_TEST_ZEROS (2, 3, 4), *y2 = DN_TEST_ZEROS (2, 4, 3);
  DnTensor *n3 = DN_TEST_ZEROS (1, 3), *n4 = DN_TEST_ZEROS (1, 4), *s = DN_TEST_ZEROS (2, 3, 2), *s2 = DN_TEST_ZEROS (2, 2, 3);
  DN_TEST_FAILS (dn_l2norm_forward (n4, x), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_l2norm_backward (y, n4, x, n3), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_l2norm_backward (y2, n3, x, n3), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_change_norm_forward (y2, n3, x, 1, 1e-8f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_change_norm_forward (y, n4, x, 1, 1e-8f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_change_norm_backward (y, y2, x, n3, 1, 1e-8f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_minmax_norm_forward (y, s2, x, 0), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_minmax_norm_forward (y2, s, x, 0), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_minmax_norm_backward (y, y, x, n3, 0), DN_ERROR_SHAPE);
  DnTensor *z = DN_TEST_ZEROS (2, 0, 4), *zn = DN_TEST_ZEROS (1, 0), *zs = DN_TEST_ZEROS (2, 0, 2);
  DN_TEST_OK (dn_l2norm_forward (zn, z));
  DN_TEST_OK (dn_l2norm_backward (z, zn, z, zn));
  DN_TEST_OK (dn_change_norm_forward (z, zn, z, 1, 1e-8f));
  DN_TEST_OK (dn_change_norm_backward (z, z, z, zn, 1, 1e-8f));
  DN_TEST_OK (dn_minmax_norm_forward (z, zs, z, 0));
  DN_TEST_OK (dn_minmax_norm_backward (z, z, z, zs, 0));
  /* empty samples: the L2 norm of nothing is 0 */
  DnTensor *e = DN_TEST_ZEROS (2, 3, 0);
  DN_TEST_OK (dn_tensor_fill (n3, 5));
  DN_TEST_OK (dn_l2norm_forward (n3, e));
  double zero3[3] = { 0 };
  dn_test_check_tensor ("l2norm of empty samples", n3, zero3, 0);
  DN_TEST_OK (dn_minmax_norm_forward (e, s, e, 0));
  DnTensor *all[] = { x, y, y2, n3, n4, s, s2, z, zn, zs, e };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/sample-norm/forward-backward", test_sample_norms);
  g_test_add_func ("/ops/sample-norm/minmax-ties", test_minmax_ties);
  g_test_add_func ("/ops/sample-norm/views", test_views);
  g_test_add_func ("/ops/sample-norm/bad-shapes", test_bad_shapes);
  return dn_test_run ();
}
