/* test-cli.c: dualneuron-cli end to end: info, predict and gradient against the V1 fixture, import of the
 * real V1 folder into a bundle, and clear errors (exit status 1, message naming the file) for bad input.
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "dn-h5.h"
#include "dn-npy.h"
#include "dn-test.h"

static const char *cli;
static char *tmpdir;

static char *
shared (const char *rel)
{
  char *p = g_build_filename (g_getenv ("DN_SHARED_DIR"), rel, NULL);
  if (!g_file_test (p, G_FILE_TEST_EXISTS))
    g_error ("missing shared file %s", p);
  return p;
}

/* Runs the CLI; returns its exit status, stdout and stderr in *out / *err (g_free). */
static int
run (char **out, char **err, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) cli);
  va_list ap;
  va_start (ap, err);
  const char *a;
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  /* the CPU backend: the auto choice would enumerate Vulkan, whose driver leaks at unload under ASan */
  const char *cmd = argv->len > 1 ? argv->pdata[1] : "";
  if (!strcmp (cmd, "predict") || !strcmp (cmd, "gradient") || !strcmp (cmd, "info"))
    {
      g_ptr_array_add (argv, (gpointer) "--backend");
      g_ptr_array_add (argv, (gpointer) "cpu");
    }
  g_ptr_array_add (argv, NULL);
  int status = -1;
  GError *e = NULL;
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, &e))
    g_error ("spawn %s: %s", cli, e->message);
  g_ptr_array_free (argv, TRUE);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

static double *
read_h5 (const char *file, const char *path, int64_t *n)
{
  DnStatus st;
  DnH5 *h = dn_h5_open (file, false, &st);
  g_assert_nonnull (h);
  double *d;
  int nd;
  int64_t sh[8];
  DN_TEST_OK (dn_h5_read_f64 (h, path, &d, &nd, sh));
  *n = 1;
  for (int i = 0; i < nd; i++)
    *n *= sh[i];
  dn_h5_close (h);
  return d;
}

static double *
read_npy (const char *file, int64_t *n)
{
  DnNpyArray *a;
  DN_TEST_OK (dn_npy_load (file, DN_NPY_FLOAT64, &a));
  *n = a->numel;
  double *d = g_memdup2 (a->data, (gsize) a->numel * sizeof (double));
  dn_npy_array_free (a);
  return d;
}

static void
test_predict_gradient (void)
{
  char *fx = shared ("fixtures/v1_fixture.h5"), *model = shared ("dualneuron/V1GrayTaskDriven");
  char *in = g_strdup_printf ("%s:/inputs", fx);
  char *out = g_build_filename (tmpdir, "r.npy", NULL), *grad = g_build_filename (tmpdir, "g.npy", NULL);
  char *o, *e;
  int rc = run (&o, &e, "predict", "--model", model, "--input", in, "--output", out, "--batch", "4", NULL);
  if (rc != 0)
    g_error ("predict failed: %s", e);
  g_free (o);
  g_free (e);
  int64_t n, m;
  double *got = read_npy (out, &n), *want = read_h5 (fx, "/outputs/centered/ensemble", &m);
  g_assert_cmpint (n, ==, m);
  dn_test_check_close ("cli predict", got, want, n, 1e-4);
  g_free (got);
  free (want);

  rc = run (&o, &e, "predict", "--model", model, "--input", in, "--output", out, "--members", "2", "--trained-positions",
            NULL);
  g_assert_cmpint (rc, ==, 0);
  g_free (o);
  g_free (e);
  got = read_npy (out, &n);
  want = read_h5 (fx, "/outputs/trained_mu/member_2", &m);
  dn_test_check_close ("cli predict --members 2 --trained-positions", got, want, n, 1e-4);
  g_free (got);
  free (want);

  rc = run (&o, &e, "gradient", "--model", model, "--input", in, "--neuron", "100", "--output", grad, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_free (o);
  g_free (e);
  got = read_npy (grad, &n);
  want = read_h5 (fx, "/grad/ensemble_centered", &m);
  g_assert_cmpint (n, ==, 6 * m);
  dn_test_check_close ("cli gradient (input 2)", got + 2 * m, want, m, 1e-3);
  g_free (got);
  free (want);
  g_free (fx);
  g_free (model);
  g_free (in);
  g_free (out);
  g_free (grad);
}

static void
test_import_info (void)
{
  char *model = shared ("dualneuron/V1GrayTaskDriven");
  char *bundle = g_build_filename (tmpdir, "v1.h5", NULL);
  char *o, *e;
  int rc = run (&o, &e, "import", model, bundle, NULL);
  if (rc != 0)
    g_error ("import failed: %s", e);
  g_assert_nonnull (strstr (o, "5 member(s), 458 neurons, mask, correlations"));
  g_free (o);
  g_free (e);
  rc = run (&o, &e, "info", bundle, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (o, "neurons:      458"));
  g_assert_nonnull (strstr (o, "members:      5"));
  g_assert_nonnull (strstr (o, "correlations: 458 values, mean 0.737"));
  g_free (o);
  g_free (e);
  rc = run (&o, &e, "info", "builtin:gabor-v1", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (o, "neurons:      120"));
  g_free (o);
  g_free (e);
  g_unlink (bundle);
  g_free (bundle);
  g_free (model);
}

static void
test_errors (void)
{
  char *o, *e;
  char *bad = g_build_filename (tmpdir, "bad.pth", NULL);
  g_assert_true (g_file_set_contents (bad, "PK\003\004 not really a zip", -1, NULL));
  int rc = run (&o, &e, "info", bad, NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (e, "bad.pth"));
  g_free (o);
  g_free (e);
  rc = run (&o, &e, "predict", "--model", "builtin:gabor-v1", "--input", "/nonexistent.npy", "--output",
            "/tmp/x.npy", NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (e, "/nonexistent.npy"));
  g_free (o);
  g_free (e);
  /* wrong input shape: the fixture's V1 images into the V4-sized check of a V1 model with 92 rows */
  char *fx = shared ("fixtures/v4_fixture.h5");
  char *in = g_strdup_printf ("%s:/inputs", fx);
  rc = run (&o, &e, "predict", "--model", "builtin:gabor-v1", "--input", in, "--output", "/tmp/x.npy", NULL);
  g_assert_cmpint (rc, ==, 1);
  g_assert_nonnull (strstr (e, "takes (N,1,93,93)"));
  g_free (o);
  g_free (e);
  rc = run (&o, &e, "gradient", "--model", "builtin:gabor-v1", "--input", in, "--output", "/tmp/x.npy", "--neuron",
            "500", NULL);
  g_assert_cmpint (rc, !=, 0);
  g_free (o);
  g_free (e);
  rc = run (&o, &e, "frobnicate", NULL);
  g_assert_cmpint (rc, ==, 2);
  g_free (o);
  g_free (e);
  g_unlink (bad);
  g_free (bad);
  g_free (fx);
  g_free (in);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  cli = g_getenv ("DN_CLI");
  if (!cli)
    g_error ("DN_CLI is not set (the test runner sets it to the built dualneuron-cli)");
  tmpdir = g_dir_make_tmp ("dn-cli-XXXXXX", NULL);
  g_test_add_func ("/cli/predict-gradient", test_predict_gradient);
  g_test_add_func ("/cli/import-info", test_import_info);
  g_test_add_func ("/cli/errors", test_errors);
  int rc = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return rc;
}
