/* test-op-matmul.c: dn_matmul_forward/backward against the float64 reference (dn_ref_matmul_*) on odd
 * shapes, every transpose combination, both GEMM tile variants and views at odd offsets; the reference
 * backward against finite differences; bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

/* dn-gemm.c test knobs: force the Vulkan tile variant; split grids beyond n workgroups per dimension */
void dn_gemm_force_tile (int tile);
void dn_gemm_debug_grid_limit (int64_t n);

typedef struct
{
  int64_t B, M, N, K;
  bool ta, tb;
  double alpha;
} Case;

static void
run_case (const Case *c, uint64_t seed, bool use_views)
{
  int64_t na = c->B * c->M * c->K, nb = c->B * c->K * c->N, no = c->B * c->M * c->N;
  double *a = dn_test_randn (na, seed), *b = dn_test_randn (nb, seed + 1), *dout = dn_test_randn (no, seed + 2);
  double *da0 = dn_test_randn (na, seed + 3), *db0 = dn_test_randn (nb, seed + 4);
  int64_t ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K;
  int64_t br = c->tb ? c->N : c->K, bc = c->tb ? c->K : c->N;

  DnTensor *ta, *tb, *tout, *tda, *tdb, *tdout, *big = NULL;
  if (!use_views)
    {
      ta = DN_TEST_TENSOR (a, 3, c->B, ar, ac);
      tb = DN_TEST_TENSOR (b, 3, c->B, br, bc);
      tout = DN_TEST_ZEROS (3, c->B, c->M, c->N);
      tda = DN_TEST_TENSOR (da0, 3, c->B, ar, ac);
      tdb = DN_TEST_TENSOR (db0, 3, c->B, br, bc);
      tdout = DN_TEST_TENSOR (dout, 3, c->B, c->M, c->N);
    }
  else
    {
      /* all six tensors as views at odd offsets of one buffer */
      int64_t off[7] = { 3 };
      int64_t sz[6] = { na, nb, no, na, nb, no };
      for (int i = 0; i < 6; i++)
        off[i + 1] = off[i] + sz[i] + 5;
      double *all = g_new0 (double, off[6]);
      const double *src[6] = { a, b, NULL, da0, db0, dout };
      for (int i = 0; i < 6; i++)
        for (int64_t k = 0; src[i] && k < sz[i]; k++)
          all[off[i] + k] = src[i][k];
      big = DN_TEST_TENSOR (all, 1, off[6]);
      g_free (all);
      DnStatus st;
      ta = dn_tensor_view (big, off[0], 3, (const int64_t[]){ c->B, ar, ac }, &st);
      tb = dn_tensor_view (big, off[1], 3, (const int64_t[]){ c->B, br, bc }, &st);
      tout = dn_tensor_view (big, off[2], 3, (const int64_t[]){ c->B, c->M, c->N }, &st);
      tda = dn_tensor_view (big, off[3], 3, (const int64_t[]){ c->B, ar, ac }, &st);
      tdb = dn_tensor_view (big, off[4], 3, (const int64_t[]){ c->B, br, bc }, &st);
      tdout = dn_tensor_view (big, off[5], 3, (const int64_t[]){ c->B, c->M, c->N }, &st);
    }

  DN_TEST_OK (dn_matmul_forward (tout, ta, tb, c->ta, c->tb, (float) c->alpha));
  double *want = g_new (double, no);
  dn_ref_matmul_forward (want, a, b, c->B, c->M, c->N, c->K, c->ta, c->tb, (float) c->alpha);
  char what[128];
  g_snprintf (what, sizeof what, "matmul fwd B%ld M%ld N%ld K%ld ta%d tb%d%s", (long) c->B, (long) c->M, (long) c->N,
              (long) c->K, c->ta, c->tb, use_views ? " views" : "");
  dn_test_check_tensor (what, tout, want, 1e-5);

  /* backward accumulates onto the random initial gradients */
  DN_TEST_OK (dn_matmul_backward (tda, tdb, tdout, ta, tb, c->ta, c->tb, (float) c->alpha));
  dn_ref_matmul_backward (da0, db0, dout, a, b, c->B, c->M, c->N, c->K, c->ta, c->tb, (float) c->alpha);
  g_snprintf (what, sizeof what, "matmul da B%ld M%ld N%ld K%ld ta%d tb%d", (long) c->B, (long) c->M, (long) c->N,
              (long) c->K, c->ta, c->tb);
  dn_test_check_tensor (what, tda, da0, 1e-5);
  what[8] = 'b';
  dn_test_check_tensor (what, tdb, db0, 1e-5);

  /* only one of the gradients */
  DN_TEST_OK (dn_tensor_fill (tda, 0));
  DN_TEST_OK (dn_matmul_backward (tda, NULL, tdout, ta, tb, c->ta, c->tb, (float) c->alpha));
  DN_TEST_OK (dn_matmul_backward (NULL, NULL, tdout, ta, tb, c->ta, c->tb, (float) c->alpha));
  for (int64_t i = 0; i < na; i++)
    da0[i] = 0;
  dn_ref_matmul_backward (da0, NULL, dout, a, b, c->B, c->M, c->N, c->K, c->ta, c->tb, (float) c->alpha);
  dn_test_check_tensor ("matmul da alone", tda, da0, 1e-5);

  DnTensor *ts[] = { ta, tb, tout, tda, tdb, tdout, big };
  for (int i = 0; i < 7; i++)
    dn_tensor_free (ts[i]);
  g_free (a), g_free (b), g_free (dout), g_free (da0), g_free (db0), g_free (want);
}

