#version 450
// CLIP loss backward, step 1: workgroup u < B computes r_u = Σ_j dS_uj·sim_uj (row u), workgroup
// u ≥ B computes c_j = Σ_i dS_ij·sim_ij (column j = u − B), into the cache workspace work[u]
// (shared-memory trees). These are ⟨a_i, ∂L/∂a_i⟩/s and ⟨n_j, ∂L/∂n_j⟩/s for the row-normalisation
// backward, and Σ_u<B r_u = ∂L/∂s. Mirrors compute/ops/elem/dn-losses.c (clip_backward_cpu).
#define DN_PARAMS uint B; uint D; float scale; uint has_dloss;
#include "common.glsl"
#include "elem_clip_common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RW(0, cache)
DN_BUF_RO(1, dloss)

shared float red[256];

void main()
{
  uint u = gl_WorkGroupID.x;
  if (u >= 2u * pc.B) // uniform per workgroup
    return;
  uint t = gl_LocalInvocationID.x, c0 = pc.off[0];
  float g = (pc.has_dloss != 0u ? dloss[pc.off[1]] : 1.0) / (2.0 * float(pc.B));
  bool col = u >= pc.B;
  uint fixed_ = col ? u - pc.B : u;
  float s = 0.0;
  for (uint v = t; v < pc.B; v += 256u)
    {
      uint i = col ? v : fixed_, j = col ? fixed_ : v;
      float sim = cache[c0 + clip_sim() + i * pc.B + j];
      float z = pc.scale * sim;
      float ds = g * (exp(z - cache[c0 + clip_lr() + i]) + exp(z - cache[c0 + clip_lc() + j]) - (i == j ? 2.0 : 0.0));
      s += ds * sim;
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
    cache[c0 + clip_work() + u] = red[0];
}
