/* test-op-attention.c: multi-head scaled-dot-product attention, forward (out, att) and backward (dq, dk,
 * dv) on the test backend against the float64 reference, unmasked and with (Lq,Lk), (B,1,Lq,Lk), key
 * padding (B,1,1,Lk) and fully-masked rows; the reference backward against finite differences; bad
 * shapes and zero sizes.
 * SPDX-License-Identifier: MIT
 */
#include "norm-test-util.h"

typedef enum
{
  MASK_NONE,
  MASK_2D,      /* (Lq,Lk) causal-like */
  MASK_BATCH,   /* (B,1,Lq,Lk) random */
  MASK_KEYPAD,  /* (B,1,1,Lk) key padding */
  MASK_FULLROW, /* (B,H,Lq,Lk) with one query row fully masked */
} MaskKind;

typedef struct
{
  int64_t B, H, Lq, Lk, D, Dv, mB, mH, mQ;
  const double *mask;
  double scale;
  NtPack pack;
} AtCtx;

static void
at_fn (void *ctx, const double *x, double *y)
{
  AtCtx *c = ctx;
  const double *v[8];
  nt_unpack_view (&c->pack, x, v);
  double *att = nt_zeros (c->B * c->H * c->Lq * c->Lk);
  dn_ref_attention_forward (y, att, v[0], v[1], v[2], c->mask, c->mB, c->mH, c->mQ, c->B, c->H, c->Lq, c->Lk, c->D,
                            c->Dv, c->scale);
  g_free (att);
}

