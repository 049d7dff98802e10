/* test-op-grn.c: GRN (ConvNeXt-V2) on NHWC, forward and backward (dh, dgamma, dbeta) on the test backend
 * against the float64 reference, the reference backward against finite differences, the zero-norm
 * channel of twins.md §2.2 (finite gradients, norm gradient 0), bad shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef struct
{
  int64_t N, HW, C;
  double eps;
  NtPack pack;
} GrnCtx;

static void
grn_fn (void *ctx, const double *x, double *y)
{
  GrnCtx *c = ctx;
  const double *v[8];
  nt_unpack_view (&c->pack, x, v);
  double *gx = nt_zeros (c->N * c->C), *nx = nt_zeros (c->N * c->C);
  dn_ref_grn_forward (y, gx, nx, v[0], v[1], v[2], c->N, c->HW, c->C, c->eps);
  g_free (gx);
  g_free (nx);
}

/* zero: 0 = random data; 1 = channel 1 of sample 0 is all zero; 2 = sample 0 is all zero */
static void
run_case (const int64_t *shape, int zero, uint64_t seed)
{
  const int64_t N = shape[0], HW = shape[1] * shape[2], C = shape[3], n = N * HW * C;
  const double eps = 1e-6;
  char sh[128], lbl[256];
  g_snprintf (sh, sizeof sh, "(%lld,%lld,%lld,%lld)%s", (long long) N, (long long) shape[1], (long long) shape[2],
              (long long) C, zero == 1 ? " zero channel" : zero == 2 ? " zero sample" : "");

  double *h = dn_test_randn (n, seed);
  if (zero == 1)
    for (int64_t s = 0; s < HW; s++)
      h[s * C + (C > 1 ? 1 : 0)] = 0;
  if (zero == 2)
    for (int64_t i = 0; i < HW * C; i++)
      h[i] = 0;
  double *gamma = dn_test_randn (C, seed + 1), *beta = dn_test_randn (C, seed + 2);
  double *dy = dn_test_randn (n, seed + 3);
  double *dh0 = dn_test_randn (n, seed + 4), *dg0 = dn_test_randn (C, seed + 5), *db0 = dn_test_randn (C, seed + 6);

  double *y = nt_zeros (n), *gx = nt_zeros (N * C), *nx = nt_zeros (N * C);
  dn_ref_grn_forward (y, gx, nx, h, gamma, beta, N, HW, C, eps);

  DnTensor *th = DN_TEST_TENSOR (h, 4, N, shape[1], shape[2], C);
  DnTensor *tg = DN_TEST_TENSOR (gamma, 1, C), *tb = DN_TEST_TENSOR (beta, 1, C);
  DnTensor *ty = DN_TEST_ZEROS (4, N, shape[1], shape[2], C);
  DnTensor *tgx = DN_TEST_ZEROS (2, N, C), *tnx = DN_TEST_ZEROS (2, N, C);
  DN_TEST_OK (dn_grn_forward (ty, tgx, tnx, th, tg, tb, (float) eps));
  g_snprintf (lbl, sizeof lbl, "grn forward out %s", sh);
  dn_test_check_tensor (lbl, ty, y, 1e-5);
  g_snprintf (lbl, sizeof lbl, "grn forward gx %s", sh);
  dn_test_check_tensor (lbl, tgx, gx, 1e-5);
  g_snprintf (lbl, sizeof lbl, "grn forward nx %s", sh);
  dn_test_check_tensor (lbl, tnx, nx, 1e-5);

  /* backward on the engine's cached gx/nx (the backward's inputs), accumulating */
  double *egx = dn_test_download (tgx), *enx = dn_test_download (tnx);
  double *dh = nt_copy (dh0, n), *dg = nt_copy (dg0, C), *db = nt_copy (db0, C);
  dn_ref_grn_backward (dh, dg, db, dy, h, gamma, egx, enx, N, HW, C, eps);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 4, N, shape[1], shape[2], C);
  DnTensor *tdh = DN_TEST_TENSOR (dh0, 4, N, shape[1], shape[2], C);
  DnTensor *tdg = DN_TEST_TENSOR (dg0, 1, C), *tdb = DN_TEST_TENSOR (db0, 1, C);
  DN_TEST_OK (dn_grn_backward (tdh, tdg, tdb, tdy, th, tg, tgx, tnx, (float) eps));
  g_snprintf (lbl, sizeof lbl, "grn backward dh %s", sh);
  dn_test_check_tensor (lbl, tdh, dh, 1e-5);
  g_assert_true (nt_all_finite (tdh));
  g_snprintf (lbl, sizeof lbl, "grn backward dgamma %s", sh);
  dn_test_check_tensor (lbl, tdg, dg, 1e-5);
  g_snprintf (lbl, sizeof lbl, "grn backward dbeta %s", sh);
  dn_test_check_tensor (lbl, tdb, db, 1e-5);
  DnTensor *tdb2 = DN_TEST_TENSOR (db0, 1, C), *tdh2 = DN_TEST_TENSOR (dh0, 4, N, shape[1], shape[2], C);
  DN_TEST_OK (dn_grn_backward (NULL, NULL, tdb2, tdy, th, tg, tgx, tnx, (float) eps));
  DN_TEST_OK (dn_grn_backward (tdh2, NULL, NULL, tdy, th, tg, tgx, tnx, (float) eps));
  g_snprintf (lbl, sizeof lbl, "grn backward dbeta only %s", sh);
  dn_test_check_tensor (lbl, tdb2, db, 1e-5);
  g_snprintf (lbl, sizeof lbl, "grn backward dh only %s", sh);
  dn_test_check_tensor (lbl, tdh2, dh, 1e-5);

  if (zero != 0)
    {
      /* the zero-norm hazard: at a zero channel the norm contributes nothing, so dh there is exactly
       * dout·(gamma·nx + 1) = dout (nx = 0) added to dh0 */
      double *got = dn_test_download (tdh);
      int64_t c0 = zero == 1 ? (C > 1 ? 1 : 0) : 0;
      for (int64_t s = 0; s < HW; s++)
        for (int64_t c = c0; c < (zero == 1 ? c0 + 1 : C); c++)
          {
            int64_t i = s * C + c;
            g_assert_true (isfinite (got[i]));
            g_assert_cmpfloat_with_epsilon (got[i], dh0[i] + dy[i], 1e-5 * (1 + fabs (dh0[i] + dy[i])));
          }
      g_free (got);
    }
  else if (n <= 200)
    {
      /* reference backward vs finite differences (random data: no zero norm, no kink) */
      GrnCtx c = { .N = N, .HW = HW, .C = C, .eps = eps };
      c.pack = (NtPack){ .n = 3, .parts = { h, gamma, beta }, .sizes = { n, C, C } };
      double *xp = nt_pack (&c.pack);
      double *ah = nt_zeros (n), *ag = nt_zeros (C), *ab = nt_zeros (C);
      dn_ref_grn_backward (ah, ag, ab, dy, h, gamma, gx, nx, N, HW, C, eps);
      NtPack ga = { .n = 3, .parts = { ah, ag, ab }, .sizes = { n, C, C } };
      double *an = nt_pack (&ga);
      g_snprintf (lbl, sizeof lbl, "grn %s", sh);
      dn_test_gradcheck (lbl, grn_fn, &c, xp, nt_pack_size (&c.pack), n, dy, an, 1e-6, 1e-6);
      g_free (xp);
      g_free (an);
      g_free (ah);
      g_free (ag);
      g_free (ab);
    }

  DnTensor *all[] = { th, tg, tb, ty, tgx, tnx, tdy, tdh, tdg, tdb, tdb2, tdh2 };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  double *fr[] = { h, gamma, beta, dy, dh0, dg0, db0, y, gx, nx, egx, enx, dh, dg, db };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

