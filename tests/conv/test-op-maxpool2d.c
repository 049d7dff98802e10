/* test-op-maxpool2d.c: dn_maxpool2d_forward/backward against the float64 reference
 * (dn_ref_maxpool2d_*): odd shapes incl. ResNet's k3 s2 p1, ties (the FIRST maximum of the window must
 * win, in output, argmax and gradient), −inf padding next to negative inputs; the reference backward
 * against finite differences (inputs without ties); bad geometry; zero sizes; NaN.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

typedef struct
{
  int N, C, H, W, kh, kw, sh, sw, ph, pw;
} Case;

static int
out_size (int in, int k, int s, int p)
{
  return (int) dn_ref_conv_out_size (in, k, s, p);
}

/* values: 0 random normals (no ties), 1 small integers (many ties), 2 all negative */
static void
run_case (const Case *c0, int values, uint64_t seed)
{
  /* the reference takes explicit strides; the op's default (0) is the kernel size */
  Case cc = *c0;
  cc.sh = cc.sh ? cc.sh : cc.kh;
  cc.sw = cc.sw ? cc.sw : cc.kw;
  const Case *c = &cc;
  int Ho = out_size (c->H, c->kh, c->sh, c->ph), Wo = out_size (c->W, c->kw, c->sw, c->pw);
  int64_t nx = (int64_t) c->N * c->C * c->H * c->W, ny = (int64_t) c->N * c->C * Ho * Wo;
  double *x = dn_test_randn (nx, seed);
  for (int64_t i = 0; i < nx; i++)
    x[i] = values == 1 ? floor (x[i] * 1.5) : values == 2 ? -10 - fabs (x[i]) : x[i];
  dn_test_round_f32 (x, nx);
  double *dy = dn_test_randn (ny, seed + 1), *dx = dn_test_randn (nx, seed + 2);
  double *want = g_new (double, ny), *wanta = g_new (double, ny);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, c->N, c->C, c->H, c->W), *ty = DN_TEST_ZEROS (4, c->N, c->C, Ho, Wo);
  DnTensor *ta = DN_TEST_ZEROS (4, c->N, c->C, Ho, Wo), *tdy = DN_TEST_TENSOR (dy, 4, c->N, c->C, Ho, Wo);
  DnTensor *tdx = DN_TEST_TENSOR (dx, 4, c->N, c->C, c->H, c->W);
  DnPool2dParams p = { c0->kh, c0->kw, c0->sh, c0->sw, c0->ph, c0->pw };

  char what[128];
  g_snprintf (what, sizeof what, "maxpool N%d C%d %dx%d k%dx%d s%d,%d p%d,%d values %d", c->N, c->C, c->H, c->W, c->kh,
              c->kw, c->sh, c->sw, c->ph, c->pw, values);
  DN_TEST_OK (dn_maxpool2d_forward (ty, ta, tx, &p));
  dn_ref_maxpool2d_forward (want, wanta, x, c->N, c->C, c->H, c->W, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
  dn_test_check_tensor (what, ty, want, 0);       /* a max is exact */
  dn_test_check_tensor ("  argmax", ta, wanta, 0); /* first maximum */
  DN_TEST_OK (dn_maxpool2d_backward (tdx, tdy, ta, &p));
  dn_ref_maxpool2d_backward (dx, dy, wanta, c->N, c->C, c->H, c->W, Ho, Wo);
  dn_test_check_tensor ("  dinp", tdx, dx, 1e-5);
  /* without argmax */
  DN_TEST_OK (dn_tensor_fill (ty, 0));
  DN_TEST_OK (dn_maxpool2d_forward (ty, NULL, tx, &p));
  dn_test_check_tensor ("  out without argmax", ty, want, 0);

  DnTensor *ts[] = { tx, ty, ta, tdy, tdx };
  for (int i = 0; i < 5; i++)
    dn_tensor_free (ts[i]);
  g_free (x), g_free (dy), g_free (dx), g_free (want), g_free (wanta);
}

static const Case cases[] = {
  { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 },
  { 2, 3, 13, 13, 3, 3, 2, 2, 1, 1 }, /* ResNet */
  { 1, 2, 93, 93, 3, 3, 2, 2, 1, 1 }, /* ResNet on a bigger odd plane */
  { 2, 3, 7, 7, 2, 2, 0, 0, 0, 0 },   /* default stride = kernel; the last row/col never read */
  { 1, 3, 7, 13, 3, 3, 1, 1, 1, 1 },
  { 2, 2, 9, 7, 2, 3, 1, 2, 1, 1 },   /* asymmetric */
  { 1, 1, 5, 5, 5, 5, 1, 1, 2, 2 },   /* windows over the whole plane */
};

static void
test_forward_backward (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int values = 0; values < 3; values++)
      run_case (&cases[i], values, 10 + 7 * i + values);
}

