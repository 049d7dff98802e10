/* dn-reduce.c: sums over strided index sets (dn_reduce_strided) and broadcasts (bcast_add), and the ops
 * made of them: dn_reduce_sum/mean_forward/backward and dn_bias_add_forward/backward.
 *
 * CPU: float64 accumulators, parallel over outputs, and also over slices of the summed range when there
 * are few outputs (a sum over everything). Vulkan: shaders/conv/reduce_strided.comp (Kahan per
 * invocation + a compensated tree; one invocation or one workgroup per output) and bcast_add.comp.
 * References: dn_ref_reduce_*, dn_ref_bias_add_* (compute/ref/dn-ref-conv.c).
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "dn-conv-private.h"
#include "dn-ops-conv.h"

/* dn_reduce_strided ----------------------------------------------------------------------------------- */

typedef struct
{
  const DnReduce *r;
  const float *x;
  float *y;
  double *partial; /* J × P partial sums, or NULL when P == 1 */
  int64_t P;       /* slices of the summed range */
  int64_t slice;   /* summed elements per slice */
} RedArgs;

/* Σ over flat summed indices [rb, re) of output j. */
static double
red_sum (const DnReduce *r, const float *x, int64_t j, int64_t rb, int64_t re)
{
  const float *base = x + (j / r->inner) * r->s_outer + (j % r->inner) * r->s_inner;
  double s = 0;
  int64_t r1 = rb / r->R2, r2 = rb % r->R2;
  for (int64_t i = rb; i < re; r1++, r2 = 0)
    {
      const float *p = base + r1 * r->s1;
      int64_t n = r->R2 - r2 < re - i ? r->R2 - r2 : re - i;
      if (r->s2 == 1)
        for (int64_t k = 0; k < n; k++)
          s += p[r2 + k];
      else
        for (int64_t k = 0; k < n; k++)
          s += p[(r2 + k) * r->s2];
      i += n;
    }
  return s;
}

static void
red_store (const DnReduce *r, float *y, int64_t j, double s)
{
  float v = (float) (s * r->scale);
  y[j] = r->accumulate ? y[j] + v : v;
}

/* one task per output */
static void
red_outputs (void *ctx, int64_t b, int64_t e)
{
  RedArgs *a = ctx;
  const DnReduce *r = a->r;
  int64_t R = r->R1 * r->R2;
  if (r->s_inner == 1 && r->inner > 1 && r->s2 != 1)
    {
      /* neighbouring outputs are neighbours in memory: walk the summed range outside, outputs inside */
      double acc[256];
      for (int64_t j0 = b; j0 < e;)
        {
          int64_t o = j0 / r->inner;
          int64_t j1 = (o + 1) * r->inner < e ? (o + 1) * r->inner : e;
          if (j1 - j0 > 256)
            j1 = j0 + 256;
          int64_t n = j1 - j0;
          for (int64_t k = 0; k < n; k++)
            acc[k] = 0;
          const float *base = a->x + o * r->s_outer + (j0 % r->inner);
          for (int64_t r1 = 0; r1 < r->R1; r1++)
            for (int64_t r2 = 0; r2 < r->R2; r2++)
              {
                const float *p = base + r1 * r->s1 + r2 * r->s2;
                for (int64_t k = 0; k < n; k++)
                  acc[k] += p[k];
              }
          for (int64_t k = 0; k < n; k++)
            red_store (r, a->y, j0 + k, acc[k]);
          j0 = j1;
        }
      return;
    }
  for (int64_t j = b; j < e; j++)
    red_store (r, a->y, j, red_sum (r, a->x, j, 0, R));
}

/* one task per (output, slice) */
static void
red_slices (void *ctx, int64_t b, int64_t e)
{
  RedArgs *a = ctx;
  int64_t R = a->r->R1 * a->r->R2;
  for (int64_t t = b; t < e; t++)
    {
      int64_t j = t / a->P, p = t % a->P;
      int64_t rb = p * a->slice, re = rb + a->slice < R ? rb + a->slice : R;
      a->partial[t] = rb < re ? red_sum (a->r, a->x, j, rb, re) : 0;
    }
}

static void
red_combine (void *ctx, int64_t b, int64_t e)
{
  RedArgs *a = ctx;
  for (int64_t j = b; j < e; j++)
    {
      double s = 0;
      for (int64_t p = 0; p < a->P; p++)
        s += a->partial[j * a->P + p];
      red_store (a->r, a->y, j, s);
    }
}

typedef struct
{
  uint32_t J, inner, s_outer, s_inner, R1, s1, R2, s2;
  float scale;
  uint32_t accumulate;
} ReducePush;
_Static_assert (sizeof (ReducePush) == 40, "mirror of reduce_strided.comp's DN_PARAMS");

