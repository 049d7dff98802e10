/* test-op-adam.c: dn_adam_step / dn_adamw_step (torch.optim.Adam / AdamW) against the float64 reference
 * over 5 steps on odd shapes, their variants, a hand-computed first step (where eps sits), the quadratic
 * sanity run, bad input, and the replay of the V4 Fourier-ascent Adam steps recorded by PyTorch in
 * $DN_SHARED_DIR/fixtures/v4_fixture.h5 (twins.md §10.1): from init_phase and the recorded grad_phase
 * sequence, exp_avg, exp_avg_sq and phase_after must match PyTorch's to 1e-6 at every step, and bitwise
 * on the CPU backend (whose rounding mirrors PyTorch's AVX2 kernels, see dn-optim.c).
 * SPDX-License-Identifier: MIT
 */
#include <hdf5.h>
#include <string.h>

#include "optim-test.h"

static const OptCase adam_cases[] = {
  { "adam", OPT_ADAM, .adam = { .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 } },
  { "adam lr 1 (V4 synthesis)", OPT_ADAM, .adam = { .lr = 1.0, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 } },
  { "adam L2 weight decay", OPT_ADAM,
    .adam = { .lr = 3e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1 } },
  { "adam betas eps", OPT_ADAM, .adam = { .lr = 5e-2, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3 } },
  { "adamw", OPT_ADAMW, .adam = { .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2 } },
  { "adamw strong decay", OPT_ADAMW,
    .adam = { .lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.5 } },
  { "adamw DINA", OPT_ADAMW, .adam = { .lr = 3e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 5e-5 } },
};

static void
test_variants (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (adam_cases); i++)
    opt_check_shapes (&adam_cases[i]);
}

static void
test_quadratic (void)
{
  const OptCase c[] = {
    { "adam", OPT_ADAM, .adam = { .lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 } },
    { "adam L2", OPT_ADAM, .adam = { .lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-3 } },
    { "adamw", OPT_ADAMW, .adam = { .lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2 } },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (c); i++)
    opt_check_quadratic (&c[i], 0.5);
}

/* Step 1 by hand: m̂ = g, v̂ = g², so p −= lr·g/(|g| + eps) with eps OUTSIDE the square root of the
 * bias-corrected v (a tiny gradient moves p by lr·g/(|g| + eps), not by a sign step). AdamW first scales
 * p by (1 − lr·wd). */
static void
test_first_step (void)
{
  const double p0[4] = { 1, -2, 0.5, 3 }, g[4] = { 0.5, -2, 1e-9, 0 };
  DnTensor *g_t = DN_TEST_TENSOR (g, 1, 4);
  for (int w = 0; w < 2; w++)
    {
      DnTensor *p = DN_TEST_TENSOR (p0, 1, 4), *m = DN_TEST_ZEROS (1, 4), *v = DN_TEST_ZEROS (1, 4);
      DnAdamParams ap = dn_adam_params_default (1.0);
      ap.weight_decay = w ? 0.01 : 0;
      DN_TEST_OK (w ? dn_adamw_step (p, m, v, g_t, &ap, 1) : dn_adam_step (p, m, v, g_t, &ap, 1));
      double want[4], gf[4];
      for (int i = 0; i < 4; i++)
        {
          gf[i] = (float) g[i];
          double ge = w ? gf[i] : gf[i] + ap.weight_decay * p0[i]; /* Adam's L2 is 0 here */
          want[i] = p0[i] * (w ? 1 - ap.lr * ap.weight_decay : 1) - ap.lr * ge / (fabs (ge) + ap.eps);
        }
      dn_test_check_tensor (w ? "adamw first step" : "adam first step", p, want, 1e-6);
      g_assert_cmpfloat (fabs (want[2] - p0[2] * (w ? 0.99 : 1) + 1.0 / 11), <, 1e-6);
      dn_tensor_free (p);
      dn_tensor_free (m);
      dn_tensor_free (v);
    }
  dn_tensor_free (g_t);
}

