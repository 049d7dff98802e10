/* dn-color.c: colour recorrelation (twins.md §6.2: each pixel's channel row vector times a matrix),
 * forward and backward for the input and the matrix, on both backends. Vulkan: shaders/elem/
 * elem_color.comp, elem_color_dmat.comp. CPU: loops below. Reference: dn_ref_color_recorrelate_*.
 * SPDX-License-Identifier: MIT
 */
#include "dn-elem-private.h"

typedef struct
{
  uint32_t total, Ci, Co, P;
} ColorParams; /* mirrors DN_PARAMS of elem_color.comp */
_Static_assert (sizeof (ColorParams) == 16, "ColorParams must match elem_color.comp");

typedef struct
{
  uint32_t N, Ci, Co, P;
} ColorDmatParams; /* mirrors DN_PARAMS of elem_color_dmat.comp */
_Static_assert (sizeof (ColorDmatParams) == 16, "ColorDmatParams must match elem_color_dmat.comp");

typedef struct
{
  const float *src, *mat, *inp;
  float *dst;
  int64_t N, Ci, Co, P;
} ColorArgs;

/* over output planes (n, co) */
static void
forward_range (void *ctx, int64_t s, int64_t e)
{
  const ColorArgs *a = ctx;
  for (int64_t pl = s; pl < e; pl++)
    {
      int64_t n = pl / a->Co, co = pl % a->Co;
      float *out = a->dst + pl * a->P;
      for (int64_t p = 0; p < a->P; p++)
        out[p] = 0.0f;
      for (int64_t ci = 0; ci < a->Ci; ci++)
        {
          const float *in = a->src + (n * a->Ci + ci) * a->P;
          float m = a->mat[ci * a->Co + co];
          for (int64_t p = 0; p < a->P; p++)
            out[p] += in[p] * m;
        }
    }
}

/* over input planes (n, ci) */
static void
dinp_range (void *ctx, int64_t s, int64_t e)
{
  const ColorArgs *a = ctx;
  for (int64_t pl = s; pl < e; pl++)
    {
      int64_t n = pl / a->Ci, ci = pl % a->Ci;
      float *d = a->dst + pl * a->P;
      for (int64_t co = 0; co < a->Co; co++)
        {
          const float *g = a->src + (n * a->Co + co) * a->P;
          float m = a->mat[ci * a->Co + co];
          for (int64_t p = 0; p < a->P; p++)
            d[p] += g[p] * m;
        }
    }
}

/* over matrix entries (ci, co), in double */
static void
dmat_range (void *ctx, int64_t s, int64_t e)
{
  const ColorArgs *a = ctx;
  for (int64_t k = s; k < e; k++)
    {
      int64_t ci = k / a->Co, co = k % a->Co;
      double sum = 0;
      for (int64_t n = 0; n < a->N; n++)
        {
          const float *in = a->inp + (n * a->Ci + ci) * a->P, *g = a->src + (n * a->Co + co) * a->P;
          for (int64_t p = 0; p < a->P; p++)
            sum += (double) in[p] * g[p];
        }
      a->dst[k] += (float) sum;
    }
}

/* inp (N,Ci,H,W), mat (Ci,Co), other (N,Co,H,W) */
static DnStatus
color_check (const char *op, const DnTensor *inp, const DnTensor *mat, const DnTensor *other, const char *other_name)
{
  char s1[128], s2[128], s3[128];
  DN_TRY (elem_check_nonnull (op, "inp", inp));
  DN_TRY (elem_check_nonnull (op, "mat", mat));
  DN_TRY (elem_check_nonnull (op, other_name, other));
  DN_CHECK_SAME_DEVICE (op, inp, mat);
  DN_CHECK_SAME_DEVICE (op, inp, other);
  bool ok = inp->ndim == 4 && other->ndim == 4 && mat->ndim == 2 && mat->shape[0] == inp->shape[1]
            && other->shape[0] == inp->shape[0] && other->shape[1] == mat->shape[1]
            && other->shape[2] == inp->shape[2] && other->shape[3] == inp->shape[3];
  if (!ok)
    return dn_set_error (DN_ERROR_SHAPE, "%s: expected inp (N,Ci,H,W), mat (Ci,Co), %s (N,Co,H,W); got %s, %s, %s", op,
                         other_name, dn_tensor_shape_str (inp, s1, sizeof s1), dn_tensor_shape_str (mat, s2, sizeof s2),
                         dn_tensor_shape_str (other, s3, sizeof s3));
  DN_TRY (elem_check_numel (op, inp));
  return elem_check_numel (op, other);
}

