#version 450
// maxpool2d: 2-D max pooling (PyTorch nn.MaxPool2d, dilation 1, ceil_mode False, padding = −inf).
// Mirrors the Vulkan paths of dn_maxpool2d_forward/backward (compute/ops/conv/dn-pool.c). Variants:
//   MAXPOOL_FWD: one invocation per output; the first maximal element of the window (row-major) wins,
//                a NaN wins over any number; argmax = h·W + w inside the plane, stored as float.
//   MAXPOOL_BWD: one invocation per INPUT element, gathering the gradient of every window whose argmax
//                names it (no atomics, deterministic); accumulates into dinp.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint Ho; uint Wo; uint kh; uint kw; uint sh; uint sw; \
  uint ph; uint pw; uint has_argmax;
#include "common.glsl"
layout(local_size_x = 256) in;

#if defined(MAXPOOL_FWD)
DN_BUF_RO(0, X)
DN_BUF_WO(1, Y)
DN_BUF_WO(2, A) // argmax, written when has_argmax
void main()
{
  uint i = dn_gid(), P = pc.Ho * pc.Wo;
  if (i >= pc.N * pc.C * P)
    return;
  uint plane = i / P, p = i % P, ho = p / pc.Wo, wo = p % pc.Wo;
  int h0 = int(ho * pc.sh) - int(pc.ph), w0 = int(wo * pc.sw) - int(pc.pw);
  int hs = max(h0, 0), he = min(h0 + int(pc.kh), int(pc.H));
  int ws = max(w0, 0), we = min(w0 + int(pc.kw), int(pc.W));
  uint base = pc.off[0] + plane * pc.H * pc.W;
  float best = uintBitsToFloat(0xff800000u); // −inf
  uint besti = uint(hs) * pc.W + uint(ws);
  for (int h = hs; h < he; h++)
    for (int w = ws; w < we; w++)
      {
        uint q = uint(h) * pc.W + uint(w);
        float v = X[base + q];
        if (v > best || isnan(v))
          {
            best = v;
            besti = q;
          }
      }
  Y[pc.off[1] + i] = best;
  if (pc.has_argmax != 0u)
    A[pc.off[2] + i] = float(besti);
}
#elif defined(MAXPOOL_BWD)
DN_BUF_RO(0, DY)
DN_BUF_RO(1, A)
DN_BUF_RW(2, DX)
void main()
{
  uint i = dn_gid(), HW = pc.H * pc.W;
  if (i >= pc.N * pc.C * HW)
    return;
  uint plane = i / HW, q = i % HW, h = q / pc.W, w = q % pc.W;
  // the windows that contain (h, w): ho·sh − ph ≤ h < ho·sh − ph + kh
  int hp = int(h + pc.ph), wp = int(w + pc.pw);
  int hlo = max(hp - int(pc.kh) + int(pc.sh), 0) / int(pc.sh), hhi = min(hp / int(pc.sh), int(pc.Ho) - 1);
  int wlo = max(wp - int(pc.kw) + int(pc.sw), 0) / int(pc.sw), whi = min(wp / int(pc.sw), int(pc.Wo) - 1);
  uint base = plane * pc.Ho * pc.Wo;
  float fq = float(q), acc = 0.0;
  for (int ho = hlo; ho <= hhi; ho++)
    for (int wo = wlo; wo <= whi; wo++)
      {
        uint o = base + uint(ho) * pc.Wo + uint(wo);
        if (A[pc.off[1] + o] == fq)
          acc += DY[pc.off[0] + o];
      }
  if (hlo <= hhi && wlo <= whi)
    DX[pc.off[2] + i] = DX[pc.off[2] + i] + acc;
}
#endif
