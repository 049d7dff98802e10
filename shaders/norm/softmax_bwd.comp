#version 450
// softmax_bwd: dinp += y·(g - sum(g·y)) over rows of length L (one row per norm_reduce position).
// Mirrors dn_softmax_backward (compute/ops/norm/dn-softmax.c).
// With ATTN (attention_softmax_bwd): binding 2 holds g = dP on entry and is overwritten in place with
// scale·y·(g - sum(g·y)), the gradient of the pre-softmax scores (dn_attention_backward).
#define DN_PARAMS uint rows; uint L; uint lanes; uint lane_fast; float scale;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, g)
DN_BUF_RO(1, y)
DN_BUF_RW(2, dinp)
#ifdef ATTN
#define G(i) dinp[pc.off[2] + (i)]
#else
#define G(i) g[pc.off[0] + (i)]
#endif
void main()
{
  nr_init(pc.lanes, pc.lane_fast);
  uint r = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = r < pc.rows;
  uint base = r * pc.L;
  float acc = 0.0;
  if (valid)
    for (uint j = lane; j < pc.L; j += pc.lanes)
      acc += G(base + j) * y[pc.off[1] + base + j];
  float s = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (!valid)
    return;
  for (uint j = lane; j < pc.L; j += pc.lanes)
    {
      uint i = base + j;
#ifdef ATTN
      dinp[pc.off[2] + i] = pc.scale * y[pc.off[1] + i] * (G(i) - s);
#else
      dinp[pc.off[2] + i] += y[pc.off[1] + i] * (G(i) - s);
#endif
    }
}
