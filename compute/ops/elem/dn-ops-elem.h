/* dn-ops-elem.h: the elem op family (see compute/ops/elem/): activations, elementwise arithmetic,
 * reflect pad, Gaussian blur, total variation, cross-entropy, row L2-normalisation, the symmetric CLIP
 * loss and the colour recorrelation.
 *
 * Every op has a _forward and a _backward on both backends (shaders/elem/, CPU kernels in the .c
 * files) and a float64 reference dn_ref_<op>_* in compute/ref/dn-ref-elem.c that tests/elem/ compare
 * against. Conventions (llm.c): outputs first, then cached values, then inputs, weights, then params.
 * Backward functions ACCUMULATE (+=) into their gradient outputs (the caller zeroes them); a gradient
 * output may be NULL when it is not wanted. Zero-size tensors are a valid no-op. Tensors must have
 * fewer than 2^32 elements. NaN inputs propagate; they never crash an op.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"

/* Activations -------------------------------------------------------------------------------------------
 * Elementwise over tensors of any (equal) shape. The forward may run in place (out == inp).
 *   gelu:    x/2·(1 + erf(x/√2))  (PyTorch approximate='none'; 1 + erf is formed in float32, so it is
 *            exactly 0 for x ≲ −5.54 like PyTorch's, twins.md §2.2; both backends use the same erf,
 *            accurate to ~1 ulp)
 *   relu:    max(x, 0); backward passes dout where x > 0
 *   elu:     x > 0 ? x : alpha·(exp(x) − 1); backward x > 0 ? dout : dout·alpha·exp(x) (PyTorch)
 *   sigmoid: 1/(1 + exp(−x)); backward from the forward OUTPUT: dout·y·(1−y)
 *   tanh:    backward from the forward OUTPUT: dout·(1−y²)
 * (The twin output nonlinearity elu(y−1)+1 is dn_affine + dn_elu + dn_affine.) */
DnStatus dn_gelu_forward (DnTensor *out,        // (any)
                          const DnTensor *inp); // (same)
DnStatus dn_gelu_backward (DnTensor *dinp,        // (any) +=
                           const DnTensor *inp,   // (same)
                           const DnTensor *dout); // (same)
DnStatus dn_relu_forward (DnTensor *out,        // (any)
                          const DnTensor *inp); // (same)
DnStatus dn_relu_backward (DnTensor *dinp,        // (any) +=
                           const DnTensor *inp,   // (same)
                           const DnTensor *dout); // (same)
DnStatus dn_elu_forward (DnTensor *out,       // (any)
                         const DnTensor *inp, // (same)
                         float alpha);
DnStatus dn_elu_backward (DnTensor *dinp,       // (any) +=
                          const DnTensor *inp,  // (same)
                          const DnTensor *dout, // (same)
                          float alpha);
DnStatus dn_sigmoid_forward (DnTensor *out,        // (any)
                             const DnTensor *inp); // (same)
DnStatus dn_sigmoid_backward (DnTensor *dinp,        // (any) +=
                              const DnTensor *out,   // (same) the forward's output
                              const DnTensor *dout); // (same)
DnStatus dn_tanh_forward (DnTensor *out,        // (any)
                          const DnTensor *inp); // (same)
DnStatus dn_tanh_backward (DnTensor *dinp,        // (any) +=
                           const DnTensor *out,   // (same) the forward's output
                           const DnTensor *dout); // (same)

/* Elementwise arithmetic --------------------------------------------------------------------------------
 * out = a op b for op in add, sub, mul, div. out and a have the same shape; b either has that shape too,
 * or BROADCASTS by numpy rules (b's shape aligned to the right of a's, each of its dims equal to a's or
 * 1) provided that b's non-1 dims form one contiguous block of a's dims. Examples for a (N,C,H,W):
 * per-channel b (C,1,1) or (1,C,1,1); per-sample b (N,1,1,1); per-pixel b (H,W); a scalar b (1).
 * (A plain (C) vector aligns with W, as in numpy: make a (C,1,1) view of it for per-channel use.)
 * out may be a (in place). The backward reduces over the broadcast positions into db (+=).
 *   add: da += dout, db += dout;  sub: da += dout, db −= dout;
 *   mul: da += dout·b, db += dout·a;  div: da += dout/b, db −= dout·a/b². */
DnStatus dn_add_forward (DnTensor *out,      // (…)
                         const DnTensor *a,  // (…)
                         const DnTensor *b); // (…) or broadcastable
DnStatus dn_add_backward (DnTensor *da,          // (…) or NULL, +=
                          DnTensor *db,          // b's shape or NULL, +=
                          const DnTensor *dout); // (…)
DnStatus dn_sub_forward (DnTensor *out, const DnTensor *a, const DnTensor *b);
DnStatus dn_sub_backward (DnTensor *da, DnTensor *db, const DnTensor *dout);
DnStatus dn_mul_forward (DnTensor *out, const DnTensor *a, const DnTensor *b);
DnStatus dn_mul_backward (DnTensor *da,          // (…) or NULL, +=
                          DnTensor *db,          // b's shape or NULL, +=
                          const DnTensor *a,     // (…)
                          const DnTensor *b,     // (…) or broadcastable
                          const DnTensor *dout); // (…)