static const int64_t shapes[][4] = {
  { 1, 1, 1, 1 }, { 2, 3, 5, 3 }, { 1, 3, 5, 7 }, { 2, 1, 1, 13 }, { 1, 23, 23, 40 }, { 2, 3, 5, 93 },
  { 1, 7, 7, 160 }, { 3, 2, 1, 1 },
};

static void
test_grn (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (shapes); i++)
    run_case (shapes[i], 0, 300 + i);
}

/* twins.md §2.2: a channel that is exactly zero everywhere (erf-GELU underflow) must give finite
 * gradients, with the norm's derivative taken as 0 there (PyTorch's convention). */
static void
test_zero_norm (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      run_case (shapes[i], 1, 400 + i);
      run_case (shapes[i], 2, 500 + i);
    }
}

/* Every tensor a view at an odd offset: the same results as contiguous tensors. */
static void
test_views (void)
{
  const int64_t N = 2, H = 3, W = 5, C = 7, n = N * H * W * C;
  const int64_t sh[4] = { N, H, W, C }, shc[2] = { N, C };
  double *h = dn_test_randn (n, 550), *g = dn_test_randn (C, 551), *b = dn_test_randn (C, 552),
         *dy = dn_test_randn (n, 553);
  DnTensor *th = dn_test_tensor (4, sh, h), *tg = DN_TEST_TENSOR (g, 1, C), *tb = DN_TEST_TENSOR (b, 1, C),
           *tdy = dn_test_tensor (4, sh, dy), *ty = dn_test_zeros (4, sh), *tgx = dn_test_zeros (2, shc),
           *tnx = dn_test_zeros (2, shc), *tdh = dn_test_zeros (4, sh), *tdg = DN_TEST_ZEROS (1, C),
           *tdb = DN_TEST_ZEROS (1, C);
  DnTensor *bs[10];
  DnTensor *vh = nt_view_of (h, 4, sh, 1, &bs[0]), *vg = nt_view_of (g, 1, &C, 3, &bs[1]),
           *vb = nt_view_of (b, 1, &C, 5, &bs[2]), *vdy = nt_view_of (dy, 4, sh, 7, &bs[3]),
           *vy = nt_view_of (NULL, 4, sh, 9, &bs[4]), *vgx = nt_view_of (NULL, 2, shc, 11, &bs[5]),
           *vnx = nt_view_of (NULL, 2, shc, 13, &bs[6]), *vdh = nt_view_of (NULL, 4, sh, 15, &bs[7]),
           *vdg = nt_view_of (NULL, 1, &C, 17, &bs[8]), *vdb = nt_view_of (NULL, 1, &C, 19, &bs[9]);
  DN_TEST_OK (dn_grn_forward (ty, tgx, tnx, th, tg, tb, 1e-6f));
  DN_TEST_OK (dn_grn_forward (vy, vgx, vnx, vh, vg, vb, 1e-6f));
  nt_check_same ("grn views out", vy, ty);
  nt_check_same ("grn views nx", vnx, tnx);
  DN_TEST_OK (dn_grn_backward (tdh, tdg, tdb, tdy, th, tg, tgx, tnx, 1e-6f));
  DN_TEST_OK (dn_grn_backward (vdh, vdg, vdb, vdy, vh, vg, vgx, vnx, 1e-6f));
  nt_check_same ("grn views dh", vdh, tdh);
  nt_check_same ("grn views dgamma", vdg, tdg);
  nt_check_same ("grn views dbeta", vdb, tdb);
  DnTensor *all[] = { th, tg, tb, tdy, ty, tgx, tnx, tdh, tdg, tdb, vh, vg, vb, vdy, vy, vgx, vnx, vdh, vdg, vdb };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  for (unsigned i = 0; i < G_N_ELEMENTS (bs); i++)
    nt_free (bs[i]);
  double *fr[] = { h, g, b, dy };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

static void
test_bad_shapes (void)
{
  DnTensor *h = DN_TEST_ZEROS (4, 2, 3, 3, 5), *y = DN_TEST_ZEROS (4, 2, 3, 3, 5), *y2 = DN_TEST_ZEROS (4, 2, 3, 5, 3);
  DnTensor *v5 = DN_TEST_ZEROS (1, 5), *v3 = DN_TEST_ZEROS (1, 3), *g = DN_TEST_ZEROS (2, 2, 5),
           *g2 = DN_TEST_ZEROS (2, 5, 2), *h3 = DN_TEST_ZEROS (3, 2, 9, 5);
  DN_TEST_FAILS (dn_grn_forward (y2, g, g, h, v5, v5, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_forward (y, g, g, h, v3, v5, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_forward (y, g2, g, h, v5, v5, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_forward (h3, g, g, h3, v5, v5, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_backward (y, v3, NULL, y, h, v5, g, g, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_backward (y, NULL, NULL, y2, h, v5, g, g, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_backward (y, NULL, NULL, y, h, v5, g, g2, 1e-6f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_grn_forward (y, g, g, h, NULL, v5, 1e-6f), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *z = DN_TEST_ZEROS (4, 0, 3, 3, 5), *zg = DN_TEST_ZEROS (2, 0, 5);
  DN_TEST_OK (dn_grn_forward (z, zg, zg, z, v5, v5, 1e-6f));
  DN_TEST_OK (dn_grn_backward (z, v5, v5, z, z, v5, zg, zg, 1e-6f));
  /* zero spatial size: gx = 0, nx = 0 */
  DnTensor *zs = DN_TEST_ZEROS (4, 2, 0, 3, 5), *gz = DN_TEST_ZEROS (2, 2, 5), *nz = DN_TEST_ZEROS (2, 2, 5);
  DN_TEST_OK (dn_tensor_fill (gz, 7));
  DN_TEST_OK (dn_tensor_fill (nz, 7));
  DN_TEST_OK (dn_grn_forward (zs, gz, nz, zs, v5, v5, 1e-6f));
  double zero10[10] = { 0 };
  dn_test_check_tensor ("grn gx of an empty map", gz, zero10, 0);
  dn_test_check_tensor ("grn nx of an empty map", nz, zero10, 0);
  DN_TEST_OK (dn_grn_backward (zs, v5, v5, zs, zs, v5, gz, nz, 1e-6f));
  DnTensor *all[] = { h, y, y2, v5, v3, g, g2, h3, z, zg, zs, gz, nz };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/grn/forward-backward", test_grn);
  g_test_add_func ("/ops/grn/zero-norm", test_zero_norm);
  g_test_add_func ("/ops/grn/views", test_views);
  g_test_add_func ("/ops/grn/bad-shapes", test_bad_shapes);
  return dn_test_run ();
}
