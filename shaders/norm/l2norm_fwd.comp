#version 450
// l2norm_fwd: out[n] = ||x[n,:]||_2 over the M elements of sample n (one sample per norm_reduce position).
// Mirrors dn_l2norm_forward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint N; uint M; uint L; uint lane_fast;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, x)
DN_BUF_WO(1, outp)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint n = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = n < pc.N;
  float acc = 0.0;
  if (valid)
    for (uint i = lane; i < pc.M; i += pc.L)
      {
        float v = x[pc.off[0] + n * pc.M + i];
        acc += v * v;
      }
  float ss = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (valid && lane == 0u)
    outp[pc.off[1] + n] = sqrt(ss);
}
