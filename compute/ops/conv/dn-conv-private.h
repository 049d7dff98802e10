/* dn-conv-private.h: helpers shared by the conv family's op files (not public).
 *
 * dn_gemm: one strided, batched GEMM on either backend (cblas_sgemm / shaders/conv/matmul.comp), the
 * building block of matmul, linear and the CPU convolutions.
 * dn_reduce_strided: sums over a 2-level strided index set per output (shaders/conv/reduce_*.comp), the
 * building block of the reductions and of every dbias.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-device-private.h"

typedef enum
{
  DN_GEMM_BIAS_NONE = 0,
  DN_GEMM_BIAS_COL = 1, /* bias[n] added to column n */
  DN_GEMM_BIAS_ROW = 2, /* bias[m] added to row m */
} DnGemmBias;

/* C[z] = alpha · op(A[z]) · op(B[z]) + beta · C[z] (+ bias) for z in [0, batch), row-major matrices
 * with leading dimensions lda/ldb/ldc and batch strides sa/sb/sc (elements, relative to each tensor's
 * offset). op(A) is (M,K), op(B) is (K,N). A bias requires beta == 0. The caller has checked that every
 * index stays inside the tensors. */
typedef struct
{
  int64_t batch, M, N, K;
  int64_t lda, ldb, ldc;
  int64_t sa, sb, sc;
  bool trans_a, trans_b;
  float alpha, beta;
  DnGemmBias bias_mode;
} DnGemm;

DnStatus dn_gemm (const char *op, DnTensor *c, const DnTensor *a, const DnTensor *b, const DnTensor *bias,
                  const DnGemm *g);

/* out[j] (=|+=) scale · Σ_{r1<R1, r2<R2} x[(j / inner)·s_outer + (j % inner)·s_inner + r1·s1 + r2·s2]
 * for j in [0, J). Accumulates when @accumulate. Float64 sums on the CPU; Kahan sums and a compensated
 * tree on Vulkan. */
typedef struct
{
  int64_t J, inner, s_outer, s_inner;
  int64_t R1, s1, R2, s2;
  float scale;
  bool accumulate;
} DnReduce;

DnStatus dn_reduce_strided (const char *op, DnTensor *out, const DnTensor *x, const DnReduce *r);

/* dbias (C) += Σ_{n,s} dout[n,c,s] for dout (N,C,S) (bias add and conv2d backward). */
DnStatus dn_conv_bias_grad (const char *op, DnTensor *dbias, const DnTensor *dout, int64_t N, int64_t C, int64_t S);

/* Checks that @t (if not NULL) is on @ref's device. */
DnStatus dn_conv_check_device (const char *op, const DnTensor *ref, const DnTensor *t);

/* The 2^31 element limit of the shaders' 32-bit indexing (CPU too, to keep the backends alike). */
#define DN_CONV_MAX_ELEMS ((int64_t) 1 << 31)
