#version 450
// minmax_norm_bwd: y = (x - lo)/den, den = hi - lo + eps. With S1 = sum(g), S2 = sum(g·(x - lo)) and the
// tie counts n_lo = #(x == lo), n_hi = #(x == hi):
//   dlo = (S2 - S1·den)/den², dhi = -S2/den²
//   dinp += g/den + [x == lo]·dlo/n_lo + [x == hi]·dhi/n_hi   (ties split evenly, like amin/amax)
// nothing where den == 0 (a constant sample with eps = 0, output defined as 0); for a constant sample with
// eps > 0 the same maths in a cancellation-free form. One sample per position.
// Mirrors dn_minmax_norm_backward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint N; uint M; uint L; uint lane_fast; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, x)
DN_BUF_RO(2, stats)
DN_BUF_RW(3, dinp)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint n = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = n < pc.N;
  float lo = valid ? stats[pc.off[2] + 2u * n] : 0.0;
  float hi = valid ? stats[pc.off[2] + 2u * n + 1u] : 0.0;
  vec4 acc = vec4(0.0);
  if (valid)
    for (uint i = lane; i < pc.M; i += pc.L)
      {
        uint j = n * pc.M + i;
        float g = dout[pc.off[0] + j], v = x[pc.off[1] + j];
        acc += vec4(g, g * (v - lo), v == lo ? 1.0 : 0.0, v == hi ? 1.0 : 0.0);
      }
  vec4 t = nr_sum(acc);
  float den = hi - lo + pc.eps;
  if (!valid || den == 0.0)
    return;
  if (lo == hi) // constant sample (eps > 0): every element is both min and max, dx = (g - mean g)/den
    {
      float mg = t.x / float(pc.M);
      for (uint i = lane; i < pc.M; i += pc.L)
        dinp[pc.off[3] + n * pc.M + i] += (dout[pc.off[0] + n * pc.M + i] - mg) / den;
      return;
    }
  float dlo = (t.y - t.x * den) / (den * den), dhi = -t.y / (den * den);
  float klo = t.z > 0.0 ? dlo / t.z : 0.0, khi = t.w > 0.0 ? dhi / t.w : 0.0;
  for (uint i = lane; i < pc.M; i += pc.L)
    {
      uint j = n * pc.M + i;
      float v = x[pc.off[1] + j];
      dinp[pc.off[3] + j] += dout[pc.off[0] + j] / den + (v == lo ? klo : 0.0) + (v == hi ? khi : 0.0);
    }
}
