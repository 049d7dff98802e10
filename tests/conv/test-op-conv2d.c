/* test-op-conv2d.c: dn_conv2d_forward/backward against the float64 reference (dn_ref_conv2d_*) on odd
 * shapes: the twins' convs (V1 patch conv k4 s4 on 93×93, 7×7 depthwise pad 3, 2×2 s2; ResNet 7×7 s2
 * p3, 1×1, 3×3 s1/s2), groups, channel multipliers, asymmetric kernels, big planes (the CPU's
 * one-sample-per-GEMM path); the reference backward against finite differences; bad shapes; zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

typedef struct
{
  int N, Cin, H, W, Cout, KH, KW, sh, sw, ph, pw, G;
  bool bias;
} Case;

static void
run_case (const Case *c, uint64_t seed)
{
  int Ho = (int) dn_conv2d_out_size (c->H, c->KH, c->sh, c->ph), Wo = (int) dn_conv2d_out_size (c->W, c->KW, c->sw, c->pw);
  g_assert_cmpint (Ho, ==, dn_ref_conv_out_size (c->H, c->KH, c->sh, c->ph));
  int64_t nx = (int64_t) c->N * c->Cin * c->H * c->W, nw = (int64_t) c->Cout * (c->Cin / c->G) * c->KH * c->KW;
  int64_t ny = (int64_t) c->N * c->Cout * Ho * Wo;
  double *x = dn_test_randn (nx, seed), *w = dn_test_randn (nw, seed + 1), *b = dn_test_randn (c->Cout, seed + 2);
  double *dy = dn_test_randn (ny, seed + 3), *dx = dn_test_randn (nx, seed + 4), *dw = dn_test_randn (nw, seed + 5);
  double *db = dn_test_randn (c->Cout, seed + 6), *want = g_new (double, ny);

  DnTensor *tx = DN_TEST_TENSOR (x, 4, c->N, c->Cin, c->H, c->W);
  DnTensor *tw = DN_TEST_TENSOR (w, 4, c->Cout, c->Cin / c->G, c->KH, c->KW);
  DnTensor *tb = DN_TEST_TENSOR (b, 1, c->Cout);
  DnTensor *ty = DN_TEST_ZEROS (4, c->N, c->Cout, Ho, Wo);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 4, c->N, c->Cout, Ho, Wo);
  DnTensor *tdx = DN_TEST_TENSOR (dx, 4, c->N, c->Cin, c->H, c->W);
  DnTensor *tdw = DN_TEST_TENSOR (dw, 4, c->Cout, c->Cin / c->G, c->KH, c->KW);
  DnTensor *tdb = DN_TEST_TENSOR (db, 1, c->Cout);
  DnConv2dParams p = { c->sh, c->sw, c->ph, c->pw, c->G };

  char what[160];
  g_snprintf (what, sizeof what, "conv2d N%d Cin%d %dx%d Cout%d k%dx%d s%d,%d p%d,%d g%d", c->N, c->Cin, c->H, c->W,
              c->Cout, c->KH, c->KW, c->sh, c->sw, c->ph, c->pw, c->G);
  DN_TEST_OK (dn_conv2d_forward (ty, tx, tw, c->bias ? tb : NULL, &p));
  dn_ref_conv2d_forward (want, x, w, c->bias ? b : NULL, c->N, c->Cin, c->H, c->W, c->Cout, c->KH, c->KW, c->sh, c->sw,
                         c->ph, c->pw, c->G);
  dn_test_check_tensor (what, ty, want, 1e-5);

  DN_TEST_OK (dn_conv2d_backward (tdx, tdw, c->bias ? tdb : NULL, tdy, tx, tw, &p));
  dn_ref_conv2d_backward (dx, dw, c->bias ? db : NULL, dy, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->KH, c->KW, c->sh,
                          c->sw, c->ph, c->pw, c->G);
  g_strlcat (what, " dinp", sizeof what);
  dn_test_check_tensor (what, tdx, dx, 1e-5);
  dn_test_check_tensor ("  dweight", tdw, dw, 1e-5);
  dn_test_check_tensor ("  dbias", tdb, db, 1e-5);

  /* dinp alone, without inp */
  DN_TEST_OK (dn_tensor_fill (tdx, 0));
  DN_TEST_OK (dn_conv2d_backward (tdx, NULL, NULL, tdy, NULL, tw, &p));
  for (int64_t i = 0; i < nx; i++)
    dx[i] = 0;
  dn_ref_conv2d_backward (dx, NULL, NULL, dy, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->KH, c->KW, c->sh, c->sw,
                          c->ph, c->pw, c->G);
  dn_test_check_tensor ("  dinp alone", tdx, dx, 1e-5);

  DnTensor *ts[] = { tx, tw, tb, ty, tdy, tdx, tdw, tdb };
  for (int i = 0; i < 8; i++)
    dn_tensor_free (ts[i]);
  g_free (x), g_free (w), g_free (b), g_free (dy), g_free (dx), g_free (dw), g_free (db), g_free (want);
}

