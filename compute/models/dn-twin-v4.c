/* dn-twin-v4.c: one V4ColorTaskDriven / V4GrayTaskDriven member (twins.md §3, §3.1): torchvision
 * ResNet-50 (v1.5: stride on the 3×3 conv) up to layer3.0, OutBatchNorm + ReLU, Gaussian readout.
 * Forward and backward to the input, op by op.
 *
 *   x (N,3,100,100) → conv1 7×7 s2 p3 → bn1 → relu "conv1_bn_relu" (N,64,50,50) → maxpool 3 s2 p1 (N,64,25,25)
 *   → layer1 (3 blocks, 256) → layer2 (4 blocks, 512, s2) → layer3.0 (1024, s2) (N,1024,7,7)
 *   → OutBatchNorm → ReLU "out_bn_relu" → readout y (N,K)
 * Bottleneck: relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + downsample(x)). All convs bias-free,
 * all BN eps 1e-5. A 1-channel input (V4Gray) uses conv1's 3 input channels' weights summed.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-ops.h"
#include "dn-twin-private.h"

#define T "core.features.TaskDriven."
#define N_BLOCKS 8

typedef struct
{
  DnTensor *w, *g, *b, *rm, *rv; /* conv weight + BN weight, bias, running mean/var */
  DnConv2dParams p;
} ConvBn;

typedef struct
{
  ConvBn c1, c2, c3, ds;
  bool has_ds;
  int cin, width, cout, stride;
} Bottleneck;

typedef struct
{
  DnTwinMember base;
  ConvBn stem;
  DnTensor *stem_w1; /* conv1 for 1-channel input */
  Bottleneck blk[N_BLOCKS];
  DnTensor *obn_g, *obn_b, *obn_rm, *obn_rv;
  DnTensor *mu, *features, *bias;
} V4Member;

typedef struct
{
  DnTensor *c1, *b1, *r1, *c2, *b2, *r2, *c3, *b3, *dsc, *dsb, *sum, *out;
} BlockActs;

typedef struct
{
  DnArena *arena;
  DnTensor *conv1, *bn1, *relu1, *pool, *argmax, *obn, *act;
  DnTensor *g_conv1, *g_bn1, *g_relu1, *g_pool, *g_obn, *g_act;
  BlockActs a[N_BLOCKS], g[N_BLOCKS];
  const DnTensor *mu_used;
} V4Work;

static const DnPool2dParams POOL = { .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1 };

/* Block table: layer1.0-2, layer2.0-3, layer3.0 ("0." in the checkpoint). */
static void
block_layout (int i, char *prefix, size_t size, int *cin, int *width, int *cout, int *stride)
{
  if (i < 3)
    {
      snprintf (prefix, size, T "layer1.%d.", i);
      *cin = i == 0 ? 64 : 256, *width = 64, *cout = 256, *stride = 1;
    }
  else if (i < 7)
    {
      snprintf (prefix, size, T "layer2.%d.", i - 3);
      *cin = i == 3 ? 256 : 512, *width = 128, *cout = 512, *stride = i == 3 ? 2 : 1;
    }
  else
    {
      snprintf (prefix, size, T "0.");
      *cin = 512, *width = 256, *cout = 1024, *stride = 2;
    }
}

static void
convbn_free (ConvBn *c)
{
  dn_tensor_free (c->w);
  dn_tensor_free (c->g);
  dn_tensor_free (c->b);
  dn_tensor_free (c->rm);
  dn_tensor_free (c->rv);
}

static void
v4_free (DnTwinMember *base)
{
  V4Member *m = (V4Member *) base;
  if (!m)
    return;
  convbn_free (&m->stem);
  dn_tensor_free (m->stem_w1);
  for (int i = 0; i < N_BLOCKS; i++)
    {
      convbn_free (&m->blk[i].c1);
      convbn_free (&m->blk[i].c2);
      convbn_free (&m->blk[i].c3);
      convbn_free (&m->blk[i].ds);
    }
  DnTensor *t[] = { m->obn_g, m->obn_b, m->obn_rm, m->obn_rv, m->mu, m->features, m->bias };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    dn_tensor_free (t[i]);
  free (m);
}

