#version 450
// batchnorm_bwd: per channel c of (N,C,S): sg = sum(dout), sgx = sum(dout·xhat) (tree reductions), then
//   train: dinp += w·rstd·(dout - sg/n - xhat·sgx/n)      (statistics from the batch: a = mean, b = rstd)
//   eval:  dinp += w·rstd·dout                            (a = running_mean, b = running_var)
// and dweight += sgx, dbias += sg. One channel per norm_reduce position.
// Mirrors dn_batchnorm_{train,eval}_backward (compute/ops/norm/dn-batchnorm.c).
#define DN_PARAMS uint N; uint C; uint S; uint L; uint lane_fast; uint flags; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, inp)
DN_BUF_RO(2, weight)
DN_BUF_RO(3, stat_a)
DN_BUF_RO(4, stat_b)
DN_BUF_RW(5, dinp)
DN_BUF_RW(6, dweight)
DN_BUF_RW(7, dbias)
const uint TRAIN = 1u, HAS_W = 2u, HAS_DINP = 4u, HAS_DW = 8u, HAS_DB = 16u;
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint c = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = c < pc.C;
  bool train = (pc.flags & TRAIN) != 0u;
  uint n = pc.N * pc.S;
  float m = valid ? stat_a[pc.off[3] + c] : 0.0;
  float r = 0.0;
  if (valid)
    r = train ? stat_b[pc.off[4] + c] : 1.0 / sqrt(stat_b[pc.off[4] + c] + pc.eps);
  vec2 t = vec2(0.0);
  if (train || (pc.flags & (HAS_DW | HAS_DB)) != 0u)
    {
      vec2 acc = vec2(0.0);
      if (valid)
        for (uint j = lane; j < n; j += pc.L)
          {
            uint b = j / pc.S;
            uint i = (b * pc.C + c) * pc.S + (j - b * pc.S);
            float g = dout[pc.off[0] + i];
            acc += vec2(g, g * ((inp[pc.off[1] + i] - m) * r));
          }
      t = nr_sum(vec4(acc, 0, 0)).xy;
    }
  if (!valid)
    return;
  if ((pc.flags & HAS_DINP) != 0u)
    {
      float w = (pc.flags & HAS_W) != 0u ? weight[pc.off[2] + c] : 1.0;
      float k = w * r;
      vec2 mt = t / float(n);
      for (uint j = lane; j < n; j += pc.L)
        {
          uint b = j / pc.S;
          uint i = (b * pc.C + c) * pc.S + (j - b * pc.S);
          float g = dout[pc.off[0] + i];
          if (train)
            g = g - mt.x - (inp[pc.off[1] + i] - m) * r * mt.y;
          dinp[pc.off[5] + i] += k * g;
        }
    }
  if (lane != 0u)
    return;
  if ((pc.flags & HAS_DW) != 0u)
    dweight[pc.off[6] + c] += t.y;
  if ((pc.flags & HAS_DB) != 0u)
    dbias[pc.off[7] + c] += t.x;
}
