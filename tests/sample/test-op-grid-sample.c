/* test-op-grid-sample.c: grid_sample (bilinear, zeros, align_corners both ways), forward and backward
 * for the input and the grid, against the float64 reference (dn_ref_grid_sample_*), against PyTorch
 * (tests/sample/data/sample_torch.h5), and the reference backward against finite differences.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "sample-test-util.h"

typedef struct
{
  int N, C, H, W, Ho, Wo;
  bool align;
} GsShape;

static int64_t
n_inp (const GsShape *s)
{
  return (int64_t) s->N * s->C * s->H * s->W;
}
static int64_t
n_grid (const GsShape *s)
{
  return (int64_t) s->N * s->Ho * s->Wo * 2;
}
static int64_t
n_out (const GsShape *s)
{
  return (int64_t) s->N * s->C * s->Ho * s->Wo;
}

/* Runs forward and backward on the test device and checks them against @want_* (the backward
 * accumulates into random initial gradients, so the check also covers +=). */
static void
check_backend (const char *what, const GsShape *s, const double *inp, const double *grid, const double *dout,
               const double *want_out, const double *want_dinp, const double *want_dgrid, double tol)
{
  char label[256];
  DnTensor *ti = DN_TEST_TENSOR (inp, 4, s->N, s->C, s->H, s->W);
  DnTensor *tg = DN_TEST_TENSOR (grid, 4, s->N, s->Ho, s->Wo, 2);
  DnTensor *to = DN_TEST_ZEROS (4, s->N, s->C, s->Ho, s->Wo);
  DN_TEST_OK (dn_grid_sample_forward (to, ti, tg, s->align));
  g_snprintf (label, sizeof label, "%s forward", what);
  dn_test_check_tensor (label, to, want_out, tol);

  double *d0 = dn_test_randn (n_inp (s), 77);
  double *g0 = dn_test_randn (n_grid (s), 78);
  double *wd = sample_dup (d0, n_inp (s)), *wg = sample_dup (g0, n_grid (s));
  sample_add (wd, want_dinp, n_inp (s));
  sample_add (wg, want_dgrid, n_grid (s));
  DnTensor *tdo = DN_TEST_TENSOR (dout, 4, s->N, s->C, s->Ho, s->Wo);
  DnTensor *tdi = DN_TEST_TENSOR (d0, 4, s->N, s->C, s->H, s->W);
  DnTensor *tdg = DN_TEST_TENSOR (g0, 4, s->N, s->Ho, s->Wo, 2);
  DN_TEST_OK (dn_grid_sample_backward (tdi, tdg, tdo, ti, tg, s->align));
  g_snprintf (label, sizeof label, "%s backward dinp (+=)", what);
  dn_test_check_tensor (label, tdi, wd, tol);
  g_snprintf (label, sizeof label, "%s backward dgrid (+=)", what);
  dn_test_check_tensor (label, tdg, wg, tol);

  /* each gradient alone (the other NULL) */
  DN_TEST_OK (dn_tensor_fill (tdi, 0));
  DN_TEST_OK (dn_tensor_fill (tdg, 0));
  DN_TEST_OK (dn_grid_sample_backward (tdi, NULL, tdo, ti, tg, s->align));
  DN_TEST_OK (dn_grid_sample_backward (NULL, tdg, tdo, ti, tg, s->align));
  g_snprintf (label, sizeof label, "%s backward dinp alone", what);
  dn_test_check_tensor (label, tdi, want_dinp, tol);
  g_snprintf (label, sizeof label, "%s backward dgrid alone", what);
  dn_test_check_tensor (label, tdg, want_dgrid, tol);

  g_free (d0);
  g_free (g0);
  g_free (wd);
  g_free (wg);
  dn_tensor_free (ti);
  dn_tensor_free (tg);
  dn_tensor_free (to);
  dn_tensor_free (tdo);
  dn_tensor_free (tdi);
  dn_tensor_free (tdg);
}

