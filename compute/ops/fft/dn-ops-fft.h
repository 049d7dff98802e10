/* dn-ops-fft.h: the fft op family (see compute/ops/fft/): batched 2-D complex FFTs with a plan, and
 * the small complex elementwise ops the Fourier-parameterised synthesis needs (twins.md §6.2:
 * image = Re(ifft2(M·e^{iφ})), init phase = angle(fft2(image))).
 *
 * Complex tensors are interleaved float32: shape (..., H, W, 2) with [..., 0] = real, [..., 1] = imaginary;
 * every leading dimension is batch.
 *
 * Gradients of complex values follow PyTorch: for a real loss L, the gradient of a complex z = x + iy is
 * stored as dL/dx + i·dL/dy (the real and imaginary parts are treated as two independent reals), which is
 * what z.grad holds in PyTorch. With that convention the backward of a linear map is its adjoint:
 *   y = s·F_d(x) (F_d the unnormalised DFT with sign d, s the norm's scale)  =>  dx += s·F_{-d}(dy),
 * e.g. for y = fft2(x): dx += H·W·ifft2(dy) = F_{+1}(dy); for y = ifft2(x): dx += fft2(dy) / (H·W).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>

#include "dn-device.h"

/* 2-D FFT ------------------------------------------------------------------------------------------ */

typedef enum
{
  DN_FFT_FORWARD = -1, /* X[k] = sum_n x[n] e^{-2πi kn/N} (FFTW_FORWARD, torch.fft.fft2) */
  DN_FFT_INVERSE = +1, /* x[n] = sum_k X[k] e^{+2πi kn/N} (times the norm's scale) */
} DnFftDirection;

/* Scaling, named as in numpy/torch ("norm" argument). N = H·W. */
typedef enum
{
  DN_FFT_NORM_BACKWARD = 0, /* forward ×1, inverse ×1/N: torch.fft.fft2 / ifft2 defaults */
  DN_FFT_NORM_ORTHO,        /* both ×1/sqrt(N) */
  DN_FFT_NORM_FORWARD,      /* forward ×1/N, inverse ×1 */
} DnFftNorm;

/* Flags for dn_fft_plan_new_full. */
enum
{
  DN_FFT_PLAN_DIRECT = 1 << 0,      /* Vulkan: never use VkFFT, always the engine's direct-DFT shaders */
  DN_FFT_PLAN_NO_SELFTEST = 1 << 1, /* Vulkan: skip the plan-time check of VkFFT against a direct DFT */
  DN_FFT_PLAN_ESTIMATE = 1 << 2,    /* CPU: FFTW_ESTIMATE planning (fast to plan) instead of FFTW_MEASURE */
};

typedef struct DnFftPlan DnFftPlan;

/**
 * dn_fft_plan_new:
 * @dev: the device the plan's tensors live on
 * @h, @w: the transform size (the last two dimensions before the complex pair)
 * @batch: how many H×W transforms one call does (the product of the leading dimensions)
 *
 * Plans batched 2-D complex FFTs of size H×W, both directions. Zero sizes make a plan whose calls are
 * no-ops.
 *
 * CPU: FFTW single precision; one FFTW plan per (direction, in-place, alignment) variant, made on first
 * use (planning is serialised by a global mutex, FFTW's planner is not thread-safe) and kept in the plan;
 * batch items run in parallel on the device's threads.
 *
 * Vulkan: VkFFT for every axis whose length has only prime factors ≤ 13 (VkFFT's radix kernels). VkFFT's
 * Rader/Bluestein paths for larger primes are never planned: on lavapipe they give wrong results (and
 * bind null buffers), so such axes (e.g. 93 = 3·31, 68 = 4·17) use the engine's own direct-DFT shader
 * instead, which is exact up to float32 rounding for any length. Unless DN_FFT_PLAN_NO_SELFTEST is given,
 * each VkFFT plan is checked at plan time against a float64 DFT on the host (this submits the device's
 * pending work); if the check fails the plan silently uses the direct shaders for every axis
 * (dn_fft_plan_uses_fallback() then says so). VkFFT compiles its kernels with glslang when a plan is made
 * (slow, ~seconds on first use); with DnDeviceOptions.cache_dir set the compiled kernels are cached there.
 * The plan owns one (batch,H,W,2) work tensor on the device. Free plans before their device.
 *
 * Returns: (transfer full) the plan, or NULL with *status set (dn_last_error() says why).
 */
