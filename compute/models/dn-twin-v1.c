/* dn-twin-v1.c: one V1GrayTaskDriven member (twins.md §2): ConvNeXt-V2-atto patch embedding, stem
 * LayerNorm, stage-0 blocks 0–1, stage-1 downsampling, BatchNorm + GELU, Gaussian readout. Forward and
 * the backward to the input, written out op by op (llm.c style).
 *
 *   x (N,1|3,93,93) → patch conv 4×4 s4 (N,40,23,23) → LN_cf "stem"
 *   → 2 × [ r + permute(pw2(GRN(GELU(pw1(LN(permute(dwconv7×7(r))))))) ] "stage0"
 *   → LN_cf → conv 2×2 s2 (N,80,11,11) "downsample" → BN eval → GELU "bn_gelu" → readout y (N,458)
 * A 1-channel input is repeated to 3 channels in the original; here the patch conv uses the 3 input
 * channels' weights summed (the same linear map).
 * On the CPU backend a forward that no backward follows takes the fused path of dn-twin-v1-cpu.c instead
 * (v1_forward_infer); the activations below are then allocated only when a backward or the
 * intermediates need them.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-ops.h"
#include "dn-twin-private.h"

#define P "core.features.backbone.model."
#define C0 40
#define C1 80
#define HID 160

typedef struct
{
  DnTensor *dw_w, *dw_b, *ln_w, *ln_b, *pw1_w, *pw1_b, *grn_g, *grn_b, *pw2_w, *pw2_b;
} Block;

typedef struct
{
  DnTwinMember base;
  DnTensor *patch_w1, *patch_w3, *patch_b, *stem_w, *stem_b;
  Block blk[2];
  DnTensor *ds_ln_w, *ds_ln_b, *ds_w, *ds_b;
  DnTensor *bn_w, *bn_b, *bn_rm, *bn_rv;
  DnTensor *mu, *features, *bias;
  DnTwinV1Cpu *cpu; /* the fused CPU forward's weights (CPU backend only) */
} V1Member;

/* Activations of one block, and the gradient buffers that mirror them. */
typedef struct
{
  DnTensor *dw, *dwp, *ln, *ln_mean, *ln_rstd, *h1, *g, *q, *gx, *nx, *h2, *h2p, *out;
} BlockActs;

typedef struct
{
  DnArena *arena;
  int64_t N;
  DnTensor *patch, *stem, *stem_mean, *stem_rstd;
  BlockActs b[2];
  DnTensor *dsln, *ds_mean, *ds_rstd, *ds, *bn, *act;
  /* gradients (same shapes) */
  DnTensor *g_patch, *g_stem, *g_dsln, *g_ds, *g_bn, *g_act;
  BlockActs gb[2];
  const DnTensor *mu_used; /* the readout positions of the last forward (NULL = centered) */
  DnDevice *dev;
  bool have_intermediates; /* whether the last forward filled stem, b[1].out, ds, act */
  DnTwinV1CpuWork *cpu;    /* the fused CPU forward's scratch (made on first use) */
} V1Work;

static const int TO_NHWC[4] = { 0, 2, 3, 1 };
static const int TO_NCHW[4] = { 0, 3, 1, 2 };

/* Loading ------------------------------------------------------------------------------------------- */

static void
v1_free (DnTwinMember *base)
{
  V1Member *m = (V1Member *) base;
  if (!m)
    return;
  DnTensor **all[] = { &m->patch_w1, &m->patch_w3, &m->patch_b, &m->stem_w, &m->stem_b, &m->ds_ln_w,
                       &m->ds_ln_b,  &m->ds_w,     &m->ds_b,    &m->bn_w,   &m->bn_b,   &m->bn_rm,
                       &m->bn_rv,    &m->mu,       &m->features, &m->bias };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    dn_tensor_free (*all[i]);
  dn_twin_v1_cpu_free (m->cpu);
  for (int j = 0; j < 2; j++)
    {
      Block *b = &m->blk[j];
      DnTensor *bl[] = { b->dw_w, b->dw_b, b->ln_w, b->ln_b, b->pw1_w, b->pw1_b, b->grn_g, b->grn_b, b->pw2_w, b->pw2_b };
      for (size_t i = 0; i < sizeof bl / sizeof bl[0]; i++)
        dn_tensor_free (bl[i]);
    }
  free (m);
}

