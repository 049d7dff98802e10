/* dn-complex.c: the complex elementwise ops of the fft family (polar, real part, from real, angle), forward
 * and backward, on both backends (shaders/fft/fft_complex.comp). Mirror dn_ref_complex_* in
 * compute/ref/dn-ref-fft.c. A complex tensor is its real counterpart's shape plus a trailing 2.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>

#include "dn-device-private.h"
#include "dn-ops-fft.h"

/* Checks that @c (complex) is @r's shape plus a trailing 2, on the same device. */
static DnStatus
check_pair (const char *op, const DnTensor *c, const char *cn, const DnTensor *r, const char *rn)
{
  if (!c || !r)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", op, !c ? cn : rn);
  DN_CHECK_SAME_DEVICE (op, c, r);
  bool ok = c->ndim == r->ndim + 1 && c->shape[c->ndim - 1] == 2;
  for (int d = 0; ok && d < r->ndim; d++)
    ok = c->shape[d] == r->shape[d];
  if (!ok)
    {
      char a[128], b[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s must be %s %s plus a trailing 2", op, cn,
                           dn_tensor_shape_str (c, a, sizeof a), rn, dn_tensor_shape_str (r, b, sizeof b));
    }
  if (dn_tensor_numel (r) > UINT32_MAX / 2)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " elements exceed the 2^31 limit", op, dn_tensor_numel (r));
  return DN_OK;
}

typedef struct
{
  uint32_t n;
  uint32_t want_a;
  uint32_t want_b;
} Params;
_Static_assert (sizeof (Params) == 12, "Params must mirror fft_complex.comp");

typedef struct
{
  float *a, *b;                 /* outputs */
  const float *x, *y, *z;       /* inputs */
} Args;

/* polar ------------------------------------------------------------------------------------------- */

static void
polar_fwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx; /* a = out, x = mag, y = phase */
  for (int64_t i = i0; i < i1; i++)
    {
      float s = sinf (a->y[i]), c = cosf (a->y[i]);
      a->a[2 * i] = a->x[i] * c;
      a->a[2 * i + 1] = a->x[i] * s;
    }
}

DnStatus
dn_complex_polar_forward (DnTensor *out, const DnTensor *mag, const DnTensor *phase)
{
  DN_TRY (check_pair ("complex_polar_forward", out, "out", mag, "mag"));
  DN_TRY (check_pair ("complex_polar_forward", out, "out", phase, "phase"));
  int64_t n = dn_tensor_numel (mag);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      Args a = { .a = dn_tensor_host (out), .x = dn_tensor_host (mag), .y = dn_tensor_host (phase) };
      dn_cpu_parallel_for (out->dev, n, 1 << 13, polar_fwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (mag), DN_READ (phase), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_FFT_POLAR_FWD, b, 3, &pc, sizeof pc, n);
}

static void
polar_bwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx; /* a = dmag, b = dphase, x = dout, y = mag, z = phase */
  for (int64_t i = i0; i < i1; i++)
    {
      float s = sinf (a->z[i]), c = cosf (a->z[i]), gr = a->x[2 * i], gi = a->x[2 * i + 1];
      if (a->a)
        a->a[i] += gr * c + gi * s;
      if (a->b)
        a->b[i] += a->y[i] * (gi * c - gr * s);
    }
}

DnStatus
dn_complex_polar_backward (DnTensor *dmag, DnTensor *dphase, const DnTensor *dout, const DnTensor *mag,
                           const DnTensor *phase)
{
  const char *op = "complex_polar_backward";
  DN_TRY (check_pair (op, dout, "dout", mag, "mag"));
  DN_TRY (check_pair (op, dout, "dout", phase, "phase"));
  if (dmag)
    DN_TRY (check_pair (op, dout, "dout", dmag, "dmag"));
  if (dphase)
    DN_TRY (check_pair (op, dout, "dout", dphase, "dphase"));
  int64_t n = dn_tensor_numel (mag);
  if (n == 0 || (!dmag && !dphase))
    return DN_OK;
  if (dn_device_is_cpu (dout->dev))
    {
      Args a = { .a = dmag ? dn_tensor_host (dmag) : NULL, .b = dphase ? dn_tensor_host (dphase) : NULL,
                 .x = dn_tensor_host (dout), .y = dn_tensor_host (mag), .z = dn_tensor_host (phase) };
      dn_cpu_parallel_for (dout->dev, n, 1 << 13, polar_bwd_range, &a);
      return DN_OK;
    }
  /* a missing gradient's slot holds a read-only stand-in the shader does not touch */
  Params pc = { (uint32_t) n, dmag != NULL, dphase != NULL };
  DnBinding b[] = { DN_READ (dout), DN_READ (mag), DN_READ (phase),
                    dmag ? DN_READ_WRITE (dmag) : DN_READ (mag),
                    dphase ? DN_READ_WRITE (dphase) : DN_READ (phase) };
  return dn_vk_dispatch_1d (dout->dev, DN_SHADER_FFT_POLAR_BWD, b, 5, &pc, sizeof pc, n);
}

/* real part ---------------------------------------------------------------------------------------- */

