#version 450
// resize_bwd: dinp[nc,y,x] += Σ_oy Σ_ox wy(oy,y) wx(ox,x) dout[nc,oy,ox], one invocation per input
// element: it gathers from the outputs whose taps include it (a conservative range per axis, then the
// forward's exact tap rule), so no float atomics. MODE and the parameters as in resize_fwd.comp.
#define DN_PARAMS uint NC; uint H; uint W; uint Ho; uint Wo; uint align_corners; \
  float scale_h; float scale_w; float support_h; float support_w; float invscale_h; float invscale_w;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, dout) // (N,C,Ho,Wo)
DN_BUF_RW(1, dinp) // (N,C,H,W)

#if MODE == 2
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

// Weight of input index i in output o along one axis (exactly the forward's rule).
float axis_weight(uint o, int i, uint in_size, uint out_size, float scale, float support, float invscale)
{
#if MODE == 0
  float src = pc.align_corners != 0u ? scale * float(o) : max(scale * (float(o) + 0.5) - 0.5, 0.0);
  int i0 = min(int(src), int(in_size) - 1);
  int i1 = i0 < int(in_size) - 1 ? i0 + 1 : i0;
  float l1 = src - float(i0);
  return (i0 == i ? 1.0 - l1 : 0.0) + (i1 == i ? l1 : 0.0);
#elif MODE == 1
  return min(int(floor(float(o) * scale)), int(in_size) - 1) == i ? 1.0 : 0.0;
#else
  if (in_size == out_size)
    return int(o) == i ? 1.0 : 0.0;
  float c = scale * (float(o) + 0.5);
  int lo = max(int(c - support + 0.5), 0);
  int hi = min(int(c + support + 0.5), int(in_size));
  if (i < lo || i >= hi)
    return 0.0;
  float total = 0.0;
  for (int j = lo; j < hi; j++)
    total += aa_filter((float(j) - c + 0.5) * invscale);
  float w = aa_filter((float(i) - c + 0.5) * invscale);
  return total != 0.0 ? w / total : w;
#endif
}

// A conservative range [lo, hi] of outputs that may use input i along one axis (widened by 2 for
// rounding; axis_weight decides exactly).
void axis_range(int i, uint in_size, uint out_size, float scale, float support, out int lo, out int hi)
{
  float a, b;
#if MODE == 0
  if (scale <= 0.0)
    {
      lo = 0;
      hi = int(out_size) - 1;
      return;
    }
  float shift = pc.align_corners != 0u ? 0.0 : 0.5 * scale - 0.5;
  a = (float(i) - 1.0 - shift) / scale;
  b = (float(i) + 1.0 - shift) / scale;
#elif MODE == 1
  a = float(i) / scale;
  b = i == int(in_size) - 1 ? float(out_size) : float(i + 1) / scale;
#else
  if (in_size == out_size)
    {
      lo = hi = i;
      return;
    }
  a = (float(i) - support - 0.5) / scale - 0.5;
  b = (float(i) + support + 0.5) / scale - 0.5;
#endif
  a = clamp(floor(a) - 2.0, 0.0, float(out_size) - 1.0);
  b = clamp(ceil(b) + 2.0, 0.0, float(out_size) - 1.0);
  lo = int(a);
  hi = int(b);
}

void main()
{
  uint i = dn_gid();
  uint P = pc.H * pc.W;
  if (i >= pc.NC * P)
    return;
  int x = int(i % pc.W);
  int y = int((i / pc.W) % pc.H);
  uint base = pc.off[0] + (i / P) * pc.Ho * pc.Wo;
  int oylo, oyhi, oxlo, oxhi;
  axis_range(y, pc.H, pc.Ho, pc.scale_h, pc.support_h, oylo, oyhi);
  axis_range(x, pc.W, pc.Wo, pc.scale_w, pc.support_w, oxlo, oxhi);
  float acc = 0.0;
  for (int oy = oylo; oy <= oyhi; oy++)
    {
      float wy = axis_weight(uint(oy), y, pc.H, pc.Ho, pc.scale_h, pc.support_h, pc.invscale_h);
      if (wy == 0.0)
        continue;
      uint row = base + uint(oy) * pc.Wo;
      float r = 0.0;
      for (int ox = oxlo; ox <= oxhi; ox++)
        {
          float wx = axis_weight(uint(ox), x, pc.W, pc.Wo, pc.scale_w, pc.support_w, pc.invscale_w);
          if (wx != 0.0)
            r += wx * dout[row + uint(ox)];
        }
      acc += wy * r;
    }
  dinp[pc.off[1] + i] += acc;
}
