/* test-synth-v1-neuron.c: a full-length synthesis with the real V1 ensemble (issue #4): neuron 100 and
 * the four best-predicted neurons, v1-pixel preset (128 steps), both poles of each in one batch with the
 * default (Philox) draws.
 * Neuron 100's most-pole must reach a response ≥ 12 (the PyTorch reference run reaches 15.5) and its
 * least-pole must fall below the neuron's response to a blank (all-zero) image. For the whole sample,
 * every most-pole must beat the best of 1,000 natural-like images (builtin:noise, 1/f amplitude
 * spectrum, through DualNeuron's screening transforms for V1) and every least-pole must be below the
 * worst of them. (Not every neuron gets there with this recipe: weakly driven ones, e.g. 7, 22, 50 and
 * 150 with seed 42, stay near their start in 128 steps; see the notes of issue #4.)
 * CPU suite only: 10 jobs × 128 steps × 5 twin rows of forward+backward (~6,400 V1 ensemble passes)
 * would take hours on lavapipe; the Vulkan path of the same step is covered by test-synth-pixel-replay.
 * SPDX-License-Identifier: MIT
 */
#include "dn-dataset.h"
#include "dn-preprocess.h"
#include "dn-twin-load.h"
#include "synth-test.h"

static DnTwin *twin;

#define N_JOBS 10
/* neuron 100 (the issue's) and the four neurons the twin predicts best (highest test correlation,
 * correlations.npy: 76, 411, 255, 434) */
static const DnSynthJob jobs[N_JOBS] = { { 100, 42, 1 }, { 100, 42, -1 }, { 76, 42, 1 },  { 76, 42, -1 },
                                         { 411, 42, 1 }, { 411, 42, -1 }, { 255, 42, 1 }, { 255, 42, -1 },
                                         { 434, 42, 1 }, { 434, 42, -1 } };

typedef struct
{
  DnSynthResult res[N_JOBS];
  float acts[N_JOBS][128], members[N_JOBS][5];
  double secs;
} Keep;

static Keep k;

static DnStatus
keep (const DnSynthResult *r, int n, void *user)
{
  Keep *kp = user;
  g_assert_cmpint (n, ==, N_JOBS);
  for (int i = 0; i < n; i++)
    {
      kp->res[i] = r[i];
      memcpy (kp->acts[i], r[i].activations, sizeof kp->acts[i]);
      memcpy (kp->members[i], r[i].member_responses, sizeof kp->members[i]);
    }
  return DN_OK;
}

/* All six poles in one batch (once, for both tests). */
static void
run_sample (void)
{
  static bool done;
  if (done)
    return;
  DnSynthParams p;
  DN_TEST_OK (dn_synth_params_preset (&p, "v1-pixel"));
  DnSynthRunOptions o;
  dn_synth_run_options_init (&o);
  o.batch = N_JOBS;
  o.batch_done = keep;
  o.user = &k;
  double t0 = synth_seconds ();
  DN_TEST_OK (dn_synth_run (twin, &p, jobs, N_JOBS, &o));
  k.secs = synth_seconds () - t0;
  done = true;
}

static void
test_neuron_100 (void)
{
  run_sample ();
  double secs = k.secs;

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
      g_printerr ("  %d poles × 128 steps in %.1f s (%.2f s/step for the batch)\n", N_JOBS, secs, secs / 128);
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

/* The sample's poles against 1,000 natural-like images seen through the screening transforms. */
static void
test_natural_images (void)
{
  run_sample ();
  DnDatasetOptions dopt;
  dn_dataset_options_init (&dopt);
  dopt.builtin_size = 93;
  DnStatus st = DN_OK;
  DnDataset *ds = dn_dataset_open ("builtin:noise:n=1000", &dopt, &st);
  g_assert_nonnull (ds);
  g_assert_cmpint (dn_dataset_count (ds), ==, 1000);
  DnPreprocess pp;
  DnPreprocessOptions po;
  dn_preprocess_options_init (&po);
  DN_TEST_OK (dn_preprocess_init (&pp, twin, &po));
  dn_preprocess_geometry (&pp, po.geometry, dn_dataset_is_model_space (ds));
  const int chunk = 100, P = 93 * 93;
  float *x = g_new (float, (size_t) chunk * P), *y = g_new (float, (size_t) chunk * 458);
  DnTensor *tx = DN_TEST_ZEROS (4, chunk, 1, 93, 93), *ty = DN_TEST_ZEROS (2, chunk, 458);
  double best[N_JOBS], worst[N_JOBS];
  for (int j = 0; j < N_JOBS; j++)
    best[j] = -INFINITY, worst[j] = INFINITY;
  for (int64_t i0 = 0; i0 < 1000; i0 += chunk)
    {
      for (int i = 0; i < chunk; i++)
        {
          DnImage img = { 0 };
          DN_TEST_OK (dn_dataset_load (ds, i0 + i, &img));
          DN_TEST_OK (dn_preprocess_image (&pp, &img, x + (size_t) i * P));
          dn_image_clear (&img);
        }
      DN_TEST_OK (dn_tensor_upload (tx, x, (int64_t) chunk * P));
      DN_TEST_OK (dn_twin_forward (twin, ty, tx));
      DN_TEST_OK (dn_tensor_download (ty, y, (int64_t) chunk * 458));
      for (int i = 0; i < chunk; i++)
        for (int j = 0; j < N_JOBS; j++)
          {
            double r = y[(size_t) i * 458 + jobs[j].neuron];
            best[j] = MAX (best[j], r);
            worst[j] = MIN (worst[j], r);
          }
    }
  for (int j = 0; j < N_JOBS; j += 2)
    {
      const DnSynthResult *most = &k.res[j], *least = &k.res[j + 1];
      if (g_test_verbose ())
        g_printerr ("  neuron %3d: most-pole %.3f vs best natural %.3f; least-pole %.4f vs worst natural %.4f\n",
                    jobs[j].neuron, most->response, best[j], least->response, worst[j + 1]);
      g_assert_cmpfloat (most->response, >, best[j]);
      g_assert_cmpfloat (least->response, <, worst[j + 1]);

    }
  dn_tensor_free (tx);
  dn_tensor_free (ty);
  g_free (x);
  g_free (y);
  dn_preprocess_clear (&pp);
  dn_dataset_free (ds);
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
      g_test_add_func ("/synth/v1-neuron/natural-images", test_natural_images);
    }
  else
    g_printerr ("synth-v1-neuron runs in the cpu suite only (see the file's header)\n");
  int rc = g_test_run ();
  dn_twin_free (twin);
  g_free (dir);
  dn_test_device_free ();
  return rc;
}