static void
test_forward_backward (void)
{
  const Case cases[] = {
    { 1, 1, 1, 1, false, false, 1 },    { 3, 7, 13, 5, false, false, 1 },  { 2, 13, 7, 3, true, false, 0.5 },
    { 2, 7, 3, 13, false, true, -2 },   { 1, 13, 13, 7, true, true, 1 },   { 1, 93, 67, 129, false, false, 1 },
    { 2, 67, 93, 70, true, false, 0.125 }, { 1, 65, 129, 33, false, true, 1 }, { 1, 70, 65, 93, true, true, 1 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (&cases[i], 10 + i * 7, false);
}

static void
test_split_grids (void)
{
  /* grids bigger than the per-dispatch limit (65535 in real use) go out as several dispatches */
  dn_gemm_debug_grid_limit (2);
  const Case cases[] = { { 5, 300, 7, 9, false, false, 1 }, { 3, 130, 5, 4, true, true, 1 } };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (&cases[i], 500 + i, false);
  dn_gemm_debug_grid_limit (0);
}

static void
test_views (void)
{
  const Case c1 = { 2, 7, 13, 5, true, false, 1 }, c2 = { 1, 13, 67, 17, false, true, 1 };
  run_case (&c1, 100, true);
  run_case (&c2, 200, true);
}

static void
test_big_tiles (void)
{
  /* the 128×128-tile variant (chosen automatically for large products) */
  dn_gemm_force_tile (128);
  const Case cases[] = { { 1, 131, 133, 37, false, false, 1 }, { 2, 13, 129, 19, true, true, 1 } };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (&cases[i], 300 + i, false);
  dn_gemm_force_tile (64);
  run_case (&cases[0], 400, false);
  dn_gemm_force_tile (0);
}

typedef struct
{
  const Case *c;
  double *a, *b;
  int which; /* 0: x is a, 1: x is b */
} GradCtx;

static void
fwd_fn (void *ctx, const double *x, double *y)
{
  GradCtx *g = ctx;
  const Case *c = g->c;
  dn_ref_matmul_forward (y, g->which == 0 ? x : g->a, g->which == 1 ? x : g->b, c->B, c->M, c->N, c->K, c->ta, c->tb,
                         c->alpha);
}

static void
test_gradcheck (void)
{
  for (int t = 0; t < 4; t++)
    {
      Case c = { 2, 3, 4, 5, t & 1, (t >> 1) & 1, 0.7 };
      int64_t na = c.B * c.M * c.K, nb = c.B * c.K * c.N, no = c.B * c.M * c.N;
      double *a = dn_test_randn (na, 1 + t), *b = dn_test_randn (nb, 2 + t), *dout = dn_test_randn (no, 3 + t);
      double *da = g_new0 (double, na), *db = g_new0 (double, nb);
      dn_ref_matmul_backward (da, db, dout, a, b, c.B, c.M, c.N, c.K, c.ta, c.tb, c.alpha);
      GradCtx g = { &c, a, b, 0 };
      dn_test_gradcheck ("matmul da", fwd_fn, &g, a, na, no, dout, da, 1e-6, 1e-6);
      g.which = 1;
      dn_test_gradcheck ("matmul db", fwd_fn, &g, b, nb, no, dout, db, 1e-6, 1e-6);
      g_free (a), g_free (b), g_free (dout), g_free (da), g_free (db);
    }
}

static void
test_bad_shapes (void)
{
  DnTensor *a = DN_TEST_ZEROS (3, 2, 3, 4), *b = DN_TEST_ZEROS (3, 2, 4, 5), *out = DN_TEST_ZEROS (3, 2, 3, 5);
  DnTensor *b1 = DN_TEST_ZEROS (3, 1, 4, 5), *b2 = DN_TEST_ZEROS (2, 4, 5), *o2 = DN_TEST_ZEROS (3, 2, 3, 6);
  DN_TEST_OK (dn_matmul_forward (out, a, b, false, false, 1));
  DN_TEST_FAILS (dn_matmul_forward (out, a, b, true, false, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_forward (out, a, b, false, true, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_forward (out, a, b1, false, false, 1), DN_ERROR_SHAPE); /* no batch broadcast */
  DN_TEST_FAILS (dn_matmul_forward (out, a, b2, false, false, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_forward (o2, a, b, false, false, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_backward (a, b1, out, a, b, false, false, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_backward (b, NULL, out, a, b, false, false, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_matmul_forward (out, NULL, b, false, false, 1), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *ts[] = { a, b, out, b1, b2, o2 };
  for (int i = 0; i < 6; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  /* M = 0: nothing to do; K = 0: the product is an empty sum, so out = 0 */
  DnTensor *a = DN_TEST_ZEROS (2, 0, 4), *b = DN_TEST_ZEROS (2, 4, 5), *out = DN_TEST_ZEROS (2, 0, 5);
  DN_TEST_OK (dn_matmul_forward (out, a, b, false, false, 1));
  DN_TEST_OK (dn_matmul_backward (a, b, out, a, b, false, false, 1));
  DnTensor *a0 = DN_TEST_ZEROS (2, 3, 0), *b0 = DN_TEST_ZEROS (2, 0, 5), *o0 = DN_TEST_ZEROS (2, 3, 5);
  DN_TEST_OK (dn_tensor_fill (o0, 7));
  DN_TEST_OK (dn_matmul_forward (o0, a0, b0, false, false, 1));
  double zeros[15] = { 0 };
  dn_test_check_tensor ("matmul K=0", o0, zeros, 0);
  DN_TEST_OK (dn_matmul_backward (a0, b0, o0, a0, b0, false, false, 1));
  DnTensor *ts[] = { a, b, out, a0, b0, o0 };
  for (int i = 0; i < 6; i++)
    dn_tensor_free (ts[i]);
}

static void
test_nan (void)
{
  /* NaN propagates, nothing crashes */
  double av[6] = { 1, NAN, 2, 3, 4, 5 }, bv[6] = { 1, 2, 3, 4, 5, 6 };
  DnTensor *a = DN_TEST_TENSOR (av, 2, 2, 3), *b = DN_TEST_TENSOR (bv, 2, 3, 2), *out = DN_TEST_ZEROS (2, 2, 2);
  DN_TEST_OK (dn_matmul_forward (out, a, b, false, false, 1));
  double *got = dn_test_download (out);
  g_assert_true (isnan (got[0]) && isnan (got[1]));
  g_assert_cmpfloat (got[2], ==, 3 * 1 + 4 * 3 + 5 * 5);
  g_free (got);
  dn_tensor_free (a), dn_tensor_free (b), dn_tensor_free (out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/matmul/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/matmul/views", test_views);
  g_test_add_func ("/ops/matmul/split-grids", test_split_grids);
  g_test_add_func ("/ops/matmul/big-tiles", test_big_tiles);
  g_test_add_func ("/ops/matmul/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/matmul/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/matmul/zero-size", test_zero_size);
  g_test_add_func ("/ops/matmul/nan", test_nan);
  return dn_test_run ();
}
