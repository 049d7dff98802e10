/* dn-grid-sample.c: grid_sample (bilinear, padding_mode='zeros', align_corners either way), forward and
 * backward for the input and for the grid, on both backends.
 *
 * Reference: dn_ref_grid_sample_* (compute/ref/dn-ref-sample.c), mirroring PyTorch's GridSampler.h.
 * Shaders: shaders/sample/grid_sample_{fwd,bwd_input,bwd_grid}.comp. The input gradient is gathered per
 * input row on the GPU (no float atomics); on the CPU each task owns a block of channels of one image.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-sample-common.h"

typedef struct
{
  uint32_t N, C, H, W, Ho, Wo, align_corners;
} GridSampleParams;
_Static_assert (sizeof (GridSampleParams) == 28, "mirror of the grid_sample shaders' DN_PARAMS");

typedef struct
{
  float *out, *dinp, *dgrid;
  const float *inp, *grid, *dout;
  int64_t N, C, H, W, Ho, Wo;
  bool align;
  int64_t cblock; /* channels per task of the input-gradient kernel */
} GridSampleArgs;

/* The bilinear footprint of one grid point: corner (x0,y0), fractions, and d(pixel)/d(grid). Returns
 * false when no corner can be inside the image (or the point is NaN). */
static inline bool
gs_point (const GridSampleArgs *a, const float *g, int64_t *x0, int64_t *y0, float *tx, float *ty, float *mx,
          float *my)
{
  float W = (float) a->W, H = (float) a->H;
  float ix, iy;
  if (a->align)
    {
      ix = (g[0] + 1.0f) * 0.5f * (W - 1.0f);
      iy = (g[1] + 1.0f) * 0.5f * (H - 1.0f);
      *mx = (W - 1.0f) * 0.5f;
      *my = (H - 1.0f) * 0.5f;
    }
  else
    {
      ix = ((g[0] + 1.0f) * W - 1.0f) * 0.5f;
      iy = ((g[1] + 1.0f) * H - 1.0f) * 0.5f;
      *mx = W * 0.5f;
      *my = H * 0.5f;
    }
  if (!(ix > -2.0f && ix < W + 1.0f && iy > -2.0f && iy < H + 1.0f))
    return false;
  float fx = floorf (ix), fy = floorf (iy);
  *x0 = (int64_t) fx;
  *y0 = (int64_t) fy;
  *tx = ix - fx;
  *ty = iy - fy;
  return true;
}

static inline float
gs_at (const float *p, int64_t H, int64_t W, int64_t y, int64_t x)
{
  return (y >= 0 && y < H && x >= 0 && x < W) ? p[y * W + x] : 0.0f;
}

/* forward: one task item per output point (n,p), all channels. */
static void
gs_forward_range (void *ctx, int64_t b, int64_t e)
{
  const GridSampleArgs *a = ctx;
  int64_t P = a->Ho * a->Wo, HW = a->H * a->W;
  for (int64_t i = b; i < e; i++)
    {
      int64_t n = i / P, p = i % P;
      int64_t x0, y0;
      float tx, ty, mx, my;
      float *o = a->out + n * a->C * P + p;
      if (!gs_point (a, a->grid + i * 2, &x0, &y0, &tx, &ty, &mx, &my))
        {
          /* all padding; a NaN coordinate propagates (as in PyTorch) */
          float v = isnan (a->grid[i * 2]) || isnan (a->grid[i * 2 + 1]) ? NAN : 0.0f;
          for (int64_t c = 0; c < a->C; c++)
            o[c * P] = v;
          continue;
        }
      const float *src = a->inp + n * a->C * HW;
      float w00 = (1 - tx) * (1 - ty), w01 = tx * (1 - ty), w10 = (1 - tx) * ty, w11 = tx * ty;
      bool inside = x0 >= 0 && x0 + 1 < a->W && y0 >= 0 && y0 + 1 < a->H;
      for (int64_t c = 0; c < a->C; c++)
        {
          const float *s = src + c * HW;
          float v;
          if (inside)
            {
              const float *r = s + y0 * a->W + x0;
              v = w00 * r[0] + w01 * r[1] + w10 * r[a->W] + w11 * r[a->W + 1];
            }
          else
            v = w00 * gs_at (s, a->H, a->W, y0, x0) + w01 * gs_at (s, a->H, a->W, y0, x0 + 1)
                + w10 * gs_at (s, a->H, a->W, y0 + 1, x0) + w11 * gs_at (s, a->H, a->W, y0 + 1, x0 + 1);
          o[c * P] = v;
        }
    }
}

