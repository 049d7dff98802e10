/* dn-pad-blur.c: reflect pad 2D and the separable Gaussian blur (torchvision semantics), forward and
 * backward, on both backends. Vulkan: shaders/elem/elem_reflect_pad.comp, elem_blur.comp. CPU: per-plane
 * loops below. References: dn_ref_reflect_pad2d_*, dn_ref_gaussian_blur2d_* (compute/ref/dn-ref-elem.c).
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "dn-elem-private.h"

/* PyTorch reflect of a coordinate in [-(n-1), 2(n-1)] into [0, n) */
static inline int64_t
reflect1 (int64_t q, int64_t n)
{
  if (q < 0)
    q = -q;
  if (q >= n)
    q = 2 * (n - 1) - q;
  return q;
}

/* Reflect pad -------------------------------------------------------------------------------------------- */

typedef struct
{
  uint32_t n, H, W, Ho, Wo, left, top, bottom, right;
} PadParams; /* mirrors DN_PARAMS of elem_reflect_pad.comp */
_Static_assert (sizeof (PadParams) == 36, "PadParams must match elem_reflect_pad.comp");

typedef struct
{
  const float *src;
  float *dst;
  int64_t H, W, Ho, Wo;
  int left, right, top, bottom;
} PadArgs;

static void
pad_forward_range (void *ctx, int64_t s, int64_t e)
{
  const PadArgs *a = ctx;
  for (int64_t pr = s; pr < e; pr++) /* output rows over all planes */
    {
      int64_t p = pr / a->Ho, y = pr % a->Ho;
      const float *in = a->src + (p * a->H + reflect1 (y - a->top, a->H)) * a->W;
      float *out = a->dst + pr * a->Wo;
      for (int64_t x = 0; x < a->left; x++)
        out[x] = in[a->left - x];
      memcpy (out + a->left, in, sizeof (float) * (size_t) a->W);
      for (int64_t x = a->left + a->W; x < a->Wo; x++)
        out[x] = in[2 * (a->W - 1) - (x - a->left)];
    }
}

/* Per plane: fold the output rows onto the input rows (+=); planes are independent, so no races. */
static void
pad_backward_range (void *ctx, int64_t s, int64_t e)
{
  const PadArgs *a = ctx;
  for (int64_t p = s; p < e; p++)
    for (int64_t y = 0; y < a->Ho; y++)
      {
        const float *g = a->src + (p * a->Ho + y) * a->Wo;
        float *d = a->dst + (p * a->H + reflect1 (y - a->top, a->H)) * a->W;
        for (int64_t x = 0; x < a->Wo; x++)
          d[reflect1 (x - a->left, a->W)] += g[x];
      }
}

static DnStatus
pad_check (const char *op, const DnTensor *small, const DnTensor *big, int left, int right, int top, int bottom)
{
  char s1[128], s2[128];
  DN_TRY (elem_check_nonnull (op, "input side", small));
  DN_TRY (elem_check_nonnull (op, "output side", big));
  DN_CHECK_SAME_DEVICE (op, small, big);
  DN_TRY (elem_check_numel (op, big));
  if (small->ndim < 2 || big->ndim != small->ndim)
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected (…,H,W) tensors of equal rank, got %s and %s", op,
                         dn_tensor_shape_str (small, s1, sizeof s1), dn_tensor_shape_str (big, s2, sizeof s2));
  int nd = small->ndim;
  int64_t H = small->shape[nd - 2], W = small->shape[nd - 1];
  bool ok = left >= 0 && right >= 0 && top >= 0 && bottom >= 0;
  for (int d = 0; d < nd - 2; d++)
    ok = ok && small->shape[d] == big->shape[d];
  ok = ok && big->shape[nd - 2] == H + top + bottom && big->shape[nd - 1] == W + left + right;
  if (!ok)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s padded by (left %d, right %d, top %d, bottom %d) is not %s", op,
                         dn_tensor_shape_str (small, s1, sizeof s1), left, right, top, bottom,
                         dn_tensor_shape_str (big, s2, sizeof s2));
  if (dn_tensor_numel (small) > 0 && (left >= W || right >= W || top >= H || bottom >= H))
    return dn_set_error (DN_ERROR_SHAPE, "%s: reflect pads (left %d, right %d, top %d, bottom %d) must be smaller than "
                         "the padded dims of %s", op, left, right, top, bottom,
                         dn_tensor_shape_str (small, s1, sizeof s1));
  return DN_OK;
}

