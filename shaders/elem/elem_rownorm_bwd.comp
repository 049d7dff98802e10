#version 450
// Row L2-normalisation backward: one workgroup per row b: ⟨out_b, dout_b⟩ by a shared-memory tree, then
// dinp += (dout − out·⟨out,dout⟩)/‖x_b‖ if ‖x_b‖ ≥ eps, else dout/eps (PyTorch's clamp_min rule).
// Mirrors compute/ops/elem/dn-losses.c and dn_ref_row_normalize_backward.
#define DN_PARAMS uint B; uint D; float eps;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, y)
DN_BUF_RO(1, normv)
DN_BUF_RO(2, dy)
DN_BUF_RW(3, dx)

shared float red[256];

void main()
{
  uint b = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (b >= pc.B) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x;
  uint by = pc.off[0] + b * pc.D, bg = pc.off[2] + b * pc.D, bx = pc.off[3] + b * pc.D;
  float s = 0.0;
  for (uint d = t; d < pc.D; d += 256u)
    s += y[by + d] * dy[bg + d];
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  float dot = red[0];
  float nrm = normv[pc.off[1] + b];
  if (nrm >= pc.eps)
    for (uint d = t; d < pc.D; d += 256u)
      dx[bx + d] += (dy[bg + d] - y[by + d] * dot) / nrm;
  else
    for (uint d = t; d < pc.D; d += 256u)
      dx[bx + d] += dy[bg + d] / pc.eps;
}
