#version 450
// bcast_add: y[i] = (accumulate ? y[i] : x[i]) + scale · v[((i / d1) % m1) · k1 + i % d2] — a vector
// broadcast over the other axes. Mirrors bcast_add in compute/ops/conv/dn-reduce.c: bias add forward
// (d1 = spatial size, m1 = C) and backward of the reductions (d1 = L·inner, k1 = d2 = inner).
#define DN_PARAMS uint n; uint d1; uint m1; uint k1; uint d2; float scale; uint accumulate;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x) // not read when accumulating
DN_BUF_RO(1, v)
DN_BUF_RW(2, y)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  uint j = ((i / pc.d1) % pc.m1) * pc.k1 + i % pc.d2;
  float a = pc.accumulate != 0u ? y[pc.off[2] + i] : x[pc.off[0] + i];
  y[pc.off[2] + i] = a + pc.scale * v[pc.off[1] + j];
}
