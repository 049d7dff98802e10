/* test-twin-v4.c: the V4ColorTaskDriven ensemble (random stand-in weights in the real key layout,
 * ../shared/fixtures/checkpoints/v4color_random) against v4_fixture.h5 (PyTorch). Outputs: rel 1e-4 for
 * every member and the ensemble in both readout modes; intermediates of member 1; input gradients in
 * relative L2, whose level twins.md §10.1 explains (max-pool argmax switches and ReLU kinks within fp32
 * rounding move the fp32 gradient by ~2e-3 relative L2 between two correct implementations). The
 * legacy-format members give identical outputs to their zip counterparts; V4Gray runs on 1 channel.
 * On the Vulkan suite (lavapipe runs ~1 GFLOP/s and each member costs ~1 GFLOP per image) the checks use
 * the first input only, the trained-position mode member 1 only, and the gradient of member 1 only; the
 * CPU suite checks everything.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "dn-ops.h"
#include "dn-twin-load.h"
#include "twin-fixture.h"

static DnTwin *twin;
static DnH5 *fx;
static DnTensor *inputs; /* (5,3,100,100) */
static int n_inputs;     /* how many of them the output checks use */
static bool full;        /* every member and mode (CPU); a subset on the Vulkan suite */

static double
rel_l2 (const double *a, const double *b, int64_t n)
{
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++)
    {
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += b[i] * b[i];
    }
  return sqrt (num / (den > 0 ? den : 1));
}

static void
check_outputs (const char *mode, bool centered)
{
  DnStatus st;
  dn_twin_set_centered (twin, centered);
  DnTensor *x = dn_tensor_view (inputs, 0, 4, (const int64_t[]){ n_inputs, 3, 100, 100 }, &st);
  DnTensor *out = DN_TEST_ZEROS (2, n_inputs, 394);
  char path[128], what[160];
  int n_members = full || centered ? 5 : 1;
  for (int m = 0; m < n_members; m++)
    {
      DN_TEST_OK (dn_twin_member_forward (twin, m, out, x));
      g_snprintf (path, sizeof path, "/outputs/%s/member_%d", mode, m + 1);
      double *want = twin_read (fx, path, NULL, NULL);
      g_snprintf (what, sizeof what, "V4 %s", path);
      dn_test_check_tensor (what, out, want, 1e-4);
      free (want);
    }
  if (n_members < 5)
    goto done;
  DN_TEST_OK (dn_twin_forward (twin, out, x));
  g_snprintf (path, sizeof path, "/outputs/%s/ensemble", mode);
  double *want = twin_read (fx, path, NULL, NULL);
  g_snprintf (what, sizeof what, "V4 %s", path);
  dn_test_check_tensor (what, out, want, 1e-4);
  free (want);
done:
  dn_tensor_free (out);
  dn_tensor_free (x);
  dn_twin_set_centered (twin, true);
}

static void
test_outputs_centered (void)
{
  check_outputs ("centered", true);
}

static void
test_outputs_trained (void)
{
  check_outputs ("trained_mu", false);
}

static void
test_intermediates (void)
{
  DnStatus st;
  DnTensor *x = dn_tensor_view (inputs, 0, 4, (const int64_t[]){ 1, 3, 100, 100 }, &st);
  DnTensor *out = DN_TEST_ZEROS (2, 1, 394);
  DN_TEST_OK (dn_twin_member_forward (twin, 0, out, x));
  static const char *names[] = { "conv1_bn_relu", "maxpool", "layer1", "layer2", "layer3_0", "out_bn_relu" };
  for (int i = 0; i < 6; i++)
    {
      char path[128];
      g_snprintf (path, sizeof path, "/intermediates/member_1/%s", names[i]);
      double *w = twin_read (fx, path, NULL, NULL);
      dn_test_check_tensor (path, dn_twin_intermediate (twin, names[i]), w, 1e-4);
      free (w);
    }
  dn_tensor_free (x);
  dn_tensor_free (out);
}

static void
check_gradient (const char *path, const DnTensor *dx)
{
  double *want = twin_read (fx, path, NULL, NULL);
  double *got = dn_test_download (dx);
  double e = rel_l2 (got, want, 3 * 100 * 100);
  if (g_test_verbose ())
    g_printerr ("  %s [%s]: rel L2 %.3g\n", path, dn_test_backend_name (), e);
  if (!(e <= 1e-2))
    g_error ("%s [%s]: relative L2 error %.3g > 1e-2", path, dn_test_backend_name (), e);
  free (want);
  g_free (got);
}

