/* dn-roi-align.c: torchvision.ops.roi_align (any spatial_scale, sampling_ratio, aligned), forward and
 * backward for the input, on both backends.
 *
 * Mirrors torchvision 0.14 ops/cpu/roi_align_kernel.cpp (roi_align_forward_kernel_impl,
 * pre_calc_for_bilinear_interpolate, bilinear_interpolate_gradient), computing the ROI geometry in
 * float32 as it does. Reference: dn_ref_roi_align_* (compute/ref/dn-ref-sample.c). Shaders:
 * shaders/sample/roi_align_{fwd,bwd}.comp. The backward is a gather per input row on both backends
 * (each task owns rows of one (n,c) plane), so neither needs atomics.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "dn-sample-common.h"

typedef struct
{
  uint32_t N, C, H, W, K, PH, PW;
  float spatial_scale;
  int32_t sampling_ratio;
  uint32_t aligned;
} RoiAlignParams;
_Static_assert (sizeof (RoiAlignParams) == 40, "mirror of roi_align_{fwd,bwd}.comp DN_PARAMS");

#define ROI_GRID_MAX 65536 /* bound on the adaptive samples per bin and axis (as in the shaders) */
#define ROI_ROWS 8         /* input rows per backward task */

typedef struct
{
  int n;              /* batch index, -1 when outside [0,N) */
  float sh, sw;       /* roi start (pixels) */
  float bh, bw;       /* bin size */
  int gh, gw;         /* samples per bin and axis */
  float count;        /* max(gh·gw, 1) */
} Roi;

static int
grid_count (float len, int64_t pooled)
{
  float q = len / (float) pooled;
  if (!(q > 0.0f))
    return 0;
  return q > (float) ROI_GRID_MAX ? ROI_GRID_MAX : (int) ceilf (q);
}

static Roi
roi_load (const float *box, const RoiAlignParams *p)
{
  Roi r;
  float bn = box[0];
  r.n = (bn > -1.0f && bn < (float) p->N) ? (int) bn : -1;
  float offset = p->aligned ? 0.5f : 0.0f;
  r.sw = box[1] * p->spatial_scale - offset;
  r.sh = box[2] * p->spatial_scale - offset;
  float ew = box[3] * p->spatial_scale - offset;
  float eh = box[4] * p->spatial_scale - offset;
  float rw = ew - r.sw, rh = eh - r.sh;
  if (!p->aligned)
    {
      rw = fmaxf (rw, 1.0f);
      rh = fmaxf (rh, 1.0f);
    }
  r.bh = rh / (float) p->PH;
  r.bw = rw / (float) p->PW;
  r.gh = p->sampling_ratio > 0 ? p->sampling_ratio : grid_count (rh, p->PH);
  r.gw = p->sampling_ratio > 0 ? p->sampling_ratio : grid_count (rw, p->PW);
  r.count = (float) (r.gh * r.gw > 1 ? r.gh * r.gw : 1);
  return r;
}

/* bilinear_interpolate's edge rules along one axis: false when the sample is outside [-1, size];
 * else the low/high index and the weight of the high one. */
static inline bool
roi_axis (float v, int64_t size, int64_t *lo, int64_t *hi, float *l)
{
  if (v < -1.0f || v > (float) size)
    return false;
  if (v <= 0)
    v = 0;
  *lo = (int64_t) v;
  if (*lo >= size - 1)
    {
      *hi = *lo = size - 1;
      v = (float) *lo;
    }
  else
    *hi = *lo + 1;
  *l = v - (float) *lo;
  return true;
}

typedef struct
{
  float *out, *dinp;
  const float *inp, *dout, *boxes;
  RoiAlignParams p;
} RoiArgs;

