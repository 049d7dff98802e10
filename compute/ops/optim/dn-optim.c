/* dn-optim.c: optimizer steps (SGD, Adam, AdamW, RMSprop) on both backends: argument checks, the host
 * side scalars (derived in double as torch/optim does), the CPU kernels and the Vulkan dispatches of
 * shaders/optim/{optim_sgd,optim_adam,optim_rmsprop}.comp. See dn-ops-optim.h for the semantics; the
 * float64 references are in compute/ref/dn-ref-optim.c.
 *
 * Rounding: the kernels reproduce PyTorch 1.13's CPU (AVX2) kernels operation by operation, which fuse
 * `a + α·b` (Tensor.add_ with alpha, vectorised as fmadd) and `a + (v·b)·c` (addcmul_) into one fma, and
 * do not fuse anything else (`a + (v·b)/c`, addcdiv_, is two roundings). fma() below is therefore
 * explicit, and every other operation is compiled without contraction (GCC in ISO C mode does not
 * contract; clang is told below). The shaders do the same with `precise` + fma(). With this the Adam
 * replay of v4_fixture.h5 is bitwise equal to PyTorch (tests/optim/test-op-adam.c). On x86-64 the kernels
 * are compiled twice, for AVX2+FMA (inline vfmadd, picked at run time) and generic (libm fmaf, which is
 * exact too, just slower).
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "dn-device-private.h"
#include "dn-ops-optim.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define OPTIM_GRAIN (1 << 14)

/* Defines fn (void *ctx, int64_t begin, int64_t end), the CPU kernel whose body is body (ctx, begin, end),
 * picking at run time an AVX2+FMA compilation of the body where the CPU has it. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OPTIM_KERNEL(fn, body)                                                                          \
  static void fn##_generic (void *ctx, int64_t begin, int64_t end)                                     \
  {                                                                                                    \
    body (ctx, begin, end);                                                                            \
  }                                                                                                    \
  __attribute__ ((target ("avx2,fma"), optimize ("O3"))) static void fn##_fma (void *ctx, int64_t begin,  \
                                                                                int64_t end)          \
  {                                                                                                    \
    body (ctx, begin, end);                                                                            \
  }                                                                                                    \
  static void fn (void *ctx, int64_t begin, int64_t end)                                               \
  {                                                                                                    \
    if (dn_cpu_have_avx2_fma ())                                                                       \
      fn##_fma (ctx, begin, end);                                                                      \
    else                                                                                               \
      fn##_generic (ctx, begin, end);                                                                  \
  }
#else
#define OPTIM_KERNEL(fn, body)                                                                          \
  static void fn (void *ctx, int64_t begin, int64_t end)                                               \
  {                                                                                                    \
    body (ctx, begin, end);                                                                            \
  }
#endif
#define OPTIM_INLINE static inline __attribute__ ((always_inline))

/* Checks ------------------------------------------------------------------------------------------- */

static bool
overlaps (const DnTensor *a, const DnTensor *b)
{
  if (a->buf != b->buf)
    return false;
  int64_t na = dn_tensor_numel (a), nb = dn_tensor_numel (b);
  return na > 0 && nb > 0 && a->offset < b->offset + nb && b->offset < a->offset + na;
}

/* @state: the state tensors (NULL entries are skipped: the caller checked they are not needed). */
static DnStatus
check_tensors (const char *op, const DnTensor *param, const DnTensor *grad, const DnTensor *const *state,
               const char *const *state_names, int n_state)
{
  if (!param)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: param is NULL", op);
  if (!grad)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: grad is NULL", op);
  DN_CHECK_SAME_DEVICE (op, param, grad);
  DN_CHECK_SAME_SHAPE (op, param, grad);
  if (overlaps (param, grad))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: grad shares storage with param", op);
  for (int i = 0; i < n_state; i++)
    {
      const DnTensor *s = state[i];
      if (!s)
        continue;
      DN_CHECK_SAME_DEVICE (op, param, s);
      if (!dn_tensor_same_shape (param, s))
        {
          char a[128], b[128];
          return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s does not have the shape of param %s", op,
                               state_names[i], dn_tensor_shape_str (s, a, sizeof a),
                               dn_tensor_shape_str (param, b, sizeof b));
        }
      if (overlaps (s, param) || overlaps (s, grad))
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s shares storage with param or grad", op,
                             state_names[i]);
      for (int j = 0; j < i; j++)
        if (state[j] && overlaps (s, state[j]))
          return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s shares storage with %s", op, state_names[i],
                               state_names[j]);
    }
  int64_t n = dn_tensor_numel (param);
  if (n > UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " elements exceed the 2^32 limit", op, n);
  return DN_OK;
}