DnFftPlan *dn_fft_plan_new (DnDevice *dev, int64_t h, int64_t w, int64_t batch, DnStatus *status);
/* The same, with DN_FFT_PLAN_* @flags. */
DnFftPlan *dn_fft_plan_new_full (DnDevice *dev, int64_t h, int64_t w, int64_t batch, unsigned flags,
                                 DnStatus *status);
void dn_fft_plan_free (DnFftPlan *plan);

/* Whether a Vulkan plan uses the engine's direct-DFT shader for at least one axis (a size VkFFT cannot do
 * exactly, DN_FFT_PLAN_DIRECT, or a failed self-test). Always false on the CPU backend. */
bool dn_fft_plan_uses_fallback (const DnFftPlan *plan);
/* A short description of how the plan runs, e.g. "fftw", "vkfft", "vkfft(W)+direct(H)", "direct". */
const char *dn_fft_plan_describe (const DnFftPlan *plan);

/* out = s·F_direction(inp) over the last two dimensions before the complex pair (s from @norm):
 * torch.fft.fft2 (DN_FFT_FORWARD) / torch.fft.ifft2 (DN_FFT_INVERSE) with the same norm. @out may be @inp
 * (in place) or overlap it; tensors may be views at any offset. Mirrors dn_ref_fft2_forward. */
DnStatus dn_fft2_forward (DnFftPlan *plan,
                          DnTensor *out,       // (..., H, W, 2), leading dims multiply to the plan's batch
                          const DnTensor *inp, // (..., H, W, 2), same shape as out
                          DnFftDirection direction, DnFftNorm norm);
/* Backward of dn_fft2_forward with the same @direction and @norm: dinp += s·F_{-direction}(dout) (the
 * adjoint; see the top of this file). Mirrors dn_ref_fft2_backward. */
DnStatus dn_fft2_backward (DnFftPlan *plan,
                           DnTensor *dinp,       // (..., H, W, 2), accumulated into
                           const DnTensor *dout, // (..., H, W, 2)
                           DnFftDirection direction, DnFftNorm norm);

/* Complex elementwise ops -------------------------------------------------------------------------- */
/* Each mirrors dn_ref_complex_<op>_forward/backward. The backward functions accumulate; gradient outputs
 * may be NULL when not wanted. (...) is any shape; the complex side has one more trailing dim of 2. */

/* out = mag·(cos φ + i sin φ) (torch.polar). */
DnStatus dn_complex_polar_forward (DnTensor *out,         // (..., 2)
                                   const DnTensor *mag,   // (...)
                                   const DnTensor *phase  // (...)
);
/* dmag += dre·cos φ + dim·sin φ; dphase += mag·(dim·cos φ − dre·sin φ). */
DnStatus dn_complex_polar_backward (DnTensor *dmag,        // (...) or NULL
                                    DnTensor *dphase,      // (...) or NULL
                                    const DnTensor *dout,  // (..., 2)
                                    const DnTensor *mag,   // (...)
                                    const DnTensor *phase  // (...)
);

/* out = Re(inp) (torch.real). */
DnStatus dn_complex_real_forward (DnTensor *out,       // (...)
                                  const DnTensor *inp  // (..., 2)
);
/* dinp.re += dout (dinp.im unchanged). */
DnStatus dn_complex_real_backward (DnTensor *dinp,      // (..., 2)
                                   const DnTensor *dout // (...)
);

/* out = inp + 0i (a real tensor as complex, e.g. before fft2 of an image). */
DnStatus dn_complex_from_real_forward (DnTensor *out,       // (..., 2)
                                       const DnTensor *inp  // (...)
);
/* dinp += dout.re. */
DnStatus dn_complex_from_real_backward (DnTensor *dinp,       // (...)
                                        const DnTensor *dout  // (..., 2)
);

/* out = atan2(im, re) in [−π, π] (torch.angle). */
DnStatus dn_complex_angle_forward (DnTensor *out,       // (...)
                                   const DnTensor *inp  // (..., 2)
);
/* dinp += dout·(−im, re)/(re² + im²), and 0 where inp = 0 (as torch). */
DnStatus dn_complex_angle_backward (DnTensor *dinp,       // (..., 2)
                                    const DnTensor *dout, // (...)
                                    const DnTensor *inp   // (..., 2)
);
