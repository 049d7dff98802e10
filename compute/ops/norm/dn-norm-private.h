/* dn-norm-private.h: helpers shared by the norm family's op files (not installed, not public).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <inttypes.h>
#include <math.h>
#include <stdint.h>

#include "dn-device-private.h"

/* Workgroup layout for shaders/norm/norm_reduce.glsl: 256 threads = P positions × L lanes, for
 * @n_positions independent reductions of length @len each. @positions_adjacent: neighbouring positions
 * are neighbouring floats in memory (channels-first LayerNorm, NHWC channels, parameter gradients over
 * rows); then the positions are the fast index (coalesced loads), 64 per workgroup at most, 8 for long
 * reductions (≥ 2048) so that they get more lanes and more workgroups. Otherwise (rows: the reduced
 * elements are contiguous) the lanes are the fast index, as many as the row needs up to 256. */
typedef struct
{
  uint32_t L;         /* lanes per position (power of two) */
  uint32_t lane_fast; /* 1: the lanes of a position are consecutive invocations */
  uint32_t P;         /* positions per workgroup = 256 / L */
} DnNormLayout;

static inline uint32_t
dn_norm_pow2 (int64_t n)
{
  uint32_t p = 1;
  while ((int64_t) p < n && p < 256)
    p <<= 1;
  return p;
}

static inline DnNormLayout
dn_norm_layout (int64_t len, int64_t n_positions, int positions_adjacent)
{
  DnNormLayout l;
  if (positions_adjacent)
    {
      uint32_t P = dn_norm_pow2 (n_positions);
      /* long reductions (e.g. parameter gradients over all rows) get more lanes and more workgroups:
       * 8 adjacent floats are still one 32-byte memory sector */
      uint32_t Pmax = len >= 2048 ? 8 : 64;
      if (P > Pmax)
        P = Pmax;
      l.P = P;
      l.L = 256 / P;
      l.lane_fast = 0;
    }
  else
    {
      l.L = dn_norm_pow2 (len);
      l.P = 256 / l.L;
      l.lane_fast = 1;
    }
  return l;
}

/* Rejects tensors the 32-bit shader indexing cannot address. */
static inline DnStatus
dn_norm_check_size (const char *op, const DnTensor *t)
{
  if (t && dn_tensor_numel (t) > (int64_t) UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " elements exceed the 2^32 limit", op, dn_tensor_numel (t));
  return DN_OK;
}

/* Checks that an optional (C) parameter vector has shape (C). */
static inline DnStatus
dn_norm_check_vec (const char *op, const char *name, const DnTensor *t, const DnTensor *ref, int64_t C)
{
  if (!t)
    return DN_OK;
  DN_TRY (dn_check_same_device (op, ref, t));
  return dn_check_shape (op, name, t, 1, (const int64_t[]){ C });
}

/* Checks that @t holds exactly @n elements (any shape). */
static inline DnStatus
dn_norm_check_numel (const char *op, const char *name, const DnTensor *t, const DnTensor *ref, int64_t n)
{
  if (!t)
    return DN_OK;
  DN_TRY (dn_check_same_device (op, ref, t));
  if (dn_tensor_numel (t) != n)
    {
      char a[128], b[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s must hold %" PRId64 " elements (one per position of %s)", op,
                           name, dn_tensor_shape_str (t, a, sizeof a), n, dn_tensor_shape_str (ref, b, sizeof b));
    }
  return DN_OK;
}

/* Number of workgroups for @n positions at @P per group, as a 2-D grid (x ≤ 65535). */
static inline DnStatus
dn_norm_dispatch_groups (DnDevice *dev, DnShaderId shader, const DnBinding *b, int nb, const void *pc, size_t size,
                         int64_t groups)
{
  if (groups <= 0)
    return DN_OK;
  uint32_t gx = groups > 65535 ? 65535 : (uint32_t) groups;
  int64_t gy = (groups + gx - 1) / gx;
  if (gy > 65535)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " workgroups are too many for one dispatch",
                         dn_shader_table[shader].name, groups);
  return dn_vk_dispatch (dev, shader, b, nb, pc, size, gx, (uint32_t) gy, 1);
}

/* Row softmax kernels shared by dn-softmax.c and dn-attention.c (see there). */
void dn_norm_softmax_rows_cpu (DnDevice *dev, float *out, const float *inp, int64_t rows, int64_t L, int zero_masked);
void dn_norm_softmax_bwd_rows_cpu (DnDevice *dev, float *d, const float *g, const float *y, int64_t rows, int64_t L,
                                   int in_place, float scale);
DnStatus dn_norm_softmax_rows_vk (DnDevice *dev, DnShaderId shader, const DnTensor *inp, DnTensor *out, int64_t rows,
                                  int64_t L);
DnStatus dn_norm_softmax_bwd_rows_vk (DnDevice *dev, DnShaderId shader, const DnTensor *g, const DnTensor *y,
                                      DnTensor *d, int64_t rows, int64_t L, float scale);

/* CPU reduction helpers: float data, double accumulation in 4 independent chains (so the adds pipeline
 * and vectorise without -ffast-math reassociation). */
static inline double
dn_norm_sum (const float *x, int64_t n)
{
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    {
      a0 += x[i];
      a1 += x[i + 1];
      a2 += x[i + 2];
      a3 += x[i + 3];
    }
  for (; i < n; i++)
    a0 += x[i];
  return (a0 + a1) + (a2 + a3);
}

/* sum (x - m)² */
static inline double
dn_norm_sumsq_centered (const float *x, int64_t n, double m)
{
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    {
      double d0 = x[i] - m, d1 = x[i + 1] - m, d2 = x[i + 2] - m, d3 = x[i + 3] - m;
      a0 += d0 * d0;
      a1 += d1 * d1;
      a2 += d2 * d2;
      a3 += d3 * d3;
    }
  for (; i < n; i++)
    a0 += (x[i] - m) * (x[i] - m);
  return (a0 + a1) + (a2 + a3);
}

/* sum a·b */
static inline double
dn_norm_dot (const float *a, const float *b, int64_t n)
{
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    {
      a0 += (double) a[i] * b[i];
      a1 += (double) a[i + 1] * b[i + 1];
      a2 += (double) a[i + 2] * b[i + 2];
      a3 += (double) a[i + 3] * b[i + 3];
    }
  for (; i < n; i++)
    a0 += (double) a[i] * b[i];
  return (a0 + a1) + (a2 + a3);
}

/* s[0] += sum g, s[1] += sum g·(x - m)·r  (the two sums of a normalisation backward) */
static inline void
dn_norm_sums_g_gxhat (const float *g, const float *x, int64_t n, float m, float r, double s[2])
{
  double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  int64_t i = 0;
  for (; i + 2 <= n; i += 2)
    {
      a0 += g[i];
      a1 += g[i + 1];
      b0 += (double) g[i] * ((x[i] - m) * r);
      b1 += (double) g[i + 1] * ((x[i + 1] - m) * r);
    }
  for (; i < n; i++)
    {
      a0 += g[i];
      b0 += (double) g[i] * ((x[i] - m) * r);
    }
  s[0] += a0 + a1;
  s[1] += b0 + b1;
}
