#version 450
// optim_adam: one torch.optim.Adam / AdamW step on one tensor (amsgrad off). Mirrors dn_adam_step and
// dn_adamw_step (compute/ops/optim/dn-optim.c, same float operations in the same order) and the float64
// reference dn_ref_adam_step (compute/ref/dn-ref-optim.c). The host derives the scalars in double as
// torch does (bc2_sqrt = sqrt(1 - beta2^t), neg_step_size = -lr/(1 - beta1^t), decay = 1 - lr*wd).
// Rounding as PyTorch's AVX2 kernels: add_ with alpha and addcmul_ end in one fma, nothing else is fused
// (`precise` forbids contraction); this replays PyTorch's Adam bitwise where sqrt and / are IEEE.
#define DN_PARAMS uint n; uint flags; float weight_decay; float decay; float beta1; float one_minus_beta1; \
  float beta2; float one_minus_beta2; float bc2_sqrt; float neg_step_size; float eps;
#include "common.glsl"
layout(local_size_x = 256) in;

// flags: 1 = L2 weight decay added to the gradient (Adam), 2 = decoupled decay p *= decay (AdamW)
DN_BUF_RW(0, param)
DN_BUF_RW(1, exp_avg)
DN_BUF_RW(2, exp_avg_sq)
DN_BUF_RO(3, grad)

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  precise float p = param[pc.off[0] + i];
  precise float g = grad[pc.off[3] + i];
  if ((pc.flags & 1u) != 0u)
    g = fma(p, pc.weight_decay, g);
  if ((pc.flags & 2u) != 0u)
    p = p * pc.decay;
  precise float m = exp_avg[pc.off[1] + i] * pc.beta1;
  m = fma(g, pc.one_minus_beta1, m);
  precise float v = exp_avg_sq[pc.off[2] + i] * pc.beta2;
  v = fma(pc.one_minus_beta2 * g, g, v);
  exp_avg[pc.off[1] + i] = m;
  exp_avg_sq[pc.off[2] + i] = v;
  precise float denom = sqrt(v) / pc.bc2_sqrt + pc.eps;
  precise float r = p + (pc.neg_step_size * m) / denom;
  param[pc.off[0] + i] = r;
}
