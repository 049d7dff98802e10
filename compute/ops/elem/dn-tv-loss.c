/* dn-tv-loss.c: DualNeuron's total-variation loss (twins.md §6.1 step 5), forward and backward, on both
 * backends. Vulkan: shaders/elem/elem_tv_fwd.comp (one workgroup per image, shared-memory reduction),
 * elem_tv_bwd.comp. CPU: per-image double sums below. Reference: dn_ref_tv_loss_* (compute/ref/).
 * SPDX-License-Identifier: MIT
 */
#include "dn-elem-private.h"

typedef struct
{
  uint32_t N, C, H, W, has_norm;
  float weight;
} TvFwdParams; /* mirrors DN_PARAMS of elem_tv_fwd.comp */
_Static_assert (sizeof (TvFwdParams) == 24, "TvFwdParams must match elem_tv_fwd.comp");

typedef struct
{
  uint32_t total, m, H, W;
  float weight;
} TvBwdParams; /* mirrors DN_PARAMS of elem_tv_bwd.comp */
_Static_assert (sizeof (TvBwdParams) == 20, "TvBwdParams must match elem_tv_bwd.comp");

typedef struct
{
  const float *img, *norm, *dout;
  float *out, *normw, *dimg;
  int64_t C, H, W;
  float weight;
} TvArgs;

static void
tv_forward_range (void *ctx, int64_t s, int64_t e)
{
  const TvArgs *a = ctx;
  int64_t H = a->H, W = a->W, m = a->C * H * W;
  for (int64_t n = s; n < e; n++)
    {
      const float *I = a->img + n * m;
      double sum = 0;
      for (int64_t r = 0; r < a->C * H; r++) /* rows over all channels */
        {
          const float *row = I + r * W;
          bool last_row = r % H == H - 1;
          for (int64_t x = 0; x < W; x++)
            {
              if (x + 1 < W)
                {
                  double d = (double) row[x + 1] - row[x];
                  sum += d * d;
                }
              if (!last_row)
                {
                  double d = (double) row[x + W] - row[x];
                  sum += d * d;
                }
            }
        }
      float nrm = (float) sqrt (sum + 1e-8);
      a->out[n] = a->weight * nrm;
      if (a->normw)
        a->normw[n] = nrm;
    }
}

/* over rows R of all images (N·C·H): each task writes only its own rows of dimg */
static void
tv_backward_range (void *ctx, int64_t s, int64_t e)
{
  const TvArgs *a = ctx;
  int64_t H = a->H, W = a->W, CH = a->C * H;
  for (int64_t R = s; R < e; R++)
    {
      int64_t n = R / CH, y = R % H;
      const float *row = a->img + R * W;
      float *drow = a->dimg + R * W;
      float f = a->dout[n] * a->weight / a->norm[n];
      for (int64_t x = 0; x < W; x++)
        {
          float v = row[x], g = 0.0f;
          if (x > 0)
            g += v - row[x - 1];
          if (x + 1 < W)
            g -= row[x + 1] - v;
          if (y > 0)
            g += v - row[x - W];
          if (y + 1 < H)
            g -= row[x + W] - v;
          drow[x] += f * g;
        }
    }
}

/* Checks inp (N,C,H,W) or (C,H,W) against a per-image tensor (N) ((1) for 3-D input). */
static DnStatus
tv_check (const char *op, const char *name, const DnTensor *inp, const DnTensor *v, int64_t *N)
{
  char s1[128], s2[128];
  if (inp->ndim != 3 && inp->ndim != 4)
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected inp (N,C,H,W) or (C,H,W), got %s", op,
                         dn_tensor_shape_str (inp, s1, sizeof s1));
  *N = inp->ndim == 4 ? inp->shape[0] : 1;
  if (!v)
    return DN_OK;
  DN_CHECK_SAME_DEVICE (op, inp, v);
  if (v->ndim != 1 || v->shape[0] != *N)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s must be (%" PRId64 ") for inp %s", op, name,
                         dn_tensor_shape_str (v, s2, sizeof s2), *N, dn_tensor_shape_str (inp, s1, sizeof s1));
  return DN_OK;
}

