/* test-synth-v1-neuron.c: a full-length synthesis with the real V1 ensemble (issue #4): neuron 100,
 * v1-pixel preset (128 steps), both poles in one batch with the default (Philox) draws. The most-pole
 * must reach a response ≥ 12 (the PyTorch reference run reaches 15.5) and the least-pole must fall below
 * the neuron's response to a blank (all-zero) image.
 * CPU suite only: 2 jobs × 128 steps × 5 twin rows of forward+backward (~1,300 V1 ensemble passes) is
 * about 0.5 h on lavapipe; the Vulkan path of the same step is covered by test-synth-pixel-replay.
 * SPDX-License-Identifier: MIT
 */
#include "dn-twin-load.h"
#include "synth-test.h"

static DnTwin *twin;

typedef struct
{
  DnSynthResult res[2];
  float acts[2][128], members[2][5];
} Keep;

static DnStatus
keep (const DnSynthResult *r, int n, void *user)
{
  Keep *k = user;
  g_assert_cmpint (n, ==, 2);
  for (int i = 0; i < 2; i++)
    {
      k->res[i] = r[i];
      memcpy (k->acts[i], r[i].activations, sizeof k->acts[i]);
      memcpy (k->members[i], r[i].member_responses, sizeof k->members[i]);
    }
  return DN_OK;
}

static void
test_neuron_100 (void)
{
  DnSynthParams p;
  DN_TEST_OK (dn_synth_params_preset (&p, "v1-pixel"));
  DnSynthJob jobs[2] = { { 100, 42, 1 }, { 100, 42, -1 } };
  Keep k;
  DnSynthRunOptions o;
  dn_synth_run_options_init (&o);
  o.batch = 2;
  o.batch_done = keep;
  o.user = &k;
  double t0 = synth_seconds ();
  DN_TEST_OK (dn_synth_run (twin, &p, jobs, 2, &o));
  double secs = synth_seconds () - t0;

  /* the blank image */
  DnTensor *x = DN_TEST_ZEROS (4, 1, 1, 93, 93), *out = DN_TEST_ZEROS (2, 1, 458);
  DN_TEST_OK (dn_twin_forward (twin, out, x));
  double *r = dn_test_download (out);
  double blank = r[100];
  g_free (r);
  dn_tensor_free (x);
  dn_tensor_free (out);

  const DnSynthResult *most = &k.res[0], *least = &k.res[1];
  if (g_test_verbose ())
    {
      g_printerr ("  2 poles × 128 steps in %.1f s (%.2f s/step for the batch)\n", secs, secs / 128);
      g_printerr ("  most:  %.3f (start %.3f); members", most->response, most->initial_response);
      for (int m = 0; m < 5; m++)
        g_printerr (" %.2f", k.members[0][m]);
      g_printerr ("\n  least: %.4f (start %.3f); blank image %.4f; members", least->response,
                  least->initial_response, blank);
      for (int m = 0; m < 5; m++)
        g_printerr (" %.3f", k.members[1][m]);
      g_printerr ("\n");
    }
  g_assert_true (most->finite && least->finite);
  g_assert_cmpfloat (most->response, >=, 12);
  g_assert_cmpfloat (least->response, <, blank);
  /* every member agrees (transfer within the ensemble) */
  for (int m = 0; m < 5; m++)
    g_assert_cmpfloat (k.members[0][m], >, k.members[1][m]);
  /* the activations are |w·r| of the clean image after each step; the last one is the final response */
  g_assert_cmpfloat (k.acts[0][127], ==, most->response);
  g_assert_cmpfloat (k.acts[1][127], ==, least->response);
  g_assert_cmpfloat (k.acts[0][127], >, k.acts[0][0]);
  g_assert_cmpfloat (k.acts[1][127], <, k.acts[1][0]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  char *dir = twin_shared_path ("dualneuron/V1GrayTaskDriven");
  if (strcmp (dn_test_backend_name (), "cpu") == 0)
    {
      DnStatus st;
      twin = dn_twin_open (dn_test_device (), dir, &st);
      if (!twin)
        g_error ("cannot open the V1 twin: %s", dn_last_error ());
      g_test_add_func ("/synth/v1-neuron/100", test_neuron_100);
    }
  else
    g_printerr ("synth-v1-neuron runs in the cpu suite only (see the file's header)\n");
  int rc = g_test_run ();
  dn_twin_free (twin);
  g_free (dir);
  dn_test_device_free ();
  return rc;
}
