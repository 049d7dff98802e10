#version 450
// fft_scale: y[i] = (acc ? y[i] : 0) + s·x[i]. The first and last pass of a Vulkan FFT call (copy into the
// plan's work tensor; write or accumulate the result with the norm's scale). Mirrors vk_scale in
// compute/ops/fft/dn-fft.c.
#define DN_PARAMS uint n; float s; uint acc;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x)
DN_BUF_RW(1, y)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  float v = pc.s * x[pc.off[0] + i];
  if (pc.acc != 0u)
    v += y[pc.off[1] + i];
  y[pc.off[1] + i] = v;
}