/* Random input, grid uniform in [lo,hi] (points outside the image included), backend vs reference. */
static void
run_case (GsShape s, double lo, double hi, uint64_t seed)
{
  double *inp = dn_test_randn (n_inp (&s), seed);
  double *grid = dn_test_uniform (n_grid (&s), lo, hi, seed + 1);
  double *dout = dn_test_randn (n_out (&s), seed + 2);
  double *out = g_new0 (double, n_out (&s) + 1);
  double *dinp = g_new0 (double, n_inp (&s) + 1);
  double *dgrid = g_new0 (double, n_grid (&s) + 1);
  dn_ref_grid_sample_forward (out, inp, grid, s.N, s.C, s.H, s.W, s.Ho, s.Wo, s.align);
  dn_ref_grid_sample_backward (dinp, dgrid, dout, inp, grid, s.N, s.C, s.H, s.W, s.Ho, s.Wo, s.align);
  char what[128];
  g_snprintf (what, sizeof what, "grid_sample (%d,%d,%d,%d)->(%d,%d) align=%d", s.N, s.C, s.H, s.W, s.Ho, s.Wo,
              s.align);
  /* 1e-5: coordinates are float32 (as in PyTorch): for sizes up to 93 the pixel coordinate carries an
   * error of ~ulp(93)/2 = 4e-6 px, times the local slope of a randn image (≲ 2 max|img|) */
  check_backend (what, &s, inp, grid, dout, out, dinp, dgrid, 1e-5);
  g_free (inp);
  g_free (grid);
  g_free (dout);
  g_free (out);
  g_free (dinp);
  g_free (dgrid);
}

static void
test_forward_backward (void)
{
  for (int align = 0; align < 2; align++)
    {
      run_case ((GsShape){ 1, 1, 1, 1, 1, 1, align }, -1.5, 1.5, 10);
      run_case ((GsShape){ 2, 3, 7, 13, 5, 3, align }, -1.3, 1.3, 11);
      run_case ((GsShape){ 1, 3, 13, 7, 13, 7, align }, -1.1, 1.1, 12);
      run_case ((GsShape){ 2, 1, 93, 93, 17, 19, align }, -1.05, 1.05, 13);
      run_case ((GsShape){ 1, 2, 3, 93, 7, 13, align }, -1.2, 1.2, 14);
      run_case ((GsShape){ 1, 1, 7, 3, 3, 1, align }, -3, 3, 15); /* mostly far outside */
    }
  /* the readout of the V1 twin: (N,80,11,11) features, 458 points, align_corners=True, grid in [-1,1] */
  run_case ((GsShape){ 2, 80, 11, 11, 458, 1, true }, -1, 1, 16);
}

typedef struct
{
  GsShape s;
} GsCtx;

static void
gs_fn (void *ctx, const double *x, double *y)
{
  const GsShape *s = &((GsCtx *) ctx)->s;
  dn_ref_grid_sample_forward (y, x, x + n_inp (s), s->N, s->C, s->H, s->W, s->Ho, s->Wo, s->align);
}

static void
test_gradcheck (void)
{
  for (int align = 0; align < 2; align++)
    {
      GsCtx ctx = { { 2, 3, 5, 7, 3, 4, align } };
      const GsShape *s = &ctx.s;
      int64_t ni = n_inp (s), ng = n_grid (s), no = n_out (s);
      double *x = g_new (double, ni + ng);
      double *inp = dn_test_randn (ni, 20 + align), *grid = dn_test_uniform (ng, -1.2, 1.2, 22 + align);
      memcpy (x, inp, sizeof (double) * ni);
      memcpy (x + ni, grid, sizeof (double) * ng);
      double *dout = dn_test_randn (no, 24);
      double *an = g_new0 (double, ni + ng);
      dn_ref_grid_sample_backward (an, an + ni, dout, inp, grid, s->N, s->C, s->H, s->W, s->Ho, s->Wo, s->align);
      dn_test_gradcheck (align ? "grid_sample align_corners=True" : "grid_sample align_corners=False", gs_fn, &ctx,
                         x, ni + ng, no, dout, an, 1e-6, 1e-6);
      g_free (x);
      g_free (inp);
      g_free (grid);
      g_free (dout);
      g_free (an);
    }
}

