/* dn-device-private.h: what op implementations (compute/ops) see of devices and buffers.
 *
 * An op file implements each op once for both backends:
 *
 *   DnStatus dn_relu_forward (DnTensor *out, const DnTensor *inp)   // out, inp: (any)
 *   {
 *     DN_CHECK_SAME_DEVICE ("relu_forward", out, inp);
 *     DN_CHECK_SAME_SHAPE ("relu_forward", out, inp);
 *     int64_t n = dn_tensor_numel (inp);
 *     if (n == 0) return DN_OK;
 *     if (dn_device_is_cpu (out->dev))
 *       { ... dn_cpu_parallel_for (out->dev, n, 1 << 14, kernel, &args); return DN_OK; }
 *     struct { uint32_t n; } pc = { (uint32_t) n };
 *     DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
 *     return dn_vk_dispatch_1d (out->dev, DN_SHADER_RELU_FORWARD, b, 2, &pc, sizeof pc, n);
 *   }
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-device.h"
#include "dn-shaders.h"

/* Binding of a tensor to a shader slot (slot = index in the bindings array). */
typedef enum
{
  DN_ACCESS_READ = 1,
  DN_ACCESS_WRITE = 2,
  DN_ACCESS_READ_WRITE = 3,
} DnAccess;

typedef struct
{
  const DnTensor *t;
  DnAccess access;
} DnBinding;

#define DN_READ(t) ((DnBinding){ (t), DN_ACCESS_READ })
#define DN_WRITE(t) ((DnBinding){ (t), DN_ACCESS_WRITE })
#define DN_READ_WRITE(t) ((DnBinding){ (t), DN_ACCESS_READ_WRITE })

#define DN_MAX_BINDINGS 8
#define DN_MAX_PARAMS_BYTES 96 /* push constants after the 8 offsets */

/* Records one compute dispatch on the Vulkan device: binds the tensors (each at its own element offset,
 * passed in pc.off[i]), copies @params (≤ 96 bytes) behind the offsets, inserts the barriers the
 * bindings' last accesses require, and dispatches gx×gy×gz workgroups. */
DnStatus dn_vk_dispatch (DnDevice *dev, DnShaderId shader, const DnBinding *bindings, int n_bindings,
                         const void *params, size_t params_size, uint32_t gx, uint32_t gy, uint32_t gz);

/* Same, for a 1-D grid of @n_threads invocations with the shader's local size @local (usually 256);
 * the shader reads its flat index with dn_gid() and must check it against its bound. */
DnStatus dn_vk_dispatch_1d (DnDevice *dev, DnShaderId shader, const DnBinding *bindings, int n_bindings,
                            const void *params, size_t params_size, int64_t n_threads);
DnStatus dn_vk_dispatch_1d_local (DnDevice *dev, DnShaderId shader, const DnBinding *bindings,
                                  int n_bindings, const void *params, size_t params_size,
                                  int64_t n_threads, uint32_t local);

/* CPU thread pool: calls fn (ctx, begin, end) over [0, n) in chunks of at least @grain items, on the
 * device's worker threads (the calling thread takes part). Returns when every chunk is done. */
typedef void (*DnRangeFn) (void *ctx, int64_t begin, int64_t end);
void dn_cpu_parallel_for (DnDevice *dev, int64_t n, int64_t grain, DnRangeFn fn, void *ctx);

/* Whether the CPU kernels that pick an AVX2+FMA compilation at run time may take it: the CPU has both,
 * and DN_CPU_NO_AVX2 is not set in the environment (tests set it to run the portable kernels). */
bool dn_cpu_have_avx2_fma (void);
/* The same for AVX-512 (F and VL, with AVX2+FMA): also off when DN_CPU_NO_AVX512 or DN_CPU_NO_AVX2 is set. */
bool dn_cpu_have_avx512 (void);

/* Row-major single-precision GEMM for CPU kernels: C = alpha·op(A)·op(B) + beta·C, split over the
 * device's threads (each piece a single-threaded OpenBLAS call; OpenBLAS's own threads are not used,
 * so they never compete with the pool). Call it from the calling thread, not from inside a range fn. */
void dn_cpu_sgemm (DnDevice *dev, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Shape and argument checks for op entry points: on failure they set the error (naming the op and the
 * shapes) and return from the calling function. */
DnStatus dn_check_same_device (const char *op, const DnTensor *a, const DnTensor *b);
DnStatus dn_check_same_shape (const char *op, const DnTensor *a, const DnTensor *b);
/* Checks t->ndim == ndim and, for each d, shape[d] == dims[d] unless dims[d] < 0 (wildcard). */
DnStatus dn_check_shape (const char *op, const char *name, const DnTensor *t, int ndim, const int64_t *dims);

#define DN_TRY(expr)                                                                                    \
  do                                                                                                   \
    {                                                                                                  \
      DnStatus dn_try_st_ = (expr);                                                                    \
      if (dn_try_st_ != DN_OK)                                                                         \
        return dn_try_st_;                                                                             \
    }                                                                                                  \
  while (0)
#define DN_CHECK_SAME_DEVICE(op, a, b) DN_TRY (dn_check_same_device ((op), (a), (b)))
#define DN_CHECK_SAME_SHAPE(op, a, b) DN_TRY (dn_check_same_shape ((op), (a), (b)))
#define DN_CHECK_SHAPE(op, name, t, ndim, ...)                                                          \
  DN_TRY (dn_check_shape ((op), (name), (t), (ndim), (const int64_t[]){ __VA_ARGS__ }))

/* Number of workgroups for n items at local size l. */
static inline uint32_t
dn_div_up (int64_t n, int64_t l)
{
  return (uint32_t) ((n + l - 1) / l);
}
