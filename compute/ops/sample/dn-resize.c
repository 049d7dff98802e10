/* dn-resize.c: image resizes as F.interpolate computes them with a target size: bilinear
 * (antialias=False, align_corners either way), legacy nearest and antialiased bicubic
 * (align_corners=False), forward and backward, on both backends.
 *
 * Every mode is separable: out = Wy · inp · Wxᵀ per (n,c) plane, with per-axis weight rules taken from
 * PyTorch 1.13 (UpSample.h area_pixel_compute_scale/_source_index, nearest_idx, UpSampleKernel.cpp
 * HelperInterpCubic::compute_indices_weights_aa / _compute_weights_aa). Reference:
 * dn_ref_resize_* (compute/ref/dn-ref-sample.c). Shaders: shaders/sample/resize_{fwd,bwd}.comp (MODE
 * define), one invocation per output (forward) or per input element (backward, a gather: no atomics).
 * The CPU kernel builds sparse per-axis tables and applies them in two passes (columns, then rows).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dn-sample-common.h"

typedef enum
{
  RESIZE_BILINEAR = 0, /* the shader MODE values */
  RESIZE_NEAREST = 1,
  RESIZE_BICUBIC_AA = 2,
} ResizeMode;

typedef struct
{
  uint32_t NC, H, W, Ho, Wo, align_corners;
  float scale_h, scale_w, support_h, support_w, invscale_h, invscale_w;
} ResizeParams;
_Static_assert (sizeof (ResizeParams) == 48, "mirror of resize_{fwd,bwd}.comp DN_PARAMS");

/* The per-axis constants, in float32 as PyTorch computes them. */
typedef struct
{
  int64_t in, out;
  float scale, support, invscale;
} ResizeAxis;

static ResizeAxis
resize_axis (ResizeMode mode, int64_t in, int64_t out, bool align_corners)
{
  ResizeAxis ax = { in, out, 0, 0, 1 };
  if (mode == RESIZE_BILINEAR && align_corners)
    ax.scale = out > 1 ? (float) (in - 1) / (float) (out - 1) : 0.0f;
  else
    ax.scale = out > 0 ? (float) in / (float) out : 0.0f;
  if (mode == RESIZE_BICUBIC_AA)
    {
      ax.support = ax.scale >= 1.0f ? 2.0f * ax.scale : 2.0f; /* (interp_size/2)·scale, interp_size 4 */
      ax.invscale = ax.scale >= 1.0f ? 1.0f / ax.scale : 1.0f;
    }
  return ax;
}

/* Keys' cubic, a = -0.5 (HelperInterpCubic::aa_filter). */
static inline float
aa_filter (float x)
{
  const float a = -0.5f;
  x = fabsf (x);
  if (x < 1.0f)
    return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
  if (x < 2.0f)
    return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
  return 0.0f;
}

/* A sparse matrix (rows of (index, weight)), CSR. */
typedef struct
{
  int64_t rows;
  int64_t *start; /* rows + 1 */
  int32_t *idx;
  float *w;
} Tab;

static void
tab_free (Tab *t)
{
  free (t->start);
  free (t->idx);
  free (t->w);
  memset (t, 0, sizeof *t);
}

/* The taps of output o along one axis (the forward rule), written to idx/w (room for @cap); returns
 * how many. Mirrors resize_fwd.comp. */
