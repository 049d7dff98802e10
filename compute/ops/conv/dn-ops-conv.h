/* dn-ops-conv.h: the conv op family: matmul and linear (GEMM), conv2d (grouped and depthwise), bias add
 * over channels, 2-D max pooling and sum/mean reductions. Forward and backward, on both backends.
 *
 * Implementations: compute/ops/conv/dn-gemm.c (matmul, linear), dn-conv2d.c, dn-pool.c (max pool),
 * dn-reduce.c (reductions, bias add). Shaders in shaders/conv/. Float64 references (which every op
 * mirrors) in compute/ref/dn-ref-conv.c; tests in tests/conv/.
 *
 * Conventions (llm.c): outputs first, then values cached for backward, then inputs, weights, params.
 * Forward functions OVERWRITE their outputs; backward functions ACCUMULATE (+=) into their gradient
 * outputs (the caller zeroes them) and skip any gradient passed as NULL. Every tensor is float32,
 * contiguous, row-major (NCHW for images). All tensors of one call must live on one device. A tensor
 * with zero elements makes the call a valid no-op. Shape mismatches return DN_ERROR_SHAPE with a
 * message (dn_last_error()) naming the op and the shapes.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>

#include "dn-device.h"

/* Matmul and linear --------------------------------------------------------------------------------- */

/**
 * dn_matmul_forward:
 * @out: (B,M,N) or (M,N): overwritten with alpha · op(a) · op(b), one product per batch entry
 * @a: (B,M,K), or (B,K,M) when @trans_a; 2-D when @out is 2-D
 * @b: (B,K,N), or (B,N,K) when @trans_b; 2-D when @out is 2-D
 * @trans_a: use a's transpose (a's last two dims are then (K,M))
 * @trans_b: use b's transpose (b's last two dims are then (N,K))
 * @alpha: scale of the product (e.g. 1/sqrt(d) for attention scores)
 *
 * Batched matrix product. All three tensors have the same number of dimensions (2 or 3) and the same
 * batch B; there is no broadcasting (use dn_linear_forward for a weight shared by all rows). CPU:
 * cblas_sgemm per batch entry; Vulkan: a 64×64-tiled shader (shaders/conv/matmul.comp).
 * Mirrors dn_ref_matmul_forward.
 *
 * Returns: DN_OK, or DN_ERROR_SHAPE when the shapes do not fit.
 */
DnStatus dn_matmul_forward (DnTensor *out,     // (B,M,N)
                            const DnTensor *a, // (B,M,K) or (B,K,M)
                            const DnTensor *b, // (B,K,N) or (B,N,K)
                            bool trans_a, bool trans_b, float alpha);

/**
 * dn_matmul_backward:
 * @da: (nullable): like @a; accumulates alpha · dout · op(b)ᵀ (transposed back when @trans_a)
 * @db: (nullable): like @b; accumulates alpha · op(a)ᵀ · dout (transposed back when @trans_b)
 * @dout: (B,M,N): gradient of @out
 * @a, @b, @trans_a, @trans_b, @alpha: as given to dn_matmul_forward()
 *
 * Mirrors dn_ref_matmul_backward.
 * Returns: DN_OK or DN_ERROR_SHAPE.
 */
DnStatus dn_matmul_backward (DnTensor *da,         // like a, or NULL
                             DnTensor *db,         // like b, or NULL
                             const DnTensor *dout, // (B,M,N)
                             const DnTensor *a,    // (B,M,K) or (B,K,M)
                             const DnTensor *b,    // (B,K,N) or (B,N,K)
                             bool trans_a, bool trans_b, float alpha);

/**
 * dn_linear_forward:
 * @out: (…,Nout): overwritten with inp · weightᵀ + bias
 * @inp: (…,Nin): any number ≥ 1 of leading dims, flattened into rows (same leading dims as @out)
 * @weight: (Nout,Nin)
 * @bias: (nullable): (Nout)
 *
 * PyTorch nn.Linear. One GEMM (bias fused). Mirrors dn_ref_linear_forward.
 * Returns: DN_OK or DN_ERROR_SHAPE.
 */
DnStatus dn_linear_forward (DnTensor *out,          // (…,Nout)
                            const DnTensor *inp,    // (…,Nin)
                            const DnTensor *weight, // (Nout,Nin)
                            const DnTensor *bias);  // (Nout) or NULL

/**
 * dn_linear_backward:
 * @dinp: (nullable): (…,Nin), accumulates dout · weight
 * @dweight: (nullable): (Nout,Nin), accumulates doutᵀ · inp (summed over all rows)
 * @dbias: (nullable): (Nout), accumulates the column sums of dout
 * @dout: (…,Nout)
 * @inp: (…,Nin): needed only for @dweight (may be NULL otherwise)
 * @weight: (Nout,Nin): needed only for @dinp (may be NULL otherwise)
 *
 * Mirrors dn_ref_linear_backward.
 * Returns: DN_OK or DN_ERROR_SHAPE.
 */