static void
run_case (const int64_t *dims, MaskKind mk, float scale, uint64_t seed)
{
  const int64_t B = dims[0], H = dims[1], Lq = dims[2], Lk = dims[3], D = dims[4], Dv = dims[5];
  const int64_t nq = B * H * Lq * D, nk = B * H * Lk * D, nv = B * H * Lk * Dv, no = B * H * Lq * Dv,
                na = B * H * Lq * Lk;
  static const char *const mask_names[] = { "", " mask(Lq,Lk)", " mask(B,1,Lq,Lk)", " keypad(B,1,1,Lk)",
                                            " full-row(B,H,Lq,Lk)" };
  char sh[160], lbl[256];
  g_snprintf (sh, sizeof sh, "B%lld H%lld Lq%lld Lk%lld D%lld Dv%lld%s%s", (long long) B, (long long) H,
              (long long) Lq, (long long) Lk, (long long) D, (long long) Dv, mask_names[mk],
              scale > 0 ? " scale" : "");
  double ref_scale = scale > 0 ? scale : 1.0 / sqrt ((double) D);

  double *q = dn_test_randn (nq, seed), *k = dn_test_randn (nk, seed + 1), *v = dn_test_randn (nv, seed + 2);
  double *dy = dn_test_randn (no, seed + 3);
  double *dq0 = dn_test_randn (nq, seed + 4), *dk0 = dn_test_randn (nk, seed + 5), *dv0 = dn_test_randn (nv, seed + 6);

  int64_t mB = 1, mH = 1, mQ = Lq, mdims[4];
  int mndim = 4;
  double *mask = NULL;
  if (mk != MASK_NONE)
    {
      if (mk == MASK_2D)
        mndim = 2;
      mB = mk == MASK_BATCH || mk == MASK_KEYPAD || mk == MASK_FULLROW ? B : 1;
      mH = mk == MASK_FULLROW ? H : 1;
      mQ = mk == MASK_KEYPAD ? 1 : Lq;
      int64_t nm = mB * mH * mQ * Lk;
      mask = nt_zeros (nm);
      double *u = dn_test_uniform (nm, 0, 1, seed + 7);
      for (int64_t b = 0; b < mB; b++)
        for (int64_t h = 0; h < mH; h++)
          for (int64_t i = 0; i < mQ; i++)
            for (int64_t j = 0; j < Lk; j++)
              {
                int64_t idx = ((b * mH + h) * mQ + i) * Lk + j;
                bool masked = false;
                if (mk == MASK_2D)
                  masked = j > i + Lk - Lq; /* causal, aligned at the end; row 0 keeps ≥ 1 key when Lk ≥ Lq */
                else if (mk == MASK_BATCH)
                  masked = j != i % Lk && u[idx] < 0.4;
                else if (mk == MASK_KEYPAD)
                  masked = j >= Lk - (b + 1) % Lk && j > 0; /* pad the last (b+1) % Lk keys, never key 0 */
                else
                  masked = i == Lq / 2 || (u[idx] < 0.3 && j != 0);
                mask[idx] = masked ? -INFINITY : (mk == MASK_BATCH ? u[idx] - 0.5 : 0.0);
              }
      dn_test_round_f32 (mask, nm);
      g_free (u);
      if (mndim == 2)
        {
          mdims[0] = Lq;
          mdims[1] = Lk;
        }
      else
        {
          mdims[0] = mB;
          mdims[1] = mH;
          mdims[2] = mQ;
          mdims[3] = Lk;
        }
    }

  double *out = nt_zeros (no), *att = nt_zeros (na);
  dn_ref_attention_forward (out, att, q, k, v, mask, mB, mH, mQ, B, H, Lq, Lk, D, Dv, ref_scale);

  DnTensor *tq = DN_TEST_TENSOR (q, 4, B, H, Lq, D), *tk = DN_TEST_TENSOR (k, 4, B, H, Lk, D),
           *tv = DN_TEST_TENSOR (v, 4, B, H, Lk, Dv);
  DnTensor *tm = mask ? dn_test_tensor (mndim, mdims, mask) : NULL;
  DnTensor *to = DN_TEST_ZEROS (4, B, H, Lq, Dv), *ta = DN_TEST_ZEROS (4, B, H, Lq, Lk);
  DN_TEST_OK (dn_tensor_fill (to, 123.0f)); /* the forward overwrites */
  DN_TEST_OK (dn_attention_forward (to, ta, tq, tk, tv, tm, scale));
  g_snprintf (lbl, sizeof lbl, "attention forward out %s", sh);
  dn_test_check_tensor (lbl, to, out, 1e-5);
  g_snprintf (lbl, sizeof lbl, "attention forward att %s", sh);
  dn_test_check_tensor (lbl, ta, att, 1e-5);

  /* backward on the engine's att (the backward's input), accumulating */
  double *eatt = dn_test_download (ta);
  double *dq = nt_copy (dq0, nq), *dk = nt_copy (dk0, nk), *dv = nt_copy (dv0, nv);
  dn_ref_attention_backward (dq, dk, dv, dy, q, k, v, eatt, B, H, Lq, Lk, D, Dv, ref_scale);
  DnTensor *tdy = DN_TEST_TENSOR (dy, 4, B, H, Lq, Dv);
  DnTensor *tdq = DN_TEST_TENSOR (dq0, 4, B, H, Lq, D), *tdk = DN_TEST_TENSOR (dk0, 4, B, H, Lk, D),
           *tdv = DN_TEST_TENSOR (dv0, 4, B, H, Lk, Dv);
  DnTensor *tda = DN_TEST_ZEROS (4, B, H, Lq, Lk);
  DN_TEST_OK (dn_attention_backward (tdq, tdk, tdv, tda, tdy, tq, tk, tv, ta, scale));
  g_snprintf (lbl, sizeof lbl, "attention backward dq %s", sh);
  dn_test_check_tensor (lbl, tdq, dq, 1e-5);
  g_snprintf (lbl, sizeof lbl, "attention backward dk %s", sh);
  dn_test_check_tensor (lbl, tdk, dk, 1e-5);
  g_snprintf (lbl, sizeof lbl, "attention backward dv %s", sh);
  dn_test_check_tensor (lbl, tdv, dv, 1e-5);
  /* only dv: no scratch needed */
  DnTensor *tdv2 = DN_TEST_TENSOR (dv0, 4, B, H, Lk, Dv);
  DN_TEST_OK (dn_attention_backward (NULL, NULL, tdv2, NULL, tdy, tq, tk, tv, ta, scale));
  g_snprintf (lbl, sizeof lbl, "attention backward dv only %s", sh);
  dn_test_check_tensor (lbl, tdv2, dv, 1e-5);

  if (mk == MASK_FULLROW)
    {
      /* the fully-masked query row: zero att, zero output, no gradient to its query */
      double *go = dn_test_download (to), *gq = dn_test_download (tdq);
      for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t e = 0; e < Dv; e++)
          g_assert_cmpfloat (go[(bh * Lq + Lq / 2) * Dv + e], ==, 0.0);
      for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t e = 0; e < D; e++)
          {
            int64_t i = (bh * Lq + Lq / 2) * D + e;
            g_assert_cmpfloat_with_epsilon (gq[i], dq0[i], 1e-6);
          }
      g_free (go);
      g_free (gq);
    }

  if (nq + nk + nv <= 400)
    {
      AtCtx c = { B, H, Lq, Lk, D, Dv, mB, mH, mQ, mask, ref_scale, { 0 } };
      c.pack = (NtPack){ .n = 3, .parts = { q, k, v }, .sizes = { nq, nk, nv } };
      double *xp = nt_pack (&c.pack);
      double *aq = nt_zeros (nq), *ak = nt_zeros (nk), *av = nt_zeros (nv);
      dn_ref_attention_backward (aq, ak, av, dy, q, k, v, att, B, H, Lq, Lk, D, Dv, ref_scale);
      NtPack ga = { .n = 3, .parts = { aq, ak, av }, .sizes = { nq, nk, nv } };
      double *an = nt_pack (&ga);
      g_snprintf (lbl, sizeof lbl, "attention %s", sh);
      dn_test_gradcheck (lbl, at_fn, &c, xp, nt_pack_size (&c.pack), no, dy, an, 1e-6, 1e-6);
      g_free (xp);
      g_free (an);
      g_free (aq);
      g_free (ak);
      g_free (av);
    }

  DnTensor *all[] = { tq, tk, tv, tm, to, ta, tdy, tdq, tdk, tdv, tda, tdv2 };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  double *fr[] = { q, k, v, dy, dq0, dk0, dv0, mask, out, att, eatt, dq, dk, dv };
  for (unsigned i = 0; i < G_N_ELEMENTS (fr); i++)
    g_free (fr[i]);
}

