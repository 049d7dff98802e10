#version 450
// grn_nx: nx[n,c] = gx[n,c] / (mean_c gx[n,:] + eps): one n per norm_reduce position, lanes over c.
// Mirrors dn_grn_forward (compute/ops/norm/dn-grn.c).
#define DN_PARAMS uint N; uint C; uint L; uint lane_fast; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, gx)
DN_BUF_WO(1, nx)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint n = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = n < pc.N;
  float acc = 0.0;
  if (valid)
    for (uint c = lane; c < pc.C; c += pc.L)
      acc += gx[pc.off[0] + n * pc.C + c];
  float m = nr_sum(vec4(acc, 0, 0, 0)).x / float(pc.C);
  if (!valid)
    return;
  for (uint c = lane; c < pc.C; c += pc.L)
    nx[pc.off[1] + n * pc.C + c] = gx[pc.off[0] + n * pc.C + c] / (m + pc.eps);
}
