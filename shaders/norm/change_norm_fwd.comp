#version 450
// change_norm_fwd: norm[n] = ||x[n,:]||_2, out = x·target/(norm + eps), one sample per norm_reduce
// position. Mirrors dn_change_norm_forward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint N; uint M; uint L; uint lane_fast; float target; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, x)
DN_BUF_WO(1, outp)
DN_BUF_WO(2, nrm)
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
  float r = sqrt(nr_sum(vec4(acc, 0, 0, 0)).x);
  if (!valid)
    return;
  float k = pc.target / (r + pc.eps);
  for (uint i = lane; i < pc.M; i += pc.L)
    outp[pc.off[1] + n * pc.M + i] = x[pc.off[0] + n * pc.M + i] * k;
  if (lane == 0u)
    nrm[pc.off[2] + n] = r;
}
