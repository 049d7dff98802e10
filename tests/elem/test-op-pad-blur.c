/* test-op-pad-blur.c: reflect pad 2D and the separable Gaussian blur (torchvision gaussian_blur) on the
 * test backend against the float64 references, the references' backward against finite differences, the
 * PyTorch fixture ops/gaussian_blur_5_1.5 of v1_fixture.h5 (max abs ≤ 1e-6), bad arguments and
 * zero-size tensors.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

/* Reflect pad ------------------------------------------------------------------------------------------ */

static void
check_pad (int ndim, const int64_t *shape, int l, int r, int t, int b, uint64_t seed)
{
  int64_t H = shape[ndim - 2], W = shape[ndim - 1], n = elem_prod (ndim, shape), P = n / (H * W);
  int64_t oshape[DN_MAX_DIMS];
  memcpy (oshape, shape, sizeof (int64_t) * (size_t) ndim);
  oshape[ndim - 2] = H + t + b;
  oshape[ndim - 1] = W + l + r;
  int64_t no = elem_prod (ndim, oshape);
  char what[160];
  double *xv = elem_randn (n, seed, 1.0, 0.0);
  DnTensor *x = elem_tensor (ndim, shape, xv), *out = dn_test_zeros (ndim, oshape);
  DN_TEST_OK (dn_reflect_pad2d_forward (out, x, l, r, t, b));
  double *want = g_new (double, no);
  dn_ref_reflect_pad2d_forward (want, xv, P, H, W, l, r, t, b);
  g_snprintf (what, sizeof what, "reflect pad forward %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " pads %d,%d,%d,%d", H, W,
              l, r, t, b);
  dn_test_check_tensor (what, out, want, 0); /* a copy: exact */

  double *dy = elem_randn (no, seed + 1, 1.0, 0.0), *g0 = elem_randn (n, seed + 2, 1.0, 0.0);
  DnTensor *dout = elem_tensor (ndim, oshape, dy), *dx = elem_tensor (ndim, shape, g0);
  DN_TEST_OK (dn_reflect_pad2d_backward (dx, dout, l, r, t, b));
  double *gw = elem_copy (g0, n);
  dn_ref_reflect_pad2d_backward (gw, dy, P, H, W, l, r, t, b);
  g_snprintf (what, sizeof what, "reflect pad backward %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " pads %d,%d,%d,%d", H,
              W, l, r, t, b);
  dn_test_check_tensor (what, dx, gw, 1e-6);
  g_free (xv);
  g_free (want);
  g_free (dy);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (x);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
}

static void
test_pad (void)
{
  check_pad (2, (const int64_t[]){ 1, 1 }, 0, 0, 0, 0, 1);
  check_pad (3, (const int64_t[]){ 3, 7, 13 }, 1, 2, 3, 0, 2);
  check_pad (4, (const int64_t[]){ 2, 3, 7, 13 }, 12, 12, 6, 6, 3); /* the largest pads allowed */
  check_pad (4, (const int64_t[]){ 1, 1, 93, 93 }, 4, 4, 4, 4, 4);  /* V1 crops: 93 → 101 */
  check_pad (2, (const int64_t[]){ 3, 2 }, 1, 1, 2, 1, 5);
}

typedef struct
{
  int64_t H, W;
  int l, r, t, b;
} PadCtx;

static void
pad_f (void *ctx, const double *x, double *y)
{
  PadCtx *c = ctx;
  dn_ref_reflect_pad2d_forward (y, x, 1, c->H, c->W, c->l, c->r, c->t, c->b);
}

static void
blur_f (void *ctx, const double *x, double *y)
{
  PadCtx *c = ctx; /* l = ksize, r unused */
  dn_ref_gaussian_blur2d_forward (y, x, 1, c->H, c->W, c->l, 1.5);
}

static void
test_gradcheck (void)
{
  PadCtx c = { 5, 7, 2, 3, 4, 1 };
  int64_t n = 35, no = (5 + 5) * (7 + 5);
  double *x = elem_randn (n, 10, 1.0, 0.0), *dy = elem_randn (no, 11, 1.0, 0.0), *an = g_new0 (double, n);
  dn_ref_reflect_pad2d_backward (an, dy, 1, 5, 7, 2, 3, 4, 1);
  dn_test_gradcheck ("reflect pad", pad_f, &c, x, n, no, dy, an, 1e-6, 1e-6);
  g_free (dy);
  g_free (an);

  PadCtx cb = { 5, 7, 7, 0, 0, 0 }; /* a 7×7 kernel on 5×7: every reflection path */
  dy = elem_randn (n, 12, 1.0, 0.0);
  an = g_new0 (double, n);
  dn_ref_gaussian_blur2d_backward (an, dy, 1, 5, 7, 7, 1.5);
  dn_test_gradcheck ("gaussian blur", blur_f, &cb, x, n, n, dy, an, 1e-6, 1e-6);
  g_free (x);
  g_free (dy);
  g_free (an);
}