static void
real_fwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx;
  for (int64_t i = i0; i < i1; i++)
    a->a[i] = a->x[2 * i];
}

DnStatus
dn_complex_real_forward (DnTensor *out, const DnTensor *inp)
{
  DN_TRY (check_pair ("complex_real_forward", inp, "inp", out, "out"));
  int64_t n = dn_tensor_numel (out);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      Args a = { .a = dn_tensor_host (out), .x = dn_tensor_host (inp) };
      dn_cpu_parallel_for (out->dev, n, 1 << 15, real_fwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_FFT_REAL_FWD, b, 2, &pc, sizeof pc, n);
}

static void
real_bwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx;
  for (int64_t i = i0; i < i1; i++)
    a->a[2 * i] += a->x[i];
}

DnStatus
dn_complex_real_backward (DnTensor *dinp, const DnTensor *dout)
{
  DN_TRY (check_pair ("complex_real_backward", dinp, "dinp", dout, "dout"));
  int64_t n = dn_tensor_numel (dout);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (dout->dev))
    {
      Args a = { .a = dn_tensor_host (dinp), .x = dn_tensor_host (dout) };
      dn_cpu_parallel_for (dout->dev, n, 1 << 15, real_bwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (dout), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dout->dev, DN_SHADER_FFT_REAL_BWD, b, 2, &pc, sizeof pc, n);
}

/* from real ---------------------------------------------------------------------------------------- */

static void
from_real_fwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx;
  for (int64_t i = i0; i < i1; i++)
    {
      a->a[2 * i] = a->x[i];
      a->a[2 * i + 1] = 0.0f;
    }
}

DnStatus
dn_complex_from_real_forward (DnTensor *out, const DnTensor *inp)
{
  DN_TRY (check_pair ("complex_from_real_forward", out, "out", inp, "inp"));
  int64_t n = dn_tensor_numel (inp);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      Args a = { .a = dn_tensor_host (out), .x = dn_tensor_host (inp) };
      dn_cpu_parallel_for (out->dev, n, 1 << 15, from_real_fwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_FFT_FROM_REAL_FWD, b, 2, &pc, sizeof pc, n);
}

static void
from_real_bwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx;
  for (int64_t i = i0; i < i1; i++)
    a->a[i] += a->x[2 * i];
}

DnStatus
dn_complex_from_real_backward (DnTensor *dinp, const DnTensor *dout)
{
  DN_TRY (check_pair ("complex_from_real_backward", dout, "dout", dinp, "dinp"));
  int64_t n = dn_tensor_numel (dinp);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (dout->dev))
    {
      Args a = { .a = dn_tensor_host (dinp), .x = dn_tensor_host (dout) };
      dn_cpu_parallel_for (dout->dev, n, 1 << 15, from_real_bwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (dout), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dout->dev, DN_SHADER_FFT_FROM_REAL_BWD, b, 2, &pc, sizeof pc, n);
}

/* angle -------------------------------------------------------------------------------------------- */

static void
angle_fwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx;
  for (int64_t i = i0; i < i1; i++)
    a->a[i] = atan2f (a->x[2 * i + 1], a->x[2 * i]);
}

DnStatus
dn_complex_angle_forward (DnTensor *out, const DnTensor *inp)
{
  DN_TRY (check_pair ("complex_angle_forward", inp, "inp", out, "out"));
  int64_t n = dn_tensor_numel (out);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      Args a = { .a = dn_tensor_host (out), .x = dn_tensor_host (inp) };
      dn_cpu_parallel_for (out->dev, n, 1 << 13, angle_fwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (inp), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, DN_SHADER_FFT_ANGLE_FWD, b, 2, &pc, sizeof pc, n);
}

static void
angle_bwd_range (void *ctx, int64_t i0, int64_t i1)
{
  Args *a = ctx; /* a = dinp, x = dout, y = inp */
  for (int64_t i = i0; i < i1; i++)
    {
      float re = a->y[2 * i], im = a->y[2 * i + 1], r2 = re * re + im * im;
      if (r2 == 0.0f)
        continue;
      float g = a->x[i] / r2;
      a->a[2 * i] += -im * g;
      a->a[2 * i + 1] += re * g;
    }
}

DnStatus
dn_complex_angle_backward (DnTensor *dinp, const DnTensor *dout, const DnTensor *inp)
{
  const char *op = "complex_angle_backward";
  DN_TRY (check_pair (op, inp, "inp", dout, "dout"));
  DN_TRY (check_pair (op, dinp, "dinp", dout, "dout"));
  int64_t n = dn_tensor_numel (dout);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (dout->dev))
    {
      Args a = { .a = dn_tensor_host (dinp), .x = dn_tensor_host (dout), .y = dn_tensor_host (inp) };
      dn_cpu_parallel_for (dout->dev, n, 1 << 13, angle_bwd_range, &a);
      return DN_OK;
    }
  Params pc = { (uint32_t) n, 0, 0 };
  DnBinding b[] = { DN_READ (dout), DN_READ (inp), DN_READ_WRITE (dinp) };
  return dn_vk_dispatch_1d (dout->dev, DN_SHADER_FFT_ANGLE_BWD, b, 3, &pc, sizeof pc, n);
}
