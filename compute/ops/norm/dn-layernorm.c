/* dn-layernorm.c: LayerNorm forward/backward, channels-last and channels-first, on both backends.
 *
 * Both layouts are one op on the layout (outer, C, inner): channels-last (...,C) is inner = 1, channels-first
 * (N,C,*) is outer = N, inner = prod(*). Shaders: shaders/norm/layernorm_{fwd,bwd_inp,bwd_param}.comp.
 * Reference: dn_ref_layernorm_forward/backward (compute/ref/dn-ref-norm.c), after llm.c's layernorm.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "dn-norm-private.h"
#include "dn-ops-norm.h"

typedef struct
{
  float *out, *mean, *rstd, *dinp, *dweight, *dbias;
  const float *inp, *weight, *bias, *dout, *cmean, *crstd;
  int64_t outer, C, inner;
  float eps;
} LnArgs;

#define LN_BLOCK 256 /* positions per CPU work item when inner > 1 */

/* CPU forward over work items: rows (inner = 1) or (o, block of inner positions) */
static void
ln_forward_range (void *ctx, int64_t b, int64_t e)
{
  LnArgs *a = ctx;
  const int64_t C = a->C, inner = a->inner;
  if (inner == 1)
    {
      for (int64_t r = b; r < e; r++)
        {
          const float *x = a->inp + r * C;
          float *y = a->out + r * C;
          double m = dn_norm_sum (x, C) / (double) C;
          double v = dn_norm_sumsq_centered (x, C, m) / (double) C;
          float mf = (float) m, rf = (float) (1.0 / sqrt (v + a->eps));
          for (int64_t c = 0; c < C; c++)
            {
              float n = (x[c] - mf) * rf;
              y[c] = n * (a->weight ? a->weight[c] : 1.0f) + (a->bias ? a->bias[c] : 0.0f);
            }
          if (a->mean)
            {
              a->mean[r] = mf;
              a->rstd[r] = rf;
            }
        }
      return;
    }
  int64_t nblk = (inner + LN_BLOCK - 1) / LN_BLOCK;
  double m[LN_BLOCK], v[LN_BLOCK];
  float mf[LN_BLOCK], rf[LN_BLOCK];
  for (int64_t it = b; it < e; it++)
    {
      int64_t o = it / nblk, s0 = (it % nblk) * LN_BLOCK;
      int64_t ns = inner - s0 < LN_BLOCK ? inner - s0 : LN_BLOCK;
      const float *x = a->inp + o * C * inner + s0;
      float *y = a->out + o * C * inner + s0;
      /* pass 1: mean; pass 2: biased variance; pass 3: normalise */
      for (int64_t s = 0; s < ns; s++)
        m[s] = v[s] = 0;
      for (int64_t c = 0; c < C; c++)
        for (int64_t s = 0; s < ns; s++)
          m[s] += x[c * inner + s];
      for (int64_t s = 0; s < ns; s++)
        m[s] /= (double) C;
      for (int64_t c = 0; c < C; c++)
        for (int64_t s = 0; s < ns; s++)
          {
            double d = x[c * inner + s] - m[s];
            v[s] += d * d;
          }
      for (int64_t s = 0; s < ns; s++)
        {
          mf[s] = (float) m[s];
          rf[s] = (float) (1.0 / sqrt (v[s] / (double) C + a->eps));
        }
      for (int64_t c = 0; c < C; c++)
        {
          float w = a->weight ? a->weight[c] : 1.0f, bb = a->bias ? a->bias[c] : 0.0f;
          for (int64_t s = 0; s < ns; s++)
            y[c * inner + s] = (x[c * inner + s] - mf[s]) * rf[s] * w + bb;
        }
      if (a->mean)
        {
          memcpy (a->mean + o * inner + s0, mf, (size_t) ns * sizeof (float));
          memcpy (a->rstd + o * inner + s0, rf, (size_t) ns * sizeof (float));
        }
    }
}