/* PyTorch 1.13 ground truth (gen-sample-fixture.py): both the reference and the backend. */
static void
test_torch (void)
{
  hid_t f = sample_h5_open_own ();
  for (int i = 0;; i++)
    {
      char grp[64], name[96];
      g_snprintf (grp, sizeof grp, "/grid_sample/case%d", i);
      if (H5Lexists (f, grp, H5P_DEFAULT) <= 0)
        {
          g_assert_cmpint (i, >=, 6);
          break;
        }
      int64_t di[4] = { -1, -1, -1, -1 }, dg[4] = { -1, -1, -1, 2 };
#define READ(var, nd, dims, key)                                                                        \
  g_snprintf (name, sizeof name, "%s/%s", grp, key);                                                  \
  double *var = sample_h5_read (f, name, nd, dims)
      READ (inp, 4, di, "inp");
      dg[0] = di[0];
      READ (grid, 4, dg, "grid");
      int64_t dout_dims[4] = { di[0], di[1], dg[1], dg[2] };
      READ (out, 4, dout_dims, "out");
      READ (dout, 4, dout_dims, "dout");
      READ (dinp, 4, di, "dinp");
      READ (dgrid, 4, dg, "dgrid");
#undef READ
      GsShape s = { (int) di[0], (int) di[1], (int) di[2], (int) di[3], (int) dg[1], (int) dg[2],
                    sample_h5_attr_int (f, grp, "align_corners") != 0 };
      /* the reference against PyTorch (float32 there: 1e-5 relative) */
      double *ro = g_new0 (double, n_out (&s)), *rd = g_new0 (double, n_inp (&s)), *rg = g_new0 (double, n_grid (&s));
      dn_ref_grid_sample_forward (ro, inp, grid, s.N, s.C, s.H, s.W, s.Ho, s.Wo, s.align);
      dn_ref_grid_sample_backward (rd, rg, dout, inp, grid, s.N, s.C, s.H, s.W, s.Ho, s.Wo, s.align);
      char what[128];
      g_snprintf (what, sizeof what, "torch %s: reference out", grp);
      dn_test_check_close (what, ro, out, n_out (&s), 1e-5);
      g_snprintf (what, sizeof what, "torch %s: reference dinp", grp);
      dn_test_check_close (what, rd, dinp, n_inp (&s), 1e-5);
      g_snprintf (what, sizeof what, "torch %s: reference dgrid", grp);
      dn_test_check_close (what, rg, dgrid, n_grid (&s), 1e-5);
      g_snprintf (what, sizeof what, "torch %s", grp);
      check_backend (what, &s, inp, grid, dout, out, dinp, dgrid, 1e-5);
      g_free (ro);
      g_free (rd);
      g_free (rg);
      g_free (inp);
      g_free (grid);
      g_free (out);
      g_free (dout);
      g_free (dinp);
      g_free (dgrid);
    }
  H5Fclose (f);
}

