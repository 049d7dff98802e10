// norm_reduce.glsl: segmented tree reductions shared by the norm family's shaders (include after
// common.glsl). Mirrors nr_layout() in compute/ops/norm/dn-norm-private.h.
//
// A 256-thread workgroup is split into NR_P "positions" (independent reductions) × NR_L "lanes" (NR_L a
// power of two, NR_P = 256/NR_L). With lane_fast the lanes of one position are consecutive invocations
// (rows contiguous in memory); otherwise the positions are (memory-contiguous positions, strided data).
// Each thread accumulates its share sequentially, then the lanes are combined by a shared-memory tree,
// so f32 sums stay close to a float64 reference. Every invocation of the workgroup must call the
// nr_* reductions (uniform control flow); idle threads contribute the neutral element.
layout(local_size_x = 256) in;

shared vec4 nr_sh[256];
uint nr_L;
uint nr_P;
bool nr_fast;

void nr_init(uint L, uint lane_fast)
{
  nr_L = L;
  nr_P = 256u / L;
  nr_fast = lane_fast != 0u;
}
uint nr_pos()
{
  uint t = gl_LocalInvocationIndex;
  return nr_fast ? t / nr_L : t % nr_P;
}
uint nr_lane()
{
  uint t = gl_LocalInvocationIndex;
  return nr_fast ? t % nr_L : t / nr_P;
}
uint nr_slot(uint pos, uint lane)
{
  return nr_fast ? pos * nr_L + lane : lane * nr_P + pos;
}
// the flat workgroup index of a 1-D grid spread over x and y (see dn_vk_dispatch_1d)
uint nr_group()
{
  return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

// Sum over the lanes of this thread's position; every lane gets the total.
vec4 nr_sum(vec4 v)
{
  uint pos = nr_pos(), lane = nr_lane();
  nr_sh[gl_LocalInvocationIndex] = v;
  barrier();
  for (uint s = nr_L >> 1; s > 0u; s >>= 1)
    {
      if (lane < s)
        nr_sh[nr_slot(pos, lane)] += nr_sh[nr_slot(pos, lane + s)];
      barrier();
    }
  vec4 r = nr_sh[nr_slot(pos, 0u)];
  barrier();
  return r;
}

// NaN-propagating max (GLSL's max() may drop NaNs).
vec4 nr_max2(vec4 a, vec4 b)
{
  return mix(mix(max(a, b), a, isnan(a)), b, isnan(b));
}

// Max over the lanes (NaN-propagating: a NaN in any lane gives NaN).
vec4 nr_max(vec4 v)
{
  uint pos = nr_pos(), lane = nr_lane();
  nr_sh[gl_LocalInvocationIndex] = v;
  barrier();
  for (uint s = nr_L >> 1; s > 0u; s >>= 1)
    {
      if (lane < s)
        {
          vec4 a = nr_sh[nr_slot(pos, lane)], b = nr_sh[nr_slot(pos, lane + s)];
          nr_sh[nr_slot(pos, lane)] = nr_max2(a, b);
        }
      barrier();
    }
  vec4 r = nr_sh[nr_slot(pos, 0u)];
  barrier();
  return r;
}

// Sum over the whole workgroup (all 256 invocations, whatever the layout); everyone gets the total.
vec4 nr_sum_all(vec4 v)
{
  uint t = gl_LocalInvocationIndex;
  nr_sh[t] = v;
  barrier();
  for (uint s = 128u; s > 0u; s >>= 1)
    {
      if (t < s)
        nr_sh[t] += nr_sh[t + s];
      barrier();
    }
  vec4 r = nr_sh[0];
  barrier();
  return r;
}