static const Case twin_cases[] = {
  /* N Cin  H   W Cout KH KW sh sw ph pw G  bias */
  { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, true },
  { 1, 3, 93, 93, 8, 4, 4, 4, 4, 0, 0, 1, true },   /* V1 patch conv (row/col 92 never read) */
  { 2, 5, 13, 13, 5, 7, 7, 1, 1, 3, 3, 5, true },   /* V1 7×7 depthwise */
  { 2, 4, 13, 13, 6, 2, 2, 2, 2, 0, 0, 1, true },   /* V1 2×2 s2 downsampling */
  { 1, 3, 23, 23, 8, 7, 7, 2, 2, 3, 3, 1, false },  /* ResNet stem */
  { 3, 13, 5, 5, 7, 1, 1, 1, 1, 0, 0, 1, false },   /* ResNet 1×1 */
  { 2, 8, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, false },    /* ResNet 3×3 s1 */
  { 2, 6, 13, 13, 7, 3, 3, 2, 2, 1, 1, 1, false },  /* ResNet 3×3 s2 */
  { 1, 12, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, false },   /* ResNet 3×3 s1, Cin big enough for the GEMM dinp */
  { 1, 48, 7, 7, 4, 3, 3, 2, 2, 1, 1, 1, false },   /* the same, stride 2 */
  { 3, 5, 7, 7, 3, 1, 1, 2, 2, 0, 0, 1, false },    /* ResNet 1×1 s2 downsample */
};

static const Case other_cases[] = {
  { 3, 4, 13, 11, 6, 3, 3, 2, 2, 1, 1, 2, true },   /* groups */
  { 2, 3, 9, 9, 6, 5, 5, 2, 2, 2, 2, 3, true },     /* channel multiplier 2 */
  { 1, 3, 29, 29, 3, 3, 3, 6, 6, 1, 1, 3, true },   /* depthwise, patch too big for shared memory */
  { 2, 2, 7, 13, 3, 3, 5, 2, 1, 1, 2, 1, true },    /* asymmetric kernel, stride, padding */
  { 1, 2, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, true },    /* two GEMM row tiles */
  { 1, 4, 9, 9, 4, 3, 3, 1, 1, 1, 1, 2, false },    /* groups of 2 channels */
  { 1, 1, 7, 7, 3, 3, 3, 1, 1, 0, 0, 1, true },     /* one input channel, G 1 (the depthwise kernels) */
};

static const Case big_plane_cases[] = {
  { 2, 3, 47, 47, 5, 1, 1, 1, 1, 0, 0, 1, true },   /* 1×1 on a 2209-pixel plane: GEMM straight into out */
  { 2, 3, 47, 47, 4, 3, 3, 1, 1, 1, 1, 1, true },   /* 3×3 on a big plane: one sample per im2col */
  { 1, 4, 47, 47, 4, 3, 3, 1, 1, 1, 1, 2, false },
};

static void
test_twin_shapes (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (twin_cases); i++)
    run_case (&twin_cases[i], 100 + 11 * i);
}

static void
test_other_shapes (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (other_cases); i++)
    run_case (&other_cases[i], 300 + 11 * i);
}

static void
test_big_planes (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (big_plane_cases); i++)
    run_case (&big_plane_cases[i], 500 + 11 * i);
}

static void
test_default_params (void)
{
  /* NULL params: stride 1, no padding, one group */
  double *x = dn_test_randn (2 * 3 * 5 * 6, 1), *w = dn_test_randn (4 * 3 * 2 * 3, 2);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, 2, 3, 5, 6), *tw = DN_TEST_TENSOR (w, 4, 4, 3, 2, 3);
  DnTensor *ty = DN_TEST_ZEROS (4, 2, 4, 4, 4);
  DN_TEST_OK (dn_conv2d_forward (ty, tx, tw, NULL, NULL));
  double want[2 * 4 * 4 * 4];
  dn_ref_conv2d_forward (want, x, w, NULL, 2, 3, 5, 6, 4, 2, 3, 1, 1, 0, 0, 1);
  dn_test_check_tensor ("conv2d NULL params", ty, want, 1e-5);
  dn_tensor_free (tx), dn_tensor_free (tw), dn_tensor_free (ty);
  g_free (x), g_free (w);
}

typedef struct
{
  const Case *c;
  double *x, *w, *b;
  int which;
} GradCtx;

