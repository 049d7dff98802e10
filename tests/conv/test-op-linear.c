/* test-op-linear.c: dn_linear_forward/backward against the float64 reference (dn_ref_linear_*) on odd
 * shapes, with and without bias, with 1 to 4 leading dims; the reference backward against finite
 * differences; bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

typedef struct
{
  int ndim;
  int64_t lead[3]; /* leading dims (ndim − 1 of them) */
  int64_t nin, nout;
  bool bias;
} Case;

static void
run_case (const Case *c, uint64_t seed)
{
  int64_t rows = 1;
  int64_t si[4], so[4];
  for (int d = 0; d < c->ndim - 1; d++)
    {
      rows *= c->lead[d];
      si[d] = so[d] = c->lead[d];
    }
  si[c->ndim - 1] = c->nin;
  so[c->ndim - 1] = c->nout;
  int64_t ni = rows * c->nin, no = rows * c->nout, nw = c->nin * c->nout;
  double *x = dn_test_randn (ni, seed), *w = dn_test_randn (nw, seed + 1), *bias = dn_test_randn (c->nout, seed + 2);
  double *dout = dn_test_randn (no, seed + 3), *dx = dn_test_randn (ni, seed + 4), *dw = dn_test_randn (nw, seed + 5);
  double *db = dn_test_randn (c->nout, seed + 6), *want = g_new (double, no > 0 ? no : 1);

  DnTensor *tx = dn_test_tensor (c->ndim, si, x), *tout = dn_test_zeros (c->ndim, so);
  DnTensor *tw = DN_TEST_TENSOR (w, 2, c->nout, c->nin), *tb = DN_TEST_TENSOR (bias, 1, c->nout);
  DnTensor *tdout = dn_test_tensor (c->ndim, so, dout), *tdx = dn_test_tensor (c->ndim, si, dx);
  DnTensor *tdw = DN_TEST_TENSOR (dw, 2, c->nout, c->nin), *tdb = DN_TEST_TENSOR (db, 1, c->nout);

  char what[128];
  g_snprintf (what, sizeof what, "linear rows %ld nin %ld nout %ld bias %d", (long) rows, (long) c->nin,
              (long) c->nout, c->bias);
  DN_TEST_OK (dn_linear_forward (tout, tx, tw, c->bias ? tb : NULL));
  dn_ref_linear_forward (want, x, w, c->bias ? bias : NULL, rows, c->nin, c->nout);
  dn_test_check_tensor (what, tout, want, 1e-5);

  DN_TEST_OK (dn_linear_backward (tdx, tdw, c->bias ? tdb : NULL, tdout, tx, tw));
  dn_ref_linear_backward (dx, dw, c->bias ? db : NULL, dout, x, w, rows, c->nin, c->nout);
  dn_test_check_tensor ("linear dinp", tdx, dx, 1e-5);
  dn_test_check_tensor ("linear dweight", tdw, dw, 1e-5);
  dn_test_check_tensor ("linear dbias", tdb, db, 1e-5);

  DnTensor *ts[] = { tx, tout, tw, tb, tdout, tdx, tdw, tdb };
  for (int i = 0; i < 8; i++)
    dn_tensor_free (ts[i]);
  g_free (x), g_free (w), g_free (bias), g_free (dout), g_free (dx), g_free (dw), g_free (db), g_free (want);
}

