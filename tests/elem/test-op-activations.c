/* test-op-activations.c: GELU (exact erf), ReLU, ELU, sigmoid, tanh on the test backend against the float64
 * references (dn_ref_<act>_*), the references' backward against finite differences, GELU's float32 erf
 * element by element (incl. the exact zero below x ≈ −5.54, twins.md §2.2), in-place forward, NaN,
 * zero-size and bad-shape handling.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

typedef enum
{
  GELU,
  RELU,
  ELU,
  SIGMOID,
  TANH,
  N_ACTS
} Act;

static const char *act_names[] = { "gelu", "relu", "elu", "sigmoid", "tanh" };
static const double elu_alpha = 1.3;

static DnStatus
run_forward (Act act, DnTensor *out, const DnTensor *inp)
{
  switch (act)
    {
    case GELU: return dn_gelu_forward (out, inp);
    case RELU: return dn_relu_forward (out, inp);
    case ELU: return dn_elu_forward (out, inp, (float) elu_alpha);
    case SIGMOID: return dn_sigmoid_forward (out, inp);
    default: return dn_tanh_forward (out, inp);
    }
}

/* x is the input for gelu/relu/elu and the forward output for sigmoid/tanh */
static DnStatus
run_backward (Act act, DnTensor *dinp, const DnTensor *x, const DnTensor *dout)
{
  switch (act)
    {
    case GELU: return dn_gelu_backward (dinp, x, dout);
    case RELU: return dn_relu_backward (dinp, x, dout);
    case ELU: return dn_elu_backward (dinp, x, dout, (float) elu_alpha);
    case SIGMOID: return dn_sigmoid_backward (dinp, x, dout);
    default: return dn_tanh_backward (dinp, x, dout);
    }
}

static void
ref_forward (Act act, double *out, const double *inp, int64_t n)
{
  switch (act)
    {
    case GELU: dn_ref_gelu_forward (out, inp, n); break;
    case RELU: dn_ref_relu_forward (out, inp, n); break;
    case ELU: dn_ref_elu_forward (out, inp, n, elu_alpha); break;
    case SIGMOID: dn_ref_sigmoid_forward (out, inp, n); break;
    default: dn_ref_tanh_forward (out, inp, n); break;
    }
}

/* backward with respect to the INPUT (sigmoid/tanh go through their forward output) */
static void
ref_backward (Act act, double *dinp, const double *inp, const double *dout, int64_t n)
{
  double *y = g_new (double, n);
  switch (act)
    {
    case GELU: dn_ref_gelu_backward (dinp, inp, dout, n); break;
    case RELU: dn_ref_relu_backward (dinp, inp, dout, n); break;
    case ELU: dn_ref_elu_backward (dinp, inp, dout, n, elu_alpha); break;
    case SIGMOID:
      dn_ref_sigmoid_forward (y, inp, n);
      dn_ref_sigmoid_backward (dinp, y, dout, n);
      break;
    default:
      dn_ref_tanh_forward (y, inp, n);
      dn_ref_tanh_backward (dinp, y, dout, n);
      break;
    }
  g_free (y);
}

/* inputs: N(0, 3²) (so GELU's erf sees both of its ranges), kept 1e-3 away from ReLU/ELU's kink */
static double *
act_inputs (int64_t n, uint64_t seed)
{
  double *x = elem_randn (n, seed, 3.0, 0.0);
  for (int64_t i = 0; i < n; i++)
    if (fabs (x[i]) < 1e-3)
      x[i] = x[i] < 0 ? -1e-3 : 1e-3;
  dn_test_round_f32 (x, n);
  return x;
}