DnStatus
dn_reduce_strided (const char *op, DnTensor *out, const DnTensor *x, const DnReduce *r)
{
  if (r->J == 0)
    return DN_OK;
  int64_t R = r->R1 * r->R2;
  if (R == 0)
    {
      if (r->accumulate)
        return DN_OK;
      return dn_tensor_fill (out, (float) (0.0 * r->scale)); /* 0, or NaN for a mean over nothing */
    }
  if (r->J > DN_CONV_MAX_ELEMS || R > DN_CONV_MAX_ELEMS || dn_tensor_numel (x) > DN_CONV_MAX_ELEMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " sums of %" PRId64 " exceed the 2^31 limit", op, r->J, R);
  if (dn_device_is_cpu (out->dev))
    {
      RedArgs a = { .r = r, .x = dn_tensor_host (x), .y = dn_tensor_host (out), .P = 1, .slice = R };
      int nt = dn_device_n_threads (out->dev);
      if (r->J < 4 * nt && R >= 8192)
        {
          /* few long sums: split each into slices of at least 4096 terms */
          int64_t P = (4 * nt + r->J - 1) / r->J;
          if (P > R / 4096)
            P = R / 4096;
          a.P = P;
          a.slice = (R + P - 1) / P;
          a.partial = malloc ((size_t) (r->J * P) * sizeof (double));
          if (!a.partial)
            return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", op);
          dn_cpu_parallel_for (out->dev, r->J * P, 1, red_slices, &a);
          dn_cpu_parallel_for (out->dev, r->J, 1024, red_combine, &a);
          free (a.partial);
          return DN_OK;
        }
      int64_t grain = R >= 4096 ? 1 : 4096 / R;
      dn_cpu_parallel_for (out->dev, r->J, grain, red_outputs, &a);
      return DN_OK;
    }
  ReducePush pc = {
    (uint32_t) r->J, (uint32_t) r->inner, (uint32_t) r->s_outer, (uint32_t) r->s_inner, (uint32_t) r->R1,
    (uint32_t) r->s1, (uint32_t) r->R2, (uint32_t) r->s2, r->scale, r->accumulate,
  };
  DnBinding b[] = { DN_READ (x), r->accumulate ? DN_READ_WRITE (out) : DN_WRITE (out) };
  bool group = R >= 256 || (r->J < 2048 && R >= 16);
  if (!group)
    return dn_vk_dispatch_1d (out->dev, DN_SHADER_REDUCE_STRIDED, b, 2, &pc, sizeof pc, r->J);
  uint32_t gx = r->J > 65535 ? 65535 : (uint32_t) r->J;
  return dn_vk_dispatch (out->dev, DN_SHADER_REDUCE_STRIDED_GROUP, b, 2, &pc, sizeof pc, gx, dn_div_up (r->J, gx), 1);
}

/* bcast_add ------------------------------------------------------------------------------------------- */

/* y[i] = (accumulate ? y[i] : x[i]) + scale · v[((i / d1) % m1) · k1 + i % d2], i < numel(y) */
typedef struct
{
  int64_t d1, m1, k1, d2;
  float scale;
  bool accumulate;
} Bcast;

typedef struct
{
  const Bcast *c;
  const float *x, *v;
  float *y;
} BcastArgs;

static void
bcast_range (void *ctx, int64_t b, int64_t e)
{
  BcastArgs *a = ctx;
  const Bcast *c = a->c;
  const float *x = c->accumulate ? a->y : a->x;
  if (c->d1 == 1 && c->m1 >= e)
    {
      /* v indexed like y */
      for (int64_t k = b; k < e; k++)
        a->y[k] = x[k] + c->scale * a->v[k * c->k1];
      return;
    }
  /* runs of constant (i / d1) share one v row */
  for (int64_t i = b; i < e;)
    {
      int64_t q = i / c->d1;
      int64_t end = (q + 1) * c->d1 < e ? (q + 1) * c->d1 : e;
      const float *vr = a->v + (q % c->m1) * c->k1;
      if (c->d2 == 1)
        {
          float add = c->scale * vr[0];
          for (int64_t k = i; k < end; k++)
            a->y[k] = x[k] + add;
        }
      else
        for (int64_t k = i; k < end; k++)
          a->y[k] = x[k] + c->scale * vr[k % c->d2];
      i = end;
    }
}

typedef struct
{
  uint32_t n, d1, m1, k1, d2;
  float scale;
  uint32_t accumulate;
} BcastPush;
_Static_assert (sizeof (BcastPush) == 28, "mirror of bcast_add.comp's DN_PARAMS");