static void
test_forward_backward (void)
{
  const Case cases[] = {
    { 2, { 1 }, 1, 1, true },          { 2, { 3 }, 7, 13, true },      { 3, { 2, 7 }, 13, 3, false },
    { 4, { 3, 1, 5 }, 40, 7, true },   { 2, { 93 }, 67, 129, true },   { 3, { 2, 65 }, 160, 40, true },
    { 1, { 0 }, 13, 7, true }, /* 1-D input: one row */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (&cases[i], 20 + 9 * i);
}

static void
test_long_dbias (void)
{
  /* dbias sums over many rows */
  const Case c = { 2, { 4099 }, 3, 5, true };
  run_case (&c, 77);
}

typedef struct
{
  double *x, *w, *b;
  int64_t rows, nin, nout;
  int which; /* 0: x, 1: w, 2: b */
} GradCtx;

static void
fwd_fn (void *ctx, const double *v, double *y)
{
  GradCtx *g = ctx;
  dn_ref_linear_forward (y, g->which == 0 ? v : g->x, g->which == 1 ? v : g->w, g->which == 2 ? v : g->b, g->rows,
                         g->nin, g->nout);
}

static void
test_gradcheck (void)
{
  int64_t rows = 5, nin = 4, nout = 3;
  double *x = dn_test_randn (rows * nin, 1), *w = dn_test_randn (nout * nin, 2), *b = dn_test_randn (nout, 3);
  double *dout = dn_test_randn (rows * nout, 4);
  double *dx = g_new0 (double, rows * nin), *dw = g_new0 (double, nout * nin), *db = g_new0 (double, nout);
  dn_ref_linear_backward (dx, dw, db, dout, x, w, rows, nin, nout);
  GradCtx g = { x, w, b, rows, nin, nout, 0 };
  dn_test_gradcheck ("linear dinp", fwd_fn, &g, x, rows * nin, rows * nout, dout, dx, 1e-6, 1e-6);
  g.which = 1;
  dn_test_gradcheck ("linear dweight", fwd_fn, &g, w, nout * nin, rows * nout, dout, dw, 1e-6, 1e-6);
  g.which = 2;
  dn_test_gradcheck ("linear dbias", fwd_fn, &g, b, nout, rows * nout, dout, db, 1e-6, 1e-6);
  g_free (x), g_free (w), g_free (b), g_free (dout), g_free (dx), g_free (dw), g_free (db);
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (3, 2, 3, 4), *w = DN_TEST_ZEROS (2, 5, 4), *b = DN_TEST_ZEROS (1, 5);
  DnTensor *out = DN_TEST_ZEROS (3, 2, 3, 5), *out2 = DN_TEST_ZEROS (3, 2, 2, 5), *out3 = DN_TEST_ZEROS (2, 6, 5);
  DnTensor *b6 = DN_TEST_ZEROS (1, 6), *w3 = DN_TEST_ZEROS (3, 1, 5, 4);
  DN_TEST_OK (dn_linear_forward (out, x, w, b));
  DN_TEST_FAILS (dn_linear_forward (out2, x, w, b), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_forward (out3, x, w, b), DN_ERROR_SHAPE); /* leading dims must match, not just rows */
  DN_TEST_FAILS (dn_linear_forward (out, x, w, b6), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_forward (out, x, w3, b), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_forward (out, out, w, b), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_backward (out, NULL, NULL, out, x, w), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_backward (NULL, x, NULL, out, x, w), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_backward (NULL, NULL, b6, out, x, w), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_linear_backward (NULL, w, NULL, out, NULL, w), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *ts[] = { x, w, b, out, out2, out3, b6, w3 };
  for (int i = 0; i < 8; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  DnTensor *x = DN_TEST_ZEROS (2, 0, 4), *w = DN_TEST_ZEROS (2, 5, 4), *b = DN_TEST_ZEROS (1, 5);
  DnTensor *out = DN_TEST_ZEROS (2, 0, 5);
  DN_TEST_OK (dn_linear_forward (out, x, w, b));
  DnTensor *dw = DN_TEST_ZEROS (2, 5, 4), *db = DN_TEST_ZEROS (1, 5);
  DN_TEST_OK (dn_linear_backward (x, dw, db, out, x, w));
  double zeros[20] = { 0 };
  dn_test_check_tensor ("linear dweight of no rows", dw, zeros, 0);
  dn_test_check_tensor ("linear dbias of no rows", db, zeros, 0);
  /* Nin = 0: out = bias */
  double bv[5] = { 1, 2, 3, 4, 5 }, want[10] = { 1, 2, 3, 4, 5, 1, 2, 3, 4, 5 };
  DnTensor *x0 = DN_TEST_ZEROS (2, 2, 0), *w0 = DN_TEST_ZEROS (2, 5, 0), *b1 = DN_TEST_TENSOR (bv, 1, 5);
  DnTensor *o1 = DN_TEST_ZEROS (2, 2, 5);
  DN_TEST_OK (dn_linear_forward (o1, x0, w0, b1));
  dn_test_check_tensor ("linear Nin=0", o1, want, 0);
  DnTensor *ts[] = { x, w, b, out, dw, db, x0, w0, b1, o1 };
  for (int i = 0; i < 10; i++)
    dn_tensor_free (ts[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/linear/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/linear/long-dbias", test_long_dbias);
  g_test_add_func ("/ops/linear/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/linear/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/linear/zero-size", test_zero_size);
  return dn_test_run ();
}
