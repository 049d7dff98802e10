/* test-op-sgd.c: dn_sgd_step (torch.optim.SGD) against the float64 reference over 5 steps on odd
 * shapes, its variants (momentum, dampening, nesterov, weight decay), the quadratic sanity run and bad
 * input.
 * SPDX-License-Identifier: MIT
 */
#include "optim-test.h"

static const OptCase sgd_cases[] = {
  { "sgd plain", OPT_SGD, .sgd = { .lr = 0.1 } },
  { "sgd weight decay", OPT_SGD, .sgd = { .lr = 0.1, .weight_decay = 0.05 } },
  { "sgd momentum", OPT_SGD, .sgd = { .lr = 0.05, .momentum = 0.9 } },
  { "sgd momentum dampening wd", OPT_SGD,
    .sgd = { .lr = 0.05, .momentum = 0.8, .dampening = 0.3, .weight_decay = 0.01 } },
  { "sgd nesterov", OPT_SGD, .sgd = { .lr = 0.05, .momentum = 0.9, .nesterov = true } },
  { "sgd nesterov wd", OPT_SGD, .sgd = { .lr = 0.02, .momentum = 0.7, .weight_decay = 0.1, .nesterov = true } },
};

static void
test_variants (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (sgd_cases); i++)
    opt_check_shapes (&sgd_cases[i]);
}

static void
test_quadratic (void)
{
  const OptCase c[] = {
    { "sgd plain", OPT_SGD, .sgd = { .lr = 0.2 } },
    { "sgd momentum 0.9 (pixel ascent)", OPT_SGD, .sgd = { .lr = 0.05, .momentum = 0.9 } },
    { "sgd nesterov", OPT_SGD, .sgd = { .lr = 0.05, .momentum = 0.9, .nesterov = true } },
    { "sgd momentum wd", OPT_SGD, .sgd = { .lr = 0.05, .momentum = 0.5, .dampening = 0.1, .weight_decay = 1e-3 } },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (c); i++)
    opt_check_quadratic (&c[i], 0.5);
}

/* The first step sets b = g (not μ·0 + (1 − dampening)·g): checked with dampening 0.5 by hand. */
static void
test_first_step (void)
{
  DnTensor *p = DN_TEST_TENSOR (((double[]){ 1, 2, 3 }), 1, 3);
  DnTensor *b = DN_TEST_ZEROS (1, 3);
  DnTensor *g = DN_TEST_TENSOR (((double[]){ 0.5, -1, 2 }), 1, 3);
  DnSgdParams sp = { .lr = 0.5, .momentum = 0.9, .dampening = 0.5 };
  DN_TEST_OK (dn_sgd_step (p, b, g, &sp, 1));
  dn_test_check_tensor ("b after step 1", b, (double[]){ 0.5, -1, 2 }, 0);
  dn_test_check_tensor ("p after step 1", p, (double[]){ 0.75, 2.5, 2 }, 0);
  DN_TEST_OK (dn_sgd_step (p, b, g, &sp, 2)); /* b = 0.9 b + 0.5 g = 1.4 g */
  dn_test_check_tensor ("b after step 2", b, (double[]){ 0.7, -1.4, 2.8 }, 1e-7);
  dn_test_check_tensor ("p after step 2", p, (double[]){ 0.4, 3.2, 0.6 }, 1e-7);
  dn_tensor_free (p);
  dn_tensor_free (b);
  dn_tensor_free (g);
}

static void
test_bad_input (void)
{
  DnTensor *p = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *b = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *g = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *g_bad = DN_TEST_ZEROS (2, 5, 3);
  DnTensor *b_bad = DN_TEST_ZEROS (1, 15);
  DnSgdParams sp = { .lr = 0.1, .momentum = 0.9 };
  DN_TEST_FAILS (dn_sgd_step (p, b, g_bad, &sp, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_sgd_step (p, b_bad, g, &sp, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_sgd_step (p, NULL, g, &sp, 1), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_sgd_step (p, b, NULL, &sp, 1), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_sgd_step (p, b, g, NULL, 1), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_sgd_step (p, b, g, &sp, 0), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_sgd_step (p, p, g, &sp, 1), DN_ERROR_INVALID_ARGUMENT); /* state aliases param */
  DnSgdParams bad = { .lr = -1 };
  DN_TEST_FAILS (dn_sgd_step (p, b, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  bad = (DnSgdParams){ .lr = 0.1, .nesterov = true };
  DN_TEST_FAILS (dn_sgd_step (p, b, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  bad = (DnSgdParams){ .lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true };
  DN_TEST_FAILS (dn_sgd_step (p, b, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  /* without momentum no buffer is needed */
  DnSgdParams plain = dn_sgd_params_default (0.1);
  DN_TEST_OK (dn_sgd_step (p, NULL, g, &plain, 1));
  /* zero-size tensors are a no-op */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 7), *zb = DN_TEST_ZEROS (2, 0, 7), *zg = DN_TEST_ZEROS (2, 0, 7);
  DN_TEST_OK (dn_sgd_step (z, zb, zg, &sp, 1));
  /* NaN gradients propagate into the parameter and the buffer, and nothing else is touched */
  double gv[15] = { 0 };
  gv[4] = NAN;
  DnTensor *gn = DN_TEST_TENSOR (gv, 2, 3, 5);
  DN_TEST_OK (dn_sgd_step (p, b, gn, &sp, 1));
  double *pd = dn_test_download (p), *bd = dn_test_download (b);
  for (int i = 0; i < 15; i++)
    {
      g_assert_true (i == 4 ? isnan (pd[i]) : pd[i] == 0);
      g_assert_true (i == 4 ? isnan (bd[i]) : bd[i] == 0);
    }
  g_free (pd);
  g_free (bd);
  DnTensor *all[] = { p, b, g, g_bad, b_bad, z, zb, zg, gn };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/sgd/first-step", test_first_step);
  g_test_add_func ("/ops/sgd/variants", test_variants);
  g_test_add_func ("/ops/sgd/quadratic", test_quadratic);
  g_test_add_func ("/ops/sgd/bad-input", test_bad_input);
  return dn_test_run ();
}
