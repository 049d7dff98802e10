#version 450
// check_finite: flag[0] = 1 if any x[i] is NaN or Inf (flag must be 0 before). Mirrors
// dn_tensor_check_finite (compute/ops/base/dn-base.c). Racing writers all store 1.
#define DN_PARAMS uint n;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x)
DN_BUF_WO(1, flag)
void main()
{
  uint i = dn_gid();
  if (i < pc.n)
    {
      float v = x[pc.off[0] + i];
      if (isnan(v) || isinf(v))
        flag[pc.off[1]] = 1.0;
    }
}
