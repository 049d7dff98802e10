#version 450
// resize_fwd: out[nc,oy,ox] = Σ_y Σ_x wy(oy,y) wx(ox,x) inp[nc,y,x], one invocation per output element.
// MODE 0: bilinear (antialias=False), 1: legacy nearest, 2: antialiased bicubic (align_corners=False).
// The per-axis rules mirror compute/ops/sample/dn-resize.c (resize_axis_taps) and PyTorch's UpSample.h.
// scale_* = in/out (bilinear with align_corners: (in-1)/(out-1), or 0 when out = 1), computed on the host
// in float32; support_* and invscale_* are the antialiasing filter's support and 1/max(scale,1).
#define DN_PARAMS uint NC; uint H; uint W; uint Ho; uint Wo; uint align_corners; \
  float scale_h; float scale_w; float support_h; float support_w; float invscale_h; float invscale_w;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, inp)  // (N,C,H,W)
DN_BUF_WO(1, outp) // (N,C,Ho,Wo)

#if MODE == 0
// compute_indices_weights_linear: the two taps and the weight of the second.
void axis_linear(uint o, uint in_size, float scale, out int i0, out int i1, out float l1)
{
  float src = pc.align_corners != 0u ? scale * float(o) : max(scale * (float(o) + 0.5) - 0.5, 0.0);
  i0 = min(int(src), int(in_size) - 1);
  i1 = i0 < int(in_size) - 1 ? i0 + 1 : i0;
  l1 = src - float(i0);
}
#elif MODE == 1
// nearest_idx: min(floor(o*scale), in-1) in float32 (o == in and o == 2*in give the same indices).
int axis_nearest(uint o, uint in_size, float scale)
{
  return min(int(floor(float(o) * scale)), int(in_size) - 1);
}
#else
// Keys' cubic, a = -0.5 (HelperInterpCubic::aa_filter).
float aa_filter(float x)
{
  const float a = -0.5;
  x = abs(x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}
#endif

void main()
{
  uint i = dn_gid();
  uint P = pc.Ho * pc.Wo;
  if (i >= pc.NC * P)
    return;
  uint ox = i % pc.Wo;
  uint oy = (i / pc.Wo) % pc.Ho;
  uint base = pc.off[0] + (i / P) * pc.H * pc.W;
  float v;
#if MODE == 0
  int y0, y1, x0, x1;
  float ly, lx;
  axis_linear(oy, pc.H, pc.scale_h, y0, y1, ly);
  axis_linear(ox, pc.W, pc.scale_w, x0, x1, lx);
  uint r0 = base + uint(y0) * pc.W, r1 = base + uint(y1) * pc.W;
  v = (1.0 - ly) * ((1.0 - lx) * inp[r0 + uint(x0)] + lx * inp[r0 + uint(x1)])
      + ly * ((1.0 - lx) * inp[r1 + uint(x0)] + lx * inp[r1 + uint(x1)]);
#elif MODE == 1
  int y = axis_nearest(oy, pc.H, pc.scale_h);
  int x = axis_nearest(ox, pc.W, pc.scale_w);
  v = inp[base + uint(y) * pc.W + uint(x)];
#else
  // _compute_weights_aa per axis; an axis whose size does not change is skipped (identity) as in PyTorch.
  bool idy = pc.H == pc.Ho, idx = pc.W == pc.Wo;
  float cy = pc.scale_h * (float(oy) + 0.5), cx = pc.scale_w * (float(ox) + 0.5);
  int ylo = idy ? int(oy) : max(int(cy - pc.support_h + 0.5), 0);
  int yhi = idy ? int(oy) + 1 : min(int(cy + pc.support_h + 0.5), int(pc.H));
  int xlo = idx ? int(ox) : max(int(cx - pc.support_w + 0.5), 0);
  int xhi = idx ? int(ox) + 1 : min(int(cx + pc.support_w + 0.5), int(pc.W));
  float sy = 0.0, sx = 0.0;
  for (int y = ylo; y < yhi; y++)
    sy += idy ? 1.0 : aa_filter((float(y) - cy + 0.5) * pc.invscale_h);
  for (int x = xlo; x < xhi; x++)
    sx += idx ? 1.0 : aa_filter((float(x) - cx + 0.5) * pc.invscale_w);
  float acc = 0.0;
  for (int y = ylo; y < yhi; y++)
    {
      float wy = idy ? 1.0 : aa_filter((float(y) - cy + 0.5) * pc.invscale_h);
      uint row = base + uint(y) * pc.W;
      float r = 0.0;
      for (int x = xlo; x < xhi; x++)
        r += (idx ? 1.0 : aa_filter((float(x) - cx + 0.5) * pc.invscale_w)) * inp[row + uint(x)];
      acc += wy * r;
    }
  v = acc / ((sy != 0.0 ? sy : 1.0) * (sx != 0.0 ? sx : 1.0));
#endif
  outp[pc.off[1] + i] = v;
}