DnStatus dn_linear_backward (DnTensor *dinp,          // (…,Nin) or NULL
                             DnTensor *dweight,       // (Nout,Nin) or NULL
                             DnTensor *dbias,         // (Nout) or NULL
                             const DnTensor *dout,    // (…,Nout)
                             const DnTensor *inp,     // (…,Nin)
                             const DnTensor *weight); // (Nout,Nin)

/* Conv2d -------------------------------------------------------------------------------------------- */

/* Geometry of a 2-D convolution. Zero fields take the defaults, so `&(DnConv2dParams){ .pad_h = 3,
 * .pad_w = 3, .groups = 40 }` is a 7×7 depthwise conv of 40 channels; a NULL pointer means all defaults.
 * The kernel size comes from the weight's shape. No dilation. */
typedef struct
{
  int stride_h, stride_w; /* default (0) 1 */
  int pad_h, pad_w;       /* zero padding on each side, default 0 */
  int groups;             /* default (0) 1; Cin and Cout must be multiples; groups = Cin = Cout is depthwise */
} DnConv2dParams;

/**
 * dn_conv2d_out_size:
 * @in: input size (H or W)
 * @k: kernel size
 * @stride: stride (≥ 1)
 * @pad: padding (≥ 0)
 *
 * Returns: floor((in + 2·pad − k) / stride) + 1 as PyTorch computes it, or 0 when the padded input is
 * smaller than the kernel.
 */
int64_t dn_conv2d_out_size (int64_t in, int64_t k, int64_t stride, int64_t pad);

/**
 * dn_conv2d_forward:
 * @out: (N,Cout,Ho,Wo), Ho = dn_conv2d_out_size (H, KH, stride_h, pad_h), likewise Wo; overwritten
 * @inp: (N,Cin,H,W)
 * @weight: (Cout,Cin/groups,KH,KW)
 * @bias: (nullable): (Cout)
 * @p: (nullable): strides, padding, groups (NULL: stride 1, no padding, 1 group)
 *
 * PyTorch F.conv2d (cross-correlation, zero padding). Rows/columns of the input that no window reaches
 * (e.g. the last one of 93 with k4 s4) are ignored. CPU: im2col + cblas_sgemm over batch chunks (no
 * im2col for 1×1/s1/p0), a direct padded-plane kernel for depthwise; Vulkan: an implicit-GEMM tiled
 * shader (shaders/conv/conv2d_igemm.comp), a shared-memory direct shader for depthwise.
 * Mirrors dn_ref_conv2d_forward.
 *
 * Returns: DN_OK, DN_ERROR_SHAPE, or DN_ERROR_INVALID_ARGUMENT for a negative stride/padding/group count.
 */
DnStatus dn_conv2d_forward (DnTensor *out,          // (N,Cout,Ho,Wo)
                            const DnTensor *inp,    // (N,Cin,H,W)
                            const DnTensor *weight, // (Cout,Cin/groups,KH,KW)
                            const DnTensor *bias,   // (Cout) or NULL
                            const DnConv2dParams *p);

/**
 * dn_conv2d_backward:
 * @dinp: (nullable): (N,Cin,H,W), accumulates the gradient of the input
 * @dweight: (nullable): (Cout,Cin/groups,KH,KW), accumulates the gradient of the weight
 * @dbias: (nullable): (Cout), accumulates the sums of dout over N, Ho, Wo
 * @dout: (N,Cout,Ho,Wo)
 * @inp: (N,Cin,H,W): needed only for @dweight (may be NULL otherwise, then @dinp gives the shape)
 * @weight: (Cout,Cin/groups,KH,KW): always needed (it gives the kernel size)
 * @p: (nullable): as given to dn_conv2d_forward()
 *
 * Mirrors dn_ref_conv2d_backward.
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT.
 */
DnStatus dn_conv2d_backward (DnTensor *dinp,          // (N,Cin,H,W) or NULL
                             DnTensor *dweight,       // (Cout,Cin/groups,KH,KW) or NULL
                             DnTensor *dbias,         // (Cout) or NULL
                             const DnTensor *dout,    // (N,Cout,Ho,Wo)
                             const DnTensor *inp,     // (N,Cin,H,W)
                             const DnTensor *weight,  // (Cout,Cin/groups,KH,KW)
                             const DnConv2dParams *p);

/* Bias add over channels ---------------------------------------------------------------------------- */

/**
 * dn_bias_add_forward:
 * @out: (N,C,…): overwritten with inp + bias[c] broadcast over N and the trailing dims; may be @inp
 *   itself (in place)
 * @inp: (N,C,…): at least 2 dims; the channel axis is 1
 * @bias: (C)
 *
 * Mirrors dn_ref_bias_add_forward.
 * Returns: DN_OK or DN_ERROR_SHAPE.
 */
DnStatus dn_bias_add_forward (DnTensor *out,        // (N,C,…)
                              const DnTensor *inp,  // (N,C,…)
                              const DnTensor *bias); // (C)

/**
 * dn_bias_add_backward:
 * @dinp: (nullable): (N,C,…), accumulates dout
 * @dbias: (nullable): (C), accumulates the sums of dout over every axis but 1
 * @dout: (N,C,…)
 *
 * Mirrors dn_ref_bias_add_backward.
 * Returns: DN_OK or DN_ERROR_SHAPE.
 */
