#version 450
// roi_align_bwd: gradient of torchvision roi_align for the input. One invocation owns one input row
// (n,c,h) and gathers every sample of every ROI of image n whose bilinear footprint covers that row, so
// no float atomics are needed. Mirrors dn_roi_align_backward (compute/ops/sample/dn-roi-align.c).
#define DN_PARAMS uint N; uint C; uint H; uint W; uint K; uint PH; uint PW; float spatial_scale; \
  int sampling_ratio; uint aligned;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, dout)  // (K,C,PH,PW)
DN_BUF_RO(1, boxes) // (K,5)
DN_BUF_RW(2, dinp)  // (N,C,H,W)

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
  if (i >= pc.N * pc.C * pc.H)
    return;
  int h = int(i % pc.H);
  uint nc = i / pc.H;
  int n = int(nc / pc.C);
  uint c = nc % pc.C;
  uint row = pc.off[2] + i * pc.W;
  uint P = pc.PH * pc.PW;
  int H = int(pc.H), W = int(pc.W);
  for (uint k = 0u; k < pc.K; k++)
    {
      Roi r = load_roi(k);
      if (r.n != n)
        continue;
      uint gbase = pc.off[0] + (k * pc.C + c) * P;
      for (uint ph = 0u; ph < pc.PH; ph++)
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
            if (yl != h && yh != h)
              continue;
            float ly = y - float(yl);
            float wy = ((yl == h) ? 1.0 - ly : 0.0) + ((yh == h) ? ly : 0.0);
            wy /= r.count;
            for (uint pw = 0u; pw < pc.PW; pw++)
              {
                float g = wy * dout[gbase + ph * pc.PW + pw];
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
                    float lx = x - float(xl);
                    dinp[row + uint(xl)] += (1.0 - lx) * g;
                    dinp[row + uint(xh)] += lx * g;
                  }
              }
          }
    }
}
