#version 450
// batchnorm_eval_fwd: out = (x - running_mean[c]) / sqrt(running_var[c] + eps) · w[c] + b[c] over (N,C,S),
// one element per invocation. Mirrors dn_batchnorm_eval_forward (compute/ops/norm/dn-batchnorm.c).
#define DN_PARAMS uint n; uint C; uint S; uint flags; float eps;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, inp)
DN_BUF_RO(1, weight)
DN_BUF_RO(2, bias)
DN_BUF_RO(3, rmean)
DN_BUF_RO(4, rvar)
DN_BUF_WO(5, outp)
void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  uint c = (i / pc.S) % pc.C;
  float r = 1.0 / sqrt(rvar[pc.off[4] + c] + pc.eps);
  float y = (inp[pc.off[0] + i] - rmean[pc.off[3] + c]) * r;
  if ((pc.flags & 1u) != 0u)
    y *= weight[pc.off[1] + c];
  if ((pc.flags & 2u) != 0u)
    y += bias[pc.off[2] + c];
  outp[pc.off[5] + i] = y;
}
