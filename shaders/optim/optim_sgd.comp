#version 450
// optim_sgd (MOMENTUM=0) / optim_sgd_momentum (MOMENTUM=1): one torch.optim.SGD step on one tensor.
// Mirrors dn_sgd_step (compute/ops/optim/dn-optim.c, same float operations in the same order) and the
// float64 reference dn_ref_sgd_step (compute/ref/dn-ref-optim.c). Rounding as PyTorch's AVX2 kernels:
// `a + alpha*b` (add_ with alpha) is one fma, nothing else is fused (`precise` forbids contraction).
#define DN_PARAMS uint n; uint flags; float weight_decay; float momentum; float one_minus_dampening; float neg_lr;
#include "common.glsl"
layout(local_size_x = 256) in;

// flags: 1 = weight decay, 2 = first step (b = d), 4 = nesterov
DN_BUF_RW(0, param)
#if MOMENTUM
DN_BUF_RW(1, buf)
DN_BUF_RO(2, grad)
#define GRAD_SLOT 2
#else
DN_BUF_RO(1, grad)
#define GRAD_SLOT 1
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  precise float p = param[pc.off[0] + i];
  precise float d = grad[pc.off[GRAD_SLOT] + i];
  if ((pc.flags & 1u) != 0u)
    d = fma(p, pc.weight_decay, d);
#if MOMENTUM
  precise float b;
  if ((pc.flags & 2u) != 0u)
    b = d;
  else
    {
      b = buf[pc.off[1] + i] * pc.momentum;
      b = fma(d, pc.one_minus_dampening, b);
    }
  buf[pc.off[1] + i] = b;
  if ((pc.flags & 4u) != 0u)
    d = fma(b, pc.momentum, d);
  else
    d = b;
#endif
  precise float r = fma(d, pc.neg_lr, p);
  param[pc.off[0] + i] = r;
}