/* true when x is a finite number ≥ 0 (so NaN fails) */
static bool
nonneg (double x)
{
  return x >= 0 && isfinite (x);
}

/* SGD ---------------------------------------------------------------------------------------------- */

DnSgdParams
dn_sgd_params_default (double lr)
{
  return (DnSgdParams){ .lr = lr };
}

enum
{
  SGD_WEIGHT_DECAY = 1,
  SGD_FIRST = 2,
  SGD_NESTEROV = 4,
};

typedef struct
{
  uint32_t n;
  uint32_t flags;
  float weight_decay;
  float momentum;
  float one_minus_dampening;
  float neg_lr;
} SgdPush;
_Static_assert (sizeof (SgdPush) == 24, "SgdPush mirrors optim_sgd.comp");

typedef struct
{
  float *p, *b;
  const float *g;
  SgdPush pc;
} SgdArgs;

/* One loop per flag combination (constant-folded), so that each is branch-free and vectorises. */
OPTIM_INLINE void
sgd_loop (const SgdArgs *a, int64_t begin, int64_t end, bool wd, bool momentum, bool first, bool nest)
{
  const SgdPush pc = a->pc;
  float *restrict p = a->p, *restrict b = a->b;
  const float *restrict g = a->g;
  for (int64_t i = begin; i < end; i++)
    {
      float pv = p[i];
      float d = g[i];
      if (wd)
        d = fmaf (pv, pc.weight_decay, d); /* d_p.add (param, alpha=weight_decay) */
      if (momentum)
        {
          float bv;
          if (first)
            bv = d;
          else
            {
              bv = b[i] * pc.momentum;                   /* buf.mul_ (momentum) */
              bv = fmaf (d, pc.one_minus_dampening, bv); /* .add_ (d_p, alpha=1 - dampening) */
            }
          b[i] = bv;
          d = nest ? fmaf (bv, pc.momentum, d) : bv; /* d_p.add (buf, alpha=momentum) */
        }
      p[i] = fmaf (d, pc.neg_lr, pv); /* param.add_ (d_p, alpha=-lr) */
    }
}

OPTIM_INLINE void
sgd_body (void *ctx, int64_t begin, int64_t end)
{
  const SgdArgs *a = ctx;
  unsigned k = a->pc.flags | (a->b ? 8 : 0);
  switch (k)
    {
#define SGD_CASE(k)                                                                                    \
  case k:                                                                                              \
    sgd_loop (a, begin, end, (k) & SGD_WEIGHT_DECAY, (k) & 8, (k) & SGD_FIRST, (k) & SGD_NESTEROV);     \
    break;
      SGD_CASE (0) SGD_CASE (1) SGD_CASE (2) SGD_CASE (3) SGD_CASE (4) SGD_CASE (5) SGD_CASE (6) SGD_CASE (7)
      SGD_CASE (8) SGD_CASE (9) SGD_CASE (10) SGD_CASE (11) SGD_CASE (12) SGD_CASE (13) SGD_CASE (14) SGD_CASE (15)
#undef SGD_CASE
    }
}

OPTIM_KERNEL (sgd_range, sgd_body)