static void
test_bad_input (void)
{
  DnTensor *p = DN_TEST_ZEROS (2, 3, 5), *m = DN_TEST_ZEROS (2, 3, 5), *v = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *g = DN_TEST_ZEROS (2, 3, 5), *g_bad = DN_TEST_ZEROS (2, 3, 4), *v_bad = DN_TEST_ZEROS (3, 3, 5, 1);
  DnAdamParams ap = dn_adam_params_default (1e-3);
  DN_TEST_FAILS (dn_adam_step (p, m, v, g_bad, &ap, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_adamw_step (p, m, v_bad, g, &ap, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_adam_step (p, NULL, v, g, &ap, 1), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_adam_step (p, m, m, g, &ap, 1), DN_ERROR_INVALID_ARGUMENT); /* aliased state */
  DN_TEST_FAILS (dn_adam_step (p, m, v, g, &ap, 0), DN_ERROR_INVALID_ARGUMENT);
  DnAdamParams bad = ap;
  bad.beta1 = 1.0;
  DN_TEST_FAILS (dn_adam_step (p, m, v, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  bad = ap;
  bad.eps = -1e-8;
  DN_TEST_FAILS (dn_adamw_step (p, m, v, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  bad = ap;
  bad.lr = NAN;
  DN_TEST_FAILS (dn_adamw_step (p, m, v, g, &bad, 1), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *z[4];
  for (int i = 0; i < 4; i++)
    z[i] = DN_TEST_ZEROS (3, 2, 0, 3);
  DN_TEST_OK (dn_adam_step (z[0], z[1], z[2], z[3], &ap, 1));
  DN_TEST_OK (dn_adamw_step (z[0], z[1], z[2], z[3], &ap, 7));
  for (int i = 0; i < 4; i++)
    dn_tensor_free (z[i]);
  /* a NaN gradient makes that parameter NaN and leaves the others finite */
  double gv[15] = { 0 };
  gv[7] = NAN;
  gv[3] = 1;
  DnTensor *gn = DN_TEST_TENSOR (gv, 2, 3, 5);
  DN_TEST_OK (dn_adam_step (p, m, v, gn, &ap, 1));
  double *pd = dn_test_download (p);
  for (int i = 0; i < 15; i++)
    g_assert_true (i == 7 ? isnan (pd[i]) : isfinite (pd[i]));
  g_free (pd);
  DnTensor *all[] = { p, m, v, g, g_bad, v_bad, gn };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

/* PyTorch replay -------------------------------------------------------------------------------------- */

#define REPLAY "/fourier_ascent_replay"
#define REPLAY_N (3 * 100 * 100)
#define REPLAY_STEPS 4

static float *
read_f32 (hid_t file, const char *path, hssize_t want_n)
{
  hid_t d = H5Dopen2 (file, path, H5P_DEFAULT);
  if (d < 0)
    g_error ("v4_fixture.h5: cannot open dataset %s", path);
  hid_t sp = H5Dget_space (d);
  hssize_t n = H5Sget_simple_extent_npoints (sp);
  if (n != want_n)
    g_error ("v4_fixture.h5: %s has %lld elements, expected %lld", path, (long long) n, (long long) want_n);
  float *buf = g_new (float, n);
  if (H5Dread (d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    g_error ("v4_fixture.h5: cannot read %s", path);
  H5Sclose (sp);
  H5Dclose (d);
  return buf;
}

static double
read_attr_f64 (hid_t file, const char *obj, const char *name)
{
  hid_t a = H5Aopen_by_name (file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0)
    g_error ("v4_fixture.h5: no attribute %s on %s", name, obj);
  double v;
  if (H5Aread (a, H5T_NATIVE_DOUBLE, &v) < 0)
    g_error ("v4_fixture.h5: cannot read attribute %s of %s", name, obj);
  H5Aclose (a);
  return v;
}

static char *
read_attr_str (hid_t file, const char *obj, const char *name)
{
  hid_t a = H5Aopen_by_name (file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0)
    g_error ("v4_fixture.h5: no attribute %s on %s", name, obj);
  hid_t type = H5Aget_type (a); /* a variable-length UTF-8 string (h5py's default) */
  if (H5Tget_class (type) != H5T_STRING || H5Tis_variable_str (type) <= 0)
    g_error ("v4_fixture.h5: attribute %s of %s is not a variable-length string", name, obj);
  char *s = NULL;
  if (H5Aread (a, type, &s) < 0)
    g_error ("v4_fixture.h5: cannot read attribute %s of %s", name, obj);
  char *copy = g_strdup (s);
  H5free_memory (s);
  H5Tclose (type);
  H5Aclose (a);
  return copy;
}

static double *
to_f64 (const float *f, int64_t n)
{
  double *d = g_new (double, n);
  for (int64_t i = 0; i < n; i++)
    d[i] = f[i];
  return d;
}

static void
test_pytorch_replay (void)
{
  const char *shared = g_getenv ("DN_SHARED_DIR");
  if (!shared || !*shared)
    g_error ("DN_SHARED_DIR is not set: the Adam replay needs $DN_SHARED_DIR/fixtures/v4_fixture.h5");
  char *path = g_build_filename (shared, "fixtures", "v4_fixture.h5", NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("fixture %s is missing", path);
  hid_t file = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    g_error ("cannot open %s", path);
  char *formula = read_attr_str (file, REPLAY, "optimizer");
  char *schedule = read_attr_str (file, REPLAY, "schedule");
  if (g_test_verbose ())
    g_printerr ("  fixture optimizer: %s\n  fixture schedule: %s\n", formula, schedule);
  /* the formula this test (and dn_adam_step) implements; fail if the fixture documents another one */
  g_assert_nonnull (strstr (formula, "phi -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)"));
  g_assert_nonnull (strstr (formula, "eps=1e-8"));
  g_assert_nonnull (strstr (schedule, "eta_min=0"));

  float *phase = read_f32 (file, REPLAY "/init_phase", REPLAY_N);
  DnTensor *param = dn_test_zeros (3, (const int64_t[]){ 3, 100, 100 });
  DnTensor *m = dn_test_zeros (3, (const int64_t[]){ 3, 100, 100 });
  DnTensor *v = dn_test_zeros (3, (const int64_t[]){ 3, 100, 100 });
  DnTensor *grad = dn_test_zeros (3, (const int64_t[]){ 3, 100, 100 });
  DN_TEST_OK (dn_tensor_upload (param, phase, REPLAY_N));
  for (int t = 0; t < REPLAY_STEPS; t++)
    {
      char step[64], name[128];
      g_snprintf (step, sizeof step, REPLAY "/step_%d", t);
      /* the lr PyTorch used at this step = the closed-form cosine schedule (T_max 4, eta_min 0), with the
       * scheduler stepped after every optimiser step */
      double lr = read_attr_f64 (file, step, "lr");
      double lr_cos = dn_lr_cosine (1.0, 0.0, t, REPLAY_STEPS);
      if (!(fabs (lr - lr_cos) <= 1e-15))
        g_error ("step %d: fixture lr %.17g, dn_lr_cosine %.17g", t, lr, lr_cos);

      g_snprintf (name, sizeof name, "%s/grad_phase", step);
      float *g = read_f32 (file, name, REPLAY_N);
      DN_TEST_OK (dn_tensor_upload (grad, g, REPLAY_N));
      DnAdamParams ap = dn_adam_params_default (lr_cos);
      DN_TEST_OK (dn_adam_step (param, m, v, grad, &ap, t + 1));

      const char *what[3] = { "adam_exp_avg", "adam_exp_avg_sq", "phase_after" };
      const DnTensor *got[3] = { m, v, param };
      for (int k = 0; k < 3; k++)
        {
          g_snprintf (name, sizeof name, "%s/%s", step, what[k]);
          float *want_f = read_f32 (file, name, REPLAY_N);
          double *want = to_f64 (want_f, REPLAY_N);
          char label[160];
          g_snprintf (label, sizeof label, "PyTorch replay step %d: %s", t, what[k]);
          double *have = dn_test_download (got[k]);
          dn_test_check_close (label, have, want, REPLAY_N, 1e-6);
          int64_t n_diff = 0;
          for (int64_t i = 0; i < REPLAY_N; i++)
            n_diff += have[i] != want[i];
          if (g_test_verbose ())
            g_printerr ("  %s [%s]: %" G_GINT64_FORMAT " of %d elements differ from PyTorch's bits\n", label,
                        dn_test_backend_name (), n_diff, REPLAY_N);
          if (dn_device_is_cpu (dn_test_device ()) && n_diff != 0)
            g_error ("%s: the CPU backend should reproduce PyTorch bitwise, %" G_GINT64_FORMAT " elements differ",
                     label, n_diff);
          g_free (have);
          g_free (want);
          g_free (want_f);
        }
      g_free (g);
    }
  dn_tensor_free (param);
  dn_tensor_free (m);
  dn_tensor_free (v);
  dn_tensor_free (grad);
  g_free (phase);
  g_free (formula);
  g_free (schedule);
  H5Fclose (file);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/adam/first-step", test_first_step);
  g_test_add_func ("/ops/adam/variants", test_variants);
  g_test_add_func ("/ops/adam/quadratic", test_quadratic);
  g_test_add_func ("/ops/adam/bad-input", test_bad_input);
  g_test_add_func ("/ops/adam/pytorch-replay", test_pytorch_replay);
  return dn_test_run ();
}
