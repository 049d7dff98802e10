#version 450
// grid_sample_bwd_grid: dgrid[n,ho,wo,:] += Σ_c dout[n,c,ho,wo] · d(bilinear sample)/d(grid).
// One invocation per grid point. Mirrors dn_grid_sample_backward (compute/ops/sample/dn-grid-sample.c).
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
DN_BUF_RO(0, dout)  // (N,C,Ho,Wo)
DN_BUF_RO(1, inp)   // (N,C,H,W)
DN_BUF_RO(2, grid)  // (N,Ho,Wo,2)
DN_BUF_RW(3, dgrid) // (N,Ho,Wo,2)

float at(uint base, int y, int x)
{
  if (y < 0 || y >= int(pc.H) || x < 0 || x >= int(pc.W))
    return 0.0;
  return inp[pc.off[1] + base + uint(y) * pc.W + uint(x)];
}

void main()
{
  uint i = dn_gid();
  uint P = pc.Ho * pc.Wo;
  if (i >= pc.N * P)
    return;
  uint n = i / P;
  uint p = i % P;
  uint g = pc.off[2] + i * 2u;
  float ix = gs_unnormalize(grid[g], pc.W, pc.align_corners);
  float iy = gs_unnormalize(grid[g + 1u], pc.H, pc.align_corners);
  if (!gs_near(ix, iy, pc.W, pc.H))
    {
      if (isnan(ix) || isnan(iy))
        dgrid[pc.off[3] + i * 2u] = dgrid[pc.off[3] + i * 2u + 1u] = ix + iy;
      return;
    }
  float fx = floor(ix), fy = floor(iy);
  int x0 = int(fx), y0 = int(fy);
  float tx = ix - fx, ty = iy - fy;
  float gix = 0.0, giy = 0.0;
  for (uint c = 0u; c < pc.C; c++)
    {
      uint nc = n * pc.C + c;
      float go = dout[pc.off[0] + nc * P + p];
      uint base = nc * pc.H * pc.W;
      float v00 = at(base, y0, x0), v01 = at(base, y0, x0 + 1);
      float v10 = at(base, y0 + 1, x0), v11 = at(base, y0 + 1, x0 + 1);
      gix += go * ((v01 - v00) * (1.0 - ty) + (v11 - v10) * ty);
      giy += go * ((v10 - v00) * (1.0 - tx) + (v11 - v01) * tx);
    }
  uint o = pc.off[3] + i * 2u;
  dgrid[o] += gix * gs_mult(pc.W, pc.align_corners);
  dgrid[o + 1u] += giy * gs_mult(pc.H, pc.align_corners);
}
