#version 450
// CLIP loss backward, step 2 (SIDE 0: image embeddings, SIDE 1: neural embeddings), a 16×16-tiled GEMM
// with dS computed on the fly and the row-normalisation backward fused into the epilogue:
//   SIDE 0: acc_i,d = Σ_j dS_ij·n_j,d;  dimg_i,d += s·(acc − r_i·a_i,d)/‖img_i‖  (s·acc/eps if ‖img_i‖ < eps)
//   SIDE 1: acc_j,d = Σ_i dS_ij·a_i,d;  dneu_j,d += s·(acc − c_j·n_j,d)/‖neu_j‖ (likewise)
// with r, c from elem_clip_rowdot.comp. Mirrors compute/ops/elem/dn-losses.c (clip_backward_cpu) and
// dn_ref_clip_loss_backward.
#define DN_PARAMS uint B; uint D; float scale; uint has_dloss; float eps;
#include "common.glsl"
#include "elem_clip_common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;

DN_BUF_RO(0, cache)
DN_BUF_RO(1, dloss)
DN_BUF_RW(2, grad)

shared float Ps[16][17]; // dS tile: rows = output rows u, columns = summation index v
shared float Xs[16][17]; // other operand tile: rows = v, columns = d

void main()
{
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint u = gl_WorkGroupID.y * 16u + ty;  // output row (i for SIDE 0, j for SIDE 1)
  uint d = gl_WorkGroupID.x * 16u + tx;  // output column
  uint c0 = pc.off[0];
  float g = (pc.has_dloss != 0u ? dloss[pc.off[1]] : 1.0) / (2.0 * float(pc.B));
#if SIDE == 0
  uint other = clip_n(), self_ = clip_a(), nrm = clip_na(), coef = clip_work();
#else
  uint other = clip_a(), self_ = clip_n(), nrm = clip_nn(), coef = clip_work() + pc.B;
#endif
  float acc = 0.0;
  for (uint v0 = 0u; v0 < pc.B; v0 += 16u)
    {
      // dS for (u, v0 + tx)
      uint v = v0 + tx;
      float p = 0.0;
      if (u < pc.B && v < pc.B)
        {
#if SIDE == 0
          uint i = u, j = v;
#else
          uint i = v, j = u;
#endif
          float z = pc.scale * cache[c0 + clip_sim() + i * pc.B + j];
          p = g * (exp(z - cache[c0 + clip_lr() + i]) + exp(z - cache[c0 + clip_lc() + j]) - (i == j ? 2.0 : 0.0));
        }
      Ps[ty][tx] = p;
      uint vl = v0 + ty;
      Xs[ty][tx] = (vl < pc.B && d < pc.D) ? cache[c0 + other + vl * pc.D + d] : 0.0;
      barrier();
      for (uint k = 0u; k < 16u; k++)
        acc += Ps[ty][k] * Xs[k][tx];
      barrier();
    }
  if (u < pc.B && d < pc.D)
    {
      float nv = cache[c0 + nrm + u];
      float r;
      if (nv >= pc.eps)
        r = pc.scale * (acc - cache[c0 + coef + u] * cache[c0 + self_ + u * pc.D + d]) / nv;
      else
        r = pc.scale * acc / pc.eps;
      grad[pc.off[2] + u * pc.D + d] += r;
    }
}
