/* dn-losses.c: cross-entropy over logits, row L2-normalisation and DINA's symmetric CLIP loss
 * (dual_tower.md §4), forward and backward, on both backends.
 * Vulkan: shaders/elem/elem_lse.comp, elem_ce_loss.comp, elem_ce_bwd.comp, elem_rownorm_{fwd,bwd}.comp,
 * elem_clip_{sim,loss,rowdot,dscale,grad}.comp (reductions are workgroup shared-memory trees; no atomics).
 * CPU: loops below with double accumulators, cblas_sgemm for the B×B×D products of the CLIP loss.
 * References: dn_ref_cross_entropy_*, dn_ref_row_normalize_*, dn_ref_clip_loss_* (compute/ref/).
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>
#include <stdlib.h>

#include "dn-elem-private.h"

static inline uint32_t
groups_x (int64_t n)
{
  return n > 65535 ? 65535 : (uint32_t) n;
}

/* log Σ_k exp(scale·x[k·stride]), max-shifted, in double */
static double
row_lse (const float *x, int64_t len, int64_t stride, float scale)
{
  float m = -INFINITY;
  for (int64_t k = 0; k < len; k++)
    {
      float v = scale * x[k * stride];
      if (v > m || isnan (v))
        m = v;
    }
  double s = 0;
  for (int64_t k = 0; k < len; k++)
    s += exp ((double) (scale * x[k * stride]) - m);
  return m + log (s);
}

static inline bool
target_valid (float t, int64_t K)
{
  return t >= 0 && t < (float) K && t == floorf (t);
}

/* Cross-entropy ---------------------------------------------------------------------------------------- */

typedef struct
{
  uint32_t rows, len, rs, cs;
  float scale;
} LseParams; /* mirrors DN_PARAMS of elem_lse.comp */
_Static_assert (sizeof (LseParams) == 20, "LseParams must match elem_lse.comp");

typedef struct
{
  uint32_t B, K;
} CeLossParams; /* mirrors DN_PARAMS of elem_ce_loss.comp */
_Static_assert (sizeof (CeLossParams) == 8, "CeLossParams must match elem_ce_loss.comp");

typedef struct
{
  uint32_t B, K, has_dloss;
} CeBwdParams; /* mirrors DN_PARAMS of elem_ce_bwd.comp */
_Static_assert (sizeof (CeBwdParams) == 12, "CeBwdParams must match elem_ce_bwd.comp");

typedef struct
{
  const float *logits, *targets, *lse;
  float *lse_w, *dlogits;
  int64_t K;
  float g; /* backward: dloss / B */
} CeArgs;

static void
ce_lse_range (void *ctx, int64_t s, int64_t e)
{
  const CeArgs *a = ctx;
  for (int64_t b = s; b < e; b++)
    a->lse_w[b] = (float) row_lse (a->logits + b * a->K, a->K, 1, 1.0f);
}

static void
ce_backward_range (void *ctx, int64_t s, int64_t e)
{
  const CeArgs *a = ctx;
  int64_t K = a->K;
  for (int64_t b = s; b < e; b++)
    {
      const float *x = a->logits + b * K;
      float *d = a->dlogits + b * K;
      float t = a->targets[b], l = a->lse[b];
      if (!target_valid (t, K))
        {
          for (int64_t k = 0; k < K; k++)
            d[k] += NAN;
          continue;
        }
      for (int64_t k = 0; k < K; k++)
        d[k] += a->g * (expf (x[k] - l) - (k == (int64_t) t ? 1.0f : 0.0f));
    }
}

static DnStatus
ce_check (const char *op, const DnTensor *logits, const DnTensor *targets, const DnTensor *lse)
{
  char s1[128], s2[128], s3[128];
  DN_TRY (elem_check_nonnull (op, "logits", logits));
  DN_TRY (elem_check_nonnull (op, "targets", targets));
  DN_TRY (elem_check_nonnull (op, "lse", lse));
  DN_CHECK_SAME_DEVICE (op, logits, targets);
  DN_CHECK_SAME_DEVICE (op, logits, lse);
  if (logits->ndim != 2 || targets->ndim != 1 || targets->shape[0] != logits->shape[0] || lse->ndim != 1
      || lse->shape[0] != logits->shape[0])
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected logits (B,K), targets (B), lse (B); got %s, %s, %s", op,
                         dn_tensor_shape_str (logits, s1, sizeof s1), dn_tensor_shape_str (targets, s2, sizeof s2),
                         dn_tensor_shape_str (lse, s3, sizeof s3));
  return elem_check_numel (op, logits);
}