static DnStatus
bcast_add (const char *op, DnTensor *y, const DnTensor *x, const DnTensor *v, const Bcast *c)
{
  int64_t n = dn_tensor_numel (y);
  if (n == 0)
    return DN_OK;
  if (n > DN_CONV_MAX_ELEMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " elements exceed the 2^31 limit", op, n);
  if (dn_device_is_cpu (y->dev))
    {
      BcastArgs a = { c, x ? dn_tensor_host (x) : NULL, dn_tensor_host (v), dn_tensor_host (y) };
      dn_cpu_parallel_for (y->dev, n, 1 << 15, bcast_range, &a);
      return DN_OK;
    }
  BcastPush pc = { (uint32_t) n,           (uint32_t) c->d1, (uint32_t) (c->m1 < UINT32_MAX ? c->m1 : UINT32_MAX),
                   (uint32_t) c->k1,       (uint32_t) c->d2, c->scale, c->accumulate };
  DnBinding b[] = { DN_READ (c->accumulate ? v : x), DN_READ (v),
                    c->accumulate ? DN_READ_WRITE (y) : DN_WRITE (y) };
  return dn_vk_dispatch_1d (y->dev, DN_SHADER_BCAST_ADD, b, 3, &pc, sizeof pc, n);
}

/* Reductions ------------------------------------------------------------------------------------------ */

/* Resolves @axis of @inp into (outer, len, inner) and checks @red (the reduced tensor) against it. */
static DnStatus
reduce_geometry (const char *op, const DnTensor *inp, const DnTensor *red, int axis, int64_t *outer,
                 int64_t *len, int64_t *inner)
{
  if (!inp || !red)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, inp, red);
  char s1[96], s2[96];
  dn_tensor_shape_str (inp, s1, sizeof s1);
  dn_tensor_shape_str (red, s2, sizeof s2);
  if (inp->ndim < 1)
    return dn_set_error (DN_ERROR_SHAPE, "%s: the input %s needs at least one dimension", op, s1);
  if (axis == DN_AXIS_ALL)
    {
      *outer = *inner = 1;
      *len = dn_tensor_numel (inp);
      if (dn_tensor_numel (red) != 1)
        return dn_set_error (DN_ERROR_SHAPE, "%s: a sum over all of %s needs a 1-element result, not %s", op, s1, s2);
      return DN_OK;
    }
  if (axis < -inp->ndim || axis >= inp->ndim)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: axis %d out of range for %s (or DN_AXIS_ALL)", op, axis, s1);
  int ax = axis < 0 ? axis + inp->ndim : axis;
  *outer = *inner = 1;
  for (int d = 0; d < ax; d++)
    *outer *= inp->shape[d];
  for (int d = ax + 1; d < inp->ndim; d++)
    *inner *= inp->shape[d];
  *len = inp->shape[ax];
  /* keepdim form, or the axis removed */
  bool ok = false;
  if (red->ndim == inp->ndim)
    {
      ok = red->shape[ax] == 1;
      for (int d = 0; ok && d < inp->ndim; d++)
        ok = d == ax || red->shape[d] == inp->shape[d];
    }
  else if (red->ndim == inp->ndim - 1)
    {
      ok = true;
      for (int d = 0; ok && d < red->ndim; d++)
        ok = red->shape[d] == inp->shape[d < ax ? d : d + 1];
    }
  if (!ok && inp->ndim == 1 && dn_tensor_numel (red) == 1)
    ok = true;
  if (!ok)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s reduced over axis %d must be the same shape with that dim 1 or "
                         "removed, not %s", op, s1, axis, s2);
  return DN_OK;
}

static DnStatus
reduce_forward (const char *op, DnTensor *out, const DnTensor *inp, int axis, bool mean)
{
  int64_t outer, len, inner;
  DN_TRY (reduce_geometry (op, inp, out, axis, &outer, &len, &inner));
  DnReduce r = { .J = outer * inner, .inner = inner, .s_outer = len * inner, .s_inner = 1,
                 .R1 = 1, .s1 = 0, .R2 = len, .s2 = inner,
                 .scale = mean ? (float) (1.0 / (double) len) : 1.0f, .accumulate = false };
  if (mean && len == 0)
    r.scale = NAN;
  return dn_reduce_strided (op, out, inp, &r);
}

static DnStatus
reduce_backward (const char *op, DnTensor *dinp, const DnTensor *dout, int axis, bool mean)
{
  int64_t outer, len, inner;
  DN_TRY (reduce_geometry (op, dinp, dout, axis, &outer, &len, &inner));
  Bcast c = { .d1 = len * inner, .m1 = outer, .k1 = inner, .d2 = inner,
              .scale = mean ? (float) (1.0 / (double) len) : 1.0f, .accumulate = true };
  return bcast_add (op, dinp, NULL, dout, &c);
}