DnStatus dn_div_forward (DnTensor *out, const DnTensor *a, const DnTensor *b);
DnStatus dn_div_backward (DnTensor *da, DnTensor *db, const DnTensor *a, const DnTensor *b, const DnTensor *dout);

/* out = scale·inp + shift (scalars); may run in place. Backward: dinp += scale·dout. */
DnStatus dn_affine_forward (DnTensor *out,       // (any)
                            const DnTensor *inp, // (same)
                            float scale, float shift);
DnStatus dn_affine_backward (DnTensor *dinp,       // (any) +=
                             const DnTensor *dout, // (same)
                             float scale);
/* y += alpha·x (same shapes). Its own backward is dx += alpha·dy, i.e. dn_axpy again. */
DnStatus dn_axpy (DnTensor *y,       // (any) updated in place
                  const DnTensor *x, // (same)
                  float alpha);

/* Reflect pad 2D ----------------------------------------------------------------------------------------
 * PyTorch F.pad(inp, (left, right, top, bottom), mode='reflect') over the last two dims: the edge is not
 * repeated (row −1 is row 1). Every pad must be ≥ 0 and smaller than the dim it pads (PyTorch's rule).
 * Leading dims are batch dims (any number, ≥ 0). The backward folds the mirrored gradients back. */
DnStatus dn_reflect_pad2d_forward (DnTensor *out,       // (…,H+top+bottom,W+left+right)
                                   const DnTensor *inp, // (…,H,W)
                                   int left, int right, int top, int bottom);
DnStatus dn_reflect_pad2d_backward (DnTensor *dinp,       // (…,H,W) +=
                                    const DnTensor *dout, // (…,H+top+bottom,W+left+right)
                                    int left, int right, int top, int bottom);

/* Gaussian blur 2D --------------------------------------------------------------------------------------
 * torchvision.transforms.functional.gaussian_blur(inp, [ksize, ksize], [sigma, sigma]): the 1-D kernel
 * exp(−x²/(2σ²)) on x = −(k−1)/2 … (k−1)/2, normalised to sum 1; REFLECT padding of (k−1)/2 (so
 * (k−1)/2 < H and < W is required); depthwise over every plane of the leading dims (…,H,W). ksize odd,
 * 1 ≤ ksize ≤ DN_GAUSSIAN_BLUR_MAX_KSIZE, sigma > 0. The backward is the transposed operator. */
#define DN_GAUSSIAN_BLUR_MAX_KSIZE 39
DnStatus dn_gaussian_blur2d_forward (DnTensor *out,       // (…,H,W)
                                     const DnTensor *inp, // (…,H,W)
                                     int ksize, float sigma);
DnStatus dn_gaussian_blur2d_backward (DnTensor *dinp,       // (…,H,W) +=
                                      const DnTensor *dout, // (…,H,W)
                                      int ksize, float sigma);

/* Total variation (DualNeuron, twins.md §6.1 step 5) ------------------------------------------------------
 * TV(I) = weight·sqrt(Σ(I[:,:,1:]−I[:,:,:−1])² + Σ(I[:,1:,:]−I[:,:−1,:])² + 1e-8) per image (C,H,W),
 * summed over channels. A (C,H,W) input gives out (1); (N,C,H,W) gives out (N), one value per image.
 * norm caches sqrt(Σ… + 1e-8) for the backward (it may be NULL in a forward with no backward).
 * Backward: dinp += dout[n]·weight/norm[n]·∂(½Σ…)/∂I. */
DnStatus dn_tv_loss_forward (DnTensor *out,       // (N) or (1)
                             DnTensor *norm,      // (N) or (1), or NULL
                             const DnTensor *inp, // (N,C,H,W) or (C,H,W)
                             float weight);
DnStatus dn_tv_loss_backward (DnTensor *dinp,       // (N,C,H,W) or (C,H,W) +=
                              const DnTensor *norm, // (N) or (1) from the forward
                              const DnTensor *inp,  // (N,C,H,W) or (C,H,W)
                              const DnTensor *dout, // (N) or (1)
                              float weight);

/* Cross-entropy -----------------------------------------------------------------------------------------
 * PyTorch F.cross_entropy(logits, targets) with mean reduction: loss = mean_b(lse_b − logits[b,t_b]),
 * lse_b = log Σ_k exp(logits[b,k]) (stable, max-shifted). targets is a FLOAT tensor holding the class
 * indices 0…K−1 as exact integers (exact up to 2^24). A target that is not such an index (out of range,
 * fractional, NaN) makes the loss NaN; there is no ignore_index and no label smoothing. lse caches the
 * per-row log-sum-exp. dloss (1) is the upstream gradient, or NULL for 1.
 * Backward: dlogits[b,k] += dloss/B·(softmax(logits[b])_k − [k == t_b]). */
