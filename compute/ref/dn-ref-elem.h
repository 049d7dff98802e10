/* dn-ref-elem.h: float64 references of the elem op family (test-only): activations, elementwise
 * arithmetic, reflect pad, Gaussian blur, total variation, cross-entropy, row L2-normalisation, the
 * symmetric CLIP loss and the colour recorrelation. Plain loops in double, llm.c style; each mirrors
 * the engine op of the same name in compute/ops/elem/ (see dn-ops-elem.h for the exact semantics).
 * Backward references ACCUMULATE (+=) like the engine ops; NULL gradient outputs are skipped.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Activations over n elements ------------------------------------------------------------------------- */
void dn_ref_gelu_forward (double *out, const double *inp, int64_t n);
void dn_ref_gelu_backward (double *dinp, const double *inp, const double *dout, int64_t n);
void dn_ref_relu_forward (double *out, const double *inp, int64_t n);
void dn_ref_relu_backward (double *dinp, const double *inp, const double *dout, int64_t n);
void dn_ref_elu_forward (double *out, const double *inp, int64_t n, double alpha);
void dn_ref_elu_backward (double *dinp, const double *inp, const double *dout, int64_t n, double alpha);
void dn_ref_sigmoid_forward (double *out, const double *inp, int64_t n);
/* sigmoid/tanh backward use the forward output, like the engine ops */
void dn_ref_sigmoid_backward (double *dinp, const double *out, const double *dout, int64_t n);
void dn_ref_tanh_forward (double *out, const double *inp, int64_t n);
void dn_ref_tanh_backward (double *dinp, const double *out, const double *dout, int64_t n);

/* Binary arithmetic with b broadcast: element i of a/out uses b[(i / inner) % nb] ----------------------- */
typedef enum
{
  DN_REF_ADD,
  DN_REF_SUB,
  DN_REF_MUL,
  DN_REF_DIV,
} DnRefBinaryOp;
void dn_ref_binary_forward (DnRefBinaryOp op, double *out, const double *a, const double *b, int64_t n, int64_t nb,
                            int64_t inner);
void dn_ref_binary_backward (DnRefBinaryOp op, double *da, double *db, const double *a, const double *b,
                             const double *dout, int64_t n, int64_t nb, int64_t inner);

/* Reflect pad of planes (P,H,W) → (P,H+top+bottom,W+left+right), PyTorch mode='reflect' ----------------- */
void dn_ref_reflect_pad2d_forward (double *out, const double *inp, int64_t P, int64_t H, int64_t W, int left,
                                   int right, int top, int bottom);
void dn_ref_reflect_pad2d_backward (double *dinp, const double *dout, int64_t P, int64_t H, int64_t W, int left,
                                    int right, int top, int bottom);

/* torchvision gaussian_blur 1-D kernel (ksize odd), normalised, in double. */
void dn_ref_gaussian_kernel1d (double *k, int ksize, double sigma);
/* Gaussian blur of planes (P,H,W): reflect pad (k-1)/2, then the k×k separable kernel. */
void dn_ref_gaussian_blur2d_forward (double *out, const double *inp, int64_t P, int64_t H, int64_t W, int ksize,
                                     double sigma);
void dn_ref_gaussian_blur2d_backward (double *dinp, const double *dout, int64_t P, int64_t H, int64_t W, int ksize,
                                      double sigma);

/* TV(I_n) = weight·sqrt(Σ dx² + Σ dy² + 1e-8) over each image (C,H,W) of N -------------------------------- */
void dn_ref_tv_loss_forward (double *out, double *norm, const double *inp, int64_t N, int64_t C, int64_t H,
                             int64_t W, double weight);
void dn_ref_tv_loss_backward (double *dinp, const double *inp, const double *dout, int64_t N, int64_t C, int64_t H,
                              int64_t W, double weight);

/* Cross-entropy, mean over B rows of logits (B,K); targets hold class indices. dloss scales the backward. */
double dn_ref_cross_entropy_forward (const double *logits, const double *targets, int64_t B, int64_t K);
void dn_ref_cross_entropy_backward (double *dlogits, const double *logits, const double *targets, int64_t B,
                                    int64_t K, double dloss);

/* Row L2-normalisation out = x / max(‖x‖₂, eps) over rows of (B,D) (F.normalize). */
void dn_ref_row_normalize_forward (double *out, const double *inp, int64_t B, int64_t D, double eps);
void dn_ref_row_normalize_backward (double *dinp, const double *inp, const double *dout, int64_t B, int64_t D,
                                    double eps);

/* Symmetric CLIP loss on embeddings (B,D): a = rownorm(img), n = rownorm(neu) (eps 1e-12),
 * S = scale·a·nᵀ, loss = ½[CE(S, diag) + CE(Sᵀ, diag)]. If logits is not NULL it receives S (B,B). */
double dn_ref_clip_loss_forward (double *logits, const double *img, const double *neu, int64_t B, int64_t D,
                                 double scale);
void dn_ref_clip_loss_backward (double *dimg, double *dneu, double *dscale, const double *img, const double *neu,
                                int64_t B, int64_t D, double scale, double dloss);

/* Colour recorrelation: out[n,co,p] = Σ_ci inp[n,ci,p]·mat[ci,co] over P pixels. */
void dn_ref_color_recorrelate_forward (double *out, const double *inp, const double *mat, int64_t N, int64_t Ci,
                                       int64_t Co, int64_t P);
void dn_ref_color_recorrelate_backward (double *dinp, double *dmat, const double *inp, const double *mat,
                                        const double *dout, int64_t N, int64_t Ci, int64_t Co, int64_t P);