static int64_t
axis_taps (const ResizeAxis *ax, ResizeMode mode, bool align_corners, int64_t o, int32_t *idx, float *w,
           int64_t cap)
{
  if (ax->in == ax->out)
    {
      /* every mode is the identity on an axis whose size does not change (PyTorch skips it for aa) */
      idx[0] = (int32_t) o;
      w[0] = 1.0f;
      return 1;
    }
  switch (mode)
    {
    case RESIZE_BILINEAR:
      {
        float src = align_corners ? ax->scale * (float) o : fmaxf (ax->scale * ((float) o + 0.5f) - 0.5f, 0.0f);
        int64_t i0 = (int64_t) src;
        if (i0 > ax->in - 1)
          i0 = ax->in - 1;
        int64_t i1 = i0 < ax->in - 1 ? i0 + 1 : i0;
        float l1 = src - (float) i0;
        idx[0] = (int32_t) i0;
        w[0] = 1.0f - l1;
        idx[1] = (int32_t) i1;
        w[1] = l1;
        return 2;
      }
    case RESIZE_NEAREST:
      {
        int64_t i = (int64_t) floorf ((float) o * ax->scale);
        idx[0] = (int32_t) (i < ax->in - 1 ? i : ax->in - 1);
        w[0] = 1.0f;
        return 1;
      }
    case RESIZE_BICUBIC_AA:
    default:
      {
        float c = ax->scale * ((float) o + 0.5f);
        int64_t lo = (int64_t) (c - ax->support + 0.5f);
        int64_t hi = (int64_t) (c + ax->support + 0.5f);
        if (lo < 0)
          lo = 0;
        if (hi > ax->in)
          hi = ax->in;
        if (hi - lo > cap)
          hi = lo + cap; /* cannot happen: cap is 2·ceil(support)+2 */
        float total = 0;
        int64_t n = 0;
        for (int64_t j = lo; j < hi; j++, n++)
          {
            idx[n] = (int32_t) j;
            w[n] = aa_filter (((float) j - c + 0.5f) * ax->invscale);
            total += w[n];
          }
        if (total != 0.0f)
          for (int64_t j = 0; j < n; j++)
            w[j] /= total;
        return n;
      }
    }
}

/* Builds the forward table (out rows over input indices) and, if @tr, its transpose (in rows over
 * output indices). */
static DnStatus
axis_tables (const ResizeAxis *ax, ResizeMode mode, bool align_corners, Tab *fwd, Tab *tr)
{
  int64_t cap = (int64_t) (2 * ceilf (ax->support) + 3);
  if (cap < 2)
    cap = 2;
  memset (fwd, 0, sizeof *fwd);
  if (tr)
    memset (tr, 0, sizeof *tr);
  fwd->rows = ax->out;
  fwd->start = malloc (sizeof (int64_t) * (size_t) (ax->out + 1));
  fwd->idx = malloc (sizeof (int32_t) * (size_t) (ax->out * cap));
  fwd->w = malloc (sizeof (float) * (size_t) (ax->out * cap));
  if (!fwd->start || !fwd->idx || !fwd->w)
    goto oom;
  int64_t n = 0;
  for (int64_t o = 0; o < ax->out; o++)
    {
      fwd->start[o] = n;
      n += axis_taps (ax, mode, align_corners, o, fwd->idx + n, fwd->w + n, cap);
    }
  fwd->start[ax->out] = n;
  if (!tr)
    return DN_OK;
  tr->rows = ax->in;
  tr->start = calloc ((size_t) (ax->in + 1), sizeof (int64_t));
  tr->idx = malloc (sizeof (int32_t) * (size_t) (n > 0 ? n : 1));
  tr->w = malloc (sizeof (float) * (size_t) (n > 0 ? n : 1));
  if (!tr->start || !tr->idx || !tr->w)
    goto oom;
  for (int64_t k = 0; k < n; k++)
    tr->start[fwd->idx[k] + 1]++;
  for (int64_t i = 0; i < ax->in; i++)
    tr->start[i + 1] += tr->start[i];
  int64_t *fill = malloc (sizeof (int64_t) * (size_t) (ax->in > 0 ? ax->in : 1));
  if (!fill)
    goto oom;
  memcpy (fill, tr->start, sizeof (int64_t) * (size_t) ax->in);
  for (int64_t o = 0; o < ax->out; o++)
    for (int64_t k = fwd->start[o]; k < fwd->start[o + 1]; k++)
      {
        int64_t at = fill[fwd->idx[k]]++;
        tr->idx[at] = (int32_t) o;
        tr->w[at] = fwd->w[k];
      }
  free (fill);
  return DN_OK;
oom:
  tab_free (fwd);
  if (tr)
    tab_free (tr);
  return dn_set_error (DN_ERROR_NO_MEMORY, "resize: out of memory for the weight tables");
}

/* Two passes over planes of src (Hs,Ws) into dst (Hd,Wd): tmp[p,r,:] = X · src[p,r,:] (X: Wd rows),
 * then dst[p,r,:] (+)= Σ Y[r] tmp[p,s,:] (Y: Hd rows). A NULL table is the identity on its axis. */
