/* test-twin-builtin.c: the built-in twin (builtin:gabor-v1: ground truth, responses, gradients) and
 * twin bundles (import of the real V1 folder, round trip, corrupt files).
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "dn-bundle.h"
#include "dn-gabor.h"
#include "dn-ops.h"
#include "dn-twin-load.h"
#include "twin-fixture.h"

static double
cosine (const double *a, const float *b, int64_t n)
{
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; i++)
    {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
  return ab / sqrt (aa * bb);
}

static void
test_gabor_truth (void)
{
  DnStatus st;
  DnTwin *t = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  g_assert_nonnull (t);
  const DnTwinInfo *info = dn_twin_info (t);
  g_assert_cmpint (info->arch, ==, DN_ARCH_GABOR);
  g_assert_cmpint (info->n_neurons, ==, 120);
  g_assert_cmpint (info->n_members, ==, 1);
  int simple = 0, complex = 0;
  for (int k = 0; k < info->n_neurons; k++)
    {
      const DnGaborCell *c = dn_twin_gabor_cell (t, k);
      g_assert_nonnull (c);
      g_assert_cmpint (c->id, ==, k);
      g_assert_cmpfloat (c->orientation_deg, >=, 0);
      g_assert_cmpfloat (c->orientation_deg, <, 180);
      const float *f = dn_twin_gabor_filter (t, k);
      double n2 = 0, sum = 0;
      for (int i = 0; i < 93 * 93; i++)
        {
          n2 += (double) f[i] * f[i];
          sum += f[i];
        }
      g_assert_cmpfloat (fabs (n2 - 1), <, 1e-5);
      g_assert_cmpfloat (fabs (sum), <, 1e-3); /* DC-free */
      simple += c->type == DN_GABOR_SIMPLE;
      complex += c->type == DN_GABOR_COMPLEX;
    }
  g_assert_cmpint (simple, ==, 96);
  g_assert_cmpint (complex, ==, 24);
  g_assert_null (dn_twin_gabor_cell (t, 120));
  dn_twin_free (t);
}

/* Each simple cell prefers its own filter (norm 12) to the filter rotated by 90°; the gradient at a blank
 * image is its filter. */
static void
test_gabor_responses (void)
{
  DnStatus st;
  DnTwin *t = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  const int cells[] = { 0, 13, 37, 95, 96, 119 };
  for (unsigned c = 0; c < G_N_ELEMENTS (cells); c++)
    {
      int k = cells[c];
      const DnGaborCell *cell = dn_twin_gabor_cell (t, k);
      DnGaborCell rot = *cell;
      rot.orientation_deg = fmod (cell->orientation_deg + 90, 180);
      float own[93 * 93], other[93 * 93];
      dn_gabor_filter (cell, cell->phase_deg, own);
      dn_gabor_filter (&rot, cell->phase_deg, other);
      double x[2 * 93 * 93];
      for (int i = 0; i < 93 * 93; i++)
        {
          x[i] = 12.0 * own[i];
          x[93 * 93 + i] = 12.0 * other[i];
        }
      DnTensor *tx = DN_TEST_TENSOR (x, 4, 2, 1, 93, 93);
      DnTensor *ty = DN_TEST_ZEROS (2, 2, 120);
      DN_TEST_OK (dn_twin_forward (t, ty, tx));
      double *r = dn_test_download (ty);
      /* simple: y = 12/3 = 4 → r = 4; complex: y = 144/24 = 6 → r = 6 */
      double want = cell->type == DN_GABOR_SIMPLE ? 4 : 6;
      g_assert_cmpfloat (fabs (r[k] - want), <, 1e-3 * want);
      g_assert_cmpfloat (r[k], >, 3 * r[120 + k]);
      g_free (r);
      dn_tensor_free (tx);
      dn_tensor_free (ty);
      if (cell->type != DN_GABOR_SIMPLE)
        continue;
      double zero[93 * 93] = { 0 }, dout[120] = { 0 };
      dout[k] = 1;
      DnTensor *z = DN_TEST_TENSOR (zero, 4, 1, 1, 93, 93);
      DnTensor *d = DN_TEST_TENSOR (dout, 2, 1, 120);
      DnTensor *dx = DN_TEST_ZEROS (4, 1, 1, 93, 93);
      DN_TEST_OK (dn_twin_forward_backward (t, NULL, dx, z, d));
      double *g = dn_test_download (dx);
      g_assert_cmpfloat (cosine (g, dn_twin_gabor_filter (t, k), 93 * 93), >, 0.99999);
      g_free (g);
      dn_tensor_free (z);
      dn_tensor_free (d);
      dn_tensor_free (dx);
    }
  dn_twin_free (t);
}