DnStatus
dn_reflect_pad2d_forward (DnTensor *out, const DnTensor *inp, int left, int right, int top, int bottom)
{
  DN_TRY (pad_check ("reflect_pad2d_forward", inp, out, left, right, top, bottom));
  int nd = inp->ndim;
  int64_t H = inp->shape[nd - 2], W = inp->shape[nd - 1];
  int64_t n = dn_tensor_numel (out);
  if (n == 0 || dn_tensor_numel (inp) == 0)
    return DN_OK;
  int64_t Ho = H + top + bottom, Wo = W + left + right, P = dn_tensor_numel (inp) / (H * W);
  if (dn_device_is_cpu (out->dev))
    {
      PadArgs a = { dn_tensor_host (inp), dn_tensor_host (out), H, W, Ho, Wo, left, right, top, bottom };
      dn_cpu_parallel_for (out->dev, P * Ho, 64, pad_forward_range, &a);
      return DN_OK;
    }
  PadParams pc = { (uint32_t) n, (uint32_t) H, (uint32_t) W, (uint32_t) Ho, (uint32_t) Wo,
                   (uint32_t) left, (uint32_t) top, (uint32_t) bottom, (uint32_t) right };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_ELEM_REFLECT_PAD_FWD, b, 2, &pc, sizeof pc, n);
}

DnStatus
dn_reflect_pad2d_backward (DnTensor *dinp, const DnTensor *dout, int left, int right, int top, int bottom)
{
  DN_TRY (pad_check ("reflect_pad2d_backward", dinp, dout, left, right, top, bottom));
  int nd = dinp->ndim;
  int64_t H = dinp->shape[nd - 2], W = dinp->shape[nd - 1];
  int64_t n = dn_tensor_numel (dinp);
  if (n == 0)
    return DN_OK;
  int64_t Ho = H + top + bottom, Wo = W + left + right, P = n / (H * W);
  if (dn_device_is_cpu (dinp->dev))
    {
      PadArgs a = { dn_tensor_host (dout), dn_tensor_host (dinp), H, W, Ho, Wo, left, right, top, bottom };
      dn_cpu_parallel_for (dinp->dev, P, 1, pad_backward_range, &a);
      return DN_OK;
    }
  PadParams pc = { (uint32_t) n, (uint32_t) H, (uint32_t) W, (uint32_t) Ho, (uint32_t) Wo,
                   (uint32_t) left, (uint32_t) top, (uint32_t) bottom, (uint32_t) right };
  DnBinding b[] = { DN_READ (dout), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dinp->dev, DN_SHADER_ELEM_REFLECT_PAD_BWD, b, 2, &pc, sizeof pc, n);
}

/* Gaussian blur ---------------------------------------------------------------------------------------- */

#define BLUR_RMAX ((DN_GAUSSIAN_BLUR_MAX_KSIZE - 1) / 2)

typedef struct
{
  uint32_t P, H, W;
  int32_t r;
  float kw[BLUR_RMAX + 1];
} BlurParams; /* mirrors DN_PARAMS of elem_blur.comp */
_Static_assert (sizeof (BlurParams) == 96, "BlurParams must match elem_blur.comp");

/* Half kernel kw[d] = k[r+d], torchvision's normalised exp(−x²/(2σ²)), computed in double. */
static void
blur_half_kernel (float *kw, int r, float sigma)
{
  double k[BLUR_RMAX + 1], sum = 0;
  for (int d = 0; d <= r; d++)
    {
      double x = d / (double) sigma;
      k[d] = exp (-0.5 * x * x);
      sum += d == 0 ? k[d] : 2 * k[d];
    }
  for (int d = 0; d <= r; d++)
    kw[d] = (float) (k[d] / sum);
}

typedef struct
{
  const float *src;
  float *dst;
  int64_t H, W;
  int r;
  const float *kw;
  float *tmp; /* (P,H,W) scratch: one plane per task, so no two threads share one */
} BlurArgs;

static void
blur_forward_range (void *ctx, int64_t s, int64_t e)
{
  const BlurArgs *a = ctx;
  int64_t H = a->H, W = a->W;
  int r = a->r;
  const float *kw = a->kw;
  for (int64_t p = s; p < e; p++)
    {
      float *tmp = a->tmp + p * H * W;
      const float *in = a->src + p * H * W;
      float *out = a->dst + p * H * W;
      for (int64_t y = 0; y < H; y++) /* horizontal pass, same tap order as the shader */
        for (int64_t x = 0; x < W; x++)
          {
            float acc = 0.0f;
            for (int t = -r; t <= r; t++)
              acc += kw[abs (t)] * in[y * W + reflect1 (x + t, W)];
            tmp[y * W + x] = acc;
          }
      for (int64_t y = 0; y < H; y++) /* vertical pass */
        for (int64_t x = 0; x < W; x++)
          {
            float acc = 0.0f;
            for (int t = -r; t <= r; t++)
              acc += kw[abs (t)] * tmp[reflect1 (y + t, H) * W + x];
            out[y * W + x] = acc;
          }
    }
}

