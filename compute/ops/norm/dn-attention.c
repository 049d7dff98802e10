/* dn-attention.c: multi-head scaled-dot-product attention, forward and backward, on both backends.
 *
 *   forward:  att = softmax(scale·Q·Kᵀ + mask) (row-wise over keys),  out = att·V
 *   backward: dP = dout·Vᵀ;  dS = scale·att ⊙ (dP − rowsum(att ⊙ dP))  (in the datt scratch)
 *             dq += dS·K,  dk += dSᵀ·Q,  dv += attᵀ·dout
 * CPU: cblas_sgemm per (batch, head), called from the calling thread; row softmax on the thread pool.
 * Vulkan: shaders/norm/attention_gemm.comp (64×64-tiled batched GEMM with the scale, the broadcast mask
 * and accumulation fused) and the ATTN variants of softmax_{fwd,bwd}.comp.
 * Reference: dn_ref_attention_forward/backward (compute/ref/dn-ref-norm.c).
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>

#include "dn-norm-private.h"
#include "dn-ops-norm.h"

typedef struct
{
  int64_t B, H, Lq, Lk, D, Dv;
  int64_t sB, sH, sQ; /* mask strides (0 = broadcast) */
} AttnDims;

typedef struct
{
  uint32_t M, N, K, H, trans_a, trans_b, flags;
  float alpha;
  uint32_t sB, sH, sQ;
} GemmParams;
_Static_assert (sizeof (GemmParams) == 44, "attention_gemm push constants");

/* One batched GEMM on Vulkan: C[b] (M,N) = alpha·opA·opB (+C) (+mask), b over B·H. */
static DnStatus
gemm_vk (DnDevice *dev, DnTensor *c, const DnTensor *a, const DnTensor *b, const DnTensor *mask, const AttnDims *d,
         int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, float alpha, bool accumulate)
{
  if (M == 0 || N == 0)
    return DN_OK;
  GemmParams pc = { (uint32_t) M, (uint32_t) N, (uint32_t) K, (uint32_t) d->H, trans_a, trans_b,
                    (accumulate ? 1u : 0u) | (mask ? 2u : 0u), alpha,
                    (uint32_t) d->sB, (uint32_t) d->sH, (uint32_t) d->sQ };
  DnBinding bind[] = { DN_READ (a), DN_READ (b), accumulate ? DN_READ_WRITE (c) : DN_WRITE (c),
                       mask ? DN_READ (mask) : DN_READ (a) };
  int64_t batch = d->B * d->H;
  if (batch > 65535)
    return dn_set_error (DN_ERROR_SHAPE, "attention: B·H = %" PRId64 " exceeds 65535", batch);
  return dn_vk_dispatch (dev, DN_SHADER_ATTENTION_GEMM, bind, 4, &pc, sizeof pc, dn_div_up (N, 64), dn_div_up (M, 64),
                         (uint32_t) batch);
}

/* One batched GEMM on the CPU (no mask): C[b] = alpha·opA·opB + beta·C[b]. */
static void
gemm_cpu (DnDevice *dev, float *c, const float *a, const float *b, const AttnDims *d, int64_t M, int64_t N, int64_t K,
          bool trans_a, bool trans_b, float alpha, bool accumulate)
{
  if (M == 0 || N == 0)
    return;
  int64_t batch = d->B * d->H;
  int lda = (int) (trans_a ? M : K), ldb = (int) (trans_b ? K : N);
  if (lda < 1)
    lda = 1;
  if (ldb < 1)
    ldb = 1;
  for (int64_t i = 0; i < batch; i++)
    dn_cpu_sgemm (dev, trans_a, trans_b, M, N, K, alpha, a + i * M * K, lda, b + i * K * N, ldb, accumulate ? 1.0f : 0.0f, c + i * M * N, N);
}

typedef struct
{
  float *att;
  const float *mask;
  const AttnDims *d;
} MaskArgs;

static void
add_mask_range (void *ctx, int64_t b, int64_t e)
{
  MaskArgs *a = ctx;
  const AttnDims *d = a->d;
  for (int64_t r = b; r < e; r++)
    {
      int64_t bh = r / d->Lq, i = r % d->Lq;
      const float *m = a->mask + (bh / d->H) * d->sB + (bh % d->H) * d->sH + i * d->sQ;
      float *s = a->att + r * d->Lk;
      for (int64_t j = 0; j < d->Lk; j++)
        s[j] += m[j];
    }
}

