/* test-twin-v1.c: the V1GrayTaskDriven ensemble (real weights from ../shared/dualneuron) against
 * v1_fixture.h5 (PyTorch): every member and the ensemble in both readout modes, the intermediates,
 * the input gradients, and a zero-norm GRN channel. Issue #3 tolerances: outputs rel 1e-4, gradients
 * rel 1e-3 (relative = max abs error / max abs value).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-twin-load.h"
#include "twin-fixture.h"

static DnTwin *twin;
static DnH5 *fx;
static DnTensor *inputs; /* (6,1,93,93) */

static void
test_info (void)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  g_assert_cmpint (info->arch, ==, DN_ARCH_V1_CONVNEXT);
  g_assert_cmpint (info->n_neurons, ==, 458);
  g_assert_cmpint (info->n_members, ==, 5);
  g_assert_cmpint (info->in_h, ==, 93);
}

static void
check_outputs (const char *mode, bool centered)
{
  dn_twin_set_centered (twin, centered);
  DnTensor *out = DN_TEST_ZEROS (2, 6, 458);
  char path[128], what[160];
  for (int m = 0; m < 5; m++)
    {
      /* the plain forward (on the CPU a fused path that keeps no intermediates, and with the centred
       * readout computes stage 1 at one pixel), then one that keeps them; elsewhere both are the op path */
      for (int keep = dn_device_is_cpu (dn_test_device ()) ? 0 : 1; keep < 2; keep++)
        {
          dn_twin_set_keep_intermediates (twin, keep);
          DN_TEST_OK (dn_twin_member_forward (twin, m, out, inputs));
          g_snprintf (path, sizeof path, "/outputs/%s/member_%d", mode, m + 1);
          double *want = twin_read (fx, path, NULL, NULL);
          g_snprintf (what, sizeof what, "V1 %s%s", path, keep ? " (keeping intermediates)" : "");
          dn_test_check_tensor (what, out, want, 1e-4);
          free (want);
        }
      if (centered)
        {
          static const char *names[] = { "stem", "stage0", "downsample", "bn_gelu" };
          for (int i = 0; i < 4; i++)
            {
              g_snprintf (path, sizeof path, "/intermediates/member_%d/%s", m + 1, names[i]);
              double *w = twin_read (fx, path, NULL, NULL);
              g_snprintf (what, sizeof what, "V1 %s", path);
              dn_test_check_tensor (what, dn_twin_intermediate (twin, names[i]), w, 1e-4);
              free (w);
            }
        }
    }
  dn_twin_set_keep_intermediates (twin, false);
  DN_TEST_OK (dn_twin_forward (twin, out, inputs));
  g_snprintf (path, sizeof path, "/outputs/%s/ensemble", mode);
  double *want = twin_read (fx, path, NULL, NULL);
  g_snprintf (what, sizeof what, "V1 %s", path);
  dn_test_check_tensor (what, out, want, 1e-4);
  free (want);
  dn_tensor_free (out);
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

/* ∂r_100/∂x at input 2 (the Gabor), ensemble and member 1 */
/* The fixture's input gradients, through the fused CPU forward+backward (fast paths on) and the op-by-op
 * path (off; on Vulkan both are the op path). */
static void
test_gradients (void)
{
  DnStatus st;
  DnTensor *x = dn_tensor_view (inputs, 2 * 93 * 93, 4, (const int64_t[]){ 1, 1, 93, 93 }, &st);
  double dout_h[458] = { 0 };
  dout_h[100] = 1;
  DnTensor *dout = DN_TEST_TENSOR (dout_h, 2, 1, 458);
  DnTensor *dx = DN_TEST_ZEROS (4, 1, 1, 93, 93);
  DnTensor *out = DN_TEST_ZEROS (2, 1, 458);
  for (int fast = 1; fast >= 0; fast--)
    {
      const char *path = fast ? "fast paths" : "op path";
      char what[96];
      dn_twin_set_fast_paths (twin, fast);
      DN_TEST_OK (dn_tensor_fill (dx, 0));
      DN_TEST_OK (dn_twin_forward_backward (twin, out, dx, x, dout));
      double *want = twin_read (fx, "/grad/ensemble_centered", NULL, NULL);
      g_snprintf (what, sizeof what, "V1 ensemble gradient (%s)", path);
      dn_test_check_tensor (what, dx, want, 1e-3);
      double *got = dn_test_download (dx);
      for (int i = 0; i < 93; i++)
        {
          g_assert_cmpfloat (got[92 * 93 + i], ==, 0.0); /* row 92 is never read */
          g_assert_cmpfloat (got[i * 93 + 92], ==, 0.0);
        }
      double *r = dn_test_download (out);
      g_assert_cmpfloat (fabs (r[100] - 7.42), <, 0.01);
      g_free (r);
      g_free (got);
      free (want);

      bool only1[5] = { true, false, false, false, false };
      DN_TEST_OK (dn_twin_set_members (twin, only1));
      DN_TEST_OK (dn_tensor_fill (dx, 0));
      DN_TEST_OK (dn_twin_forward_backward (twin, out, dx, x, dout));
      want = twin_read (fx, "/grad/member_1_centered", NULL, NULL);
      g_snprintf (what, sizeof what, "V1 member 1 gradient (%s)", path);
      dn_test_check_tensor (what, dx, want, 1e-3);
      free (want);
      bool all[5] = { true, true, true, true, true };
      DN_TEST_OK (dn_twin_set_members (twin, all));
    }
  dn_twin_set_fast_paths (twin, true);
  bool none[5] = { false };
  DN_TEST_FAILS (dn_twin_set_members (twin, none), DN_ERROR_INVALID_ARGUMENT);
  dn_tensor_free (x);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
  dn_tensor_free (out);
}

/* A strongly negative input drives GELU to exactly 0 in some channels: the GRN norm is 0 there and the
 * gradient must stay finite (twins.md §2.2). */
static void
test_finite_gradients (void)
{
  double *img = dn_test_randn (93 * 93, 77);
  for (int i = 0; i < 93 * 93; i++)
    img[i] = img[i] * 40 - 200;
  DnTensor *x = DN_TEST_TENSOR (img, 4, 1, 1, 93, 93);
  double dout_h[458];
  for (int i = 0; i < 458; i++)
    dout_h[i] = 1;
  DnTensor *dout = DN_TEST_TENSOR (dout_h, 2, 1, 458);
  DnTensor *dx = DN_TEST_ZEROS (4, 1, 1, 93, 93);
  for (int fast = 1; fast >= 0; fast--)
    {
      dn_twin_set_fast_paths (twin, fast);
      DN_TEST_OK (dn_twin_forward_backward (twin, NULL, dx, x, dout));
      DN_TEST_OK (dn_tensor_check_finite (dx, fast ? "V1 input gradient (fast paths)" : "V1 input gradient (op path)"));
    }
  dn_twin_set_fast_paths (twin, true);
  dn_tensor_free (x);
  dn_tensor_free (dout);
  dn_tensor_free (dx);
  g_free (img);
}

/* The fused CPU paths of dn-twin-v1-cpu.c against the op-by-op path (dn_twin_set_fast_paths off), on new
 * random inputs: 1 and 3 channels, both readout modes, each member alone and the ensemble. The forward
 * without backward; and forward+backward (fused only for the centred readout; trained positions fall
 * back to the op path) with a dense random dout, so every neuron's readout column takes part. Both are
 * float32 with sums in other orders. */
static void
test_fused_vs_ops (void)
{
  if (!dn_device_is_cpu (dn_test_device ()))
    {
      g_test_skip ("the fused paths are CPU-only");
      return;
    }
  for (int cin = 1; cin <= 3; cin += 2)
    for (int centered = 0; centered < 2; centered++)
      {
        int64_t N = cin == 1 ? 5 : 3, nx = N * cin * 93 * 93;
        double *img = dn_test_randn (nx, 1234 + cin);
        for (int64_t i = 0; i < nx; i++)
          img[i] *= 0.13; /* about the norm 12 of the model's inputs */
        double *dout_h = dn_test_randn (N * 458, 99 + cin);
        DnTensor *x = DN_TEST_TENSOR (img, 4, N, cin, 93, 93);
        DnTensor *dx_ops = DN_TEST_ZEROS (4, N, cin, 93, 93), *dx_fused = DN_TEST_ZEROS (4, N, cin, 93, 93);
        DnTensor *dout = DN_TEST_TENSOR (dout_h, 2, N, 458);
        DnTensor *ops = DN_TEST_ZEROS (2, N, 458), *fused = DN_TEST_ZEROS (2, N, 458);
        dn_twin_set_centered (twin, centered);
        for (int m = 0; m <= 5; m++) /* m = 5: the ensemble */
          {
            bool use[5];
            for (int i = 0; i < 5; i++)
              use[i] = m == 5 || i == m;
            DN_TEST_OK (dn_twin_set_members (twin, use));
            char what[160], who[16] = "ensemble";
            if (m < 5)
              g_snprintf (who, sizeof who, "member %d", m + 1);
            /* reference: the op path */
            dn_twin_set_fast_paths (twin, false);
            DN_TEST_OK (dn_tensor_fill (dx_ops, 0));
            DN_TEST_OK (dn_twin_forward_backward (twin, ops, dx_ops, x, dout));
            double *want = dn_test_download (ops), *want_dx = dn_test_download (dx_ops);
            dn_twin_set_fast_paths (twin, true);
            DN_TEST_OK (dn_twin_forward (twin, fused, x));
            g_snprintf (what, sizeof what, "V1 fused forward vs ops, %d channel(s), %s, %s", cin,
                        centered ? "centered" : "trained mu", who);
            dn_test_check_tensor (what, fused, want, 1e-5);
            /* fused forward+backward; dx accumulates onto what is there */
            DN_TEST_OK (dn_tensor_fill (dx_fused, 0.5f));
            DN_TEST_OK (dn_twin_forward_backward (twin, fused, dx_fused, x, dout));
            g_snprintf (what, sizeof what, "V1 fused forward+backward vs ops, %d channel(s), %s, %s: output", cin,
                        centered ? "centered" : "trained mu", who);
            dn_test_check_tensor (what, fused, want, 1e-5);
            for (int64_t i = 0; i < nx; i++)
              want_dx[i] += 0.5;
            g_snprintf (what, sizeof what, "V1 fused forward+backward vs ops, %d channel(s), %s, %s: dx", cin,
                        centered ? "centered" : "trained mu", who);
            dn_test_check_tensor (what, dx_fused, want_dx, 1e-5);
            g_free (want);
            g_free (want_dx);
          }
        g_free (img);
        g_free (dout_h);
        dn_tensor_free (x);
        dn_tensor_free (dx_ops);
        dn_tensor_free (dx_fused);
        dn_tensor_free (dout);
        dn_tensor_free (ops);
        dn_tensor_free (fused);
      }
  dn_twin_set_centered (twin, true);
}

static void
test_bad_input (void)
{
  DnTensor *x = DN_TEST_ZEROS (4, 2, 1, 92, 93);
  DnTensor *out = DN_TEST_ZEROS (2, 2, 458);
  DN_TEST_FAILS (dn_twin_forward (twin, out, x), DN_ERROR_SHAPE);
  DnTensor *x2 = DN_TEST_ZEROS (4, 2, 1, 93, 93);
  DnTensor *out2 = DN_TEST_ZEROS (2, 2, 457);
  DN_TEST_FAILS (dn_twin_forward (twin, out2, x2), DN_ERROR_SHAPE);
  DnTensor *x0 = DN_TEST_ZEROS (4, 0, 1, 93, 93);
  DnTensor *out0 = DN_TEST_ZEROS (2, 0, 458);
  DN_TEST_OK (dn_twin_forward (twin, out0, x0));
  DnStatus st;
  g_assert_null (dn_twin_open (dn_test_device (), "/nonexistent/v1.pth", &st));
  g_assert_cmpint (st, ==, DN_ERROR_IO);
  g_assert_nonnull (strstr (dn_last_error (), "/nonexistent/v1.pth"));
  dn_tensor_free (x);
  dn_tensor_free (out);
  dn_tensor_free (x2);
  dn_tensor_free (out2);
  dn_tensor_free (x0);
  dn_tensor_free (out0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  char *dir = twin_shared_path ("dualneuron/V1GrayTaskDriven");
  char *fixture = twin_shared_path ("fixtures/v1_fixture.h5");
  DnStatus st;
  twin = dn_twin_open (dn_test_device (), dir, &st);
  if (!twin)
    g_error ("cannot open the V1 twin: %s", dn_last_error ());
  fx = dn_h5_open (fixture, false, &st);
  if (!fx)
    g_error ("%s", dn_last_error ());
  int64_t n, shape[8];
  double *x = twin_read (fx, "/inputs", &n, shape);
  inputs = dn_test_tensor (4, shape, x);
  free (x);
  g_test_add_func ("/twin/v1/info", test_info);
  g_test_add_func ("/twin/v1/outputs-centered", test_outputs_centered);
  g_test_add_func ("/twin/v1/outputs-trained", test_outputs_trained);
  g_test_add_func ("/twin/v1/gradients", test_gradients);
  g_test_add_func ("/twin/v1/finite-gradients", test_finite_gradients);
  g_test_add_func ("/twin/v1/fused-vs-ops", test_fused_vs_ops);
  g_test_add_func ("/twin/v1/bad-input", test_bad_input);
  int rc = g_test_run ();
  dn_tensor_free (inputs);
  dn_twin_free (twin);
  dn_h5_close (fx);
  g_free (dir);
  g_free (fixture);
  dn_test_device_free ();
  return rc;
}
