/* test-op-lr-schedule.c: the host-side lr schedules: dn_lr_cosine against known values and against
 * PyTorch's recursive CosineAnnealingLR.get_lr (re-written here), and DnLrPlateau against sequences
 * worked out by hand from torch.optim.lr_scheduler.ReduceLROnPlateau (1.13). No device work: the test is
 * the same in both suites.
 * SPDX-License-Identifier: MIT
 */
#include "optim-test.h"

static void
test_cosine_values (void)
{
  const double want[] = { 1, 0.85355339059327373, 0.5, 0.14644660940672624, 0, 0.14644660940672624, 0.5 };
  for (int t = 0; t < (int) G_N_ELEMENTS (want); t++)
    g_assert_cmpfloat_with_epsilon (dn_lr_cosine (1.0, 0.0, t, 4), want[t], 1e-15);
  /* eta_min: the lr runs from base to eta_min */
  g_assert_cmpfloat_with_epsilon (dn_lr_cosine (0.05, 0.01, 0, 128), 0.05, 1e-17);
  g_assert_cmpfloat_with_epsilon (dn_lr_cosine (0.05, 0.01, 64, 128), 0.03, 1e-17);
  g_assert_cmpfloat_with_epsilon (dn_lr_cosine (0.05, 0.01, 128, 128), 0.01, 1e-17);
  /* V1 pixel ascent (twins.md §6.1 item 8): eta_t = 0.05·(1 + cos(πt/128))/2 */
  for (int t = 0; t < 128; t++)
    g_assert_cmpfloat_with_epsilon (dn_lr_cosine (0.05, 0, t, 128), 0.05 * (1 + cos (M_PI * t / 128)) / 2, 1e-17);
  g_assert_cmpfloat (dn_lr_cosine (0.3, 0, 5, 0), ==, 0.3);
}

/* torch.optim.lr_scheduler.CosineAnnealingLR.get_lr (1.13), evaluated after last_epoch was incremented */
static double
torch_cosine_recursive (double prev_lr, double base_lr, double eta_min, int64_t last_epoch, int64_t t_max)
{
  if (last_epoch == 0)
    return prev_lr;
  int64_t k = ((last_epoch - 1 - t_max) % (2 * t_max) + 2 * t_max) % (2 * t_max); /* Python's % */
  if (k == 0)
    return prev_lr + (base_lr - eta_min) * (1 - cos (M_PI / t_max)) / 2;
  return (1 + cos (M_PI * last_epoch / t_max)) / (1 + cos (M_PI * (last_epoch - 1) / t_max)) * (prev_lr - eta_min)
         + eta_min;
}

static void
test_cosine_recursive (void)
{
  const struct
  {
    double base, eta_min;
    int64_t t_max;
  } cases[] = { { 0.05, 0, 128 }, { 1.0, 0, 128 }, { 1.0, 0, 4 }, { 3e-4, 1e-5, 37 } };
  for (size_t c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      double lr = cases[c].base;
      for (int64_t t = 0; t < 3 * cases[c].t_max; t++)
        {
          lr = torch_cosine_recursive (lr, cases[c].base, cases[c].eta_min, t, cases[c].t_max);
          double closed = dn_lr_cosine (cases[c].base, cases[c].eta_min, t, cases[c].t_max);
          if (!(fabs (lr - closed) <= 1e-13 * cases[c].base))
            g_error ("cosine T_max %" G_GINT64_FORMAT " t %" G_GINT64_FORMAT ": recursive %.17g, closed form %.17g",
                     cases[c].t_max, t, lr, closed);
        }
    }
}

static void
check_sequence (const char *what, const DnPlateauOptions *o, double lr0, const double *metrics, const double *want,
                int n)
{
  DnLrPlateau s;
  DN_TEST_OK (dn_lr_plateau_init (&s, o, lr0));
  for (int i = 0; i < n; i++)
    {
      double lr = dn_lr_plateau_step (&s, metrics[i]);
      if (!(fabs (lr - want[i]) <= 1e-15 * lr0))
        g_error ("%s: epoch %d (metric %g): lr %.17g, want %.17g", what, i + 1, metrics[i], lr, want[i]);
      g_assert_cmpfloat (s.lr, ==, lr);
    }
  g_assert_cmpint (s.last_epoch, ==, n);
}

