#version 450
// Colour recorrelation, matrix gradient: one workgroup per entry (ci,co) sums inp[n,ci,p]·dout[n,co,p]
// over n and the P pixels (per-thread Kahan sums, then a shared-memory tree) and adds it to dmat[ci,co].
// Mirrors compute/ops/elem/dn-color.c (dmat_range) and dn_ref_color_recorrelate_backward.
#define DN_PARAMS uint N; uint Ci; uint Co; uint P;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, inp)
DN_BUF_RO(1, dout)
DN_BUF_RW(2, dmat)

shared float red[256];

void main()
{
  uint e = gl_WorkGroupID.x; // ci * Co + co
  if (e >= pc.Ci * pc.Co) // uniform per workgroup
    return;
  uint ci = e / pc.Co, co = e - ci * pc.Co;
  uint t = gl_LocalInvocationID.x;
  uint count = pc.N * pc.P;
  precise float s = 0.0, c = 0.0;
  for (uint k = t; k < count; k += 256u)
    {
      uint n = k / pc.P, p = k - n * pc.P;
      float v = inp[pc.off[0] + (n * pc.Ci + ci) * pc.P + p] * dout[pc.off[1] + (n * pc.Co + co) * pc.P + p];
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
    dmat[pc.off[2] + e] += red[0];
}