static void
check_act (Act act, int ndim, const int64_t *shape, uint64_t seed)
{
  int64_t n = elem_prod (ndim, shape);
  char what[160];
  double *x = act_inputs (n, seed);
  DnTensor *inp = elem_tensor (ndim, shape, x);
  DnTensor *out = dn_test_zeros (ndim, shape);
  DN_TEST_OK (run_forward (act, out, inp));
  double *want = g_new (double, n);
  ref_forward (act, want, x, n);
  g_snprintf (what, sizeof what, "%s forward n=%" G_GINT64_FORMAT, act_names[act], n);
  dn_test_check_tensor (what, out, want, 1e-5);

  /* backward accumulates into a non-zero gradient */
  double *dy = elem_randn (n, seed + 1, 1.0, 0.0);
  double *g0 = elem_randn (n, seed + 2, 0.5, 0.0);
  DnTensor *dout = elem_tensor (ndim, shape, dy);
  DnTensor *dinp = elem_tensor (ndim, shape, g0);
  DnTensor *x_for_bwd = (act == SIGMOID || act == TANH) ? out : inp;
  DN_TEST_OK (run_backward (act, dinp, x_for_bwd, dout));
  double *gw = elem_copy (g0, n);
  if (act == SIGMOID || act == TANH)
    {
      /* the engine uses its own float32 forward output: so does the reference here */
      double *y = dn_test_download (out);
      if (act == SIGMOID)
        dn_ref_sigmoid_backward (gw, y, dy, n);
      else
        dn_ref_tanh_backward (gw, y, dy, n);
      g_free (y);
    }
  else
    ref_backward (act, gw, x, dy, n);
  g_snprintf (what, sizeof what, "%s backward n=%" G_GINT64_FORMAT, act_names[act], n);
  dn_test_check_tensor (what, dinp, gw, 1e-5);

  /* in place: out == inp */
  DN_TEST_OK (run_forward (act, inp, inp));
  g_snprintf (what, sizeof what, "%s forward in place", act_names[act]);
  dn_test_check_tensor (what, inp, want, 1e-5);

  g_free (x);
  g_free (want);
  g_free (dy);
  g_free (g0);
  g_free (gw);
  dn_tensor_free (inp);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (dinp);
}

static void
test_forward_backward (void)
{
  for (int a = 0; a < N_ACTS; a++)
    {
      check_act (a, 1, (const int64_t[]){ 1 }, 10 + a);
      check_act (a, 2, (const int64_t[]){ 3, 7 }, 20 + a);
      check_act (a, 3, (const int64_t[]){ 13, 1, 93 }, 30 + a);
      check_act (a, 4, (const int64_t[]){ 2, 3, 13, 93 }, 40 + a); /* more than one dispatch row of groups */
    }
}

typedef struct
{
  Act act;
} GradCtx;

static void
grad_f (void *ctx, const double *x, double *y)
{
  GradCtx *c = ctx;
  ref_forward (c->act, y, x, 13);
}

static void
test_gradcheck (void)
{
  for (int a = 0; a < N_ACTS; a++)
    {
      GradCtx c = { a };
      double *x = act_inputs (13, 50 + a);
      double *dy = elem_randn (13, 60 + a, 1.0, 0.0);
      double an[13] = { 0 };
      ref_backward (a, an, x, dy, 13);
      char what[64];
      g_snprintf (what, sizeof what, "%s", act_names[a]);
      dn_test_gradcheck (what, grad_f, &c, x, 13, 13, dy, an, 1e-6, 1e-6);
      g_free (x);
      g_free (dy);
    }
}

/* GELU element by element: float32 rounding of x/√2, erf (≈1 ulp), 1 + erf and the products bound the
 * error by about 3e-7·|x|/2 + 1 ulp of the result; the tolerance allows twice that. Also: exactly 0 for
 * x ≲ −5.54 (1 + erf rounds to 0 in float32, as in PyTorch) and exactly x for large x. */