DnStatus
dn_tv_loss_forward (DnTensor *out, DnTensor *norm, const DnTensor *inp, float weight)
{
  const char *op = "tv_loss_forward";
  DN_TRY (elem_check_nonnull (op, "out", out));
  DN_TRY (elem_check_nonnull (op, "inp", inp));
  int64_t N;
  DN_TRY (tv_check (op, "out", inp, out, &N));
  DN_TRY (tv_check (op, "norm", inp, norm, &N));
  DN_TRY (elem_check_numel (op, inp));
  int nd = inp->ndim;
  int64_t C = inp->shape[nd - 3], H = inp->shape[nd - 2], W = inp->shape[nd - 1];
  if (N == 0)
    return DN_OK;
  if (C * H * W == 0)
    {
      /* an empty image: TV = weight·sqrt(1e-8) */
      DN_TRY (dn_tensor_fill (out, weight * sqrtf (1e-8f)));
      return norm ? dn_tensor_fill (norm, sqrtf (1e-8f)) : DN_OK;
    }
  if (dn_device_is_cpu (inp->dev))
    {
      TvArgs a = { .img = dn_tensor_host (inp), .out = dn_tensor_host (out), .normw = norm ? dn_tensor_host (norm) : NULL,
                   .C = C, .H = H, .W = W, .weight = weight };
      dn_cpu_parallel_for (inp->dev, N, 1, tv_forward_range, &a);
      return DN_OK;
    }
  TvFwdParams pc = { (uint32_t) N, (uint32_t) C, (uint32_t) H, (uint32_t) W, norm != NULL, weight };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out), norm ? DN_WRITE (norm) : DN_READ (inp) };
  uint32_t gx = N > 65535 ? 65535 : (uint32_t) N;
  return dn_vk_dispatch (inp->dev, DN_SHADER_ELEM_TV_FWD, b, 3, &pc, sizeof pc, gx, dn_div_up (N, gx), 1);
}

DnStatus
dn_tv_loss_backward (DnTensor *dinp, const DnTensor *norm, const DnTensor *inp, const DnTensor *dout, float weight)
{
  const char *op = "tv_loss_backward";
  DN_TRY (elem_check_nonnull (op, "dinp", dinp));
  DN_TRY (elem_check_nonnull (op, "norm", norm));
  DN_TRY (elem_check_nonnull (op, "inp", inp));
  DN_TRY (elem_check_nonnull (op, "dout", dout));
  int64_t N;
  DN_TRY (tv_check (op, "norm", inp, norm, &N));
  DN_TRY (tv_check (op, "dout", inp, dout, &N));
  DN_CHECK_SAME_DEVICE (op, dinp, inp);
  DN_CHECK_SAME_SHAPE (op, dinp, inp);
  DN_TRY (elem_check_numel (op, inp));
  int nd = inp->ndim;
  int64_t C = inp->shape[nd - 3], H = inp->shape[nd - 2], W = inp->shape[nd - 1];
  int64_t total = dn_tensor_numel (inp);
  if (total == 0)
    return DN_OK;
  if (dn_device_is_cpu (inp->dev))
    {
      TvArgs a = { .img = dn_tensor_host (inp), .norm = dn_tensor_host (norm), .dout = dn_tensor_host (dout),
                   .dimg = dn_tensor_host (dinp), .C = C, .H = H, .W = W, .weight = weight };
      dn_cpu_parallel_for (inp->dev, N * C * H, 16, tv_backward_range, &a);
      return DN_OK;
    }
  TvBwdParams pc = { (uint32_t) total, (uint32_t) (C * H * W), (uint32_t) H, (uint32_t) W, weight };
  DnBinding b[] = { DN_READ (inp), DN_READ (norm), DN_READ (dout), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (inp->dev, DN_SHADER_ELEM_TV_BWD, b, 4, &pc, sizeof pc, total);
}
