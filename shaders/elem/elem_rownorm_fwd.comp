#version 450
// Row L2-normalisation: one workgroup per row b of (B,D): ‖x_b‖ by per-thread Kahan sums and a
// shared-memory tree, then out[b,:] = x[b,:] / max(‖x_b‖, eps); norm[b] = ‖x_b‖ when has_norm. Used by dn_row_normalize_forward
// and dn_clip_loss_forward. Mirrors compute/ops/elem/dn-losses.c and dn_ref_row_normalize_forward.
#define DN_PARAMS uint B; uint D; float eps; uint has_norm;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, x)
DN_BUF_WO(1, y)
DN_BUF_WO(2, normv)

shared float red[256];

void main()
{
  uint b = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (b >= pc.B) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x;
  uint bx = pc.off[0] + b * pc.D, by = pc.off[1] + b * pc.D;
  precise float s = 0.0, c = 0.0; // per-thread Kahan sums
  for (uint d = t; d < pc.D; d += 256u)
    {
      float v = x[bx + d];
      precise float yk = v * v - c;
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
  float nrm = sqrt(red[0]);
  float den = nrm > pc.eps ? nrm : pc.eps;
  for (uint d = t; d < pc.D; d += 256u)
    y[by + d] = x[bx + d] / den;
  if (t == 0u && pc.has_norm != 0u)
    normv[pc.off[2] + b] = nrm;
}
