/* dn-pool.c: dn_maxpool2d_forward/backward (PyTorch nn.MaxPool2d, dilation 1, ceil_mode False).
 *
 * CPU: parallel over (sample, channel) planes; the backward scatters each output's gradient to its
 * argmax. Vulkan: shaders/conv/maxpool2d.comp (the backward gathers per input element, so there are no
 * write races and no float atomics). Reference: dn_ref_maxpool2d_forward/backward.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>

#include "dn-conv-private.h"
#include "dn-ops-conv.h"

typedef struct
{
  int64_t N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw;
} PoolGeo;

static DnStatus
pool_params (const char *op, const DnPool2dParams *p, PoolGeo *g)
{
  if (!p)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL pool parameters", op);
  g->kh = p->kernel_h, g->kw = p->kernel_w;
  g->sh = p->stride_h ? p->stride_h : p->kernel_h;
  g->sw = p->stride_w ? p->stride_w : p->kernel_w;
  g->ph = p->pad_h, g->pw = p->pad_w;
  if (g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 || g->ph < 0 || g->pw < 0 || 2 * g->ph > g->kh
      || 2 * g->pw > g->kw)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: kernel %d×%d, stride %d×%d, pad %d×%d: the kernel and stride must be ≥ 1 and the padding "
                         "in [0, kernel/2]", op, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w);
  return DN_OK;
}

/* Checks x (N,C,H,W) and y (N,C,Ho,Wo) (and @a like y, if given). */
static DnStatus
pool_geo (const char *op, const DnTensor *x, const DnTensor *y, const DnTensor *a, PoolGeo *g)
{
  char s1[96], s2[96];
  dn_tensor_shape_str (x, s1, sizeof s1);
  dn_tensor_shape_str (y, s2, sizeof s2);
  if (x->ndim != 4)
    return dn_set_error (DN_ERROR_SHAPE, "%s: the input %s must be (N,C,H,W)", op, s1);
  g->N = x->shape[0], g->C = x->shape[1], g->H = x->shape[2], g->W = x->shape[3];
  if (g->H + 2 * g->ph < g->kh || g->W + 2 * g->pw < g->kw)
    return dn_set_error (DN_ERROR_SHAPE, "%s: the padded input %s is smaller than the %" PRId64 "×%" PRId64 " kernel",
                         op, s1, g->kh, g->kw);
  g->Ho = dn_conv2d_out_size (g->H, g->kh, g->sh, g->ph);
  g->Wo = dn_conv2d_out_size (g->W, g->kw, g->sw, g->pw);
  if (y->ndim != 4 || y->shape[0] != g->N || y->shape[1] != g->C || y->shape[2] != g->Ho || y->shape[3] != g->Wo)
    return dn_set_error (DN_ERROR_SHAPE, "%s: input %s gives (%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                         "), not %s", op, s1, g->N, g->C, g->Ho, g->Wo, s2);
  if (a && !dn_tensor_same_shape (a, y))
    {
      char s3[96];
      return dn_set_error (DN_ERROR_SHAPE, "%s: argmax %s must have the output's shape %s", op,
                           dn_tensor_shape_str (a, s3, sizeof s3), s2);
    }
  if (g->H * g->W >= (1 << 24))
    return dn_set_error (DN_ERROR_SHAPE, "%s: planes of %s have 2^24 elements or more (argmax is a float)", op, s1);
  if (dn_tensor_numel (x) > DN_CONV_MAX_ELEMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s exceeds 2^31 elements", op, s1);
  return DN_OK;
}

typedef struct
{
  const PoolGeo *g;
  const float *x, *dy, *am;
  float *y, *a, *dx;
} PoolArgs;

static void
pool_forward_range (void *ctx, int64_t b, int64_t e)
{
  PoolArgs *pa = ctx;
  const PoolGeo *g = pa->g;
  for (int64_t plane = b; plane < e; plane++)
    {
      const float *x = pa->x + plane * g->H * g->W;
      float *y = pa->y + plane * g->Ho * g->Wo;
      float *a = pa->a ? pa->a + plane * g->Ho * g->Wo : NULL;
      for (int64_t ho = 0; ho < g->Ho; ho++)
        {
          int64_t h0 = ho * g->sh - g->ph;
          int64_t hs = h0 > 0 ? h0 : 0, he = h0 + g->kh < g->H ? h0 + g->kh : g->H;
          for (int64_t wo = 0; wo < g->Wo; wo++)
            {
              int64_t w0 = wo * g->sw - g->pw;
              int64_t ws = w0 > 0 ? w0 : 0, we = w0 + g->kw < g->W ? w0 + g->kw : g->W;
              float best = -INFINITY;
              int64_t besti = hs * g->W + ws;
              for (int64_t h = hs; h < he; h++)
                for (int64_t w = ws; w < we; w++)
                  {
                    float v = x[h * g->W + w];
                    if (v > best || isnan (v))
                      {
                        best = v;
                        besti = h * g->W + w;
                      }
                  }
              y[ho * g->Wo + wo] = best;
              if (a)
                a[ho * g->Wo + wo] = (float) besti;
            }
        }
    }
}

static void
pool_backward_range (void *ctx, int64_t b, int64_t e)
{
  PoolArgs *pa = ctx;
  const PoolGeo *g = pa->g;
  int64_t P = g->Ho * g->Wo, HW = g->H * g->W;
  for (int64_t plane = b; plane < e; plane++)
    {
      const float *dy = pa->dy + plane * P, *am = pa->am + plane * P;
      float *dx = pa->dx + plane * HW;
      for (int64_t o = 0; o < P; o++)
        {
          float idx = am[o];
          if (idx >= 0 && idx < (float) HW) /* an argmax that is not an index (e.g. NaN) is skipped */
            dx[(int64_t) idx] += dy[o];
        }
    }
}

typedef struct
{
  uint32_t N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, has_argmax;
} PoolPush;
_Static_assert (sizeof (PoolPush) == 52, "mirror of maxpool2d.comp's DN_PARAMS");

static PoolPush
pool_push (const PoolGeo *g, bool has_argmax)
{
  return (PoolPush){ (uint32_t) g->N,  (uint32_t) g->C,  (uint32_t) g->H,  (uint32_t) g->W, (uint32_t) g->Ho,
                     (uint32_t) g->Wo, (uint32_t) g->kh, (uint32_t) g->kw, (uint32_t) g->sh, (uint32_t) g->sw,
                     (uint32_t) g->ph, (uint32_t) g->pw, has_argmax };
}

DnStatus
dn_maxpool2d_forward (DnTensor *out, DnTensor *argmax, const DnTensor *inp, const DnPool2dParams *p)
{
  const char *op = "maxpool2d_forward";
  if (!out || !inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_TRY (dn_conv_check_device (op, out, argmax));
  PoolGeo g;
  DN_TRY (pool_params (op, p, &g));
  DN_TRY (pool_geo (op, inp, out, argmax, &g));
  if (dn_tensor_numel (out) == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      PoolArgs a = { .g = &g, .x = dn_tensor_host (inp), .y = dn_tensor_host (out),
                     .a = argmax ? dn_tensor_host (argmax) : NULL };
      dn_cpu_parallel_for (out->dev, g.N * g.C, 1, pool_forward_range, &a);
      return DN_OK;
    }
  PoolPush pc = pool_push (&g, argmax != NULL);
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out), DN_WRITE (argmax ? argmax : out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_MAXPOOL2D_FWD, b, 3, &pc, sizeof pc, dn_tensor_numel (out));
}

DnStatus
dn_maxpool2d_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *argmax, const DnPool2dParams *p)
{
  const char *op = "maxpool2d_backward";
  if (!dinp || !dout || !argmax)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, dinp, dout);
  DN_CHECK_SAME_DEVICE (op, dinp, argmax);
  PoolGeo g;
  DN_TRY (pool_params (op, p, &g));
  DN_TRY (pool_geo (op, dinp, dout, argmax, &g));
  if (dn_tensor_numel (dout) == 0)
    return DN_OK;
  if (dn_device_is_cpu (dinp->dev))
    {
      PoolArgs a = { .g = &g, .dy = dn_tensor_host (dout), .am = dn_tensor_host (argmax), .dx = dn_tensor_host (dinp) };
      dn_cpu_parallel_for (dinp->dev, g.N * g.C, 1, pool_backward_range, &a);
      return DN_OK;
    }
  PoolPush pc = pool_push (&g, true);
  DnBinding b[] = { DN_READ (dout), DN_READ (argmax), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dinp->dev, DN_SHADER_MAXPOOL2D_BWD, b, 3, &pc, sizeof pc, dn_tensor_numel (dinp));
}