DnStatus dn_bias_add_backward (DnTensor *dinp,        // (N,C,…) or NULL
                               DnTensor *dbias,       // (C) or NULL
                               const DnTensor *dout); // (N,C,…)

/* Max pooling --------------------------------------------------------------------------------------- */

/* Geometry of a 2-D max pool (PyTorch nn.MaxPool2d with dilation 1, ceil_mode False). Padding counts as
 * −inf and must be at most half the kernel (as PyTorch requires). ResNet: kernel 3, stride 2, pad 1. */
typedef struct
{
  int kernel_h, kernel_w; /* ≥ 1 */
  int stride_h, stride_w; /* default (0): the kernel size, as in PyTorch */
  int pad_h, pad_w;       /* ≤ kernel/2 */
} DnPool2dParams;

/**
 * dn_maxpool2d_forward:
 * @out: (N,C,Ho,Wo), Ho = floor((H + 2·pad_h − kernel_h) / stride_h) + 1; overwritten
 * @argmax: (nullable): (N,C,Ho,Wo): overwritten with the index h·W + w, inside its (H,W) plane, of the
 *   input element each output took (stored as float; exact since H·W must be < 2^24). The backward needs it.
 * @inp: (N,C,H,W)
 * @p: the pool geometry
 *
 * Ties go to the FIRST maximal element in row-major window order; a NaN wins over any number (as in
 * PyTorch). Mirrors dn_ref_maxpool2d_forward.
 *
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT (bad geometry).
 */
DnStatus dn_maxpool2d_forward (DnTensor *out,       // (N,C,Ho,Wo)
                               DnTensor *argmax,    // (N,C,Ho,Wo) or NULL
                               const DnTensor *inp, // (N,C,H,W)
                               const DnPool2dParams *p);

/**
 * dn_maxpool2d_backward:
 * @dinp: (N,C,H,W): accumulates each output's gradient at the input element its @argmax names
 * @dout: (N,C,Ho,Wo)
 * @argmax: (N,C,Ho,Wo): from dn_maxpool2d_forward()
 * @p: as given to the forward
 *
 * Mirrors dn_ref_maxpool2d_backward. Deterministic on both backends (the shader gathers; no atomics).
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT.
 */
DnStatus dn_maxpool2d_backward (DnTensor *dinp,         // (N,C,H,W)
                                const DnTensor *dout,   // (N,C,Ho,Wo)
                                const DnTensor *argmax, // (N,C,Ho,Wo)
                                const DnPool2dParams *p);

/* Reductions ---------------------------------------------------------------------------------------- */

/* The @axis of a reduction: an axis in [−ndim, ndim) (negative counts from the end, so −1 is the LAST
 * axis, as in PyTorch), or DN_AXIS_ALL to reduce every element to one value. */
#define DN_AXIS_ALL (-1000)

/**
 * dn_reduce_sum_forward:
 * @out: the reduced shape, overwritten. For an axis: either @inp's shape with that dim set to 1
 *   (keepdim) or with that dim removed (for a 1-D @inp: any shape of 1 element). For DN_AXIS_ALL: any
 *   shape of 1 element.
 * @inp: (any), at least one dim
 * @axis: the axis to sum over, or DN_AXIS_ALL
 *
 * Accurate summation: float64 accumulators on the CPU, per-thread Kahan sums combined by a compensated
 * tree in shared memory on Vulkan, so the error stays near float32 rounding of the result even for
 * 1e5–1e6 terms. A reduced length of 0 gives 0 (mean: NaN, as PyTorch). Mirrors dn_ref_reduce_sum_forward.
 *
 * Returns: DN_OK, DN_ERROR_SHAPE, or DN_ERROR_INVALID_ARGUMENT for an axis out of range.
 */
DnStatus dn_reduce_sum_forward (DnTensor *out,       // reduced shape
                                const DnTensor *inp, // (any)
                                int axis);

/**
 * dn_reduce_sum_backward:
 * @dinp: (any): accumulates dout broadcast along @axis (or everywhere, for DN_AXIS_ALL)
 * @dout: the reduced shape (see dn_reduce_sum_forward())
 * @axis: as given to the forward
 *
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT.
 */
DnStatus dn_reduce_sum_backward (DnTensor *dinp,       // (any)
                                 const DnTensor *dout, // reduced shape
                                 int axis);

/**
 * dn_reduce_mean_forward:
 * @out, @inp, @axis: as for dn_reduce_sum_forward(); the sum is divided by the reduced length
 *
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT.
 */
DnStatus dn_reduce_mean_forward (DnTensor *out,       // reduced shape
                                 const DnTensor *inp, // (any)
                                 int axis);

/**
 * dn_reduce_mean_backward:
 * @dinp: (any): accumulates dout / length broadcast along @axis
 * @dout: the reduced shape
 * @axis: as given to the forward
 *
 * Returns: DN_OK, DN_ERROR_SHAPE or DN_ERROR_INVALID_ARGUMENT.
 */
DnStatus dn_reduce_mean_backward (DnTensor *dinp,       // (any)
                                  const DnTensor *dout, // reduced shape
                                  int axis);