/* forward: one task item per (k, ph) output row, all channels. */
static void
roi_forward_range (void *ctx, int64_t b, int64_t e)
{
  const RoiArgs *a = ctx;
  const RoiAlignParams *p = &a->p;
  int64_t P = (int64_t) p->PH * p->PW, HW = (int64_t) p->H * p->W;
  for (int64_t item = b; item < e; item++)
    {
      int64_t k = item / p->PH, ph = item % p->PH;
      Roi r = roi_load (a->boxes + k * 5, p);
      float *o = a->out + k * p->C * P + ph * p->PW;
      for (int64_t c = 0; c < p->C; c++)
        memset (o + c * P, 0, sizeof (float) * p->PW);
      if (r.n < 0)
        continue;
      const float *src = a->inp + (int64_t) r.n * p->C * HW;
      for (int iy = 0; iy < r.gh; iy++)
        {
          float y = r.sh + (float) ph * r.bh + ((float) iy + 0.5f) * r.bh / (float) r.gh;
          int64_t yl, yh;
          float ly;
          if (!roi_axis (y, p->H, &yl, &yh, &ly))
            continue;
          for (int64_t pw = 0; pw < p->PW; pw++)
            for (int ix = 0; ix < r.gw; ix++)
              {
                float x = r.sw + (float) pw * r.bw + ((float) ix + 0.5f) * r.bw / (float) r.gw;
                int64_t xl, xh;
                float lx;
                if (!roi_axis (x, p->W, &xl, &xh, &lx))
                  continue;
                float hy = 1.0f - ly, hx = 1.0f - lx;
                float w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;
                int64_t p1 = yl * p->W + xl, p2 = yl * p->W + xh, p3 = yh * p->W + xl, p4 = yh * p->W + xh;
                for (int64_t c = 0; c < p->C; c++)
                  {
                    const float *s = src + c * HW;
                    o[c * P + pw] += w1 * s[p1] + w2 * s[p2] + w3 * s[p3] + w4 * s[p4];
                  }
              }
        }
      for (int64_t c = 0; c < p->C; c++)
        for (int64_t pw = 0; pw < p->PW; pw++)
          o[c * P + pw] /= r.count;
    }
}

/* backward: one task item per (n, c, block of ROI_ROWS input rows); it gathers every sample whose
 * footprint touches its rows. */
static void
roi_backward_range (void *ctx, int64_t b, int64_t e)
{
  const RoiArgs *a = ctx;
  const RoiAlignParams *p = &a->p;
  int64_t P = (int64_t) p->PH * p->PW, HW = (int64_t) p->H * p->W;
  int64_t nblk = (p->H + ROI_ROWS - 1) / ROI_ROWS;
  for (int64_t item = b; item < e; item++)
    {
      int64_t nc = item / nblk, h0 = (item % nblk) * ROI_ROWS;
      int64_t h1 = h0 + ROI_ROWS < p->H ? h0 + ROI_ROWS : p->H;
      int64_t n = nc / p->C, c = nc % p->C;
      float *d = a->dinp + nc * HW;
      for (int64_t k = 0; k < p->K; k++)
        {
          Roi r = roi_load (a->boxes + k * 5, p);
          if (r.n != n)
            continue;
          const float *g = a->dout + (k * p->C + c) * P;
          for (int64_t ph = 0; ph < p->PH; ph++)
            for (int iy = 0; iy < r.gh; iy++)
              {
                float y = r.sh + (float) ph * r.bh + ((float) iy + 0.5f) * r.bh / (float) r.gh;
                int64_t yl, yh;
                float ly;
                if (!roi_axis (y, p->H, &yl, &yh, &ly))
                  continue;
                bool use_l = yl >= h0 && yl < h1, use_h = yh >= h0 && yh < h1;
                if (!use_l && !use_h)
                  continue;
                float wl = (1.0f - ly) / r.count, wh = ly / r.count;
                for (int64_t pw = 0; pw < p->PW; pw++)
                  {
                    float go = g[ph * p->PW + pw];
                    for (int ix = 0; ix < r.gw; ix++)
                      {
                        float x = r.sw + (float) pw * r.bw + ((float) ix + 0.5f) * r.bw / (float) r.gw;
                        int64_t xl, xh;
                        float lx;
                        if (!roi_axis (x, p->W, &xl, &xh, &lx))
                          continue;
                        float hx = 1.0f - lx;
                        if (use_l)
                          {
                            d[yl * p->W + xl] += wl * hx * go;
                            d[yl * p->W + xh] += wl * lx * go;
                          }
                        if (use_h)
                          {
                            d[yh * p->W + xl] += wh * hx * go;
                            d[yh * p->W + xh] += wh * lx * go;
                          }
                      }
                  }
              }
        }
    }
}