/* input gradient: one task item per (n, block of channels); it scatters into its own planes only. */
static void
gs_dinp_range (void *ctx, int64_t b, int64_t e)
{
  const GridSampleArgs *a = ctx;
  int64_t P = a->Ho * a->Wo, HW = a->H * a->W;
  int64_t nblk = (a->C + a->cblock - 1) / a->cblock;
  for (int64_t item = b; item < e; item++)
    {
      int64_t n = item / nblk, c0 = (item % nblk) * a->cblock;
      int64_t c1 = c0 + a->cblock < a->C ? c0 + a->cblock : a->C;
      for (int64_t p = 0; p < P; p++)
        {
          int64_t x0, y0;
          float tx, ty, mx, my;
          if (!gs_point (a, a->grid + (n * P + p) * 2, &x0, &y0, &tx, &ty, &mx, &my))
            continue;
          const int64_t ys[2] = { y0, y0 + 1 }, xs[2] = { x0, x0 + 1 };
          const float wy[2] = { 1 - ty, ty }, wx[2] = { 1 - tx, tx };
          for (int64_t c = c0; c < c1; c++)
            {
              float go = a->dout[(n * a->C + c) * P + p];
              float *d = a->dinp + (n * a->C + c) * HW;
              for (int u = 0; u < 2; u++)
                if (ys[u] >= 0 && ys[u] < a->H)
                  for (int v = 0; v < 2; v++)
                    if (xs[v] >= 0 && xs[v] < a->W)
                      d[ys[u] * a->W + xs[v]] += wy[u] * wx[v] * go;
            }
        }
    }
}

/* grid gradient: one task item per grid point (n,p), summed over channels. */
static void
gs_dgrid_range (void *ctx, int64_t b, int64_t e)
{
  const GridSampleArgs *a = ctx;
  int64_t P = a->Ho * a->Wo, HW = a->H * a->W;
  for (int64_t i = b; i < e; i++)
    {
      int64_t n = i / P, p = i % P;
      int64_t x0, y0;
      float tx, ty, mx, my;
      if (!gs_point (a, a->grid + i * 2, &x0, &y0, &tx, &ty, &mx, &my))
        {
          if (isnan (a->grid[i * 2]) || isnan (a->grid[i * 2 + 1]))
            a->dgrid[i * 2] = a->dgrid[i * 2 + 1] = NAN;
          continue;
        }
      float gix = 0, giy = 0;
      for (int64_t c = 0; c < a->C; c++)
        {
          const float *s = a->inp + (n * a->C + c) * HW;
          float go = a->dout[(n * a->C + c) * P + p];
          float v00 = gs_at (s, a->H, a->W, y0, x0), v01 = gs_at (s, a->H, a->W, y0, x0 + 1);
          float v10 = gs_at (s, a->H, a->W, y0 + 1, x0), v11 = gs_at (s, a->H, a->W, y0 + 1, x0 + 1);
          gix += go * ((v01 - v00) * (1 - ty) + (v11 - v10) * ty);
          giy += go * ((v10 - v00) * (1 - tx) + (v11 - v01) * tx);
        }
      a->dgrid[i * 2] += gix * mx;
      a->dgrid[i * 2 + 1] += giy * my;
    }
}

/* Shapes: inp (N,C,H,W), grid (N,Ho,Wo,2), y (N,C,Ho,Wo) (the output or its gradient). */
static DnStatus
gs_check (const char *op, const DnTensor *y, const DnTensor *inp, const DnTensor *grid)
{
  DN_CHECK_SHAPE (op, "inp", inp, 4, -1, -1, -1, -1);
  int64_t N = inp->shape[0], C = inp->shape[1];
  DN_CHECK_SHAPE (op, "grid", grid, 4, N, -1, -1, 2);
  DN_CHECK_SHAPE (op, "out", y, 4, N, C, grid->shape[1], grid->shape[2]);
  DN_CHECK_SAME_DEVICE (op, y, inp);
  DN_CHECK_SAME_DEVICE (op, y, grid);
  DN_TRY (dn_sample_check_u32 (op, "inp", inp));
  DN_TRY (dn_sample_check_u32 (op, "out", y));
  DN_TRY (dn_sample_check_u32 (op, "grid", grid));
  return DN_OK;
}

static GridSampleParams
gs_params (const DnTensor *inp, const DnTensor *grid, bool align_corners)
{
  return (GridSampleParams){ (uint32_t) inp->shape[0], (uint32_t) inp->shape[1], (uint32_t) inp->shape[2],
                             (uint32_t) inp->shape[3], (uint32_t) grid->shape[1], (uint32_t) grid->shape[2],
                             align_corners ? 1u : 0u };
}

