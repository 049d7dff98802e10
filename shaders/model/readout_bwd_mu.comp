#version 450
// readout_bwd_mu: one invocation per neuron k: dbias[k] += Σ_n dy[n,k]; dmu[k] += the position gradient.
// Mirrors dn_readout_backward's dmu/dbias parts. pc.want_mu / pc.want_bias select the outputs.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint has_mu; uint want_bias; uint want_mu;
#include "common.glsl"
layout(local_size_x = 64) in;
DN_BUF_RO(0, feat)
DN_BUF_RO(1, mu)
DN_BUF_RO(2, F)
DN_BUF_RO(3, dy)
DN_BUF_RW(4, dmu)
DN_BUF_RW(5, dbias)
#include "readout_common.glsl"
void main()
{
  uint k = dn_gid();
  if (k >= pc.K)
    return;
  int x0, y0;
  float wx, wy;
  bool gx_in, gy_in;
  readout_pos(k, x0, y0, wx, wy, gx_in, gy_in);
  float gb = 0.0, gmx = 0.0, gmy = 0.0;
  for (uint n = 0; n < pc.N; n++)
    {
      float g = dy[pc.off[3] + n * pc.K + k];
      gb += g;
      if (pc.want_mu != 0)
        for (uint c = 0; c < pc.C; c++)
          {
            uint base = (n * pc.C + c) * pc.H * pc.W;
            float f00 = feat_at(base, y0, x0), f01 = feat_at(base, y0, x0 + 1);
            float f10 = feat_at(base, y0 + 1, x0), f11 = feat_at(base, y0 + 1, x0 + 1);
            float gf = g * F[pc.off[2] + c * pc.K + k];
            gmx += gf * ((1.0 - wy) * (f01 - f00) + wy * (f11 - f10));
            gmy += gf * ((1.0 - wx) * (f10 - f00) + wx * (f11 - f01));
          }
    }
  if (pc.want_bias != 0)
    dbias[pc.off[5] + k] += gb;
  if (pc.want_mu != 0)
    {
      if (gx_in)
        dmu[pc.off[4] + 2 * k] += gmx * float(pc.W - 1) / 2.0;
      if (gy_in)
        dmu[pc.off[4] + 2 * k + 1] += gmy * float(pc.H - 1) / 2.0;
    }
}
