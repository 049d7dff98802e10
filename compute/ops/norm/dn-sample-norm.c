/* dn-sample-norm.c: per-sample norms over all dims but the first, on both backends: the L2 norm, the
 * change-norm x·target/(||x|| + eps) (twins.md §6.1 step 4, §8 NormTransform) and the min-max
 * normalisation (x - min)/(max - min + eps) with tie-splitting backward (dual_tower.md §3 step 8).
 * Shaders: shaders/norm/{l2norm,change_norm,minmax_norm}_{fwd,bwd}.comp.
 * Reference: dn_ref_{l2norm,change_norm,minmax_norm}_* (compute/ref/dn-ref-norm.c).
 * SPDX-License-Identifier: MIT
 */
#include "dn-norm-private.h"
#include "dn-ops-norm.h"

typedef struct
{
  float *out, *stat, *dinp;
  const float *inp, *dout, *cstat;
  int64_t M;
  float target, eps;
} SnArgs;

static double
sumsq (const float *x, int64_t M)
{
  return dn_norm_dot (x, x, M);
}

static void
l2norm_fwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    a->out[n] = (float) sqrt (sumsq (a->inp + n * a->M, a->M));
}

static void
l2norm_bwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    {
      float r = a->cstat[n], k = r > 0 ? a->dout[n] / r : 0.0f;
      const float *x = a->inp + n * a->M;
      float *dx = a->dinp + n * a->M;
      for (int64_t i = 0; i < a->M; i++)
        dx[i] += k * x[i];
    }
}

static void
change_norm_fwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    {
      const float *x = a->inp + n * a->M;
      float *y = a->out + n * a->M;
      float r = (float) sqrt (sumsq (x, a->M));
      float k = a->target / (r + a->eps);
      for (int64_t i = 0; i < a->M; i++)
        y[i] = x[i] * k;
      a->stat[n] = r;
    }
}

static void
change_norm_bwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    {
      const float *x = a->inp + n * a->M, *g = a->dout + n * a->M;
      float *dx = a->dinp + n * a->M;
      double dot = dn_norm_dot (g, x, a->M);
      double r = a->cstat[n], den = r + a->eps;
      float ka = (float) (a->target / den);
      float kx = r > 0 ? (float) (-a->target * dot / (den * den * r)) : 0.0f;
      for (int64_t i = 0; i < a->M; i++)
        dx[i] += ka * g[i] + kx * x[i];
    }
}

static void
minmax_fwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    {
      const float *x = a->inp + n * a->M;
      float *y = a->out + n * a->M;
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < a->M; i++)
        {
          lo = x[i] < lo || isnan (x[i]) ? x[i] : lo;
          hi = x[i] > hi || isnan (x[i]) ? x[i] : hi;
        }
      float den = hi - lo + a->eps;
      for (int64_t i = 0; i < a->M; i++)
        y[i] = den != 0 ? (x[i] - lo) / den : 0.0f;
      a->stat[2 * n] = lo;
      a->stat[2 * n + 1] = hi;
    }
}

static void
minmax_bwd_range (void *ctx, int64_t b, int64_t e)
{
  SnArgs *a = ctx;
  for (int64_t n = b; n < e; n++)
    {
      const float *x = a->inp + n * a->M, *g = a->dout + n * a->M;
      float *dx = a->dinp + n * a->M;
      float lo = a->cstat[2 * n], hi = a->cstat[2 * n + 1];
      double den = (double) (hi - lo + a->eps);
      if (den == 0) /* constant sample with eps = 0: the output is defined as 0, so is its gradient */
        continue;
      double s1 = 0, s2 = 0, nlo = 0, nhi = 0;
      for (int64_t i = 0; i < a->M; i++)
        {
          s1 += g[i];
          s2 += (double) g[i] * (x[i] - lo);
          nlo += x[i] == lo;
          nhi += x[i] == hi;
        }
      if (lo == hi) /* constant sample (eps > 0): every element is both min and max, dx = (g - mean g)/den */
        {
          float mg = (float) (s1 / (double) a->M), kd = (float) (1.0 / den);
          for (int64_t i = 0; i < a->M; i++)
            dx[i] += (g[i] - mg) * kd;
          continue;
        }
      float kg = (float) (1.0 / den);
      float klo = nlo > 0 ? (float) ((s2 - s1 * den) / (den * den) / nlo) : 0.0f;
      float khi = nhi > 0 ? (float) (-s2 / (den * den) / nhi) : 0.0f;
      for (int64_t i = 0; i < a->M; i++)
        dx[i] += g[i] * kg + (x[i] == lo ? klo : 0.0f) + (x[i] == hi ? khi : 0.0f);
    }
}

/* inp (N,...) → N, M; checks @like tensors against inp and @stat's shape. */
static DnStatus
sn_check (const char *op, const DnTensor *inp, const DnTensor *like[], int n_like, const DnTensor *stat,
          const char *stat_name, int stat_ndim, const int64_t *stat_dims, int64_t *N, int64_t *M)
{
  if (!inp || !stat)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, inp, stat);
  if (inp->ndim < 1)
    return dn_set_error (DN_ERROR_SHAPE, "%s: input needs a sample dim", op);
  DN_TRY (dn_norm_check_size (op, inp));
  *N = inp->shape[0];
  *M = *N ? dn_tensor_numel (inp) / *N : 0;
  for (int i = 0; i < n_like; i++)
    {
      if (!like[i])
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
      DN_CHECK_SAME_DEVICE (op, inp, like[i]);
      DN_CHECK_SAME_SHAPE (op, inp, like[i]);
    }
  int64_t dims[2] = { *N, stat_dims ? stat_dims[1] : 0 };
  return dn_check_shape (op, stat_name, stat, stat_ndim, dims);
}