/* (B,H,Lq,Lk,D,Dv) */
static const int64_t cases[][6] = {
  { 1, 1, 1, 1, 1, 1 }, { 2, 3, 3, 7, 5, 4 }, { 1, 2, 7, 13, 13, 7 }, { 2, 1, 13, 3, 7, 13 },
  { 1, 1, 7, 7, 3, 1 }, { 1, 1, 70, 67, 33, 17 }, { 2, 2, 13, 13, 1, 3 },
};

static void
test_unmasked (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      run_case (cases[i], MASK_NONE, 0.0f, 700 + i);
      run_case (cases[i], MASK_NONE, (float) (1.0 / sqrt (32.0)), 720 + i);
    }
}

static void
test_masked (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int mk = MASK_2D; mk <= MASK_FULLROW; mk++)
      run_case (cases[i], (MaskKind) mk, 0.0f, 800 + 10 * i + mk);
}

/* The neural tower's shape (dual_tower.md §3): one head, d_model 512, here with a few neurons. */
static void
test_neural_tower_shape (void)
{
  run_case ((const int64_t[]){ 2, 1, 9, 9, 512, 512 }, MASK_NONE, 0.0f, 900);
}

/* q, k, v, mask and the outputs as views at odd offsets of shared buffers (like a fused QKV output). */
static void
test_views (void)
{
  const int64_t B = 2, H = 1, L = 5, D = 3, n = B * H * L * D;
  double *buf = dn_test_randn (3 * n + 7 + L * L, 950);
  for (int64_t i = 0; i < L * L; i++) /* a causal mask after the three tensors */
    buf[3 * n + 7 + i] = (i % L) > (i / L) ? -INFINITY : 0.0;
  DnTensor *base = DN_TEST_TENSOR (buf, 1, 3 * n + 7 + L * L), *obase = DN_TEST_ZEROS (1, 400);
  DnStatus st;
  const int64_t sh[4] = { B, H, L, D }, sa[4] = { B, H, L, L };
  DnTensor *q = dn_tensor_view (base, 1, 4, sh, &st), *k = dn_tensor_view (base, 1 + n, 4, sh, &st),
           *v = dn_tensor_view (base, 1 + 2 * n, 4, sh, &st);
  DnTensor *m = dn_tensor_view (base, 3 * n + 7, 2, (const int64_t[]){ L, L }, &st);
  DnTensor *o = dn_tensor_view (obase, 3, 4, sh, &st), *a = dn_tensor_view (obase, 101, 4, sa, &st);
  DnTensor *dq = dn_tensor_view (obase, 171, 4, sh, &st), *da = dn_tensor_view (obase, 233, 4, sa, &st);
  DN_TEST_OK (dn_attention_forward (o, a, q, k, v, m, 0.0f));
  double want[2 * 5 * 3], watt[2 * 5 * 5];
  dn_ref_attention_forward (want, watt, buf + 1, buf + 1 + n, buf + 1 + 2 * n, buf + 3 * n + 7, 1, 1, L, B, H, L, L, D,
                            D, 1.0 / sqrt ((double) D));
  dn_test_check_tensor ("attention views out", o, want, 1e-5);
  dn_test_check_tensor ("attention views att", a, watt, 1e-5);
  DN_TEST_OK (dn_attention_backward (dq, NULL, NULL, da, q, q, k, v, a, 0.0f)); /* dout = q */
  double gq[2 * 5 * 3] = { 0 };
  double *ea = dn_test_download (a);
  dn_ref_attention_backward (gq, NULL, NULL, buf + 1, buf + 1, buf + 1 + n, buf + 1 + 2 * n, ea, B, H, L, L, D, D,
                             1.0 / sqrt ((double) D));
  dn_test_check_tensor ("attention views dq", dq, gq, 1e-5);
  DnTensor *all[] = { q, k, v, m, o, a, dq, da, base, obase };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
  g_free (ea);
  g_free (buf);
}

