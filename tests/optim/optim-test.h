/* optim-test.h: what the optimizer tests share (tests/optim/test-op-*.c): one optimizer "case" (kind +
 * settings) that can step a device tensor or a float64 reference array, the multi-step comparison
 * against the float64 reference, and the quadratic sanity run.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

typedef enum
{
  OPT_SGD,
  OPT_ADAM,
  OPT_ADAMW,
  OPT_RMSPROP,
} OptKind;

typedef struct
{
  const char *name;
  OptKind kind;
  DnSgdParams sgd;
  DnAdamParams adam;
  DnRmspropParams rms;
} OptCase;

#define OPT_N_STATE 3

static inline const char *
opt_state_name (const OptCase *c, int k)
{
  static const char *const names[][OPT_N_STATE] = {
    [OPT_SGD] = { "momentum_buf", "-", "-" },
    [OPT_ADAM] = { "exp_avg", "exp_avg_sq", "-" },
    [OPT_ADAMW] = { "exp_avg", "exp_avg_sq", "-" },
    [OPT_RMSPROP] = { "square_avg", "momentum_buf", "grad_avg" },
  };
  return names[c->kind][k];
}

/* Which of the 3 state slots the case uses: SGD (momentum_buf), Adam (exp_avg, exp_avg_sq), RMSprop
 * (square_avg, momentum_buf, grad_avg). */
static inline bool
opt_uses_state (const OptCase *c, int k)
{
  switch (c->kind)
    {
    case OPT_SGD:
      return k == 0 && c->sgd.momentum != 0;
    case OPT_ADAM:
    case OPT_ADAMW:
      return k < 2;
    case OPT_RMSPROP:
      return k == 0 || (k == 1 && c->rms.momentum > 0) || (k == 2 && c->rms.centered);
    }
  return false;
}

static inline DnStatus
opt_step_dev (const OptCase *c, DnTensor *param, DnTensor **state, const DnTensor *grad, int64_t step)
{
  DnTensor *s[OPT_N_STATE];
  for (int k = 0; k < OPT_N_STATE; k++)
    s[k] = opt_uses_state (c, k) ? state[k] : NULL; /* unused state is passed as NULL */
  switch (c->kind)
    {
    case OPT_SGD:
      return dn_sgd_step (param, s[0], grad, &c->sgd, step);
    case OPT_ADAM:
      return dn_adam_step (param, s[0], s[1], grad, &c->adam, step);
    case OPT_ADAMW:
      return dn_adamw_step (param, s[0], s[1], grad, &c->adam, step);
    case OPT_RMSPROP:
      return dn_rmsprop_step (param, s[0], s[1], s[2], grad, &c->rms);
    }
  return DN_ERROR_INVALID_ARGUMENT;
}

static inline void
opt_step_ref (const OptCase *c, double *param, double **state, const double *grad, int64_t n, int64_t step)
{
  switch (c->kind)
    {
    case OPT_SGD:
      dn_ref_sgd_step (param, state[0], grad, n, &c->sgd, step);
      break;
    case OPT_ADAM:
    case OPT_ADAMW:
      dn_ref_adam_step (param, state[0], state[1], grad, n, &c->adam, step, c->kind == OPT_ADAMW);
      break;
    case OPT_RMSPROP:
      dn_ref_rmsprop_step (param, state[0], state[1], state[2], grad, n, &c->rms);
      break;
    }
}

/* Runs @n_steps steps of @c on a tensor of @shape (with fresh random gradients each step) on the test
 * device and in the float64 reference, comparing the parameter and every used state after each step
 * (relative error ≤ tol). With @views, param, grad and states are views at odd offsets of one block. */