static DnStatus
load_convbn (DnDevice *dev, const DnWeightSet *ws, const char *conv_key, const char *bn_prefix, int cout, int cin,
             int k, ConvBn *c)
{
  DnStatus st = DN_OK;
  char key[256];
  if (!(c->w = dn_twin_load_param (dev, ws, conv_key, 4, (const int64_t[]){ cout, cin, k, k }, &st)))
    return st;
  const char *names[] = { "weight", "bias", "running_mean", "running_var" };
  DnTensor **dst[] = { &c->g, &c->b, &c->rm, &c->rv };
  for (int i = 0; i < 4; i++)
    {
      snprintf (key, sizeof key, "%s%s", bn_prefix, names[i]);
      if (!(*dst[i] = dn_twin_load_param (dev, ws, key, 1, (const int64_t[]){ cout }, &st)))
        return st;
    }
  return DN_OK;
}

DnTwinMember *
dn_twin_v4_member_new (DnDevice *dev, const DnWeightSet *ws, DnTwinInfo *info, DnStatus *status)
{
  V4Member *m = calloc (1, sizeof *m);
  if (!m)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  m->base.klass = &dn_twin_v4_class;
  DnStatus st;
  const DnHostTensor *ro_f, *c1;
  if ((st = dn_weight_set_get (ws, "readout.all_sessions._features", 4, (const int64_t[]){ 1, 1024, 1, -1 }, &ro_f))
      || (st = dn_weight_set_get (ws, T "conv1.weight", 4, (const int64_t[]){ 64, 3, 7, 7 }, &c1)))
    goto fail;
  int64_t K = ro_f->shape[3];
  if ((st = load_convbn (dev, ws, T "conv1.weight", T "bn1.", 64, 3, 7, &m->stem)))
    goto fail;
  m->stem.p = (DnConv2dParams){ .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3 };
  {
    float *w1 = malloc (64 * 49 * sizeof *w1);
    if (!w1)
      {
        st = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
        goto fail;
      }
    for (int o = 0; o < 64; o++)
      for (int t = 0; t < 49; t++)
        w1[o * 49 + t] = c1->data[(o * 3 + 0) * 49 + t] + c1->data[(o * 3 + 1) * 49 + t] + c1->data[(o * 3 + 2) * 49 + t];
    m->stem_w1 = dn_tensor_new4 (dev, 64, 1, 7, 7, &st);
    if (m->stem_w1)
      st = dn_tensor_upload (m->stem_w1, w1, 64 * 49);
    free (w1);
    if (st)
      goto fail;
  }
  for (int i = 0; i < N_BLOCKS; i++)
    {
      Bottleneck *b = &m->blk[i];
      char pre[128], ck[256], bk[256];
      block_layout (i, pre, sizeof pre, &b->cin, &b->width, &b->cout, &b->stride);
      struct
      {
        ConvBn *c;
        const char *conv, *bn;
        int co, ci, k, s, p;
      } parts[] = {
        { &b->c1, "conv1.weight", "bn1.", b->width, b->cin, 1, 1, 0 },
        { &b->c2, "conv2.weight", "bn2.", b->width, b->width, 3, b->stride, 1 },
        { &b->c3, "conv3.weight", "bn3.", b->cout, b->width, 1, 1, 0 },
        { &b->ds, "downsample.0.weight", "downsample.1.", b->cout, b->cin, 1, b->stride, 0 },
      };
      b->has_ds = i == 0 || i == 3 || i == 7;
      for (int j = 0; j < (b->has_ds ? 4 : 3); j++)
        {
          snprintf (ck, sizeof ck, "%s%s", pre, parts[j].conv);
          snprintf (bk, sizeof bk, "%s%s", pre, parts[j].bn);
          if ((st = load_convbn (dev, ws, ck, bk, parts[j].co, parts[j].ci, parts[j].k, parts[j].c)))
            goto fail;
          parts[j].c->p = (DnConv2dParams){ .stride_h = parts[j].s, .stride_w = parts[j].s, .pad_h = parts[j].p,
                                            .pad_w = parts[j].p };
        }
    }
#define LOAD(dst, key, ndim, ...)                                                                     \
  if (!((dst) = dn_twin_load_param (dev, ws, (key), (ndim), (const int64_t[]){ __VA_ARGS__ }, &st))) \
    goto fail;
  LOAD (m->obn_g, "core.features.OutBatchNorm.weight", 1, 1024);
  LOAD (m->obn_b, "core.features.OutBatchNorm.bias", 1, 1024);
  LOAD (m->obn_rm, "core.features.OutBatchNorm.running_mean", 1, 1024);
  LOAD (m->obn_rv, "core.features.OutBatchNorm.running_var", 1, 1024);
  LOAD (m->mu, "readout.all_sessions._mu", 2, K, 2);
  LOAD (m->bias, "readout.all_sessions.bias", 1, K);
  LOAD (m->features, "readout.all_sessions._features", 2, 1024, K);
#undef LOAD
  info->arch = DN_ARCH_V4_RESNET;
  /* V4Gray has 1244 neurons (and takes a 1-channel image); V4Color 394 */
  info->arch_name = K == 1244 ? "V4GrayTaskDriven" : "V4ColorTaskDriven";
  info->in_channels = K == 1244 ? 1 : 3;
  info->in_h = info->in_w = 100;
  info->n_neurons = (int) K;
  info->n_parameters = dn_twin_count_parameters (ws);
  *status = DN_OK;
  return &m->base;
fail:
  v4_free (&m->base);
  *status = st;
  return NULL;
}

