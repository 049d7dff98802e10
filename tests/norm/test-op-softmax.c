/* test-op-softmax.c: softmax over the last dim, forward and backward on the test backend against the
 * float64 reference, the reference backward against finite differences, numerical stability (large
 * and -inf inputs), bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef struct
{
  int64_t rows, L;
} SmCtx;

static void
sm_fn (void *ctx, const double *x, double *y)
{
  SmCtx *c = ctx;
  dn_ref_softmax_forward (y, x, c->rows, c->L);
}

static void
run_case (int ndim, const int64_t *shape, double amp, bool some_inf, uint64_t seed)
{
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  int64_t L = shape[ndim - 1], rows = n / L;
  char sh[128], lbl[256];
  DnTensor tmp = { .ndim = ndim };
  memcpy (tmp.shape, shape, (size_t) ndim * sizeof (int64_t));
  dn_tensor_shape_str (&tmp, sh, sizeof sh);
  g_strlcat (sh, amp > 10 ? " large" : "", sizeof sh);
  g_strlcat (sh, some_inf ? " -inf" : "", sizeof sh);

  double *x = dn_test_randn (n, seed);
  for (int64_t i = 0; i < n; i++)
    x[i] *= amp;
  if (some_inf && L > 1) /* a masked-out entry in every other row, never the whole row */
    for (int64_t r = 0; r < rows; r += 2)
      x[r * L + (r % L)] = -INFINITY;
  dn_test_round_f32 (x, n);
  double *dy = dn_test_randn (n, seed + 1), *dx0 = dn_test_randn (n, seed + 2);
  double *y = nt_zeros (n);
  dn_ref_softmax_forward (y, x, rows, L);

  DnTensor *tx = dn_test_tensor (ndim, shape, x), *ty = dn_test_zeros (ndim, shape);
  DN_TEST_OK (dn_softmax_forward (ty, tx));
  g_snprintf (lbl, sizeof lbl, "softmax forward %s", sh);
  dn_test_check_tensor (lbl, ty, y, 1e-5);

  /* backward on the engine's output (the backward's input), accumulating */
  double *ey = dn_test_download (ty);
  double *dx = nt_copy (dx0, n);
  dn_ref_softmax_backward (dx, dy, ey, rows, L);
  DnTensor *tdy = dn_test_tensor (ndim, shape, dy), *tdx = dn_test_tensor (ndim, shape, dx0);
  DN_TEST_OK (dn_softmax_backward (tdx, tdy, ty));
  g_snprintf (lbl, sizeof lbl, "softmax backward %s", sh);
  dn_test_check_tensor (lbl, tdx, dx, 1e-5);

  if (n <= 300 && !some_inf && amp < 10) /* (large inputs: one-hot rows, vanishing gradients) */
    {
      SmCtx c = { rows, L };
      double *an = nt_zeros (n);
      dn_ref_softmax_backward (an, dy, y, rows, L);
      g_snprintf (lbl, sizeof lbl, "softmax %s", sh);
      dn_test_gradcheck (lbl, sm_fn, &c, x, n, n, dy, an, 1e-6, 1e-6);
      g_free (an);
    }
  nt_free (tx);
  nt_free (ty);
  nt_free (tdy);
  nt_free (tdx);
  double *fr[] = { x, dy, dx0, y, ey, dx };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

static void
test_softmax (void)
{
  static const struct
  {
    int ndim;
    int64_t shape[4];
  } cases[] = {
    { 1, { 1 } }, { 2, { 3, 1 } }, { 3, { 2, 3, 7 } }, { 2, { 13, 13 } }, { 2, { 7, 93 } }, { 2, { 5, 300 } },
    { 2, { 1000, 3 } }, { 4, { 2, 3, 5, 40 } },
  };
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      run_case (cases[i].ndim, cases[i].shape, 1.0, false, 600 + i);
      run_case (cases[i].ndim, cases[i].shape, 300.0, false, 620 + i); /* exp would overflow unshifted */
      run_case (cases[i].ndim, cases[i].shape, 2.0, true, 640 + i);
    }
}

/* A row that is entirely -inf gives NaN (as in PyTorch), and other rows are unaffected. */
static void
test_all_masked_row (void)
{
  double x[6] = { -INFINITY, -INFINITY, -INFINITY, 1, 2, 3 };
  DnTensor *tx = DN_TEST_TENSOR (x, 2, 2, 3), *ty = DN_TEST_ZEROS (2, 2, 3);
  DN_TEST_OK (dn_softmax_forward (ty, tx));
  double *got = dn_test_download (ty);
  for (int j = 0; j < 3; j++)
    g_assert_true (isnan (got[j]));
  double want[3];
  dn_ref_softmax_forward (want, x + 3, 1, 3);
  dn_test_check_close ("softmax row after an all -inf row", got + 3, want, 3, 1e-6);
  g_free (got);
  nt_free (tx);
  nt_free (ty);
}

/* Views at odd offsets: the same results as contiguous tensors. */
static void
test_views (void)
{
  const int64_t sh[2] = { 7, 13 }, n = 7 * 13;
  double *x = dn_test_randn (n, 660), *dy = dn_test_randn (n, 661);
  DnTensor *tx = dn_test_tensor (2, sh, x), *tdy = dn_test_tensor (2, sh, dy), *ty = dn_test_zeros (2, sh),
           *tdx = dn_test_zeros (2, sh);
  DnTensor *bs[4];
  DnTensor *vx = nt_view_of (x, 2, sh, 1, &bs[0]), *vdy = nt_view_of (dy, 2, sh, 3, &bs[1]),
           *vy = nt_view_of (NULL, 2, sh, 5, &bs[2]), *vdx = nt_view_of (NULL, 2, sh, 7, &bs[3]);
  DN_TEST_OK (dn_softmax_forward (ty, tx));
  DN_TEST_OK (dn_softmax_forward (vy, vx));
  nt_check_same ("softmax views forward", vy, ty);
  DN_TEST_OK (dn_softmax_backward (tdx, tdy, ty));
  DN_TEST_OK (dn_softmax_backward (vdx, vdy, vy));
  nt_check_same ("softmax views backward", vdx, tdx);
  DnTensor *all[] = { tx, tdy, ty, tdx, vx, vdy, vy, vdx, bs[0], bs[1], bs[2], bs[3] };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  g_free (x);
  g_free (dy);
}

static void
test_bad_shapes (void)
{
  DnTensor *a = DN_TEST_ZEROS (2, 3, 4), *b = DN_TEST_ZEROS (2, 4, 3), *c = DN_TEST_ZEROS (2, 3, 4);
  DN_TEST_FAILS (dn_softmax_forward (b, a), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_softmax_backward (a, b, c), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_softmax_backward (a, c, b), DN_ERROR_SHAPE);
  DnTensor *z = DN_TEST_ZEROS (2, 0, 4), *z2 = DN_TEST_ZEROS (2, 3, 0);
  DN_TEST_OK (dn_softmax_forward (z, z));
  DN_TEST_OK (dn_softmax_backward (z, z, z));
  DN_TEST_OK (dn_softmax_forward (z2, z2));
  nt_free (a);
  nt_free (b);
  nt_free (c);
  nt_free (z);
  nt_free (z2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/softmax/forward-backward", test_softmax);
  g_test_add_func ("/ops/softmax/all-masked-row", test_all_masked_row);
  g_test_add_func ("/ops/softmax/views", test_views);
  g_test_add_func ("/ops/softmax/bad-shapes", test_bad_shapes);
  return dn_test_run ();
}
