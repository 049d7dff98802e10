/* dn-softmax.c: softmax over the last dim (max-subtracted), forward and backward, on both backends; also
 * the row kernels the attention op shares (dn_norm_softmax_rows_*). Shaders:
 * shaders/norm/softmax_{fwd,bwd}.comp (and their ATTN variants attention_softmax{,_bwd}).
 * Reference: dn_ref_softmax_forward/backward (compute/ref/dn-ref-norm.c).
 * SPDX-License-Identifier: MIT
 */
#include "dn-norm-private.h"
#include "dn-ops-norm.h"

typedef struct
{
  float *out;
  const float *inp, *g, *y;
  int64_t L;
  int zero_masked; /* attention: an all -inf row becomes zeros */
  int in_place;    /* backward: out holds g on entry and gets scale·y·(g - s) (attention) */
  float scale;
} SmArgs;

static void
softmax_fwd_range (void *ctx, int64_t b, int64_t e)
{
  SmArgs *a = ctx;
  const int64_t L = a->L;
  for (int64_t r = b; r < e; r++)
    {
      const float *x = a->inp + r * L;
      float *y = a->out + r * L;
      float mx = -INFINITY;
      for (int64_t j = 0; j < L; j++)
        mx = x[j] > mx || isnan (x[j]) ? x[j] : mx;
      if (a->zero_masked && mx == -INFINITY)
        {
          for (int64_t j = 0; j < L; j++)
            y[j] = 0;
          continue;
        }
      double s = 0;
      for (int64_t j = 0; j < L; j++)
        {
          y[j] = expf (x[j] - mx);
          s += y[j];
        }
      float inv = (float) (1.0 / s);
      for (int64_t j = 0; j < L; j++)
        y[j] *= inv;
    }
}

static void
softmax_bwd_range (void *ctx, int64_t b, int64_t e)
{
  SmArgs *a = ctx;
  const int64_t L = a->L;
  for (int64_t r = b; r < e; r++)
    {
      const float *y = a->y + r * L;
      const float *g = a->in_place ? a->out + r * L : a->g + r * L;
      float *d = a->out + r * L;
      double s = 0;
      for (int64_t j = 0; j < L; j++)
        s += (double) g[j] * y[j];
      float sf = (float) s;
      if (a->in_place)
        for (int64_t j = 0; j < L; j++)
          d[j] = a->scale * y[j] * (g[j] - sf);
      else
        for (int64_t j = 0; j < L; j++)
          d[j] += y[j] * (g[j] - sf);
    }
}

void
dn_norm_softmax_rows_cpu (DnDevice *dev, float *out, const float *inp, int64_t rows, int64_t L, int zero_masked)
{
  SmArgs a = { .out = out, .inp = inp, .L = L, .zero_masked = zero_masked };
  dn_cpu_parallel_for (dev, rows, 1 + (1 << 13) / (L + 1), softmax_fwd_range, &a);
}

void
dn_norm_softmax_bwd_rows_cpu (DnDevice *dev, float *d, const float *g, const float *y, int64_t rows, int64_t L,
                              int in_place, float scale)
{
  SmArgs a = { .out = d, .g = g, .y = y, .L = L, .in_place = in_place, .scale = scale };
  dn_cpu_parallel_for (dev, rows, 1 + (1 << 13) / (L + 1), softmax_bwd_range, &a);
}

DnStatus
dn_norm_softmax_rows_vk (DnDevice *dev, DnShaderId shader, const DnTensor *inp, DnTensor *out, int64_t rows,
                         int64_t L)
{
  DnNormLayout l = dn_norm_layout (L, rows, 0);
  struct
  {
    uint32_t rows, L, lanes, lane_fast;
  } pc = { (uint32_t) rows, (uint32_t) L, l.L, l.lane_fast };
  _Static_assert (sizeof pc == 16, "softmax_fwd push constants");
  DnBinding b[] = { DN_READ (inp), DN_READ_WRITE (out) };
  return dn_norm_dispatch_groups (dev, shader, b, 2, &pc, sizeof pc, dn_div_up (rows, l.P));
}

DnStatus
dn_norm_softmax_bwd_rows_vk (DnDevice *dev, DnShaderId shader, const DnTensor *g, const DnTensor *y, DnTensor *d,
                             int64_t rows, int64_t L, float scale)
{
  DnNormLayout l = dn_norm_layout (L, rows, 0);
  struct
  {
    uint32_t rows, L, lanes, lane_fast;
    float scale;
  } pc = { (uint32_t) rows, (uint32_t) L, l.L, l.lane_fast, scale };
  _Static_assert (sizeof pc == 20, "softmax_bwd push constants");
  DnBinding b[] = { DN_READ (g), DN_READ (y), DN_READ_WRITE (d) };
  return dn_norm_dispatch_groups (dev, shader, b, 3, &pc, sizeof pc, dn_div_up (rows, l.P));
}

DnStatus
dn_softmax_forward (DnTensor *out, const DnTensor *inp)
{
  const char *op = "softmax_forward";
  if (!out || !inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_CHECK_SAME_SHAPE (op, out, inp);
  DN_TRY (dn_norm_check_size (op, inp));
  if (inp->ndim < 1)
    return dn_set_error (DN_ERROR_SHAPE, "%s: input needs at least 1 dim", op);
  int64_t n = dn_tensor_numel (inp);
  if (n == 0)
    return DN_OK;
  int64_t L = dn_tensor_dim (inp, -1), rows = n / L;
  if (dn_device_is_cpu (out->dev))
    {
      dn_norm_softmax_rows_cpu (out->dev, dn_tensor_host (out), dn_tensor_host (inp), rows, L, 0);
      return DN_OK;
    }
  return dn_norm_softmax_rows_vk (out->dev, DN_SHADER_SOFTMAX_FWD, inp, out, rows, L);
}

DnStatus
dn_softmax_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *out)
{
  const char *op = "softmax_backward";
  if (!dinp || !dout || !out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, dinp);
  DN_CHECK_SAME_DEVICE (op, out, dout);
  DN_CHECK_SAME_SHAPE (op, out, dinp);
  DN_CHECK_SAME_SHAPE (op, out, dout);
  DN_TRY (dn_norm_check_size (op, out));
  if (out->ndim < 1)
    return dn_set_error (DN_ERROR_SHAPE, "%s: input needs at least 1 dim", op);
  int64_t n = dn_tensor_numel (out);
  if (n == 0)
    return DN_OK;
  int64_t L = dn_tensor_dim (out, -1), rows = n / L;
  if (dn_device_is_cpu (out->dev))
    {
      dn_norm_softmax_bwd_rows_cpu (out->dev, dn_tensor_host (dinp), dn_tensor_host (dout), dn_tensor_host (out), rows,
                                    L, 0, 1.0f);
      return DN_OK;
    }
  return dn_norm_softmax_bwd_rows_vk (out->dev, DN_SHADER_SOFTMAX_BWD, dout, out, dinp, rows, L, 1.0f);
}
