/* dn-base.c: dn_tensor_fill and dn_tensor_copy on both backends (shaders/base/{fill,copy}.comp).
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "dn-device-private.h"

typedef struct
{
  float *y;
  const float *x;
  float value;
} BaseArgs;

static void
fill_range (void *ctx, int64_t b, int64_t e)
{
  BaseArgs *a = ctx;
  for (int64_t i = b; i < e; i++)
    a->y[i] = a->value;
}

static void
copy_range (void *ctx, int64_t b, int64_t e)
{
  BaseArgs *a = ctx;
  memmove (a->y + b, a->x + b, (size_t) (e - b) * sizeof (float));
}

DnStatus
dn_tensor_fill (DnTensor *t, float value)
{
  DN_CHECK_SAME_DEVICE ("fill", t, t);
  int64_t n = dn_tensor_numel (t);
  if (n == 0)
    return DN_OK;
  if (n > UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "fill: %" PRId64 " elements exceed the 2^32 limit", n);
  if (dn_device_is_cpu (t->dev))
    {
      BaseArgs a = { .y = dn_tensor_host (t), .value = value };
      dn_cpu_parallel_for (t->dev, n, 1 << 16, fill_range, &a);
      return DN_OK;
    }
  struct
  {
    uint32_t n;
    float value;
  } pc = { (uint32_t) n, value };
  DnBinding b[] = { DN_WRITE (t) };
  return dn_vk_dispatch_1d (t->dev, DN_SHADER_FILL, b, 1, &pc, sizeof pc, n);
}

DnStatus
dn_tensor_copy (DnTensor *dst, const DnTensor *src)
{
  DN_CHECK_SAME_DEVICE ("copy", dst, src);
  int64_t n = dn_tensor_numel (src);
  if (n != dn_tensor_numel (dst))
    {
      char a[128], b[128];
      return dn_set_error (DN_ERROR_SHAPE, "copy: %s into %s: element counts differ",
                           dn_tensor_shape_str (src, a, sizeof a), dn_tensor_shape_str (dst, b, sizeof b));
    }
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (dst->dev))
    {
      BaseArgs a = { .y = dn_tensor_host (dst), .x = dn_tensor_host (src) };
      dn_cpu_parallel_for (dst->dev, n, 1 << 16, copy_range, &a);
      return DN_OK;
    }
  struct
  {
    uint32_t n;
  } pc = { (uint32_t) n };
  DnBinding b[] = { DN_READ (src), DN_WRITE (dst) };
  return dn_vk_dispatch_1d (dst->dev, DN_SHADER_COPY, b, 2, &pc, sizeof pc, n);
}

static void
finite_range (void *ctx, int64_t b, int64_t e)
{
  BaseArgs *a = ctx;
  for (int64_t i = b; i < e; i++)
    if (!isfinite (a->x[i]))
      {
        a->value = 1; /* benign race: every writer stores the same value */
        return;
      }
}

DnStatus
dn_tensor_check_finite (const DnTensor *t, const char *what)
{
  DN_CHECK_SAME_DEVICE ("check_finite", t, t);
  int64_t n = dn_tensor_numel (t);
  if (n == 0)
    return DN_OK;
  if (n > UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "check_finite: %" PRId64 " elements exceed the 2^32 limit", n);
  bool bad;
  if (dn_device_is_cpu (t->dev))
    {
      BaseArgs a = { .x = dn_tensor_host (t), .value = 0 };
      dn_cpu_parallel_for (t->dev, n, 1 << 16, finite_range, &a);
      bad = a.value != 0;
    }
  else
    {
      DnStatus st;
      DnTensor *flag = dn_tensor_new1 (t->dev, 1, &st);
      if (!flag)
        return st;
      struct
      {
        uint32_t n;
      } pc = { (uint32_t) n };
      DnBinding b[] = { DN_READ (t), DN_WRITE (flag) };
      float f = 0;
      st = dn_vk_dispatch_1d (t->dev, DN_SHADER_CHECK_FINITE, b, 2, &pc, sizeof pc, n);
      if (st == DN_OK)
        st = dn_tensor_download (flag, &f, 1);
      dn_tensor_free (flag);
      if (st != DN_OK)
        return st;
      bad = f != 0;
    }
  if (bad)
    {
      char s[128];
      return dn_set_error (DN_ERROR_NON_FINITE, "%s: tensor %s contains NaN or Inf", what ? what : "check_finite",
                           dn_tensor_shape_str (t, s, sizeof s));
    }
  return DN_OK;
}
