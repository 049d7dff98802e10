#version 450
// Cross-entropy backward, one invocation per logit:
// dlogits[b,k] += g/B·(exp(logits[b,k] − lse[b]) − [k == t_b]), g = dloss[0] (or 1 without dloss).
// Mirrors compute/ops/elem/dn-losses.c and dn_ref_cross_entropy_backward.
#define DN_PARAMS uint B; uint K; uint has_dloss;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, logits)
DN_BUF_RO(1, targets)
DN_BUF_RO(2, lse)
DN_BUF_RO(3, dloss)
DN_BUF_RW(4, dlogits)

void main()
{
  uint i = dn_gid();
  if (i >= pc.B * pc.K)
    return;
  uint b = i / pc.K, k = i - b * pc.K;
  float g = (pc.has_dloss != 0u ? dloss[pc.off[3]] : 1.0) / float(pc.B);
  float tf = targets[pc.off[1] + b];
  bool valid = tf >= 0.0 && tf < float(pc.K) && tf == floor(tf);
  float p = exp(logits[pc.off[0] + i] - lse[pc.off[2] + b]);
  float d = valid ? g * (p - (uint(tf) == k ? 1.0 : 0.0)) : uintBitsToFloat(0x7fc00000u);
  dlogits[pc.off[4] + i] += d;
}