/* CPU backward for dinp over the same work items */
static void
ln_backward_inp_range (void *ctx, int64_t b, int64_t e)
{
  LnArgs *a = ctx;
  const int64_t C = a->C, inner = a->inner;
  if (inner == 1)
    {
      for (int64_t row = b; row < e; row++)
        {
          const float *x = a->inp + row * C, *g = a->dout + row * C;
          float *dx = a->dinp + row * C;
          const float m = a->cmean[row], r = a->crstd[row];
          /* pass 1: mean(dnorm), mean(dnorm·xhat); pass 2: accumulate */
          double d1 = 0, d2 = 0, e1 = 0, e2 = 0;
          int64_t c = 0;
          for (; c + 2 <= C; c += 2)
            {
              float dn0 = (a->weight ? a->weight[c] : 1.0f) * g[c];
              float dn1 = (a->weight ? a->weight[c + 1] : 1.0f) * g[c + 1];
              d1 += dn0;
              e1 += dn1;
              d2 += dn0 * ((x[c] - m) * r);
              e2 += dn1 * ((x[c + 1] - m) * r);
            }
          for (; c < C; c++)
            {
              float dn = (a->weight ? a->weight[c] : 1.0f) * g[c];
              d1 += dn;
              d2 += dn * ((x[c] - m) * r);
            }
          d1 += e1;
          d2 += e2;
          float m1 = (float) (d1 / (double) C), m2 = (float) (d2 / (double) C);
          for (c = 0; c < C; c++)
            {
              float dn = (a->weight ? a->weight[c] : 1.0f) * g[c];
              dx[c] += (dn - m1 - (x[c] - m) * r * m2) * r;
            }
        }
      return;
    }
  int64_t nblk = (inner + LN_BLOCK - 1) / LN_BLOCK;
  double s1[LN_BLOCK], s2[LN_BLOCK];
  for (int64_t it = b; it < e; it++)
    {
      int64_t o = it / nblk, s0 = (it % nblk) * LN_BLOCK;
      int64_t ns = inner - s0 < LN_BLOCK ? inner - s0 : LN_BLOCK;
      int64_t base = o * C * inner + s0;
      const float *x = a->inp + base, *g = a->dout + base;
      const float *m = a->cmean + o * inner + s0, *r = a->crstd + o * inner + s0;
      float *dx = a->dinp + base;
      /* pass 1: mean(dnorm), mean(dnorm·xhat) */
      for (int64_t s = 0; s < ns; s++)
        s1[s] = s2[s] = 0;
      for (int64_t c = 0; c < C; c++)
        {
          float w = a->weight ? a->weight[c] : 1.0f;
          for (int64_t s = 0; s < ns; s++)
            {
              float dn = w * g[c * inner + s];
              s1[s] += dn;
              s2[s] += (double) dn * ((x[c * inner + s] - m[s]) * r[s]);
            }
        }
      for (int64_t s = 0; s < ns; s++)
        {
          s1[s] /= (double) C;
          s2[s] /= (double) C;
        }
      /* pass 2: accumulate */
      for (int64_t c = 0; c < C; c++)
        {
          float w = a->weight ? a->weight[c] : 1.0f;
          for (int64_t s = 0; s < ns; s++)
            {
              float xh = (x[c * inner + s] - m[s]) * r[s];
              dx[c * inner + s] += (float) ((w * g[c * inner + s] - s1[s] - xh * s2[s]) * r[s]);
            }
        }
    }
}

#define LN_CBLOCK 16 /* channels per CPU work item of the parameter gradients */

static void
ln_backward_param_range (void *ctx, int64_t b, int64_t e)
{
  LnArgs *a = ctx;
  const int64_t C = a->C, inner = a->inner;
  double sw[LN_CBLOCK], sb[LN_CBLOCK];
  for (int64_t it = b; it < e; it++)
    {
      int64_t c0 = it * LN_CBLOCK, nc = C - c0 < LN_CBLOCK ? C - c0 : LN_CBLOCK;
      for (int64_t k = 0; k < nc; k++)
        sw[k] = sb[k] = 0;
      for (int64_t o = 0; o < a->outer; o++)
        for (int64_t k = 0; k < nc; k++)
          {
            int64_t base = (o * C + c0 + k) * inner;
            const float *x = a->inp + base, *g = a->dout + base;
            const float *m = a->cmean + o * inner, *r = a->crstd + o * inner;
            double w = 0, bb = 0;
            for (int64_t s = 0; s < inner; s++)
              {
                w += (double) g[s] * ((x[s] - m[s]) * r[s]);
                bb += g[s];
              }
            sw[k] += w;
            sb[k] += bb;
          }
      for (int64_t k = 0; k < nc; k++)
        {
          if (a->dweight)
            a->dweight[c0 + k] += (float) sw[k];
          if (a->dbias)
            a->dbias[c0 + k] += (float) sb[k];
        }
    }
}

/* channels-last parameter gradients: work item = a chunk of rows, partial sums per channel into
 * part[item][2C] (streaming the rows once), reduced afterwards by the caller */
