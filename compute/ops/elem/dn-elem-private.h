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

/* exp for x in [-87, 0] without libm (Cody–Waite reduction + degree-6 polynomial, ~1 ulp), so that loops
 * using it vectorize. */
static inline __attribute__ ((always_inline)) float
dn_elem_expf_neg (float x)
{
  float n = __builtin_floorf (x * 1.44269504f + 0.5f);
  float r = x - n * 0.693145752f;
  r = r - n * 1.42860677e-06f;
  float p = 1.98756912e-04f;
  p = p * r + 1.39819994e-03f;
  p = p * r + 8.33345205e-03f;
  p = p * r + 4.16657962e-02f;
  p = p * r + 1.66666657e-01f;
  p = p * r + 5.00000000e-01f;
  p = p * r * r + r + 1.0f;
  union
  {
    int32_t i;
    float f;
  } sc = { .i = ((int32_t) n + 127) << 23 };
  return p * sc.f;
}

/* erf in float32, accurate to ~1 ulp (max 1.0 ulp with fused, 1.5 with unfused arithmetic over [0, 5]).
 *   |x| < 1:  erf = x + x·P(2x² − 1), P a degree-7 Chebyshev interpolant of erf(x)/x − 1 in x²;
 *   1 ≤ |x| < 4: erf = 1 − exp(Q(v) − x²), v = (|x| − 2.5)/1.5, Q a degree-10 Chebyshev interpolant of
 *            log(erfc(t)) + t² on t ∈ [1, 4];
 *   |x| ≥ 4:  ±1 (erfc(4) = 1.5e-8 is below half an ulp of 1).
 * Both pieces are computed and one is selected (no branches, no libm), so GELU loops vectorize; a NaN
 * argument gives a finite value here, and GELU's x· factor turns it back into NaN.
 * Coefficients from tests/elem/gen-erf-coeffs.c; the shader copy is shaders/elem/erf.glsl. */
/* erf(x) for |x| < 1: x + x·P(2x² − 1) (the first piece below; also used by the fused V1 GELU). */
static inline __attribute__ ((always_inline)) float
dn_elem_erff_small (float x)
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

static inline __attribute__ ((always_inline)) float
dn_elem_erff (float x)
{
  float ax = __builtin_fabsf (x);
  float small = dn_elem_erff_small (x);
  float cx = ax < 4.0f ? ax : 4.0f;
  float w = (cx - 2.5f) * 0.666666667f;
  float q = -2.21128948e-06f;
  q = q * w + -2.54288852e-06f;
  q = q * w + 4.68955877e-05f;
  q = q * w + -0.000221681941f;
  q = q * w + 0.000876732229f;
  q = q * w + -0.00319476379f;
  q = q * w + 0.0109628523f;
  q = q * w + -0.0366463028f;
  q = q * w + 0.126239091f;
  q = q * w + -0.529021084f;
  q = q * w + -1.55681527f;
  float big = 1.0f - dn_elem_expf_neg (q - cx * cx);
  big = ax < 4.0f ? big : 1.0f;
  big = x < 0.0f ? -big : big;
  return ax < 1.0f ? small : big;
}
