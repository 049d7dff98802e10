/* test-op-rmsprop.c: dn_rmsprop_step (torch.optim.RMSprop) against the float64 reference over 5 steps on
 * odd shapes, all variants (centered, momentum, weight decay, the DINA neural-tower setting), a
 * hand-computed first step, the quadratic sanity run and bad input.
 * SPDX-License-Identifier: MIT
 */
#include "optim-test.h"

static const OptCase rms_cases[] = {
  { "rmsprop", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.99, .eps = 1e-8 } },
  { "rmsprop DINA", OPT_RMSPROP, .rms = { .lr = 5e-5, .alpha = 0.9, .eps = 1e-8 } },
  { "rmsprop weight decay", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.1 } },
  { "rmsprop momentum", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.99, .eps = 1e-8, .momentum = 0.9 } },
  { "rmsprop centered", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.99, .eps = 1e-8, .centered = true } },
  { "rmsprop centered momentum wd", OPT_RMSPROP,
    .rms = { .lr = 1e-2, .alpha = 0.8, .eps = 1e-4, .weight_decay = 0.05, .momentum = 0.5, .centered = true } },
};

static void
test_variants (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (rms_cases); i++)
    opt_check_shapes (&rms_cases[i]);
}

static void
test_quadratic (void)
{
  const OptCase c[] = {
    { "rmsprop", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.99, .eps = 1e-8 } },
    { "rmsprop alpha 0.9", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.9, .eps = 1e-8 } },
    { "rmsprop momentum", OPT_RMSPROP, .rms = { .lr = 2e-3, .alpha = 0.99, .eps = 1e-8, .momentum = 0.9 } },
    { "rmsprop centered", OPT_RMSPROP, .rms = { .lr = 1e-2, .alpha = 0.99, .eps = 1e-8, .centered = true } },
    { "rmsprop centered momentum wd", OPT_RMSPROP,
      .rms = { .lr = 2e-3, .alpha = 0.99, .eps = 1e-8, .weight_decay = 1e-3, .momentum = 0.9, .centered = true } },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (c); i++)
    opt_check_quadratic (&c[i], 0.5);
}

/* Step 1 by hand: s = (1 − α)g², so p −= lr·g/(sqrt(1 − α)|g| + eps) (eps outside the sqrt, no bias
 * correction); centered: a = (1 − α)g, p −= lr·g/(sqrt((1 − α)α)|g| + eps); momentum starts from zero. */
static void
test_first_step (void)
{
  const double p0[3] = { 1, -2, 0.5 }, g[3] = { 0.5, -2, 0.25 };
  DnTensor *g_t = DN_TEST_TENSOR (g, 1, 3);
  for (int centered = 0; centered < 2; centered++)
    for (int mom = 0; mom < 2; mom++)
      {
        DnTensor *p = DN_TEST_TENSOR (p0, 1, 3), *s = DN_TEST_ZEROS (1, 3), *b = DN_TEST_ZEROS (1, 3),
                 *a = DN_TEST_ZEROS (1, 3);
        DnRmspropParams rp = dn_rmsprop_params_default (0.1);
        rp.alpha = 0.75;
        rp.eps = 1e-3;
        rp.centered = centered;
        rp.momentum = mom ? 0.9 : 0;
        DN_TEST_OK (dn_rmsprop_step (p, s, mom ? b : NULL, centered ? a : NULL, g_t, &rp));
        double want[3];
        for (int i = 0; i < 3; i++)
          want[i] = p0[i] - 0.1 * g[i] / (sqrt (centered ? 0.25 * 0.75 : 0.25) * fabs (g[i]) + 1e-3);
        dn_test_check_tensor ("rmsprop first step", p, want, 1e-6);
        dn_tensor_free (p);
        dn_tensor_free (s);
        dn_tensor_free (b);
        dn_tensor_free (a);
      }
  dn_tensor_free (g_t);
}

static void
test_bad_input (void)
{
  DnTensor *p = DN_TEST_ZEROS (2, 3, 5), *s = DN_TEST_ZEROS (2, 3, 5), *b = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *a = DN_TEST_ZEROS (2, 3, 5), *g = DN_TEST_ZEROS (2, 3, 5), *bad_t = DN_TEST_ZEROS (2, 5, 3);
  DnRmspropParams rp = dn_rmsprop_params_default (1e-2);
  rp.momentum = 0.9;
  rp.centered = true;
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, a, bad_t, &rp), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_rmsprop_step (p, bad_t, b, a, g, &rp), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, bad_t, a, g, &rp), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, bad_t, g, &rp), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_rmsprop_step (p, NULL, b, a, g, &rp), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, NULL, a, g, &rp), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, NULL, g, &rp), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, s, g, &rp), DN_ERROR_INVALID_ARGUMENT); /* aliased state */
  DnRmspropParams badp = rp;
  badp.alpha = -0.5;
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, a, g, &badp), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_rmsprop_step (p, s, b, a, g, NULL), DN_ERROR_INVALID_ARGUMENT);
  /* unused state may be NULL (or anything: it is ignored) */
  DnRmspropParams plain = dn_rmsprop_params_default (1e-2);
  DN_TEST_OK (dn_rmsprop_step (p, s, NULL, NULL, g, &plain));
  DN_TEST_OK (dn_rmsprop_step (p, s, bad_t, bad_t, g, &plain));
  DnTensor *z[5];
  for (int i = 0; i < 5; i++)
    z[i] = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_rmsprop_step (z[0], z[1], z[2], z[3], z[4], &rp));
  for (int i = 0; i < 5; i++)
    dn_tensor_free (z[i]);
  DnTensor *all[] = { p, s, b, a, g, bad_t };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/rmsprop/first-step", test_first_step);
  g_test_add_func ("/ops/rmsprop/variants", test_variants);
  g_test_add_func ("/ops/rmsprop/quadratic", test_quadratic);
  g_test_add_func ("/ops/rmsprop/bad-input", test_bad_input);
  return dn_test_run ();
}
