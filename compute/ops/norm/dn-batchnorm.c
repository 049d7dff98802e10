/* dn-batchnorm.c: BatchNorm2d over (N,C,*) — eval (running stats) and train (batch stats, running-stat
 * update with the unbiased variance, full backward) — on both backends.
 * Shaders: shaders/norm/batchnorm_{eval_fwd,train_fwd,bwd}.comp.
 * Reference: dn_ref_batchnorm_* (compute/ref/dn-ref-norm.c).
 * SPDX-License-Identifier: MIT
 */
#include "dn-norm-private.h"
#include "dn-ops-norm.h"

typedef struct
{
  float *out, *mean, *rstd, *rmean, *rvar, *dinp, *dweight, *dbias;
  const float *inp, *weight, *bias, *dout, *stat_a, *stat_b;
  int64_t N, C, S;
  float momentum, eps;
  bool train;
} BnArgs;

/* per channel: eval forward (elementwise, but grouped by channel for the per-channel constants) */
static void
bn_eval_forward_range (void *ctx, int64_t b, int64_t e)
{
  BnArgs *a = ctx;
  for (int64_t it = b; it < e; it++)
    {
      int64_t n = it / a->C, c = it % a->C;
      float r = (float) (1.0 / sqrt ((double) a->stat_b[c] + a->eps));
      float m = a->stat_a[c], w = a->weight ? a->weight[c] : 1.0f, bb = a->bias ? a->bias[c] : 0.0f;
      const float *x = a->inp + (n * a->C + c) * a->S;
      float *y = a->out + (n * a->C + c) * a->S;
      for (int64_t s = 0; s < a->S; s++)
        y[s] = (x[s] - m) * r * w + bb;
    }
}

static void
bn_train_forward_range (void *ctx, int64_t b, int64_t e)
{
  BnArgs *a = ctx;
  const int64_t N = a->N, C = a->C, S = a->S;
  double cnt = (double) (N * S);
  for (int64_t c = b; c < e; c++)
    {
      /* pass 1: mean; pass 2: biased variance; pass 3: normalise */
      double m = 0;
      for (int64_t n = 0; n < N; n++)
        m += dn_norm_sum (a->inp + (n * C + c) * S, S);
      m /= cnt;
      double ss = 0;
      for (int64_t n = 0; n < N; n++)
        ss += dn_norm_sumsq_centered (a->inp + (n * C + c) * S, S, m);
      float mf = (float) m, r = (float) (1.0 / sqrt (ss / cnt + a->eps));
      float w = a->weight ? a->weight[c] : 1.0f, bb = a->bias ? a->bias[c] : 0.0f;
      for (int64_t n = 0; n < N; n++)
        {
          const float *x = a->inp + (n * C + c) * S;
          float *y = a->out + (n * C + c) * S;
          for (int64_t s = 0; s < S; s++)
            y[s] = (x[s] - mf) * r * w + bb;
        }
      a->mean[c] = mf;
      a->rstd[c] = r;
      if (a->rmean)
        {
          a->rmean[c] = (float) ((1.0 - a->momentum) * a->rmean[c] + a->momentum * m);
          a->rvar[c] = (float) ((1.0 - a->momentum) * a->rvar[c] + a->momentum * ss / (cnt - 1));
        }
    }
}

static void
bn_backward_range (void *ctx, int64_t b, int64_t e)
{
  BnArgs *a = ctx;
  const int64_t N = a->N, C = a->C, S = a->S;
  double cnt = (double) (N * S);
  for (int64_t c = b; c < e; c++)
    {
      float m = a->stat_a[c];
      float r = a->train ? a->stat_b[c] : (float) (1.0 / sqrt ((double) a->stat_b[c] + a->eps));
      /* pass 1: sum(dout), sum(dout·xhat) */
      double sums[2] = { 0, 0 };
      if (a->train || a->dweight || a->dbias)
        for (int64_t n = 0; n < N; n++)
          dn_norm_sums_g_gxhat (a->dout + (n * C + c) * S, a->inp + (n * C + c) * S, S, m, r, sums);
      double sg = sums[0], sgx = sums[1];
      if (a->dweight)
        a->dweight[c] += (float) sgx;
      if (a->dbias)
        a->dbias[c] += (float) sg;
      if (!a->dinp)
        continue;
      /* pass 2: accumulate dinp */
      float k = (a->weight ? a->weight[c] : 1.0f) * r;
      float mg = (float) (sg / cnt), mgx = (float) (sgx / cnt);
      for (int64_t n = 0; n < N; n++)
        {
          const float *x = a->inp + (n * C + c) * S, *g = a->dout + (n * C + c) * S;
          float *dx = a->dinp + (n * C + c) * S;
          if (a->train)
            for (int64_t s = 0; s < S; s++)
              dx[s] += k * (g[s] - mg - (x[s] - m) * r * mgx);
          else
            for (int64_t s = 0; s < S; s++)
              dx[s] += k * g[s];
        }
    }
}