typedef struct
{
  float *dst, *tmp;
  const float *src;
  const Tab *X, *Y;
  int64_t Hs, Ws, Hd, Wd;
  bool accumulate;
} SepArgs;

static void
sep_cols_range (void *ctx, int64_t b, int64_t e)
{
  const SepArgs *a = ctx;
  for (int64_t r = b; r < e; r++) /* r over planes·Hs rows */
    {
      const float *s = a->src + r * a->Ws;
      float *t = a->tmp + r * a->Wd;
      for (int64_t o = 0; o < a->Wd; o++)
        {
          float acc = 0;
          for (int64_t k = a->X->start[o]; k < a->X->start[o + 1]; k++)
            acc += a->X->w[k] * s[a->X->idx[k]];
          t[o] = acc;
        }
    }
}

static void
sep_rows_range (void *ctx, int64_t b, int64_t e)
{
  const SepArgs *a = ctx;
  const float *t = a->X ? a->tmp : a->src; /* columns unchanged: read src directly */
  for (int64_t r = b; r < e; r++) /* r over planes·Hd rows */
    {
      int64_t p = r / a->Hd, oy = r % a->Hd;
      float *d = a->dst + r * a->Wd;
      if (!a->accumulate)
        memset (d, 0, sizeof (float) * (size_t) a->Wd);
      if (!a->Y)
        {
          const float *s = t + (p * a->Hs + oy) * a->Wd;
          for (int64_t x = 0; x < a->Wd; x++)
            d[x] += s[x];
          continue;
        }
      for (int64_t k = a->Y->start[oy]; k < a->Y->start[oy + 1]; k++)
        {
          float w = a->Y->w[k];
          const float *s = t + (p * a->Hs + a->Y->idx[k]) * a->Wd;
          for (int64_t x = 0; x < a->Wd; x++)
            d[x] += w * s[x];
        }
    }
}

/* Checks and runs one resize direction. Forward: y = out (N,C,Ho,Wo), x = inp (N,C,H,W);
 * backward: y = dout, x = dinp (accumulated). */