DnStatus
dn_reduce_sum_forward (DnTensor *out, const DnTensor *inp, int axis)
{
  return reduce_forward ("reduce_sum_forward", out, inp, axis, false);
}

DnStatus
dn_reduce_sum_backward (DnTensor *dinp, const DnTensor *dout, int axis)
{
  return reduce_backward ("reduce_sum_backward", dinp, dout, axis, false);
}

DnStatus
dn_reduce_mean_forward (DnTensor *out, const DnTensor *inp, int axis)
{
  return reduce_forward ("reduce_mean_forward", out, inp, axis, true);
}

DnStatus
dn_reduce_mean_backward (DnTensor *dinp, const DnTensor *dout, int axis)
{
  return reduce_backward ("reduce_mean_backward", dinp, dout, axis, true);
}

/* Bias add -------------------------------------------------------------------------------------------- */

/* Checks x (N,C,…) against bias (C); returns N, C and the trailing size S. */
static DnStatus
bias_geometry (const char *op, const DnTensor *x, const DnTensor *bias, int64_t *N, int64_t *C, int64_t *S)
{
  char s1[96], s2[96];
  dn_tensor_shape_str (x, s1, sizeof s1);
  dn_tensor_shape_str (bias, s2, sizeof s2);
  if (x->ndim < 2 || bias->ndim != 1 || bias->shape[0] != x->shape[1])
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s must be (N,C,…) and the bias %s (C)", op, s1, s2);
  *N = x->shape[0];
  *C = x->shape[1];
  *S = 1;
  for (int d = 2; d < x->ndim; d++)
    *S *= x->shape[d];
  return DN_OK;
}

DnStatus
dn_bias_add_forward (DnTensor *out, const DnTensor *inp, const DnTensor *bias)
{
  const char *op = "bias_add_forward";
  if (!out || !inp || !bias)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_CHECK_SAME_DEVICE (op, out, bias);
  DN_CHECK_SAME_SHAPE (op, out, inp);
  int64_t N, C, S;
  DN_TRY (bias_geometry (op, inp, bias, &N, &C, &S));
  bool in_place = out->buf == inp->buf && out->offset == inp->offset;
  Bcast c = { .d1 = S, .m1 = C, .k1 = 1, .d2 = 1, .scale = 1, .accumulate = in_place };
  return bcast_add (op, out, inp, bias, &c);
}

DnStatus
dn_bias_add_backward (DnTensor *dinp, DnTensor *dbias, const DnTensor *dout)
{
  const char *op = "bias_add_backward";
  if (!dout)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL dout", op);
  if (dout->ndim < 2)
    {
      char s[96];
      return dn_set_error (DN_ERROR_SHAPE, "%s: dout %s must be (N,C,…)", op, dn_tensor_shape_str (dout, s, sizeof s));
    }
  int64_t N = 0, C = dout->shape[1], S = 0;
  if (dbias)
    {
      DN_CHECK_SAME_DEVICE (op, dout, dbias);
      DN_TRY (bias_geometry (op, dout, dbias, &N, &C, &S));
    }
  if (dinp)
    {
      DN_CHECK_SAME_DEVICE (op, dout, dinp);
      DN_CHECK_SAME_SHAPE (op, dinp, dout);
    }
  if (dinp)
    {
      /* dinp += dout: a broadcast of dout onto itself with k1 = 0 would be wrong; use d1 = 1 so that
       * v's index is i (m1 = n, k1 = 1, d2 = 1 → index (i % n)) */
      int64_t n = dn_tensor_numel (dout);
      Bcast c = { .d1 = 1, .m1 = n > 0 ? n : 1, .k1 = 1, .d2 = 1, .scale = 1, .accumulate = true };
      DN_TRY (bcast_add (op, dinp, NULL, dout, &c));
    }
  if (dbias)
    DN_TRY (dn_conv_bias_grad (op, dbias, dout, N, C, S));
  return DN_OK;
}

DnStatus
dn_conv_bias_grad (const char *op, DnTensor *dbias, const DnTensor *dout, int64_t N, int64_t C, int64_t S)
{
  DnReduce r = { .J = C, .inner = 1, .s_outer = S, .s_inner = 0, .R1 = N, .s1 = C * S, .R2 = S, .s2 = 1,
                 .scale = 1, .accumulate = true };
  return dn_reduce_strided (op, dbias, dout, &r);
}
