#version 450
// roi_align_fwd: torchvision roi_align, one invocation per output element (k,c,ph,pw): the average of
// grid_h x grid_w bilinear samples in bin (ph,pw) of ROI k. Mirrors dn_roi_align_forward
// (compute/ops/sample/dn-roi-align.c) and torchvision's roi_align_kernel.cpp.
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint PH; uint PW; float spatial_scale; \
  int sampling_ratio; uint aligned;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, inp)   // (N,C,H,W)
DN_BUF_RO(1, boxes) // (K,5)
DN_BUF_WO(2, outp)  // (K,C,PH,PW)

#define ROI_GRID_MAX 65536
// ceil(len / pooled) for the adaptive sampling grid; exact for integer ratios although Vulkan's
// division is not correctly rounded; 0 for an empty (or NaN) ROI.
int grid_count(float len, uint pooled)
{
  if (!(len > 0.0))
    return 0;
  float q = min(len / float(pooled), float(ROI_GRID_MAX));
  int g = int(ceil(q));
  if (g > 1 && float(g - 1) * float(pooled) >= len)
    g--;
  else if (g < ROI_GRID_MAX && float(g) * float(pooled) < len)
    g++;
  return g;
}

struct Roi
{
  int n;              // batch index, -1 when outside [0,N)
  float sh, sw;       // roi start (pixels)
  float bh, bw;       // bin size
  int gh, gw;         // samples per bin and axis
  float count;        // max(gh*gw, 1)
};

Roi load_roi(uint k)
{
  Roi r;
  uint b = pc.off[1] + k * 5u;
  float bn = boxes[b];
  r.n = (bn > -1.0 && bn < float(pc.N)) ? int(bn) : -1;
  float offset = pc.aligned != 0u ? 0.5 : 0.0;
  r.sw = boxes[b + 1u] * pc.spatial_scale - offset;
  r.sh = boxes[b + 2u] * pc.spatial_scale - offset;
  float ew = boxes[b + 3u] * pc.spatial_scale - offset;
  float eh = boxes[b + 4u] * pc.spatial_scale - offset;
  float rw = ew - r.sw, rh = eh - r.sh;
  if (pc.aligned == 0u)
    {
      rw = max(rw, 1.0);
      rh = max(rh, 1.0);
    }
  r.bh = rh / float(pc.PH);
  r.bw = rw / float(pc.PW);
  r.gh = pc.sampling_ratio > 0 ? pc.sampling_ratio : grid_count(rh, pc.PH);
  r.gw = pc.sampling_ratio > 0 ? pc.sampling_ratio : grid_count(rw, pc.PW);
  r.count = float(max(r.gh * r.gw, 1));
  return r;
}

void main()
{
  uint i = dn_gid();
  uint P = pc.PH * pc.PW;
  if (i >= pc.K * pc.C * P)
    return;
  uint pw = i % pc.PW;
  uint ph = (i / pc.PW) % pc.PH;
  uint kc = i / P;
  uint k = kc / pc.C, c = kc % pc.C;
  Roi r = load_roi(k);
  float acc = 0.0;
  if (r.n >= 0)
    {
      uint base = pc.off[0] + (uint(r.n) * pc.C + c) * pc.H * pc.W;
      int H = int(pc.H), W = int(pc.W);
      for (int iy = 0; iy < r.gh; iy++)
        {
          float y = r.sh + float(ph) * r.bh + (float(iy) + 0.5) * r.bh / float(r.gh);
          if (y < -1.0 || y > float(H))
            continue;
          y = max(y, 0.0);
          int yl = int(y), yh;
          if (yl >= H - 1)
            {
              yh = yl = H - 1;
              y = float(yl);
            }
          else
            yh = yl + 1;
          float ly = y - float(yl), hy = 1.0 - ly;
          for (int ix = 0; ix < r.gw; ix++)
            {
              float x = r.sw + float(pw) * r.bw + (float(ix) + 0.5) * r.bw / float(r.gw);
              if (x < -1.0 || x > float(W))
                continue;
              x = max(x, 0.0);
              int xl = int(x), xh;
              if (xl >= W - 1)
                {
                  xh = xl = W - 1;
                  x = float(xl);
                }
              else
                xh = xl + 1;
              float lx = x - float(xl), hx = 1.0 - lx;
              uint r0 = base + uint(yl) * pc.W, r1 = base + uint(yh) * pc.W;
              acc += hy * hx * inp[r0 + uint(xl)] + hy * lx * inp[r0 + uint(xh)] + ly * hx * inp[r1 + uint(xl)]
                     + ly * lx * inp[r1 + uint(xh)];
            }
        }
    }
  outp[pc.off[2] + i] = acc / r.count;
}
