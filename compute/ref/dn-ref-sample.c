/* dn-ref-sample.c: float64 references of the sample family (plain loops, llm.c style).
 *
 * Mirrors (by reading) PyTorch 1.13 aten/src/ATen/native/GridSampler.h + cpu/GridSamplerKernel.cpp
 * (bilinear, zeros), UpSample.h + cpu/UpSampleKernel.cpp (bilinear, legacy nearest, separable
 * antialiased bicubic `_upsample_bicubic2d_aa`) and torchvision 0.14 ops/cpu/roi_align_kernel.cpp.
 * Deliberate float32 computations: the resize scales and source coordinates (PyTorch computes them
 * in float32 for float tensors: scale = in/out or (in-1)/(out-1)), the legacy nearest index (computed in float and floored, so
 * the index itself is part of the semantics) and roi_align's ROI geometry and sample positions (see
 * RefRoi). Everything after that is float64.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dn-ref-sample.h"

/* grid_sample ------------------------------------------------------------------------------------ */

/* GridSampler.h grid_sampler_unnormalize (+ the d(pixel)/d(grid) factor). */
static double
gs_unnormalize (double g, int size, bool align_corners, double *mult)
{
  if (align_corners)
    {
      *mult = (size - 1) / 2.0;
      return (g + 1) / 2 * (size - 1);
    }
  *mult = size / 2.0;
  return ((g + 1) * size - 1) / 2;
}

/* Value of plane p at (y, x), 0 outside (padding_mode='zeros'). */
static double
gs_at (const double *p, int H, int W, int64_t y, int64_t x)
{
  return (y >= 0 && y < H && x >= 0 && x < W) ? p[y * W + x] : 0.0;
}

void
dn_ref_grid_sample_forward (double *out, const double *inp, const double *grid, int N, int C, int H, int W,
                            int Ho, int Wo, bool align_corners)
{
  for (int n = 0; n < N; n++)
    for (int ho = 0; ho < Ho; ho++)
      for (int wo = 0; wo < Wo; wo++)
        {
          const double *g = grid + (((int64_t) n * Ho + ho) * Wo + wo) * 2;
          double mx, my;
          double ix = gs_unnormalize (g[0], W, align_corners, &mx);
          double iy = gs_unnormalize (g[1], H, align_corners, &my);
          for (int c = 0; c < C; c++)
            {
              double *o = out + (((int64_t) n * C + c) * Ho + ho) * Wo + wo;
              if (!(ix > -2 && ix < W + 1 && iy > -2 && iy < H + 1))
                {
                  *o = isnan (ix) || isnan (iy) ? NAN : 0; /* outside: every corner is padding */
                  continue;
                }
              const double *p = inp + ((int64_t) n * C + c) * H * W;
              int64_t x0 = (int64_t) floor (ix), y0 = (int64_t) floor (iy);
              double tx = ix - x0, ty = iy - y0;
              *o = gs_at (p, H, W, y0, x0) * (1 - tx) * (1 - ty) + gs_at (p, H, W, y0, x0 + 1) * tx * (1 - ty)
                   + gs_at (p, H, W, y0 + 1, x0) * (1 - tx) * ty + gs_at (p, H, W, y0 + 1, x0 + 1) * tx * ty;
            }
        }
}