/* Workspace ----------------------------------------------------------------------------------------- */

static void
v4_workspace_free (void *p)
{
  V4Work *w = p;
  if (!w)
    return;
  DnTensor **t = (DnTensor **) &w->conv1;
  DnTensor **end = (DnTensor **) (&w->g[N_BLOCKS - 1] + 1);
  for (; t < end; t++)
    dn_tensor_free (*t);
  dn_arena_free (w->arena);
  free (w);
}

static DnStatus
v4_carve (const V4Member *m, V4Work *w, DnArena *a, int64_t N)
{
  DnStatus st = DN_OK;
#define TT(dst, ...)                                                                                  \
  if (!((dst) = dn_arena_tensor (a, DN_NARGS (__VA_ARGS__), (const int64_t[]){ __VA_ARGS__ }, &st))) \
    return st;
  for (int g = 0; g < 2; g++)
    {
      TT (*(g ? &w->g_conv1 : &w->conv1), N, 64, 50, 50);
      TT (*(g ? &w->g_bn1 : &w->bn1), N, 64, 50, 50);
      TT (*(g ? &w->g_relu1 : &w->relu1), N, 64, 50, 50);
      TT (*(g ? &w->g_pool : &w->pool), N, 64, 25, 25);
      if (!g)
        TT (w->argmax, N, 64, 25, 25);
      int64_t h = 25;
      for (int i = 0; i < N_BLOCKS; i++)
        {
          const Bottleneck *b = &m->blk[i];
          BlockActs *x = g ? &w->g[i] : &w->a[i];
          int64_t ho = b->stride == 2 ? (h + 1) / 2 : h;
          TT (x->c1, N, b->width, h, h);
          TT (x->b1, N, b->width, h, h);
          TT (x->r1, N, b->width, h, h);
          TT (x->c2, N, b->width, ho, ho);
          TT (x->b2, N, b->width, ho, ho);
          TT (x->r2, N, b->width, ho, ho);
          TT (x->c3, N, b->cout, ho, ho);
          TT (x->b3, N, b->cout, ho, ho);
          if (b->has_ds)
            {
              TT (x->dsc, N, b->cout, ho, ho);
              TT (x->dsb, N, b->cout, ho, ho);
            }
          TT (x->sum, N, b->cout, ho, ho);
          TT (x->out, N, b->cout, ho, ho);
          h = ho;
        }
      TT (*(g ? &w->g_obn : &w->obn), N, 1024, 7, 7);
      TT (*(g ? &w->g_act : &w->act), N, 1024, 7, 7);
    }
#undef TT
  return DN_OK;
}

