/* dn-elem-private.h: what the elem op files share: argument checks, the float32 erf used by GELU on the
 * CPU (the same approximation as shaders/elem/erf.glsl, so both backends round alike), and small helpers.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "dn-device-private.h"
#include "dn-ops-elem.h"

/* Fails (DN_ERROR_SHAPE) when a tensor has 2^32 elements or more (shader indices are 32-bit). */
static inline DnStatus
elem_check_numel (const char *op, const DnTensor *t)
{
  int64_t n = dn_tensor_numel (t);
  if (n > (int64_t) UINT32_MAX)
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s has %" PRId64 " elements (at most 2^32 - 1)", op,
                           dn_tensor_shape_str (t, s, sizeof s), n);
    }
  return DN_OK;
}

/* Fails (DN_ERROR_INVALID_ARGUMENT) when a required tensor argument is NULL. */
static inline DnStatus
elem_check_nonnull (const char *op, const char *name, const DnTensor *t)
{
  if (!t)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  return DN_OK;
}

/* Whether two tensors share storage in overlapping element ranges. */
static inline bool
elem_overlap (const DnTensor *a, const DnTensor *b)
{
  return a->buf == b->buf && a->offset < b->offset + dn_tensor_numel (b)
         && b->offset < a->offset + dn_tensor_numel (a);
}

/* A 1-D view of @n elements of @t at element @off (no allocation, no reference: valid while t is). */
static inline DnTensor
elem_sub (const DnTensor *t, int64_t off, int64_t n)
{
  DnTensor v = *t;
  v.offset = t->offset + off;
  v.ndim = 1;
  v.shape[0] = n;
  for (int d = 1; d < DN_MAX_DIMS; d++)
    v.shape[d] = 0;
  return v;
}

/* erf in float32, accurate to ~1 ulp (max 1.0 ulp with fused, 1.5 with unfused arithmetic over [0, 5]).
 *   |x| < 1:  erf = x + x·P(2x² − 1), P a degree-7 Chebyshev interpolant of erf(x)/x − 1 in x²;
 *   1 ≤ |x| < 4: erf = 1 − exp(Q(v) − x²), v = (|x| − 2.5)/1.5, Q a degree-10 Chebyshev interpolant of
 *            log(erfc(t)) + t² on t ∈ [1, 4];
 *   |x| ≥ 4:  ±1 (erfc(4) = 1.5e-8 is below half an ulp of 1).
 * Coefficients from tests/elem/gen-erf-coeffs.c; the shader copy is shaders/elem/erf.glsl. */
static inline float
dn_elem_erff (float x)
{
  float ax = fabsf (x);
  if (ax < 1.0f)
    {
      float v = 2.0f * (x * x) - 1.0f;
      float p = -7.55237863e-08f;
      p = p * v + 1.23163954e-06f;
      p = p * v + -1.7536915e-05f;
      p = p * v + 0.000217511988f;
      p = p * v + -0.00228548562f;
      p = p * v + 0.0198524985f;
      p = p * v + -0.140536085f;
      p = p * v + -0.0345312618f;
      return x + x * p;
    }
  if (!(ax < 4.0f)) /* also NaN: copysign keeps it NaN below */
    return isnan (x) ? x : copysignf (1.0f, x);
  float v = (ax - 2.5f) * 0.666666667f;
  float q = -2.21128948e-06f;
  q = q * v + -2.54288852e-06f;
  q = q * v + 4.68955877e-05f;
  q = q * v + -0.000221681941f;
  q = q * v + 0.000876732229f;
  q = q * v + -0.00319476379f;
  q = q * v + 0.0109628523f;
  q = q * v + -0.0366463028f;
  q = q * v + 0.126239091f;
  q = q * v + -0.529021084f;
  q = q * v + -1.55681527f;
  return copysignf (1.0f - expf (q - ax * ax), x);
}