void
dn_ref_grid_sample_backward (double *dinp, double *dgrid, const double *dout, const double *inp,
                             const double *grid, int N, int C, int H, int W, int Ho, int Wo, bool align_corners)
{
  for (int n = 0; n < N; n++)
    for (int ho = 0; ho < Ho; ho++)
      for (int wo = 0; wo < Wo; wo++)
        {
          const double *g = grid + (((int64_t) n * Ho + ho) * Wo + wo) * 2;
          double mx, my;
          double ix = gs_unnormalize (g[0], W, align_corners, &mx);
          double iy = gs_unnormalize (g[1], H, align_corners, &my);
          if (!(ix > -2 && ix < W + 1 && iy > -2 && iy < H + 1))
            {
              if (dgrid && (isnan (ix) || isnan (iy)))
                dgrid[(((int64_t) n * Ho + ho) * Wo + wo) * 2] = dgrid[(((int64_t) n * Ho + ho) * Wo + wo) * 2 + 1] = NAN;
              continue;
            }
          int64_t x0 = (int64_t) floor (ix), y0 = (int64_t) floor (iy);
          double tx = ix - x0, ty = iy - y0;
          double gix = 0, giy = 0;
          for (int c = 0; c < C; c++)
            {
              double go = dout[(((int64_t) n * C + c) * Ho + ho) * Wo + wo];
              const double *p = inp + ((int64_t) n * C + c) * H * W;
              if (dinp)
                {
                  double *d = dinp + ((int64_t) n * C + c) * H * W;
                  const int64_t ys[2] = { y0, y0 + 1 }, xs[2] = { x0, x0 + 1 };
                  const double wy[2] = { 1 - ty, ty }, wx[2] = { 1 - tx, tx };
                  for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                      if (ys[a] >= 0 && ys[a] < H && xs[b] >= 0 && xs[b] < W)
                        d[ys[a] * W + xs[b]] += wy[a] * wx[b] * go;
                }
              double v00 = gs_at (p, H, W, y0, x0), v01 = gs_at (p, H, W, y0, x0 + 1);
              double v10 = gs_at (p, H, W, y0 + 1, x0), v11 = gs_at (p, H, W, y0 + 1, x0 + 1);
              gix += go * ((v01 - v00) * (1 - ty) + (v11 - v10) * ty);
              giy += go * ((v10 - v00) * (1 - tx) + (v11 - v01) * tx);
            }
          if (dgrid)
            {
              double *dg = dgrid + (((int64_t) n * Ho + ho) * Wo + wo) * 2;
              dg[0] += gix * mx;
              dg[1] += giy * my;
            }
        }
}

/* resize ----------------------------------------------------------------------------------------- */

/* Keys' cubic with a = -0.5 (UpSample.h cubic_convolution1/2, HelperInterpCubic::aa_filter). */
static double
aa_cubic (double x)
{
  const double a = -0.5;
  x = fabs (x);
  if (x < 1)
    return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2)
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

void
dn_ref_resize_axis_matrix (double *w, int in_size, int out_size, DnRefResizeMode mode, bool align_corners)
{
  memset (w, 0, sizeof (double) * (size_t) in_size * (size_t) out_size);
  for (int o = 0; o < out_size; o++)
    {
      double *row = w + (int64_t) o * in_size;
      if (in_size == out_size && mode != DN_REF_RESIZE_BILINEAR)
        {
          /* nearest: index == o; bicubic aa: PyTorch skips an axis whose size does not change */
          row[o] = 1;
          continue;
        }
      switch (mode)
        {
        case DN_REF_RESIZE_BILINEAR:
          {
            /* area_pixel_compute_scale / _source_index (cubic = false), then
             * compute_indices_weights_linear: i0 = (int) src, neighbour i0+1 unless i0 = in-1. The
             * scale and the source coordinate are float32 in PyTorch (accscalar_t of float). */
            float src;
            if (align_corners)
              src = out_size > 1 ? ((float) (in_size - 1) / (float) (out_size - 1)) * (float) o : 0.0f;
            else
              {
                src = (float) ((double) ((float) in_size / (float) out_size) * (o + 0.5) - 0.5);
                if (src < 0)
                  src = 0;
              }
            int i0 = (int) src;
            if (i0 > in_size - 1)
              i0 = in_size - 1;
            int i1 = i0 < in_size - 1 ? i0 + 1 : i0;
            double l1 = src - i0;
            row[i0] += 1 - l1;
            row[i1] += l1;
            break;
          }
        case DN_REF_RESIZE_NEAREST:
          {
            /* nearest_idx: special cases out == in and out == 2 in, else min(floor(o*scale), in-1)
             * with scale = in/out, both in float32 as PyTorch computes them. */
            int i;
            if (out_size == 2 * in_size)
              i = o >> 1;
            else
              {
                float scale = (float) in_size / (float) out_size;
                float s = (float) o * scale;
                i = (int) floorf (s);
                if (i > in_size - 1)
                  i = in_size - 1;
              }
            row[i] = 1;
            break;
          }
        case DN_REF_RESIZE_BICUBIC_AA:
          {
            /* HelperInterpCubic::compute_indices_weights_aa -> _compute_weights_aa, with its float32
             * scale, center and filter argument (scalar_t = float); the filter and sums are float64. */
            float scale = (float) in_size / (float) out_size;
            float support = scale >= 1 ? 2 * scale : 2.0f;
            float invscale = scale >= 1 ? (float) (1.0 / scale) : 1.0f;
            float center = (float) (scale * (o + 0.5));
            int64_t xmin = (int64_t) (center - support + 0.5);
            if (xmin < 0)
              xmin = 0;
            int64_t xmax = (int64_t) (center + support + 0.5);
            if (xmax > in_size)
              xmax = in_size;
            double total = 0;
            for (int64_t j = xmin; j < xmax; j++)
              total += aa_cubic ((float) (((float) j - center + 0.5) * invscale));
            for (int64_t j = xmin; j < xmax; j++)
              {
                double v = aa_cubic ((float) (((float) j - center + 0.5) * invscale));
                row[j] = total != 0 ? v / total : v;
              }
            break;
          }
        }
    }
}

