/* test-screen-preprocess.c: parity of the screening transforms and responses with PIL + torchvision
 * (tests/screen/data/screen_fixture.h5, written by tools/gen-screen-fixture.py): decoded PNG/JPEG files of
 * every kind the decoder handles, the V1, V1-with-V4-mask, V4 and builtin:gabor-v1 presets, a float stack
 * (.npy and HDF5), the V1 ensemble's and the built-in twin's responses, and the same through the pipeline.
 * Thresholds (issue #5): per-pixel max abs ≤ 2e-3 after normalization, responses rel ≤ 1e-3.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "dn-npy.h"
#include "dn-twin-load.h"
#include "screen-test.h"

#define PIX_TOL 2e-3
#define RESP_TOL 1e-3

typedef struct
{
  DnH5 *fx;
  char **names;
  int n;
} Group;

static Group
group_open (DnH5 *fx, const char *group)
{
  Group g = { fx, NULL, 0 };
  char *names;
  DN_TEST_OK (dn_h5_read_attr_str (fx, group, "names", &names));
  g.names = g_strsplit (names, "\n", -1);
  g.n = (int) g_strv_length (g.names);
  free (names);
  return g;
}

/* Preprocesses every image of fixture group @group with @pp and compares; returns the tensors. */
static float *
check_group (DnH5 *fx, const char *group, const DnPreprocess *pp, int *n_out)
{
  Group g = group_open (fx, group);
  size_t P = (size_t) pp->out_channels * pp->out_h * pp->out_w;
  float *all = g_malloc ((size_t) g.n * P * sizeof *all);
  double worst = 0;
  for (int i = 0; i < g.n; i++)
    {
      char *file = g_build_filename ("images", g.names[i], NULL), *path = screen_data_path (file);
      DnImage img;
      DN_TEST_OK (dn_image_load (path, 0, &img));
      DN_TEST_OK (dn_preprocess_image (pp, &img, all + i * P));
      char ds[256];
      snprintf (ds, sizeof ds, "/%s/%s", group, g.names[i]);
      int64_t n;
      double *want = twin_read (fx, ds, &n, NULL);
      g_assert_cmpint (n, ==, (int64_t) P);
      double err = screen_max_abs (all + i * P, want, n);
      if (g_test_verbose ())
        g_printerr ("  %-10s %-22s %dx%dx%d  max abs %.3g\n", group, g.names[i], img.width, img.height, img.channels, err);
      if (err > PIX_TOL)
        g_error ("%s: %s differs from PIL/torchvision by %.4g (> %g)", group, g.names[i], err, PIX_TOL);
      worst = fmax (worst, err);
      free (want);
      dn_image_clear (&img);
      g_free (file);
      g_free (path);
    }
  g_printerr ("# preprocess %-10s %d images: max abs %.3g\n", group, g.n, worst);
  *n_out = g.n;
  g_strfreev (g.names);
  return all;
}

/* On lavapipe the V1 ensemble takes about 2 s per image: the Vulkan suite checks the first @n_vulkan. */
static void
check_responses (DnTwin *twin, const float *x, int n, int n_vulkan, DnH5 *fx, const char *want_path)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  int n_all = n;
  if (!dn_device_is_cpu (dn_test_device ()) && n > n_vulkan)
    n = n_vulkan;
  DnTensor *tx = DN_TEST_ZEROS (4, n, info->in_channels, info->in_h, info->in_w);
  DnTensor *tr = DN_TEST_ZEROS (2, n, info->n_neurons);
  DN_TEST_OK (dn_tensor_upload (tx, x, dn_tensor_numel (tx)));
  DN_TEST_OK (dn_twin_forward (twin, tr, tx));
  int64_t nw;
  double *want = twin_read (fx, want_path, &nw, NULL);
  g_assert_cmpint (nw, ==, (int64_t) n_all * info->n_neurons);
  nw = dn_tensor_numel (tr);
  dn_test_check_tensor (want_path, tr, want, RESP_TOL);
  double *got = dn_test_download (tr);
  g_printerr ("# responses %-16s %d images: rel err %.3g\n", want_path, n, dn_test_rel_err (got, want, nw));
  g_free (got);
  free (want);
  dn_tensor_free (tx);
  dn_tensor_free (tr);
}

