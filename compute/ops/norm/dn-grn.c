/* dn-grn.c: GRN (ConvNeXt-V2 global response normalisation) on NHWC tensors, forward and backward, on
 * both backends. twins.md §2.1 step 4a and §2.2 (zero-norm hazard: the norm's gradient is 0 where
 * ||h|| = 0). Shaders: shaders/norm/grn_{norm,nx,fwd,bwd_inp,bwd_param}.comp.
 * Reference: dn_ref_grn_forward/backward (compute/ref/dn-ref-norm.c).
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "dn-norm-private.h"
#include "dn-ops-norm.h"

#define GRN_CBLOCK 16 /* channels per CPU work item of the per-channel sums */

typedef struct
{
  float *out, *gx, *nx, *dh, *dgamma, *dbeta;
  const float *h, *gamma, *beta, *dout, *cgx, *cnx;
  double *P, *Q, *kx; /* backward: per (n,c) sum(dout·h), sum(dout); per (n,c) dgx/gx */
  int64_t N, HW, C;
  float eps;
} GrnArgs;

/* forward pass 1: gx[n,c] over work items (n, block of channels) */
static void
grn_norm_range (void *ctx, int64_t b, int64_t e)
{
  GrnArgs *a = ctx;
  const int64_t C = a->C, HW = a->HW, nblk = (C + GRN_CBLOCK - 1) / GRN_CBLOCK;
  double acc[GRN_CBLOCK];
  for (int64_t it = b; it < e; it++)
    {
      int64_t n = it / nblk, c0 = (it % nblk) * GRN_CBLOCK, nc = C - c0 < GRN_CBLOCK ? C - c0 : GRN_CBLOCK;
      for (int64_t k = 0; k < nc; k++)
        acc[k] = 0;
      const float *h = a->h + n * HW * C + c0;
      for (int64_t s = 0; s < HW; s++)
        for (int64_t k = 0; k < nc; k++)
          acc[k] += (double) h[s * C + k] * h[s * C + k];
      for (int64_t k = 0; k < nc; k++)
        a->gx[n * C + c0 + k] = (float) sqrt (acc[k]);
    }
}

/* forward pass 3: out over rows (n, hw) */
static void
grn_apply_range (void *ctx, int64_t b, int64_t e)
{
  GrnArgs *a = ctx;
  const int64_t C = a->C;
  for (int64_t r = b; r < e; r++)
    {
      const float *nx = a->nx + (r / a->HW) * C, *h = a->h + r * C;
      float *y = a->out + r * C;
      for (int64_t c = 0; c < C; c++)
        y[c] = a->gamma[c] * (h[c] * nx[c]) + a->beta[c] + h[c];
    }
}

/* backward pass 1: P[n,c] = sum_hw dout·h, Q[n,c] = sum_hw dout */
static void
grn_bwd_sums_range (void *ctx, int64_t b, int64_t e)
{
  GrnArgs *a = ctx;
  const int64_t C = a->C, HW = a->HW, nblk = (C + GRN_CBLOCK - 1) / GRN_CBLOCK;
  double p[GRN_CBLOCK], q[GRN_CBLOCK];
  for (int64_t it = b; it < e; it++)
    {
      int64_t n = it / nblk, c0 = (it % nblk) * GRN_CBLOCK, nc = C - c0 < GRN_CBLOCK ? C - c0 : GRN_CBLOCK;
      for (int64_t k = 0; k < nc; k++)
        p[k] = q[k] = 0;
      const float *h = a->h + n * HW * C + c0, *g = a->dout + n * HW * C + c0;
      for (int64_t s = 0; s < HW; s++)
        for (int64_t k = 0; k < nc; k++)
          {
            p[k] += (double) g[s * C + k] * h[s * C + k];
            q[k] += g[s * C + k];
          }
      for (int64_t k = 0; k < nc; k++)
        {
          a->P[n * C + c0 + k] = p[k];
          a->Q[n * C + c0 + k] = q[k];
        }
    }
}

/* backward pass 3: dh over rows (n, hw) */
static void
grn_bwd_dh_range (void *ctx, int64_t b, int64_t e)
{
  GrnArgs *a = ctx;
  const int64_t C = a->C;
  for (int64_t r = b; r < e; r++)
    {
      int64_t n = r / a->HW;
      const float *nx = a->cnx + n * C, *h = a->h + r * C, *g = a->dout + r * C;
      const double *kx = a->kx + n * C;
      float *dh = a->dh + r * C;
      for (int64_t c = 0; c < C; c++)
        dh[c] += g[c] * (a->gamma[c] * nx[c] + 1.0f) + (float) kx[c] * h[c];
    }
}