static void
test_bundle_roundtrip (void)
{
  char *dir = twin_shared_path ("dualneuron/V1GrayTaskDriven");
  char *tmpdir = g_dir_make_tmp ("dn-bundle-XXXXXX", NULL);
  char *bundle = g_build_filename (tmpdir, "v1.h5", NULL);
  DnTwinSource src;
  DN_TEST_OK (dn_twin_source_from_path (dir, &src));
  g_assert_cmpint (src.n_members, ==, 5);
  g_assert_nonnull (src.mask);
  g_assert_cmpint (src.n_correlations, ==, 458);
  g_assert_cmpstr (src.name, ==, "V1GrayTaskDriven");
  DN_TEST_OK (dn_bundle_write (bundle, &src));
  g_assert_true (dn_bundle_is_bundle (bundle));
  g_assert_false (dn_bundle_is_bundle (dir));

  DnStatus st;
  DnTwin *a = dn_twin_new_from_source (dn_test_device (), &src, &st);
  DnTwin *b = dn_twin_open (dn_test_device (), bundle, &st);
  if (!b)
    g_error ("%s", dn_last_error ());
  g_assert_cmpstr (dn_twin_name (b), ==, "V1GrayTaskDriven");
  int64_t h, w, nc;
  const float *m1 = dn_twin_mask (a, &h, &w), *m2 = dn_twin_mask (b, &h, &w);
  g_assert_cmpint (memcmp (m1, m2, (size_t) (h * w) * sizeof (float)), ==, 0);
  const float *c1 = dn_twin_correlations (a, &nc), *c2 = dn_twin_correlations (b, &nc);
  g_assert_cmpint (memcmp (c1, c2, (size_t) nc * sizeof (float)), ==, 0);
  double *x = dn_test_randn (2 * 93 * 93, 5);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, 2, 1, 93, 93);
  DnTensor *ya = DN_TEST_ZEROS (2, 2, 458), *yb = DN_TEST_ZEROS (2, 2, 458);
  DN_TEST_OK (dn_twin_forward (a, ya, tx));
  DN_TEST_OK (dn_twin_forward (b, yb, tx));
  double *da = dn_test_download (ya), *db = dn_test_download (yb);
  dn_test_check_close ("bundle = folder", db, da, 2 * 458, 0);

  /* a truncated bundle is refused with the file's name; nothing is left half-written by the writer */
  gchar *bytes;
  gsize len;
  g_assert_true (g_file_get_contents (bundle, &bytes, &len, NULL));
  char *cut = g_build_filename (tmpdir, "cut.h5", NULL);
  g_assert_true (g_file_set_contents (cut, bytes, (gssize) (len / 2), NULL));
  g_assert_null (dn_twin_open (dn_test_device (), cut, &st));
  g_assert_cmpint (st, !=, DN_OK);
  g_assert_nonnull (strstr (dn_last_error (), "cut.h5"));
  /* writing into a folder that does not exist fails cleanly */
  char *bad = g_build_filename (tmpdir, "no", "such", "x.h5", NULL);
  DN_TEST_FAILS (dn_bundle_write (bad, &src), DN_ERROR_IO);

  g_free (bytes);
  g_free (da);
  g_free (db);
  g_free (x);
  dn_tensor_free (tx);
  dn_tensor_free (ya);
  dn_tensor_free (yb);
  dn_twin_free (a);
  dn_twin_free (b);
  dn_twin_source_clear (&src);
  g_unlink (cut);
  g_unlink (bundle);
  g_rmdir (tmpdir);
  g_free (cut);
  g_free (bad);
  g_free (bundle);
  g_free (tmpdir);
  g_free (dir);
}

static void
test_checkpoint_variants (void)
{
  /* every variant of member 1 gives the same outputs as the original */
  static const char *variants[] = { "fixtures/checkpoints/v1_convnext_1_legacy.pth.tar",
                                    "fixtures/checkpoints/v1_convnext_1_f64.pth.tar",
                                    "fixtures/checkpoints/v1_convnext_1_wrapped.pth.tar" };
  char *orig = twin_shared_path ("dualneuron/V1GrayTaskDriven/v1_convnext_1.pth.tar");
  DnStatus st;
  DnTwin *ref = dn_twin_open (dn_test_device (), orig, &st);
  g_assert_nonnull (ref);
  double *x = dn_test_randn (93 * 93, 9);
  DnTensor *tx = DN_TEST_TENSOR (x, 4, 1, 1, 93, 93);
  DnTensor *y0 = DN_TEST_ZEROS (2, 1, 458), *y1 = DN_TEST_ZEROS (2, 1, 458);
  DN_TEST_OK (dn_twin_forward (ref, y0, tx));
  double *want = dn_test_download (y0);
  for (unsigned i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      char *p = twin_shared_path (variants[i]);
      DnTwin *t = dn_twin_open (dn_test_device (), p, &st);
      if (!t)
        g_error ("%s: %s", variants[i], dn_last_error ());
      DN_TEST_OK (dn_twin_forward (t, y1, tx));
      dn_test_check_tensor (variants[i], y1, want, 0);
      dn_twin_free (t);
      g_free (p);
    }
  g_free (want);
  g_free (x);
  g_free (orig);
  dn_tensor_free (tx);
  dn_tensor_free (y0);
  dn_tensor_free (y1);
  dn_twin_free (ref);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/twin/builtin/truth", test_gabor_truth);
  g_test_add_func ("/twin/builtin/responses", test_gabor_responses);
  g_test_add_func ("/twin/bundle/roundtrip", test_bundle_roundtrip);
  g_test_add_func ("/twin/checkpoint-variants", test_checkpoint_variants);
  return dn_test_run ();
}