static DnStatus
check_scalar (const char *op, const char *name, const DnTensor *t, const DnTensor *like)
{
  char s[128];
  if (!t)
    return DN_OK;
  DN_CHECK_SAME_DEVICE (op, like, t);
  if (dn_tensor_numel (t) != 1)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s must hold one element", op, name,
                         dn_tensor_shape_str (t, s, sizeof s));
  return DN_OK;
}

DnStatus
dn_cross_entropy_forward (DnTensor *loss, DnTensor *lse, const DnTensor *logits, const DnTensor *targets)
{
  const char *op = "cross_entropy_forward";
  DN_TRY (elem_check_nonnull (op, "loss", loss));
  DN_TRY (ce_check (op, logits, targets, lse));
  DN_TRY (check_scalar (op, "loss", loss, logits));
  int64_t B = logits->shape[0], K = logits->shape[1];
  if (B * K == 0)
    return DN_OK;
  DnDevice *dev = logits->dev;
  if (dn_device_is_cpu (dev))
    {
      CeArgs a = { .logits = dn_tensor_host (logits), .lse_w = dn_tensor_host (lse), .K = K };
      dn_cpu_parallel_for (dev, B, 16, ce_lse_range, &a);
      const float *t = dn_tensor_host (targets), *l = dn_tensor_host (lse);
      double s = 0;
      for (int64_t b = 0; b < B; b++)
        s += target_valid (t[b], K) ? (double) l[b] - a.logits[b * K + (int64_t) t[b]] : NAN;
      *dn_tensor_host (loss) = (float) (s / (double) B);
      return DN_OK;
    }
  LseParams lp = { (uint32_t) B, (uint32_t) K, (uint32_t) K, 1, 1.0f };
  DnBinding b1[] = { DN_READ (logits), DN_WRITE (lse) };
  uint32_t gx = groups_x (B);
  DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_LSE, b1, 2, &lp, sizeof lp, gx, dn_div_up (B, gx), 1));
  CeLossParams cp = { (uint32_t) B, (uint32_t) K };
  DnBinding b2[] = { DN_READ (logits), DN_READ (targets), DN_READ (lse), DN_WRITE (loss) };
  return dn_vk_dispatch (dev, DN_SHADER_ELEM_CE_LOSS, b2, 4, &cp, sizeof cp, 1, 1, 1);
}

DnStatus
dn_cross_entropy_backward (DnTensor *dlogits, const DnTensor *lse, const DnTensor *logits, const DnTensor *targets,
                           const DnTensor *dloss)
{
  const char *op = "cross_entropy_backward";
  DN_TRY (elem_check_nonnull (op, "dlogits", dlogits));
  DN_TRY (ce_check (op, logits, targets, lse));
  DN_CHECK_SAME_DEVICE (op, logits, dlogits);
  DN_CHECK_SAME_SHAPE (op, dlogits, logits);
  DN_TRY (check_scalar (op, "dloss", dloss, logits));
  int64_t B = logits->shape[0], K = logits->shape[1];
  if (B * K == 0)
    return DN_OK;
  DnDevice *dev = logits->dev;
  if (dn_device_is_cpu (dev))
    {
      float g = dloss ? *dn_tensor_host (dloss) : 1.0f;
      CeArgs a = { .logits = dn_tensor_host (logits), .targets = dn_tensor_host (targets),
                   .lse = dn_tensor_host (lse), .dlogits = dn_tensor_host (dlogits), .K = K, .g = g / (float) B };
      dn_cpu_parallel_for (dev, B, 16, ce_backward_range, &a);
      return DN_OK;
    }
  CeBwdParams pc = { (uint32_t) B, (uint32_t) K, dloss != NULL };
  DnBinding b[] = { DN_READ (logits), DN_READ (targets), DN_READ (lse), DN_READ (dloss ? dloss : lse),
                    DN_READ_WRITE (dlogits) };
  return dn_vk_dispatch_1d (dev, DN_SHADER_ELEM_CE_BWD, b, 5, &pc, sizeof pc, B * K);
}

/* Row normalisation ------------------------------------------------------------------------------------ */

