/* dn-ops-sample.h: the sample op family (see compute/ops/sample/): grid_sample, image resizes
 * (bilinear, legacy nearest, antialiased bicubic) and roi_align, forward and backward on both backends.
 *
 * Semantics are PyTorch 1.13 / torchvision 0.14 (CPU kernels), since fixtures compare against them.
 * Images are (N,C,H,W) float32; a resize takes its output size from @out's shape. Backward functions
 * ACCUMULATE into their gradients (the caller zeroes them); a NULL gradient is skipped. On the Vulkan
 * backend no shader uses float atomics: gradients of scattering ops are gathered per input row.
 * The float64 references are in compute/ref/dn-ref-sample.h.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>

#include "dn-device.h"

/* grid_sample ------------------------------------------------------------------------------------
 * F.grid_sample (inp, grid, mode='bilinear', padding_mode='zeros', align_corners). grid[...,0] is x
 * (width axis), grid[...,1] is y (height axis), in [-1,1] for the image extent: with align_corners
 * g maps to pixel (g+1)/2·(size−1), without to ((g+1)·size−1)/2. Samples outside read zeros. */
DnStatus dn_grid_sample_forward (DnTensor *out,        // (N,C,Ho,Wo)
                                 const DnTensor *inp,  // (N,C,H,W)
                                 const DnTensor *grid, // (N,Ho,Wo,2)
                                 bool align_corners);
/* Gradients for the input and for the grid (either may be NULL). */
DnStatus dn_grid_sample_backward (DnTensor *dinp,       // (N,C,H,W) or NULL, accumulated
                                  DnTensor *dgrid,      // (N,Ho,Wo,2) or NULL, accumulated
                                  const DnTensor *dout, // (N,C,Ho,Wo)
                                  const DnTensor *inp,  // (N,C,H,W)
                                  const DnTensor *grid, // (N,Ho,Wo,2)
                                  bool align_corners);

/* Resizes: F.interpolate (inp, size=(Ho,Wo), mode=...) with the size given (no scale_factor) -------- */

/* mode='bilinear', antialias=False. */
DnStatus dn_resize_bilinear_forward (DnTensor *out,       // (N,C,Ho,Wo)
                                     const DnTensor *inp, // (N,C,H,W)
                                     bool align_corners);
DnStatus dn_resize_bilinear_backward (DnTensor *dinp,       // (N,C,H,W), accumulated
                                      const DnTensor *dout, // (N,C,Ho,Wo)
                                      bool align_corners);

/* mode='nearest' (PyTorch's legacy rule): src = min(floor(dst·scale), in−1) with scale = in/out, both
 * computed in float32 as PyTorch does. */
DnStatus dn_resize_nearest_forward (DnTensor *out,        // (N,C,Ho,Wo)
                                    const DnTensor *inp); // (N,C,H,W)
DnStatus dn_resize_nearest_backward (DnTensor *dinp,        // (N,C,H,W), accumulated
                                     const DnTensor *dout); // (N,C,Ho,Wo)

/* mode='bicubic', align_corners=False, antialias=True (`_upsample_bicubic2d_aa`): separable Keys cubic
 * (a = −0.5) with support 2·max(in/out, 1), weights normalised per output pixel, taps outside the image
 * dropped. An axis whose size does not change is the identity (as in PyTorch), so in == out copies. */
DnStatus dn_resize_bicubic_aa_forward (DnTensor *out,        // (N,C,Ho,Wo)
                                       const DnTensor *inp); // (N,C,H,W)
DnStatus dn_resize_bicubic_aa_backward (DnTensor *dinp,        // (N,C,H,W), accumulated
                                        const DnTensor *dout); // (N,C,Ho,Wo)

/* roi_align ---------------------------------------------------------------------------------------
 * torchvision.ops.roi_align (inp, boxes, output_size=(PH,PW), spatial_scale, sampling_ratio, aligned).
 * boxes rows are (batch_index, x1, y1, x2, y2) in input coordinates before spatial_scale.
 * sampling_ratio > 0 samples that many points per bin and axis; ≤ 0 uses ceil(roi_size/output_size)
 * per ROI (adaptive). Bilinear sampling with torchvision's edge rules (a sample with y < −1 or y > H is
 * 0; y ≤ 0 reads row 0; y ≥ H−1 reads row H−1). A batch index outside [0,N) (after truncation)
 * yields zeros and no gradient. */
DnStatus dn_roi_align_forward (DnTensor *out,         // (K,C,PH,PW)
                               const DnTensor *inp,   // (N,C,H,W)
                               const DnTensor *boxes, // (K,5)
                               float spatial_scale, int sampling_ratio, bool aligned);
/* Gradient for the input only (boxes are treated as constants). */
DnStatus dn_roi_align_backward (DnTensor *dinp,        // (N,C,H,W), accumulated
                                const DnTensor *dout,  // (K,C,PH,PW)
                                const DnTensor *boxes, // (K,5)
                                float spatial_scale, int sampling_ratio, bool aligned);
