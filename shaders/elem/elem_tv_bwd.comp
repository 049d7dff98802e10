#version 450
// Total variation backward: one invocation per element of (N,C,H,W):
// dI[i] += dout[n]·weight/norm[n] · ((I[i]−I[x−1]) − (I[x+1]−I[i]) + (I[i]−I[y−1]) − (I[y+1]−I[i]))
// with the terms that leave the image dropped. Mirrors compute/ops/elem/dn-tv-loss.c and
// dn_ref_tv_loss_backward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint total; uint m; uint H; uint W; float weight;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, img)
DN_BUF_RO(1, normv)
DN_BUF_RO(2, dout)
DN_BUF_RW(3, dimg)

void main()
{
  uint i = dn_gid();
  if (i >= pc.total)
    return;
  uint n = i / pc.m, x = i % pc.W, y = (i / pc.W) % pc.H;
  uint b = pc.off[0];
  float v = img[b + i], g = 0.0;
  if (x > 0u)
    g += v - img[b + i - 1u];
  if (x + 1u < pc.W)
    g -= img[b + i + 1u] - v;
  if (y > 0u)
    g += v - img[b + i - pc.W];
  if (y + 1u < pc.H)
    g -= img[b + i + pc.W] - v;
  float f = dout[pc.off[2] + n] * pc.weight / normv[pc.off[1] + n];
  dimg[pc.off[3] + i] += f * g;
}