typedef struct
{
  uint32_t B, D;
  float eps;
  uint32_t has_norm;
} RownormFwdParams; /* mirrors DN_PARAMS of elem_rownorm_fwd.comp */
_Static_assert (sizeof (RownormFwdParams) == 16, "RownormFwdParams must match elem_rownorm_fwd.comp");

typedef struct
{
  uint32_t B, D;
  float eps;
} RownormBwdParams; /* mirrors DN_PARAMS of elem_rownorm_bwd.comp */
_Static_assert (sizeof (RownormBwdParams) == 12, "RownormBwdParams must match elem_rownorm_bwd.comp");

typedef struct
{
  const float *x, *y, *norm, *dy;
  float *yw, *normw, *dx;
  int64_t D;
  float eps;
} RownormArgs;

static void
rownorm_forward_range (void *ctx, int64_t s, int64_t e)
{
  const RownormArgs *a = ctx;
  int64_t D = a->D;
  for (int64_t b = s; b < e; b++)
    {
      const float *x = a->x + b * D;
      double ss = 0;
      for (int64_t d = 0; d < D; d++)
        ss += (double) x[d] * x[d];
      float nrm = (float) sqrt (ss);
      float den = nrm > a->eps ? nrm : a->eps;
      for (int64_t d = 0; d < D; d++)
        a->yw[b * D + d] = x[d] / den;
      if (a->normw)
        a->normw[b] = nrm;
    }
}

static void
rownorm_backward_range (void *ctx, int64_t s, int64_t e)
{
  const RownormArgs *a = ctx;
  int64_t D = a->D;
  for (int64_t b = s; b < e; b++)
    {
      const float *y = a->y + b * D, *g = a->dy + b * D;
      float *dx = a->dx + b * D;
      float nrm = a->norm[b];
      if (nrm >= a->eps)
        {
          double dot = 0;
          for (int64_t d = 0; d < D; d++)
            dot += (double) y[d] * g[d];
          float fdot = (float) dot;
          for (int64_t d = 0; d < D; d++)
            dx[d] += (g[d] - y[d] * fdot) / nrm;
        }
      else
        for (int64_t d = 0; d < D; d++)
          dx[d] += g[d] / a->eps;
    }
}

/* Rows B = dim 0, D = the rest; norm (B) when given. */
static DnStatus
rownorm_check (const char *op, const DnTensor *x, const DnTensor *norm, int64_t *B, int64_t *D)
{
  char s1[128], s2[128];
  if (x->ndim < 2)
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected (B,…) rows, got %s", op, dn_tensor_shape_str (x, s1, sizeof s1));
  *B = x->shape[0];
  *D = 1;
  for (int d = 1; d < x->ndim; d++)
    *D *= x->shape[d];
  if (norm)
    {
      DN_CHECK_SAME_DEVICE (op, x, norm);
      if (norm->ndim != 1 || norm->shape[0] != *B)
        return dn_set_error (DN_ERROR_SHAPE, "%s: norm %s must be (%" PRId64 ") for %s", op,
                             dn_tensor_shape_str (norm, s2, sizeof s2), *B, dn_tensor_shape_str (x, s1, sizeof s1));
    }
  return elem_check_numel (op, x);
}

/* Records/runs out = rownorm(x) on either backend (also used by the CLIP loss with cache views). */
static DnStatus
rownorm_forward_impl (DnTensor *out, DnTensor *norm, const DnTensor *x, int64_t B, int64_t D, float eps)
{
  DnDevice *dev = x->dev;
  if (dn_device_is_cpu (dev))
    {
      RownormArgs a = { .x = dn_tensor_host (x), .yw = dn_tensor_host (out), .normw = norm ? dn_tensor_host (norm) : NULL,
                        .D = D, .eps = eps };
      dn_cpu_parallel_for (dev, B, 8, rownorm_forward_range, &a);
      return DN_OK;
    }
  RownormFwdParams pc = { (uint32_t) B, (uint32_t) D, eps, norm != NULL };
  DnBinding b[] = { DN_READ (x), DN_WRITE (out), norm ? DN_WRITE (norm) : DN_READ (x) };
  uint32_t gx = groups_x (B);
  return dn_vk_dispatch (dev, DN_SHADER_ELEM_ROWNORM_FWD, b, 3, &pc, sizeof pc, gx, dn_div_up (B, gx), 1);
}

