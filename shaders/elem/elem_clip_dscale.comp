#version 450
// CLIP loss backward: dscale[0] += Σ_i work[i] (= Σ_ij dS_ij·sim_ij), one workgroup, shared-memory tree.
// Mirrors compute/ops/elem/dn-losses.c.
#define DN_PARAMS uint B; uint D;
#include "common.glsl"
#include "elem_clip_common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, cache)
DN_BUF_RW(1, dscale)

shared float red[256];

void main()
{
  uint t = gl_LocalInvocationID.x;
  float s = 0.0;
  for (uint i = t; i < pc.B; i += 256u)
    s += cache[pc.off[0] + clip_work() + i];
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  if (t == 0u)
    dscale[pc.off[1]] += red[0];
}
