/* test-op-batchnorm.c: BatchNorm2d eval and train, forward and backward (dinp, dweight, dbias) on the test
 * backend against the float64 reference, running-stat updates (PyTorch semantics, checked by hand on a
 * tiny case), the reference backward against finite differences, bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef struct
{
  int64_t N, C, S;
  bool train;
  double eps;
  const double *rm, *rv;
  NtPack pack;
} BnCtx;

static void
bn_fn (void *ctx, const double *x, double *y)
{
  BnCtx *c = ctx;
  const double *v[8];
  nt_unpack_view (&c->pack, x, v);
  if (c->train)
    {
      double *m = nt_zeros (c->C), *r = nt_zeros (c->C);
      dn_ref_batchnorm_train_forward (y, m, r, NULL, NULL, v[0], v[1], v[2], c->N, c->C, c->S, 0.1, c->eps);
      g_free (m);
      g_free (r);
    }
  else
    dn_ref_batchnorm_eval_forward (y, v[0], v[1], v[2], c->rm, c->rv, c->N, c->C, c->S, c->eps);
}

static void
run_case (bool train, const int64_t *shape, bool has_w, bool has_b, uint64_t seed)
{
  const int64_t N = shape[0], C = shape[1], S = shape[2] * shape[3], n = N * C * S;
  const double eps = 1e-5, momentum = 0.1;
  char sh[128], lbl[256];
  g_snprintf (sh, sizeof sh, "(%lld,%lld,%lld,%lld)", (long long) N, (long long) C, (long long) shape[2],
              (long long) shape[3]);
  const char *kind = train ? "train" : "eval";

  double *x = dn_test_randn (n, seed);
  for (int64_t i = 0; i < n; i++)
    x[i] = x[i] * 1.5 - 0.7;
  dn_test_round_f32 (x, n);
  double *w = has_w ? dn_test_uniform (C, 0.5, 1.5, seed + 1) : NULL;
  double *b = has_b ? dn_test_randn (C, seed + 2) : NULL;
  double *rm = dn_test_randn (C, seed + 3), *rv = dn_test_uniform (C, 0.5, 2.0, seed + 4);
  double *dy = dn_test_randn (n, seed + 5);
  double *dx0 = dn_test_randn (n, seed + 6), *dw0 = dn_test_randn (C, seed + 7), *db0 = dn_test_randn (C, seed + 8);

  DnTensor *tx = DN_TEST_TENSOR (x, 4, N, C, shape[2], shape[3]);
  DnTensor *tw = nt_tensor (w, 1, &C), *tb = nt_tensor (b, 1, &C);
  DnTensor *trm = DN_TEST_TENSOR (rm, 1, C), *trv = DN_TEST_TENSOR (rv, 1, C);
  DnTensor *ty = DN_TEST_ZEROS (4, N, C, shape[2], shape[3]);
  DnTensor *tm = DN_TEST_ZEROS (1, C), *tr = DN_TEST_ZEROS (1, C);
  double *y = nt_zeros (n), *m = nt_zeros (C), *r = nt_zeros (C);
  double *rm1 = nt_copy (rm, C), *rv1 = nt_copy (rv, C);
  if (train)
    {
      dn_ref_batchnorm_train_forward (y, m, r, rm1, rv1, x, w, b, N, C, S, momentum, eps);
      DN_TEST_OK (dn_batchnorm_train_forward (ty, tm, tr, trm, trv, tx, tw, tb, (float) momentum, (float) eps));
      g_snprintf (lbl, sizeof lbl, "batchnorm-train forward mean %s", sh);
      dn_test_check_tensor (lbl, tm, m, 1e-5);
      g_snprintf (lbl, sizeof lbl, "batchnorm-train forward rstd %s", sh);
      dn_test_check_tensor (lbl, tr, r, 1e-5);
      g_snprintf (lbl, sizeof lbl, "batchnorm-train running_mean %s", sh);
      dn_test_check_tensor (lbl, trm, rm1, 1e-5);
      g_snprintf (lbl, sizeof lbl, "batchnorm-train running_var %s", sh);
      dn_test_check_tensor (lbl, trv, rv1, 1e-5);
    }
  else
    {
      dn_ref_batchnorm_eval_forward (y, x, w, b, rm, rv, N, C, S, eps);
      DN_TEST_OK (dn_batchnorm_eval_forward (ty, tx, tw, tb, trm, trv, (float) eps));
    }
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s forward out %s", kind, sh);
  dn_test_check_tensor (lbl, ty, y, 1e-5);

  /* backward (accumulating into non-zero gradients); the train reference uses the engine's cached
   * statistics, which are the backward's inputs */
  double *dx = nt_copy (dx0, n), *dw = nt_copy (dw0, C), *db = nt_copy (db0, C);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 4, N, C, shape[2], shape[3]);
  DnTensor *tdx = DN_TEST_TENSOR (dx0, 4, N, C, shape[2], shape[3]);
  DnTensor *tdw = DN_TEST_TENSOR (dw0, 1, C), *tdb = DN_TEST_TENSOR (db0, 1, C);
  DnTensor *tdx2 = DN_TEST_TENSOR (dx0, 4, N, C, shape[2], shape[3]);
  DnTensor *tdb2 = DN_TEST_TENSOR (db0, 1, C);
  if (train)
    {
      double *em = dn_test_download (tm), *er = dn_test_download (tr);
      dn_ref_batchnorm_train_backward (dx, dw, db, dy, x, w, em, er, N, C, S);
      DN_TEST_OK (dn_batchnorm_train_backward (tdx, tdw, tdb, tdy, tx, tw, tm, tr));
      DN_TEST_OK (dn_batchnorm_train_backward (tdx2, NULL, NULL, tdy, tx, tw, tm, tr));
      DN_TEST_OK (dn_batchnorm_train_backward (NULL, NULL, tdb2, tdy, tx, tw, tm, tr));
      g_free (em);
      g_free (er);
    }
  else
    {
      dn_ref_batchnorm_eval_backward (dx, dw, db, dy, x, w, rm, rv, N, C, S, eps);
      DN_TEST_OK (dn_batchnorm_eval_backward (tdx, tdw, tdb, tdy, tx, tw, trm, trv, (float) eps));
      DN_TEST_OK (dn_batchnorm_eval_backward (tdx2, NULL, NULL, tdy, tx, tw, trm, trv, (float) eps));
      DN_TEST_OK (dn_batchnorm_eval_backward (NULL, NULL, tdb2, tdy, tx, tw, trm, trv, (float) eps));
    }
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s backward dinp %s", kind, sh);
  dn_test_check_tensor (lbl, tdx, dx, 1e-5);
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s backward dweight %s", kind, sh);
  dn_test_check_tensor (lbl, tdw, dw, 1e-5);
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s backward dbias %s", kind, sh);
  dn_test_check_tensor (lbl, tdb, db, 1e-5);
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s backward dinp only %s", kind, sh);
  dn_test_check_tensor (lbl, tdx2, dx, 1e-5);
  g_snprintf (lbl, sizeof lbl, "batchnorm-%s backward dbias only %s", kind, sh);
  dn_test_check_tensor (lbl, tdb2, db, 1e-5);

  /* reference backward vs finite differences */
  if (n <= 300)
    {
      BnCtx c = { .N = N, .C = C, .S = S, .train = train, .eps = eps, .rm = rm, .rv = rv };
      c.pack = (NtPack){ .n = 3, .parts = { x, w, b }, .sizes = { n, has_w ? C : 0, has_b ? C : 0 } };
      double *xp = nt_pack (&c.pack);
      double *gx = nt_zeros (n), *gw = nt_zeros (C), *gb = nt_zeros (C);
      if (train)
        dn_ref_batchnorm_train_backward (gx, gw, gb, dy, x, w, m, r, N, C, S);
      else
        dn_ref_batchnorm_eval_backward (gx, gw, gb, dy, x, w, rm, rv, N, C, S, eps);
      NtPack ga = { .n = 3, .parts = { gx, gw, gb }, .sizes = { n, has_w ? C : 0, has_b ? C : 0 } };
      double *an = nt_pack (&ga);
      g_snprintf (lbl, sizeof lbl, "batchnorm-%s %s", kind, sh);
      dn_test_gradcheck (lbl, bn_fn, &c, xp, nt_pack_size (&c.pack), n, dy, an, 1e-6, 1e-6);
      g_free (xp);
      g_free (an);
      g_free (gx);
      g_free (gw);
      g_free (gb);
    }

  DnTensor *all[] = { tx, tw, tb, trm, trv, ty, tm, tr, tdy, tdx, tdw, tdb, tdx2, tdb2 };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  double *fr[] = { x, w, b, rm, rv, dy, dx0, dw0, db0, y, m, r, rm1, rv1, dx, dw, db };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

