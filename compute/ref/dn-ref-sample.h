/* dn-ref-sample.h: float64 references of the sample op family (test-only): grid_sample (bilinear,
 * zeros), bilinear / nearest / antialiased-bicubic resize and roi_align, each with its backward.
 * They follow PyTorch 1.13 / torchvision 0.14 CPU semantics (see compute/ops/sample/dn-ops-sample.h).
 * Backward functions accumulate (+=) into their gradients; a NULL gradient is skipped.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* F.grid_sample (mode='bilinear', padding_mode='zeros'); grid[...,0] = x (width), grid[...,1] = y. */
void dn_ref_grid_sample_forward (double *out,        // (N,C,Ho,Wo)
                                 const double *inp,  // (N,C,H,W)
                                 const double *grid, // (N,Ho,Wo,2)
                                 int N, int C, int H, int W, int Ho, int Wo, bool align_corners);
void dn_ref_grid_sample_backward (double *dinp,       // (N,C,H,W) or NULL
                                  double *dgrid,      // (N,Ho,Wo,2) or NULL
                                  const double *dout, // (N,C,Ho,Wo)
                                  const double *inp,  // (N,C,H,W)
                                  const double *grid, // (N,Ho,Wo,2)
                                  int N, int C, int H, int W, int Ho, int Wo, bool align_corners);

/* F.interpolate (size given, no scale_factor). Modes below. */
typedef enum
{
  DN_REF_RESIZE_BILINEAR = 0, /* mode='bilinear', antialias=False */
  DN_REF_RESIZE_NEAREST,      /* mode='nearest' (legacy rule; align_corners ignored) */
  DN_REF_RESIZE_BICUBIC_AA,   /* mode='bicubic', align_corners=False, antialias=True (align ignored) */
} DnRefResizeMode;

void dn_ref_resize_forward (double *out,       // (N,C,Ho,Wo)
                            const double *inp, // (N,C,H,W)
                            int N, int C, int H, int W, int Ho, int Wo, DnRefResizeMode mode,
                            bool align_corners);
void dn_ref_resize_backward (double *dinp,       // (N,C,H,W)
                             const double *dout, // (N,C,Ho,Wo)
                             int N, int C, int H, int W, int Ho, int Wo, DnRefResizeMode mode,
                             bool align_corners);
/* The 1-D weight matrix of one axis (out_size x in_size, row-major, zero-filled here): the resize is
 * out = Wy · inp · Wxᵀ per plane. Exposed for tests. */
void dn_ref_resize_axis_matrix (double *w, int in_size, int out_size, DnRefResizeMode mode, bool align_corners);

/* torchvision.ops.roi_align; boxes rows (batch_index, x1, y1, x2, y2). A truncated batch index outside [0,N)
 * gives zeros (and no gradient). The ROI geometry and sample positions are float32, as in torchvision. */
void dn_ref_roi_align_forward (double *out,         // (K,C,PH,PW)
                               const double *inp,   // (N,C,H,W)
                               const double *boxes, // (K,5)
                               int N, int C, int H, int W, int K, int PH, int PW, double spatial_scale,
                               int sampling_ratio, bool aligned);
void dn_ref_roi_align_backward (double *dinp,        // (N,C,H,W)
                                const double *dout,  // (K,C,PH,PW)
                                const double *boxes, // (K,5)
                                int N, int C, int H, int W, int K, int PH, int PW, double spatial_scale,
                                int sampling_ratio, bool aligned);
