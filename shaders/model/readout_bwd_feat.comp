#version 450
// readout_bwd_feat: one invocation per (n,c) owns the plane dfeat[n,c] and adds every neuron's
// contribution to it (no races). Mirrors dn_readout_backward's dfeat part.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint has_mu; uint has_bias;
#include "common.glsl"
layout(local_size_x = 64) in;
DN_BUF_RO(0, feat)
DN_BUF_RO(1, mu)
DN_BUF_RO(2, F)
DN_BUF_RO(3, dy)
DN_BUF_RW(4, dfeat)
#include "readout_common.glsl"
void add_at(uint base, int y, int x, float v)
{
  if (y >= 0 && y < int(pc.H) && x >= 0 && x < int(pc.W))
    dfeat[pc.off[4] + base + uint(y) * pc.W + uint(x)] += v;
}
void main()
{
  uint i = dn_gid();
  if (i >= pc.N * pc.C)
    return;
  uint n = i / pc.C, c = i % pc.C;
  uint base = i * pc.H * pc.W;
  for (uint k = 0; k < pc.K; k++)
    {
      int x0, y0;
      float wx, wy;
      bool a, b;
      readout_pos(k, x0, y0, wx, wy, a, b);
      float g = dy[pc.off[3] + n * pc.K + k] * F[pc.off[2] + c * pc.K + k];
      add_at(base, y0, x0, g * (1.0 - wy) * (1.0 - wx));
      add_at(base, y0, x0 + 1, g * (1.0 - wy) * wx);
      add_at(base, y0 + 1, x0, g * wy * (1.0 - wx));
      add_at(base, y0 + 1, x0 + 1, g * wy * wx);
    }
}
