#version 450
// Cross-entropy mean: one workgroup sums lse[b] − logits[b, t_b] over the B rows (shared-memory tree)
// and writes loss[0] = sum / B. A target that is not an integer in [0, K) gives NaN.
// Mirrors compute/ops/elem/dn-losses.c and dn_ref_cross_entropy_forward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint B; uint K;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, logits)
DN_BUF_RO(1, targets)
DN_BUF_RO(2, lse)
DN_BUF_WO(3, loss)

shared float red[256];

void main()
{
  uint t = gl_LocalInvocationID.x;
  float s = 0.0;
  for (uint b = t; b < pc.B; b += 256u)
    {
      float tf = targets[pc.off[1] + b];
      if (tf >= 0.0 && tf < float(pc.K) && tf == floor(tf))
        s += lse[pc.off[2] + b] - logits[pc.off[0] + b * pc.K + uint(tf)];
      else
        s += uintBitsToFloat(0x7fc00000u); // NaN
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
    loss[pc.off[3]] = red[0] / float(pc.B);
}
