/* gen-erf-coeffs.c: developer tool (not built by meson) that derives the float32 erf used by GELU on both
 * backends (dn_elem_erff in compute/ops/elem/dn-elem-private.h and dn_erf in shaders/elem/elem_act.comp)
 * and measures its error against the C library's double erf.
 *
 *   |x| < 1:     erf(x) = x + x·P(v), v = 2x² − 1, P the degree-7 Chebyshev interpolant (in v) of
 *                erf(x)/x − 1 as a function of u = x² ∈ [0, 1];
 *   1 ≤ |x| < 4: erf(x) = 1 − exp(Q(v) − x²), v = (|x| − 2.5)/1.5, Q the degree-10 Chebyshev interpolant
 *                of log(erfc(t)) + t² on t ∈ [1, 4];
 *   |x| ≥ 4:     ±1 (erfc(4) = 1.5e-8 is below half an ulp of 1).
 * Fitting log(erfc) + t² rather than erfc keeps the polynomial's terms small (no cancellation), and the
 * "x + x·P" form keeps the small-|x| error relative. Chebyshev interpolation is within a small factor of
 * the minimax polynomial; the degrees were raised until the measured float32 error stopped improving
 * (≈1 ulp with fused, ≈1.5 ulp with unfused multiply-adds and a 3-ulp exp).
 *
 *
 * Second form (the fused V1 CPU path, compute/models/dn-twin-v1-cpu.c, which also needs exp(−x²) for
 * GELU'): 1 ≤ |x| < 4: erf(x) = 1 − exp(−x²)·R(v), v as above, R the degree-D3 Chebyshev interpolant of
 * erfcx(t) = erfc(t)·exp(t²) on [1, 4]; so one exp serves both erf and GELU'. Measured with fused
 * multiply-adds, as that file is compiled.
 *
 * Build and run: cc -O2 -o gen-erf-coeffs tests/elem/gen-erf-coeffs.c -lm && ./gen-erf-coeffs
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>

#define D1 7
#define D2 10
#define D3 11

typedef long double ld;

/* Chebyshev interpolation of f on [a, b] at deg+1 nodes, returned as monomial coefficients in the
 * variable v = (2y − a − b)/(b − a) ∈ [−1, 1]. */
static void
cheb_fit (ld (*f) (ld), ld a, ld b, int deg, ld *mono)
{
  int n = deg + 1;
  ld c[32] = { 0 }, T[32][32] = { { 0 } };
  for (int j = 0; j < n; j++)
    {
      ld s = 0;
      for (int k = 0; k < n; k++)
        {
          ld th = M_PIl * (k + 0.5L) / n;
          s += f (0.5L * (a + b) + 0.5L * (b - a) * cosl (th)) * cosl (j * th);
        }
      c[j] = 2.0L * s / n;
    }
  c[0] *= 0.5L;
  T[0][0] = 1;
  T[1][1] = 1;
  for (int j = 2; j < n; j++)
    for (int i = 0; i < n; i++)
      T[j][i] = (i ? 2 * T[j - 1][i - 1] : 0) - T[j - 2][i];
  for (int i = 0; i < n; i++)
    {
      mono[i] = 0;
      for (int j = 0; j < n; j++)
        mono[i] += c[j] * T[j][i];
    }
}

static ld
f_small (ld u) /* erf(√u)/√u − 1 */
{
  if (u == 0)
    return 2.0L / sqrtl (M_PIl) - 1;
  ld x = sqrtl (u);
  return erfl (x) / x - 1;
}

static ld
f_large (ld t) /* log(erfc(t)) + t² */
{
  return logl (erfcl (t)) + t * t;
}

static ld
f_erfcx (ld t) /* erfc(t)·exp(t²) */
{
  return erfcl (t) * expl (t * t);
}

static float P[D1 + 1], Q[D2 + 1], R[D3 + 1];

/* the second form, with fused multiply-adds */
static float
erf_f32_shared (float x)
{
  float ax = fabsf (x);
  if (ax < 1.0f)
    {
      float v = fmaf (2.0f, x * x, -1.0f), p = P[D1];
      for (int i = D1 - 1; i >= 0; i--)
        p = fmaf (p, v, P[i]);
      return fmaf (x, p, x);
    }
  if (ax >= 4.0f)
    return copysignf (1.0f, x);
  float v = (ax - 2.5f) * 0.666666667f, r = R[D3];
  for (int i = D3 - 1; i >= 0; i--)
    r = fmaf (r, v, R[i]);
  return copysignf (1.0f - expf (-(ax * ax)) * r, x);
}

/* the same arithmetic as the engine (unfused multiply-adds) */
static float
erf_f32 (float x)
{
  float ax = fabsf (x);
  if (ax < 1.0f)
    {
      float v = 2.0f * (x * x) - 1.0f, p = P[D1];
      for (int i = D1 - 1; i >= 0; i--)
        p = p * v + P[i];
      return x + x * p;
    }
  if (ax >= 4.0f)
    return copysignf (1.0f, x);
  float v = (ax - 2.5f) * 0.666666667f, q = Q[D2];
  for (int i = D2 - 1; i >= 0; i--)
    q = q * v + Q[i];
  return copysignf (1.0f - expf (q - ax * ax), x);
}

/* The largest error of f in ulps of the float32 erf, over x in [1e-6, 5) (geometric steps), and where. */
static double
max_ulp (float (*f) (float), double *at)
{
  double worst = 0;
  *at = 0;
  for (double x = 1e-6; x < 5; x *= 1.000001)
    {
      float xf = (float) x;
      double want = erf ((double) xf);
      float w32 = (float) want;
      double ulp = fabs ((double) f (xf) - want) / (nextafterf (w32, 2.0f) - w32);
      if (ulp > worst)
        {
          worst = ulp;
          *at = xf;
        }
    }
  return worst;
}

int
main (void)
{
  ld m[32];
  cheb_fit (f_small, 0, 1, D1, m);
  for (int i = 0; i <= D1; i++)
    P[i] = (float) m[i];
  cheb_fit (f_large, 1, 4, D2, m);
  for (int i = 0; i <= D2; i++)
    Q[i] = (float) m[i];
  printf ("small |x| (Horner from the highest degree):\n");
  for (int i = D1; i >= 0; i--)
    printf ("  P[%d] = %.9g\n", i, P[i]);
  printf ("large |x|:\n");
  for (int i = D2; i >= 0; i--)
    printf ("  Q[%d] = %.9g\n", i, Q[i]);
  double worst_x, worst = max_ulp (erf_f32, &worst_x);
  printf ("max error %.3f ulp (at x = %.9g)\n", worst, worst_x);
  cheb_fit (f_erfcx, 1, 4, D3, m);
  for (int i = 0; i <= D3; i++)
    R[i] = (float) m[i];
  printf ("large |x|, second form:\n");
  for (int i = D3; i >= 0; i--)
    printf ("  R[%d] = %.9g\n", i, R[i]);
  worst = max_ulp (erf_f32_shared, &worst_x);
  printf ("second form: max error %.3f ulp (at x = %.9g)\n", worst, worst_x);
  return 0;
}