static inline void
opt_check_against_ref (const OptCase *c, int ndim, const int64_t *shape, int n_steps, bool views, double tol)
{
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  uint64_t seed = 1000 + (uint64_t) n * 7 + (uint64_t) c->kind * 101;
  double *p_ref = dn_test_randn (n, seed);
  double *s_ref[OPT_N_STATE];
  DnTensor *block = NULL, *param, *grad, *state[OPT_N_STATE];
  DnStatus st;
  if (views)
    {
      /* param at 5, grad at 5 + n + 3, states after that, each 3 elements apart */
      block = DN_TEST_ZEROS (1, 5 + 5 * (n + 3));
      int64_t off = 5;
      param = dn_tensor_view (block, off, ndim, shape, &st);
      off += n + 3;
      grad = dn_tensor_view (block, off, ndim, shape, &st);
      for (int k = 0; k < OPT_N_STATE; k++)
        {
          off += n + 3;
          state[k] = dn_tensor_view (block, off, ndim, shape, &st);
          g_assert_nonnull (state[k]);
        }
      g_assert_nonnull (param);
      g_assert_nonnull (grad);
      DN_TEST_OK (dn_tensor_fill (block, 3.0f)); /* the gaps keep 3; states must start at 0 */
      for (int k = 0; k < OPT_N_STATE; k++)
        DN_TEST_OK (dn_tensor_fill (state[k], 0.0f));
      float *pf = g_new (float, n);
      for (int64_t i = 0; i < n; i++)
        pf[i] = (float) p_ref[i];
      DN_TEST_OK (dn_tensor_upload (param, pf, n));
      g_free (pf);
    }
  else
    {
      param = dn_test_tensor (ndim, shape, p_ref);
      grad = dn_test_zeros (ndim, shape);
      for (int k = 0; k < OPT_N_STATE; k++)
        state[k] = dn_test_zeros (ndim, shape);
    }
  for (int k = 0; k < OPT_N_STATE; k++)
    s_ref[k] = g_new0 (double, n);

  float *gf = g_new (float, n);
  for (int t = 1; t <= n_steps; t++)
    {
      double *g = dn_test_randn (n, seed + 17 * (uint64_t) t);
      for (int64_t i = 0; i < n; i++)
        {
          g[i] = (double) (float) (g[i] * (1 + 0.2 * t)); /* gradients that change in scale */
          gf[i] = (float) g[i];
        }
      DN_TEST_OK (dn_tensor_upload (grad, gf, n));
      DN_TEST_OK (opt_step_dev (c, param, state, grad, t));
      opt_step_ref (c, p_ref, s_ref, g, n, t);
      char what[256];
      g_snprintf (what, sizeof what, "%s n=%" G_GINT64_FORMAT "%s step %d: param", c->name, n,
                  views ? " (views)" : "", t);
      dn_test_check_tensor (what, param, p_ref, tol);
      for (int k = 0; k < OPT_N_STATE; k++)
        if (opt_uses_state (c, k))
          {
            g_snprintf (what, sizeof what, "%s n=%" G_GINT64_FORMAT "%s step %d: %s", c->name, n,
                        views ? " (views)" : "", t, opt_state_name (c, k));
            dn_test_check_tensor (what, state[k], s_ref[k], tol);
          }
      dn_test_check_tensor ("grad is not modified", grad, g, 0);
      g_free (g);
    }
  if (views)
    {
      /* the gaps between the views are untouched */
      double *all = dn_test_download (block);
      for (int64_t i = 0; i < 5; i++)
        g_assert_cmpfloat (all[i], ==, 3.0);
      for (int j = 0; j < 5; j++)
        for (int64_t i = 0; i < 3; i++)
          g_assert_cmpfloat (all[5 + n + (n + 3) * j + i], ==, 3.0);
      g_free (all);
    }
  g_free (gf);
  for (int k = 0; k < OPT_N_STATE; k++)
    {
      g_free (s_ref[k]);
      dn_tensor_free (state[k]);
    }
  dn_tensor_free (param);
  dn_tensor_free (grad);
  dn_tensor_free (block);
  g_free (p_ref);
}

/* The case on the odd shapes of the contract: 1, 7, 13, 93×3, plus 13 as views. */
static inline void
opt_check_shapes (const OptCase *c)
{
  const double tol = 1e-5;
  opt_check_against_ref (c, 1, (const int64_t[]){ 1 }, 5, false, tol);
  opt_check_against_ref (c, 1, (const int64_t[]){ 7 }, 5, false, tol);
  opt_check_against_ref (c, 2, (const int64_t[]){ 13, 1 }, 5, false, tol);
  opt_check_against_ref (c, 2, (const int64_t[]){ 93, 3 }, 5, false, tol);
  opt_check_against_ref (c, 1, (const int64_t[]){ 13 }, 5, true, tol);
}

/* f(p) = ½‖A p − b‖² with A (17×13), the gradient Aᵀ(A p − b) computed on the host in float64. */
enum
{
  QUAD_M = 17,
  QUAD_N = 13,
};