typedef struct
{
  const LnArgs *a;
  double *part;
  int64_t rows_per_item;
} LnPartArgs;

static void
ln_backward_param_rows_range (void *ctx, int64_t b, int64_t e)
{
  LnPartArgs *p = ctx;
  const LnArgs *a = p->a;
  const int64_t C = a->C;
  for (int64_t it = b; it < e; it++)
    {
      double *sw = p->part + it * 2 * C, *sb = sw + C;
      for (int64_t c = 0; c < 2 * C; c++)
        sw[c] = 0;
      int64_t r0 = it * p->rows_per_item, r1 = r0 + p->rows_per_item < a->outer ? r0 + p->rows_per_item : a->outer;
      for (int64_t o = r0; o < r1; o++)
        {
          const float *x = a->inp + o * C, *g = a->dout + o * C;
          const float m = a->cmean[o], r = a->crstd[o];
          for (int64_t c = 0; c < C; c++)
            {
              sw[c] += g[c] * ((x[c] - m) * r);
              sb[c] += g[c];
            }
        }
    }
}

static DnStatus
ln_backward_param_cpu (DnDevice *dev, LnArgs *a)
{
  const int64_t C = a->C;
  if (a->inner > 1)
    {
      dn_cpu_parallel_for (dev, (C + LN_CBLOCK - 1) / LN_CBLOCK, 1, ln_backward_param_range, a);
      return DN_OK;
    }
  int64_t items = 4 * (int64_t) dn_device_n_threads (dev);
  if (items > a->outer)
    items = a->outer;
  LnPartArgs p = { a, malloc ((size_t) (items * 2 * C) * sizeof (double)), (a->outer + items - 1) / items };
  if (!p.part)
    return dn_set_error (DN_ERROR_NO_MEMORY, "layernorm_backward: no memory for %" PRId64 " partial sums",
                         items * 2 * C);
  dn_cpu_parallel_for (dev, items, 1, ln_backward_param_rows_range, &p);
  for (int64_t c = 0; c < C; c++)
    {
      double w = 0, bb = 0;
      for (int64_t it = 0; it < items; it++)
        {
          w += p.part[it * 2 * C + c];
          bb += p.part[it * 2 * C + C + c];
        }
      if (a->dweight)
        a->dweight[c] += (float) w;
      if (a->dbias)
        a->dbias[c] += (float) bb;
    }
  free (p.part);
  return DN_OK;
}

static DnStatus
ln_forward (const char *op, DnTensor *out, DnTensor *mean, DnTensor *rstd, const DnTensor *inp,
            const DnTensor *weight, const DnTensor *bias, int64_t outer, int64_t C, int64_t inner, float eps)
{
  if (dn_tensor_numel (inp) == 0)
    return DN_OK;
  DnDevice *dev = inp->dev;
  if (dn_device_is_cpu (dev))
    {
      LnArgs a = { .out = dn_tensor_host (out),
                   .mean = mean ? dn_tensor_host (mean) : NULL,
                   .rstd = rstd ? dn_tensor_host (rstd) : NULL,
                   .inp = dn_tensor_host (inp),
                   .weight = weight ? dn_tensor_host (weight) : NULL,
                   .bias = bias ? dn_tensor_host (bias) : NULL,
                   .outer = outer, .C = C, .inner = inner, .eps = eps };
      if (!a.mean || !a.rstd)
        a.mean = a.rstd = NULL;
      int64_t items = inner == 1 ? outer : outer * ((inner + LN_BLOCK - 1) / LN_BLOCK);
      int64_t grain = inner == 1 ? 1 + (1 << 14) / C : 1;
      dn_cpu_parallel_for (dev, items, grain, ln_forward_range, &a);
      return DN_OK;
    }
  DnNormLayout l = dn_norm_layout (C, outer * inner, inner > 1);
  struct
  {
    uint32_t outer, C, inner, L, lane_fast, flags;
    float eps;
  } pc = { (uint32_t) outer, (uint32_t) C, (uint32_t) inner, l.L, l.lane_fast,
           (weight ? 1u : 0u) | (bias ? 2u : 0u) | (mean && rstd ? 4u : 0u), eps };
  _Static_assert (sizeof pc == 28, "layernorm_fwd push constants");
  DnBinding b[] = { DN_READ (inp),
                    weight ? DN_READ (weight) : DN_READ (inp),
                    bias ? DN_READ (bias) : DN_READ (inp),
                    DN_WRITE (out),
                    mean && rstd ? DN_WRITE (mean) : DN_READ (inp),
                    mean && rstd ? DN_WRITE (rstd) : DN_READ (inp) };
  (void) op;
  return dn_norm_dispatch_groups (dev, DN_SHADER_LAYERNORM_FWD, b, 6, &pc, sizeof pc, dn_div_up (outer * inner, l.P));
}

