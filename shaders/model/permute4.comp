#version 450
// permute4: y[o0,o1,o2,o3] (+)= x[Σ o_i · s_i] with s_i the input stride of output dim i.
// Mirrors dn_permute4_forward/backward (compute/ops/model/dn-model.c).
#define DN_PARAMS uint n; uint d1; uint d2; uint d3; uint s0; uint s1; uint s2; uint s3; uint accumulate;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x)
DN_BUF_RW(1, y)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  uint o3 = i % pc.d3, r = i / pc.d3;
  uint o2 = r % pc.d2;
  r /= pc.d2;
  uint o1 = r % pc.d1, o0 = r / pc.d1;
  float v = x[pc.off[0] + o0 * pc.s0 + o1 * pc.s1 + o2 * pc.s2 + o3 * pc.s3];
  if (pc.accumulate != 0)
    v += y[pc.off[1] + i];
  y[pc.off[1] + i] = v;
}