DnStatus
dn_row_normalize_forward (DnTensor *out, DnTensor *norm, const DnTensor *inp, float eps)
{
  const char *op = "row_normalize_forward";
  DN_TRY (elem_check_nonnull (op, "out", out));
  DN_TRY (elem_check_nonnull (op, "inp", inp));
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_CHECK_SAME_SHAPE (op, out, inp);
  int64_t B, D;
  DN_TRY (rownorm_check (op, inp, norm, &B, &D));
  if (B * D == 0)
    {
      /* empty rows have norm 0 */
      return norm && B ? dn_tensor_fill (norm, 0.0f) : DN_OK;
    }
  if (elem_overlap (out, inp) && out->offset != inp->offset)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out partially overlaps inp", op);
  return rownorm_forward_impl (out, norm, inp, B, D, eps);
}

DnStatus
dn_row_normalize_backward (DnTensor *dinp, const DnTensor *out, const DnTensor *norm, const DnTensor *dout, float eps)
{
  const char *op = "row_normalize_backward";
  DN_TRY (elem_check_nonnull (op, "dinp", dinp));
  DN_TRY (elem_check_nonnull (op, "out", out));
  DN_TRY (elem_check_nonnull (op, "norm", norm));
  DN_TRY (elem_check_nonnull (op, "dout", dout));
  DN_CHECK_SAME_DEVICE (op, dinp, out);
  DN_CHECK_SAME_DEVICE (op, dinp, dout);
  DN_CHECK_SAME_SHAPE (op, dinp, out);
  DN_CHECK_SAME_SHAPE (op, dinp, dout);
  int64_t B, D;
  DN_TRY (rownorm_check (op, out, norm, &B, &D));
  if (B * D == 0)
    return DN_OK;
  DnDevice *dev = out->dev;
  if (dn_device_is_cpu (dev))
    {
      RownormArgs a = { .y = dn_tensor_host (out), .norm = dn_tensor_host (norm), .dy = dn_tensor_host (dout),
                        .dx = dn_tensor_host (dinp), .D = D, .eps = eps };
      dn_cpu_parallel_for (dev, B, 8, rownorm_backward_range, &a);
      return DN_OK;
    }
  RownormBwdParams pc = { (uint32_t) B, (uint32_t) D, eps };
  DnBinding b[] = { DN_READ (out), DN_READ (norm), DN_READ (dout), DN_READ_WRITE (dinp) };
  uint32_t gx = groups_x (B);
  return dn_vk_dispatch (dev, DN_SHADER_ELEM_ROWNORM_BWD, b, 4, &pc, sizeof pc, gx, dn_div_up (B, gx), 1);
}

/* CLIP loss -------------------------------------------------------------------------------------------- */

#define CLIP_EPS 1e-12f /* DINA's rownorm: x / max(‖x‖₂, 1e-12) */

/* Cache layout (see dn-ops-elem.h and shaders/elem/elem_clip_common.glsl) */
typedef struct
{
  int64_t a, n, sim, lr, lc, na, nn, work, total;
} ClipLayout;

static ClipLayout
clip_layout (int64_t B, int64_t D)
{
  ClipLayout l;
  l.a = 0;
  l.n = B * D;
  l.sim = 2 * B * D;
  l.lr = l.sim + B * B;
  l.lc = l.lr + B;
  l.na = l.lr + 2 * B;
  l.nn = l.lr + 3 * B;
  l.work = l.lr + 4 * B;
  l.total = l.work + 2 * B;
  return l;
}

int64_t
dn_clip_loss_cache_numel (int64_t B, int64_t D)
{
  return clip_layout (B, D).total;
}

typedef struct
{
  uint32_t B, D;
} ClipSimParams; /* mirrors DN_PARAMS of elem_clip_sim.comp and elem_clip_dscale.comp */
_Static_assert (sizeof (ClipSimParams) == 8, "ClipSimParams must match elem_clip_sim.comp");

typedef struct
{
  uint32_t B, D;
  float scale;
} ClipLossParams; /* mirrors DN_PARAMS of elem_clip_loss.comp */
_Static_assert (sizeof (ClipLossParams) == 12, "ClipLossParams must match elem_clip_loss.comp");

typedef struct
{
  uint32_t B, D;
  float scale;
  uint32_t has_dloss;
} ClipRowdotParams; /* mirrors DN_PARAMS of elem_clip_rowdot.comp */
_Static_assert (sizeof (ClipRowdotParams) == 16, "ClipRowdotParams must match elem_clip_rowdot.comp");

