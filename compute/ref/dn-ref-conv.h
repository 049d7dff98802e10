/* dn-ref-conv.h: float64 references of the conv op family (test-only): plain loops, llm.c style, the
 * ground truth of compute/ops/conv/. Same argument order and semantics as the ops (dn-ops-conv.h):
 * forwards overwrite, backwards accumulate (+=) and skip NULL gradients.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* out (B,M,N) = alpha · op(a) · op(b); a (B,M,K) or (B,K,M) with ta; b (B,K,N) or (B,N,K) with tb */
void dn_ref_matmul_forward (double *out, const double *a, const double *b, int64_t B, int64_t M, int64_t N,
                            int64_t K, bool ta, bool tb, double alpha);
void dn_ref_matmul_backward (double *da, double *db, const double *dout, const double *a, const double *b, int64_t B,
                             int64_t M, int64_t N, int64_t K, bool ta, bool tb, double alpha);

/* out (rows,nout) = inp (rows,nin) · weight (nout,nin)ᵀ + bias (nout) (bias may be NULL) */
void dn_ref_linear_forward (double *out, const double *inp, const double *weight, const double *bias, int64_t rows,
                            int64_t nin, int64_t nout);
void dn_ref_linear_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                             const double *weight, int64_t rows, int64_t nin, int64_t nout);

/* Output size of a conv/pool: floor((in + 2 pad − k) / stride) + 1, or 0. */
int64_t dn_ref_conv_out_size (int64_t in, int64_t k, int64_t stride, int64_t pad);

/* out (N,Cout,Ho,Wo) = conv2d (inp (N,Cin,H,W), weight (Cout,Cin/groups,KH,KW)) + bias (Cout, or NULL) */
void dn_ref_conv2d_forward (double *out, const double *inp, const double *weight, const double *bias, int N, int Cin,
                            int H, int W, int Cout, int KH, int KW, int sh, int sw, int ph, int pw, int groups);
void dn_ref_conv2d_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                             const double *weight, int N, int Cin, int H, int W, int Cout, int KH, int KW, int sh,
                             int sw, int ph, int pw, int groups);

/* out (N,C,S) = inp (N,C,S) + bias (C) */
void dn_ref_bias_add_forward (double *out, const double *inp, const double *bias, int64_t N, int64_t C, int64_t S);
void dn_ref_bias_add_backward (double *dinp, double *dbias, const double *dout, int64_t N, int64_t C, int64_t S);

/* out, argmax (N,C,Ho,Wo) = max pool of inp (N,C,H,W); argmax holds h·W + w; first max wins */
void dn_ref_maxpool2d_forward (double *out, double *argmax, const double *inp, int N, int C, int H, int W, int kh,
                               int kw, int sh, int sw, int ph, int pw);
void dn_ref_maxpool2d_backward (double *dinp, const double *dout, const double *argmax, int N, int C, int H, int W,
                                int Ho, int Wo);

/* out (outer,inner) = Σ (or mean) over the middle axis of inp (outer,len,inner) */
void dn_ref_reduce_sum_forward (double *out, const double *inp, int64_t outer, int64_t len, int64_t inner);
void dn_ref_reduce_sum_backward (double *dinp, const double *dout, int64_t outer, int64_t len, int64_t inner);
void dn_ref_reduce_mean_forward (double *out, const double *inp, int64_t outer, int64_t len, int64_t inner);
void dn_ref_reduce_mean_backward (double *dinp, const double *dout, int64_t outer, int64_t len, int64_t inner);
