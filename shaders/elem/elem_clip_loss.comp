#version 450
// CLIP loss value: loss = 1/(2B)·Σ_i (lse_row_i + lse_col_i − 2·s·sim_ii), one workgroup with a
// shared-memory tree. Mirrors compute/ops/elem/dn-losses.c and dn_ref_clip_loss_forward.
#define DN_PARAMS uint B; uint D; float scale;
#include "common.glsl"
#include "elem_clip_common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, cache)
DN_BUF_WO(1, loss)

shared float red[256];

void main()
{
  uint t = gl_LocalInvocationID.x, c0 = pc.off[0];
  float s = 0.0;
  for (uint i = t; i < pc.B; i += 256u)
    s += cache[c0 + clip_lr() + i] + cache[c0 + clip_lc() + i] - 2.0 * pc.scale * cache[c0 + clip_sim() + i * pc.B + i];
  red[t] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (t < w)
        red[t] += red[t + w];
      barrier();
    }
  if (t == 0u)
    loss[pc.off[1]] = red[0] / (2.0 * float(pc.B));
}
