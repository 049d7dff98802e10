#version 450
// batchnorm_train_fwd: per channel c of (N,C,S): batch mean and biased variance (two passes, tree
// reductions), out = (x - mean)·rstd·w + b, caches mean/rstd, and updates the running stats with the
// unbiased variance. One channel per norm_reduce position, lanes over j = n·S + s.
// Mirrors dn_batchnorm_train_forward (compute/ops/norm/dn-batchnorm.c).
#define DN_PARAMS uint N; uint C; uint S; uint L; uint lane_fast; uint flags; float momentum; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, inp)
DN_BUF_RO(1, weight)
DN_BUF_RO(2, bias)
DN_BUF_WO(3, outp)
DN_BUF_WO(4, mean)
DN_BUF_WO(5, rstd)
DN_BUF_RW(6, rmean)
DN_BUF_RW(7, rvar)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint c = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = c < pc.C;
  uint n = pc.N * pc.S;
  float acc = 0.0;
  if (valid)
    for (uint j = lane; j < n; j += pc.L)
      {
        uint b = j / pc.S;
        acc += inp[pc.off[0] + (b * pc.C + c) * pc.S + (j - b * pc.S)];
      }
  float m = nr_sum(vec4(acc, 0, 0, 0)).x / float(n);
  acc = 0.0;
  if (valid)
    for (uint j = lane; j < n; j += pc.L)
      {
        uint b = j / pc.S;
        float d = inp[pc.off[0] + (b * pc.C + c) * pc.S + (j - b * pc.S)] - m;
        acc += d * d;
      }
  float ss = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (!valid)
    return;
  float r = 1.0 / sqrt(ss / float(n) + pc.eps);
  float w = (pc.flags & 1u) != 0u ? weight[pc.off[1] + c] : 1.0;
  float bb = (pc.flags & 2u) != 0u ? bias[pc.off[2] + c] : 0.0;
  for (uint j = lane; j < n; j += pc.L)
    {
      uint b = j / pc.S;
      uint i = (b * pc.C + c) * pc.S + (j - b * pc.S);
      outp[pc.off[3] + i] = (inp[pc.off[0] + i] - m) * r * w + bb;
    }
  if (lane != 0u)
    return;
  mean[pc.off[4] + c] = m;
  rstd[pc.off[5] + c] = r;
  if ((pc.flags & 4u) != 0u)
    {
      rmean[pc.off[6] + c] = (1.0 - pc.momentum) * rmean[pc.off[6] + c] + pc.momentum * m;
      rvar[pc.off[7] + c] = (1.0 - pc.momentum) * rvar[pc.off[7] + c] + pc.momentum * (ss / float(n - 1u));
    }
}
