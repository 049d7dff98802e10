/* test-op-model.c: permute4 and the Gaussian readout against the float64 references (both backends),
 * and the references' backward against finite differences.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

static void
test_permute (void)
{
  static const int perms[][4] = { { 0, 2, 3, 1 }, { 0, 3, 1, 2 }, { 3, 2, 1, 0 }, { 1, 0, 3, 2 }, { 0, 1, 2, 3 } };
  static const int64_t shapes[][4] = { { 1, 1, 1, 1 }, { 3, 7, 13, 5 }, { 2, 40, 23, 23 }, { 1, 3, 1, 93 } };
  for (unsigned s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (unsigned p = 0; p < G_N_ELEMENTS (perms); p++)
      {
        const int64_t *d = shapes[s];
        const int *pm = perms[p];
        int64_t n = d[0] * d[1] * d[2] * d[3];
        double *x = dn_test_randn (n, s * 10 + p);
        double *want = g_new (double, n);
        dn_ref_permute4_forward (want, x, d, pm);
        DnTensor *tx = dn_test_tensor (4, d, x);
        DnTensor *ty = DN_TEST_ZEROS (4, d[pm[0]], d[pm[1]], d[pm[2]], d[pm[3]]);
        DN_TEST_OK (dn_permute4_forward (ty, tx, pm));
        dn_test_check_tensor ("permute4 forward", ty, want, 0);
        /* backward: accumulates the inverse permutation; x + permute^-1(permute(x)) = 2x */
        DN_TEST_OK (dn_permute4_backward (tx, ty, pm));
        double *twice = g_new (double, n);
        for (int64_t i = 0; i < n; i++)
          twice[i] = 2 * x[i];
        dn_test_check_tensor ("permute4 backward", tx, twice, 0);
        dn_tensor_free (tx);
        dn_tensor_free (ty);
        g_free (x);
        g_free (want);
        g_free (twice);
      }
  DnTensor *a = DN_TEST_ZEROS (4, 2, 3, 4, 5);
  DnTensor *b = DN_TEST_ZEROS (4, 2, 3, 4, 5);
  DN_TEST_FAILS (dn_permute4_forward (b, a, (const int[]){ 0, 2, 3, 1 }), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_permute4_forward (b, a, (const int[]){ 0, 1, 1, 2 }), DN_ERROR_SHAPE);
  dn_tensor_free (a);
  dn_tensor_free (b);
}

typedef struct
{
  int64_t N, C, H, W, K;
  int which; /* 0 feat, 1 mu, 2 features, 3 bias */
  double *feat, *mu, *F, *bias;
} ReadoutCase;

static void
readout_fn (void *ctx, const double *x, double *y)
{
  ReadoutCase *c = ctx;
  const double *feat = c->which == 0 ? x : c->feat, *mu = c->which == 1 ? x : c->mu;
  const double *F = c->which == 2 ? x : c->F, *bias = c->which == 3 ? x : c->bias;
  dn_ref_readout_forward (y, feat, mu, F, bias, c->N, c->C, c->H, c->W, c->K);
}

/* all K positions equal (the CPU backend's shared-sample path, with bilinear weights) */
static bool same_positions;

