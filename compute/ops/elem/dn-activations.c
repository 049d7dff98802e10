/* dn-activations.c: GELU (exact erf), ReLU, ELU, sigmoid and tanh, forward and backward, on both
 * backends. Vulkan: shaders/elem/elem_act.comp (one variant per activation and direction). CPU: the
 * loops below on the thread pool. References: dn_ref_<act>_forward/backward (compute/ref/dn-ref-elem.c).
 * SPDX-License-Identifier: MIT
 */
#include "dn-elem-private.h"

typedef enum
{
  ACT_GELU,
  ACT_RELU,
  ACT_ELU,
  ACT_SIGMOID,
  ACT_TANH,
} Act;

static const struct
{
  const char *fwd_name, *bwd_name;
  DnShaderId fwd, bwd;
} act_info[] = {
  [ACT_GELU] = { "gelu_forward", "gelu_backward", DN_SHADER_ELEM_GELU_FWD, DN_SHADER_ELEM_GELU_BWD },
  [ACT_RELU] = { "relu_forward", "relu_backward", DN_SHADER_ELEM_RELU_FWD, DN_SHADER_ELEM_RELU_BWD },
  [ACT_ELU] = { "elu_forward", "elu_backward", DN_SHADER_ELEM_ELU_FWD, DN_SHADER_ELEM_ELU_BWD },
  [ACT_SIGMOID] = { "sigmoid_forward", "sigmoid_backward", DN_SHADER_ELEM_SIGMOID_FWD, DN_SHADER_ELEM_SIGMOID_BWD },
  [ACT_TANH] = { "tanh_forward", "tanh_backward", DN_SHADER_ELEM_TANH_FWD, DN_SHADER_ELEM_TANH_BWD },
};

typedef struct
{
  uint32_t n;
  float alpha;
} ActParams; /* mirrors DN_PARAMS of elem_act.comp */
_Static_assert (sizeof (ActParams) == 8, "ActParams must match elem_act.comp");

typedef struct
{
  Act act;
  float alpha;
  const float *x;  /* inp (or out for sigmoid/tanh backward) */
  const float *dy; /* backward only */
  float *y;        /* forward output or backward dinp */
} ActArgs;

/* GELU for the CPU hot path (the twins spend most of their element-wise time here): dn_elem_erff and
 * dn_elem_expf_neg have no branches or libm calls, so these loops vectorize; they are compiled for
 * AVX2+FMA too and the version is chosen at run time by CPU features. Not restrict: in place works. */
#define GELU_FORWARD_BODY                                                                             \
  for (int64_t i = 0; i < n; i++)                                                                     \
    y[i] = x[i] * 0.5f * (1.0f + dn_elem_erff (x[i] * 0.70710678f));
#define GELU_BACKWARD_BODY                                                                            \
  for (int64_t i = 0; i < n; i++)                                                                     \
    {                                                                                                 \
      float v = x[i];                                                                                 \
      float cdf = 0.5f * (1.0f + dn_elem_erff (v * 0.70710678f));                                    \
      float h = -0.5f * v * v;                                                                        \
      float pdf = dn_elem_expf_neg (h > -87.0f ? h : -87.0f) * 0.39894228f;                                  \
      dx[i] += g[i] * (cdf + v * pdf);                                                                \
    }

static void
gelu_forward_generic (const float *x, float *y, int64_t n)
{
  GELU_FORWARD_BODY
}

