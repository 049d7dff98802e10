/* test-op-bias-add.c: dn_bias_add_forward/backward against the float64 reference
 * (dn_ref_bias_add_*): 2-D to 5-D inputs, in place and into another tensor, views at odd offsets,
 * long dbias sums; the reference backward against finite differences; bad shapes; zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

static void
run_case (int ndim, const int64_t *shape, bool in_place, uint64_t seed)
{
  int64_t N = shape[0], C = shape[1], S = 1;
  for (int d = 2; d < ndim; d++)
    S *= shape[d];
  int64_t n = N * C * S;
  double *x = dn_test_randn (n, seed), *b = dn_test_randn (C, seed + 1), *dy = dn_test_randn (n, seed + 2);
  double *dx = dn_test_randn (n, seed + 3), *db = dn_test_randn (C, seed + 4), *want = g_new (double, n > 0 ? n : 1);
  DnTensor *tx = dn_test_tensor (ndim, shape, x), *tb = DN_TEST_TENSOR (b, 1, C);
  DnTensor *ty = in_place ? tx : dn_test_zeros (ndim, shape);
  DnTensor *tdy = dn_test_tensor (ndim, shape, dy), *tdx = dn_test_tensor (ndim, shape, dx);
  DnTensor *tdb = DN_TEST_TENSOR (db, 1, C);
  char what[96];
  g_snprintf (what, sizeof what, "bias add N%ld C%ld S%ld%s", (long) N, (long) C, (long) S, in_place ? " in place" : "");
  DN_TEST_OK (dn_bias_add_forward (ty, tx, tb));
  dn_ref_bias_add_forward (want, x, b, N, C, S);
  dn_test_check_tensor (what, ty, want, 1e-6); /* one float32 add */
  DN_TEST_OK (dn_bias_add_backward (tdx, tdb, tdy));
  dn_ref_bias_add_backward (dx, db, dy, N, C, S);
  dn_test_check_tensor ("  dinp", tdx, dx, 1e-6);
  dn_test_check_tensor ("  dbias", tdb, db, 1e-5);
  DN_TEST_OK (dn_bias_add_backward (NULL, tdb, tdy));
  dn_ref_bias_add_backward (NULL, db, dy, N, C, S);
  dn_test_check_tensor ("  dbias alone", tdb, db, 1e-5);
  if (!in_place)
    dn_tensor_free (ty);
  dn_tensor_free (tx), dn_tensor_free (tb), dn_tensor_free (tdy), dn_tensor_free (tdx), dn_tensor_free (tdb);
  g_free (x), g_free (b), g_free (dy), g_free (dx), g_free (db), g_free (want);
}

static void
test_forward_backward (void)
{
  const int64_t s2[] = { 3, 7 }, s3[] = { 2, 3, 5 }, s4[] = { 1, 7, 13, 13 }, s5[] = { 3, 5, 2, 3, 4 };
  const int64_t s1[] = { 1, 1 }, big[] = { 2, 40, 93, 93 }, longs[] = { 4099, 3, 1 };
  for (int in_place = 0; in_place < 2; in_place++)
    {
      run_case (2, s1, in_place, 1);
      run_case (2, s2, in_place, 2);
      run_case (3, s3, in_place, 3);
      run_case (4, s4, in_place, 4);
      run_case (5, s5, in_place, 5);
    }
  run_case (4, big, false, 6);
  run_case (3, longs, false, 7);
}

static void
test_views (void)
{
  /* input, output and bias as views at odd offsets of one buffer */
  double *all = dn_test_randn (200, 9);
  DnTensor *base = DN_TEST_TENSOR (all, 1, 200);
  DnStatus st;
  DnTensor *x = dn_tensor_view (base, 3, 3, (const int64_t[]){ 2, 3, 7 }, &st);
  DnTensor *y = dn_tensor_view (base, 101, 3, (const int64_t[]){ 2, 3, 7 }, &st);
  DnTensor *b = dn_tensor_view (base, 57, 1, (const int64_t[]){ 3 }, &st);
  DN_TEST_OK (dn_bias_add_forward (y, x, b));
  double want[42];
  dn_ref_bias_add_forward (want, all + 3, all + 57, 2, 3, 7);
  dn_test_check_tensor ("bias add on views", y, want, 1e-6);
  dn_tensor_free (x), dn_tensor_free (y), dn_tensor_free (b), dn_tensor_free (base);
  g_free (all);
}

typedef struct
{
  double *x, *b;
  int which;
} GradCtx;

static void
fwd_fn (void *ctx, const double *v, double *y)
{
  GradCtx *g = ctx;
  dn_ref_bias_add_forward (y, g->which == 0 ? v : g->x, g->which == 1 ? v : g->b, 2, 3, 5);
}

static void
test_gradcheck (void)
{
  double *x = dn_test_randn (30, 1), *b = dn_test_randn (3, 2), *dy = dn_test_randn (30, 3);
  double *dx = g_new0 (double, 30), *db = g_new0 (double, 3);
  dn_ref_bias_add_backward (dx, db, dy, 2, 3, 5);
  GradCtx g = { x, b, 0 };
  dn_test_gradcheck ("bias add dinp", fwd_fn, &g, x, 30, 30, dy, dx, 1e-6, 1e-6);
  g.which = 1;
  dn_test_gradcheck ("bias add dbias", fwd_fn, &g, b, 3, 30, dy, db, 1e-6, 1e-6);
  g_free (x), g_free (b), g_free (dy), g_free (dx), g_free (db);
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (3, 2, 3, 5), *b = DN_TEST_ZEROS (1, 3), *b4 = DN_TEST_ZEROS (1, 4);
  DnTensor *y = DN_TEST_ZEROS (3, 2, 3, 6), *x1 = DN_TEST_ZEROS (1, 3), *b2 = DN_TEST_ZEROS (2, 1, 3);
  DN_TEST_OK (dn_bias_add_forward (x, x, b));
  DN_TEST_FAILS (dn_bias_add_forward (x, x, b4), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_forward (y, x, b), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_forward (x1, x1, b), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_forward (x, x, b2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_backward (y, NULL, x), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_backward (NULL, b4, x), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_backward (NULL, b, x1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_bias_add_forward (x, NULL, b), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *ts[] = { x, b, b4, y, x1, b2 };
  for (int i = 0; i < 6; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  DnTensor *x = DN_TEST_ZEROS (3, 0, 3, 5), *b = DN_TEST_ZEROS (1, 3), *db = DN_TEST_ZEROS (1, 3);
  DN_TEST_OK (dn_bias_add_forward (x, x, b));
  DN_TEST_OK (dn_bias_add_backward (x, db, x));
  double zeros[3] = { 0 };
  dn_test_check_tensor ("dbias of nothing", db, zeros, 0);
  dn_tensor_free (x), dn_tensor_free (b), dn_tensor_free (db);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/bias-add/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/bias-add/views", test_views);
  g_test_add_func ("/ops/bias-add/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/bias-add/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/bias-add/zero-size", test_zero_size);
  return dn_test_run ();
}