/* Gaussian blur ---------------------------------------------------------------------------------------- */

static void
check_blur (int ndim, const int64_t *shape, int ksize, float sigma, uint64_t seed)
{
  int64_t H = shape[ndim - 2], W = shape[ndim - 1], n = elem_prod (ndim, shape), P = n / (H * W);
  char what[160];
  double *xv = elem_randn (n, seed, 1.0, 0.0);
  DnTensor *x = elem_tensor (ndim, shape, xv), *out = dn_test_zeros (ndim, shape);
  DN_TEST_OK (dn_gaussian_blur2d_forward (out, x, ksize, sigma));
  double *want = g_new (double, n);
  dn_ref_gaussian_blur2d_forward (want, xv, P, H, W, ksize, sigma);
  g_snprintf (what, sizeof what, "blur forward %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " k%d σ%g", H, W, ksize,
              (double) sigma);
  dn_test_check_tensor (what, out, want, 1e-5);

  double *dy = elem_randn (n, seed + 1, 1.0, 0.0), *g0 = elem_randn (n, seed + 2, 1.0, 0.0);
  DnTensor *dout = elem_tensor (ndim, shape, dy), *dx = elem_tensor (ndim, shape, g0);
  DN_TEST_OK (dn_gaussian_blur2d_backward (dx, dout, ksize, sigma));
  double *gw = elem_copy (g0, n);
  dn_ref_gaussian_blur2d_backward (gw, dy, P, H, W, ksize, sigma);
  g_snprintf (what, sizeof what, "blur backward %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " k%d σ%g", H, W, ksize,
              (double) sigma);
  dn_test_check_tensor (what, dx, gw, 1e-5);
  g_free (xv);
  g_free (want);
  g_free (dy);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (x);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
}

static void
test_blur (void)
{
  check_blur (4, (const int64_t[]){ 1, 1, 93, 93 }, 5, 1.5f, 1);   /* the synthesis gradient blur */
  check_blur (4, (const int64_t[]){ 2, 3, 7, 13 }, 5, 1.5f, 2);
  check_blur (3, (const int64_t[]){ 3, 13, 7 }, 13, 3.0f, 3);      /* r = 6: pads right up to the edge */
  check_blur (2, (const int64_t[]){ 1, 1 }, 1, 0.7f, 4);           /* k = 1: the identity */
  check_blur (3, (const int64_t[]){ 1, 20, 21 }, 39, 5.0f, 5);     /* the largest kernel */
  check_blur (3, (const int64_t[]){ 2, 33, 17 }, 7, 0.8f, 6);      /* partial tiles */
  check_blur (2, (const int64_t[]){ 3, 3 }, 5, 1.5f, 7);           /* H = W = 3, r = 2 */
}

/* PyTorch (torchvision gaussian_blur, k 5, σ 1.5) on a (1,1,93,93) image from the V1 fixture */
static void
test_blur_fixture (void)
{
  int64_t n_in, n_out;
  double *in = elem_read_fixture ("v1_fixture.h5", "/ops/gaussian_blur_5_1.5/input", &n_in);
  double *want = elem_read_fixture ("v1_fixture.h5", "/ops/gaussian_blur_5_1.5/output", &n_out);
  g_assert_cmpint (n_in, ==, 93 * 93);
  g_assert_cmpint (n_out, ==, 93 * 93);
  DnTensor *x = DN_TEST_TENSOR (in, 4, 1, 1, 93, 93), *out = DN_TEST_ZEROS (4, 1, 1, 93, 93);
  DN_TEST_OK (dn_gaussian_blur2d_forward (out, x, 5, 1.5f));
  double *got = dn_test_download (out);
  double err = elem_max_abs (got, want, n_out);
  if (g_test_verbose ())
    g_printerr ("  blur vs PyTorch fixture [%s]: max abs %.3g\n", dn_test_backend_name (), err);
  if (!(err <= 1e-6))
    g_error ("gaussian blur vs the PyTorch fixture [%s]: max abs %.3g > 1e-6", dn_test_backend_name (), err);
  g_free (in);
  g_free (want);
  g_free (got);
  dn_tensor_free (x);
  dn_tensor_free (out);
}