static void
test_plateau (void)
{
  DnPlateauOptions o;

  /* patience 2: the lr is cut on the 3rd bad epoch in a row, then the count restarts */
  dn_lr_plateau_options_init (&o);
  o.factor = 0.5;
  o.patience = 2;
  check_sequence ("min rel patience 2", &o, 1.0, (double[]){ 10, 9, 9, 9, 9, 9, 9, 9, 8, 8 },
                  (double[]){ 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25 }, 10);

  /* rel threshold: 9.9995 does not beat 10·(1 − 1e-4) = 9.999, so it is a bad epoch ... */
  o.patience = 0;
  check_sequence ("rel threshold", &o, 1.0, (double[]){ 10, 9.9995 }, (double[]){ 1, 0.5 }, 2);
  /* ... but it beats 10 − 1e-4 in abs mode */
  o.threshold_mode = DN_PLATEAU_ABS;
  check_sequence ("abs threshold", &o, 1.0, (double[]){ 10, 9.9995, 9.99945 }, (double[]){ 1, 1, 0.5 }, 3);

  /* cooldown 2, patience 0: after a cut the next 2 epochs cannot count as bad */
  dn_lr_plateau_options_init (&o);
  o.patience = 0;
  o.cooldown = 2;
  check_sequence ("cooldown", &o, 1.0, (double[]){ 5, 5, 5, 5, 5, 5, 5, 5 },
                  (double[]){ 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001 }, 8);

  /* min_lr bounds the cut; a cut smaller than eps is skipped */
  dn_lr_plateau_options_init (&o);
  o.patience = 0;
  o.factor = 0.5;
  o.min_lr = 0.3;
  check_sequence ("min_lr", &o, 1.0, (double[]){ 1, 1, 1, 1 }, (double[]){ 1, 0.5, 0.3, 0.3 }, 4);
  o.min_lr = 0;
  check_sequence ("eps", &o, 1.5e-8, (double[]){ 1, 1, 1 }, (double[]){ 1.5e-8, 1.5e-8, 1.5e-8 }, 3);

  /* mode max (an accuracy); NaN is never an improvement */
  dn_lr_plateau_options_init (&o);
  o.mode = DN_PLATEAU_MAX;
  o.patience = 1;
  check_sequence ("max", &o, 1.0, (double[]){ 0.5, 0.6, 0.6, 0.6, 0.7, NAN, NAN },
                  (double[]){ 1, 1, 1, 0.1, 0.1, 0.1, 0.01 }, 7);
  dn_lr_plateau_options_init (&o);
  o.patience = 0;
  check_sequence ("nan", &o, 1.0, (double[]){ NAN, 3 }, (double[]){ 0.1, 0.1 }, 2);

  /* DINA (dual_tower.md §4): min, factor 0.5, patience 50, rel 1e-4: the lr halves after 51 consecutive
   * epochs that fail to beat best·(1 − 1e-4) */
  dn_lr_plateau_options_init (&o);
  o.factor = 0.5;
  o.patience = 50;
  DnLrPlateau s;
  DN_TEST_OK (dn_lr_plateau_init (&s, &o, 3e-4));
  g_assert_cmpfloat (dn_lr_plateau_step (&s, 2.0), ==, 3e-4);
  for (int e = 1; e <= 50; e++)
    g_assert_cmpfloat (dn_lr_plateau_step (&s, 1.99999), ==, 3e-4); /* within the threshold: bad */
  g_assert_cmpfloat (dn_lr_plateau_step (&s, 1.99999), ==, 1.5e-4);
  g_assert_cmpfloat (dn_lr_plateau_step (&s, 1.5), ==, 1.5e-4);
  g_assert_cmpfloat (s.best, ==, 1.5);
  g_assert_cmpint (s.num_bad_epochs, ==, 0);

  /* defaults and bad settings */
  DN_TEST_OK (dn_lr_plateau_init (&s, NULL, 0.01));
  g_assert_cmpfloat (s.opts.factor, ==, 0.1);
  g_assert_cmpint (s.opts.patience, ==, 10);
  g_assert_true (isinf (s.best) && s.best > 0);
  dn_lr_plateau_options_init (&o);
  o.factor = 1.0;
  DN_TEST_FAILS (dn_lr_plateau_init (&s, &o, 0.01), DN_ERROR_INVALID_ARGUMENT);
  dn_lr_plateau_options_init (&o);
  o.mode = (DnPlateauMode) 7;
  DN_TEST_FAILS (dn_lr_plateau_init (&s, &o, 0.01), DN_ERROR_INVALID_ARGUMENT);
  dn_lr_plateau_options_init (&o);
  o.patience = -1;
  DN_TEST_FAILS (dn_lr_plateau_init (&s, &o, 0.01), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_lr_plateau_init (&s, NULL, -0.01), DN_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/lr/cosine-values", test_cosine_values);
  g_test_add_func ("/ops/lr/cosine-recursive", test_cosine_recursive);
  g_test_add_func ("/ops/lr/plateau", test_plateau);
  return dn_test_run ();
}