/* out[n,c] = Wy · inp[n,c] · Wxᵀ, or (transpose) dinp[n,c] += Wyᵀ · dout[n,c] · Wx. */
static void
resize_apply (double *dst, const double *src, int N, int C, int H, int W, int Ho, int Wo, DnRefResizeMode mode,
              bool align_corners, bool transpose)
{
  double *wy = malloc (sizeof (double) * (size_t) Ho * H);
  double *wx = malloc (sizeof (double) * (size_t) Wo * W);
  if (!wy || !wx)
    abort (); /* test-only code */
  dn_ref_resize_axis_matrix (wy, H, Ho, mode, align_corners);
  dn_ref_resize_axis_matrix (wx, W, Wo, mode, align_corners);
  for (int64_t p = 0; p < (int64_t) N * C; p++)
    for (int oy = 0; oy < Ho; oy++)
      for (int ox = 0; ox < Wo; ox++)
        for (int y = 0; y < H; y++)
          {
            double a = wy[(int64_t) oy * H + y];
            if (a == 0)
              continue;
            for (int x = 0; x < W; x++)
              {
                double w = a * wx[(int64_t) ox * W + x];
                if (transpose)
                  dst[(p * H + y) * W + x] += w * src[(p * Ho + oy) * Wo + ox];
                else
                  dst[(p * Ho + oy) * Wo + ox] += w * src[(p * H + y) * W + x];
              }
          }
  free (wy);
  free (wx);
}

void
dn_ref_resize_forward (double *out, const double *inp, int N, int C, int H, int W, int Ho, int Wo,
                       DnRefResizeMode mode, bool align_corners)
{
  memset (out, 0, sizeof (double) * (size_t) N * C * Ho * Wo);
  resize_apply (out, inp, N, C, H, W, Ho, Wo, mode, align_corners, false);
}

void
dn_ref_resize_backward (double *dinp, const double *dout, int N, int C, int H, int W, int Ho, int Wo,
                        DnRefResizeMode mode, bool align_corners)
{
  resize_apply (dinp, dout, N, C, H, W, Ho, Wo, mode, align_corners, true);
}

/* roi_align -------------------------------------------------------------------------------------- */

/* torchvision bilinear_interpolate(_gradient): the corner indices and weights of one sample, or false
 * when the sample lies outside [-1, H] x [-1, W] (it then contributes nothing). */
static bool
roi_bilinear (int H, int W, double y, double x, int *yl, int *yh, int *xl, int *xh, double w[4])
{
  if (y < -1.0 || y > H || x < -1.0 || x > W)
    return false;
  if (y <= 0)
    y = 0;
  if (x <= 0)
    x = 0;
  *yl = (int) y;
  *xl = (int) x;
  if (*yl >= H - 1)
    {
      *yh = *yl = H - 1;
      y = *yl;
    }
  else
    *yh = *yl + 1;
  if (*xl >= W - 1)
    {
      *xh = *xl = W - 1;
      x = *xl;
    }
  else
    *xh = *xl + 1;
  double ly = y - *yl, lx = x - *xl, hy = 1 - ly, hx = 1 - lx;
  w[0] = hy * hx;
  w[1] = hy * lx;
  w[2] = ly * hx;
  w[3] = ly * lx;
  return true;
}

/* The ROI geometry and the sample positions are computed in float32, exactly as torchvision does for
 * float inputs (T = float in roi_align_kernel.cpp): they define where the op samples, and a float64
 * geometry would move each sample by up to ~1e-5 px on a 100 px image (1e-5 relative on a rough
 * image). The interpolation and the averaging are float64. */
typedef struct
{
  int n;                  /* batch index, -1 when outside [0,N) */
  float start_h, start_w; /* roi start in pixel coordinates */
  float bin_h, bin_w;     /* bin size */
  int grid_h, grid_w;     /* samples per bin */
  double count;           /* max(grid_h*grid_w, 1) */
} RefRoi;