static void
test_bad_shapes (void)
{
  DnTensor *inp = DN_TEST_ZEROS (4, 2, 3, 5, 7);
  DnTensor *grid = DN_TEST_ZEROS (4, 2, 4, 6, 2);
  DnTensor *out = DN_TEST_ZEROS (4, 2, 3, 4, 6);
  DnTensor *grid3 = DN_TEST_ZEROS (4, 2, 4, 6, 3);
  DnTensor *gridn = DN_TEST_ZEROS (4, 1, 4, 6, 2);
  DnTensor *outc = DN_TEST_ZEROS (4, 2, 2, 4, 6);
  DnTensor *outs = DN_TEST_ZEROS (4, 2, 3, 6, 4);
  DnTensor *inp3 = DN_TEST_ZEROS (3, 3, 5, 7);
  DnTensor *dinp = DN_TEST_ZEROS (4, 2, 3, 5, 6);
  DnTensor *dgrid = DN_TEST_ZEROS (4, 2, 4, 5, 2);
  DN_TEST_FAILS (dn_grid_sample_forward (out, inp, grid3, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_forward (out, inp, gridn, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_forward (outc, inp, grid, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_forward (outs, inp, grid, false), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_forward (out, inp3, grid, false), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_backward (dinp, NULL, out, inp, grid, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_backward (NULL, dgrid, out, inp, grid, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_backward (NULL, NULL, outs, inp, grid, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grid_sample_forward (NULL, inp, grid, true), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *all[] = { inp, grid, out, grid3, gridn, outc, outs, inp3, dinp, dgrid };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

static void
test_zero_size (void)
{
  /* N = 0, Ho = 0, C = 0: no-ops; an empty image with points: all padding (zeros) */
  const int64_t cases[][6] = { { 0, 3, 5, 7, 2, 2 }, { 2, 3, 5, 7, 0, 4 }, { 2, 0, 5, 7, 3, 3 }, { 1, 2, 0, 4, 3, 3 } };
  for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const int64_t *c = cases[k];
      DnTensor *inp = DN_TEST_ZEROS (4, c[0], c[1], c[2], c[3]);
      DnTensor *grid = DN_TEST_ZEROS (4, c[0], c[4], c[5], 2);
      DnTensor *out = DN_TEST_ZEROS (4, c[0], c[1], c[4], c[5]);
      DnTensor *dinp = DN_TEST_ZEROS (4, c[0], c[1], c[2], c[3]);
      DnTensor *dgrid = DN_TEST_ZEROS (4, c[0], c[4], c[5], 2);
      DN_TEST_OK (dn_tensor_fill (out, 5.0f));
      DN_TEST_OK (dn_grid_sample_forward (out, inp, grid, false));
      DN_TEST_OK (dn_grid_sample_backward (dinp, dgrid, out, inp, grid, false));
      int64_t no = dn_tensor_numel (out), ng = dn_tensor_numel (dgrid);
      double *z = g_new0 (double, (no > ng ? no : ng) + 1);
      dn_test_check_tensor ("grid_sample zero-size out", out, z, 0);
      dn_test_check_tensor ("grid_sample zero-size dgrid", dgrid, z, 0);
      g_free (z);
      dn_tensor_free (inp);
      dn_tensor_free (grid);
      dn_tensor_free (out);
      dn_tensor_free (dinp);
      dn_tensor_free (dgrid);
    }
}

static void
test_nan (void)
{
  /* a NaN coordinate gives NaN, and a NaN pixel propagates to every sample whose 2x2 footprint holds it
   * even at weight 0 (PyTorch 1.13 gives [nan, nan, 9, nan, nan, 9] for these six points) */
  double inp[9] = { 1, 2, 3, 4, NAN, 6, 7, 8, 9 };
  double grid[6] = { NAN, 0, -1, -1, 1, 1 };
  DnTensor *ti = DN_TEST_TENSOR (inp, 4, 1, 1, 3, 3);
  DnTensor *tg = DN_TEST_TENSOR (grid, 4, 1, 1, 3, 2);
  DnTensor *to = DN_TEST_ZEROS (4, 1, 1, 1, 3);
  DN_TEST_OK (dn_grid_sample_forward (to, ti, tg, true));
  double *o = dn_test_download (to);
  g_assert_true (isnan (o[0]) && isnan (o[1]));
  g_assert_cmpfloat (o[2], ==, 9);
  g_free (o);
  double grid2[6] = { 0, 0, 0.5, 0.5, 1, 1 };
  DnTensor *tg2 = DN_TEST_TENSOR (grid2, 4, 1, 1, 3, 2);
  DN_TEST_OK (dn_grid_sample_forward (to, ti, tg2, true));
  o = dn_test_download (to);
  g_assert_true (isnan (o[0]) && isnan (o[1]));
  g_assert_cmpfloat (o[2], ==, 9);
  g_free (o);
  DnTensor *tdi = DN_TEST_ZEROS (4, 1, 1, 3, 3), *tdg = DN_TEST_ZEROS (4, 1, 1, 3, 2);
  DN_TEST_OK (dn_tensor_fill (to, 1.0f));
  DN_TEST_OK (dn_grid_sample_backward (tdi, tdg, to, ti, tg, true));
  DN_TEST_OK (dn_device_sync (dn_test_device ()));
  dn_tensor_free (ti);
  dn_tensor_free (tg);
  dn_tensor_free (tg2);
  dn_tensor_free (to);
  dn_tensor_free (tdi);
  dn_tensor_free (tdg);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/grid_sample/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/grid_sample/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/grid_sample/torch", test_torch);
  g_test_add_func ("/ops/grid_sample/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/grid_sample/zero-size", test_zero_size);
  g_test_add_func ("/ops/grid_sample/nan", test_nan);
  return dn_test_run ();
}
