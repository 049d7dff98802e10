#version 450
// fill: y[i] = value. Mirrors dn_tensor_fill (compute/ops/base/dn-base.c).
#define DN_PARAMS uint n; float value;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_WO(0, y)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    y[pc.off[0] + i] = pc.value;
}
