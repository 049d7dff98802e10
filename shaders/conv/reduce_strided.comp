#version 450
// reduce_strided: y[j] (=|+=) scale · Σ_{r1,r2} x[(j / inner)·s_outer + (j % inner)·s_inner + r1·s1 + r2·s2].
// Mirrors the Vulkan path of dn_reduce_strided (compute/ops/conv/dn-reduce.c), which serves the sum/mean
// reductions and every dbias of the family. Variants: one invocation per output (default: short sums
// of many outputs) and one workgroup per output (-DREDUCE_GROUP: long sums). Accuracy: Kahan sums per
// invocation, combined by a compensated (TwoSum) tree, all `precise` so no compiler reassociates them.
#define DN_PARAMS uint J; uint inner; uint s_outer; uint s_inner; uint R1; uint s1; uint R2; uint s2; \
  float scale; uint accumulate;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, x)
DN_BUF_RW(1, y)

// Kahan step: (s, c) += v, where the exact sum is s - c (an infinite sum stays infinite, not NaN).
#define KAHAN_ADD(s, c, v)                                                                                     \
  {                                                                                                            \
    precise float yv_ = (v) - c;                                                                               \
    precise float t_ = s + yv_;                                                                                \
    c = isinf(t_) ? 0.0 : (t_ - s) - yv_;                                                                      \
    s = t_;                                                                                                    \
  }

void store(uint j, float hi, float lo)
{
  precise float v = (hi + lo) * pc.scale;
  uint i = pc.off[1] + j;
  if (pc.accumulate != 0u)
    y[i] = y[i] + v;
  else
    y[i] = v;
}

#ifdef REDUCE_GROUP
shared float sh_hi[256];
shared float sh_lo[256];

void main()
{
  uint j = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (j >= pc.J) // uniform over the workgroup
    return;
  uint tid = gl_LocalInvocationIndex;
  uint base = pc.off[0] + (j / pc.inner) * pc.s_outer + (j % pc.inner) * pc.s_inner;
  uint R = pc.R1 * pc.R2;
  precise float s = 0.0, c = 0.0;
  for (uint r = tid; r < R; r += 256u)
    {
      uint r1 = r / pc.R2, r2 = r - r1 * pc.R2;
      KAHAN_ADD(s, c, x[base + r1 * pc.s1 + r2 * pc.s2]);
    }
  sh_hi[tid] = s;
  sh_lo[tid] = -c;
  barrier();
  // compensated tree: (hi, lo) pairs, TwoSum on the his, the errors carried in the los
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (tid < w)
        {
          precise float a = sh_hi[tid], b = sh_hi[tid + w];
          precise float t = a + b;
          precise float bb = t - a;
          precise float err = isinf(t) ? 0.0 : (a - (t - bb)) + (b - bb);
          sh_hi[tid] = t;
          sh_lo[tid] = sh_lo[tid] + sh_lo[tid + w] + err;
        }
      barrier();
    }
  if (tid == 0u)
    store(j, sh_hi[0], sh_lo[0]);
}
#else
void main()
{
  uint j = dn_gid();
  if (j >= pc.J)
    return;
  uint base = pc.off[0] + (j / pc.inner) * pc.s_outer + (j % pc.inner) * pc.s_inner;
  precise float s = 0.0, c = 0.0;
  for (uint r1 = 0u; r1 < pc.R1; r1++)
    for (uint r2 = 0u; r2 < pc.R2; r2++)
      KAHAN_ADD(s, c, x[base + r1 * pc.s1 + r2 * pc.s2]);
  store(j, s, -c);
}
#endif