typedef struct
{
  uint32_t B, D;
  float scale;
  uint32_t has_dloss;
  float eps;
} ClipGradParams; /* mirrors DN_PARAMS of elem_clip_grad.comp */
_Static_assert (sizeof (ClipGradParams) == 20, "ClipGradParams must match elem_clip_grad.comp");

typedef struct
{
  float *c; /* cache */
  ClipLayout l;
  int64_t B, D;
  float scale, g; /* g = dloss / (2B) */
  float *dS;      /* backward: dS (B,B) */
  const float *G; /* backward: G = dS·n or dSᵀ·a (B,D) */
  float *dst;          /* backward: dimg or dneu */
  int side;
} ClipArgs;

/* u < B: lse over row u of S; u ≥ B: over column u − B */
static void
clip_lse_range (void *ctx, int64_t s, int64_t e)
{
  const ClipArgs *a = ctx;
  int64_t B = a->B;
  const float *sim = a->c + a->l.sim;
  for (int64_t u = s; u < e; u++)
    {
      if (u < B)
        a->c[a->l.lr + u] = (float) row_lse (sim + u * B, B, 1, a->scale);
      else
        a->c[a->l.lc + u - B] = (float) row_lse (sim + (u - B), B, B, a->scale);
    }
}

static DnStatus
clip_check (const char *op, const DnTensor *cache, const DnTensor *img, const DnTensor *neu, int64_t *B, int64_t *D)
{
  char s1[128], s2[128];
  DN_TRY (elem_check_nonnull (op, "cache", cache));
  DN_TRY (elem_check_nonnull (op, "img", img));
  DN_TRY (elem_check_nonnull (op, "neu", neu));
  DN_CHECK_SAME_DEVICE (op, img, neu);
  DN_CHECK_SAME_DEVICE (op, img, cache);
  if (img->ndim < 2 || neu->ndim < 2 || img->shape[0] != neu->shape[0]
      || dn_tensor_numel (img) != dn_tensor_numel (neu))
    return dn_set_error (DN_ERROR_SHAPE, "%s: img %s and neu %s must be (B,…) embeddings of equal size", op,
                         dn_tensor_shape_str (img, s1, sizeof s1), dn_tensor_shape_str (neu, s2, sizeof s2));
  *B = img->shape[0];
  *D = 1;
  for (int d = 1; d < img->ndim; d++)
    *D *= img->shape[d];
  if (*B > 32767)
    return dn_set_error (DN_ERROR_SHAPE, "%s: batch %" PRId64 " exceeds 32767 (the B×B logits)", op, *B);
  int64_t want = dn_clip_loss_cache_numel (*B, *D);
  if (dn_tensor_numel (cache) != want)
    return dn_set_error (DN_ERROR_SHAPE, "%s: cache %s must hold dn_clip_loss_cache_numel (%" PRId64 ", %" PRId64
                         ") = %" PRId64 " elements", op, dn_tensor_shape_str (cache, s1, sizeof s1), *B, *D, want);
  if (elem_overlap (cache, img) || elem_overlap (cache, neu))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: cache must not overlap the embeddings", op);
  DN_TRY (elem_check_numel (op, cache));
  return DN_OK;
}

