#version 450
// softmax_fwd: out = exp(x - max) / sum(exp(x - max)) over rows of length L (one row per norm_reduce
// position, lanes along the row). Mirrors dn_softmax_forward (compute/ops/norm/dn-softmax.c).
// A row whose entries are all -inf gives NaN. With ATTN (attention_softmax): in place on binding 1, and
// an all -inf row (every key masked) becomes all zero instead (dn_attention_forward,
// compute/ops/norm/dn-attention.c).
#define DN_PARAMS uint rows; uint L; uint lanes; uint lane_fast;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, inp)
DN_BUF_RW(1, outp)
#ifdef ATTN
#define X(i) outp[pc.off[1] + (i)]
#else
#define X(i) inp[pc.off[0] + (i)]
#endif
void main()
{
  nr_init(pc.lanes, pc.lane_fast);
  uint r = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = r < pc.rows;
  uint base = r * pc.L;
  float mx = uintBitsToFloat(0xff800000u);
  if (valid)
    for (uint j = lane; j < pc.L; j += pc.lanes)
      mx = nr_max2(vec4(mx), vec4(X(base + j))).x;
  mx = nr_max(vec4(mx)).x;
  float acc = 0.0;
  if (valid)
    for (uint j = lane; j < pc.L; j += pc.lanes)
      acc += exp(X(base + j) - mx);
  float s = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (!valid)
    return;
  // an all -inf row: zeros for attention (every key masked), NaN for softmax (as PyTorch), explicitly,
  // since GLSL does not promise NaN from exp(-inf - -inf)
  bool all_masked = mx == uintBitsToFloat(0xff800000u);
#ifdef ATTN
  float masked_value = 0.0;
#else
  float masked_value = uintBitsToFloat(0x7fc00000u);
#endif
  float inv = 1.0 / s;
  for (uint j = lane; j < pc.L; j += pc.lanes)
    outp[pc.off[1] + base + j] = all_masked ? masked_value : exp(X(base + j) - mx) * inv;
}