static const int64_t shapes[][4] = {
  { 2, 1, 1, 1 }, { 2, 3, 3, 5 }, { 3, 13, 1, 1 }, { 1, 7, 3, 5 }, { 2, 40, 23, 23 }, { 4, 93, 3, 5 },
  { 1, 3, 23, 23 }, { 5, 2, 1, 3 },
};

static void
test_eval (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      run_case (false, shapes[i], true, true, 100 + i);
      run_case (false, shapes[i], i % 2 == 0, false, 120 + i);
    }
  run_case (false, (const int64_t[]){ 1, 1, 1, 1 }, true, true, 140);
}

static void
test_train (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      run_case (true, shapes[i], true, true, 200 + i);
      run_case (true, shapes[i], i % 2 == 0, false, 220 + i);
    }
}

/* PyTorch semantics on a case worked by hand: channel values {1,2,3,4}, momentum 0.1, running (0, 1):
 * mean 2.5, biased var 1.25 (normalisation), unbiased var 5/3 (running): running_mean = 0.25,
 * running_var = 0.9 + 0.1·5/3 = 1.0666667. */
static void
test_running_stats (void)
{
  double x[4] = { 1, 2, 4, 3 }, rm[1] = { 0 }, rv[1] = { 1 };
  DnTensor *tx = DN_TEST_TENSOR (x, 4, 2, 1, 1, 2), *ty = DN_TEST_ZEROS (4, 2, 1, 1, 2);
  DnTensor *tm = DN_TEST_ZEROS (1, 1), *tr = DN_TEST_ZEROS (1, 1);
  DnTensor *trm = DN_TEST_TENSOR (rm, 1, 1), *trv = DN_TEST_TENSOR (rv, 1, 1);
  DN_TEST_OK (dn_batchnorm_train_forward (ty, tm, tr, trm, trv, tx, NULL, NULL, 0.1f, 0.0f));
  double want_rm[1] = { 0.25 }, want_rv[1] = { 0.9 + 0.1 * 5.0 / 3.0 }, want_m[1] = { 2.5 },
         want_r[1] = { 1 / sqrt (1.25) };
  dn_test_check_tensor ("batchnorm running_mean by hand", trm, want_rm, 1e-6);
  dn_test_check_tensor ("batchnorm running_var by hand", trv, want_rv, 1e-6);
  dn_test_check_tensor ("batchnorm mean by hand", tm, want_m, 1e-6);
  dn_test_check_tensor ("batchnorm rstd by hand", tr, want_r, 1e-6);
  double want_y[4];
  for (int i = 0; i < 4; i++)
    want_y[i] = (x[i] - 2.5) / sqrt (1.25);
  dn_test_check_tensor ("batchnorm out by hand", ty, want_y, 1e-6);
  /* without running stats */
  DN_TEST_OK (dn_batchnorm_train_forward (ty, tm, tr, NULL, NULL, tx, NULL, NULL, 0.1f, 0.0f));
  dn_test_check_tensor ("batchnorm out by hand (no running)", ty, want_y, 1e-6);
  DnTensor *all[] = { tx, ty, tm, tr, trm, trv };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

/* Every tensor a view at an odd offset: the same results as contiguous tensors. */
static void
test_views (void)
{
  const int64_t N = 2, C = 3, H = 3, W = 5, n = N * C * H * W;
  const int64_t sh[4] = { N, C, H, W };
  double *x = dn_test_randn (n, 150), *w = dn_test_randn (C, 151), *b = dn_test_randn (C, 152),
         *dy = dn_test_randn (n, 153), *rv = dn_test_uniform (C, 0.5, 1.5, 154);
  DnTensor *tx = dn_test_tensor (4, sh, x), *tw = DN_TEST_TENSOR (w, 1, C), *tb = DN_TEST_TENSOR (b, 1, C),
           *tdy = dn_test_tensor (4, sh, dy), *ty = dn_test_zeros (4, sh), *tm = DN_TEST_ZEROS (1, C),
           *tr = DN_TEST_ZEROS (1, C), *trm = DN_TEST_ZEROS (1, C), *trv = DN_TEST_TENSOR (rv, 1, C),
           *tdx = dn_test_zeros (4, sh), *tdw = DN_TEST_ZEROS (1, C), *tdb = DN_TEST_ZEROS (1, C);
  DnTensor *bs[12];
  DnTensor *vx = nt_view_of (x, 4, sh, 1, &bs[0]), *vw = nt_view_of (w, 1, &C, 3, &bs[1]),
           *vb = nt_view_of (b, 1, &C, 5, &bs[2]), *vdy = nt_view_of (dy, 4, sh, 7, &bs[3]),
           *vy = nt_view_of (NULL, 4, sh, 9, &bs[4]), *vm = nt_view_of (NULL, 1, &C, 11, &bs[5]),
           *vr = nt_view_of (NULL, 1, &C, 13, &bs[6]), *vrm = nt_view_of (NULL, 1, &C, 15, &bs[7]),
           *vrv = nt_view_of (rv, 1, &C, 17, &bs[8]), *vdx = nt_view_of (NULL, 4, sh, 19, &bs[9]),
           *vdw = nt_view_of (NULL, 1, &C, 21, &bs[10]), *vdb = nt_view_of (NULL, 1, &C, 23, &bs[11]);
  DN_TEST_OK (dn_batchnorm_train_forward (ty, tm, tr, trm, trv, tx, tw, tb, 0.1f, 1e-5f));
  DN_TEST_OK (dn_batchnorm_train_forward (vy, vm, vr, vrm, vrv, vx, vw, vb, 0.1f, 1e-5f));
  nt_check_same ("batchnorm views train out", vy, ty);
  nt_check_same ("batchnorm views running_var", vrv, trv);
  DN_TEST_OK (dn_batchnorm_train_backward (tdx, tdw, tdb, tdy, tx, tw, tm, tr));
  DN_TEST_OK (dn_batchnorm_train_backward (vdx, vdw, vdb, vdy, vx, vw, vm, vr));
  nt_check_same ("batchnorm views train dinp", vdx, tdx);
  nt_check_same ("batchnorm views train dweight", vdw, tdw);
  nt_check_same ("batchnorm views train dbias", vdb, tdb);
  DN_TEST_OK (dn_batchnorm_eval_forward (ty, tx, tw, tb, trm, trv, 1e-5f));
  DN_TEST_OK (dn_batchnorm_eval_forward (vy, vx, vw, vb, vrm, vrv, 1e-5f));
  nt_check_same ("batchnorm views eval out", vy, ty);
  DN_TEST_OK (dn_batchnorm_eval_backward (tdx, tdw, tdb, tdy, tx, tw, trm, trv, 1e-5f));
  DN_TEST_OK (dn_batchnorm_eval_backward (vdx, vdw, vdb, vdy, vx, vw, vrm, vrv, 1e-5f));
  nt_check_same ("batchnorm views eval dinp", vdx, tdx);
  nt_check_same ("batchnorm views eval dweight", vdw, tdw);
  DnTensor *all[] = { tx, tw, tb, tdy, ty, tm, tr, trm, trv, tdx, tdw, tdb,
                      vx, vw, vb, vdy, vy, vm, vr, vrm, vrv, vdx, vdw, vdb };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  for (unsigned i = 0; i < G_N_ELEMENTS (bs); i++)
    nt_free (bs[i]);
  double *fr[] = { x, w, b, dy, rv };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 3, 2, 2), *y = DN_TEST_ZEROS (4, 2, 3, 2, 2), *y2 = DN_TEST_ZEROS (4, 2, 3, 2, 1);
  DnTensor *v3 = DN_TEST_ZEROS (1, 3), *v4 = DN_TEST_ZEROS (1, 4), *v3b = DN_TEST_ZEROS (1, 3);
  DN_TEST_FAILS (dn_batchnorm_eval_forward (y2, x, NULL, NULL, v3, v3, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_eval_forward (y, x, v4, NULL, v3, v3, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_eval_forward (y, x, NULL, NULL, v3, v4, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_eval_forward (y, v3, NULL, NULL, v3, v3, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_eval_backward (y, v4, NULL, y, x, NULL, v3, v3, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_eval_backward (y, NULL, NULL, y2, x, NULL, v3, v3, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_train_forward (y, v4, v3, NULL, NULL, x, NULL, NULL, 0.1f, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_train_forward (y, v3, v3, v3b, v4, x, NULL, NULL, 0.1f, 1e-5f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_train_backward (y2, NULL, NULL, y, x, NULL, v3, v3), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_batchnorm_train_backward (y, NULL, v4, y, x, NULL, v3, v3), DN_ERROR_SHAPE);
  /* one value per channel cannot be trained (PyTorch raises too) */
  DnTensor *one = DN_TEST_ZEROS (4, 1, 3, 1, 1), *one_y = DN_TEST_ZEROS (4, 1, 3, 1, 1);
  DN_TEST_FAILS (dn_batchnorm_train_forward (one_y, v3, v3b, NULL, NULL, one, NULL, NULL, 0.1f, 1e-5f),
                 DN_ERROR_SHAPE);
  DN_TEST_OK (dn_batchnorm_eval_forward (one_y, one, NULL, NULL, v3, v3b, 1e-5f));
  /* zero sizes */
  DnTensor *z = DN_TEST_ZEROS (4, 0, 3, 2, 2);
  DN_TEST_OK (dn_batchnorm_eval_forward (z, z, v3, v3, v3, v3b, 1e-5f));
  DN_TEST_OK (dn_batchnorm_eval_backward (z, v3, v3, z, z, NULL, v3, v3b, 1e-5f));
  DN_TEST_OK (dn_batchnorm_train_forward (z, v3, v3b, NULL, NULL, z, NULL, NULL, 0.1f, 1e-5f));
  DN_TEST_OK (dn_batchnorm_train_backward (z, v3, v3, z, z, NULL, v3, v3b));
  DnTensor *all[] = { x, y, y2, v3, v4, v3b, one, one_y, z };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/batchnorm/eval", test_eval);
  g_test_add_func ("/ops/batchnorm/train", test_train);
  g_test_add_func ("/ops/batchnorm/running-stats", test_running_stats);
  g_test_add_func ("/ops/batchnorm/views", test_views);
  g_test_add_func ("/ops/batchnorm/bad-shapes", test_bad_shapes);
  return dn_test_run ();
}