/* Checks q, k, v and the optional mask; fills @d. */
static DnStatus
attn_check (const char *op, const DnTensor *q, const DnTensor *k, const DnTensor *v, const DnTensor *mask,
            AttnDims *d)
{
  if (!q || !k || !v)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: q, k and v are required", op);
  DN_CHECK_SAME_DEVICE (op, q, k);
  DN_CHECK_SAME_DEVICE (op, q, v);
  DN_TRY (dn_check_shape (op, "q", q, 4, (const int64_t[]){ -1, -1, -1, -1 }));
  d->B = q->shape[0];
  d->H = q->shape[1];
  d->Lq = q->shape[2];
  d->D = q->shape[3];
  DN_TRY (dn_check_shape (op, "k", k, 4, (const int64_t[]){ d->B, d->H, -1, d->D }));
  d->Lk = k->shape[2];
  DN_TRY (dn_check_shape (op, "v", v, 4, (const int64_t[]){ d->B, d->H, d->Lk, -1 }));
  d->Dv = v->shape[3];
  d->sB = d->sH = d->sQ = 0;
  if (mask)
    {
      DN_CHECK_SAME_DEVICE (op, q, mask);
      int64_t mB = 1, mH = 1, mQ;
      if (mask->ndim == 2)
        {
          DN_TRY (dn_check_shape (op, "mask", mask, 2, (const int64_t[]){ d->Lq, d->Lk }));
          mQ = d->Lq;
        }
      else
        {
          DN_TRY (dn_check_shape (op, "mask", mask, 4, (const int64_t[]){ -1, -1, -1, d->Lk }));
          mB = mask->shape[0];
          mH = mask->shape[1];
          mQ = mask->shape[2];
          if ((mB != 1 && mB != d->B) || (mH != 1 && mH != d->H) || (mQ != 1 && mQ != d->Lq))
            {
              char s[128], sq[128];
              return dn_set_error (DN_ERROR_SHAPE, "%s: mask %s does not broadcast to the scores of q %s", op,
                                   dn_tensor_shape_str (mask, s, sizeof s), dn_tensor_shape_str (q, sq, sizeof sq));
            }
        }
      d->sQ = mQ == 1 ? 0 : d->Lk;
      d->sH = mH == 1 ? 0 : mQ * d->Lk;
      d->sB = mB == 1 ? 0 : mH * mQ * d->Lk;
    }
  const DnTensor *all[] = { q, k, v, mask };
  for (int i = 0; i < 4; i++)
    DN_TRY (dn_norm_check_size (op, all[i]));
  return DN_OK;
}

static DnStatus
check_opt (const char *op, const char *name, const DnTensor *t, const DnTensor *q, const int64_t *dims)
{
  if (!t)
    return DN_OK;
  DN_CHECK_SAME_DEVICE (op, q, t);
  DN_TRY (dn_check_shape (op, name, t, 4, dims));
  return dn_norm_check_size (op, t);
}

static float
attn_scale (float scale, int64_t D)
{
  return scale > 0 ? scale : (D > 0 ? (float) (1.0 / sqrt ((double) D)) : 1.0f);
}

DnStatus
dn_attention_forward (DnTensor *out, DnTensor *att, const DnTensor *q, const DnTensor *k, const DnTensor *v,
                      const DnTensor *mask, float scale)
{
  const char *op = "attention_forward";
  AttnDims d;
  DN_TRY (attn_check (op, q, k, v, mask, &d));
  if (!out || !att)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out and att are required", op);
  DN_TRY (check_opt (op, "out", out, q, (const int64_t[]){ d.B, d.H, d.Lq, d.Dv }));
  DN_TRY (check_opt (op, "att", att, q, (const int64_t[]){ d.B, d.H, d.Lq, d.Lk }));
  scale = attn_scale (scale, d.D);
  if (dn_tensor_numel (out) == 0 && dn_tensor_numel (att) == 0)
    return DN_OK;
  if (dn_tensor_numel (att) == 0) /* no keys: the output is an empty sum */
    return dn_tensor_fill (out, 0.0f);
  DnDevice *dev = q->dev;
  int64_t rows = d.B * d.H * d.Lq;
  if (dn_device_is_cpu (dev))
    {
      float *a = dn_tensor_host (att);
      gemm_cpu (dev, a, dn_tensor_host (q), dn_tensor_host (k), &d, d.Lq, d.Lk, d.D, false, true, scale, false);
      if (mask)
        {
          MaskArgs ma = { a, dn_tensor_host (mask), &d };
          dn_cpu_parallel_for (dev, rows, 1 + (1 << 13) / d.Lk, add_mask_range, &ma);
        }
      dn_norm_softmax_rows_cpu (dev, a, a, rows, d.Lk, 1);
      gemm_cpu (dev, dn_tensor_host (out), a, dn_tensor_host (v), &d, d.Lq, d.Dv, d.Lk, false, false, 1.0f, false);
      return DN_OK;
    }
  DN_TRY (gemm_vk (dev, att, q, k, mask, &d, d.Lq, d.Lk, d.D, false, true, scale, false));
  DN_TRY (dn_norm_softmax_rows_vk (dev, DN_SHADER_ATTENTION_SOFTMAX, att, att, rows, d.Lk));
  return gemm_vk (dev, out, att, v, NULL, &d, d.Lq, d.Dv, d.Lk, false, false, 1.0f, false);
}

