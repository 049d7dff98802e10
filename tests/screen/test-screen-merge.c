/* test-screen-merge.c: sharding, merging and resuming give exactly the single run's file: builtin:gabor-v1
 * on builtin:plaids (480 items, blocks of 64; on the Vulkan suite 120 items, where two of the four shards
 * are empty), with and without the response matrix. Compared: every dataset of the file (lists,
 * statistics, mergeable state, items, failures, responses) bit for bit, and the identity attributes.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "dn-twin-load.h"
#include "screen-test.h"

static const char *DATASETS[] = {
  "/top/index",        "/top/value",          "/bottom/index",   "/bottom/value",    "/stats/gini",
  "/stats/skewness",   "/stats/mean",         "/stats/std",      "/stats/range",     "/stats/cv",
  "/stats/max",        "/stats/min",          "/stats/q95",      "/stats/q05",       "/stats/active",
  "/stats/order",      "/state/block_count",  "/state/block_moments", "/state/hist", "/state/min",
  "/state/max",        "/items/label",        "/items/valid",    "/items/params",    "/failures/index",
};

static const char *ATTRS_I[] = { "n_done", "n_valid", "n_failed", "dataset_count", "item_start", "item_end",
                                 "shard_index", "n_shards", "top_k", "block_size", "complete" };
static const char *ATTRS_S[] = { "model", "model_name", "dataset", "dataset_hash", "preset", "mask_source",
                                 "quantile_method" };

static void
check_same_file (const char *a, const char *b, bool responses)
{
  DnStatus st;
  DnH5 *ha = dn_h5_open (a, false, &st), *hb = dn_h5_open (b, false, &st);
  g_assert_nonnull (ha);
  g_assert_nonnull (hb);
  for (size_t i = 0; i < G_N_ELEMENTS (DATASETS) + (responses ? 1 : 0); i++)
    {
      const char *d = i < G_N_ELEMENTS (DATASETS) ? DATASETS[i] : "/responses";
      int64_t na, nb;
      double *va = twin_read (ha, d, &na, NULL), *vb = twin_read (hb, d, &nb, NULL);
      g_assert_cmpint (na, ==, nb);
      for (int64_t j = 0; j < na; j++)
        if (!(va[j] == vb[j] || (isnan (va[j]) && isnan (vb[j]))))
          g_error ("%s differs between %s and %s at %lld: %.17g vs %.17g", d, a, b, (long long) j, va[j], vb[j]);
      free (va);
      free (vb);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (ATTRS_I); i++)
    {
      double x, y;
      DN_TEST_OK (dn_h5_read_attr_f64 (ha, "/", ATTRS_I[i], &x));
      DN_TEST_OK (dn_h5_read_attr_f64 (hb, "/", ATTRS_I[i], &y));
      if (x != y)
        g_error ("attribute %s differs: %g vs %g", ATTRS_I[i], x, y);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (ATTRS_S); i++)
    {
      char *x, *y;
      DN_TEST_OK (dn_h5_read_attr_str (ha, "/", ATTRS_S[i], &x));
      DN_TEST_OK (dn_h5_read_attr_str (hb, "/", ATTRS_S[i], &y));
      g_assert_cmpstr (x, ==, y);
      free (x);
      free (y);
    }
  dn_h5_close (ha);
  dn_h5_close (hb);
  /* the ids, through the reader */
  DnScreenResult *ra, *rb;
  DN_TEST_OK (dn_screen_result_load (a, &ra));
  DN_TEST_OK (dn_screen_result_load (b, &rb));
  for (int64_t i = ra->item_start; i < ra->item_end; i++)
    g_assert_cmpstr (dn_screen_result_item_id (ra, i), ==, dn_screen_result_item_id (rb, i));
  dn_screen_result_free (ra);
  dn_screen_result_free (rb);
}

typedef struct
{
  int batches, stop_after;
} StopAfter;

static bool
stop_after (void *p)
{
  StopAfter *s = p;
  return ++s->batches >= s->stop_after;
}

