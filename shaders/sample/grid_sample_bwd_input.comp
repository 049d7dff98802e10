#version 450
// grid_sample_bwd_input: dinp[n,c,h,:] += Σ over output points whose bilinear footprint covers row h.
// One invocation owns one input row (n,c,h) and gathers from every output point of image n, so no two
// invocations write the same element (no float atomics). Mirrors dn_grid_sample_backward.
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
DN_BUF_RO(0, dout) // (N,C,Ho,Wo)
DN_BUF_RO(1, grid) // (N,Ho,Wo,2)
DN_BUF_RW(2, dinp) // (N,C,H,W)

void main()
{
  uint i = dn_gid();
  if (i >= pc.N * pc.C * pc.H)
    return;
  int h = int(i % pc.H);
  uint nc = i / pc.H;
  uint n = nc / pc.C;
  uint P = pc.Ho * pc.Wo;
  uint row = pc.off[2] + i * pc.W;
  int W = int(pc.W);
  for (uint p = 0u; p < P; p++)
    {
      uint g = pc.off[1] + (n * P + p) * 2u;
      float ix = gs_unnormalize(grid[g], pc.W, pc.align_corners);
      float iy = gs_unnormalize(grid[g + 1u], pc.H, pc.align_corners);
      if (!gs_near(ix, iy, pc.W, pc.H))
        continue;
      float fy = floor(iy);
      int y0 = int(fy);
      float wy;
      if (y0 == h)
        wy = 1.0 - (iy - fy);
      else if (y0 + 1 == h)
        wy = iy - fy;
      else
        continue;
      float fx = floor(ix);
      int x0 = int(fx);
      float tx = ix - fx;
      float go = wy * dout[pc.off[0] + nc * P + p];
      if (x0 >= 0 && x0 < W)
        dinp[row + uint(x0)] += (1.0 - tx) * go;
      if (x0 + 1 >= 0 && x0 + 1 < W)
        dinp[row + uint(x0 + 1)] += tx * go;
    }
}