typedef struct
{
  const Case *c;
} GradCtx;

static void
fwd_fn (void *ctx, const double *x, double *y)
{
  const Case *c = ((GradCtx *) ctx)->c;
  dn_ref_maxpool2d_forward (y, NULL, x, c->N, c->C, c->H, c->W, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
}

static void
test_gradcheck (void)
{
  /* random normals have no ties, so the max is differentiable at x */
  const Case cs[] = { { 2, 2, 7, 7, 3, 3, 2, 2, 1, 1 }, { 1, 2, 6, 5, 2, 3, 1, 2, 1, 1 } };
  for (size_t k = 0; k < G_N_ELEMENTS (cs); k++)
    {
      const Case *c = &cs[k];
      int Ho = out_size (c->H, c->kh, c->sh, c->ph), Wo = out_size (c->W, c->kw, c->sw, c->pw);
      int64_t nx = (int64_t) c->N * c->C * c->H * c->W, ny = (int64_t) c->N * c->C * Ho * Wo;
      double *x = dn_test_randn (nx, 5 + k), *dy = dn_test_randn (ny, 6 + k), *am = g_new (double, ny);
      double *y = g_new (double, ny), *dx = g_new0 (double, nx);
      dn_ref_maxpool2d_forward (y, am, x, c->N, c->C, c->H, c->W, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
      dn_ref_maxpool2d_backward (dx, dy, am, c->N, c->C, c->H, c->W, Ho, Wo);
      GradCtx g = { c };
      dn_test_gradcheck ("maxpool dinp", fwd_fn, &g, x, nx, ny, dy, dx, 1e-6, 1e-6);
      g_free (x), g_free (dy), g_free (am), g_free (y), g_free (dx);
    }
}

static void
test_bad_params (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 3, 13, 13), *y = DN_TEST_ZEROS (4, 2, 3, 7, 7), *a = DN_TEST_ZEROS (4, 2, 3, 7, 7);
  DnTensor *y6 = DN_TEST_ZEROS (4, 2, 3, 6, 6), *a3 = DN_TEST_ZEROS (3, 2, 3, 49), *x3 = DN_TEST_ZEROS (3, 3, 13, 13);
  DnPool2dParams p = { 3, 3, 2, 2, 1, 1 };
  DN_TEST_OK (dn_maxpool2d_forward (y, a, x, &p));
  DN_TEST_OK (dn_maxpool2d_backward (x, y, a, &p));
  DN_TEST_FAILS (dn_maxpool2d_forward (y6, a, x, &p), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a3, x, &p), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a, x3, &p), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_maxpool2d_backward (x, y6, a, &p), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a, x, &(DnPool2dParams){ 3, 3, 2, 2, 2, 1 }), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a, x, &(DnPool2dParams){ 0, 3, 2, 2, 0, 0 }), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a, x, &(DnPool2dParams){ 3, 3, -1, 2, 0, 0 }), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_maxpool2d_forward (y, a, x, NULL), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_maxpool2d_backward (x, y, NULL, &p), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *ts[] = { x, y, a, y6, a3, x3 };
  for (int i = 0; i < 6; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 0, 3, 13, 13), *y = DN_TEST_ZEROS (4, 0, 3, 7, 7), *a = DN_TEST_ZEROS (4, 0, 3, 7, 7);
  DnPool2dParams p = { 3, 3, 2, 2, 1, 1 };
  DN_TEST_OK (dn_maxpool2d_forward (y, a, x, &p));
  DN_TEST_OK (dn_maxpool2d_backward (x, y, a, &p));
  dn_tensor_free (x), dn_tensor_free (y), dn_tensor_free (a);
}

static void
test_nan (void)
{
  double xv[4] = { 1, NAN, 3, 2 };
  DnTensor *x = DN_TEST_TENSOR (xv, 4, 1, 1, 2, 2), *y = DN_TEST_ZEROS (4, 1, 1, 1, 1), *a = DN_TEST_ZEROS (4, 1, 1, 1, 1);
  DN_TEST_OK (dn_maxpool2d_forward (y, a, x, &(DnPool2dParams){ 2, 2, 0, 0, 0, 0 }));
  double *got = dn_test_download (y), *ga = dn_test_download (a);
  g_assert_true (isnan (got[0])); /* NaN propagates (as in PyTorch) */
  g_assert_cmpfloat (ga[0], ==, 1);
  g_free (got), g_free (ga);
  dn_tensor_free (x), dn_tensor_free (y), dn_tensor_free (a);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/maxpool2d/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/maxpool2d/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/maxpool2d/bad-params", test_bad_params);
  g_test_add_func ("/ops/maxpool2d/zero-size", test_zero_size);
  g_test_add_func ("/ops/maxpool2d/nan", test_nan);
  return dn_test_run ();
}
