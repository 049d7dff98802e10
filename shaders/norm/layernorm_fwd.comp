#version 450
// layernorm_fwd: LayerNorm over C of the layout (outer, C, inner) — channels-last is inner = 1,
// channels-first (N,C,HW) is outer = N, inner = HW. One position (o, s) per norm_reduce position; two-pass
// mean/variance with tree reductions. Mirrors dn_layernorm_forward (compute/ops/norm/dn-layernorm.c).
#define DN_PARAMS uint outer; uint C; uint inner; uint L; uint lane_fast; uint flags; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, inp)
DN_BUF_RO(1, weight)
DN_BUF_RO(2, bias)
DN_BUF_WO(3, outp)
DN_BUF_WO(4, mean)
DN_BUF_WO(5, rstd)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint p = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = p < pc.outer * pc.inner;
  uint o = valid ? p / pc.inner : 0u, s = valid ? p % pc.inner : 0u;
  uint base = o * pc.C * pc.inner + s;
  // pass 1: mean
  float acc = 0.0;
  if (valid)
    for (uint c = lane; c < pc.C; c += pc.L)
      acc += inp[pc.off[0] + base + c * pc.inner];
  float m = nr_sum(vec4(acc, 0, 0, 0)).x / float(pc.C);
  // pass 2: biased variance around the mean
  acc = 0.0;
  if (valid)
    for (uint c = lane; c < pc.C; c += pc.L)
      {
        float d = inp[pc.off[0] + base + c * pc.inner] - m;
        acc += d * d;
      }
  float var = nr_sum(vec4(acc, 0, 0, 0)).x / float(pc.C);
  float r = 1.0 / sqrt(var + pc.eps);
  if (!valid)
    return;
  // pass 3: normalise, scale, shift
  for (uint c = lane; c < pc.C; c += pc.L)
    {
      uint i = base + c * pc.inner;
      float y = (inp[pc.off[0] + i] - m) * r;
      if ((pc.flags & 1u) != 0u)
        y *= weight[pc.off[1] + c];
      if ((pc.flags & 2u) != 0u)
        y += bias[pc.off[2] + c];
      outp[pc.off[3] + i] = y;
    }
  if ((pc.flags & 4u) != 0u && lane == 0u)
    {
      mean[pc.off[4] + p] = m;
      rstd[pc.off[5] + p] = r;
    }
}
