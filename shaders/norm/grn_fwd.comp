#version 450
// grn_fwd: out = gamma[c]·(h·nx[n,c]) + beta[c] + h over NHWC (N, HW, C), one element per invocation.
// Mirrors dn_grn_forward (compute/ops/norm/dn-grn.c).
#define DN_PARAMS uint total; uint HW; uint C;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, h)
DN_BUF_RO(1, nx)
DN_BUF_RO(2, gamma)
DN_BUF_RO(3, beta)
DN_BUF_WO(4, outp)
void main()
{
  uint i = dn_gid();
  if (i >= pc.total)
    return;
  uint c = i % pc.C, n = i / (pc.HW * pc.C);
  float x = h[pc.off[0] + i];
  outp[pc.off[4] + i] = gamma[pc.off[2] + c] * (x * nx[pc.off[1] + n * pc.C + c]) + beta[pc.off[3] + c] + x;
}