static DnStatus
grn_check (const char *op, const DnTensor *h, const DnTensor *like[], int n_like, const DnTensor *vecs[],
           const char *const vec_names[], int n_vecs, const DnTensor *nc[], const char *const nc_names[], int n_nc,
           int64_t *N, int64_t *HW, int64_t *C)
{
  if (!h)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL input", op);
  DN_TRY (dn_check_same_device (op, h, h));
  DN_TRY (dn_check_shape (op, "h", h, 4, (const int64_t[]){ -1, -1, -1, -1 }));
  DN_TRY (dn_norm_check_size (op, h));
  *N = h->shape[0];
  *HW = h->shape[1] * h->shape[2];
  *C = h->shape[3];
  for (int i = 0; i < n_like; i++)
    if (like[i])
      {
        DN_TRY (dn_check_same_device (op, h, like[i]));
        DN_TRY (dn_check_same_shape (op, h, like[i]));
      }
  for (int i = 0; i < n_vecs; i++)
    DN_TRY (dn_norm_check_vec (op, vec_names[i], vecs[i], h, *C));
  for (int i = 0; i < n_nc; i++)
    {
      DN_TRY (dn_check_same_device (op, h, nc[i]));
      DN_TRY (dn_check_shape (op, nc_names[i], nc[i], 2, (const int64_t[]){ *N, *C }));
    }
  return DN_OK;
}

DnStatus
dn_grn_forward (DnTensor *out, DnTensor *gx, DnTensor *nx, const DnTensor *h, const DnTensor *gamma,
                const DnTensor *beta, float eps)
{
  const char *op = "grn_forward";
  int64_t N, HW, C;
  if (!out || !gx || !nx || !gamma || !beta)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out, gx, nx, gamma and beta are required", op);
  DN_TRY (grn_check (op, h, (const DnTensor *[]){ out }, 1, (const DnTensor *[]){ gamma, beta },
                     (const char *const[]){ "gamma", "beta" }, 2, (const DnTensor *[]){ gx, nx },
                     (const char *const[]){ "gx", "nx" }, 2, &N, &HW, &C));
  if (N * C == 0)
    return DN_OK;
  DnDevice *dev = h->dev;
  if (dn_device_is_cpu (dev))
    {
      GrnArgs a = { .out = dn_tensor_host (out), .gx = dn_tensor_host (gx), .nx = dn_tensor_host (nx),
                    .h = dn_tensor_host (h), .gamma = dn_tensor_host (gamma), .beta = dn_tensor_host (beta),
                    .N = N, .HW = HW, .C = C, .eps = eps };
      dn_cpu_parallel_for (dev, N * ((C + GRN_CBLOCK - 1) / GRN_CBLOCK), 1 + (1 << 12) / (HW + 1), grn_norm_range,
                           &a);
      for (int64_t n = 0; n < N; n++)
        {
          double m = 0;
          for (int64_t c = 0; c < C; c++)
            m += a.gx[n * C + c];
          float den = (float) (m / (double) C) + eps;
          for (int64_t c = 0; c < C; c++)
            a.nx[n * C + c] = a.gx[n * C + c] / den;
        }
      if (HW > 0)
        dn_cpu_parallel_for (dev, N * HW, 1 + (1 << 14) / C, grn_apply_range, &a);
      return DN_OK;
    }
  /* pass 1: gx; pass 2: nx; pass 3: out */
  {
    DnNormLayout l = dn_norm_layout (HW, N * C, C > 1);
    struct
    {
      uint32_t N, HW, C, L, lane_fast;
    } pc = { (uint32_t) N, (uint32_t) HW, (uint32_t) C, l.L, l.lane_fast };
    _Static_assert (sizeof pc == 20, "grn_norm push constants");
    DnBinding b[] = { DN_READ (h), DN_WRITE (gx) };
    DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_GRN_NORM, b, 2, &pc, sizeof pc, dn_div_up (N * C, l.P)));
  }
  {
    DnNormLayout l = dn_norm_layout (C, N, 0);
    struct
    {
      uint32_t N, C, L, lane_fast;
      float eps;
    } pc = { (uint32_t) N, (uint32_t) C, l.L, l.lane_fast, eps };
    _Static_assert (sizeof pc == 20, "grn_nx push constants");
    DnBinding b[] = { DN_READ (gx), DN_WRITE (nx) };
    DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_GRN_NX, b, 2, &pc, sizeof pc, dn_div_up (N, l.P)));
  }
  int64_t total = N * HW * C;
  if (total == 0)
    return DN_OK;
  struct
  {
    uint32_t total, HW, C;
  } pc = { (uint32_t) total, (uint32_t) HW, (uint32_t) C };
  _Static_assert (sizeof pc == 12, "grn_fwd push constants");
  DnBinding b[] = { DN_READ (h), DN_READ (nx), DN_READ (gamma), DN_READ (beta), DN_WRITE (out) };
  return dn_vk_dispatch_1d (dev, DN_SHADER_GRN_FWD, b, 5, &pc, sizeof pc, total);
}

