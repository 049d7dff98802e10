/* test-op-tv-loss.c: DualNeuron's total-variation loss (twins.md §6.1 step 5) on the test backend against
 * the float64 reference (dn_ref_tv_loss_*), the reference backward against finite differences, batched and
 * single-image inputs, bad shapes and zero-size tensors.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

static void
check_tv (int ndim, const int64_t *shape, float weight, uint64_t seed)
{
  int64_t N = ndim == 4 ? shape[0] : 1, C = shape[ndim - 3], H = shape[ndim - 2], W = shape[ndim - 1];
  int64_t n = elem_prod (ndim, shape);
  char what[160];
  double *xv = elem_randn (n, seed, 1.0, 0.0);
  DnTensor *x = elem_tensor (ndim, shape, xv);
  DnTensor *out = DN_TEST_ZEROS (1, N), *norm = DN_TEST_ZEROS (1, N);
  DN_TEST_OK (dn_tv_loss_forward (out, norm, x, weight));
  double *want = g_new (double, N), *wnorm = g_new (double, N);
  dn_ref_tv_loss_forward (want, wnorm, xv, N, C, H, W, weight);
  g_snprintf (what, sizeof what, "tv forward (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
              ",%" G_GINT64_FORMAT ") w %g", N, C, H, W, (double) weight);
  dn_test_check_tensor (what, out, want, 1e-5);
  dn_test_check_tensor ("tv norm cache", norm, wnorm, 1e-5);

  /* without the cache */
  DnTensor *out2 = DN_TEST_ZEROS (1, N);
  DN_TEST_OK (dn_tv_loss_forward (out2, NULL, x, weight));
  dn_test_check_tensor ("tv forward, no cache", out2, want, 1e-5);

  double *dy = elem_randn (N, seed + 1, 1.0, 0.0), *g0 = elem_randn (n, seed + 2, 1e-3, 0.0);
  DnTensor *dout = DN_TEST_TENSOR (dy, 1, N), *dx = elem_tensor (ndim, shape, g0);
  DN_TEST_OK (dn_tv_loss_backward (dx, norm, x, dout, weight));
  double *gw = elem_copy (g0, n);
  dn_ref_tv_loss_backward (gw, xv, dy, N, C, H, W, weight);
  g_snprintf (what, sizeof what, "tv backward (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
              ",%" G_GINT64_FORMAT ")", N, C, H, W);
  dn_test_check_tensor (what, dx, gw, 1e-5);
  g_free (xv);
  g_free (want);
  g_free (wnorm);
  g_free (dy);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (x);
  dn_tensor_free (out);
  dn_tensor_free (out2);
  dn_tensor_free (norm);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
}

static void
test_tv (void)
{
  check_tv (3, (const int64_t[]){ 1, 93, 93 }, 1e-4f, 1);       /* V1 pixel ascent: (1,93,93) → (1) */
  check_tv (4, (const int64_t[]){ 2, 3, 7, 13 }, 1.0f, 2);
  check_tv (4, (const int64_t[]){ 3, 1, 1, 13 }, 0.5f, 3);      /* H = 1: horizontal differences only */
  check_tv (4, (const int64_t[]){ 1, 3, 13, 1 }, 2.0f, 4);      /* W = 1 */
  check_tv (4, (const int64_t[]){ 1, 1, 1, 1 }, 1.0f, 5);       /* no differences: sqrt(1e-8) */
  check_tv (4, (const int64_t[]){ 2, 3, 100, 100 }, 1e-4f, 6);  /* V4 images: 30000 terms per image */
}

typedef struct
{
  int64_t N, C, H, W;
  double weight;
} TvCtx;

static void
tv_f (void *ctx, const double *x, double *y)
{
  TvCtx *c = ctx;
  dn_ref_tv_loss_forward (y, NULL, x, c->N, c->C, c->H, c->W, c->weight);
}

static void
test_gradcheck (void)
{
  TvCtx c = { 2, 2, 3, 5, 0.7 };
  int64_t n = 2 * 2 * 3 * 5;
  double *x = elem_randn (n, 10, 1.0, 0.0), *dy = elem_randn (2, 11, 1.0, 0.0), *an = g_new0 (double, n);
  dn_ref_tv_loss_backward (an, x, dy, 2, 2, 3, 5, 0.7);
  dn_test_gradcheck ("tv loss", tv_f, &c, x, n, 2, dy, an, 1e-6, 1e-6);
  g_free (x);
  g_free (dy);
  g_free (an);
}

static void
test_bad_input (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 3, 7, 13), *o2 = DN_TEST_ZEROS (1, 2), *o3 = DN_TEST_ZEROS (1, 3);
  DnTensor *x2 = DN_TEST_ZEROS (2, 7, 13), *o22 = DN_TEST_ZEROS (2, 2, 1);
  DN_TEST_FAILS (dn_tv_loss_forward (o3, NULL, x, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_forward (o2, o3, x, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_forward (o22, NULL, x, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_forward (o2, NULL, x2, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_backward (x, o2, x, o3, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_backward (x2, o2, x, o2, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tv_loss_backward (x, NULL, x, o2, 1), DN_ERROR_INVALID_ARGUMENT);
  dn_tensor_free (x);
  dn_tensor_free (o2);
  dn_tensor_free (o3);
  dn_tensor_free (x2);
  dn_tensor_free (o22);

  /* zero-size: N = 0 is a no-op; empty images have TV = weight·sqrt(1e-8) */
  DnTensor *z = DN_TEST_ZEROS (4, 0, 3, 7, 13), *zo = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_tv_loss_forward (zo, zo, z, 1));
  DN_TEST_OK (dn_tv_loss_backward (z, zo, z, zo, 1));
  DnTensor *e = DN_TEST_ZEROS (4, 2, 0, 7, 13), *eo = DN_TEST_ZEROS (1, 2);
  DN_TEST_OK (dn_tv_loss_forward (eo, NULL, e, 2));
  double want[2] = { 2e-4, 2e-4 };
  dn_test_check_tensor ("tv of empty images", eo, want, 1e-6);
  DN_TEST_OK (dn_tv_loss_backward (e, eo, e, eo, 2));
  dn_tensor_free (z);
  dn_tensor_free (zo);
  dn_tensor_free (e);
  dn_tensor_free (eo);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/tv-loss/forward-backward", test_tv);
  g_test_add_func ("/ops/tv-loss/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/tv-loss/bad-input", test_bad_input);
  return dn_test_run ();
}