DnStatus
dn_color_recorrelate_forward (DnTensor *out, const DnTensor *inp, const DnTensor *mat)
{
  const char *op = "color_recorrelate_forward";
  DN_TRY (color_check (op, inp, mat, out, "out"));
  if (elem_overlap (out, inp) || elem_overlap (out, mat))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: out must not overlap inp or mat", op);
  int64_t N = inp->shape[0], Ci = inp->shape[1], Co = mat->shape[1], P = inp->shape[2] * inp->shape[3];
  int64_t total = dn_tensor_numel (out);
  if (total == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      ColorArgs a = { .src = dn_tensor_host (inp), .mat = dn_tensor_host (mat), .dst = dn_tensor_host (out), .N = N,
                      .Ci = Ci, .Co = Co, .P = P };
      dn_cpu_parallel_for (out->dev, N * Co, 1, forward_range, &a);
      return DN_OK;
    }
  ColorParams pc = { (uint32_t) total, (uint32_t) Ci, (uint32_t) Co, (uint32_t) P };
  DnBinding b[] = { DN_READ (inp), DN_READ (mat), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_ELEM_COLOR_FWD, b, 3, &pc, sizeof pc, total);
}

DnStatus
dn_color_recorrelate_backward (DnTensor *dinp, DnTensor *dmat, const DnTensor *inp, const DnTensor *mat,
                               const DnTensor *dout)
{
  const char *op = "color_recorrelate_backward";
  DN_TRY (color_check (op, inp, mat, dout, "dout"));
  if (dinp)
    {
      DN_CHECK_SAME_DEVICE (op, inp, dinp);
      DN_CHECK_SAME_SHAPE (op, dinp, inp);
    }
  if (dmat)
    {
      DN_CHECK_SAME_DEVICE (op, mat, dmat);
      DN_CHECK_SAME_SHAPE (op, dmat, mat);
    }
  int64_t N = inp->shape[0], Ci = inp->shape[1], Co = mat->shape[1], P = inp->shape[2] * inp->shape[3];
  DnDevice *dev = inp->dev;
  if (dinp && dn_tensor_numel (inp) > 0)
    {
      if (dn_device_is_cpu (dev))
        {
          ColorArgs a = { .src = dn_tensor_host (dout), .mat = dn_tensor_host (mat), .dst = dn_tensor_host (dinp),
                          .N = N, .Ci = Ci, .Co = Co, .P = P };
          dn_cpu_parallel_for (dev, N * Ci, 1, dinp_range, &a);
        }
      else
        {
          ColorParams pc = { (uint32_t) dn_tensor_numel (inp), (uint32_t) Ci, (uint32_t) Co, (uint32_t) P };
          DnBinding b[] = { DN_READ (dout), DN_READ (mat), DN_READ_WRITE (dinp) };
          DN_TRY (dn_vk_dispatch_1d (dev, DN_SHADER_ELEM_COLOR_BWD, b, 3, &pc, sizeof pc, dn_tensor_numel (inp)));
        }
    }
  if (dmat && Ci * Co > 0 && N * P > 0)
    {
      if (dn_device_is_cpu (dev))
        {
          ColorArgs a = { .src = dn_tensor_host (dout), .inp = dn_tensor_host (inp), .dst = dn_tensor_host (dmat),
                          .N = N, .Ci = Ci, .Co = Co, .P = P };
          dn_cpu_parallel_for (dev, Ci * Co, 1, dmat_range, &a);
        }
      else
        {
          if (Ci * Co > 65535)
            return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 "×%" PRId64 " matrix is too large (at most 65535 "
                                 "entries)", op, Ci, Co);
          ColorDmatParams pc = { (uint32_t) N, (uint32_t) Ci, (uint32_t) Co, (uint32_t) P };
          DnBinding b[] = { DN_READ (inp), DN_READ (dout), DN_READ_WRITE (dmat) };
          DN_TRY (dn_vk_dispatch (dev, DN_SHADER_ELEM_COLOR_DMAT, b, 3, &pc, sizeof pc, (uint32_t) (Ci * Co), 1, 1));
        }
    }
  return DN_OK;
}
