#version 450
// grn_norm: gx[n,c] = ||h[n,:,:,c]||_2 for NHWC h viewed as (N, HW, C): one (n,c) per norm_reduce
// position, lanes over hw. Mirrors dn_grn_forward (compute/ops/norm/dn-grn.c).
#define DN_PARAMS uint N; uint HW; uint C; uint L; uint lane_fast;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, h)
DN_BUF_WO(1, gx)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint p = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = p < pc.N * pc.C;
  uint n = valid ? p / pc.C : 0u, c = valid ? p % pc.C : 0u;
  uint base = n * pc.HW * pc.C + c;
  float acc = 0.0;
  if (valid)
    for (uint s = lane; s < pc.HW; s += pc.L)
      {
        float x = h[pc.off[0] + base + s * pc.C];
        acc += x * x;
      }
  float ss = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (valid && lane == 0u)
    gx[pc.off[1] + p] = sqrt(ss);
}