/* The transposed 1-D operator at coordinate s of an axis of length n, reading g(q) for in-image q. */
#define BLUR_T_AXIS(s, n, G, acc)                                                                       \
  do                                                                                                   \
    {                                                                                                  \
      for (int m_ = 0; m_ < 3; m_++)                                                                   \
        {                                                                                              \
          int64_t q_ = m_ == 0 ? (s) : (m_ == 1 ? -(s) : 2 * ((n) - 1) - (s));                         \
          if ((m_ == 1 && !((s) >= 1 && (s) <= r)) || (m_ == 2 && !((s) >= (n) - 1 - r && (s) <= (n) - 2))) \
            continue;                                                                                  \
          for (int t_ = -r; t_ <= r; t_++)                                                             \
            {                                                                                          \
              int64_t w_ = q_ - t_;                                                                    \
              if (w_ >= 0 && w_ < (n))                                                                 \
                (acc) += kw[abs (t_)] * (G);                                                           \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
  while (0)

static void
blur_backward_range (void *ctx, int64_t s, int64_t e)
{
  const BlurArgs *a = ctx;
  int64_t H = a->H, W = a->W;
  int r = a->r;
  const float *kw = a->kw;
  for (int64_t p = s; p < e; p++)
    {
      float *tmp = a->tmp + p * H * W;
      const float *g = a->src + p * H * W;
      float *d = a->dst + p * H * W;
      for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
          {
            float acc = 0.0f;
            BLUR_T_AXIS (x, W, g[y * W + w_], acc);
            tmp[y * W + x] = acc;
          }
      for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
          {
            float acc = 0.0f;
            BLUR_T_AXIS (y, H, tmp[w_ * W + x], acc);
            d[y * W + x] += acc;
          }
    }
}

static DnStatus
blur_common (const char *op, bool backward, DnTensor *dst, const DnTensor *src, int ksize, float sigma)
{
  char s1[128], s2[128];
  DN_TRY (elem_check_nonnull (op, backward ? "dinp" : "out", dst));
  DN_TRY (elem_check_nonnull (op, backward ? "dout" : "inp", src));
  DN_CHECK_SAME_DEVICE (op, dst, src);
  DN_CHECK_SAME_SHAPE (op, dst, src);
  DN_TRY (elem_check_numel (op, src));
  if (ksize < 1 || ksize % 2 == 0 || ksize > DN_GAUSSIAN_BLUR_MAX_KSIZE || !(sigma > 0) || isinf (sigma))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: kernel size %d must be odd and in 1…%d, sigma %g must be positive and finite", op, ksize,
                         DN_GAUSSIAN_BLUR_MAX_KSIZE, (double) sigma);
  if (src->ndim < 2)
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected a (…,H,W) tensor, got %s", op,
                         dn_tensor_shape_str (src, s1, sizeof s1));
  int64_t n = dn_tensor_numel (src);
  if (n == 0)
    return DN_OK;
  int r = (ksize - 1) / 2;
  int64_t H = src->shape[src->ndim - 2], W = src->shape[src->ndim - 1], P = n / (H * W);
  if (r >= H || r >= W)
    return dn_set_error (DN_ERROR_SHAPE, "%s: reflect padding %d (kernel %d) needs H and W > %d, got %s", op, r, ksize, r,
                         dn_tensor_shape_str (src, s2, sizeof s2));
  if (elem_overlap (dst, src))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s must not overlap %s", op, backward ? "dinp" : "out",
                         backward ? "dout" : "inp");
  float kw[BLUR_RMAX + 1] = { 0 };
  blur_half_kernel (kw, r, sigma);
  if (dn_device_is_cpu (dst->dev))
    {
      BlurArgs a = { dn_tensor_host (src), dn_tensor_host (dst), H, W, r, kw, malloc (sizeof (float) * (size_t) n) };
      if (!a.tmp)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of host memory for a %s scratch", op,
                             dn_tensor_shape_str (src, s1, sizeof s1));
      dn_cpu_parallel_for (dst->dev, P, 1, backward ? blur_backward_range : blur_forward_range, &a);
      free (a.tmp);
      return DN_OK;
    }
  BlurParams pc = { (uint32_t) P, (uint32_t) H, (uint32_t) W, r, { 0 } };
  memcpy (pc.kw, kw, sizeof kw);
  DnBinding b[] = { DN_READ (src), backward ? DN_READ_WRITE (dst) : DN_WRITE (dst) };
  uint32_t gz = P > 65535 ? 65535 : (uint32_t) P;
  return dn_vk_dispatch (dst->dev, backward ? DN_SHADER_ELEM_BLUR_BWD : DN_SHADER_ELEM_BLUR_FWD, b, 2, &pc, sizeof pc,
                         dn_div_up (W, 16), dn_div_up (H, 16), gz);
}

DnStatus
dn_gaussian_blur2d_forward (DnTensor *out, const DnTensor *inp, int ksize, float sigma)
{
  return blur_common ("gaussian_blur2d_forward", false, out, inp, ksize, sigma);
}

DnStatus
dn_gaussian_blur2d_backward (DnTensor *dinp, const DnTensor *dout, int ksize, float sigma)
{
  return blur_common ("gaussian_blur2d_backward", true, dinp, dout, ksize, sigma);
}