DnTwinMember *
dn_twin_v1_member_new (DnDevice *dev, const DnWeightSet *ws, DnTwinInfo *info, DnStatus *status)
{
  V1Member *m = calloc (1, sizeof *m);
  if (!m)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  DnStatus st = DN_OK;
  const DnHostTensor *ro_f;
  if ((st = dn_weight_set_get (ws, "readout.all_sessions._features", 4, (const int64_t[]){ 1, C1, 1, -1 }, &ro_f)))
    goto fail;
  int64_t K = ro_f->shape[3];

#define LOAD(dst, key, ndim, ...)                                                                     \
  if (!((dst) = dn_twin_load_param (dev, ws, (key), (ndim), (const int64_t[]){ __VA_ARGS__ }, &st)))      \
    goto fail;
  LOAD (m->patch_w3, P "embeddings.patch_embeddings.weight", 4, C0, 3, 4, 4);
  LOAD (m->patch_b, P "embeddings.patch_embeddings.bias", 1, C0);
  LOAD (m->stem_w, P "embeddings.layernorm.weight", 1, C0);
  LOAD (m->stem_b, P "embeddings.layernorm.bias", 1, C0);
  for (int j = 0; j < 2; j++)
    {
      char k[256];
      Block *b = &m->blk[j];
#define BK(s) (snprintf (k, sizeof k, P "encoder.stages.0.layers.%d.%s", j, (s)), k)
      LOAD (b->dw_w, BK ("dwconv.weight"), 4, C0, 1, 7, 7);
      LOAD (b->dw_b, BK ("dwconv.bias"), 1, C0);
      LOAD (b->ln_w, BK ("layernorm.weight"), 1, C0);
      LOAD (b->ln_b, BK ("layernorm.bias"), 1, C0);
      LOAD (b->pw1_w, BK ("pwconv1.weight"), 2, HID, C0);
      LOAD (b->pw1_b, BK ("pwconv1.bias"), 1, HID);
      LOAD (b->grn_g, BK ("grn.weight"), 1, HID);
      LOAD (b->grn_b, BK ("grn.bias"), 1, HID);
      LOAD (b->pw2_w, BK ("pwconv2.weight"), 2, C0, HID);
      LOAD (b->pw2_b, BK ("pwconv2.bias"), 1, C0);
#undef BK
    }
  LOAD (m->ds_ln_w, P "encoder.stages.1.downsampling_layer.0.weight", 1, C0);
  LOAD (m->ds_ln_b, P "encoder.stages.1.downsampling_layer.0.bias", 1, C0);
  LOAD (m->ds_w, P "encoder.stages.1.downsampling_layer.1.weight", 4, C1, C0, 2, 2);
  LOAD (m->ds_b, P "encoder.stages.1.downsampling_layer.1.bias", 1, C1);
  LOAD (m->bn_w, "core.features.OutBatchNorm.weight", 1, C1);
  LOAD (m->bn_b, "core.features.OutBatchNorm.bias", 1, C1);
  LOAD (m->bn_rm, "core.features.OutBatchNorm.running_mean", 1, C1);
  LOAD (m->bn_rv, "core.features.OutBatchNorm.running_var", 1, C1);
  LOAD (m->mu, "readout.all_sessions._mu", 2, K, 2);
  LOAD (m->bias, "readout.all_sessions.bias", 1, K);
  /* _features (1,C,1,K) is (C,K) in memory */
  LOAD (m->features, "readout.all_sessions._features", 2, C1, K);
#undef LOAD
  /* the patch conv for 1-channel input: the 3 input channels' weights summed */
  {
    const DnHostTensor *w3;
    if ((st = dn_weight_set_get (ws, P "embeddings.patch_embeddings.weight", 4, (const int64_t[]){ C0, 3, 4, 4 }, &w3)))
      goto fail;
    float w1[C0 * 16];
    for (int o = 0; o < C0; o++)
      for (int t = 0; t < 16; t++)
        w1[o * 16 + t] = w3->data[(o * 3 + 0) * 16 + t] + w3->data[(o * 3 + 1) * 16 + t] + w3->data[(o * 3 + 2) * 16 + t];
    if (!(m->patch_w1 = dn_tensor_new4 (dev, C0, 1, 4, 4, &st)) || (st = dn_tensor_upload (m->patch_w1, w1, C0 * 16)))
      goto fail;
  }
  if (dn_device_is_cpu (dev))
    {
#define H(t) dn_tensor_host (t)
      DnTwinV1Params p = { .patch_w1 = H (m->patch_w1), .patch_w3 = H (m->patch_w3), .patch_b = H (m->patch_b),
                           .stem_w = H (m->stem_w), .stem_b = H (m->stem_b), .ds_ln_w = H (m->ds_ln_w),
                           .ds_ln_b = H (m->ds_ln_b), .ds_w = H (m->ds_w), .ds_b = H (m->ds_b), .bn_w = H (m->bn_w),
                           .bn_b = H (m->bn_b), .bn_rm = H (m->bn_rm), .bn_rv = H (m->bn_rv), .mu = H (m->mu),
                           .features = H (m->features), .bias = H (m->bias), .K = (int) K };
      for (int j = 0; j < 2; j++)
        {
          Block *b = &m->blk[j];
          p.blk[j] = (DnTwinV1BlockParams){ H (b->dw_w),  H (b->dw_b),  H (b->ln_w),  H (b->ln_b),  H (b->pw1_w),
                                            H (b->pw1_b), H (b->grn_g), H (b->grn_b), H (b->pw2_w), H (b->pw2_b) };
        }
#undef H
      if (!(m->cpu = dn_twin_v1_cpu_new (&p, &st)))
        goto fail;
    }
  m->base.klass = &dn_twin_v1_class;
  info->arch = DN_ARCH_V1_CONVNEXT;
  info->arch_name = "V1GrayTaskDriven";
  info->in_channels = 1;
  info->in_h = info->in_w = 93;
  info->n_neurons = (int) K;
  info->n_parameters = dn_twin_count_parameters (ws);
  *status = DN_OK;
  return &m->base;
fail:
  v1_free (&m->base);
  *status = st;
  return NULL;
}

