/* dn-ref-norm.h: float64 references of the norm op family (test-only), mirrored by
 * the op files in compute/ops/norm/. Plain loops, llm.c style: outputs first, then cached values, inputs, weights,
 * then shape ints and params. Backward functions ACCUMULATE into their gradients (which may be NULL).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* LayerNorm over C of the layout (outer, C, inner): channels-last is inner = 1 (outer = rows),
 * channels-first (N,C,HW) is outer = N, inner = HW. mean/rstd are (outer, inner). weight/bias may be NULL. */
void dn_ref_layernorm_forward (double *out, double *mean, double *rstd, const double *inp, const double *weight,
                               const double *bias, int64_t outer, int64_t C, int64_t inner, double eps);
void dn_ref_layernorm_backward (double *dinp, double *dweight, double *dbias, const double *dout,
                                const double *inp, const double *weight, const double *mean, const double *rstd,
                                int64_t outer, int64_t C, int64_t inner);

/* BatchNorm over (N,C,S): eval with running stats; train with batch stats (biased var), updating the
 * running stats (if non-NULL) with the unbiased var. weight/bias may be NULL. */
void dn_ref_batchnorm_eval_forward (double *out, const double *inp, const double *weight, const double *bias,
                                    const double *running_mean, const double *running_var, int64_t N, int64_t C,
                                    int64_t S, double eps);
void dn_ref_batchnorm_eval_backward (double *dinp, double *dweight, double *dbias, const double *dout,
                                     const double *inp, const double *weight, const double *running_mean,
                                     const double *running_var, int64_t N, int64_t C, int64_t S, double eps);
void dn_ref_batchnorm_train_forward (double *out, double *mean, double *rstd, double *running_mean,
                                     double *running_var, const double *inp, const double *weight,
                                     const double *bias, int64_t N, int64_t C, int64_t S, double momentum,
                                     double eps);
void dn_ref_batchnorm_train_backward (double *dinp, double *dweight, double *dbias, const double *dout,
                                      const double *inp, const double *weight, const double *mean,
                                      const double *rstd, int64_t N, int64_t C, int64_t S);

/* GRN on (N,HW,C). */
void dn_ref_grn_forward (double *out, double *gx, double *nx, const double *h, const double *gamma,
                         const double *beta, int64_t N, int64_t HW, int64_t C, double eps);
void dn_ref_grn_backward (double *dh, double *dgamma, double *dbeta, const double *dout, const double *h,
                          const double *gamma, const double *gx, const double *nx, int64_t N, int64_t HW,
                          int64_t C, double eps);

/* Softmax over rows of length L. */
void dn_ref_softmax_forward (double *out, const double *inp, int64_t rows, int64_t L);
void dn_ref_softmax_backward (double *dinp, const double *dout, const double *out, int64_t rows, int64_t L);

/* Attention, Q (B,H,Lq,D), K (B,H,Lk,D), V (B,H,Lk,Dv); mask NULL or (mB,mH,mQ,Lk) with each of mB, mH, mQ
 * either 1 or the full size (a (Lq,Lk) mask is mB = mH = 1, mQ = Lq). */
void dn_ref_attention_forward (double *out, double *att, const double *q, const double *k, const double *v,
                               const double *mask, int64_t mB, int64_t mH, int64_t mQ, int64_t B, int64_t H,
                               int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, double scale);
void dn_ref_attention_backward (double *dq, double *dk, double *dv, const double *dout, const double *q,
                                const double *k, const double *v, const double *att, int64_t B, int64_t H,
                                int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, double scale);

/* Per-sample ops over (N, M). */
void dn_ref_l2norm_forward (double *out, const double *inp, int64_t N, int64_t M);
void dn_ref_l2norm_backward (double *dinp, const double *dout, const double *inp, const double *out, int64_t N,
                             int64_t M);
void dn_ref_change_norm_forward (double *out, double *norm, const double *inp, int64_t N, int64_t M, double target,
                                 double eps);
void dn_ref_change_norm_backward (double *dinp, const double *dout, const double *inp, const double *norm,
                                  int64_t N, int64_t M, double target, double eps);
void dn_ref_minmax_norm_forward (double *out, double *stats, const double *inp, int64_t N, int64_t M, double eps);
void dn_ref_minmax_norm_backward (double *dinp, const double *dout, const double *inp, const double *stats,
                                  int64_t N, int64_t M, double eps);
