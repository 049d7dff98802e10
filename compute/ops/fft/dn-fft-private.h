/* dn-fft-private.h: what dn-fft.c sees of the VkFFT wrapper (dn-fft-vk.c, the only includer of vkFFT.h).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-device-private.h"

/* Which axes of a (batch,H,W,2) tensor a VkFFT application transforms. */
enum
{
  DN_FFT_VK_AXIS_W = 1,
  DN_FFT_VK_AXIS_H = 2,
};

typedef struct DnFftVk DnFftVk;

/* True when VkFFT transforms length @n with its radix kernels only (every prime factor ≤ 13), the case
 * that is exact on every device we know. */
bool dn_fft_vk_radix_size (int64_t n);

/* Creates a VkFFT application that transforms, in place, the axes in @axes of @work, a whole
 * (batch,H,W,2) tensor of a Vulkan device (offset 0), both directions, unnormalised. The application
 * stays bound to @work (VkFFT's descriptor sets never change after creation). Caches the compiled
 * kernels in the device's cache_dir when one is set. Call with the FFT planning mutex held. */
DnStatus dn_fft_vk_new (DnDevice *dev, DnTensor *work, int64_t batch, int64_t h, int64_t w, int axes,
                        DnFftVk **out);
/* Records the transform of the work tensor into the device's command buffer (direction -1 or +1). */
DnStatus dn_fft_vk_record (DnFftVk *f, int direction);
/* Call with the FFT planning mutex held. NULL is a no-op. */
void dn_fft_vk_free (DnFftVk *f);

/* The global lock around FFTW planning and VkFFT initialisation (glslang process state). */
void dn_fft_plan_lock (void);
void dn_fft_plan_unlock (void);