static inline double
quad_value (const double *A, const double *b, const double *p, double *grad)
{
  double f = 0;
  for (int j = 0; j < QUAD_N; j++)
    grad[j] = 0;
  for (int i = 0; i < QUAD_M; i++)
    {
      double r = -b[i];
      for (int j = 0; j < QUAD_N; j++)
        r += A[i * QUAD_N + j] * p[j];
      f += 0.5 * r * r;
      for (int j = 0; j < QUAD_N; j++)
        grad[j] += A[i * QUAD_N + j] * r;
    }
  return f;
}

/* min_p f(p) = f(p*) with AᵀA p* = Aᵀb (Cholesky; A has full column rank, so f* > 0 as m > n) */
static inline double
quad_minimum (const double *A, const double *b)
{
  double L[QUAD_N][QUAD_N] = { { 0 } }, y[QUAD_N], p[QUAD_N], grad[QUAD_N];
  for (int i = 0; i < QUAD_N; i++)
    for (int j = 0; j <= i; j++)
      {
        double s = 0;
        for (int k = 0; k < QUAD_M; k++)
          s += A[k * QUAD_N + i] * A[k * QUAD_N + j];
        for (int k = 0; k < j; k++)
          s -= L[i][k] * L[j][k];
        L[i][j] = i == j ? sqrt (s) : s / L[j][j];
      }
  for (int i = 0; i < QUAD_N; i++)
    {
      double s = 0;
      for (int k = 0; k < QUAD_M; k++)
        s += A[k * QUAD_N + i] * b[k];
      for (int k = 0; k < i; k++)
        s -= L[i][k] * y[k];
      y[i] = s / L[i][i];
    }
  for (int i = QUAD_N - 1; i >= 0; i--)
    {
      double s = y[i];
      for (int k = i + 1; k < QUAD_N; k++)
        s -= L[k][i] * p[k];
      p[i] = s / L[i][i];
    }
  double f = quad_value (A, b, p, grad);
  for (int j = 0; j < QUAD_N; j++)
    g_assert_cmpfloat (fabs (grad[j]), <, 1e-9);
  return f;
}

/* Runs 50 steps of @c on the quadratic on the test device and asserts that the excess loss f − f* fell
 * below @max_ratio × its initial value. */
static inline void
opt_check_quadratic (const OptCase *c, double max_ratio)
{
  double *A = dn_test_randn (QUAD_M * QUAD_N, 4242);
  for (int i = 0; i < QUAD_M * QUAD_N; i++)
    A[i] /= sqrt ((double) QUAD_M);
  double *b = dn_test_randn (QUAD_M, 4243);
  double *p0 = dn_test_randn (QUAD_N, 4244);
  DnTensor *param = DN_TEST_TENSOR (p0, 1, QUAD_N);
  DnTensor *grad = DN_TEST_ZEROS (1, QUAD_N);
  DnTensor *state[OPT_N_STATE];
  for (int k = 0; k < OPT_N_STATE; k++)
    state[k] = DN_TEST_ZEROS (1, QUAD_N);
  double gd[QUAD_N];
  float gf[QUAD_N];
  double f0 = quad_value (A, b, p0, gd), f = f0, fmin = quad_minimum (A, b);
  for (int t = 1; t <= 50; t++)
    {
      double *p = dn_test_download (param);
      f = quad_value (A, b, p, gd);
      g_free (p);
      if (t == 1)
        g_assert_cmpfloat (fabs (f - f0), <, 1e-5 * f0);
      for (int j = 0; j < QUAD_N; j++)
        gf[j] = (float) gd[j];
      DN_TEST_OK (dn_tensor_upload (grad, gf, QUAD_N));
      DN_TEST_OK (opt_step_dev (c, param, state, grad, t));
    }
  double *p = dn_test_download (param);
  f = quad_value (A, b, p, gd);
  g_free (p);
  double ratio = (f - fmin) / (f0 - fmin);
  if (g_test_verbose ())
    g_printerr ("  %s quadratic [%s]: f0 %.6g -> f50 %.6g, f* %.6g (excess ratio %.3g)\n", c->name,
                dn_test_backend_name (), f0, f, fmin, ratio);
  if (!(ratio < max_ratio))
    g_error ("%s [%s]: the quadratic went from %g to %g in 50 steps, minimum %g (want an excess ratio < %g)",
             c->name, dn_test_backend_name (), f0, f, fmin, max_ratio);
  for (int k = 0; k < OPT_N_STATE; k++)
    dn_tensor_free (state[k]);
  dn_tensor_free (param);
  dn_tensor_free (grad);
  g_free (A);
  g_free (b);
  g_free (p0);
}