static void
run_merge (bool keep)
{
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  bool cpu = dn_device_is_cpu (dn_test_device ());
  DnDataset *ds = dn_dataset_open (cpu ? "builtin:plaids" : "builtin:plaids:n_ori=2", NULL, &st);
  int64_t N = dn_dataset_count (ds);
  g_assert_cmpint (N, ==, cpu ? 480 : 120);
  g_assert_cmpint (dn_screen_block_size (N), ==, 64);
  char *dir = screen_tmpdir ();
  char *single = g_build_filename (dir, "single.h5", NULL), *merged = g_build_filename (dir, "merged.h5", NULL);
  DnScreenOptions o;
  screen_test_options (&o);
  o.keep_responses = keep;
  /* at least 3 batches (two interruptions after one batch each); few on lavapipe, where the built-in twin's
     forward costs about 1.4 s per batch whatever its size */
  o.batch = cpu ? 32 : 40;
  DN_TEST_OK (dn_screen_run (twin, ds, single, &o));
  /* a rerun of a complete screening does nothing and succeeds */
  DN_TEST_OK (dn_screen_run (twin, ds, single, &o));

  char *shards[4];
  int64_t covered = 0;
  for (int s = 0; s < 4; s++)
    {
      shards[s] = g_strdup_printf ("%s/shard%d.h5", dir, s);
      o.shard_index = s;
      o.n_shards = 4;
      int64_t lo, hi;
      dn_screen_shard_range (N, s, 4, &lo, &hi);
      g_assert_cmpint (lo, ==, covered);
      g_assert_cmpint (lo % 64, ==, 0);
      covered = hi;
      DN_TEST_OK (dn_screen_run (twin, ds, shards[s], &o));
    }
  g_assert_cmpint (covered, ==, N);
  /* the shards in another order, as a user's glob may give them */
  const char *order[4] = { shards[2], shards[0], shards[3], shards[1] };
  DN_TEST_OK (dn_screen_merge (merged, order, 4));
  check_same_file (single, merged, keep);
  /* an incomplete set of shards is refused */
  DN_TEST_FAILS (dn_screen_merge (merged, (const char *const *) shards, 3), DN_ERROR_INVALID_ARGUMENT);
  const char *dup[4] = { shards[0], shards[1], shards[1], shards[3] };
  DN_TEST_FAILS (dn_screen_merge (merged, dup, 4), DN_ERROR_INVALID_ARGUMENT);

  /* cancelled after a batch, then resumed: the same file again */
  char *resumed = g_build_filename (dir, "resumed.h5", NULL);
  o.shard_index = 0;
  o.n_shards = 1;
  StopAfter sa = { 0, 1 };
  o.should_stop = stop_after;
  o.user = &sa;
  DN_TEST_FAILS (dn_screen_run (twin, ds, resumed, &o), DN_ERROR_CANCELLED);
  char *partial = g_strdup_printf ("%s.partial", resumed);
  g_assert_true (g_file_test (partial, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (resumed, G_FILE_TEST_EXISTS));
  /* a second interruption, resumed from the first checkpoint */
  sa.batches = 0;
  DN_TEST_FAILS (dn_screen_run (twin, ds, resumed, &o), DN_ERROR_CANCELLED);
  o.should_stop = NULL;
  DN_TEST_OK (dn_screen_run (twin, ds, resumed, &o));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  check_same_file (single, resumed, keep);
  /* another screening's output is not overwritten */
  o.top_k = 7;
  DN_TEST_FAILS (dn_screen_run (twin, ds, resumed, &o), DN_ERROR_INVALID_ARGUMENT);
  g_printerr ("# merge of 4 shards and a twice-resumed run equal the single run (%s responses)\n",
              keep ? "with" : "without");

  for (int s = 0; s < 4; s++)
    g_free (shards[s]);
  screen_rmtree (dir);
  g_free (dir);
  g_free (single);
  g_free (merged);
  g_free (resumed);
  g_free (partial);
  dn_dataset_free (ds);
  dn_twin_free (twin);
}

static void
test_merge_histogram (void)
{
  run_merge (false);
}

static void
test_merge_responses (void)
{
  run_merge (true);
}

/* Exact (response matrix) and histogram statistics agree within the histogram's stated accuracy. */
static void
test_stats_methods (void)
{
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  bool cpu = dn_device_is_cpu (dn_test_device ());
  DnDataset *ds = dn_dataset_open (cpu ? "builtin:shapes" : "builtin:noise:n=150", NULL, &st);
  char *dir = screen_tmpdir (), *a = g_build_filename (dir, "a.h5", NULL), *b = g_build_filename (dir, "b.h5", NULL);
  DnScreenOptions o;
  screen_test_options (&o);
  o.batch = 150;
  DN_TEST_OK (dn_screen_run (twin, ds, a, &o));
  o.keep_responses = true;
  DN_TEST_OK (dn_screen_run (twin, ds, b, &o));
  DnScreenResult *ra, *rb;
  DN_TEST_OK (dn_screen_result_load (a, &ra));
  DN_TEST_OK (dn_screen_result_load (b, &rb));
  g_assert_false (ra->exact_quantiles);
  g_assert_true (rb->exact_quantiles);
  double worst_q = 0, worst_g = 0;
  for (int k = 0; k < ra->n_neurons; k++)
    {
      const DnNeuronStats *x = &ra->stats[k], *y = &rb->stats[k];
      g_assert_cmpfloat (x->mean, ==, y->mean);
      g_assert_cmpfloat (x->std, ==, y->std);
      g_assert_cmpfloat (x->max, ==, y->max);
      worst_q = fmax (worst_q, fabs (x->q95 - y->q95) / fabs (y->q95));
      worst_q = fmax (worst_q, fabs (x->q05 - y->q05) / fabs (y->q05));
      worst_g = fmax (worst_g, fabs (x->gini - y->gini));
    }
  g_printerr ("# histogram vs exact: q95/q05 rel %.3g, gini abs %.3g\n", worst_q, worst_g);
  g_assert_cmpfloat (worst_q, <=, 0.005 + 1e-9);
  g_assert_cmpfloat (worst_g, <=, 0.01);

  /* exact statistics of neuron 0 recomputed from the matrix as numpy/scipy would */
  DnH5 *h = dn_h5_open (b, false, &st);
  int64_t n, shape[8];
  double *m = twin_read (h, "/responses", &n, shape);
  int64_t N = shape[0], K = shape[1];
  for (int k = 0; k < K; k += 17)
    {
      double *v = g_new (double, N), mean = 0, m2 = 0, m3 = 0;
      for (int64_t i = 0; i < N; i++)
        mean += (v[i] = m[i * K + k]) / N;
      for (int64_t i = 0; i < N; i++)
        {
          m2 += (v[i] - mean) * (v[i] - mean) / N;
          m3 += (v[i] - mean) * (v[i] - mean) * (v[i] - mean) / N;
        }
      const DnNeuronStats *s = &rb->stats[k];
      g_assert_cmpfloat (fabs (s->mean - mean), <=, 1e-9 * fabs (mean));
      g_assert_cmpfloat (fabs (s->std - sqrt (m2)), <=, 1e-9 * sqrt (m2));
      g_assert_cmpfloat (fabs (s->skewness - m3 / pow (m2, 1.5)), <=, 1e-7 * (1 + fabs (s->skewness)));
      g_free (v);
    }
  free (m);
  dn_h5_close (h);
  dn_screen_result_free (ra);
  dn_screen_result_free (rb);
  screen_rmtree (dir);
  g_free (dir);
  g_free (a);
  g_free (b);
  dn_dataset_free (ds);
  dn_twin_free (twin);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen/merge/histogram", test_merge_histogram);
  g_test_add_func ("/screen/merge/responses", test_merge_responses);
  g_test_add_func ("/screen/merge/stats-methods", test_stats_methods);
  return dn_test_run ();
}