static DnTwin *
open_shared_twin (const char *rel)
{
  char *p = twin_shared_path (rel);
  DnStatus st;
  DnTwin *t = dn_twin_open (dn_test_device (), p, &st);
  if (!t)
    g_error ("%s: %s", p, dn_last_error ());
  g_free (p);
  return t;
}

static DnH5 *
open_fixture (void)
{
  char *p = screen_data_path ("screen_fixture.h5");
  DnStatus st;
  DnH5 *fx = dn_h5_open (p, false, &st);
  g_assert_nonnull (fx);
  g_free (p);
  return fx;
}

static void
test_v1 (void)
{
  DnH5 *fx = open_fixture ();
  DnTwin *twin = open_shared_twin ("dualneuron/V1GrayTaskDriven");
  DnPreprocess pp;
  DN_TEST_OK (dn_preprocess_init (&pp, twin, NULL));
  g_assert_cmpint (pp.resize_short, ==, 256);
  g_assert_cmpint (pp.crop, ==, 167);
  g_assert_cmpstr (pp.mask_source, ==, "model");
  int n;
  float *x = check_group (fx, "v1", &pp, &n);
  check_responses (twin, x, n, 2, fx, "/v1_responses");
  g_free (x);
  dn_preprocess_clear (&pp);

  /* the original's use of the V4Color mask for V1 */
  DnPreprocessOptions po;
  dn_preprocess_options_init (&po);
  po.mask = DN_MASK_FILE;
  char *mask = twin_shared_path ("dualneuron/V4ColorTaskDriven/mask.npy");
  po.mask_path = mask;
  DN_TEST_OK (dn_preprocess_init (&pp, twin, &po));
  g_free (check_group (fx, "v1_v4mask", &pp, &n));
  dn_preprocess_clear (&pp);
  g_free (mask);
  dn_twin_free (twin);
  dn_h5_close (fx);
}

static void
test_v4 (void)
{
  DnH5 *fx = open_fixture ();
  DnTwin *twin = open_shared_twin ("fixtures/checkpoints/v4color_random");
  DnPreprocessOptions po;
  dn_preprocess_options_init (&po);
  po.mask = DN_MASK_FILE;
  char *mask = twin_shared_path ("dualneuron/V4ColorTaskDriven/mask.npy");
  po.mask_path = mask;
  DnPreprocess pp;
  DN_TEST_OK (dn_preprocess_init (&pp, twin, &po));
  g_assert_cmpint (pp.out_channels, ==, 3);
  g_assert_cmpint (pp.crop, ==, 236);
  int n;
  g_free (check_group (fx, "v4", &pp, &n));
  dn_preprocess_clear (&pp);
  g_free (mask);
  dn_twin_free (twin);
  dn_h5_close (fx);
}

static void
test_gabor (void)
{
  DnH5 *fx = open_fixture ();
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  DnPreprocess pp;
  DN_TEST_OK (dn_preprocess_init (&pp, twin, NULL));
  g_assert_cmpint (pp.resize_short, ==, 93);
  g_assert_null (pp.mask);
  int n;
  float *x = check_group (fx, "gabor", &pp, &n);
  check_responses (twin, x, n, n, fx, "/gabor_responses");
  g_free (x);
  dn_preprocess_clear (&pp);
  dn_twin_free (twin);
  dn_h5_close (fx);
}

