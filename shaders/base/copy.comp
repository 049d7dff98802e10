#version 450
// copy: y[i] = x[i]. Mirrors dn_tensor_copy (compute/ops/base/dn-base.c).
#define DN_PARAMS uint n;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x)
DN_BUF_WO(1, y)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    y[pc.off[1] + i] = x[pc.off[0] + i];
}