/* Shapes: img (N,C,H,W), boxes (K,5), y (K,C,PH,PW). */
static DnStatus
roi_check (const char *op, const char *img_name, const DnTensor *img, const char *y_name, const DnTensor *y,
           const DnTensor *boxes)
{
  DN_CHECK_SHAPE (op, img_name, img, 4, -1, -1, -1, -1);
  DN_CHECK_SHAPE (op, "boxes", boxes, 2, -1, 5);
  DN_CHECK_SHAPE (op, y_name, y, 4, boxes->shape[0], img->shape[1], -1, -1);
  DN_CHECK_SAME_DEVICE (op, img, y);
  DN_CHECK_SAME_DEVICE (op, img, boxes);
  DN_TRY (dn_sample_check_u32 (op, img_name, img));
  DN_TRY (dn_sample_check_u32 (op, y_name, y));
  DN_TRY (dn_sample_check_u32 (op, "boxes", boxes));
  return DN_OK;
}

static RoiAlignParams
roi_params (const DnTensor *img, const DnTensor *y, float spatial_scale, int sampling_ratio, bool aligned)
{
  return (RoiAlignParams){ (uint32_t) img->shape[0], (uint32_t) img->shape[1], (uint32_t) img->shape[2],
                           (uint32_t) img->shape[3], (uint32_t) y->shape[0],   (uint32_t) y->shape[2],
                           (uint32_t) y->shape[3],   spatial_scale,            sampling_ratio,
                           aligned ? 1u : 0u };
}

DnStatus
dn_roi_align_forward (DnTensor *out, const DnTensor *inp, const DnTensor *boxes, float spatial_scale,
                      int sampling_ratio, bool aligned)
{
  const char *op = "roi_align_forward";
  DN_TRY (roi_check (op, "inp", inp, "out", out, boxes));
  if (dn_tensor_numel (out) == 0)
    return DN_OK;
  if (dn_tensor_numel (inp) == 0)
    {
      char a[128];
      return dn_set_error (DN_ERROR_SHAPE, "roi_align_forward: cannot sample the empty input %s",
                           dn_tensor_shape_str (inp, a, sizeof a));
    }
  RoiAlignParams pc = roi_params (inp, out, spatial_scale, sampling_ratio, aligned);
  if (dn_device_is_cpu (out->dev))
    {
      RoiArgs a = { .out = dn_tensor_host (out), .inp = dn_tensor_host (inp), .boxes = dn_tensor_host (boxes), .p = pc };
      dn_cpu_parallel_for (out->dev, (int64_t) pc.K * pc.PH, 1, roi_forward_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (inp), DN_READ (boxes), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_ROI_ALIGN_FWD, b, 3, &pc, sizeof pc, dn_tensor_numel (out));
}

DnStatus
dn_roi_align_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *boxes, float spatial_scale,
                       int sampling_ratio, bool aligned)
{
  const char *op = "roi_align_backward";
  if (!dinp)
    return DN_OK;
  DN_TRY (roi_check (op, "dinp", dinp, "dout", dout, boxes));
  if (dn_tensor_numel (dout) == 0 || dn_tensor_numel (dinp) == 0)
    return DN_OK;
  RoiAlignParams pc = roi_params (dinp, dout, spatial_scale, sampling_ratio, aligned);
  if (dn_device_is_cpu (dinp->dev))
    {
      RoiArgs a = { .dinp = dn_tensor_host (dinp), .dout = dn_tensor_host (dout), .boxes = dn_tensor_host (boxes),
                    .p = pc };
      int64_t items = (int64_t) pc.N * pc.C * ((pc.H + ROI_ROWS - 1) / ROI_ROWS);
      dn_cpu_parallel_for (dinp->dev, items, 1, roi_backward_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (dout), DN_READ (boxes), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dinp->dev, DN_SHADER_ROI_ALIGN_BWD, b, 3, &pc, sizeof pc,
                            (int64_t) pc.N * pc.C * pc.H);
}
