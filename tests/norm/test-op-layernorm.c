/* test-op-layernorm.c: LayerNorm channels-last and channels-first, forward and backward (dinp, dweight,
 * dbias) on the test backend against the float64 reference, the reference backward against finite
 * differences, bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef struct
{
  int64_t outer, C, inner;
  bool has_w, has_b;
  double eps;
  NtPack pack;
} LnCtx;

static void
ln_fn (void *ctx, const double *x, double *y)
{
  LnCtx *c = ctx;
  const double *v[8];
  nt_unpack_view (&c->pack, x, v);
  int64_t n = c->outer * c->C * c->inner, np = c->outer * c->inner;
  double *m = nt_zeros (np), *r = nt_zeros (np);
  dn_ref_layernorm_forward (y, m, r, v[0], v[1], v[2], c->outer, c->C, c->inner, c->eps);
  (void) n;
  g_free (m);
  g_free (r);
}

/* One case. channels_first: shape is (N,C,*); else (...,C). */
static void
run_case (bool channels_first, int ndim, const int64_t *shape, bool has_w, bool has_b, double eps, uint64_t seed)
{
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  int64_t outer, C, inner;
  if (channels_first)
    {
      outer = shape[0];
      C = shape[1];
      inner = n / (outer * C);
    }
  else
    {
      C = shape[ndim - 1];
      outer = n / C;
      inner = 1;
    }
  int64_t np = outer * inner;
  char sh[128], lbl[256];
  {
    DnTensor tmp = { .ndim = ndim };
    memcpy (tmp.shape, shape, (size_t) ndim * sizeof (int64_t));
    dn_tensor_shape_str (&tmp, sh, sizeof sh);
  }
  const char *kind = channels_first ? "cf" : "cl";

  double *x = dn_test_randn (n, seed);
  for (int64_t i = 0; i < n; i++) /* a non-zero mean per row, to exercise the two-pass variance */
    x[i] = x[i] * 2.0 + 3.0;
  dn_test_round_f32 (x, n);
  double *w = has_w ? dn_test_uniform (C, 0.5, 1.5, seed + 1) : NULL;
  double *b = has_b ? dn_test_randn (C, seed + 2) : NULL;
  double *dy = dn_test_randn (n, seed + 3);
  double *dx0 = dn_test_randn (n, seed + 4), *dw0 = dn_test_randn (C, seed + 5), *db0 = dn_test_randn (C, seed + 6);

  /* reference forward */
  double *y = nt_zeros (n), *m = nt_zeros (np), *r = nt_zeros (np);
  dn_ref_layernorm_forward (y, m, r, x, w, b, outer, C, inner, eps);

  /* engine */
  DnTensor *tx = dn_test_tensor (ndim, shape, x);
  DnTensor *tw = nt_tensor (w, 1, &C), *tb = nt_tensor (b, 1, &C);
  DnTensor *ty = dn_test_zeros (ndim, shape);
  DnTensor *tm = DN_TEST_ZEROS (1, np), *tr = DN_TEST_ZEROS (1, np);
  if (channels_first)
    DN_TEST_OK (dn_layernorm_channels_first_forward (ty, tm, tr, tx, tw, tb, (float) eps));
  else
    DN_TEST_OK (dn_layernorm_forward (ty, tm, tr, tx, tw, tb, (float) eps));
  g_snprintf (lbl, sizeof lbl, "layernorm-%s forward out %s", kind, sh);
  dn_test_check_tensor (lbl, ty, y, 1e-5);
  g_snprintf (lbl, sizeof lbl, "layernorm-%s forward mean %s", kind, sh);
  dn_test_check_tensor (lbl, tm, m, 1e-5);
  g_snprintf (lbl, sizeof lbl, "layernorm-%s forward rstd %s", kind, sh);
  dn_test_check_tensor (lbl, tr, r, 1e-5);

  /* forward without cached stats gives the same output */
  DnTensor *ty2 = dn_test_zeros (ndim, shape);
  if (channels_first)
    DN_TEST_OK (dn_layernorm_channels_first_forward (ty2, NULL, NULL, tx, tw, tb, (float) eps));
  else
    DN_TEST_OK (dn_layernorm_forward (ty2, NULL, NULL, tx, tw, tb, (float) eps));
  g_snprintf (lbl, sizeof lbl, "layernorm-%s forward (no stats) %s", kind, sh);
  dn_test_check_tensor (lbl, ty2, y, 1e-5);

  /* reference backward, on the engine's cached statistics (the backward's inputs): with few channels and
   * a small variance, the f32 rounding of the mean alone is amplified by rstd, which is the forward's
   * conditioning, not an error of the backward */
  double *em = dn_test_download (tm), *er = dn_test_download (tr);
  double *dx = nt_copy (dx0, n), *dw = nt_copy (dw0, C), *db = nt_copy (db0, C);
  dn_ref_layernorm_backward (dx, dw, db, dy, x, w, em, er, outer, C, inner);

  /* backward accumulates into non-zero gradients */
  DnTensor *tdy = dn_test_tensor (ndim, shape, dy);
  DnTensor *tdx = dn_test_tensor (ndim, shape, dx0);
  DnTensor *tdw = DN_TEST_TENSOR (dw0, 1, C), *tdb = DN_TEST_TENSOR (db0, 1, C);
  if (channels_first)
    DN_TEST_OK (dn_layernorm_channels_first_backward (tdx, tdw, tdb, tdy, tx, tw, tm, tr));
  else
    DN_TEST_OK (dn_layernorm_backward (tdx, tdw, tdb, tdy, tx, tw, tm, tr));
  g_snprintf (lbl, sizeof lbl, "layernorm-%s backward dinp %s", kind, sh);
  dn_test_check_tensor (lbl, tdx, dx, 1e-5);
  g_snprintf (lbl, sizeof lbl, "layernorm-%s backward dweight %s", kind, sh);
  dn_test_check_tensor (lbl, tdw, dw, 1e-5);
  g_snprintf (lbl, sizeof lbl, "layernorm-%s backward dbias %s", kind, sh);
  dn_test_check_tensor (lbl, tdb, db, 1e-5);

  /* gradient outputs may be NULL */
  DnTensor *tdx2 = dn_test_tensor (ndim, shape, dx0);
  if (channels_first)
    DN_TEST_OK (dn_layernorm_channels_first_backward (tdx2, NULL, NULL, tdy, tx, tw, tm, tr));
  else
    DN_TEST_OK (dn_layernorm_backward (tdx2, NULL, NULL, tdy, tx, tw, tm, tr));
  g_snprintf (lbl, sizeof lbl, "layernorm-%s backward dinp only %s", kind, sh);
  dn_test_check_tensor (lbl, tdx2, dx, 1e-5);
  DnTensor *tdw2 = DN_TEST_TENSOR (dw0, 1, C);
  if (channels_first)
    DN_TEST_OK (dn_layernorm_channels_first_backward (NULL, tdw2, NULL, tdy, tx, tw, tm, tr));
  else
    DN_TEST_OK (dn_layernorm_backward (NULL, tdw2, NULL, tdy, tx, tw, tm, tr));
  g_snprintf (lbl, sizeof lbl, "layernorm-%s backward dweight only %s", kind, sh);
  dn_test_check_tensor (lbl, tdw2, dw, 1e-5);

  /* reference backward vs finite differences (small cases) */
  if (n <= 400)
    {
      LnCtx c = { .outer = outer, .C = C, .inner = inner, .has_w = has_w, .has_b = has_b, .eps = eps };
      c.pack = (NtPack){ .n = 3, .parts = { x, w, b }, .sizes = { n, has_w ? C : 0, has_b ? C : 0 } };
      double *xp = nt_pack (&c.pack);
      double *gx = nt_zeros (n), *gw = nt_zeros (C), *gb = nt_zeros (C);
      dn_ref_layernorm_backward (gx, gw, gb, dy, x, w, m, r, outer, C, inner);
      NtPack ga = { .n = 3, .parts = { gx, gw, gb }, .sizes = { n, has_w ? C : 0, has_b ? C : 0 } };
      double *an = nt_pack (&ga);
      g_snprintf (lbl, sizeof lbl, "layernorm-%s %s", kind, sh);
      dn_test_gradcheck (lbl, ln_fn, &c, xp, nt_pack_size (&c.pack), n, dy, an, 1e-6, 1e-6);
      g_free (xp);
      g_free (an);
      g_free (gx);
      g_free (gw);
      g_free (gb);
    }

  nt_free (tx);
  nt_free (tw);
  nt_free (tb);
  nt_free (ty);
  nt_free (ty2);
  nt_free (tm);
  nt_free (tr);
  nt_free (tdy);
  nt_free (tdx);
  nt_free (tdx2);
  nt_free (tdw);
  nt_free (tdw2);
  nt_free (tdb);
  g_free (x);
  g_free (w);
  g_free (b);
  g_free (dy);
  g_free (dx0);
  g_free (dw0);
  g_free (db0);
  g_free (y);
  g_free (m);
  g_free (r);
  g_free (dx);
  g_free (dw);
  g_free (db);
  g_free (em);
  g_free (er);
}

