#version 450
// fft_complex: the complex elementwise ops of dn-ops-fft.h, one variant per -D define (see meson.build).
// Mirrors compute/ops/fft/dn-complex.c. n = number of complex elements; complex tensors are (re, im) pairs.
//   POLAR_FWD      out = mag·(cos φ, sin φ)                     bindings: mag, phase, out
//   POLAR_BWD      dmag += dre·cos φ + dim·sin φ; dphase += mag·(dim·cos φ − dre·sin φ)
//                                                               bindings: dout, mag, phase, dmag, dphase
//   REAL_FWD       out = re(inp)                                bindings: inp, out
//   REAL_BWD       dinp.re += dout                              bindings: dout, dinp
//   FROM_REAL_FWD  out = (inp, 0)                               bindings: inp, out
//   FROM_REAL_BWD  dinp += dout.re                              bindings: dout, dinp
//   ANGLE_FWD      out = atan2(im, re)                          bindings: inp, out
//   ANGLE_BWD      dinp += dout·(−im, re)/|z|² (0 at z = 0)     bindings: dout, inp, dinp
// sin/cos/atan are computed here rather than with GLSL's built-ins, whose Vulkan precision bounds
// (sin/cos: 2^-11 absolute; atan: 4096 ulp) are far looser than the ops' 1e-5 contract.
#define DN_PARAMS uint n; uint want_a; uint want_b;
#include "common.glsl"
layout(local_size_x = 256) in;

// (sin x, cos x), ~1 ulp for |x| up to ~8000: Cody–Waite reduction by π/2 with Cephes' 3-part constant,
// then Cephes' sinf/cosf minimax polynomials on [−π/4, π/4].
vec2 dn_sincos(float x)
{
  precise float q = roundEven(x * 0.636619772367581343f);
  precise float r = ((x - q * 1.5703125f) - q * 4.837512969970703125e-4f) - q * 7.54978995489188216e-8f;
  precise float z = r * r;
  precise float s = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
  precise float c = 1.0f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
  int quadrant = int(q) & 3;
  if (quadrant == 0)
    return vec2(s, c);
  if (quadrant == 1)
    return vec2(c, -s);
  if (quadrant == 2)
    return vec2(-s, -c);
  return vec2(-c, s);
}

bool dn_signbit(float v)
{
  return (floatBitsToUint(v) >> 31) != 0u;
}

// atan2(y, x) with C's special cases (signed zeros, infinities); Cephes' atanf polynomial after reducing
// min/max to [0, tan(π/8)].
float dn_atan2(float y, float x)
{
  if (isnan(x) || isnan(y))
    return x + y;
  float ax = abs(x), ay = abs(y);
  float mx = max(ax, ay), mn = min(ax, ay);
  precise float a;
  if (mx == 0.0)
    a = 0.0;
  else if (isinf(mx))
    a = isinf(mn) ? 0.785398163397448310f : 0.0;
  else
    {
      precise float t = mn / mx;
      precise float a0 = 0.0;
      if (t > 0.414213562373095049f)
        {
          a0 = 0.785398163397448310f;
          t = (t - 1.0) / (t + 1.0);
        }
      precise float z = t * t;
      a = a0 + ((((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) * z - 3.33329491539e-1f) * z * t + t);
    }
  if (ay > ax)
    a = 1.57079632679489662f - a;
  if (x < 0.0 || (x == 0.0 && dn_signbit(x)))
    a = 3.14159265358979324f - a;
  return dn_signbit(y) ? -a : a;
}

#if defined(POLAR_FWD)
DN_BUF_RO(0, mag)
DN_BUF_RO(1, phase)
DN_BUF_WO(2, out_)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  float m = mag[pc.off[0] + i];
  vec2 sc = dn_sincos(phase[pc.off[1] + i]);
  out_[pc.off[2] + 2u * i] = m * sc.y;
  out_[pc.off[2] + 2u * i + 1u] = m * sc.x;
}
#elif defined(POLAR_BWD)
DN_BUF_RO(0, dout)
DN_BUF_RO(1, mag)
DN_BUF_RO(2, phase)
DN_BUF_RW(3, dmag)
DN_BUF_RW(4, dphase)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  float gr = dout[pc.off[0] + 2u * i], gi = dout[pc.off[0] + 2u * i + 1u];
  vec2 sc = dn_sincos(phase[pc.off[2] + i]);
  if (pc.want_a != 0u)
    dmag[pc.off[3] + i] += gr * sc.y + gi * sc.x;
  if (pc.want_b != 0u)
    dphase[pc.off[4] + i] += mag[pc.off[1] + i] * (gi * sc.y - gr * sc.x);
}
#elif defined(REAL_FWD)
DN_BUF_RO(0, inp)
DN_BUF_WO(1, out_)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    out_[pc.off[1] + i] = inp[pc.off[0] + 2u * i];
}
#elif defined(REAL_BWD)
DN_BUF_RO(0, dout)
DN_BUF_RW(1, dinp)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    dinp[pc.off[1] + 2u * i] += dout[pc.off[0] + i];
}
#elif defined(FROM_REAL_FWD)
DN_BUF_RO(0, inp)
DN_BUF_WO(1, out_)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  out_[pc.off[1] + 2u * i] = inp[pc.off[0] + i];
  out_[pc.off[1] + 2u * i + 1u] = 0.0;
}
#elif defined(FROM_REAL_BWD)
DN_BUF_RO(0, dout)
DN_BUF_RW(1, dinp)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    dinp[pc.off[1] + i] += dout[pc.off[0] + 2u * i];
}
#elif defined(ANGLE_FWD)
DN_BUF_RO(0, inp)
DN_BUF_WO(1, out_)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    out_[pc.off[1] + i] = dn_atan2(inp[pc.off[0] + 2u * i + 1u], inp[pc.off[0] + 2u * i]);
}
#elif defined(ANGLE_BWD)
DN_BUF_RO(0, dout)
DN_BUF_RO(1, inp)
DN_BUF_RW(2, dinp)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  float re = inp[pc.off[1] + 2u * i], im = inp[pc.off[1] + 2u * i + 1u];
  float r2 = re * re + im * im;
  if (r2 == 0.0)
    return;
  float g = dout[pc.off[0] + i] / r2;
  dinp[pc.off[2] + 2u * i] += -im * g;
  dinp[pc.off[2] + 2u * i + 1u] += re * g;
}
#else
#error "fft_complex.comp: define one op"
#endif