/* Workspace ----------------------------------------------------------------------------------------- */

static void
v1_free_tensors (V1Work *w)
{
  DnTensor **t = (DnTensor **) &w->patch;
  DnTensor **end = (DnTensor **) (&w->gb[1] + 1);
  for (; t < end; t++)
    {
      dn_tensor_free (*t);
      *t = NULL;
    }
}

static void
v1_workspace_free (void *p)
{
  V1Work *w = p;
  if (!w)
    return;
  v1_free_tensors (w);
  dn_arena_free (w->arena);
  dn_twin_v1_cpu_work_free (w->cpu);
  free (w);
}

/* Carves every activation and gradient tensor of a batch of N from @a (measuring or real). */
static DnStatus
v1_carve (V1Work *w, DnArena *a, int64_t N)
{
  DnStatus st = DN_OK;
#define T(dst, ...)                                                                                   \
  if (!((dst) = dn_arena_tensor (a, DN_NARGS (__VA_ARGS__), (const int64_t[]){ __VA_ARGS__ }, &st))) \
    return st;
  for (int g = 0; g < 2; g++)
    {
      /* g = 0: activations, g = 1: their gradients (the caches mean/rstd/gx/nx have none) */
      DnTensor **patch = g ? &w->g_patch : &w->patch, **stem = g ? &w->g_stem : &w->stem;
      T (*patch, N, C0, 23, 23);
      T (*stem, N, C0, 23, 23);
      if (!g)
        {
          T (w->stem_mean, N, 23, 23);
          T (w->stem_rstd, N, 23, 23);
        }
      for (int j = 0; j < 2; j++)
        {
          BlockActs *b = g ? &w->gb[j] : &w->b[j];
          T (b->dw, N, C0, 23, 23);
          T (b->dwp, N, 23, 23, C0);
          T (b->ln, N, 23, 23, C0);
          T (b->h1, N, 23, 23, HID);
          T (b->g, N, 23, 23, HID);
          T (b->q, N, 23, 23, HID);
          T (b->h2, N, 23, 23, C0);
          T (b->h2p, N, C0, 23, 23);
          T (b->out, N, C0, 23, 23);
          if (!g)
            {
              T (b->ln_mean, N, 23, 23);
              T (b->ln_rstd, N, 23, 23);
              T (b->gx, N, HID);
              T (b->nx, N, HID);
            }
        }
      DnTensor **dsln = g ? &w->g_dsln : &w->dsln, **ds = g ? &w->g_ds : &w->ds;
      DnTensor **bn = g ? &w->g_bn : &w->bn, **act = g ? &w->g_act : &w->act;
      T (*dsln, N, C0, 23, 23);
      T (*ds, N, C1, 11, 11);
      T (*bn, N, C1, 11, 11);
      T (*act, N, C1, 11, 11);
      if (!g)
        {
          T (w->ds_mean, N, 23, 23);
          T (w->ds_rstd, N, 23, 23);
        }
    }
#undef T
  return DN_OK;
}

