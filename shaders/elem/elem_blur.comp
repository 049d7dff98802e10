#version 450
// Separable Gaussian blur with reflect padding (torchvision gaussian_blur) over planes (P,H,W).
// One 16×16 workgroup per output tile (planes along z): the tile plus a halo of r = (k−1)/2 is loaded
// into shared memory, then a horizontal and a vertical pass of the 1-D kernel kw[|t|], t = −r…r (the
// half kernel, kw[0] the centre weight, computed on the host in double and rounded to float).
// Forward: out[y,x] = Σ_t kw[t] Σ_u kw[u] x[refl(y+t), refl(x+u)].
// BACKWARD (the transposed operator, per axis): dx[s] += Σ_{q∈M(s)} Σ_t kw[t] dy[q−t] over in-image
// q−t, where M(s) = {s} ∪ {−s if 1≤s≤r} ∪ {2(n−1)−s if n−1−r≤s≤n−2} are the padded coordinates that
// reflect onto s. All the in-image positions a tile needs lie in its halo, so the halo (zero outside the
// image) suffices. Mirrors compute/ops/elem/dn-pad-blur.c and dn_ref_gaussian_blur2d_*.
#define DN_PARAMS uint P; uint H; uint W; int r; float kw[20];
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;

#define T 16
#define RMAX 19
#define E (T + 2 * RMAX)

DN_BUF_RO(0, src)
#if BACKWARD
DN_BUF_RW(1, dst)
#else
DN_BUF_WO(1, dst)
#endif

shared float tile[E * E];
shared float mid[E * T];

int reflect1(int q, int n)
{
  q = q < 0 ? -q : q;
  return q >= n ? 2 * (n - 1) - q : q;
}

void main()
{
  int r = pc.r, e = T + 2 * r;
  int H = int(pc.H), W = int(pc.W);
  int h0 = int(gl_WorkGroupID.y) * T, w0 = int(gl_WorkGroupID.x) * T;
  int tid = int(gl_LocalInvocationIndex);
  int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
  for (uint p = gl_WorkGroupID.z; p < pc.P; p += gl_NumWorkGroups.z)
    {
      uint base = p * pc.H * pc.W;
      // 1. load the tile with its halo: rows h0−r … h0+T−1+r, columns w0−r … w0+T−1+r
      for (int k = tid; k < e * e; k += T * T)
        {
          int ly = k / e, lx = k - ly * e;
          int qy = h0 - r + ly, qx = w0 - r + lx;
          float v = 0.0;
#if BACKWARD
          if (qy >= 0 && qy < H && qx >= 0 && qx < W)
            v = src[pc.off[0] + base + uint(qy * W + qx)];
#else
          // only coordinates some in-image output needs (then reflect1 is valid because r < H, W)
          if (qy <= min(h0 + T - 1, H - 1) + r && qx <= min(w0 + T - 1, W - 1) + r)
            v = src[pc.off[0] + base + uint(reflect1(qy, H) * W + reflect1(qx, W))];
#endif
          tile[k] = v;
        }
      barrier();
      // 2. horizontal pass for every halo row and the T output columns
      for (int k = tid; k < e * T; k += T * T)
        {
          int ly = k / T, lx = k - ly * T;
          float s = 0.0;
#if BACKWARD
          int sx = w0 + lx;
          if (sx < W)
            {
              for (int m = 0; m < 3; m++)
                {
                  int q = m == 0 ? sx : (m == 1 ? -sx : 2 * (W - 1) - sx);
                  bool use = m == 0 || (m == 1 && sx >= 1 && sx <= r) || (m == 2 && sx >= W - 1 - r && sx <= W - 2);
                  if (!use)
                    continue;
                  for (int t = -r; t <= r; t++)
                    {
                      int idx = q - t - (w0 - r);
                      if (idx >= 0 && idx < e)
                        s += pc.kw[abs(t)] * tile[ly * e + idx];
                    }
                }
            }
#else
          for (int t = -r; t <= r; t++)
            s += pc.kw[abs(t)] * tile[ly * e + lx + r + t];
#endif
          mid[k] = s;
        }
      barrier();
      // 3. vertical pass and store
      int y = h0 + ty, x = w0 + tx;
      if (y < H && x < W)
        {
          float s = 0.0;
#if BACKWARD
          for (int m = 0; m < 3; m++)
            {
              int q = m == 0 ? y : (m == 1 ? -y : 2 * (H - 1) - y);
              bool use = m == 0 || (m == 1 && y >= 1 && y <= r) || (m == 2 && y >= H - 1 - r && y <= H - 2);
              if (!use)
                continue;
              for (int t = -r; t <= r; t++)
                {
                  int idx = q - t - (h0 - r);
                  if (idx >= 0 && idx < e)
                    s += pc.kw[abs(t)] * mid[idx * T + tx];
                }
            }
          dst[pc.off[1] + base + uint(y * W + x)] += s;
#else
          for (int t = -r; t <= r; t++)
            s += pc.kw[abs(t)] * mid[(ty + r + t) * T + tx];
          dst[pc.off[1] + base + uint(y * W + x)] = s;
#endif
        }
      barrier();
    }
}
