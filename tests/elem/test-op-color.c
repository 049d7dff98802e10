/* test-op-color.c: colour recorrelation (twins.md §6.2, `v @ Cc` per pixel) on the test backend against the
 * float64 reference (dn_ref_color_recorrelate_*), the reference backward (input and matrix) against finite
 * differences, bad shapes and zero-size tensors.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

/* Lucid's ImageNet colour_correlation_svd_sqrt / max column norm, transposed (twins.md §6.2) */
static const double Cc[9] = {
  0.56282854, 0.58447580, 0.58447580, 0.19482528, 0, -0.19482528, 0.04329450, -0.10823626, 0.06494176,
};

static void
check_color (int64_t N, int64_t Ci, int64_t Co, int64_t H, int64_t W, const double *mat_in, uint64_t seed)
{
  int64_t P = H * W, ni = N * Ci * P, no = N * Co * P;
  char what[160];
  double *xv = elem_randn (ni, seed, 1.0, 0.0);
  double *mv = mat_in ? elem_copy (mat_in, Ci * Co) : elem_randn (Ci * Co, seed + 1, 1.0, 0.0);
  dn_test_round_f32 (mv, Ci * Co);
  DnTensor *x = DN_TEST_TENSOR (xv, 4, N, Ci, H, W), *m = DN_TEST_TENSOR (mv, 2, Ci, Co);
  DnTensor *out = DN_TEST_ZEROS (4, N, Co, H, W);
  DN_TEST_OK (dn_color_recorrelate_forward (out, x, m));
  double *want = g_new (double, no);
  dn_ref_color_recorrelate_forward (want, xv, mv, N, Ci, Co, P);
  g_snprintf (what, sizeof what, "color forward (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
              ",%" G_GINT64_FORMAT ") → %" G_GINT64_FORMAT, N, Ci, H, W, Co);
  dn_test_check_tensor (what, out, want, 1e-5);

  double *dy = elem_randn (no, seed + 2, 1.0, 0.0), *gx0 = elem_randn (ni, seed + 3, 0.1, 0.0);
  double *gm0 = elem_randn (Ci * Co, seed + 4, 0.1, 0.0);
  DnTensor *dout = DN_TEST_TENSOR (dy, 4, N, Co, H, W), *dx = DN_TEST_TENSOR (gx0, 4, N, Ci, H, W);
  DnTensor *dm = DN_TEST_TENSOR (gm0, 2, Ci, Co);
  DN_TEST_OK (dn_color_recorrelate_backward (dx, dm, x, m, dout));
  double *gxw = elem_copy (gx0, ni), *gmw = elem_copy (gm0, Ci * Co);
  dn_ref_color_recorrelate_backward (gxw, gmw, xv, mv, dy, N, Ci, Co, P);
  dn_test_check_tensor ("color backward dinp", dx, gxw, 1e-5);
  dn_test_check_tensor ("color backward dmat", dm, gmw, 1e-5);
  DN_TEST_OK (dn_color_recorrelate_backward (NULL, dm, x, m, dout));
  dn_ref_color_recorrelate_backward (NULL, gmw, xv, mv, dy, N, Ci, Co, P);
  dn_test_check_tensor ("color backward dmat only", dm, gmw, 1e-5);
  g_free (xv);
  g_free (mv);
  g_free (want);
  g_free (dy);
  g_free (gx0);
  g_free (gm0);
  g_free (gxw);
  g_free (gmw);
  dn_tensor_free (x);
  dn_tensor_free (m);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
  dn_tensor_free (dm);
}

static void
test_color (void)
{
  check_color (1, 3, 3, 1, 1, Cc, 1);
  check_color (2, 3, 3, 7, 13, Cc, 2);
  check_color (4, 3, 3, 100, 100, Cc, 3); /* the V4 crop batch: dmat sums 40000 products */
  check_color (3, 3, 2, 13, 7, NULL, 4);  /* a general Ci×Co matrix */
  check_color (1, 1, 3, 93, 93, NULL, 5); /* gray to RGB */
}

typedef struct
{
  int64_t N, Ci, Co, P;
} ColorCtx;

/* x = [inp (N·Ci·P) | mat (Ci·Co)] */
static void
color_f (void *ctx, const double *x, double *y)
{
  ColorCtx *c = ctx;
  dn_ref_color_recorrelate_forward (y, x, x + c->N * c->Ci * c->P, c->N, c->Ci, c->Co, c->P);
}

static void
test_gradcheck (void)
{
  ColorCtx c = { 2, 3, 2, 5 };
  int64_t ni = 30, nx = ni + 6, no = 20;
  double *x = elem_randn (nx, 10, 1.0, 0.0), *dy = elem_randn (no, 11, 1.0, 0.0), *an = g_new0 (double, nx);
  dn_ref_color_recorrelate_backward (an, an + ni, x, x + ni, dy, 2, 3, 2, 5);
  dn_test_gradcheck ("color recorrelate", color_f, &c, x, nx, no, dy, an, 1e-6, 1e-6);
  g_free (x);
  g_free (dy);
  g_free (an);
}

static void
test_bad_input (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 3, 7, 13), *m = DN_TEST_ZEROS (2, 3, 3), *o = DN_TEST_ZEROS (4, 2, 3, 7, 13);
  DnTensor *m2 = DN_TEST_ZEROS (2, 2, 3), *o2 = DN_TEST_ZEROS (4, 2, 2, 7, 13), *o3 = DN_TEST_ZEROS (4, 2, 3, 7, 12);
  DnTensor *x3 = DN_TEST_ZEROS (3, 3, 7, 13);
  DN_TEST_FAILS (dn_color_recorrelate_forward (o, x, m2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_color_recorrelate_forward (o2, x, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_color_recorrelate_forward (o3, x, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_color_recorrelate_forward (x3, x3, m), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_color_recorrelate_forward (x, x, m), DN_ERROR_INVALID_ARGUMENT); /* in place */
  DN_TEST_FAILS (dn_color_recorrelate_backward (o2, NULL, x, m, o), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_color_recorrelate_backward (NULL, m2, x, m, o), DN_ERROR_SHAPE);
  dn_tensor_free (x);
  dn_tensor_free (m);
  dn_tensor_free (o);
  dn_tensor_free (m2);
  dn_tensor_free (o2);
  dn_tensor_free (o3);
  dn_tensor_free (x3);
  /* zero-size: no-ops */
  DnTensor *z = DN_TEST_ZEROS (4, 0, 3, 7, 13), *zo = DN_TEST_ZEROS (4, 0, 3, 7, 13), *mm = DN_TEST_ZEROS (2, 3, 3);
  DN_TEST_OK (dn_color_recorrelate_forward (zo, z, mm));
  DN_TEST_OK (dn_color_recorrelate_backward (z, mm, z, mm, zo));
  double zeros[9] = { 0 };
  dn_test_check_tensor ("zero-size dmat untouched", mm, zeros, 0);
  dn_tensor_free (z);
  dn_tensor_free (zo);
  dn_tensor_free (mm);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/color-recorrelate/forward-backward", test_color);
  g_test_add_func ("/ops/color-recorrelate/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/color-recorrelate/bad-input", test_bad_input);
  return dn_test_run ();
}