static void
gelu_backward_generic (const float *x, const float *g, float *dx, int64_t n)
{
  GELU_BACKWARD_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
/* AVX2+FMA versions, chosen at run time by CPU features (not by CPU model, so AMD and Intel alike). */
__attribute__ ((target ("avx2,fma"))) static void
gelu_forward_avx2 (const float *x, float *y, int64_t n)
{
  GELU_FORWARD_BODY
}

__attribute__ ((target ("avx2,fma"))) static void
gelu_backward_avx2 (const float *x, const float *g, float *dx, int64_t n)
{
  GELU_BACKWARD_BODY
}

#endif

static void
gelu_forward_vec (const float *x, float *y, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (dn_cpu_have_avx2_fma ())
    {
      gelu_forward_avx2 (x, y, n);
      return;
    }
#endif
  gelu_forward_generic (x, y, n);
}

static void
gelu_backward_vec (const float *x, const float *g, float *dx, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (dn_cpu_have_avx2_fma ())
    {
      gelu_backward_avx2 (x, g, dx, n);
      return;
    }
#endif
  gelu_backward_generic (x, g, dx, n);
}

static void
act_forward_range (void *ctx, int64_t b, int64_t e)
{
  const ActArgs *a = ctx;
  const float *x = a->x;
  float *y = a->y;
  switch (a->act)
    {
    case ACT_GELU:
      gelu_forward_vec (x + b, y + b, e - b);
      break;
    case ACT_RELU:
      for (int64_t i = b; i < e; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case ACT_ELU:
      for (int64_t i = b; i < e; i++)
        y[i] = x[i] > 0.0f ? x[i] : a->alpha * expm1f (x[i]);
      break;
    case ACT_SIGMOID:
      for (int64_t i = b; i < e; i++)
        y[i] = 1.0f / (1.0f + expf (-x[i]));
      break;
    case ACT_TANH:
      for (int64_t i = b; i < e; i++)
        y[i] = tanhf (x[i]);
      break;
    }
}

static void
act_backward_range (void *ctx, int64_t b, int64_t e)
{
  const ActArgs *a = ctx;
  const float *x = a->x, *g = a->dy;
  float *dx = a->y;
  switch (a->act)
    {
    case ACT_GELU:
      gelu_backward_vec (x + b, g + b, dx + b, e - b);
      break;
    case ACT_RELU:
      for (int64_t i = b; i < e; i++)
        dx[i] += x[i] > 0.0f ? g[i] : 0.0f;
      break;
    case ACT_ELU:
      for (int64_t i = b; i < e; i++)
        dx[i] += x[i] > 0.0f ? g[i] : g[i] * a->alpha * expf (x[i]);
      break;
    case ACT_SIGMOID:
      for (int64_t i = b; i < e; i++)
        dx[i] += g[i] * x[i] * (1.0f - x[i]);
      break;
    case ACT_TANH:
      for (int64_t i = b; i < e; i++)
        dx[i] += g[i] * (1.0f - x[i] * x[i]);
      break;
    }
}

static DnStatus
act_forward (Act act, DnTensor *out, const DnTensor *inp, float alpha)
{
  const char *op = act_info[act].fwd_name;
  DN_TRY (elem_check_nonnull (op, "out", out));
  DN_TRY (elem_check_nonnull (op, "inp", inp));
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_CHECK_SAME_SHAPE (op, out, inp);
  DN_TRY (elem_check_numel (op, inp));
  int64_t n = dn_tensor_numel (inp);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      ActArgs a = { .act = act, .alpha = alpha, .x = dn_tensor_host (inp), .y = dn_tensor_host (out) };
      dn_cpu_parallel_for (out->dev, n, 1 << 14, act_forward_range, &a);
      return DN_OK;
    }
  ActParams pc = { (uint32_t) n, alpha };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, act_info[act].fwd, b, 2, &pc, sizeof pc, n);
}

static DnStatus
act_backward (Act act, DnTensor *dinp, const DnTensor *x, const DnTensor *dout, float alpha)
{
  const char *op = act_info[act].bwd_name;
  DN_TRY (elem_check_nonnull (op, "dinp", dinp));
  DN_TRY (elem_check_nonnull (op, act == ACT_SIGMOID || act == ACT_TANH ? "out" : "inp", x));
  DN_TRY (elem_check_nonnull (op, "dout", dout));
  DN_CHECK_SAME_DEVICE (op, dinp, x);
  DN_CHECK_SAME_DEVICE (op, dinp, dout);
  DN_CHECK_SAME_SHAPE (op, dinp, x);
  DN_CHECK_SAME_SHAPE (op, dinp, dout);
  DN_TRY (elem_check_numel (op, x));
  int64_t n = dn_tensor_numel (x);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (dinp->dev))
    {
      ActArgs a = {
        .act = act, .alpha = alpha, .x = dn_tensor_host (x), .dy = dn_tensor_host (dout), .y = dn_tensor_host (dinp)
      };
      dn_cpu_parallel_for (dinp->dev, n, 1 << 14, act_backward_range, &a);
      return DN_OK;
    }
  ActParams pc = { (uint32_t) n, alpha };
  DnBinding b[] = { DN_READ (x), DN_READ (dout), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dinp->dev, act_info[act].bwd, b, 3, &pc, sizeof pc, n);
}

DnStatus
dn_gelu_forward (DnTensor *out, const DnTensor *inp)
{
  return act_forward (ACT_GELU, out, inp, 0.0f);
}

DnStatus
dn_gelu_backward (DnTensor *dinp, const DnTensor *inp, const DnTensor *dout)
{
  return act_backward (ACT_GELU, dinp, inp, dout, 0.0f);
}

DnStatus
dn_relu_forward (DnTensor *out, const DnTensor *inp)
{
  return act_forward (ACT_RELU, out, inp, 0.0f);
}

DnStatus
dn_relu_backward (DnTensor *dinp, const DnTensor *inp, const DnTensor *dout)
{
  return act_backward (ACT_RELU, dinp, inp, dout, 0.0f);
}

DnStatus
dn_elu_forward (DnTensor *out, const DnTensor *inp, float alpha)
{
  return act_forward (ACT_ELU, out, inp, alpha);
}

DnStatus
dn_elu_backward (DnTensor *dinp, const DnTensor *inp, const DnTensor *dout, float alpha)
{
  return act_backward (ACT_ELU, dinp, inp, dout, alpha);
}

DnStatus
dn_sigmoid_forward (DnTensor *out, const DnTensor *inp)
{
  return act_forward (ACT_SIGMOID, out, inp, 0.0f);
}

DnStatus
dn_sigmoid_backward (DnTensor *dinp, const DnTensor *out, const DnTensor *dout)
{
  return act_backward (ACT_SIGMOID, dinp, out, dout, 0.0f);
}

DnStatus
dn_tanh_forward (DnTensor *out, const DnTensor *inp)
{
  return act_forward (ACT_TANH, out, inp, 0.0f);
}

DnStatus
dn_tanh_backward (DnTensor *dinp, const DnTensor *out, const DnTensor *dout)
{
  return act_backward (ACT_TANH, dinp, out, dout, 0.0f);
}
