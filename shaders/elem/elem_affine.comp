#version 450
// AXPY == 0: y = scale·x + shift (dn_affine_forward); AXPY == 1: y += scale·x (dn_axpy,
// dn_affine_backward). Mirrors compute/ops/elem/dn-arith.c.
#define DN_PARAMS uint n; float scale; float shift;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, x)
#if AXPY
DN_BUF_RW(1, y)
#else
DN_BUF_WO(1, y)
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
#if AXPY
  y[pc.off[1] + i] += pc.scale * x[pc.off[0] + i];
#else
  y[pc.off[1] + i] = pc.scale * x[pc.off[0] + i] + pc.shift;
#endif
}