static DnStatus
ln_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout, const DnTensor *inp,
             const DnTensor *weight, const DnTensor *mean, const DnTensor *rstd, int64_t outer, int64_t C,
             int64_t inner)
{
  if (dn_tensor_numel (inp) == 0)
    return DN_OK;
  DnDevice *dev = inp->dev;
  if (dn_device_is_cpu (dev))
    {
      LnArgs a = { .dinp = dinp ? dn_tensor_host (dinp) : NULL,
                   .dweight = dweight ? dn_tensor_host (dweight) : NULL,
                   .dbias = dbias ? dn_tensor_host (dbias) : NULL,
                   .dout = dn_tensor_host (dout),
                   .inp = dn_tensor_host (inp),
                   .weight = weight ? dn_tensor_host (weight) : NULL,
                   .cmean = dn_tensor_host (mean),
                   .crstd = dn_tensor_host (rstd),
                   .outer = outer, .C = C, .inner = inner };
      if (dinp)
        {
          int64_t items = outer * ((inner + LN_BLOCK - 1) / LN_BLOCK);
          int64_t grain = inner == 1 ? 1 + (1 << 14) / C : 1;
          dn_cpu_parallel_for (dev, items, grain, ln_backward_inp_range, &a);
        }
      if (dweight || dbias)
        return ln_backward_param_cpu (dev, &a);
      return DN_OK;
    }
  typedef struct
  {
    uint32_t outer, C, inner, L, lane_fast, flags;
  } Params;
  _Static_assert (sizeof (Params) == 24, "layernorm_bwd push constants");
  Params pc;
  if (dinp)
    {
      DnNormLayout l = dn_norm_layout (C, outer * inner, inner > 1);
      pc = (Params){ (uint32_t) outer, (uint32_t) C, (uint32_t) inner, l.L, l.lane_fast, weight ? 1u : 0u };
      DnBinding b[] = { DN_READ (dout), DN_READ (inp), weight ? DN_READ (weight) : DN_READ (inp),
                        DN_READ (mean), DN_READ (rstd), DN_READ_WRITE (dinp) };
      DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_LAYERNORM_BWD_INP, b, 6, &pc, sizeof pc,
                                       dn_div_up (outer * inner, l.P)));
    }
  if (dweight || dbias)
    {
      DnNormLayout l = dn_norm_layout (outer * inner, C, inner == 1);
      pc = (Params){ (uint32_t) outer, (uint32_t) C, (uint32_t) inner, l.L, l.lane_fast,
                          (dweight ? 1u : 0u) | (dbias ? 2u : 0u) };
      DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ (mean), DN_READ (rstd),
                        dweight ? DN_READ_WRITE (dweight) : DN_READ (inp),
                        dbias ? DN_READ_WRITE (dbias) : DN_READ (inp) };
      DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_LAYERNORM_BWD_PARAM, b, 6, &pc, sizeof pc, dn_div_up (C, l.P)));
    }
  return DN_OK;
}

/* Shape checks shared by both layouts: out/dinp/dout like inp, weight/bias/grads (C), stats @npos. */
static DnStatus
ln_check (const char *op, const DnTensor *like_inp[], int n_like, const DnTensor *inp, const DnTensor *vecs[],
          const char *const vec_names[], int n_vecs, const DnTensor *stats[], const char *const stat_names[],
          int n_stats, int64_t C, int64_t npos)
{
  DN_TRY (dn_check_same_device (op, inp, inp));
  DN_TRY (dn_norm_check_size (op, inp));
  for (int i = 0; i < n_like; i++)
    if (like_inp[i])
      {
        DN_TRY (dn_check_same_device (op, inp, like_inp[i]));
        DN_TRY (dn_check_same_shape (op, inp, like_inp[i]));
      }
  for (int i = 0; i < n_vecs; i++)
    DN_TRY (dn_norm_check_vec (op, vec_names[i], vecs[i], inp, C));
  for (int i = 0; i < n_stats; i++)
    DN_TRY (dn_norm_check_numel (op, stat_names[i], stats[i], inp, npos));
  return DN_OK;
}

