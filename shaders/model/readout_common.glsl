// readout_common.glsl: bilinear sampling position of a neuron (align_corners=True), shared by the
// readout shaders. Expects pc.H, pc.W, pc.has_mu and a buffer `mu`.
void readout_pos(uint k, out int x0, out int y0, out float wx, out float wy, out bool gx_in, out bool gy_in)
{
  float gx = 0.0, gy = 0.0;
  if (pc.has_mu != 0)
    {
      gx = mu[pc.off[1] + 2 * k];
      gy = mu[pc.off[1] + 2 * k + 1];
    }
  gx_in = gx >= -1.0 && gx <= 1.0;
  gy_in = gy >= -1.0 && gy <= 1.0;
  gx = clamp(gx, -1.0, 1.0);
  gy = clamp(gy, -1.0, 1.0);
  float ix = ((gx + 1.0) / 2.0) * float(pc.W - 1);
  float iy = ((gy + 1.0) / 2.0) * float(pc.H - 1);
  float fx = floor(ix), fy = floor(iy);
  x0 = int(fx);
  y0 = int(fy);
  wx = ix - fx;
  wy = iy - fy;
}

float feat_at(uint base, int y, int x)
{
  if (y < 0 || y >= int(pc.H) || x < 0 || x >= int(pc.W))
    return 0.0;
  return feat[pc.off[0] + base + uint(y) * pc.W + uint(x)];
}