DnStatus
dn_grn_backward (DnTensor *dh, DnTensor *dgamma, DnTensor *dbeta, const DnTensor *dout, const DnTensor *h,
                 const DnTensor *gamma, const DnTensor *gx, const DnTensor *nx, float eps)
{
  const char *op = "grn_backward";
  int64_t N, HW, C;
  if (!dout || !gamma || !gx || !nx)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dout, gamma, gx and nx are required", op);
  DN_TRY (grn_check (op, h, (const DnTensor *[]){ dh, dout }, 2, (const DnTensor *[]){ gamma, dgamma, dbeta },
                     (const char *const[]){ "gamma", "dgamma", "dbeta" }, 3, (const DnTensor *[]){ gx, nx },
                     (const char *const[]){ "gx", "nx" }, 2, &N, &HW, &C));
  if (N * HW * C == 0 || (!dh && !dgamma && !dbeta))
    return DN_OK;
  DnDevice *dev = h->dev;
  if (dn_device_is_cpu (dev))
    {
      GrnArgs a = { .dh = dh ? dn_tensor_host (dh) : NULL, .dgamma = dgamma ? dn_tensor_host (dgamma) : NULL,
                    .dbeta = dbeta ? dn_tensor_host (dbeta) : NULL, .dout = dn_tensor_host (dout),
                    .h = dn_tensor_host (h), .gamma = dn_tensor_host (gamma), .cgx = dn_tensor_host (gx),
                    .cnx = dn_tensor_host (nx), .N = N, .HW = HW, .C = C, .eps = eps };
      a.P = malloc ((size_t) (N * C) * sizeof (double));
      a.Q = malloc ((size_t) (N * C) * sizeof (double));
      a.kx = malloc ((size_t) (N * C) * sizeof (double));
      if (!a.P || !a.Q || !a.kx)
        {
          free (a.P);
          free (a.Q);
          free (a.kx);
          return dn_set_error (DN_ERROR_NO_MEMORY, "%s: no memory for %" PRId64 " scratch values", op, 3 * N * C);
        }
      dn_cpu_parallel_for (dev, N * ((C + GRN_CBLOCK - 1) / GRN_CBLOCK), 1 + (1 << 12) / HW, grn_bwd_sums_range, &a);
      for (int64_t n = 0; n < N; n++)
        {
          double m = 0, S = 0;
          for (int64_t c = 0; c < C; c++)
            {
              m += a.cgx[n * C + c];
              S += a.gamma[c] * a.P[n * C + c] * a.cgx[n * C + c];
              if (a.dgamma)
                a.dgamma[c] += (float) (a.cnx[n * C + c] * a.P[n * C + c]);
              if (a.dbeta)
                a.dbeta[c] += (float) a.Q[n * C + c];
            }
          double den = m / (double) C + eps;
          for (int64_t c = 0; c < C; c++)
            {
              double g = a.cgx[n * C + c];
              double dg = a.gamma[c] * a.P[n * C + c] / den - S / ((double) C * den * den);
              a.kx[n * C + c] = g > 0 ? dg / g : 0.0;
            }
        }
      if (a.dh)
        dn_cpu_parallel_for (dev, N * HW, 1 + (1 << 14) / C, grn_bwd_dh_range, &a);
      free (a.P);
      free (a.Q);
      free (a.kx);
      return DN_OK;
    }
  if (dh)
    {
      struct
      {
        uint32_t N, HW, C;
        float eps;
      } pc = { (uint32_t) N, (uint32_t) HW, (uint32_t) C, eps };
      _Static_assert (sizeof pc == 16, "grn_bwd_inp push constants");
      DnBinding b[] = { DN_READ (dout), DN_READ (h), DN_READ (gamma), DN_READ (gx), DN_READ (nx), DN_READ_WRITE (dh) };
      DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_GRN_BWD_INP, b, 6, &pc, sizeof pc, N));
    }
  if (dgamma || dbeta)
    {
      DnNormLayout l = dn_norm_layout (N * HW, C, 1);
      struct
      {
        uint32_t N, HW, C, L, lane_fast, flags;
      } pc = { (uint32_t) N, (uint32_t) HW, (uint32_t) C, l.L, l.lane_fast, (dgamma ? 1u : 0u) | (dbeta ? 2u : 0u) };
      _Static_assert (sizeof pc == 24, "grn_bwd_param push constants");
      DnBinding b[] = { DN_READ (dout), DN_READ (h), DN_READ (nx), dgamma ? DN_READ_WRITE (dgamma) : DN_READ (h),
                        dbeta ? DN_READ_WRITE (dbeta) : DN_READ (h) };
      DN_TRY (dn_norm_dispatch_groups (dev, DN_SHADER_GRN_BWD_PARAM, b, 5, &pc, sizeof pc, dn_div_up (C, l.P)));
    }
  return DN_OK;
}