static void
run_readout (int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, bool with_mu, bool gradcheck)
{
  ReadoutCase rc = { N, C, H, W, K, 0, NULL, NULL, NULL, NULL };
  int64_t nf = N * C * H * W;
  rc.feat = dn_test_randn (nf, 1 + K);
  rc.F = dn_test_randn (C * K, 2 + K);
  rc.bias = dn_test_randn (K, 3 + K);
  /* positions: inside, on the border, and outside [-1,1] (clamped) */
  rc.mu = with_mu ? dn_test_uniform (2 * K, -1.3, 1.3, 4 + K) : NULL;
  if (with_mu && same_positions)
    for (int64_t k = 1; k < K; k++)
      rc.mu[2 * k] = rc.mu[0], rc.mu[2 * k + 1] = rc.mu[1];
  double *want = g_new0 (double, N * K);
  dn_ref_readout_forward (want, rc.feat, rc.mu, rc.F, rc.bias, N, C, H, W, K);

  DnTensor *tfeat = DN_TEST_TENSOR (rc.feat, 4, N, C, H, W);
  DnTensor *tF = DN_TEST_TENSOR (rc.F, 2, C, K);
  DnTensor *tb = DN_TEST_TENSOR (rc.bias, 1, K);
  DnTensor *tmu = with_mu ? DN_TEST_TENSOR (rc.mu, 2, K, 2) : NULL;
  DnTensor *ty = DN_TEST_ZEROS (2, N, K);
  DN_TEST_OK (dn_readout_forward (ty, tfeat, tmu, tF, tb));
  dn_test_check_tensor ("readout forward", ty, want, 1e-5);

  double *dy = dn_test_randn (N * K, 5 + K);
  double *dfeat = g_new0 (double, nf), *dF = g_new0 (double, C * K), *db = g_new0 (double, K);
  double *dmu = g_new0 (double, 2 * K);
  dn_ref_readout_backward (dfeat, with_mu ? dmu : NULL, dF, db, dy, rc.feat, rc.mu, rc.F, N, C, H, W, K);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 2, N, K);
  DnTensor *tdfeat = DN_TEST_ZEROS (4, N, C, H, W);
  DnTensor *tdF = DN_TEST_ZEROS (2, C, K);
  DnTensor *tdb = DN_TEST_ZEROS (1, K);
  DnTensor *tdmu = with_mu ? DN_TEST_ZEROS (2, K, 2) : NULL;
  DN_TEST_OK (dn_readout_backward (tdfeat, tdmu, tdF, tdb, tdy, tfeat, tmu, tF));
  dn_test_check_tensor ("readout backward dfeat", tdfeat, dfeat, 1e-5);
  dn_test_check_tensor ("readout backward dfeatures", tdF, dF, 1e-5);
  dn_test_check_tensor ("readout backward dbias", tdb, db, 1e-5);
  if (with_mu)
    dn_test_check_tensor ("readout backward dmu", tdmu, dmu, 1e-5);

  if (gradcheck)
    {
      rc.which = 0;
      dn_test_gradcheck ("readout dfeat", readout_fn, &rc, rc.feat, nf, N * K, dy, dfeat, 1e-6, 1e-6);
      rc.which = 2;
      dn_test_gradcheck ("readout dfeatures", readout_fn, &rc, rc.F, C * K, N * K, dy, dF, 1e-6, 1e-6);
      rc.which = 3;
      dn_test_gradcheck ("readout dbias", readout_fn, &rc, rc.bias, K, N * K, dy, db, 1e-6, 1e-6);
      if (with_mu)
        {
          rc.which = 1;
          dn_test_gradcheck ("readout dmu", readout_fn, &rc, rc.mu, 2 * K, N * K, dy, dmu, 1e-7, 1e-5);
        }
    }
  dn_tensor_free (tfeat);
  dn_tensor_free (tF);
  dn_tensor_free (tb);
  dn_tensor_free (tmu);
  dn_tensor_free (ty);
  dn_tensor_free (tdy);
  dn_tensor_free (tdfeat);
  dn_tensor_free (tdF);
  dn_tensor_free (tdb);
  dn_tensor_free (tdmu);
  g_free (rc.feat);
  g_free (rc.F);
  g_free (rc.bias);
  g_free (rc.mu);
  g_free (want);
  g_free (dy);
  g_free (dfeat);
  g_free (dF);
  g_free (db);
  g_free (dmu);
}

static void
test_readout (void)
{
  run_readout (1, 1, 1, 1, 1, true, true);
  run_readout (3, 7, 5, 13, 13, true, true);
  run_readout (2, 3, 11, 11, 7, false, true);
  run_readout (2, 80, 11, 11, 93, true, false); /* the V1 readout's channel count */
  run_readout (3, 7, 7, 7, 1, false, false);
  same_positions = true;
  run_readout (3, 5, 9, 11, 13, true, true);
  same_positions = false;
}

static void
test_readout_bad (void)
{
  DnTensor *feat = DN_TEST_ZEROS (4, 2, 3, 5, 5);
  DnTensor *F = DN_TEST_ZEROS (2, 4, 7);
  DnTensor *y = DN_TEST_ZEROS (2, 2, 7);
  DN_TEST_FAILS (dn_readout_forward (y, feat, NULL, F, NULL), DN_ERROR_SHAPE);
  DnTensor *F2 = DN_TEST_ZEROS (2, 3, 7);
  DnTensor *mu = DN_TEST_ZEROS (2, 7, 3);
  DN_TEST_FAILS (dn_readout_forward (y, feat, mu, F2, NULL), DN_ERROR_SHAPE);
  DN_TEST_OK (dn_readout_forward (y, feat, NULL, F2, NULL));
  /* zero neurons, zero batch */
  DnTensor *F0 = DN_TEST_ZEROS (2, 3, 0);
  DnTensor *y0 = DN_TEST_ZEROS (2, 2, 0);
  DN_TEST_OK (dn_readout_forward (y0, feat, NULL, F0, NULL));
  dn_tensor_free (feat);
  dn_tensor_free (F);
  dn_tensor_free (F2);
  dn_tensor_free (y);
  dn_tensor_free (mu);
  dn_tensor_free (F0);
  dn_tensor_free (y0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/permute4", test_permute);
  g_test_add_func ("/ops/readout", test_readout);
  g_test_add_func ("/ops/readout/bad-input", test_readout_bad);
  return dn_test_run ();
}