/* ∂r_50/∂x at input 1 (the colour grating) */
static void
test_gradients (void)
{
  DnStatus st;
  DnTensor *x = dn_tensor_view (inputs, 30000, 4, (const int64_t[]){ 1, 3, 100, 100 }, &st);
  double dout_h[394] = { 0 };
  dout_h[50] = 1;
  DnTensor *dout = DN_TEST_TENSOR (dout_h, 2, 1, 394);
  DnTensor *dx = DN_TEST_ZEROS (4, 1, 3, 100, 100);
  DnTensor *out = DN_TEST_ZEROS (2, 1, 394);
  if (full)
    {
      DN_TEST_OK (dn_twin_forward_backward (twin, out, dx, x, dout));
      check_gradient ("/grad/ensemble_centered", dx);
      double *r = dn_test_download (out);
      g_assert_cmpfloat (fabs (r[50] - 0.688), <, 0.001);
      g_free (r);
    }
  bool only1[5] = { true, false, false, false, false };
  DN_TEST_OK (dn_twin_set_members (twin, only1));
  DN_TEST_OK (dn_tensor_fill (dx, 0));
  DN_TEST_OK (dn_twin_forward_backward (twin, NULL, dx, x, dout));
  check_gradient ("/grad/member_1_centered", dx);
  bool all[5] = { true, true, true, true, true };
  DN_TEST_OK (dn_twin_set_members (twin, all));
  dn_tensor_free (x);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
  dn_tensor_free (out);
}

/* The legacy-format files hold the same tensors as zip members 1 and 2 (manifest.json). */
static void
test_legacy_members (void)
{
  DnStatus st;
  char *legacy = twin_shared_path ("fixtures/checkpoints/v4color_legacy/legacy_member_1.pth.tar");
  DnTwin *t = dn_twin_open (dn_test_device (), legacy, &st);
  if (!t)
    g_error ("%s", dn_last_error ());
  DnTensor *x = dn_tensor_view (inputs, 0, 4, (const int64_t[]){ 1, 3, 100, 100 }, &st);
  DnTensor *a = DN_TEST_ZEROS (2, 1, 394), *b = DN_TEST_ZEROS (2, 1, 394);
  DN_TEST_OK (dn_twin_forward (t, a, x));
  DN_TEST_OK (dn_twin_member_forward (twin, 0, b, x));
  double *da = dn_test_download (a), *db = dn_test_download (b);
  dn_test_check_close ("legacy member 1 = zip member 1", da, db, 394, 0);
  g_free (da);
  g_free (db);
  dn_tensor_free (a);
  dn_tensor_free (b);
  dn_tensor_free (x);
  dn_twin_free (t);
  g_free (legacy);
}

/* The members in their fixture order (manifest.json: the files are named by an md5, so a folder listing
 * does not give member order). */
static const char *MEMBERS[5] = {
  "fixtures/checkpoints/v4color_random/090f83f654baf701d269cff5344d5e3f.pth.tar",
  "fixtures/checkpoints/v4color_random/e6705f9d7284622e2b00b633381321ee.pth.tar",
  "fixtures/checkpoints/v4color_random/2ff97146265e8b9e6dcafc0d7ebb5fbc.pth.tar",
  "fixtures/checkpoints/v4color_random/fedc1459db533e9eaad8c681aba41f2c.pth.tar",
  "fixtures/checkpoints/v4color_random/390090778604febee852717be9527c57.pth.tar",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  char *dir = twin_shared_path ("fixtures/checkpoints/v4color_random");
  char *fixture = twin_shared_path ("fixtures/v4_fixture.h5");
  DnStatus st;
  DnWeightSet *ws[5];
  for (int i = 0; i < 5; i++)
    {
      char *p = twin_shared_path (MEMBERS[i]);
      if (!(ws[i] = dn_weights_from_torch (p, &st)))
        g_error ("%s", dn_last_error ());
      g_free (p);
    }
  twin = dn_twin_new (dn_test_device (), ws, 5, &st);
  if (!twin)
    g_error ("cannot build the V4 twin: %s", dn_last_error ());
  for (int i = 0; i < 5; i++)
    dn_weight_set_free (ws[i]);
  /* the folder opens too (members in file-name order) */
  DnTwin *folder = dn_twin_open (dn_test_device (), dir, &st);
  if (!folder)
    g_error ("cannot open %s: %s", dir, dn_last_error ());
  g_assert_cmpint (dn_twin_info (folder)->n_members, ==, 5);
  dn_twin_free (folder);
  fx = dn_h5_open (fixture, false, &st);
  if (!fx)
    g_error ("%s", dn_last_error ());
  int64_t n, shape[8];
  double *x = twin_read (fx, "/inputs", &n, shape);
  inputs = dn_test_tensor (4, shape, x);
  free (x);
  full = strcmp (dn_test_backend_name (), "cpu") == 0;
  n_inputs = full ? 5 : 1;
  g_test_add_func ("/twin/v4/outputs-centered", test_outputs_centered);
  g_test_add_func ("/twin/v4/outputs-trained", test_outputs_trained);
  g_test_add_func ("/twin/v4/intermediates", test_intermediates);
  g_test_add_func ("/twin/v4/gradients", test_gradients);
  g_test_add_func ("/twin/v4/legacy-members", test_legacy_members);
  int rc = g_test_run ();
  dn_tensor_free (inputs);
  dn_twin_free (twin);
  dn_h5_close (fx);
  g_free (dir);
  g_free (fixture);
  dn_test_device_free ();
  return rc;
}