static void
test_channels_last (void)
{
  static const struct
  {
    int ndim;
    int64_t shape[4];
  } cases[] = {
    { 1, { 1 } },          { 2, { 3, 1 } },        { 2, { 5, 3 } },  { 3, { 2, 3, 7 } },
    { 2, { 7, 13 } },      { 2, { 4, 40 } },       { 2, { 3, 93 } }, { 2, { 1, 300 } },
    { 4, { 2, 23, 23, 40 } },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      run_case (false, cases[i].ndim, cases[i].shape, true, true, 1e-6, 10 + i);
      run_case (false, cases[i].ndim, cases[i].shape, i % 2 == 0, false, 1e-5, 30 + i);
    }
}

static void
test_channels_first (void)
{
  static const struct
  {
    int ndim;
    int64_t shape[4];
  } cases[] = {
    { 4, { 1, 1, 1, 1 } },  { 4, { 2, 3, 3, 5 } },  { 4, { 1, 7, 1, 1 } }, { 4, { 2, 13, 3, 5 } },
    { 4, { 1, 40, 23, 23 } }, { 4, { 1, 93, 3, 5 } }, { 3, { 2, 3, 7 } },  { 2, { 3, 13 } },
    { 4, { 3, 5, 9, 11 } },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      run_case (true, cases[i].ndim, cases[i].shape, true, true, 1e-6, 50 + i);
      run_case (true, cases[i].ndim, cases[i].shape, false, i % 2 == 1, 1e-5, 70 + i);
    }
}

