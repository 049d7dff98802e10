#version 450
// readout_fwd: one invocation per (n,k): y[n,k] = Σ_c bilinear(feat[n,c], mu_k) · F[c,k] + b[k].
// Mirrors dn_readout_forward (compute/ops/model/dn-model.c) and dn_ref_readout_forward.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint has_mu; uint has_bias;
#include "common.glsl"
layout(local_size_x = 64) in;
DN_BUF_RO(0, feat)
DN_BUF_RO(1, mu)
DN_BUF_RO(2, F)
DN_BUF_RO(3, bias)
DN_BUF_WO(4, y)
#include "readout_common.glsl"
void main()
{
  uint i = dn_gid();
  if (i >= pc.N * pc.K)
    return;
  uint n = i / pc.K, k = i % pc.K;
  int x0, y0;
  float wx, wy;
  bool a, b;
  readout_pos(k, x0, y0, wx, wy, a, b);
  float acc = 0.0;
  for (uint c = 0; c < pc.C; c++)
    {
      uint base = (n * pc.C + c) * pc.H * pc.W;
      float s = (1.0 - wy) * ((1.0 - wx) * feat_at(base, y0, x0) + wx * feat_at(base, y0, x0 + 1))
                + wy * ((1.0 - wx) * feat_at(base, y0 + 1, x0) + wx * feat_at(base, y0 + 1, x0 + 1));
      acc += s * F[pc.off[2] + c * pc.K + k];
    }
  if (pc.has_bias != 0)
    acc += bias[pc.off[3] + k];
  y[pc.off[4] + i] = acc;
}