typedef struct
{
  uint32_t N, M, L, lane_fast;
  float a, b;
} SnParams;
_Static_assert (sizeof (SnParams) == 24, "per-sample norm push constants");

/* Dispatches a per-sample reduction shader (one sample per norm_reduce position). */
static DnStatus
sn_dispatch (DnDevice *dev, DnShaderId shader, const DnBinding *b, int nb, int64_t N, int64_t M, float pa, float pb,
             size_t size)
{
  DnNormLayout l = dn_norm_layout (M, N, 0);
  SnParams pc = { (uint32_t) N, (uint32_t) M, l.L, l.lane_fast, pa, pb };
  return dn_norm_dispatch_groups (dev, shader, b, nb, &pc, size, dn_div_up (N, l.P));
}

DnStatus
dn_l2norm_forward (DnTensor *out, const DnTensor *inp)
{
  const char *op = "l2norm_forward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, NULL, 0, out, "out", 1, NULL, &N, &M));
  if (N == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .out = dn_tensor_host (out), .inp = dn_tensor_host (inp), .M = M };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / (M + 1), l2norm_fwd_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return sn_dispatch (inp->dev, DN_SHADER_L2NORM_FWD, b, 2, N, M, 0, 0, 16);
}

DnStatus
dn_l2norm_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *inp, const DnTensor *out)
{
  const char *op = "l2norm_backward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, (const DnTensor *[]){ dinp }, 1, out, "out", 1, NULL, &N, &M));
  if (!dout)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, inp, dout);
  DN_CHECK_SHAPE (op, "dout", dout, 1, N);
  if (N * M == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .dinp = dn_tensor_host (dinp), .dout = dn_tensor_host (dout), .inp = dn_tensor_host (inp),
                   .cstat = dn_tensor_host (out), .M = M };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / M, l2norm_bwd_range, &a);
      return DN_OK;
    }
  struct
  {
    uint32_t total, M;
  } pc = { (uint32_t) (N * M), (uint32_t) M };
  _Static_assert (sizeof pc == 8, "l2norm_bwd push constants");
  DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ (out), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (inp->dev, DN_SHADER_L2NORM_BWD, b, 4, &pc, sizeof pc, N * M);
}

DnStatus
dn_change_norm_forward (DnTensor *out, DnTensor *norm, const DnTensor *inp, float target, float eps)
{
  const char *op = "change_norm_forward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, (const DnTensor *[]){ out }, 1, norm, "norm", 1, NULL, &N, &M));
  if (N == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .out = dn_tensor_host (out), .stat = dn_tensor_host (norm), .inp = dn_tensor_host (inp), .M = M,
                   .target = target, .eps = eps };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / (M + 1), change_norm_fwd_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out), DN_WRITE (norm) };
  return sn_dispatch (inp->dev, DN_SHADER_CHANGE_NORM_FWD, b, 3, N, M, target, eps, 24);
}

DnStatus
dn_change_norm_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *inp, const DnTensor *norm, float target,
                         float eps)
{
  const char *op = "change_norm_backward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, (const DnTensor *[]){ dinp, dout }, 2, norm, "norm", 1, NULL, &N, &M));
  if (N * M == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .dinp = dn_tensor_host (dinp), .dout = dn_tensor_host (dout), .inp = dn_tensor_host (inp),
                   .cstat = dn_tensor_host (norm), .M = M, .target = target, .eps = eps };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / M, change_norm_bwd_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ (norm), DN_READ_WRITE (dinp) };
  return sn_dispatch (inp->dev, DN_SHADER_CHANGE_NORM_BWD, b, 4, N, M, target, eps, 24);
}

DnStatus
dn_minmax_norm_forward (DnTensor *out, DnTensor *stats, const DnTensor *inp, float eps)
{
  const char *op = "minmax_norm_forward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, (const DnTensor *[]){ out }, 1, stats, "stats", 2, (const int64_t[]){ 0, 2 }, &N, &M));
  if (N * M == 0) /* zero-size: a no-op (stats are left as they are) */
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .out = dn_tensor_host (out), .stat = dn_tensor_host (stats), .inp = dn_tensor_host (inp), .M = M,
                   .eps = eps };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / M, minmax_fwd_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out), DN_WRITE (stats) };
  return sn_dispatch (inp->dev, DN_SHADER_MINMAX_NORM_FWD, b, 3, N, M, eps, 0, 20);
}

DnStatus
dn_minmax_norm_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *inp, const DnTensor *stats, float eps)
{
  const char *op = "minmax_norm_backward";
  int64_t N, M;
  DN_TRY (sn_check (op, inp, (const DnTensor *[]){ dinp, dout }, 2, stats, "stats", 2, (const int64_t[]){ 0, 2 }, &N,
                    &M));
  if (N * M == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      SnArgs a = { .dinp = dn_tensor_host (dinp), .dout = dn_tensor_host (dout), .inp = dn_tensor_host (inp),
                   .cstat = dn_tensor_host (stats), .M = M, .eps = eps };
      dn_cpu_parallel_for (inp->dev, N, 1 + (1 << 15) / M, minmax_bwd_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ (stats), DN_READ_WRITE (dinp) };
  return sn_dispatch (inp->dev, DN_SHADER_MINMAX_NORM_BWD, b, 4, N, M, eps, 0, 20);
}