static DnStatus
resize_run (const char *op, ResizeMode mode, bool backward, DnTensor *small_or_out, const DnTensor *other,
            bool align_corners)
{
  /* forward: out = small_or_out, inp = other; backward: dinp = small_or_out, dout = other */
  const DnTensor *inp_like = backward ? small_or_out : other;   /* (N,C,H,W) */
  const DnTensor *out_like = backward ? other : small_or_out;   /* (N,C,Ho,Wo) */
  DN_CHECK_SHAPE (op, backward ? "dinp" : "inp", inp_like, 4, -1, -1, -1, -1);
  DN_CHECK_SHAPE (op, backward ? "dout" : "out", out_like, 4, inp_like->shape[0], inp_like->shape[1], -1, -1);
  DN_CHECK_SAME_DEVICE (op, inp_like, out_like);
  DN_TRY (dn_sample_check_u32 (op, backward ? "dinp" : "inp", inp_like));
  DN_TRY (dn_sample_check_u32 (op, backward ? "dout" : "out", out_like));
  int64_t N = inp_like->shape[0], C = inp_like->shape[1], H = inp_like->shape[2], W = inp_like->shape[3];
  int64_t Ho = out_like->shape[2], Wo = out_like->shape[3];
  if (N * C == 0 || Ho * Wo == 0)
    return DN_OK;
  if (H * W == 0)
    {
      char a[128], b[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: cannot resize the empty image %s to %s", op,
                           dn_tensor_shape_str (inp_like, a, sizeof a), dn_tensor_shape_str (out_like, b, sizeof b));
    }
  ResizeAxis ay = resize_axis (mode, H, Ho, align_corners), ax = resize_axis (mode, W, Wo, align_corners);
  DnDevice *dev = small_or_out->dev;
  if (dn_device_is_cpu (dev))
    {
      Tab fy = { 0 }, fx = { 0 }, ty = { 0 }, tx = { 0 };
      bool idy = H == Ho, idx = W == Wo;
      DnStatus st = DN_OK;
      if (!idy)
        st = axis_tables (&ay, mode, align_corners, &fy, backward ? &ty : NULL);
      if (st == DN_OK && !idx)
        st = axis_tables (&ax, mode, align_corners, &fx, backward ? &tx : NULL);
      float *tmp = NULL;
      int64_t Hs = backward ? Ho : H, Ws = backward ? Wo : W, Hd = backward ? H : Ho, Wd = backward ? W : Wo;
      if (st == DN_OK && !idx)
        {
          tmp = malloc (sizeof (float) * (size_t) (N * C * Hs * Wd));
          if (!tmp)
            st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory for a temporary", op);
        }
      if (st == DN_OK)
        {
          SepArgs a = { .dst = dn_tensor_host (small_or_out), .tmp = tmp, .src = dn_tensor_host (other),
                        .X = idx ? NULL : backward ? &tx : &fx, .Y = idy ? NULL : backward ? &ty : &fy,
                        .Hs = Hs, .Ws = Ws, .Hd = Hd, .Wd = Wd, .accumulate = backward };
          if (!idx)
            dn_cpu_parallel_for (dev, N * C * Hs, 1 + 4096 / (Wd + 1), sep_cols_range, &a);
          dn_cpu_parallel_for (dev, N * C * Hd, 1 + 4096 / (Wd + 1), sep_rows_range, &a);
        }
      free (tmp);
      tab_free (&fy);
      tab_free (&fx);
      tab_free (&ty);
      tab_free (&tx);
      return st;
    }
  ResizeParams pc = { (uint32_t) (N * C), (uint32_t) H, (uint32_t) W, (uint32_t) Ho, (uint32_t) Wo,
                      align_corners ? 1u : 0u, ay.scale, ax.scale, ay.support, ax.support, ay.invscale, ax.invscale };
  static const DnShaderId fwd_ids[] = { DN_SHADER_RESIZE_BILINEAR_FWD, DN_SHADER_RESIZE_NEAREST_FWD,
                                        DN_SHADER_RESIZE_BICUBIC_AA_FWD };
  static const DnShaderId bwd_ids[] = { DN_SHADER_RESIZE_BILINEAR_BWD, DN_SHADER_RESIZE_NEAREST_BWD,
                                        DN_SHADER_RESIZE_BICUBIC_AA_BWD };
  if (!backward)
    {
      DnBinding b[] = { DN_READ (other), DN_WRITE (small_or_out) };
      return dn_vk_dispatch_1d (dev, fwd_ids[mode], b, 2, &pc, sizeof pc, dn_tensor_numel (small_or_out));
    }
  DnBinding b[] = { DN_READ (other), DN_READ_WRITE (small_or_out) };
  return dn_vk_dispatch_1d (dev, bwd_ids[mode], b, 2, &pc, sizeof pc, dn_tensor_numel (small_or_out));
}

DnStatus
dn_resize_bilinear_forward (DnTensor *out, const DnTensor *inp, bool align_corners)
{
  return resize_run ("resize_bilinear_forward", RESIZE_BILINEAR, false, out, inp, align_corners);
}

DnStatus
dn_resize_bilinear_backward (DnTensor *dinp, const DnTensor *dout, bool align_corners)
{
  if (!dinp)
    return DN_OK;
  return resize_run ("resize_bilinear_backward", RESIZE_BILINEAR, true, dinp, dout, align_corners);
}

DnStatus
dn_resize_nearest_forward (DnTensor *out, const DnTensor *inp)
{
  return resize_run ("resize_nearest_forward", RESIZE_NEAREST, false, out, inp, false);
}

DnStatus
dn_resize_nearest_backward (DnTensor *dinp, const DnTensor *dout)
{
  if (!dinp)
    return DN_OK;
  return resize_run ("resize_nearest_backward", RESIZE_NEAREST, true, dinp, dout, false);
}

DnStatus
dn_resize_bicubic_aa_forward (DnTensor *out, const DnTensor *inp)
{
  return resize_run ("resize_bicubic_aa_forward", RESIZE_BICUBIC_AA, false, out, inp, false);
}

DnStatus
dn_resize_bicubic_aa_backward (DnTensor *dinp, const DnTensor *dout)
{
  if (!dinp)
    return DN_OK;
  return resize_run ("resize_bicubic_aa_backward", RESIZE_BICUBIC_AA, true, dinp, dout, false);
}