/* (N,C,*) → N, C, S; checks the tensors shaped like inp and the (C) vectors. */
static DnStatus
bn_check (const char *op, const DnTensor *inp, const DnTensor *like[], int n_like, const DnTensor *vecs[],
          const char *const names[], int n_vecs, int64_t *N, int64_t *C, int64_t *S)
{
  if (!inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL input", op);
  DN_TRY (dn_check_same_device (op, inp, inp));
  if (inp->ndim < 2)
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: input %s must be (N,C,*)", op, dn_tensor_shape_str (inp, s, sizeof s));
    }
  DN_TRY (dn_norm_check_size (op, inp));
  *N = inp->shape[0];
  *C = inp->shape[1];
  *S = 1;
  for (int d = 2; d < inp->ndim; d++)
    *S *= inp->shape[d];
  for (int i = 0; i < n_like; i++)
    if (like[i])
      {
        DN_TRY (dn_check_same_device (op, inp, like[i]));
        DN_TRY (dn_check_same_shape (op, inp, like[i]));
      }
  for (int i = 0; i < n_vecs; i++)
    DN_TRY (dn_norm_check_vec (op, names[i], vecs[i], inp, *C));
  return DN_OK;
}

DnStatus
dn_batchnorm_eval_forward (DnTensor *out, const DnTensor *inp, const DnTensor *weight, const DnTensor *bias,
                           const DnTensor *running_mean, const DnTensor *running_var, float eps)
{
  const char *op = "batchnorm_eval_forward";
  int64_t N, C, S;
  if (!out || !running_mean || !running_var)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out, running_mean and running_var are required", op);
  DN_TRY (bn_check (op, inp, (const DnTensor *[]){ out }, 1,
                    (const DnTensor *[]){ weight, bias, running_mean, running_var },
                    (const char *const[]){ "weight", "bias", "running_mean", "running_var" }, 4, &N, &C, &S));
  int64_t n = dn_tensor_numel (inp);
  if (n == 0)
    return DN_OK;
  DnDevice *dev = inp->dev;
  if (dn_device_is_cpu (dev))
    {
      BnArgs a = { .out = dn_tensor_host (out), .inp = dn_tensor_host (inp),
                   .weight = weight ? dn_tensor_host (weight) : NULL, .bias = bias ? dn_tensor_host (bias) : NULL,
                   .stat_a = dn_tensor_host (running_mean), .stat_b = dn_tensor_host (running_var),
                   .N = N, .C = C, .S = S, .eps = eps };
      dn_cpu_parallel_for (dev, N * C, 1 + (1 << 14) / S, bn_eval_forward_range, &a);
      return DN_OK;
    }
  struct
  {
    uint32_t n, C, S, flags;
    float eps;
  } pc = { (uint32_t) n, (uint32_t) C, (uint32_t) S, (weight ? 1u : 0u) | (bias ? 2u : 0u), eps };
  _Static_assert (sizeof pc == 20, "batchnorm_eval_fwd push constants");
  DnBinding b[] = { DN_READ (inp), weight ? DN_READ (weight) : DN_READ (inp), bias ? DN_READ (bias) : DN_READ (inp),
                    DN_READ (running_mean), DN_READ (running_var), DN_WRITE (out) };
  return dn_vk_dispatch_1d (dev, DN_SHADER_BATCHNORM_EVAL_FWD, b, 6, &pc, sizeof pc, n);
}

typedef struct
{
  uint32_t N, C, S, L, lane_fast, flags;
  float eps;
} BnBwdParams;
_Static_assert (sizeof (BnBwdParams) == 28, "batchnorm_bwd push constants");

static DnStatus
bn_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout, const DnTensor *inp,
             const DnTensor *weight, const DnTensor *stat_a, const DnTensor *stat_b, int64_t N, int64_t C, int64_t S,
             bool train, float eps)
{
  if (dn_tensor_numel (inp) == 0 || (!dinp && !dweight && !dbias))
    return DN_OK;
  DnDevice *dev = inp->dev;
  if (dn_device_is_cpu (dev))
    {
      BnArgs a = { .dinp = dinp ? dn_tensor_host (dinp) : NULL, .dweight = dweight ? dn_tensor_host (dweight) : NULL,
                   .dbias = dbias ? dn_tensor_host (dbias) : NULL, .dout = dn_tensor_host (dout),
                   .inp = dn_tensor_host (inp), .weight = weight ? dn_tensor_host (weight) : NULL,
                   .stat_a = dn_tensor_host (stat_a), .stat_b = dn_tensor_host (stat_b),
                   .N = N, .C = C, .S = S, .eps = eps, .train = train };
      dn_cpu_parallel_for (dev, C, 1 + (1 << 14) / (N * S), bn_backward_range, &a);
      return DN_OK;
    }
  DnNormLayout l = dn_norm_layout (N * S, C, S == 1);
  BnBwdParams pc = { (uint32_t) N, (uint32_t) C, (uint32_t) S, l.L, l.lane_fast,
                     (train ? 1u : 0u) | (weight ? 2u : 0u) | (dinp ? 4u : 0u) | (dweight ? 8u : 0u)
                       | (dbias ? 16u : 0u),
                     eps };
  DnBinding b[] = { DN_READ (dout),
                    DN_READ (inp),
                    weight ? DN_READ (weight) : DN_READ (inp),
                    DN_READ (stat_a),
                    DN_READ (stat_b),
                    dinp ? DN_READ_WRITE (dinp) : DN_READ (inp),
                    dweight ? DN_READ_WRITE (dweight) : DN_READ (inp),
                    dbias ? DN_READ_WRITE (dbias) : DN_READ (inp) };
  return dn_norm_dispatch_groups (dev, DN_SHADER_BATCHNORM_BWD, b, 8, &pc, sizeof pc, dn_div_up (C, l.P));
}