DnStatus
dn_sgd_step (DnTensor *param,        // (any) updated in place
             DnTensor *momentum_buf, // (same as param) or NULL when momentum == 0
             const DnTensor *grad,   // (same as param)
             const DnSgdParams *p, int64_t step)
{
  const char *op = "sgd_step";
  if (!p)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: params are NULL", op);
  if (!nonneg (p->lr) || !nonneg (p->momentum) || !isfinite (p->dampening) || !nonneg (p->weight_decay))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: invalid settings lr %g, momentum %g, dampening %g, weight_decay %g", op, p->lr,
                         p->momentum, p->dampening, p->weight_decay);
  if (p->nesterov && (p->momentum <= 0 || p->dampening != 0))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: nesterov needs momentum > 0 and zero dampening", op);
  if (step < 1)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: step %" PRId64 " < 1 (steps count from 1)", op, step);
  bool use_momentum = p->momentum != 0;
  if (use_momentum && !momentum_buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: momentum %g needs a momentum buffer", op, p->momentum);
  const DnTensor *state[] = { use_momentum ? momentum_buf : NULL };
  const char *names[] = { "momentum_buf" };
  DN_TRY (check_tensors (op, param, grad, state, names, 1));
  int64_t n = dn_tensor_numel (param);
  if (n == 0)
    return DN_OK;

  SgdPush pc = {
    .n = (uint32_t) n,
    .flags = (p->weight_decay != 0 ? SGD_WEIGHT_DECAY : 0) | (step == 1 ? SGD_FIRST : 0)
             | (p->nesterov ? SGD_NESTEROV : 0),
    .weight_decay = (float) p->weight_decay,
    .momentum = (float) p->momentum,
    .one_minus_dampening = (float) (1 - p->dampening),
    .neg_lr = (float) -p->lr,
  };
  if (dn_device_is_cpu (param->dev))
    {
      SgdArgs a = { .p = dn_tensor_host (param), .b = use_momentum ? dn_tensor_host (momentum_buf) : NULL,
                    .g = dn_tensor_host (grad), .pc = pc };
      dn_cpu_parallel_for (param->dev, n, OPTIM_GRAIN, sgd_range, &a);
      return DN_OK;
    }
  if (use_momentum)
    {
      DnBinding b[] = { DN_READ_WRITE (param), DN_READ_WRITE (momentum_buf), DN_READ (grad) };
      return dn_vk_dispatch_1d (param->dev, DN_SHADER_OPTIM_SGD_MOMENTUM, b, 3, &pc, sizeof pc, n);
    }
  DnBinding b[] = { DN_READ_WRITE (param), DN_READ (grad) };
  return dn_vk_dispatch_1d (param->dev, DN_SHADER_OPTIM_SGD, b, 2, &pc, sizeof pc, n);
}

/* Adam / AdamW ------------------------------------------------------------------------------------- */

DnAdamParams
dn_adam_params_default (double lr)
{
  return (DnAdamParams){ .lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0 };
}

enum
{
  ADAM_L2 = 1,
  ADAM_DECOUPLED = 2,
};

typedef struct
{
  uint32_t n;
  uint32_t flags;
  float weight_decay;
  float decay;
  float beta1;
  float one_minus_beta1;
  float beta2;
  float one_minus_beta2;
  float bc2_sqrt;
  float neg_step_size;
  float eps;
} AdamPush;
_Static_assert (sizeof (AdamPush) == 44, "AdamPush mirrors optim_adam.comp");

typedef struct
{
  float *p, *m, *v;
  const float *g;
  AdamPush pc;
} AdamArgs;

