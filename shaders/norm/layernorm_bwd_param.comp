#version 450
// layernorm_bwd_param: dweight[c] += sum(dout·xhat), dbias[c] += sum(dout) over every (o, s) of the layout
// (outer, C, inner); one channel per norm_reduce position, the lanes run over j = o·inner + s.
// Mirrors dn_layernorm_backward (compute/ops/norm/dn-layernorm.c).
#define DN_PARAMS uint outer; uint C; uint inner; uint L; uint lane_fast; uint flags;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, inp)
DN_BUF_RO(2, mean)
DN_BUF_RO(3, rstd)
DN_BUF_RW(4, dweight)
DN_BUF_RW(5, dbias)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint c = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = c < pc.C;
  uint n = pc.outer * pc.inner;
  vec2 acc = vec2(0.0);
  if (valid)
    for (uint j = lane; j < n; j += pc.L)
      {
        uint o = j / pc.inner, s = j - o * pc.inner;
        uint i = (o * pc.C + c) * pc.inner + s;
        float g = dout[pc.off[0] + i];
        float xh = (inp[pc.off[1] + i] - mean[pc.off[2] + j]) * rstd[pc.off[3] + j];
        acc += vec2(g * xh, g);
      }
  vec2 t = nr_sum(vec4(acc, 0, 0)).xy;
  if (!valid || lane != 0u)
    return;
  if ((pc.flags & 1u) != 0u)
    dweight[pc.off[4] + c] += t.x;
  if ((pc.flags & 2u) != 0u)
    dbias[pc.off[5] + c] += t.y;
}
