#version 450
// layernorm_bwd_inp: dinp += (w·dout - mean(w·dout) - xhat·mean(w·dout·xhat))·rstd over C of the layout
// (outer, C, inner), one position per norm_reduce position. Mirrors dn_layernorm_backward
// (compute/ops/norm/dn-layernorm.c) and llm.c layernorm_backward.
#define DN_PARAMS uint outer; uint C; uint inner; uint L; uint lane_fast; uint flags;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, inp)
DN_BUF_RO(2, weight)
DN_BUF_RO(3, mean)
DN_BUF_RO(4, rstd)
DN_BUF_RW(5, dinp)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint p = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = p < pc.outer * pc.inner;
  uint o = valid ? p / pc.inner : 0u, s = valid ? p % pc.inner : 0u;
  uint base = o * pc.C * pc.inner + s;
  float m = valid ? mean[pc.off[3] + p] : 0.0;
  float r = valid ? rstd[pc.off[4] + p] : 0.0;
  bool has_w = (pc.flags & 1u) != 0u;
  // pass 1: sum(dnorm), sum(dnorm·xhat)
  vec2 acc = vec2(0.0);
  if (valid)
    for (uint c = lane; c < pc.C; c += pc.L)
      {
        uint i = base + c * pc.inner;
        float dn = dout[pc.off[0] + i] * (has_w ? weight[pc.off[2] + c] : 1.0);
        float xh = (inp[pc.off[1] + i] - m) * r;
        acc += vec2(dn, dn * xh);
      }
  vec2 t = nr_sum(vec4(acc, 0, 0)).xy / float(pc.C);
  if (!valid)
    return;
  // pass 2: accumulate
  for (uint c = lane; c < pc.C; c += pc.L)
    {
      uint i = base + c * pc.inner;
      float dn = dout[pc.off[0] + i] * (has_w ? weight[pc.off[2] + c] : 1.0);
      float xh = (inp[pc.off[1] + i] - m) * r;
      dinp[pc.off[5] + i] += (dn - t.x - xh * t.y) * r;
    }
}