/* Allocates the activations and gradients (on first need: the fused CPU forward needs none). */
static DnStatus
v1_ensure_arena (V1Work *w)
{
  if (w->arena)
    return DN_OK;
  DnStatus st;
  DnArena *measure = dn_arena_new (w->dev, 0, &st);
  if (!measure)
    return st;
  V1Work tmp = { 0 };
  st = v1_carve (&tmp, measure, w->N);
  size_t bytes = dn_arena_bytes (measure);
  v1_free_tensors (&tmp);
  dn_arena_free (measure);
  if (st != DN_OK)
    return st;
  if (!(w->arena = dn_arena_new (w->dev, bytes, &st)))
    return st;
  if ((st = v1_carve (w, w->arena, w->N)) != DN_OK)
    {
      v1_free_tensors (w);
      dn_arena_free (w->arena);
      w->arena = NULL;
    }
  return st;
}

static void *
v1_workspace_new (DnDevice *dev, const DnTwinMember *m, int64_t N, DnStatus *status)
{
  V1Work *w = calloc (1, sizeof *w);
  if (!w)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  w->dev = dev;
  w->N = N;
  *status = DN_OK;
  return w;
}

static const DnTensor *
v1_intermediate (void *p, const char *name)
{
  V1Work *w = p;
  if (!w->have_intermediates)
    return NULL;
  if (strcmp (name, "stem") == 0)
    return w->stem;
  if (strcmp (name, "stage0") == 0)
    return w->b[1].out;
  if (strcmp (name, "downsample") == 0)
    return w->ds;
  if (strcmp (name, "bn_gelu") == 0)
    return w->act;
  return NULL;
}

/* Forward / backward -------------------------------------------------------------------------------- */

static const DnConv2dParams PATCH = { .stride_h = 4, .stride_w = 4 };
static const DnConv2dParams DW = { .pad_h = 3, .pad_w = 3, .groups = C0 };
static const DnConv2dParams DS = { .stride_h = 2, .stride_w = 2 };

