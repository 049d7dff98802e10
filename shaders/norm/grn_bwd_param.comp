#version 450
// grn_bwd_param: dgamma[c] += sum_{n,hw} dout·h·nx[n,c], dbeta[c] += sum_{n,hw} dout over NHWC (N, HW, C):
// one channel per norm_reduce position, lanes over j = n·HW + hw. Mirrors dn_grn_backward
// (compute/ops/norm/dn-grn.c).
#define DN_PARAMS uint N; uint HW; uint C; uint L; uint lane_fast; uint flags;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, h)
DN_BUF_RO(2, nx)
DN_BUF_RW(3, dgamma)
DN_BUF_RW(4, dbeta)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint c = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = c < pc.C;
  uint total = pc.N * pc.HW;
  vec2 acc = vec2(0.0);
  if (valid)
    for (uint j = lane; j < total; j += pc.L)
      {
        uint i = j * pc.C + c;
        float g = dout[pc.off[0] + i];
        acc += vec2(g * h[pc.off[1] + i] * nx[pc.off[2] + (j / pc.HW) * pc.C + c], g);
      }
  vec2 t = nr_sum(vec4(acc, 0, 0)).xy;
  if (!valid || lane != 0u)
    return;
  if ((pc.flags & 1u) != 0u)
    dgamma[pc.off[3] + c] += t.x;
  if ((pc.flags & 2u) != 0u)
    dbeta[pc.off[4] + c] += t.y;
}
