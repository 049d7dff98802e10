#version 450
// Reflect pad 2D (PyTorch mode='reflect') over planes (P,H,W) → (P,Ho,Wo), Ho = H+top+bottom,
// Wo = W+left+right. Forward: one invocation per output element gathers its reflected source.
// BACKWARD: one invocation per input element gathers the (at most 3×3) output positions that
// reflect onto it and adds their sum to dinp (no atomics). Mirrors compute/ops/elem/dn-pad-blur.c and
// dn_ref_reflect_pad2d_forward/backward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint n; uint H; uint W; uint Ho; uint Wo; uint left; uint top; uint bottom; uint right;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, src)
#if BACKWARD
DN_BUF_RW(1, dst)
#else
DN_BUF_WO(1, dst)
#endif

#if !BACKWARD
int reflect1(int q, int n)
{
  q = q < 0 ? -q : q;
  return q >= n ? 2 * (n - 1) - q : q;
}
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
#if BACKWARD
  // i indexes dinp (P,H,W)
  uint x = i % pc.W, t = i / pc.W;
  uint y = t % pc.H, p = t / pc.H;
  int H = int(pc.H), W = int(pc.W), top = int(pc.top), left = int(pc.left);
  int rows[3], cols[3];
  int nr = 0, nc = 0;
  rows[nr++] = int(y) + top;
  if (int(y) >= 1 && int(y) <= top)
    rows[nr++] = top - int(y);
  if (int(y) <= H - 2 && int(y) >= H - 1 - int(pc.bottom))
    rows[nr++] = top + 2 * (H - 1) - int(y);
  cols[nc++] = int(x) + left;
  if (int(x) >= 1 && int(x) <= left)
    cols[nc++] = left - int(x);
  if (int(x) <= W - 2 && int(x) >= W - 1 - int(pc.right))
    cols[nc++] = left + 2 * (W - 1) - int(x);
  float s = 0.0;
  uint base = pc.off[0] + p * pc.Ho * pc.Wo;
  for (int a = 0; a < nr; a++)
    for (int b = 0; b < nc; b++)
      s += src[base + uint(rows[a]) * pc.Wo + uint(cols[b])];
  dst[pc.off[1] + i] += s;
#else
  // i indexes out (P,Ho,Wo)
  uint x = i % pc.Wo, t = i / pc.Wo;
  uint y = t % pc.Ho, p = t / pc.Ho;
  int sy = reflect1(int(y) - int(pc.top), int(pc.H));
  int sx = reflect1(int(x) - int(pc.left), int(pc.W));
  dst[pc.off[1] + i] = src[pc.off[0] + (p * pc.H + uint(sy)) * pc.W + uint(sx)];
#endif
}