OPTIM_INLINE void
adam_loop (const AdamArgs *a, int64_t begin, int64_t end, bool l2, bool decoupled)
{
  const AdamPush pc = a->pc;
  float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
  const float *restrict g = a->g;
  for (int64_t i = begin; i < end; i++)
    {
      float pv = p[i];
      float gv = g[i];
      if (l2)
        gv = fmaf (pv, pc.weight_decay, gv); /* grad.add (param, alpha=weight_decay) */
      if (decoupled)
        pv = pv * pc.decay; /* param.mul_ (1 - lr * weight_decay) */
      float mv = m[i] * pc.beta1;                        /* exp_avg.mul_ (beta1) */
      mv = fmaf (gv, pc.one_minus_beta1, mv);            /* .add_ (grad, alpha=1 - beta1) */
      float vv = v[i] * pc.beta2;                        /* exp_avg_sq.mul_ (beta2) */
      vv = fmaf (pc.one_minus_beta2 * gv, gv, vv);       /* .addcmul_ (grad, grad, value=1 - beta2) */
      m[i] = mv;
      v[i] = vv;
      float denom = sqrtf (vv) / pc.bc2_sqrt + pc.eps;   /* (exp_avg_sq.sqrt () / bc2_sqrt).add_ (eps) */
      p[i] = pv + (pc.neg_step_size * mv) / denom;       /* param.addcdiv_ (exp_avg, denom, value=-step_size) */
    }
}

OPTIM_INLINE void
adam_body (void *ctx, int64_t begin, int64_t end)
{
  const AdamArgs *a = ctx;
  switch (a->pc.flags)
    {
    case ADAM_L2:
      adam_loop (a, begin, end, true, false);
      break;
    case ADAM_DECOUPLED:
      adam_loop (a, begin, end, false, true);
      break;
    default:
      adam_loop (a, begin, end, false, false);
      break;
    }
}

OPTIM_KERNEL (adam_range, adam_body)

static DnStatus
adam_step (const char *op, bool decoupled, DnTensor *param, DnTensor *exp_avg, DnTensor *exp_avg_sq,
           const DnTensor *grad, const DnAdamParams *p, int64_t step)
{
  if (!p)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: params are NULL", op);
  if (!nonneg (p->lr) || !nonneg (p->eps) || !nonneg (p->weight_decay) || !(p->beta1 >= 0 && p->beta1 < 1)
      || !(p->beta2 >= 0 && p->beta2 < 1))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: invalid settings lr %g, betas (%g, %g), eps %g, weight_decay %g", op, p->lr, p->beta1,
                         p->beta2, p->eps, p->weight_decay);
  if (step < 1)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: step %" PRId64 " < 1 (steps count from 1)", op, step);
  if (!exp_avg || !exp_avg_sq)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: exp_avg and exp_avg_sq are required", op);
  const DnTensor *state[] = { exp_avg, exp_avg_sq };
  const char *names[] = { "exp_avg", "exp_avg_sq" };
  DN_TRY (check_tensors (op, param, grad, state, names, 2));
  int64_t n = dn_tensor_numel (param);
  if (n == 0)
    return DN_OK;

  /* torch/optim/adam.py, adamw.py (1.13), in double */
  double bias_correction1 = 1 - pow (p->beta1, (double) step);
  double bias_correction2 = 1 - pow (p->beta2, (double) step);
  double step_size = p->lr / bias_correction1;
  double bias_correction2_sqrt = sqrt (bias_correction2);
  AdamPush pc = {
    .n = (uint32_t) n,
    .flags = decoupled ? ADAM_DECOUPLED : (p->weight_decay != 0 ? ADAM_L2 : 0),
    .weight_decay = (float) p->weight_decay,
    .decay = (float) (1 - p->lr * p->weight_decay),
    .beta1 = (float) p->beta1,
    .one_minus_beta1 = (float) (1 - p->beta1),
    .beta2 = (float) p->beta2,
    .one_minus_beta2 = (float) (1 - p->beta2),
    .bc2_sqrt = (float) bias_correction2_sqrt,
    .neg_step_size = (float) -step_size,
    .eps = (float) p->eps,
  };
  if (dn_device_is_cpu (param->dev))
    {
      AdamArgs a = { .p = dn_tensor_host (param), .m = dn_tensor_host (exp_avg), .v = dn_tensor_host (exp_avg_sq),
                     .g = dn_tensor_host (grad), .pc = pc };
      dn_cpu_parallel_for (param->dev, n, OPTIM_GRAIN, adam_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ_WRITE (param), DN_READ_WRITE (exp_avg), DN_READ_WRITE (exp_avg_sq), DN_READ (grad) };
  return dn_vk_dispatch_1d (param->dev, DN_SHADER_OPTIM_ADAM, b, 4, &pc, sizeof pc, n);
}