DnStatus
dn_batchnorm_eval_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout,
                            const DnTensor *inp, const DnTensor *weight, const DnTensor *running_mean,
                            const DnTensor *running_var, float eps)
{
  const char *op = "batchnorm_eval_backward";
  int64_t N, C, S;
  if (!dout || !running_mean || !running_var)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout, running_mean and running_var are required", op);
  DN_TRY (bn_check (op, inp, (const DnTensor *[]){ dinp, dout }, 2,
                    (const DnTensor *[]){ weight, dweight, dbias, running_mean, running_var },
                    (const char *const[]){ "weight", "dweight", "dbias", "running_mean", "running_var" }, 5, &N, &C,
                    &S));
  return bn_backward (dinp, dweight, dbias, dout, inp, weight, running_mean, running_var, N, C, S, false, eps);
}

DnStatus
dn_batchnorm_train_forward (DnTensor *out, DnTensor *mean, DnTensor *rstd, DnTensor *running_mean,
                            DnTensor *running_var, const DnTensor *inp, const DnTensor *weight, const DnTensor *bias,
                            float momentum, float eps)
{
  const char *op = "batchnorm_train_forward";
  int64_t N, C, S;
  if (!out || !mean || !rstd)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out, mean and rstd are required", op);
  if ((running_mean == NULL) != (running_var == NULL))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: give both running_mean and running_var, or neither", op);
  DN_TRY (bn_check (op, inp, (const DnTensor *[]){ out }, 1,
                    (const DnTensor *[]){ weight, bias, mean, rstd, running_mean, running_var },
                    (const char *const[]){ "weight", "bias", "mean", "rstd", "running_mean", "running_var" }, 6, &N,
                    &C, &S));
  if (dn_tensor_numel (inp) == 0)
    return DN_OK;
  if (N * S == 1)
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: expected more than 1 value per channel when training, got input %s",
                           op, dn_tensor_shape_str (inp, s, sizeof s));
    }
  DnDevice *dev = inp->dev;
  if (dn_device_is_cpu (dev))
    {
      BnArgs a = { .out = dn_tensor_host (out), .mean = dn_tensor_host (mean), .rstd = dn_tensor_host (rstd),
                   .rmean = running_mean ? dn_tensor_host (running_mean) : NULL,
                   .rvar = running_var ? dn_tensor_host (running_var) : NULL,
                   .inp = dn_tensor_host (inp), .weight = weight ? dn_tensor_host (weight) : NULL,
                   .bias = bias ? dn_tensor_host (bias) : NULL, .N = N, .C = C, .S = S,
                   .momentum = momentum, .eps = eps };
      dn_cpu_parallel_for (dev, C, 1 + (1 << 14) / (N * S), bn_train_forward_range, &a);
      return DN_OK;
    }
  DnNormLayout l = dn_norm_layout (N * S, C, S == 1);
  struct
  {
    uint32_t N, C, S, L, lane_fast, flags;
    float momentum, eps;
  } pc = { (uint32_t) N, (uint32_t) C, (uint32_t) S, l.L, l.lane_fast,
           (weight ? 1u : 0u) | (bias ? 2u : 0u) | (running_mean ? 4u : 0u), momentum, eps };
  _Static_assert (sizeof pc == 32, "batchnorm_train_fwd push constants");
  DnBinding b[] = { DN_READ (inp),
                    weight ? DN_READ (weight) : DN_READ (inp),
                    bias ? DN_READ (bias) : DN_READ (inp),
                    DN_WRITE (out),
                    DN_WRITE (mean),
                    DN_WRITE (rstd),
                    running_mean ? DN_READ_WRITE (running_mean) : DN_READ (inp),
                    running_var ? DN_READ_WRITE (running_var) : DN_READ (inp) };
  return dn_norm_dispatch_groups (dev, DN_SHADER_BATCHNORM_TRAIN_FWD, b, 8, &pc, sizeof pc, dn_div_up (C, l.P));
}

DnStatus
dn_batchnorm_train_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout,
                             const DnTensor *inp, const DnTensor *weight, const DnTensor *mean, const DnTensor *rstd)
{
  const char *op = "batchnorm_train_backward";
  int64_t N, C, S;
  if (!dout || !mean || !rstd)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout, mean and rstd are required", op);
  DN_TRY (bn_check (op, inp, (const DnTensor *[]){ dinp, dout }, 2,
                    (const DnTensor *[]){ weight, dweight, dbias, mean, rstd },
                    (const char *const[]){ "weight", "dweight", "dbias", "mean", "rstd" }, 5, &N, &C, &S));
  return bn_backward (dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, S, true, 0.0f);
}
