#version 450
// Colour recorrelation (twins.md §6.2) over (N,C,H,W) with P = H·W pixels, one invocation per element:
// forward:  out[n,co,p] = Σ_ci inp[n,ci,p]·mat[ci,co]             (i over N·Co·P)
// BACKWARD: dinp[n,ci,p] += Σ_co dout[n,co,p]·mat[ci,co]          (i over N·Ci·P)
// The matrix gradient is elem_color_dmat.comp. Mirrors compute/ops/elem/dn-color.c and
// dn_ref_color_recorrelate_forward/backward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint total; uint Ci; uint Co; uint P;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, src)  // inp (forward) or dout (backward)
DN_BUF_RO(1, mat)
#if BACKWARD
DN_BUF_RW(2, dst)
#else
DN_BUF_WO(2, dst)
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.total)
    return;
  uint p = i % pc.P, t = i / pc.P;
#if BACKWARD
  uint ci = t % pc.Ci, n = t / pc.Ci;
  float s = 0.0;
  for (uint co = 0u; co < pc.Co; co++)
    s += src[pc.off[0] + (n * pc.Co + co) * pc.P + p] * mat[pc.off[1] + ci * pc.Co + co];
  dst[pc.off[2] + i] += s;
#else
  uint co = t % pc.Co, n = t / pc.Co;
  float s = 0.0;
  for (uint ci = 0u; ci < pc.Ci; ci++)
    s += src[pc.off[0] + (n * pc.Ci + ci) * pc.P + p] * mat[pc.off[1] + ci * pc.Co + co];
  dst[pc.off[2] + i] = s;
#endif
}