DnStatus
dn_clip_loss_forward (DnTensor *loss, DnTensor *cache, const DnTensor *img, const DnTensor *neu, float logit_scale)
{
  const char *op = "clip_loss_forward";
  DN_TRY (elem_check_nonnull (op, "loss", loss));
  int64_t B, D;
  DN_TRY (clip_check (op, cache, img, neu, &B, &D));
  DN_TRY (check_scalar (op, "loss", loss, img));
  if (B * D == 0)
    return DN_OK;
  ClipLayout l = clip_layout (B, D);
  DnTensor va = elem_sub (cache, l.a, B * D), vn = elem_sub (cache, l.n, B * D);
  DnTensor vna = elem_sub (cache, l.na, B), vnn = elem_sub (cache, l.nn, B);
  va.ndim = vn.ndim = 2; /* (B,D) views for the row normalisation */
  va.shape[0] = vn.shape[0] = B;
  va.shape[1] = vn.shape[1] = D;
  DN_TRY (rownorm_forward_impl (&va, &vna, img, B, D, CLIP_EPS));
  DN_TRY (rownorm_forward_impl (&vn, &vnn, neu, B, D, CLIP_EPS));
  DnDevice *dev = img->dev;
  if (dn_device_is_cpu (dev))
    {
      float *c = dn_tensor_host (cache);
      dn_cpu_sgemm (dev, false, true, B, B, D, 1.0f, c + l.a, D, c + l.n, D, 0.0f, c + l.sim, B);
      ClipArgs a = { .c = c, .l = l, .B = B, .D = D, .scale = logit_scale };
      dn_cpu_parallel_for (dev, 2 * B, 8, clip_lse_range, &a);
      double s = 0;
      for (int64_t i = 0; i < B; i++)
        s += (double) c[l.lr + i] + c[l.lc + i] - 2.0 * (double) (logit_scale * c[l.sim + i * B + i]);
      *dn_tensor_host (loss) = (float) (s / (2.0 * (double) B));
      return DN_OK;
    }
  ClipSimParams sp = { (uint32_t) B, (uint32_t) D };
  DnBinding b1[] = { DN_READ_WRITE (cache) };
  DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_CLIP_SIM, b1, 1, &sp, sizeof sp, dn_div_up (B, 16), dn_div_up (B, 16), 1));
  DnTensor vsim = elem_sub (cache, l.sim, B * B), vlr = elem_sub (cache, l.lr, B), vlc = elem_sub (cache, l.lc, B);
  uint32_t gx = groups_x (B);
  LseParams rows = { (uint32_t) B, (uint32_t) B, (uint32_t) B, 1, logit_scale };
  DnBinding b2[] = { DN_READ (&vsim), DN_WRITE (&vlr) };
  DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_LSE, b2, 2, &rows, sizeof rows, gx, dn_div_up (B, gx), 1));
  LseParams cols = { (uint32_t) B, (uint32_t) B, 1, (uint32_t) B, logit_scale };
  DnBinding b3[] = { DN_READ (&vsim), DN_WRITE (&vlc) };
  DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_LSE, b3, 2, &cols, sizeof cols, gx, dn_div_up (B, gx), 1));
  ClipLossParams lp = { (uint32_t) B, (uint32_t) D, logit_scale };
  DnBinding b4[] = { DN_READ (cache), DN_WRITE (loss) };
  return dn_vk_dispatch (dev, DN_SHADER_ELEM_CLIP_LOSS, b4, 2, &lp, sizeof lp, 1, 1, 1);
}

/* dS (B,B) = ∂loss/∂S and the row/column dots r_i = Σ_j dS_ij sim_ij, c_j = Σ_i dS_ij sim_ij (into work) */
static void
clip_ds_range (void *ctx, int64_t s, int64_t e)
{
  const ClipArgs *a = ctx;
  int64_t B = a->B;
  const float *c = a->c;
  float *dS = a->dS;
  for (int64_t i = s; i < e; i++)
    for (int64_t j = 0; j < B; j++)
      {
        float z = a->scale * c[a->l.sim + i * B + j];
        dS[i * B + j] = a->g * (expf (z - c[a->l.lr + i]) + expf (z - c[a->l.lc + j]) - (i == j ? 2.0f : 0.0f));
      }
}

static void
clip_dots_range (void *ctx, int64_t s, int64_t e)
{
  const ClipArgs *a = ctx;
  int64_t B = a->B;
  const float *sim = a->c + a->l.sim;
  for (int64_t u = s; u < e; u++)
    {
      double acc = 0;
      if (u < B)
        for (int64_t j = 0; j < B; j++)
          acc += (double) a->dS[u * B + j] * sim[u * B + j];
      else
        for (int64_t i = 0; i < B; i++)
          acc += (double) a->dS[i * B + (u - B)] * sim[i * B + (u - B)];
      a->c[a->l.work + u] = (float) acc;
    }
}

/* dst[u,d] += s·(G[u,d] − coef_u·self[u,d]) / ‖x_u‖ (or s·G/eps when ‖x_u‖ < eps) */
static void
clip_epilogue_range (void *ctx, int64_t s, int64_t e)
{
  const ClipArgs *a = ctx;
  int64_t B = a->B, D = a->D;
  const float *self = a->c + (a->side == 0 ? a->l.a : a->l.n);
  const float *nrm = a->c + (a->side == 0 ? a->l.na : a->l.nn);
  const float *coef = a->c + a->l.work + (a->side == 0 ? 0 : B);
  for (int64_t u = s; u < e; u++)
    {
      float nv = nrm[u];
      for (int64_t d = 0; d < D; d++)
        {
          float r = nv >= CLIP_EPS ? a->scale * (a->G[u * D + d] - coef[u] * self[u * D + d]) / nv
                                   : a->scale * a->G[u * D + d] / CLIP_EPS;
          a->dst[u * D + d] += r;
        }
    }
}