static void *
v4_workspace_new (DnDevice *dev, const DnTwinMember *base, int64_t N, DnStatus *status)
{
  const V4Member *m = (const V4Member *) base;
  V4Work *w = calloc (1, sizeof *w);
  if (!w)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  DnArena *measure = dn_arena_new (dev, 0, status);
  if (!measure || (*status = v4_carve (m, w, measure, N)) != DN_OK)
    {
      dn_arena_free (measure);
      v4_workspace_free (w);
      return NULL;
    }
  size_t bytes = dn_arena_bytes (measure);
  v4_workspace_free (w);
  dn_arena_free (measure);
  w = calloc (1, sizeof *w);
  if (!w)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  w->arena = dn_arena_new (dev, bytes, status);
  if (!w->arena || (*status = v4_carve (m, w, w->arena, N)) != DN_OK)
    {
      v4_workspace_free (w);
      return NULL;
    }
  return w;
}

static const DnTensor *
v4_intermediate (void *p, const char *name)
{
  V4Work *w = p;
  if (strcmp (name, "conv1_bn_relu") == 0)
    return w->relu1;
  if (strcmp (name, "maxpool") == 0)
    return w->pool;
  if (strcmp (name, "layer1") == 0)
    return w->a[2].out;
  if (strcmp (name, "layer2") == 0)
    return w->a[6].out;
  if (strcmp (name, "layer3_0") == 0)
    return w->a[7].out;
  if (strcmp (name, "out_bn_relu") == 0)
    return w->act;
  return NULL;
}

/* Forward / backward -------------------------------------------------------------------------------- */

static DnStatus
convbn_forward (const ConvBn *c, const DnTensor *w_override, DnTensor *conv, DnTensor *bn, const DnTensor *x)
{
  DN_TRY (dn_conv2d_forward (conv, x, w_override ? w_override : c->w, NULL, &c->p));
  return dn_batchnorm_eval_forward (bn, conv, c->g, c->b, c->rm, c->rv, 1e-5f);
}

/* dx += conv^T(bn^T(dbn)); g_conv is scratch (zeroed here). */
static DnStatus
convbn_backward (const ConvBn *c, const DnTensor *w_override, DnTensor *dx, DnTensor *g_conv, const DnTensor *g_bn,
                 const DnTensor *conv, const DnTensor *x)
{
  DN_TRY (dn_tensor_fill (g_conv, 0));
  DN_TRY (dn_batchnorm_eval_backward (g_conv, NULL, NULL, g_bn, conv, c->g, c->rm, c->rv, 1e-5f));
  return dn_conv2d_backward (dx, NULL, NULL, g_conv, x, w_override ? w_override : c->w, &c->p);
}

static DnStatus
v4_forward (DnTwinMember *base, void *p, DnTensor *y, const DnTensor *x, bool centered)
{
  V4Member *m = (V4Member *) base;
  V4Work *w = p;
  DN_TRY (convbn_forward (&m->stem, x->shape[1] == 1 ? m->stem_w1 : NULL, w->conv1, w->bn1, x));
  DN_TRY (dn_relu_forward (w->relu1, w->bn1));
  DN_TRY (dn_maxpool2d_forward (w->pool, w->argmax, w->relu1, &POOL));
  const DnTensor *in = w->pool;
  for (int i = 0; i < N_BLOCKS; i++)
    {
      const Bottleneck *b = &m->blk[i];
      BlockActs *a = &w->a[i];
      DN_TRY (convbn_forward (&b->c1, NULL, a->c1, a->b1, in));
      DN_TRY (dn_relu_forward (a->r1, a->b1));
      DN_TRY (convbn_forward (&b->c2, NULL, a->c2, a->b2, a->r1));
      DN_TRY (dn_relu_forward (a->r2, a->b2));
      DN_TRY (convbn_forward (&b->c3, NULL, a->c3, a->b3, a->r2));
      if (b->has_ds)
        {
          DN_TRY (convbn_forward (&b->ds, NULL, a->dsc, a->dsb, in));
          DN_TRY (dn_add_forward (a->sum, a->b3, a->dsb));
        }
      else
        DN_TRY (dn_add_forward (a->sum, a->b3, in));
      DN_TRY (dn_relu_forward (a->out, a->sum));
      in = a->out;
    }
  DN_TRY (dn_batchnorm_eval_forward (w->obn, in, m->obn_g, m->obn_b, m->obn_rm, m->obn_rv, 1e-5f));
  DN_TRY (dn_relu_forward (w->act, w->obn));
  w->mu_used = centered ? NULL : m->mu;
  return dn_readout_forward (y, w->act, w->mu_used, m->features, m->bias);
}

