#version 450
// grn_bwd_inp: dh for GRN on NHWC (N, HW, C), one workgroup per sample n:
//   m = mean_c gx, den = m + eps, P[c] = sum_hw dout·h, S = sum_c gamma[c]·P[c]·gx[c]
//   dgx[c] = gamma[c]·P[c]/den - S/(C·den²)
//   dh += dout·(gamma[c]·nx[c] + 1) + (gx[c] > 0 ? dgx[c]/gx[c] : 0)·h   (the norm's gradient is 0 at 0)
// Channels are processed in chunks of 32 (positions) × 8 hw lanes (coalesced over c).
// Mirrors dn_grn_backward (compute/ops/norm/dn-grn.c).
#define DN_PARAMS uint N; uint HW; uint C; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, h)
DN_BUF_RO(2, gamma)
DN_BUF_RO(3, gx)
DN_BUF_RO(4, nx)
DN_BUF_RW(5, dh)
void main()
{
  nr_init(8u, 0u); // 32 channels × 8 lanes
  uint n = nr_group();
  uint t = gl_LocalInvocationIndex;
  uint base = n * pc.HW * pc.C;
  // pass 1: m and S (both plain sums over the whole sample)
  float gacc = 0.0;
  for (uint c = t; c < pc.C; c += 256u)
    gacc += gx[pc.off[3] + n * pc.C + c];
  float sacc = 0.0;
  uint nchunk = (pc.C + 31u) / 32u;
  uint ci = nr_pos(), lane = nr_lane();
  for (uint k = 0u; k < nchunk; k++)
    {
      uint c = k * 32u + ci;
      if (c < pc.C)
        {
          float p = 0.0;
          for (uint s = lane; s < pc.HW; s += 8u)
            p += dout[pc.off[0] + base + s * pc.C + c] * h[pc.off[1] + base + s * pc.C + c];
          sacc += gamma[pc.off[2] + c] * gx[pc.off[3] + n * pc.C + c] * p;
        }
    }
  vec4 tot = nr_sum_all(vec4(gacc, sacc, 0, 0));
  float den = tot.x / float(pc.C) + pc.eps;
  float S = tot.y;
  // pass 2: per chunk, P[c] by a tree over the 8 lanes, then dh
  for (uint k = 0u; k < nchunk; k++)
    {
      uint c = k * 32u + ci;
      bool valid = c < pc.C;
      float p = 0.0;
      if (valid)
        for (uint s = lane; s < pc.HW; s += 8u)
          p += dout[pc.off[0] + base + s * pc.C + c] * h[pc.off[1] + base + s * pc.C + c];
      float P = nr_sum(vec4(p, 0, 0, 0)).x;
      if (!valid)
        continue;
      float g = gamma[pc.off[2] + c];
      float gxc = gx[pc.off[3] + n * pc.C + c];
      float dg = g * P / den - S / (float(pc.C) * den * den);
      float kk = gxc > 0.0 ? dg / gxc : 0.0;
      float a = g * nx[pc.off[4] + n * pc.C + c] + 1.0;
      for (uint s = lane; s < pc.HW; s += 8u)
        {
          uint i = base + s * pc.C + c;
          dh[pc.off[5] + i] += dout[pc.off[0] + i] * a + kk * h[pc.off[1] + i];
        }
    }
}