DnStatus
dn_adam_step (DnTensor *param,      // (any) updated in place
              DnTensor *exp_avg,    // (same as param)
              DnTensor *exp_avg_sq, // (same as param)
              const DnTensor *grad, // (same as param)
              const DnAdamParams *p, int64_t step)
{
  return adam_step ("adam_step", false, param, exp_avg, exp_avg_sq, grad, p, step);
}

DnStatus
dn_adamw_step (DnTensor *param,      // (any) updated in place
               DnTensor *exp_avg,    // (same as param)
               DnTensor *exp_avg_sq, // (same as param)
               const DnTensor *grad, // (same as param)
               const DnAdamParams *p, int64_t step)
{
  return adam_step ("adamw_step", true, param, exp_avg, exp_avg_sq, grad, p, step);
}

/* RMSprop ------------------------------------------------------------------------------------------ */

DnRmspropParams
dn_rmsprop_params_default (double lr)
{
  return (DnRmspropParams){ .lr = lr, .alpha = 0.99, .eps = 1e-8 };
}

enum
{
  RMS_WEIGHT_DECAY = 1,
};

typedef struct
{
  uint32_t n;
  uint32_t flags;
  float weight_decay;
  float alpha;
  float one_minus_alpha;
  float eps;
  float momentum;
  float neg_lr;
} RmspropPush;
_Static_assert (sizeof (RmspropPush) == 32, "RmspropPush mirrors optim_rmsprop.comp");

typedef struct
{
  float *p, *s, *b, *a; /* b, a NULL when unused */
  const float *g;
  RmspropPush pc;
} RmspropArgs;

OPTIM_INLINE void
rmsprop_loop (const RmspropArgs *args, int64_t begin, int64_t end, bool wd, bool momentum, bool centered)
{
  const RmspropPush pc = args->pc;
  float *restrict p = args->p, *restrict s = args->s, *restrict b = args->b, *restrict a = args->a;
  const float *restrict g = args->g;
  for (int64_t i = begin; i < end; i++)
    {
      float pv = p[i];
      float gv = g[i];
      if (wd)
        gv = fmaf (pv, pc.weight_decay, gv); /* grad.add (param, alpha=weight_decay) */
      float sv = s[i] * pc.alpha;                  /* square_avg.mul_ (alpha) */
      sv = fmaf (pc.one_minus_alpha * gv, gv, sv); /* .addcmul_ (grad, grad, value=1 - alpha) */
      s[i] = sv;
      float avg;
      if (centered)
        {
          float av = a[i] * pc.alpha;            /* grad_avg.mul_ (alpha) */
          av = fmaf (gv, pc.one_minus_alpha, av); /* .add_ (grad, alpha=1 - alpha) */
          a[i] = av;
          avg = sqrtf (fmaf (-av, av, sv)); /* square_avg.addcmul (grad_avg, grad_avg, value=-1).sqrt_ () */
        }
      else
        avg = sqrtf (sv);
      avg = avg + pc.eps; /* .add_ (eps) */
      if (momentum)
        {
          float bv = b[i] * pc.momentum; /* buf.mul_ (momentum) */
          bv = bv + gv / avg;            /* .addcdiv_ (grad, avg) */
          b[i] = bv;
          p[i] = fmaf (bv, pc.neg_lr, pv); /* param.add_ (buf, alpha=-lr) */
        }
      else
        p[i] = pv + (pc.neg_lr * gv) / avg; /* param.addcdiv_ (grad, avg, value=-lr) */
    }
}