DnStatus
dn_attention_backward (DnTensor *dq, DnTensor *dk, DnTensor *dv, DnTensor *datt, const DnTensor *dout,
                       const DnTensor *q, const DnTensor *k, const DnTensor *v, const DnTensor *att, float scale)
{
  const char *op = "attention_backward";
  AttnDims d;
  DN_TRY (attn_check (op, q, k, v, NULL, &d));
  if (!dout || !att)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout and att are required", op);
  if ((dq || dk) && !datt)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dq or dk needs the datt scratch", op);
  DN_TRY (check_opt (op, "dout", dout, q, (const int64_t[]){ d.B, d.H, d.Lq, d.Dv }));
  DN_TRY (check_opt (op, "att", att, q, (const int64_t[]){ d.B, d.H, d.Lq, d.Lk }));
  DN_TRY (check_opt (op, "datt", datt, q, (const int64_t[]){ d.B, d.H, d.Lq, d.Lk }));
  DN_TRY (check_opt (op, "dq", dq, q, (const int64_t[]){ d.B, d.H, d.Lq, d.D }));
  DN_TRY (check_opt (op, "dk", dk, q, (const int64_t[]){ d.B, d.H, d.Lk, d.D }));
  DN_TRY (check_opt (op, "dv", dv, q, (const int64_t[]){ d.B, d.H, d.Lk, d.Dv }));
  scale = attn_scale (scale, d.D);
  if (dn_tensor_numel (att) == 0)
    return DN_OK;
  DnDevice *dev = q->dev;
  int64_t rows = d.B * d.H * d.Lq;
  if (dn_device_is_cpu (dev))
    {
      const float *a = dn_tensor_host (att), *g = dn_tensor_host (dout);
      if (dq || dk)
        {
          float *ds = dn_tensor_host (datt);
          gemm_cpu (dev, ds, g, dn_tensor_host (v), &d, d.Lq, d.Lk, d.Dv, false, true, 1.0f, false);
          dn_norm_softmax_bwd_rows_cpu (dev, ds, NULL, a, rows, d.Lk, 1, scale);
          if (dq)
            gemm_cpu (dev, dn_tensor_host (dq), ds, dn_tensor_host (k), &d, d.Lq, d.D, d.Lk, false, false, 1.0f, true);
          if (dk)
            gemm_cpu (dev, dn_tensor_host (dk), ds, dn_tensor_host (q), &d, d.Lk, d.D, d.Lq, true, false, 1.0f, true);
        }
      if (dv)
        gemm_cpu (dev, dn_tensor_host (dv), a, g, &d, d.Lk, d.Dv, d.Lq, true, false, 1.0f, true);
      return DN_OK;
    }
  if (dq || dk)
    {
      DN_TRY (gemm_vk (dev, datt, dout, v, NULL, &d, d.Lq, d.Lk, d.Dv, false, true, 1.0f, false));
      DN_TRY (dn_norm_softmax_bwd_rows_vk (dev, DN_SHADER_ATTENTION_SOFTMAX_BWD, datt, att, datt, rows, d.Lk, scale));
      if (dq)
        DN_TRY (gemm_vk (dev, dq, datt, k, NULL, &d, d.Lq, d.D, d.Lk, false, false, 1.0f, true));
      if (dk)
        DN_TRY (gemm_vk (dev, dk, datt, q, NULL, &d, d.Lk, d.D, d.Lq, true, false, 1.0f, true));
    }
  if (dv)
    DN_TRY (gemm_vk (dev, dv, att, dout, NULL, &d, d.Lk, d.Dv, d.Lq, true, false, 1.0f, true));
  return DN_OK;
}