static void
fwd_fn (void *ctx, const double *v, double *y)
{
  GradCtx *g = ctx;
  const Case *c = g->c;
  dn_ref_conv2d_forward (y, g->which == 0 ? v : g->x, g->which == 1 ? v : g->w, g->which == 2 ? v : g->b, c->N, c->Cin,
                         c->H, c->W, c->Cout, c->KH, c->KW, c->sh, c->sw, c->ph, c->pw, c->G);
}

static void
test_gradcheck (void)
{
  const Case cases[] = {
    { 2, 4, 5, 6, 4, 3, 3, 2, 2, 1, 1, 2, true },
    { 1, 3, 6, 5, 3, 3, 3, 1, 1, 1, 1, 3, true },
    { 2, 2, 5, 5, 3, 2, 3, 2, 1, 0, 1, 1, true },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      int Ho = (int) dn_ref_conv_out_size (c->H, c->KH, c->sh, c->ph), Wo = (int) dn_ref_conv_out_size (c->W, c->KW, c->sw, c->pw);
      int64_t nx = (int64_t) c->N * c->Cin * c->H * c->W, nw = (int64_t) c->Cout * (c->Cin / c->G) * c->KH * c->KW;
      int64_t ny = (int64_t) c->N * c->Cout * Ho * Wo;
      double *x = dn_test_randn (nx, 1 + i), *w = dn_test_randn (nw, 2 + i), *b = dn_test_randn (c->Cout, 3 + i);
      double *dy = dn_test_randn (ny, 4 + i);
      double *dx = g_new0 (double, nx), *dw = g_new0 (double, nw), *db = g_new0 (double, c->Cout);
      dn_ref_conv2d_backward (dx, dw, db, dy, x, w, c->N, c->Cin, c->H, c->W, c->Cout, c->KH, c->KW, c->sh, c->sw, c->ph,
                              c->pw, c->G);
      GradCtx g = { c, x, w, b, 0 };
      dn_test_gradcheck ("conv2d dinp", fwd_fn, &g, x, nx, ny, dy, dx, 1e-6, 1e-6);
      g.which = 1;
      dn_test_gradcheck ("conv2d dweight", fwd_fn, &g, w, nw, ny, dy, dw, 1e-6, 1e-6);
      g.which = 2;
      dn_test_gradcheck ("conv2d dbias", fwd_fn, &g, b, c->Cout, ny, dy, db, 1e-6, 1e-6);
      g_free (x), g_free (w), g_free (b), g_free (dy), g_free (dx), g_free (dw), g_free (db);
    }
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 4, 9, 9), *w = DN_TEST_ZEROS (4, 6, 2, 3, 3), *b = DN_TEST_ZEROS (1, 6);
  DnTensor *y = DN_TEST_ZEROS (4, 2, 6, 9, 9), *y2 = DN_TEST_ZEROS (4, 2, 6, 7, 7), *b5 = DN_TEST_ZEROS (1, 5);
  DnTensor *w4 = DN_TEST_ZEROS (4, 6, 4, 3, 3), *x3 = DN_TEST_ZEROS (3, 4, 9, 9);
  DnConv2dParams p = { .pad_h = 1, .pad_w = 1, .groups = 2 };
  DN_TEST_OK (dn_conv2d_forward (y, x, w, b, &p));
  DN_TEST_OK (dn_conv2d_backward (x, w, b, y, x, w, &p));
  DN_TEST_FAILS (dn_conv2d_forward (y2, x, w, b, &p), DN_ERROR_SHAPE);                 /* wrong Ho, Wo */
  DN_TEST_FAILS (dn_conv2d_forward (y, x, w4, b, &p), DN_ERROR_SHAPE);                 /* Cin/groups */
  DN_TEST_FAILS (dn_conv2d_forward (y, x, w, b5, &p), DN_ERROR_SHAPE);                 /* bias */
  DN_TEST_FAILS (dn_conv2d_forward (y, x3, w, b, &p), DN_ERROR_SHAPE);                 /* 3-D input */
  DN_TEST_FAILS (dn_conv2d_forward (y, x, w, b, &(DnConv2dParams){ .pad_h = 1, .pad_w = 1, .groups = 3 }),
                 DN_ERROR_SHAPE);                                                       /* Cin % groups */
  DN_TEST_FAILS (dn_conv2d_forward (y, x, w, b, &(DnConv2dParams){ .pad_h = -1, .groups = 2 }),
                 DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_conv2d_forward (y2, x, w, b, &(DnConv2dParams){ .stride_h = 5, .stride_w = 5, .pad_h = 40,
                                                                   .pad_w = 40, .groups = 2 }),
                 DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_conv2d_backward (y, NULL, NULL, y, x, w, &p), DN_ERROR_SHAPE);      /* dinp shape */
  DN_TEST_FAILS (dn_conv2d_backward (NULL, w4, NULL, y, x, w, &p), DN_ERROR_SHAPE);     /* dweight shape */
  DN_TEST_FAILS (dn_conv2d_backward (NULL, NULL, b5, y, x, w, &p), DN_ERROR_SHAPE);     /* dbias shape */
  DN_TEST_FAILS (dn_conv2d_backward (NULL, w, NULL, y, NULL, w, &p), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_conv2d_backward (x, NULL, NULL, y2, x, w, &p), DN_ERROR_SHAPE);     /* dout shape */
  /* a kernel bigger than the padded input */
  DnTensor *xs = DN_TEST_ZEROS (4, 1, 4, 2, 2), *ys = DN_TEST_ZEROS (4, 1, 6, 0, 0);
  DN_TEST_FAILS (dn_conv2d_forward (ys, xs, w, NULL, &(DnConv2dParams){ .groups = 2 }), DN_ERROR_SHAPE);
  DnTensor *ts[] = { x, w, b, y, y2, b5, w4, x3, xs, ys };
  for (int i = 0; i < 10; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 0, 4, 9, 9), *w = DN_TEST_ZEROS (4, 6, 4, 3, 3), *b = DN_TEST_ZEROS (1, 6);
  DnTensor *y = DN_TEST_ZEROS (4, 0, 6, 7, 7), *dw = DN_TEST_ZEROS (4, 6, 4, 3, 3), *db = DN_TEST_ZEROS (1, 6);
  DN_TEST_OK (dn_conv2d_forward (y, x, w, b, NULL));
  DN_TEST_OK (dn_conv2d_backward (x, dw, db, y, x, w, NULL));
  double zeros[6 * 4 * 9] = { 0 };
  dn_test_check_tensor ("conv2d dweight of no samples", dw, zeros, 0);
  dn_test_check_tensor ("conv2d dbias of no samples", db, zeros, 0);
  /* no input channels: the output is the bias */
  double bv[3] = { 1, -2, 3 }, want[3 * 4] = { 1, 1, 1, 1, -2, -2, -2, -2, 3, 3, 3, 3 };
  DnTensor *x0 = DN_TEST_ZEROS (4, 1, 0, 3, 3), *w0 = DN_TEST_ZEROS (4, 3, 0, 2, 2), *b0 = DN_TEST_TENSOR (bv, 1, 3);
  DnTensor *y0 = DN_TEST_ZEROS (4, 1, 3, 2, 2), *db0 = DN_TEST_ZEROS (1, 3);
  DN_TEST_OK (dn_conv2d_forward (y0, x0, w0, b0, NULL));
  dn_test_check_tensor ("conv2d with Cin = 0", y0, want, 0);
  DN_TEST_OK (dn_conv2d_backward (x0, w0, db0, y0, x0, w0, NULL));
  double wdb[3] = { 4, -8, 12 };
  dn_test_check_tensor ("conv2d dbias with Cin = 0", db0, wdb, 0);
  DnTensor *ts[] = { x, w, b, y, dw, db, x0, w0, b0, y0, db0 };
  for (int i = 0; i < 11; i++)
    dn_tensor_free (ts[i]);
}

