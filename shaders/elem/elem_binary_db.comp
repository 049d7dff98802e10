#version 450
// Gradient of a broadcast b in out = a OP b (OP 1 add, 2 sub, 3 mul, 4 div): one workgroup per element
// j of b sums ∂out/∂b·dout over the count = n/nb positions i = (o·nb + j)·inner + k that use it
// (per-thread Kahan sums, then a shared-memory tree), and adds the sum to db[j].
// Mirrors compute/ops/elem/dn-arith.c (db_reduce_range) and dn_ref_binary_backward.
#define DN_PARAMS uint nb; uint inner; uint count;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, a)
DN_BUF_RO(1, b)
DN_BUF_RO(2, dy)
DN_BUF_RW(3, db)

shared float red[256];

void main()
{
  uint j = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (j >= pc.nb) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x;
#if OP == 4
  float bv = b[pc.off[1] + j];
  float nb2 = -1.0 / (bv * bv);
#endif
  precise float s = 0.0, c = 0.0;
  for (uint idx = t; idx < pc.count; idx += 256u)
    {
      uint o = idx / pc.inner, k = idx - o * pc.inner;
      uint i = (o * pc.nb + j) * pc.inner + k;
      float g = dy[pc.off[2] + i];
#if OP == 1
      float v = g;
#elif OP == 2
      float v = -g;
#elif OP == 3
      float v = g * a[pc.off[0] + i];
#elif OP == 4
      float v = g * a[pc.off[0] + i] * nb2;
#endif
      precise float yk = v - c;
      precise float tk = s + yk;
      c = (tk - s) - yk;
      s = tk;
    }
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  if (t == 0u)
    db[pc.off[3] + j] += red[0];
}
