#version 450
// l2norm_bwd: dinp += (out[n] > 0 ? dout[n]/out[n] : 0)·x, one element per invocation (the norm's
// gradient is 0 at a zero sample). Mirrors dn_l2norm_backward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint total; uint M;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, dout)
DN_BUF_RO(1, x)
DN_BUF_RO(2, nrm)
DN_BUF_RW(3, dinp)
void main()
{
  uint i = dn_gid();
  if (i >= pc.total)
    return;
  uint n = i / pc.M;
  float r = nrm[pc.off[2] + n];
  float k = r > 0.0 ? dout[pc.off[0] + n] / r : 0.0;
  dinp[pc.off[3] + i] += k * x[pc.off[1] + i];
}