DnStatus
dn_clip_loss_backward (DnTensor *dimg, DnTensor *dneu, DnTensor *dscale, DnTensor *cache, const DnTensor *img,
                       const DnTensor *neu, const DnTensor *dloss, float logit_scale)
{
  const char *op = "clip_loss_backward";
  int64_t B, D;
  DN_TRY (clip_check (op, cache, img, neu, &B, &D));
  if (dimg)
    {
      DN_CHECK_SAME_DEVICE (op, img, dimg);
      DN_CHECK_SAME_SHAPE (op, dimg, img);
    }
  if (dneu)
    {
      DN_CHECK_SAME_DEVICE (op, neu, dneu);
      DN_CHECK_SAME_SHAPE (op, dneu, neu);
    }
  DN_TRY (check_scalar (op, "dscale", dscale, img));
  DN_TRY (check_scalar (op, "dloss", dloss, img));
  if (B * D == 0 || (!dimg && !dneu && !dscale))
    return DN_OK;
  ClipLayout l = clip_layout (B, D);
  DnDevice *dev = img->dev;
  if (dn_device_is_cpu (dev))
    {
      float g = (dloss ? *dn_tensor_host (dloss) : 1.0f) / (2.0f * (float) B);
      float *dS = malloc (sizeof (float) * (size_t) (B * B));
      float *G = malloc (sizeof (float) * (size_t) (B * D));
      if (!dS || !G)
        {
          free (dS);
          free (G);
          return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of host memory (B %" PRId64 ", D %" PRId64 ")", op, B, D);
        }
      ClipArgs a = { .c = dn_tensor_host (cache), .l = l, .B = B, .D = D, .scale = logit_scale, .g = g, .dS = dS, .G = G };
      dn_cpu_parallel_for (dev, B, 8, clip_ds_range, &a);
      dn_cpu_parallel_for (dev, 2 * B, 8, clip_dots_range, &a);
      if (dscale)
        {
          double s = 0;
          for (int64_t i = 0; i < B; i++)
            s += a.c[l.work + i];
          *dn_tensor_host (dscale) += (float) s;
        }
      for (int side = 0; side < 2; side++)
        {
          DnTensor *dst = side == 0 ? dimg : dneu;
          if (!dst)
            continue;
          /* side 0: G = dS·n; side 1: G = dSᵀ·a */
          dn_cpu_sgemm (dev, !(side == 0), false, B, D, B, 1.0f, dS, B, a.c + (side == 0 ? l.n : l.a), D, 0.0f, G, D);
          a.side = side;
          a.dst = dn_tensor_host (dst);
          dn_cpu_parallel_for (dev, B, 4, clip_epilogue_range, &a);
        }
      free (dS);
      free (G);
      return DN_OK;
    }
  const DnTensor *dl = dloss ? dloss : cache;
  ClipRowdotParams rp = { (uint32_t) B, (uint32_t) D, logit_scale, dloss != NULL };
  DnBinding b1[] = { DN_READ_WRITE (cache), DN_READ (dl) };
  DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_CLIP_ROWDOT, b1, 2, &rp, sizeof rp, (uint32_t) (2 * B), 1, 1));
  if (dscale)
    {
      ClipSimParams sp = { (uint32_t) B, (uint32_t) D };
      DnBinding b2[] = { DN_READ (cache), DN_READ_WRITE (dscale) };
      DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_CLIP_DSCALE, b2, 2, &sp, sizeof sp, 1, 1, 1));
    }
  ClipGradParams gp = { (uint32_t) B, (uint32_t) D, logit_scale, dloss != NULL, CLIP_EPS };
  for (int side = 0; side < 2; side++)
    {
      DnTensor *dst = side == 0 ? dimg : dneu;
      if (!dst)
        continue;
      DnBinding b3[] = { DN_READ (cache), DN_READ (dl), DN_READ_WRITE (dst) };
      DN_TRY (dn_vk_dispatch (dev, side == 0 ? DN_SHADER_ELEM_CLIP_GRAD_IMG : DN_SHADER_ELEM_CLIP_GRAD_NEU, b3, 3, &gp,
                              sizeof gp, dn_div_up (D, 16), dn_div_up (B, 16), 1));
    }
  return DN_OK;
}