static void
test_nan (void)
{
  double xv[9] = { 1, 2, 3, 4, NAN, 6, 7, 8, 9 }, wv[1] = { 2 };
  DnTensor *x = DN_TEST_TENSOR (xv, 4, 1, 1, 3, 3), *w = DN_TEST_TENSOR (wv, 4, 1, 1, 1, 1);
  DnTensor *y = DN_TEST_ZEROS (4, 1, 1, 3, 3);
  DN_TEST_OK (dn_conv2d_forward (y, x, w, NULL, NULL));
  double *got = dn_test_download (y);
  g_assert_true (isnan (got[4]));
  g_assert_cmpfloat (got[8], ==, 18);
  g_free (got);
  dn_tensor_free (x), dn_tensor_free (w), dn_tensor_free (y);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/conv2d/twin-shapes", test_twin_shapes);
  g_test_add_func ("/ops/conv2d/other-shapes", test_other_shapes);
  g_test_add_func ("/ops/conv2d/big-planes", test_big_planes);
  g_test_add_func ("/ops/conv2d/default-params", test_default_params);
  g_test_add_func ("/ops/conv2d/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/conv2d/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/conv2d/zero-size", test_zero_size);
  g_test_add_func ("/ops/conv2d/nan", test_nan);
  return dn_test_run ();
}