static void
test_bad_shapes (void)
{
  DnTensor *q = DN_TEST_ZEROS (4, 2, 3, 5, 4), *k = DN_TEST_ZEROS (4, 2, 3, 6, 4), *v = DN_TEST_ZEROS (4, 2, 3, 6, 7);
  DnTensor *o = DN_TEST_ZEROS (4, 2, 3, 5, 7), *a = DN_TEST_ZEROS (4, 2, 3, 5, 6);
  DnTensor *k_bad = DN_TEST_ZEROS (4, 2, 3, 6, 5), *v_bad = DN_TEST_ZEROS (4, 2, 3, 5, 7),
           *o_bad = DN_TEST_ZEROS (4, 2, 3, 5, 4), *a_bad = DN_TEST_ZEROS (4, 2, 3, 6, 5);
  DnTensor *m_bad = DN_TEST_ZEROS (2, 6, 5), *m_bad4 = DN_TEST_ZEROS (4, 3, 1, 5, 6), *m_ok = DN_TEST_ZEROS (4, 2, 1, 1, 6);
  DN_TEST_OK (dn_attention_forward (o, a, q, k, v, m_ok, 0.0f));
  DN_TEST_FAILS (dn_attention_forward (o, a, q, k_bad, v, NULL, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_forward (o, a, q, k, v_bad, NULL, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_forward (o_bad, a, q, k, v, NULL, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_forward (o, a_bad, q, k, v, NULL, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_forward (o, a, q, k, v, m_bad, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_forward (o, a, q, k, v, m_bad4, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_backward (q, k, v, a, o_bad, q, k, v, a, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_backward (k, NULL, NULL, a, o, q, k, v, a, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_backward (q, k, v, a_bad, o, q, k, v, a, 0.0f), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_attention_backward (q, NULL, NULL, NULL, o, q, k, v, a, 0.0f), DN_ERROR_INVALID_ARGUMENT);
  /* zero sizes: no queries, or no keys (then the output is an empty sum: zeros) */
  DnTensor *zq = DN_TEST_ZEROS (4, 2, 3, 0, 4), *zo = DN_TEST_ZEROS (4, 2, 3, 0, 7), *za = DN_TEST_ZEROS (4, 2, 3, 0, 6);
  DN_TEST_OK (dn_attention_forward (zo, za, zq, k, v, NULL, 0.0f));
  DN_TEST_OK (dn_attention_backward (zq, k, v, za, zo, zq, k, v, za, 0.0f));
  DnTensor *zk = DN_TEST_ZEROS (4, 2, 3, 0, 4), *zv = DN_TEST_ZEROS (4, 2, 3, 0, 7), *za2 = DN_TEST_ZEROS (4, 2, 3, 5, 0);
  DN_TEST_OK (dn_tensor_fill (o, 5.0f));
  DN_TEST_OK (dn_attention_forward (o, za2, q, zk, zv, NULL, 0.0f));
  double zeros[2 * 3 * 5 * 7] = { 0 };
  dn_test_check_tensor ("attention with no keys", o, zeros, 0);
  DN_TEST_OK (dn_attention_backward (q, zk, zv, za2, o, q, zk, zv, za2, 0.0f));
  DnTensor *all[] = { q, k, v, o, a, k_bad, v_bad, o_bad, a_bad, m_bad, m_bad4, m_ok, zq, zo, za, zk, zv, za2 };
  for (unsigned i = 0; i < G_N_ELEMENTS (all); i++)
    nt_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/attention/unmasked", test_unmasked);
  g_test_add_func ("/ops/attention/masked", test_masked);
  g_test_add_func ("/ops/attention/neural-tower-shape", test_neural_tower_shape);
  g_test_add_func ("/ops/attention/views", test_views);
  g_test_add_func ("/ops/attention/bad-shapes", test_bad_shapes);
  return dn_test_run ();
}
