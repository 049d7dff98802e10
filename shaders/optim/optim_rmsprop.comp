#version 450
// optim_rmsprop{,_m,_c,_cm}: one torch.optim.RMSprop step on one tensor; variants by MOMENTUM (=1: a
// momentum buffer) and CENTERED (=1: a gradient average). Mirrors dn_rmsprop_step
// (compute/ops/optim/dn-optim.c, same float operations in the same order) and the float64 reference
// dn_ref_rmsprop_step (compute/ref/dn-ref-optim.c). Rounding as PyTorch's AVX2 kernels: add_ with alpha
// and addcmul_ end in one fma, nothing else is fused (`precise` forbids contraction).
#define DN_PARAMS uint n; uint flags; float weight_decay; float alpha; float one_minus_alpha; float eps; \
  float momentum; float neg_lr;
#include "common.glsl"
layout(local_size_x = 256) in;

// flags: 1 = weight decay
// slots: 0 param, 1 square_avg, 2 grad, then the momentum buffer (MOMENTUM), then grad_avg (CENTERED)
DN_BUF_RW(0, param)
DN_BUF_RW(1, square_avg)
DN_BUF_RO(2, grad)
#if MOMENTUM
DN_BUF_RW(3, buf)
#endif
#if CENTERED
#define GAVG_SLOT (3 + MOMENTUM)
#if MOMENTUM
DN_BUF_RW(4, grad_avg)
#else
DN_BUF_RW(3, grad_avg)
#endif
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  precise float p = param[pc.off[0] + i];
  precise float g = grad[pc.off[2] + i];
  if ((pc.flags & 1u) != 0u)
    g = fma(p, pc.weight_decay, g);
  precise float s = square_avg[pc.off[1] + i] * pc.alpha;
  s = fma(pc.one_minus_alpha * g, g, s);
  square_avg[pc.off[1] + i] = s;
  precise float avg;
#if CENTERED
  precise float a = grad_avg[pc.off[GAVG_SLOT] + i] * pc.alpha;
  a = fma(g, pc.one_minus_alpha, a);
  grad_avg[pc.off[GAVG_SLOT] + i] = a;
  avg = sqrt(fma(-a, a, s));
#else
  avg = sqrt(s);
#endif
  avg = avg + pc.eps;
#if MOMENTUM
  precise float b = buf[pc.off[3] + i] * pc.momentum;
  b = b + g / avg;
  buf[pc.off[3] + i] = b;
  precise float r = fma(b, pc.neg_lr, p);
  param[pc.off[0] + i] = r;
#else
  precise float r = p + (pc.neg_lr * g) / avg;
  param[pc.off[0] + i] = r;
#endif
}