static DnStatus
ln_check_ndim (const char *op, const DnTensor *inp, int min_ndim)
{
  if (!inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL input", op);
  if (inp->ndim < min_ndim)
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: input %s needs at least %d dims", op,
                           dn_tensor_shape_str (inp, s, sizeof s), min_ndim);
    }
  return DN_OK;
}

DnStatus
dn_layernorm_forward (DnTensor *out, DnTensor *mean, DnTensor *rstd, const DnTensor *inp, const DnTensor *weight,
                      const DnTensor *bias, float eps)
{
  const char *op = "layernorm_forward";
  DN_TRY (ln_check_ndim (op, inp, 1));
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out is NULL", op);
  int64_t C = dn_tensor_dim (inp, -1), rows = C ? dn_tensor_numel (inp) / C : 0;
  if ((mean == NULL) != (rstd == NULL))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: give both mean and rstd, or neither", op);
  DN_TRY (ln_check (op, (const DnTensor *[]){ out }, 1, inp, (const DnTensor *[]){ weight, bias },
                    (const char *const[]){ "weight", "bias" }, 2, (const DnTensor *[]){ mean, rstd },
                    (const char *const[]){ "mean", "rstd" }, 2, C, rows));
  return ln_forward (op, out, mean, rstd, inp, weight, bias, rows, C, 1, eps);
}

DnStatus
dn_layernorm_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout, const DnTensor *inp,
                       const DnTensor *weight, const DnTensor *mean, const DnTensor *rstd)
{
  const char *op = "layernorm_backward";
  DN_TRY (ln_check_ndim (op, inp, 1));
  if (!dout || !mean || !rstd)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout, mean and rstd are required", op);
  int64_t C = dn_tensor_dim (inp, -1), rows = C ? dn_tensor_numel (inp) / C : 0;
  DN_TRY (ln_check (op, (const DnTensor *[]){ dinp, dout }, 2, inp, (const DnTensor *[]){ weight, dweight, dbias },
                    (const char *const[]){ "weight", "dweight", "dbias" }, 3, (const DnTensor *[]){ mean, rstd },
                    (const char *const[]){ "mean", "rstd" }, 2, C, rows));
  return ln_backward (dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, C, 1);
}

static void
cf_dims (const DnTensor *inp, int64_t *N, int64_t *C, int64_t *inner)
{
  *N = inp->shape[0];
  *C = inp->shape[1];
  *inner = 1;
  for (int d = 2; d < inp->ndim; d++)
    *inner *= inp->shape[d];
}

DnStatus
dn_layernorm_channels_first_forward (DnTensor *out, DnTensor *mean, DnTensor *rstd, const DnTensor *inp,
                                     const DnTensor *weight, const DnTensor *bias, float eps)
{
  const char *op = "layernorm_channels_first_forward";
  DN_TRY (ln_check_ndim (op, inp, 2));
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out is NULL", op);
  if ((mean == NULL) != (rstd == NULL))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: give both mean and rstd, or neither", op);
  int64_t N, C, inner;
  cf_dims (inp, &N, &C, &inner);
  DN_TRY (ln_check (op, (const DnTensor *[]){ out }, 1, inp, (const DnTensor *[]){ weight, bias },
                    (const char *const[]){ "weight", "bias" }, 2, (const DnTensor *[]){ mean, rstd },
                    (const char *const[]){ "mean", "rstd" }, 2, C, N * inner));
  return ln_forward (op, out, mean, rstd, inp, weight, bias, N, C, inner, eps);
}

DnStatus
dn_layernorm_channels_first_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout,
                                      const DnTensor *inp, const DnTensor *weight, const DnTensor *mean,
                                      const DnTensor *rstd)
{
  const char *op = "layernorm_channels_first_backward";
  DN_TRY (ln_check_ndim (op, inp, 2));
  if (!dout || !mean || !rstd)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout, mean and rstd are required", op);
  int64_t N, C, inner;
  cf_dims (inp, &N, &C, &inner);
  DN_TRY (ln_check (op, (const DnTensor *[]){ dinp, dout }, 2, inp, (const DnTensor *[]){ weight, dweight, dbias },
                    (const char *const[]){ "weight", "dweight", "dbias" }, 3, (const DnTensor *[]){ mean, rstd },
                    (const char *const[]){ "mean", "rstd" }, 2, C, N * inner));
  return ln_backward (dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, inner);
}
