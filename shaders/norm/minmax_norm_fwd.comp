#version 450
// minmax_norm_fwd: lo = min, hi = max of sample n (NaN-propagating tree), out = (x - lo)/(hi - lo + eps),
// or 0 where hi - lo + eps == 0; stats[n] = (lo, hi). One sample per norm_reduce position.
// Mirrors dn_minmax_norm_forward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint N; uint M; uint L; uint lane_fast; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, x)
DN_BUF_WO(1, outp)
DN_BUF_WO(2, stats)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint n = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = n < pc.N;
  float ninf = uintBitsToFloat(0xff800000u);
  vec4 acc = vec4(ninf, ninf, 0, 0); // (max of -x, max of x)
  if (valid)
    for (uint i = lane; i < pc.M; i += pc.L)
      {
        float v = x[pc.off[0] + n * pc.M + i];
        acc = nr_max2(acc, vec4(-v, v, 0, 0));
      }
  vec4 t = nr_max(acc);
  if (!valid)
    return;
  float lo = -t.x, hi = t.y, den = hi - lo + pc.eps;
  for (uint i = lane; i < pc.M; i += pc.L)
    {
      uint j = n * pc.M + i;
      outp[pc.off[1] + j] = den != 0.0 ? (x[pc.off[0] + j] - lo) / den : 0.0;
    }
  if (lane == 0u)
    {
      stats[pc.off[2] + 2u * n] = lo;
      stats[pc.off[2] + 2u * n + 1u] = hi;
    }
}