/* The float stack, read as .npy and as an HDF5 dataset, through PIL's float resampling. */
static void
test_float_stack (void)
{
  DnH5 *fx = open_fixture ();
  int64_t shape[8];
  float *stack;
  int nd;
  DN_TEST_OK (dn_h5_read_f32 (fx, "/float/stack", &stack, &nd, shape));
  g_assert_cmpint (nd, ==, 3);
  char *dir = screen_tmpdir (), *npy = g_build_filename (dir, "stack.npy", NULL);
  DN_TEST_OK (dn_npy_save (npy, DN_NPY_FLOAT32, 3, shape, stack));
  char *fxp = screen_data_path ("screen_fixture.h5"), *h5spec = g_strdup_printf ("%s:/float/stack", fxp);
  DnStatus st;
  DnTwin *v1 = open_shared_twin ("dualneuron/V1GrayTaskDriven");
  DnTwin *gabor = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  const char *specs[] = { npy, h5spec };
  for (int s = 0; s < 2; s++)
    {
      DnDataset *ds = dn_dataset_open (specs[s], NULL, &st);
      if (!ds)
        g_error ("%s: %s", specs[s], dn_last_error ());
      g_assert_cmpint (dn_dataset_count (ds), ==, shape[0]);
      g_assert_false (dn_dataset_is_model_space (ds));
      DnTwin *twins[] = { v1, gabor };
      const char *names[] = { "v1", "gabor" };
      for (int t = 0; t < 2; t++)
        {
          DnPreprocess pp;
          DN_TEST_OK (dn_preprocess_init (&pp, twins[t], NULL));
          float x[93 * 93];
          double worst = 0;
          for (int64_t i = 0; i < shape[0]; i++)
            {
              DnImage img;
              DN_TEST_OK (dn_dataset_load (ds, i, &img));
              g_assert_cmpint (img.type, ==, DN_PIXEL_F32);
              DN_TEST_OK (dn_preprocess_image (&pp, &img, x));
              char p[64];
              snprintf (p, sizeof p, "/float/%s/%lld", names[t], (long long) i);
              double *want = twin_read (fx, p, NULL, NULL);
              worst = fmax (worst, screen_max_abs (x, want, 93 * 93));
              free (want);
              dn_image_clear (&img);
            }
          g_printerr ("# preprocess float %-5s %s: max abs %.3g\n", names[t], s ? "hdf5" : "npy", worst);
          g_assert_cmpfloat (worst, <=, PIX_TOL);
          dn_preprocess_clear (&pp);
        }
      dn_dataset_free (ds);
    }
  dn_twin_free (v1);
  dn_twin_free (gabor);
  free (stack);
  screen_rmtree (dir);
  g_free (dir);
  g_free (npy);
  g_free (fxp);
  g_free (h5spec);
  dn_h5_close (fx);
}

/* The fixture folder screened with builtin:gabor-v1, responses kept: the pipeline's matrix equals the
 * fixture's responses (sorted file names = the fixture's order). */
static void
test_pipeline_folder (void)
{
  DnH5 *fx = open_fixture ();
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  char *images = screen_data_path ("images");
  DnDataset *ds = dn_dataset_open (images, NULL, &st);
  g_assert_nonnull (ds);
  char *dir = screen_tmpdir (), *out = g_build_filename (dir, "s.h5", NULL);
  DnScreenOptions o;
  screen_test_options (&o);
  o.keep_responses = true;
  o.batch = 4; /* 3 batches, the last one partial */
  DN_TEST_OK (dn_screen_run (twin, ds, out, &o));
  DnH5 *h = dn_h5_open (out, false, &st);
  int64_t n, nw, shape[8];
  double *got = twin_read (h, "/responses", &n, shape);
  double *want = twin_read (fx, "/gabor_responses", &nw, NULL);
  g_assert_cmpint (n, ==, nw);
  double e = dn_test_rel_err (got, want, n);
  g_printerr ("# pipeline folder (gabor) responses rel err %.3g\n", e);
  g_assert_cmpfloat (e, <=, RESP_TOL);
  free (got);
  free (want);
  dn_h5_close (h);
  dn_dataset_free (ds);
  dn_twin_free (twin);
  screen_rmtree (dir);
  g_free (dir);
  g_free (out);
  g_free (images);
  dn_h5_close (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen/preprocess/v1", test_v1);
  g_test_add_func ("/screen/preprocess/v4", test_v4);
  g_test_add_func ("/screen/preprocess/gabor", test_gabor);
  g_test_add_func ("/screen/preprocess/float-stack", test_float_stack);
  g_test_add_func ("/screen/preprocess/pipeline-folder", test_pipeline_folder);
  return dn_test_run ();
}
