#version 450
// grid_sample_fwd: out[n,c,ho,wo] = bilinear sample of inp[n,c] at grid[n,ho,wo] (zeros padding).
// One invocation per output element. Mirrors dn_grid_sample_forward (compute/ops/sample/dn-grid-sample.c).
#define DN_PARAMS uint N; uint C; uint H; uint W; uint Ho; uint Wo; uint align_corners;
#include "common.glsl"
layout(local_size_x = 256) in;

// grid_sampler_unnormalize: grid coordinate -> pixel coordinate.
float gs_unnormalize(float g, uint size, uint align_corners)
{
  float s = float(size);
  return align_corners != 0u ? (g + 1.0) * 0.5 * (s - 1.0) : ((g + 1.0) * s - 1.0) * 0.5;
}

// d(pixel)/d(grid)
float gs_mult(uint size, uint align_corners)
{
  return align_corners != 0u ? (float(size) - 1.0) * 0.5 : float(size) * 0.5;
}

// True when the sample touches the image at all (false for NaN too); guards the float->int conversions.
bool gs_near(float ix, float iy, uint W, uint H)
{
  return ix > -2.0 && ix < float(W) + 1.0 && iy > -2.0 && iy < float(H) + 1.0;
}
DN_BUF_RO(0, inp)  // (N,C,H,W)
DN_BUF_RO(1, grid) // (N,Ho,Wo,2)
DN_BUF_WO(2, outp) // (N,C,Ho,Wo)

float at(uint base, int y, int x)
{
  if (y < 0 || y >= int(pc.H) || x < 0 || x >= int(pc.W))
    return 0.0;
  return inp[pc.off[0] + base + uint(y) * pc.W + uint(x)];
}

void main()
{
  uint i = dn_gid();
  uint P = pc.Ho * pc.Wo;
  if (i >= pc.N * pc.C * P)
    return;
  uint p = i % P;
  uint nc = i / P;
  uint n = nc / pc.C;
  uint g = pc.off[1] + (n * P + p) * 2u;
  float ix = gs_unnormalize(grid[g], pc.W, pc.align_corners);
  float iy = gs_unnormalize(grid[g + 1u], pc.H, pc.align_corners);
  float v = isnan(ix) || isnan(iy) ? ix + iy : 0.0; // all padding; a NaN coordinate propagates
  if (gs_near(ix, iy, pc.W, pc.H))
    {
      float fx = floor(ix), fy = floor(iy);
      int x0 = int(fx), y0 = int(fy);
      float tx = ix - fx, ty = iy - fy;
      uint base = nc * pc.H * pc.W;
      v = at(base, y0, x0) * (1.0 - tx) * (1.0 - ty) + at(base, y0, x0 + 1) * tx * (1.0 - ty)
          + at(base, y0 + 1, x0) * (1.0 - tx) * ty + at(base, y0 + 1, x0 + 1) * tx * ty;
    }
  outp[pc.off[2] + i] = v;
}
