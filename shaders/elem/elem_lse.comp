#version 450
// Log-sum-exp of scale·x along the rows (or, with strides swapped, the columns) of a matrix:
// lse[r] = log Σ_k exp(scale·x[r·rs + k·cs]), max-shifted. One workgroup per row: a shared-memory max
// tree, then a shared-memory sum tree. Used by dn_cross_entropy_forward (scale 1, rows of the logits)
// and dn_clip_loss_forward (scale = logit scale, rows and columns of sim). Mirrors compute/ops/elem/
// dn-losses.c (row_lse) and the lse in dn_ref_cross_entropy_forward / dn_ref_clip_loss_forward.
#define DN_PARAMS uint rows; uint len; uint rs; uint cs; float scale;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, x)
DN_BUF_WO(1, lse)

shared float red[256];

void main()
{
  uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (r >= pc.rows) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x;
  uint base = pc.off[0] + r * pc.rs;
  float m = uintBitsToFloat(0xff800000u); // -inf
  for (uint k = t; k < pc.len; k += 256u)
    {
      float v = pc.scale * x[base + k * pc.cs];
      m = (v > m || isnan(v)) ? v : m;
    }
  red[t] = m;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        {
          float o = red[t + w];
          red[t] = (o > red[t] || isnan(o)) ? o : red[t];
        }
      barrier();
    }
  float mx = red[0];
  barrier();
  float s = 0.0;
  for (uint k = t; k < pc.len; k += 256u)
    s += exp(pc.scale * x[base + k * pc.cs] - mx);
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  if (t == 0u)
    lse[pc.off[1] + r] = mx + log(red[0]);
}
