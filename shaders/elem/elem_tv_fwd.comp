#version 450
// Total variation forward (twins.md §6.1 step 5): one workgroup per image n of (N,C,H,W) sums
// s = Σ(I[c,y,x+1]−I[c,y,x])² + Σ(I[c,y+1,x]−I[c,y,x])² (per-thread Kahan sums, then a shared-memory
// tree), then norm[n] = sqrt(s + 1e-8) and out[n] = weight·norm[n]. Mirrors compute/ops/elem/dn-tv-loss.c
// and dn_ref_tv_loss_forward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint N; uint C; uint H; uint W; uint has_norm; float weight;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, img)
DN_BUF_WO(1, outv)
DN_BUF_WO(2, normv)

shared float red[256];

void main()
{
  uint n = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (n >= pc.N) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x;
  uint m = pc.C * pc.H * pc.W;
  uint base = pc.off[0] + n * m;
  precise float s = 0.0, c = 0.0;
  for (uint i = t; i < m; i += 256u)
    {
      uint x = i % pc.W, y = (i / pc.W) % pc.H;
      float v = img[base + i], term = 0.0;
      if (x + 1u < pc.W)
        {
          float d = img[base + i + 1u] - v;
          term += d * d;
        }
      if (y + 1u < pc.H)
        {
          float d = img[base + i + pc.W] - v;
          term += d * d;
        }
      precise float yk = term - c;
      precise float tk = s + yk;
      c = (tk - s) - yk;
      s = tk;
    }
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  if (t == 0u)
    {
      float nrm = sqrt(red[0] + 1e-8);
      outv[pc.off[1] + n] = pc.weight * nrm;
      if (pc.has_norm != 0u)
        normv[pc.off[2] + n] = nrm;
    }
}