DnStatus
dn_grid_sample_forward (DnTensor *out, const DnTensor *inp, const DnTensor *grid, bool align_corners)
{
  const char *op = "grid_sample_forward";
  DN_TRY (gs_check (op, out, inp, grid));
  if (dn_tensor_numel (out) == 0)
    return DN_OK;
  if (dn_tensor_numel (inp) == 0)
    return dn_tensor_fill (out, 0.0f); /* an empty image (H or W = 0): every sample is padding */
  GridSampleParams pc = gs_params (inp, grid, align_corners);
  if (dn_device_is_cpu (out->dev))
    {
      GridSampleArgs a = { .out = dn_tensor_host (out), .inp = dn_tensor_host (inp), .grid = dn_tensor_host (grid),
                           .N = pc.N, .C = pc.C, .H = pc.H, .W = pc.W, .Ho = pc.Ho, .Wo = pc.Wo,
                           .align = align_corners };
      int64_t grain = 1 + (1 << 12) / (pc.C + 1);
      dn_cpu_parallel_for (out->dev, (int64_t) pc.N * pc.Ho * pc.Wo, grain, gs_forward_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (inp), DN_READ (grid), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_GRID_SAMPLE_FWD, b, 3, &pc, sizeof pc, dn_tensor_numel (out));
}

DnStatus
dn_grid_sample_backward (DnTensor *dinp, DnTensor *dgrid, const DnTensor *dout, const DnTensor *inp,
                         const DnTensor *grid, bool align_corners)
{
  const char *op = "grid_sample_backward";
  DN_TRY (gs_check (op, dout, inp, grid));
  if (dinp)
    {
      DN_CHECK_SAME_SHAPE (op, dinp, inp);
      DN_CHECK_SAME_DEVICE (op, dinp, inp);
    }
  if (dgrid)
    {
      DN_CHECK_SAME_SHAPE (op, dgrid, grid);
      DN_CHECK_SAME_DEVICE (op, dgrid, grid);
    }
  GridSampleParams pc = gs_params (inp, grid, align_corners);
  int64_t P = (int64_t) pc.Ho * pc.Wo;
  if (dn_tensor_numel (dout) == 0 || dn_tensor_numel (inp) == 0)
    return DN_OK; /* nothing flows back (an empty image has no gradient, padding none either) */
  if (dn_device_is_cpu (dout->dev))
    {
      GridSampleArgs a = { .dinp = dinp ? dn_tensor_host (dinp) : NULL, .dgrid = dgrid ? dn_tensor_host (dgrid) : NULL,
                           .dout = dn_tensor_host (dout), .inp = dn_tensor_host (inp), .grid = dn_tensor_host (grid),
                           .N = pc.N, .C = pc.C, .H = pc.H, .W = pc.W, .Ho = pc.Ho, .Wo = pc.Wo,
                           .align = align_corners, .cblock = 8 };
      if (dinp && dn_tensor_numel (dinp) > 0 && P > 0)
        {
          /* enough blocks to feed the pool, at most 8 channels share one pass over the grid */
          int nt = dn_device_n_threads (dout->dev);
          int64_t want = (int64_t) pc.C * pc.N / (4 * (nt > 0 ? nt : 1));
          a.cblock = want < 1 ? 1 : want > 8 ? 8 : want;
          int64_t items = (int64_t) pc.N * ((pc.C + a.cblock - 1) / a.cblock);
          dn_cpu_parallel_for (dout->dev, items, 1, gs_dinp_range, &a);
        }
      if (dgrid && dn_tensor_numel (dgrid) > 0 && pc.C > 0 && pc.H > 0 && pc.W > 0)
        dn_cpu_parallel_for (dout->dev, (int64_t) pc.N * P, 1 + (1 << 12) / (pc.C + 1), gs_dgrid_range, &a);
      return DN_OK;
    }
  if (dinp && dn_tensor_numel (dinp) > 0 && P > 0)
    {
      DnBinding b[] = { DN_READ (dout), DN_READ (grid), DN_READ_WRITE (dinp) };
      DN_TRY (dn_vk_dispatch_1d (dout->dev, DN_SHADER_GRID_SAMPLE_BWD_INPUT, b, 3, &pc, sizeof pc,
                                 (int64_t) pc.N * pc.C * pc.H));
    }
  if (dgrid && dn_tensor_numel (dgrid) > 0 && pc.C > 0 && pc.H > 0 && pc.W > 0)
    {
      DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ (grid), DN_READ_WRITE (dgrid) };
      DN_TRY (dn_vk_dispatch_1d (dout->dev, DN_SHADER_GRID_SAMPLE_BWD_GRID, b, 4, &pc, sizeof pc,
                                 (int64_t) pc.N * P));
    }
  return DN_OK;
}
