#version 450
// change_norm_bwd: with r = norm[n], den = r + eps, dot = sum(dout·x):
//   dinp += target/den·dout - (r > 0 ? target·dot/(den²·r) : 0)·x     (the norm's gradient is 0 at 0)
// one sample per norm_reduce position. Mirrors dn_change_norm_backward (compute/ops/norm/dn-sample-norm.c).
#define DN_PARAMS uint N; uint M; uint L; uint lane_fast; float target; float eps;
#include "common.glsl"
#include "norm/norm_reduce.glsl"
DN_BUF_RO(0, dout)
DN_BUF_RO(1, x)
DN_BUF_RO(2, nrm)
DN_BUF_RW(3, dinp)
void main()
{
  nr_init(pc.L, pc.lane_fast);
  uint n = nr_group() * nr_P + nr_pos();
  uint lane = nr_lane();
  bool valid = n < pc.N;
  float acc = 0.0;
  if (valid)
    for (uint i = lane; i < pc.M; i += pc.L)
      acc += dout[pc.off[0] + n * pc.M + i] * x[pc.off[1] + n * pc.M + i];
  float dot = nr_sum(vec4(acc, 0, 0, 0)).x;
  if (!valid)
    return;
  float r = nrm[pc.off[2] + n], den = r + pc.eps;
  float a = pc.target / den;
  float k = r > 0.0 ? -pc.target * dot / (den * den * r) : 0.0;
  for (uint i = lane; i < pc.M; i += pc.L)
    {
      uint j = n * pc.M + i;
      dinp[pc.off[3] + j] += a * dout[pc.off[0] + j] + k * x[pc.off[1] + j];
    }
}
