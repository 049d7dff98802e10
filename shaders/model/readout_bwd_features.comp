#version 450
// readout_bwd_features: one invocation per (c,k): dF[c,k] += Σ_n dy[n,k] · bilinear(feat[n,c], mu_k).
// Mirrors dn_readout_backward's dfeatures part.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint has_mu; uint has_bias;
#include "common.glsl"
layout(local_size_x = 64) in;
DN_BUF_RO(0, feat)
DN_BUF_RO(1, mu)
DN_BUF_RO(2, dy)
DN_BUF_RW(3, dF)
#include "readout_common.glsl"
void main()
{
  uint i = dn_gid();
  if (i >= pc.C * pc.K)
    return;
  uint c = i / pc.K, k = i % pc.K;
  int x0, y0;
  float wx, wy;
  bool a, b;
  readout_pos(k, x0, y0, wx, wy, a, b);
  float acc = 0.0;
  for (uint n = 0; n < pc.N; n++)
    {
      uint base = (n * pc.C + c) * pc.H * pc.W;
      float s = (1.0 - wy) * ((1.0 - wx) * feat_at(base, y0, x0) + wx * feat_at(base, y0, x0 + 1))
                + wy * ((1.0 - wx) * feat_at(base, y0 + 1, x0) + wx * feat_at(base, y0 + 1, x0 + 1));
      acc += dy[pc.off[2] + n * pc.K + k] * s;
    }
  dF[pc.off[3] + i] += acc;
}
