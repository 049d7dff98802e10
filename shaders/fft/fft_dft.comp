#version 450
// fft_dft: a direct DFT along one axis of interleaved complex data, for any length n (the Vulkan FFT path
// for lengths VkFFT cannot do exactly, e.g. 93 = 3·31 or 68 = 4·17). Mirrors vk_dft_axis in
// compute/ops/fft/dn-fft.c.
//
//   y[k] = (acc ? y[k] : 0) + s · sum_j x[j] · e^{sign·2πi·jk/n}
//
// Line l (of n_lines) starts at complex index (l / inner)·outer_stride + (l % inner)·inner_stride and
// steps by `stride`. Workgroup (gx, line): invocation t computes output k = gx·64 + t. The twiddle
// exponent m = jk mod n is kept exactly as an integer (it advances by k per input), and e^{2πi m/n} is
// evaluated from it with an exact quadrant reduction (about 1 ulp): no table, no argument-reduction
// error however large jk gets.
#define DN_PARAMS uint n; uint stride; uint inner; uint outer_stride; uint inner_stride; uint n_lines; float sign; float s; uint acc;
#include "common.glsl"
#define T 64
layout(local_size_x = T) in;
DN_BUF_RO(0, x)
DN_BUF_RW(1, y)

// e^{2πi m/n} for integers m < n < 2^28: the nearest quadrant q from integer arithmetic, then Cephes'
// sinf/cosf minimax polynomials on the remaining angle 2πm/n − qπ/2 ∈ [−π/4, π/4].
vec2 twiddle(uint m, uint n)
{
  uint m8 = 8u * m;
  uint q = (m8 / n + 1u) / 2u; // nearest quadrant, 0..4
  precise float f = float(int(m8) - int(2u * q * n)) / float(n); // exact integer, one rounding: in [−1, 1]
  precise float r = f * 0.785398163397448310f;
  precise float z = r * r;
  precise float sn = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
  precise float cs = 1.0f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
  q &= 3u;
  if (q == 0u)
    return vec2(cs, sn);
  if (q == 1u)
    return vec2(-sn, cs);
  if (q == 2u)
    return vec2(-cs, -sn);
  return vec2(sn, -cs);
}

void main()
{
  uint line = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
  uint k = gl_WorkGroupID.x * T + gl_LocalInvocationID.x;
  if (line >= pc.n_lines || k >= pc.n)
    return;
  uint base = (line / pc.inner) * pc.outer_stride + (line % pc.inner) * pc.inner_stride;
  vec2 acc = vec2(0.0);
  uint m = 0u; // (j·k) mod n
  for (uint j = 0u; j < pc.n; j++)
    {
      uint e = pc.off[0] + 2u * (base + j * pc.stride);
      vec2 v = vec2(x[e], x[e + 1u]);
      vec2 w = twiddle(m, pc.n);
      w.y *= pc.sign;
      acc += vec2(v.x * w.x - v.y * w.y, v.x * w.y + v.y * w.x);
      m += k;
      if (m >= pc.n)
        m -= pc.n;
    }
  uint e = pc.off[1] + 2u * (base + k * pc.stride);
  vec2 r = pc.s * acc;
  if (pc.acc != 0u)
    r += vec2(y[e], y[e + 1u]);
  y[e] = r.x;
  y[e + 1u] = r.y;
}