DnStatus dn_cross_entropy_forward (DnTensor *loss,           // (1)
                                   DnTensor *lse,            // (B) cache
                                   const DnTensor *logits,   // (B,K)
                                   const DnTensor *targets); // (B) class indices as floats
DnStatus dn_cross_entropy_backward (DnTensor *dlogits,        // (B,K) +=
                                    const DnTensor *lse,      // (B) from the forward
                                    const DnTensor *logits,   // (B,K)
                                    const DnTensor *targets,  // (B)
                                    const DnTensor *dloss);   // (1) or NULL (= 1)

/* Row L2-normalisation ----------------------------------------------------------------------------------
 * out[b] = inp[b] / max(‖inp[b]‖₂, eps) over the rows of inp (B,…) (trailing dims flattened), i.e.
 * F.normalize(x, dim=1, eps) and dual_tower.md's rownorm with eps 1e-12. norm caches ‖inp[b]‖₂ (the raw
 * norm); it may be NULL in a forward with no backward. Backward (PyTorch's clamp_min rule):
 * ‖x‖ ≥ eps: dinp += (dout − out·⟨out,dout⟩)/‖x‖;  else dinp += dout/eps. */
DnStatus dn_row_normalize_forward (DnTensor *out,       // (B,…)
                                   DnTensor *norm,      // (B) or NULL
                                   const DnTensor *inp, // (B,…)
                                   float eps);
DnStatus dn_row_normalize_backward (DnTensor *dinp,       // (B,…) +=
                                    const DnTensor *out,  // (B,…) from the forward
                                    const DnTensor *norm, // (B) from the forward
                                    const DnTensor *dout, // (B,…)
                                    float eps);

/* Symmetric CLIP loss (dual_tower.md §4, DINA's CLIPLoss with w_clip = 1) ----------------------------------
 * a = rownorm(img), n = rownorm(neu) (rownorm = x / max(‖x‖₂, 1e-12), trailing dims flattened to D),
 * logits S = logit_scale·a·nᵀ (B×B, rows = images), loss = ½[CE(S, diag) + CE(Sᵀ, diag)], each CE a
 * mean over rows. DINA's logit_scale is the fixed float32 exp(ln(1/0.01)) = 100.0000076f.
 * cache (1-D, dn_clip_loss_cache_numel(B, D) floats) holds what the backward needs, written by the
 * forward, laid out as [a (B·D) | n (B·D) | sim = a·nᵀ (B·B, so logits = logit_scale·sim) |
 * lse over rows of S (B) | lse over columns of S (B) | ‖img_b‖ (B) | ‖neu_b‖ (B) | workspace (2B)];
 * the backward overwrites only the workspace. dloss (1) is the upstream gradient, or NULL for 1.
 * The backward accumulates into dimg, dneu and, if the scale is a learnable parameter, dscale (1):
 * dL/dscale = Σ_ij dL/dS_ij·sim_ij. B ≤ 32767. */
int64_t dn_clip_loss_cache_numel (int64_t B, int64_t D);
DnStatus dn_clip_loss_forward (DnTensor *loss,       // (1)
                               DnTensor *cache,      // (dn_clip_loss_cache_numel (B, D))
                               const DnTensor *img,  // (B,…) image embeddings, D = numel/B
                               const DnTensor *neu,  // (B,…) neural embeddings, same numel
                               float logit_scale);
DnStatus dn_clip_loss_backward (DnTensor *dimg,        // (B,…) or NULL, +=
                                DnTensor *dneu,        // (B,…) or NULL, +=
                                DnTensor *dscale,      // (1) or NULL, +=
                                DnTensor *cache,       // from the forward (workspace is overwritten)
                                const DnTensor *img,   // (B,…)
                                const DnTensor *neu,   // (B,…)
                                const DnTensor *dloss, // (1) or NULL (= 1)
                                float logit_scale);

/* Colour recorrelation (twins.md §6.2) ----------------------------------------------------------------
 * Each pixel's channel row vector times a matrix: out[n,co,y,x] = Σ_ci inp[n,ci,y,x]·mat[ci,co]
 * (`v @ Cc` with Cc (3,3) in the V4 Fourier ascent; any Ci, Co work). out must not overlap inp.
 * Backward: dinp[n,ci] += Σ_co dout[n,co]·mat[ci,co]; dmat[ci,co] += Σ_{n,y,x} inp[n,ci]·dout[n,co]. */
DnStatus dn_color_recorrelate_forward (DnTensor *out,       // (N,Co,H,W)
                                       const DnTensor *inp, // (N,Ci,H,W)
                                       const DnTensor *mat);// (Ci,Co)
DnStatus dn_color_recorrelate_backward (DnTensor *dinp,       // (N,Ci,H,W) or NULL, +=
                                        DnTensor *dmat,       // (Ci,Co) or NULL, +=
                                        const DnTensor *inp,  // (N,Ci,H,W)
                                        const DnTensor *mat,  // (Ci,Co)
                                        const DnTensor *dout);// (N,Co,H,W)