OPTIM_INLINE void
rmsprop_body (void *ctx, int64_t begin, int64_t end)
{
  const RmspropArgs *a = ctx;
  unsigned k = (a->pc.flags & RMS_WEIGHT_DECAY) | (a->b ? 2 : 0) | (a->a ? 4 : 0);
  switch (k)
    {
#define RMS_CASE(k)                                                                                    \
  case k:                                                                                              \
    rmsprop_loop (a, begin, end, (k) & 1, (k) & 2, (k) & 4);                                           \
    break;
      RMS_CASE (0) RMS_CASE (1) RMS_CASE (2) RMS_CASE (3) RMS_CASE (4) RMS_CASE (5) RMS_CASE (6) RMS_CASE (7)
#undef RMS_CASE
    }
}

OPTIM_KERNEL (rmsprop_range, rmsprop_body)

DnStatus
dn_rmsprop_step (DnTensor *param,        // (any) updated in place
                 DnTensor *square_avg,   // (same as param)
                 DnTensor *momentum_buf, // (same as param) or NULL when momentum == 0
                 DnTensor *grad_avg,     // (same as param) or NULL unless centered
                 const DnTensor *grad,   // (same as param)
                 const DnRmspropParams *p)
{
  const char *op = "rmsprop_step";
  if (!p)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: params are NULL", op);
  if (!nonneg (p->lr) || !nonneg (p->eps) || !nonneg (p->weight_decay) || !nonneg (p->momentum)
      || !nonneg (p->alpha))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: invalid settings lr %g, alpha %g, eps %g, weight_decay %g, momentum %g", op, p->lr,
                         p->alpha, p->eps, p->weight_decay, p->momentum);
  bool use_momentum = p->momentum > 0;
  if (!square_avg)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: square_avg is required", op);
  if (use_momentum && !momentum_buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: momentum %g needs a momentum buffer", op, p->momentum);
  if (p->centered && !grad_avg)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: centered needs grad_avg", op);
  const DnTensor *state[] = { square_avg, use_momentum ? momentum_buf : NULL, p->centered ? grad_avg : NULL };
  const char *names[] = { "square_avg", "momentum_buf", "grad_avg" };
  DN_TRY (check_tensors (op, param, grad, state, names, 3));
  int64_t n = dn_tensor_numel (param);
  if (n == 0)
    return DN_OK;

  RmspropPush pc = {
    .n = (uint32_t) n,
    .flags = p->weight_decay != 0 ? RMS_WEIGHT_DECAY : 0,
    .weight_decay = (float) p->weight_decay,
    .alpha = (float) p->alpha,
    .one_minus_alpha = (float) (1 - p->alpha),
    .eps = (float) p->eps,
    .momentum = (float) p->momentum,
    .neg_lr = (float) -p->lr,
  };
  if (dn_device_is_cpu (param->dev))
    {
      RmspropArgs a = {
        .p = dn_tensor_host (param),
        .s = dn_tensor_host (square_avg),
        .b = use_momentum ? dn_tensor_host (momentum_buf) : NULL,
        .a = p->centered ? dn_tensor_host (grad_avg) : NULL,
        .g = dn_tensor_host (grad),
        .pc = pc,
      };
      dn_cpu_parallel_for (param->dev, n, OPTIM_GRAIN, rmsprop_range, &a);
      return DN_OK;
    }
  DnBinding b[5] = { DN_READ_WRITE (param), DN_READ_WRITE (square_avg), DN_READ (grad) };
  int nb = 3;
  if (use_momentum)
    b[nb++] = DN_READ_WRITE (momentum_buf);
  if (p->centered)
    b[nb++] = DN_READ_WRITE (grad_avg);
  static const DnShaderId shaders[2][2] = {
    { DN_SHADER_OPTIM_RMSPROP, DN_SHADER_OPTIM_RMSPROP_C },
    { DN_SHADER_OPTIM_RMSPROP_M, DN_SHADER_OPTIM_RMSPROP_CM },
  };
  return dn_vk_dispatch_1d (param->dev, shaders[use_momentum][p->centered], b, nb, &pc, sizeof pc, n);
}