static DnStatus
v1_forward (DnTwinMember *base, void *p, DnTensor *y, const DnTensor *x, bool centered)
{
  V1Member *m = (V1Member *) base;
  V1Work *w = p;
  DN_TRY (v1_ensure_arena (w));
  w->have_intermediates = false;
  const DnTensor *pw = x->shape[1] == 1 ? m->patch_w1 : m->patch_w3;
  DN_TRY (dn_conv2d_forward (w->patch, x, pw, m->patch_b, &PATCH));
  DN_TRY (dn_layernorm_channels_first_forward (w->stem, w->stem_mean, w->stem_rstd, w->patch, m->stem_w, m->stem_b, 1e-6f));
  const DnTensor *in = w->stem;
  for (int j = 0; j < 2; j++)
    {
      Block *b = &m->blk[j];
      BlockActs *a = &w->b[j];
      DN_TRY (dn_conv2d_forward (a->dw, in, b->dw_w, b->dw_b, &DW));
      DN_TRY (dn_permute4_forward (a->dwp, a->dw, TO_NHWC));
      DN_TRY (dn_layernorm_forward (a->ln, a->ln_mean, a->ln_rstd, a->dwp, b->ln_w, b->ln_b, 1e-6f));
      DN_TRY (dn_linear_forward (a->h1, a->ln, b->pw1_w, b->pw1_b));
      DN_TRY (dn_gelu_forward (a->g, a->h1));
      DN_TRY (dn_grn_forward (a->q, a->gx, a->nx, a->g, b->grn_g, b->grn_b, 1e-6f));
      DN_TRY (dn_linear_forward (a->h2, a->q, b->pw2_w, b->pw2_b));
      DN_TRY (dn_permute4_forward (a->h2p, a->h2, TO_NCHW));
      DN_TRY (dn_add_forward (a->out, in, a->h2p));
      in = a->out;
    }
  DN_TRY (dn_layernorm_channels_first_forward (w->dsln, w->ds_mean, w->ds_rstd, in, m->ds_ln_w, m->ds_ln_b, 1e-6f));
  DN_TRY (dn_conv2d_forward (w->ds, w->dsln, m->ds_w, m->ds_b, &DS));
  DN_TRY (dn_batchnorm_eval_forward (w->bn, w->ds, m->bn_w, m->bn_b, m->bn_rm, m->bn_rv, 1e-5f));
  DN_TRY (dn_gelu_forward (w->act, w->bn));
  w->mu_used = centered ? NULL : m->mu;
  DN_TRY (dn_readout_forward (y, w->act, w->mu_used, m->features, m->bias));
  w->have_intermediates = true;
  return DN_OK;
}

/* Forward with no backward to follow: on the CPU backend the fused path (dn-twin-v1-cpu.c). */
static DnStatus
v1_forward_infer (DnTwinMember *base, void *p, DnTensor *y, const DnTensor *x, bool centered, bool keep)
{
  V1Member *m = (V1Member *) base;
  V1Work *w = p;
  if (!m->cpu || !dn_device_is_cpu (x->dev) || x->shape[0] != w->N)
    return v1_forward (base, p, y, x, centered);
  DnStatus st;
  if (!w->cpu && !(w->cpu = dn_twin_v1_cpu_work_new (dn_device_n_threads (x->dev), &st)))
    return st;
  w->have_intermediates = false;
  DnTwinV1Keep k = { 0 };
  if (keep)
    {
      DN_TRY (v1_ensure_arena (w));
      k = (DnTwinV1Keep){ dn_tensor_host (w->stem), dn_tensor_host (w->b[1].out), dn_tensor_host (w->ds),
                          dn_tensor_host (w->act) };
    }
  dn_twin_v1_cpu_forward (x->dev, m->cpu, w->cpu, dn_tensor_host (y), dn_tensor_host (x), x->shape[0],
                          (int) x->shape[1], centered, keep ? &k : NULL);
  w->have_intermediates = keep;
  return DN_OK;
}

/* Forward+backward in one pass per image: on the CPU backend with the centred readout (dn-twin-v1-cpu.c). */
static DnStatus
v1_forward_backward (DnTwinMember *base, void *p, DnTensor *y, DnTensor *dx, const DnTensor *x, const DnTensor *dout,
                     float scale, bool centered, bool *done)
{
  V1Member *m = (V1Member *) base;
  V1Work *w = p;
  *done = false;
  if (!m->cpu || !centered || !dn_device_is_cpu (x->dev) || x->shape[0] != w->N)
    return DN_OK;
  DnStatus st;
  if (!w->cpu && !(w->cpu = dn_twin_v1_cpu_work_new (dn_device_n_threads (x->dev), &st)))
    return st;
  w->have_intermediates = false;
  DN_TRY (dn_twin_v1_cpu_forward_backward (x->dev, m->cpu, w->cpu, dn_tensor_host (y), dn_tensor_host (dx),
                                           dn_tensor_host (x), dn_tensor_host (dout), scale, x->shape[0],
                                           (int) x->shape[1]));
  *done = true;
  return DN_OK;
}

