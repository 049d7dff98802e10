#version 450
// CLIP loss: sim = a·nᵀ (B×B, K = D) from the normalised embeddings in the cache, as a 16×16-tiled
// shared-memory GEMM (one workgroup per output tile). Each 16-term tile product is added to the running
// sum with Kahan compensation: the cosines of long (D = 1024), all-positive embeddings otherwise lose
// ~sqrt(D) ulps, which the logit scale of 100 magnifies. Mirrors the cblas_sgemm in
// compute/ops/elem/dn-losses.c (dn_clip_loss_forward).
#define DN_PARAMS uint B; uint D;
#include "common.glsl"
#include "elem_clip_common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;

DN_BUF_RW(0, cache)

shared float As[16][17];
shared float Bs[16][17];

void main()
{
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint i = gl_WorkGroupID.y * 16u + ty; // row of a
  uint j = gl_WorkGroupID.x * 16u + tx; // row of n
  uint jl = gl_WorkGroupID.x * 16u + ty; // row of n this thread loads
  uint c0 = pc.off[0];
  precise float acc = 0.0, comp = 0.0;
  for (uint d0 = 0u; d0 < pc.D; d0 += 16u)
    {
      uint d = d0 + tx;
      As[ty][tx] = (i < pc.B && d < pc.D) ? cache[c0 + clip_a() + i * pc.D + d] : 0.0;
      Bs[ty][tx] = (jl < pc.B && d < pc.D) ? cache[c0 + clip_n() + jl * pc.D + d] : 0.0;
      barrier();
      float part = 0.0;
      for (uint k = 0u; k < 16u; k++)
        part += As[ty][k] * Bs[tx][k];
      precise float yk = part - comp;
      precise float tk = acc + yk;
      comp = (tk - acc) - yk;
      acc = tk;
      barrier();
    }
  if (i < pc.B && j < pc.B)
    cache[c0 + clip_sim() + i * pc.B + j] = acc;
}