/* Tensors that are views at odd element offsets work on both backends. */
static void
test_views (void)
{
  const int64_t R = 6, C = 13;
  double *big = dn_test_randn (1000, 3);
  DnTensor *base = DN_TEST_TENSOR (big, 1, 1000);
  DnStatus st;
  DnTensor *x = dn_tensor_view (base, 7, 2, (const int64_t[]){ R, C }, &st);
  DnTensor *w = dn_tensor_view (base, 301, 1, (const int64_t[]){ C }, &st);
  DnTensor *out_base = DN_TEST_ZEROS (1, 500);
  DnTensor *y = dn_tensor_view (out_base, 3, 2, (const int64_t[]){ R, C }, &st);
  DnTensor *m = dn_tensor_view (out_base, 101, 1, (const int64_t[]){ R }, &st);
  DnTensor *r = dn_tensor_view (out_base, 211, 1, (const int64_t[]){ R }, &st);
  DN_TEST_OK (dn_layernorm_forward (y, m, r, x, w, NULL, 1e-6f));
  double want[6 * 13], wm[6], wr[6];
  dn_ref_layernorm_forward (want, wm, wr, big + 7, big + 301, NULL, R, C, 1, 1e-6);
  dn_test_check_tensor ("layernorm views out", y, want, 1e-5);
  dn_test_check_tensor ("layernorm views rstd", r, wr, 1e-5);
  DnTensor *dx = dn_tensor_view (out_base, 301, 2, (const int64_t[]){ R, C }, &st);
  DnTensor *dw = dn_tensor_view (out_base, 401, 1, (const int64_t[]){ C }, &st);
  DN_TEST_OK (dn_layernorm_backward (dx, dw, NULL, x, x, w, m, r)); /* dout = x */
  double gx[6 * 13] = { 0 }, gw[13] = { 0 };
  dn_ref_layernorm_backward (gx, gw, NULL, big + 7, big + 7, big + 301, wm, wr, R, C, 1);
  dn_test_check_tensor ("layernorm views dinp", dx, gx, 1e-5);
  dn_test_check_tensor ("layernorm views dweight", dw, gw, 1e-5);
  DnTensor *all[] = { x, w, y, m, r, dx, dw, base, out_base };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
  g_free (big);
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (2, 4, 5), *y = DN_TEST_ZEROS (2, 4, 5), *y2 = DN_TEST_ZEROS (2, 5, 4);
  DnTensor *w = DN_TEST_ZEROS (1, 5), *w4 = DN_TEST_ZEROS (1, 4), *m = DN_TEST_ZEROS (1, 4), *m5 = DN_TEST_ZEROS (1, 5);
  DN_TEST_FAILS (dn_layernorm_forward (y2, NULL, NULL, x, NULL, NULL, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_forward (y, NULL, NULL, x, w4, NULL, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_forward (y, NULL, NULL, x, w, w4, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_forward (y, m5, m5, x, w, w, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_backward (y, w4, NULL, y, x, w, m, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_backward (y2, NULL, NULL, y, x, w, m, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_backward (y, NULL, NULL, y, x, w, m5, m), DN_ERROR_SHAPE);
  /* channels-first: (4,5) is N=4, C=5, stats (4) */
  DN_TEST_OK (dn_layernorm_channels_first_forward (y, m, m, x, w, w, 1e-5f));
  DN_TEST_FAILS (dn_layernorm_channels_first_forward (y, m, m, x, w4, NULL, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_channels_first_forward (y, m, m, m, NULL, NULL, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_channels_first_backward (y, NULL, NULL, y2, x, NULL, m, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_layernorm_channels_first_backward (y, NULL, NULL, y, x, NULL, m5, m5), DN_ERROR_SHAPE);

  /* zero sizes are no-ops */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 5), *zm = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_layernorm_forward (z, zm, zm, z, w, w, 1e-5f));
  DN_TEST_OK (dn_layernorm_backward (z, w, w, z, z, w, zm, zm));
  DnTensor *zc = DN_TEST_ZEROS (4, 0, 5, 2, 2);
  DN_TEST_OK (dn_layernorm_channels_first_forward (zc, zm, zm, zc, w, w, 1e-5f));
  DN_TEST_OK (dn_layernorm_channels_first_backward (zc, w, w, zc, zc, w, zm, zm));
  double zero5[5] = { 0 };
  dn_test_check_tensor ("layernorm zero-size leaves dweight", w, zero5, 0);
  DnTensor *all[] = { x, y, y2, w, w4, m, m5, z, zm, zc };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

/* NaN inputs propagate without a crash. */
static void
test_nan (void)
{
  double v[6] = { 1, NAN, 2, 3, 4, 5 };
  DnTensor *x = DN_TEST_TENSOR (v, 2, 2, 3), *y = DN_TEST_ZEROS (2, 2, 3), *m = DN_TEST_ZEROS (1, 2),
           *r = DN_TEST_ZEROS (1, 2);
  DN_TEST_OK (dn_layernorm_forward (y, m, r, x, NULL, NULL, 1e-5f));
  double *got = dn_test_download (y);
  g_assert_true (isnan (got[0]) && isnan (got[2]));
  g_assert_true (isfinite (got[3]) && isfinite (got[5]));
  g_free (got);
  nt_free (x);
  nt_free (y);
  nt_free (m);
  nt_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/layernorm/channels-last", test_channels_last);
  g_test_add_func ("/ops/layernorm/channels-first", test_channels_first);
  g_test_add_func ("/ops/layernorm/views", test_views);
  g_test_add_func ("/ops/layernorm/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/layernorm/nan", test_nan);
  return dn_test_run ();
}
