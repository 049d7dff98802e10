/* test-op-losses.c: cross-entropy over logits, row L2-normalisation and the symmetric CLIP loss
 * (dual_tower.md §4) on the test backend against the float64 references, the references' backward against
 * finite differences, the CLIP forward against the PyTorch fixture dual_tower_fixture.h5 (logits, loss),
 * invalid targets, bad shapes and zero-size tensors.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

/* DINA's fixed logit scale: exp(ln(1/0.01)) in float32 */
#define DINA_SCALE 100.0000076f

/* Cross-entropy ---------------------------------------------------------------------------------------- */

static double *
targets_for (int64_t B, int64_t K, uint64_t seed)
{
  double *u = dn_test_uniform (B, 0, (double) K, seed), *t = g_new (double, B);
  for (int64_t b = 0; b < B; b++)
    t[b] = floor (u[b]) < (double) K ? floor (u[b]) : (double) (K - 1);
  g_free (u);
  return t;
}

static void
check_ce (int64_t B, int64_t K, double scale, bool with_dloss, uint64_t seed)
{
  char what[160];
  double *xv = elem_randn (B * K, seed, scale, 0.0), *tv = targets_for (B, K, seed + 1);
  DnTensor *logits = DN_TEST_TENSOR (xv, 2, B, K), *targets = DN_TEST_TENSOR (tv, 1, B);
  DnTensor *loss = DN_TEST_ZEROS (1, 1), *lse = DN_TEST_ZEROS (1, B);
  DN_TEST_OK (dn_cross_entropy_forward (loss, lse, logits, targets));
  double want = dn_ref_cross_entropy_forward (xv, tv, B, K);
  g_snprintf (what, sizeof what, "cross-entropy forward B=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT, B, K);
  dn_test_check_tensor (what, loss, &want, 1e-5);

  double dl = 0.37;
  DnTensor *dloss = with_dloss ? DN_TEST_TENSOR (&dl, 1, 1) : NULL;
  double *g0 = elem_randn (B * K, seed + 2, 0.01, 0.0);
  DnTensor *dx = DN_TEST_TENSOR (g0, 2, B, K);
  DN_TEST_OK (dn_cross_entropy_backward (dx, lse, logits, targets, dloss));
  double *gw = elem_copy (g0, B * K);
  dn_ref_cross_entropy_backward (gw, xv, tv, B, K, with_dloss ? dl : 1.0);
  g_snprintf (what, sizeof what, "cross-entropy backward B=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT, B, K);
  dn_test_check_tensor (what, dx, gw, 1e-5);
  g_free (xv);
  g_free (tv);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (logits);
  dn_tensor_free (targets);
  dn_tensor_free (loss);
  dn_tensor_free (lse);
  dn_tensor_free (dloss);
  dn_tensor_free (dx);
}

static void
test_ce (void)
{
  check_ce (1, 1, 1.0, false, 1);
  check_ce (3, 7, 3.0, true, 2);
  check_ce (13, 93, 5.0, false, 3);
  check_ce (93, 13, 10.0, true, 4);  /* large logits: the max shift matters */
  check_ce (7, 1000, 2.0, true, 5);  /* rows longer than a workgroup */
}

typedef struct
{
  const double *t;
  int64_t B, K;
} CeCtx;

static void
ce_f (void *ctx, const double *x, double *y)
{
  CeCtx *c = ctx;
  y[0] = dn_ref_cross_entropy_forward (x, c->t, c->B, c->K);
}

static void
test_ce_gradcheck (void)
{
  double *x = elem_randn (3 * 7, 20, 2.0, 0.0), *t = targets_for (3, 7, 21), dy = 1.3;
  double *an = g_new0 (double, 21);
  dn_ref_cross_entropy_backward (an, x, t, 3, 7, dy);
  CeCtx c = { t, 3, 7 };
  dn_test_gradcheck ("cross-entropy", ce_f, &c, x, 21, 1, &dy, an, 1e-6, 1e-6);
  g_free (x);
  g_free (t);
  g_free (an);
}

static void
test_ce_bad_input (void)
{
  /* invalid targets give NaN, not a crash */
  double xv[6] = { 1, 2, 3, 4, 5, 6 };
  double bad_targets[][2] = { { 0, 3 }, { -1, 0 }, { 0.5, 1 }, { NAN, 0 } };
  DnTensor *logits = DN_TEST_TENSOR (xv, 2, 2, 3), *loss = DN_TEST_ZEROS (1, 1), *lse = DN_TEST_ZEROS (1, 2);
  DnTensor *dx = DN_TEST_ZEROS (2, 2, 3);
  for (size_t k = 0; k < G_N_ELEMENTS (bad_targets); k++)
    {
      DnTensor *t = DN_TEST_TENSOR (bad_targets[k], 1, 2);
      DN_TEST_OK (dn_cross_entropy_forward (loss, lse, logits, t));
      double *v = dn_test_download (loss);
      g_assert_true (isnan (v[0]));
      g_free (v);
      DN_TEST_OK (dn_cross_entropy_backward (dx, lse, logits, t, NULL));
      dn_tensor_free (t);
    }
  DnTensor *t2 = DN_TEST_ZEROS (1, 2), *t3 = DN_TEST_ZEROS (1, 3), *l3 = DN_TEST_ZEROS (1, 3), *v6 = DN_TEST_ZEROS (1, 6);
  DN_TEST_FAILS (dn_cross_entropy_forward (loss, lse, logits, t3), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_cross_entropy_forward (loss, l3, logits, t2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_cross_entropy_forward (loss, lse, v6, t2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_cross_entropy_forward (lse, lse, logits, t2), DN_ERROR_SHAPE); /* loss must be (1) */
  DN_TEST_FAILS (dn_cross_entropy_backward (v6, lse, logits, t2, NULL), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_cross_entropy_backward (dx, lse, logits, t2, lse), DN_ERROR_SHAPE);
  /* zero-size: no-op */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 5), *zt = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_cross_entropy_forward (loss, zt, z, zt));
  DN_TEST_OK (dn_cross_entropy_backward (z, zt, z, zt, NULL));
  dn_tensor_free (z);
  dn_tensor_free (zt);
  dn_tensor_free (t2);
  dn_tensor_free (t3);
  dn_tensor_free (l3);
  dn_tensor_free (v6);
  dn_tensor_free (logits);
  dn_tensor_free (loss);
  dn_tensor_free (lse);
  dn_tensor_free (dx);
}

/* Row normalisation ------------------------------------------------------------------------------------ */

static void
check_rownorm (int64_t B, int64_t D, float eps, bool zero_row, uint64_t seed)
{
  char what[160];
  double *xv = elem_randn (B * D, seed, 1.0, 0.0);
  if (zero_row) /* the first row below eps: the clamped branch */
    for (int64_t d = 0; d < D; d++)
      xv[d] *= 1e-4;
  dn_test_round_f32 (xv, B * D);
  DnTensor *x = DN_TEST_TENSOR (xv, 2, B, D), *out = DN_TEST_ZEROS (2, B, D), *norm = DN_TEST_ZEROS (1, B);
  DN_TEST_OK (dn_row_normalize_forward (out, norm, x, eps));
  double *want = g_new (double, B * D), *wn = g_new (double, B);
  dn_ref_row_normalize_forward (want, xv, B, D, eps);
  for (int64_t b = 0; b < B; b++)
    wn[b] = sqrt (dn_ref_dot (xv + b * D, xv + b * D, D));
  g_snprintf (what, sizeof what, "row normalize forward B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT, B, D);
  dn_test_check_tensor (what, out, want, 1e-5);
  dn_test_check_tensor ("row normalize norm", norm, wn, 1e-5);

  double *dy = elem_randn (B * D, seed + 1, 1.0, 0.0), *g0 = elem_randn (B * D, seed + 2, 1.0, 0.0);
  DnTensor *dout = DN_TEST_TENSOR (dy, 2, B, D), *dx = DN_TEST_TENSOR (g0, 2, B, D);
  DN_TEST_OK (dn_row_normalize_backward (dx, out, norm, dout, eps));
  double *gw = elem_copy (g0, B * D);
  dn_ref_row_normalize_backward (gw, xv, dy, B, D, eps);
  g_snprintf (what, sizeof what, "row normalize backward B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT, B, D);
  dn_test_check_tensor (what, dx, gw, 1e-5);
  g_free (xv);
  g_free (want);
  g_free (wn);
  g_free (dy);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (x);
  dn_tensor_free (out);
  dn_tensor_free (norm);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
}

static void
test_rownorm (void)
{
  check_rownorm (1, 1, 1e-12f, false, 1);
  check_rownorm (3, 7, 1e-12f, false, 2);
  check_rownorm (13, 93, 1e-12f, false, 3);
  check_rownorm (7, 1024, 1e-12f, false, 4);
  check_rownorm (3, 13, 1e-2f, true, 5); /* a row with ‖x‖ < eps */
}

/* CLIP loss -------------------------------------------------------------------------------------------- */

static void
check_clip (int64_t B, int64_t D, float scale, double shift, bool with_dloss, uint64_t seed, double tol)
{
  char what[200];
  double *iv = elem_randn (B * D, seed, 1.0, 0.3 + shift), *nv = elem_randn (B * D, seed + 1, 2.0, -0.1 + 2 * shift);
  DnTensor *img = DN_TEST_TENSOR (iv, 2, B, D), *neu = DN_TEST_TENSOR (nv, 2, B, D);
  DnTensor *loss = DN_TEST_ZEROS (1, 1), *cache = DN_TEST_ZEROS (1, dn_clip_loss_cache_numel (B, D));
  DN_TEST_OK (dn_clip_loss_forward (loss, cache, img, neu, scale));
  double *logits = g_new (double, B * B);
  double want = dn_ref_clip_loss_forward (logits, iv, nv, B, D, scale);
  g_snprintf (what, sizeof what, "clip forward B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT " scale %g", B, D,
              (double) scale);
  dn_test_check_tensor (what, loss, &want, tol);
  /* the cached sim = logits / scale */
  double *c = dn_test_download (cache);
  for (int64_t i = 0; i < B * B; i++)
    logits[i] /= scale;
  dn_test_check_close ("clip cached sim", c + 2 * B * D, logits, B * B, 1e-5);
  g_free (c);

  double dl = 0.6;
  DnTensor *dloss = with_dloss ? DN_TEST_TENSOR (&dl, 1, 1) : NULL;
  double *gi0 = elem_randn (B * D, seed + 2, 0.01, 0.0), *gn0 = elem_randn (B * D, seed + 3, 0.01, 0.0), gs0 = 0.25;
  DnTensor *dimg = DN_TEST_TENSOR (gi0, 2, B, D), *dneu = DN_TEST_TENSOR (gn0, 2, B, D);
  DnTensor *dscale = DN_TEST_TENSOR (&gs0, 1, 1);
  DN_TEST_OK (dn_clip_loss_backward (dimg, dneu, dscale, cache, img, neu, dloss, scale));
  double *giw = elem_copy (gi0, B * D), *gnw = elem_copy (gn0, B * D), gsw = gs0;
  dn_ref_clip_loss_backward (giw, gnw, &gsw, iv, nv, B, D, scale, with_dloss ? dl : 1.0);
  g_snprintf (what, sizeof what, "clip backward dimg B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT, B, D);
  dn_test_check_tensor (what, dimg, giw, tol);
  g_snprintf (what, sizeof what, "clip backward dneu B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT, B, D);
  dn_test_check_tensor (what, dneu, gnw, tol);
  g_snprintf (what, sizeof what, "clip backward dscale B=%" G_GINT64_FORMAT " D=%" G_GINT64_FORMAT, B, D);
  dn_test_check_tensor (what, dscale, &gsw, tol);

  /* only one of the gradients */
  DN_TEST_OK (dn_clip_loss_backward (NULL, dneu, NULL, cache, img, neu, dloss, scale));
  dn_ref_clip_loss_backward (NULL, gnw, NULL, iv, nv, B, D, scale, with_dloss ? dl : 1.0);
  dn_test_check_tensor ("clip backward dneu only", dneu, gnw, tol);
  g_free (iv);
  g_free (nv);
  g_free (logits);
  g_free (gi0);
  g_free (gn0);
  g_free (giw);
  g_free (gnw);
  dn_tensor_free (img);
  dn_tensor_free (neu);
  dn_tensor_free (loss);
  dn_tensor_free (cache);
  dn_tensor_free (dloss);
  dn_tensor_free (dimg);
  dn_tensor_free (dneu);
  dn_tensor_free (dscale);
}

static void
test_clip (void)
{
  check_clip (1, 1, 1.0f, 0.0, false, 1, 1e-5);
  check_clip (3, 7, 14.3f, 0.0, true, 2, 1e-5);
  check_clip (13, 93, 2.0f, 0.0, false, 3, 1e-5);
  check_clip (17, 33, 1.0f, 0.0, true, 4, 1e-5); /* partial 16-tiles */
  check_clip (13, 93, DINA_SCALE, 0.0, true, 5, 1e-5);
  /* the fixture's shapes, with aligned embeddings (cosines ≈ 0.9, logits ≈ 90, as in DINA) */
  check_clip (8, 1024, DINA_SCALE, 3.0, false, 6, 1e-5);
}

typedef struct
{
  int64_t B, D;
} ClipCtx;

/* x = [img (B·D) | neu (B·D) | scale] */
static void
clip_f (void *ctx, const double *x, double *y)
{
  ClipCtx *c = ctx;
  y[0] = dn_ref_clip_loss_forward (NULL, x, x + c->B * c->D, c->B, c->D, x[2 * c->B * c->D]);
}

static void
test_clip_gradcheck (void)
{
  ClipCtx c = { 3, 5 };
  int64_t nx = 2 * 15 + 1;
  double *x = elem_randn (nx, 30, 1.0, 0.0), dy = 0.8;
  x[nx - 1] = 3.5;
  double *an = g_new0 (double, nx);
  dn_ref_clip_loss_backward (an, an + 15, an + 30, x, x + 15, 3, 5, x[30], dy);
  dn_test_gradcheck ("clip loss", clip_f, &c, x, nx, 1, &dy, an, 1e-6, 1e-6);
  g_free (x);
  g_free (an);
}

static void
rownorm_f (void *ctx, const double *x, double *y)
{
  dn_ref_row_normalize_forward (y, x, 3, 4, *(const double *) ctx);
}

static void
test_rownorm_gradcheck (void)
{
  for (int k = 0; k < 2; k++)
    {
      double eps = k == 0 ? 1e-12 : 1e-2;
      double *x = elem_randn (12, 40 + k, 1.0, 0.0), *dy = elem_randn (12, 42 + k, 1.0, 0.0);
      if (k == 1) /* first row clamped (norm well below eps, away from the kink) */
        for (int d = 0; d < 4; d++)
          x[d] *= 1e-3;
      double *an = g_new0 (double, 12);
      dn_ref_row_normalize_backward (an, x, dy, 3, 4, eps);
      dn_test_gradcheck (k == 0 ? "row normalize" : "row normalize (clamped row)", rownorm_f, &eps, x, 12, 12, dy, an,
                         1e-6, 1e-6);
      g_free (x);
      g_free (dy);
      g_free (an);
    }
}

/* DINA's loss on the fixture's z maps (dual_tower.md §10.4): logits (8,8) and loss 2.598657 */
static void
test_clip_fixture (void)
{
  int64_t ni, nn, nl, nloss;
  double *zi = elem_read_fixture ("dual_tower_fixture.h5", "/forward/z_img", &ni);
  double *zn = elem_read_fixture ("dual_tower_fixture.h5", "/forward/z_neu", &nn);
  double *logits = elem_read_fixture ("dual_tower_fixture.h5", "/forward/logits", &nl);
  double *loss_want = elem_read_fixture ("dual_tower_fixture.h5", "/forward/loss", &nloss);
  g_assert_cmpint (ni, ==, 8 * 16 * 64);
  g_assert_cmpint (nn, ==, ni);
  g_assert_cmpint (nl, ==, 64);
  DnTensor *img = DN_TEST_TENSOR (zi, 4, 8, 1, 16, 64), *neu = DN_TEST_TENSOR (zn, 4, 8, 1, 16, 64);
  DnTensor *loss = DN_TEST_ZEROS (1, 1), *cache = DN_TEST_ZEROS (1, dn_clip_loss_cache_numel (8, 1024));
  DN_TEST_OK (dn_clip_loss_forward (loss, cache, img, neu, DINA_SCALE));
  double *got = dn_test_download (loss), *c = dn_test_download (cache);
  double lg[64];
  for (int i = 0; i < 64; i++)
    lg[i] = DINA_SCALE * c[2 * 8 * 1024 + i];
  /* The fixture's float32 logits (≈ 85) are themselves 8.9e-5 from float64 (cosines rounded to float32,
   * times 100); ours must be within 5e-5 of float64 and so within 2e-4 of the fixture. Loss: the
   * fixture's suggested abs 2e-5 (dual_tower.md §10.4). */
  double ref_logits[64];
  double ref_loss = dn_ref_clip_loss_forward (ref_logits, zi, zn, 8, 1024, DINA_SCALE);
  double el = elem_max_abs (lg, logits, 64), e = fabs (got[0] - loss_want[0]);
  double er = elem_max_abs (lg, ref_logits, 64), e_ref = fabs (got[0] - ref_loss);
  if (g_test_verbose ())
    g_printerr ("  clip vs PyTorch fixture [%s]: logits max abs %.3g, loss abs %.3g; vs float64: logits %.3g, loss %.3g "
                "(fixture vs float64: logits %.3g, loss %.3g)\n",
                dn_test_backend_name (), el, e, er, e_ref, elem_max_abs (ref_logits, logits, 64),
                fabs (ref_loss - loss_want[0]));
  if (!(el <= 2e-4) || !(er <= 5e-5) || !(e <= 2e-5) || !(e_ref <= 2e-5))
    g_error ("clip vs fixture [%s]: logits max abs %.3g (tol 2e-4), vs float64 %.3g (tol 5e-5); loss %.9g vs fixture "
             "%.9g and float64 %.9g (tol 2e-5)", dn_test_backend_name (), el, er, got[0], loss_want[0], ref_loss);
  g_free (zi);
  g_free (zn);
  g_free (logits);
  g_free (loss_want);
  g_free (got);
  g_free (c);
  dn_tensor_free (img);
  dn_tensor_free (neu);
  dn_tensor_free (loss);
  dn_tensor_free (cache);
}

static void
test_clip_bad_input (void)
{
  DnTensor *a = DN_TEST_ZEROS (2, 3, 7), *b = DN_TEST_ZEROS (2, 3, 8), *b2 = DN_TEST_ZEROS (2, 4, 7);
  DnTensor *loss = DN_TEST_ZEROS (1, 1), *cache = DN_TEST_ZEROS (1, dn_clip_loss_cache_numel (3, 7));
  DnTensor *small = DN_TEST_ZEROS (1, 10), *v = DN_TEST_ZEROS (1, 7);
  DN_TEST_FAILS (dn_clip_loss_forward (loss, cache, a, b, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_forward (loss, cache, a, b2, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_forward (loss, small, a, a, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_forward (loss, cache, v, v, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_forward (cache, cache, a, a, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_backward (b, NULL, NULL, cache, a, a, NULL, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_clip_loss_backward (a, NULL, v, cache, a, a, NULL, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_row_normalize_forward (b, NULL, a, 1e-12f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_row_normalize_forward (a, v, a, 1e-12f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_row_normalize_forward (v, NULL, v, 1e-12f), DN_ERROR_SHAPE);
  /* zero-size: no-ops */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 7), *zc = DN_TEST_ZEROS (1, dn_clip_loss_cache_numel (0, 7)), *zn = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_clip_loss_forward (loss, zc, z, z, 1));
  DN_TEST_OK (dn_clip_loss_backward (z, z, NULL, zc, z, z, NULL, 1));
  DN_TEST_OK (dn_row_normalize_forward (z, zn, z, 1e-12f));
  DN_TEST_OK (dn_row_normalize_backward (z, z, zn, z, 1e-12f));
  dn_tensor_free (z);
  dn_tensor_free (zc);
  dn_tensor_free (zn);
  dn_tensor_free (a);
  dn_tensor_free (b);
  dn_tensor_free (b2);
  dn_tensor_free (loss);
  dn_tensor_free (cache);
  dn_tensor_free (small);
  dn_tensor_free (v);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/cross-entropy/forward-backward", test_ce);
  g_test_add_func ("/ops/cross-entropy/gradcheck", test_ce_gradcheck);
  g_test_add_func ("/ops/cross-entropy/bad-input", test_ce_bad_input);
  g_test_add_func ("/ops/row-normalize/forward-backward", test_rownorm);
  g_test_add_func ("/ops/row-normalize/gradcheck", test_rownorm_gradcheck);
  g_test_add_func ("/ops/clip-loss/forward-backward", test_clip);
  g_test_add_func ("/ops/clip-loss/gradcheck", test_clip_gradcheck);
  g_test_add_func ("/ops/clip-loss/pytorch-fixture", test_clip_fixture);
  g_test_add_func ("/ops/clip-loss/bad-input", test_clip_bad_input);
  return dn_test_run ();
}