static void
test_gelu_erf (void)
{
  const int64_t n = 4001;
  double *x = g_new (double, n);
  for (int64_t i = 0; i < n; i++)
    x[i] = -10.0 + 20.0 * (double) i / (double) (n - 1);
  dn_test_round_f32 (x, n);
  DnTensor *inp = DN_TEST_TENSOR (x, 1, n);
  DnTensor *out = DN_TEST_ZEROS (1, n);
  DN_TEST_OK (dn_gelu_forward (out, inp));
  double *got = dn_test_download (out);
  double worst = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double want = 0.5 * x[i] * (1.0 + erf (x[i] * M_SQRT1_2));
      double tol = 3e-7 * fabs (x[i]) + 2.4e-7 * fabs (want) + 1e-30;
      double err = fabs (got[i] - want);
      /* below −5.54 the float32 result is 0 by design, far below the tolerance scale of |x| */
      if (!(err <= tol))
        g_error ("gelu(%.9g) [%s] = %.9g, want %.9g (err %.3g > %.3g)", x[i], dn_test_backend_name (), got[i], want,
                 err, tol);
      if (err / tol > worst)
        worst = err / tol;
      if (x[i] <= -5.6)
        g_assert_cmpfloat (got[i], ==, 0.0);
      if (x[i] >= 5.6)
        g_assert_cmpfloat (got[i], ==, x[i]);
    }
  if (g_test_verbose ())
    g_printerr ("  gelu elementwise [%s]: worst err/tol %.3f\n", dn_test_backend_name (), worst);
  g_free (got);
  g_free (x);
  dn_tensor_free (inp);
  dn_tensor_free (out);

  /* the GRN hazard inputs: exactly zero, and a finite gradient */
  double xs[] = { -5.6, -6.0, -7.5, -10.0, -30.0, -1e30 };
  DnTensor *t = DN_TEST_TENSOR (xs, 1, 6);
  DnTensor *o = DN_TEST_ZEROS (1, 6);
  DN_TEST_OK (dn_gelu_forward (o, t));
  double zeros[6] = { 0 };
  dn_test_check_tensor ("gelu exact zeros", o, zeros, 0);
  DnTensor *ones = DN_TEST_ZEROS (1, 6), *g = DN_TEST_ZEROS (1, 6);
  DN_TEST_OK (dn_tensor_fill (ones, 1.0f));
  DN_TEST_OK (dn_gelu_backward (g, t, ones));
  double *gv = dn_test_download (g);
  for (int i = 0; i < 6; i++)
    g_assert_true (isfinite (gv[i]) && fabs (gv[i]) < 1e-6);
  g_free (gv);
  dn_tensor_free (t);
  dn_tensor_free (o);
  dn_tensor_free (ones);
  dn_tensor_free (g);
}

static void
test_nan_and_bad_input (void)
{
  /* NaN propagates through GELU and sigmoid without a crash (other activations: no crash) */
  double xs[] = { NAN, 1.0, -2.0 };
  DnTensor *t = DN_TEST_TENSOR (xs, 1, 3);
  DnTensor *o = DN_TEST_ZEROS (1, 3);
  for (int a = 0; a < N_ACTS; a++)
    {
      DN_TEST_OK (run_forward (a, o, t));
      double *v = dn_test_download (o);
      if (a == GELU || a == SIGMOID || dn_device_is_cpu (dn_test_device ()))
        g_assert_true (isnan (v[0]));
      g_free (v);
    }
  dn_tensor_free (t);
  dn_tensor_free (o);

  DnTensor *a3 = DN_TEST_ZEROS (1, 3), *a4 = DN_TEST_ZEROS (1, 4), *b4 = DN_TEST_ZEROS (2, 2, 2);
  for (int a = 0; a < N_ACTS; a++)
    {
      DN_TEST_FAILS (run_forward (a, a3, a4), DN_ERROR_SHAPE);
      DN_TEST_FAILS (run_forward (a, b4, a4), DN_ERROR_SHAPE);
      DN_TEST_FAILS (run_backward (a, a4, a4, a3), DN_ERROR_SHAPE);
      DN_TEST_FAILS (run_backward (a, a3, a4, a4), DN_ERROR_SHAPE);
      DN_TEST_FAILS (run_forward (a, NULL, a4), DN_ERROR_INVALID_ARGUMENT);
    }
  dn_tensor_free (a3);
  dn_tensor_free (a4);
  dn_tensor_free (b4);

  /* zero-size tensors are a valid no-op */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 5), *z2 = DN_TEST_ZEROS (2, 0, 5);
  for (int a = 0; a < N_ACTS; a++)
    {
      DN_TEST_OK (run_forward (a, z, z2));
      DN_TEST_OK (run_backward (a, z, z2, z2));
    }
  dn_tensor_free (z);
  dn_tensor_free (z2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/activations/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/activations/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/activations/gelu-erf", test_gelu_erf);
  g_test_add_func ("/ops/activations/nan-bad-input", test_nan_and_bad_input);
  return dn_test_run ();
}