static DnStatus
v4_backward (DnTwinMember *base, void *p, DnTensor *dx, const DnTensor *dy, const DnTensor *x)
{
  V4Member *m = (V4Member *) base;
  V4Work *w = p;
  DN_TRY (dn_tensor_fill (w->g_act, 0));
  DN_TRY (dn_tensor_fill (w->g_obn, 0));
  DN_TRY (dn_readout_backward (w->g_act, NULL, NULL, NULL, dy, w->act, w->mu_used, m->features));
  DN_TRY (dn_relu_backward (w->g_obn, w->obn, w->g_act));
  DnTensor *g_in = w->g[N_BLOCKS - 1].out;
  DN_TRY (dn_tensor_fill (g_in, 0));
  DN_TRY (dn_batchnorm_eval_backward (g_in, NULL, NULL, w->g_obn, w->a[N_BLOCKS - 1].out, m->obn_g, m->obn_rm,
                                      m->obn_rv, 1e-5f));
  for (int i = N_BLOCKS - 1; i >= 0; i--)
    {
      const Bottleneck *b = &m->blk[i];
      BlockActs *a = &w->a[i], *g = &w->g[i];
      const DnTensor *in = i ? w->a[i - 1].out : w->pool;
      DnTensor *gin = i ? w->g[i - 1].out : w->g_pool;
      DN_TRY (dn_tensor_fill (gin, 0));
      DnTensor *z[] = { g->sum, g->b3, g->r2, g->b2, g->r1, g->b1 };
      for (size_t j = 0; j < sizeof z / sizeof z[0]; j++)
        DN_TRY (dn_tensor_fill (z[j], 0));
      DN_TRY (dn_relu_backward (g->sum, a->sum, g->out));
      /* sum = b3 + (dsb | in) */
      if (b->has_ds)
        DN_TRY (convbn_backward (&b->ds, NULL, gin, g->dsc, g->sum, a->dsc, in));
      else
        DN_TRY (dn_axpy (gin, g->sum, 1.0f));
      DN_TRY (convbn_backward (&b->c3, NULL, g->r2, g->c3, g->sum, a->c3, a->r2));
      DN_TRY (dn_relu_backward (g->b2, a->b2, g->r2));
      DN_TRY (convbn_backward (&b->c2, NULL, g->r1, g->c2, g->b2, a->c2, a->r1));
      DN_TRY (dn_relu_backward (g->b1, a->b1, g->r1));
      DN_TRY (convbn_backward (&b->c1, NULL, gin, g->c1, g->b1, a->c1, in));
    }
  DN_TRY (dn_tensor_fill (w->g_relu1, 0));
  DN_TRY (dn_maxpool2d_backward (w->g_relu1, w->g_pool, w->argmax, &POOL));
  DN_TRY (dn_tensor_fill (w->g_bn1, 0));
  DN_TRY (dn_relu_backward (w->g_bn1, w->bn1, w->g_relu1));
  return convbn_backward (&m->stem, x->shape[1] == 1 ? m->stem_w1 : NULL, dx, w->g_conv1, w->g_bn1, w->conv1, x);
}

const DnTwinMemberClass dn_twin_v4_class = {
  .forward = v4_forward,
  .backward = v4_backward,
  .workspace_new = v4_workspace_new,
  .workspace_free = v4_workspace_free,
  .intermediate = v4_intermediate,
  .free = v4_free,
};