static int
ref_grid (float len, int pooled)
{
  float q = len / (float) pooled;
  return q > 0 ? (int) ceilf (q) : 0; /* ceil(roi_size / pooled) in float; none for an empty roi */
}

static RefRoi
ref_roi (const double *box, int N, int PH, int PW, double spatial_scale, int sampling_ratio, bool aligned)
{
  RefRoi r;
  double bn = box[0];
  r.n = (bn > -1 && bn < N) ? (int) bn : -1; /* torchvision truncates the index */
  float scale = (float) spatial_scale, offset = aligned ? 0.5f : 0.0f;
  r.start_w = (float) box[1] * scale - offset;
  r.start_h = (float) box[2] * scale - offset;
  float end_w = (float) box[3] * scale - offset;
  float end_h = (float) box[4] * scale - offset;
  float rw = end_w - r.start_w, rh = end_h - r.start_h;
  if (!aligned)
    {
      rw = fmaxf (rw, 1.0f);
      rh = fmaxf (rh, 1.0f);
    }
  r.bin_h = rh / (float) PH;
  r.bin_w = rw / (float) PW;
  r.grid_h = sampling_ratio > 0 ? sampling_ratio : ref_grid (rh, PH);
  r.grid_w = sampling_ratio > 0 ? sampling_ratio : ref_grid (rw, PW);
  r.count = r.grid_h * r.grid_w > 1 ? r.grid_h * r.grid_w : 1;
  return r;
}

/* torchvision's sample position: start + p·bin + (i + .5f)·bin / grid, in float32. */
static double
ref_pos (float start, int p, float bin, int i, int grid)
{
  float a = start + (float) p * bin;
  float b = ((float) i + 0.5f) * bin / (float) grid;
  return (double) (a + b);
}

static void
roi_align_ref (double *out, double *dinp, const double *dout, const double *inp, const double *boxes, int N,
               int C, int H, int W, int K, int PH, int PW, double spatial_scale, int sampling_ratio, bool aligned)
{
  for (int k = 0; k < K; k++)
    {
      RefRoi r = ref_roi (boxes + (int64_t) k * 5, N, PH, PW, spatial_scale, sampling_ratio, aligned);
      for (int c = 0; c < C; c++)
        for (int ph = 0; ph < PH; ph++)
          for (int pw = 0; pw < PW; pw++)
            {
              int64_t oi = (((int64_t) k * C + c) * PH + ph) * PW + pw;
              double acc = 0;
              if (r.n >= 0)
                for (int iy = 0; iy < r.grid_h; iy++)
                  for (int ix = 0; ix < r.grid_w; ix++)
                    {
                      double y = ref_pos (r.start_h, ph, r.bin_h, iy, r.grid_h);
                      double x = ref_pos (r.start_w, pw, r.bin_w, ix, r.grid_w);
                      int yl, yh, xl, xh;
                      double w[4];
                      if (!roi_bilinear (H, W, y, x, &yl, &yh, &xl, &xh, w))
                        continue;
                      int64_t base = ((int64_t) r.n * C + c) * H * W;
                      if (out)
                        acc += w[0] * inp[base + yl * W + xl] + w[1] * inp[base + yl * W + xh]
                               + w[2] * inp[base + yh * W + xl] + w[3] * inp[base + yh * W + xh];
                      else
                        {
                          double g = dout[oi] / r.count;
                          dinp[base + yl * W + xl] += w[0] * g;
                          dinp[base + yl * W + xh] += w[1] * g;
                          dinp[base + yh * W + xl] += w[2] * g;
                          dinp[base + yh * W + xh] += w[3] * g;
                        }
                    }
              if (out)
                out[oi] = acc / r.count;
            }
    }
}

void
dn_ref_roi_align_forward (double *out, const double *inp, const double *boxes, int N, int C, int H, int W, int K,
                          int PH, int PW, double spatial_scale, int sampling_ratio, bool aligned)
{
  roi_align_ref (out, NULL, NULL, inp, boxes, N, C, H, W, K, PH, PW, spatial_scale, sampling_ratio, aligned);
}

void
dn_ref_roi_align_backward (double *dinp, const double *dout, const double *boxes, int N, int C, int H, int W,
                           int K, int PH, int PW, double spatial_scale, int sampling_ratio, bool aligned)
{
  roi_align_ref (NULL, dinp, dout, NULL, boxes, N, C, H, W, K, PH, PW, spatial_scale, sampling_ratio, aligned);
}