static void
test_bad_input (void)
{
  DnTensor *x = DN_TEST_ZEROS (3, 2, 7, 13);
  DnTensor *o = DN_TEST_ZEROS (3, 2, 9, 15);
  DnTensor *o2 = DN_TEST_ZEROS (3, 2, 7, 13);
  DN_TEST_FAILS (dn_reflect_pad2d_forward (o, x, 1, 1, 1, 2), DN_ERROR_SHAPE);  /* out shape */
  DN_TEST_FAILS (dn_reflect_pad2d_forward (o, x, 2, 0, 7, -5), DN_ERROR_SHAPE); /* negative pad */
  DN_TEST_FAILS (dn_reflect_pad2d_backward (x, o, 1, 1, 1, 2), DN_ERROR_SHAPE);
  DnTensor *o3 = DN_TEST_ZEROS (3, 2, 7, 27);
  DN_TEST_FAILS (dn_reflect_pad2d_forward (o3, x, 13, 1, 0, 0), DN_ERROR_SHAPE); /* pad ≥ W */
  DnTensor *o4 = DN_TEST_ZEROS (3, 3, 9, 15);
  DN_TEST_FAILS (dn_reflect_pad2d_forward (o4, x, 1, 1, 1, 1), DN_ERROR_SHAPE); /* batch dims differ */
  DnTensor *v = DN_TEST_ZEROS (1, 7);
  DN_TEST_FAILS (dn_reflect_pad2d_forward (v, v, 0, 0, 0, 0), DN_ERROR_SHAPE); /* not (…,H,W) */

  DN_TEST_FAILS (dn_gaussian_blur2d_forward (o2, x, 4, 1.5f), DN_ERROR_INVALID_ARGUMENT);  /* even k */
  DN_TEST_FAILS (dn_gaussian_blur2d_forward (o2, x, 41, 1.5f), DN_ERROR_INVALID_ARGUMENT); /* k too big */
  DN_TEST_FAILS (dn_gaussian_blur2d_forward (o2, x, 5, 0.0f), DN_ERROR_INVALID_ARGUMENT);  /* sigma */
  DN_TEST_FAILS (dn_gaussian_blur2d_forward (o2, x, 15, 2.0f), DN_ERROR_SHAPE);  /* r = 7 ≥ H = 7 */
  DN_TEST_FAILS (dn_gaussian_blur2d_forward (o, x, 5, 1.5f), DN_ERROR_SHAPE);    /* shapes differ */
  DN_TEST_FAILS (dn_gaussian_blur2d_forward (x, x, 5, 1.5f), DN_ERROR_INVALID_ARGUMENT); /* in place */
  DN_TEST_FAILS (dn_gaussian_blur2d_backward (o, x, 5, 1.5f), DN_ERROR_SHAPE);
  dn_tensor_free (x);
  dn_tensor_free (o);
  dn_tensor_free (o2);
  dn_tensor_free (o3);
  dn_tensor_free (o4);
  dn_tensor_free (v);

  /* zero-size: no-ops */
  DnTensor *z = DN_TEST_ZEROS (3, 0, 7, 13), *zo = DN_TEST_ZEROS (3, 0, 9, 15), *z2 = DN_TEST_ZEROS (3, 0, 7, 13);
  DN_TEST_OK (dn_reflect_pad2d_forward (zo, z, 1, 1, 1, 1));
  DN_TEST_OK (dn_reflect_pad2d_backward (z, zo, 1, 1, 1, 1));
  DN_TEST_OK (dn_gaussian_blur2d_forward (z2, z, 5, 1.5f));
  DN_TEST_OK (dn_gaussian_blur2d_backward (z2, z, 5, 1.5f));
  dn_tensor_free (z);
  dn_tensor_free (zo);
  dn_tensor_free (z2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/reflect-pad/forward-backward", test_pad);
  g_test_add_func ("/ops/pad-blur/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/gaussian-blur/forward-backward", test_blur);
  g_test_add_func ("/ops/gaussian-blur/pytorch-fixture", test_blur_fixture);
  g_test_add_func ("/ops/pad-blur/bad-input", test_bad_input);
  return dn_test_run ();
}