static DnStatus
v1_backward (DnTwinMember *base, void *p, DnTensor *dx, const DnTensor *dy, const DnTensor *x)
{
  V1Member *m = (V1Member *) base;
  V1Work *w = p;
  /* zero the gradient buffers (backward ops accumulate) */
  DnTensor *zero[] = { w->g_patch, w->g_stem, w->g_dsln, w->g_ds, w->g_bn, w->g_act };
  for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
    DN_TRY (dn_tensor_fill (zero[i], 0));
  for (int j = 0; j < 2; j++)
    {
      BlockActs *g = &w->gb[j];
      DnTensor *bz[] = { g->dw, g->dwp, g->ln, g->h1, g->g, g->q, g->h2, g->h2p, g->out };
      for (size_t i = 0; i < sizeof bz / sizeof bz[0]; i++)
        DN_TRY (dn_tensor_fill (bz[i], 0));
    }
  DN_TRY (dn_readout_backward (w->g_act, NULL, NULL, NULL, dy, w->act, w->mu_used, m->features));
  DN_TRY (dn_gelu_backward (w->g_bn, w->bn, w->g_act));
  DN_TRY (dn_batchnorm_eval_backward (w->g_ds, NULL, NULL, w->g_bn, w->ds, m->bn_w, m->bn_rm, m->bn_rv, 1e-5f));
  DN_TRY (dn_conv2d_backward (w->g_dsln, NULL, NULL, w->g_ds, w->dsln, m->ds_w, &DS));
  DN_TRY (dn_layernorm_channels_first_backward (w->gb[1].out, NULL, NULL, w->g_dsln, w->b[1].out, m->ds_ln_w,
                                                w->ds_mean, w->ds_rstd));
  for (int j = 1; j >= 0; j--)
    {
      Block *b = &m->blk[j];
      BlockActs *a = &w->b[j], *g = &w->gb[j];
      const DnTensor *in = j ? w->b[0].out : w->stem;
      DnTensor *g_in = j ? w->gb[0].out : w->g_stem;
      /* residual: out = in + h2p */
      DN_TRY (dn_axpy (g_in, g->out, 1.0f));
      DN_TRY (dn_permute4_backward (g->h2, g->out, TO_NCHW));
      DN_TRY (dn_linear_backward (g->q, NULL, NULL, g->h2, a->q, b->pw2_w));
      DN_TRY (dn_grn_backward (g->g, NULL, NULL, g->q, a->g, b->grn_g, a->gx, a->nx, 1e-6f));
      DN_TRY (dn_gelu_backward (g->h1, a->h1, g->g));
      DN_TRY (dn_linear_backward (g->ln, NULL, NULL, g->h1, a->ln, b->pw1_w));
      DN_TRY (dn_layernorm_backward (g->dwp, NULL, NULL, g->ln, a->dwp, b->ln_w, a->ln_mean, a->ln_rstd));
      DN_TRY (dn_permute4_backward (g->dw, g->dwp, TO_NHWC));
      DN_TRY (dn_conv2d_backward (g_in, NULL, NULL, g->dw, in, b->dw_w, &DW));
    }
  DN_TRY (dn_layernorm_channels_first_backward (w->g_patch, NULL, NULL, w->g_stem, w->patch, m->stem_w,
                                                w->stem_mean, w->stem_rstd));
  const DnTensor *pw = x->shape[1] == 1 ? m->patch_w1 : m->patch_w3;
  return dn_conv2d_backward (dx, NULL, NULL, w->g_patch, x, pw, &PATCH);
}

const DnTwinMemberClass dn_twin_v1_class = {
  .forward = v1_forward,
  .forward_infer = v1_forward_infer,
  .forward_backward = v1_forward_backward,
  .backward = v1_backward,
  .workspace_new = v1_workspace_new,
  .workspace_free = v1_workspace_free,
  .intermediate = v1_intermediate,
  .free = v1_free,
};
