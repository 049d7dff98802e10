/* test-synth-file.c: result files of pole synthesis (dn_synth_to_file) on builtin:gabor-v1: DualNeuron's
 * layout and metadata, equality with dn_synth_run, resuming (finished jobs skipped, a longer job list
 * extends the file, other parameters or another model refused), killing a writer with SIGKILL at random
 * moments (the file stays valid and a rerun completes it with the same results), one writer per file,
 * shards, and bad input: neuron ids, weights, unwritable outputs, a foreign file, NaN parameters, a NaN
 * start image, and jobs whose results turn non-finite (not written, DN_ERROR_NON_FINITE).
 * The killed writers are this binary re-executed with --child-synth (CPU backend).
 * The file logic is backend-independent: the cpu suite runs all of it; the vulkan suite checks that the
 * GPU's results reach the file unchanged.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dn-gabor.h"
#include "dn-twin-load.h"
#include "synth-test.h"

#define STEPS 4
#define NPIX (93 * 93)

static DnTwin *twin;
static char *tmpdir;

static DnSynthParams
params (void)
{
  DnSynthParams p;
  DN_TEST_OK (dn_synth_params_preset (&p, "v1-pixel"));
  p.steps = STEPS;
  return p;
}

static char *
path_in_tmp (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static int
make_jobs (DnSynthJob *jobs, int n_neurons, int n_seeds)
{
  int k = 0;
  for (int a = 0; a < n_neurons; a++)
    for (int s = 0; s < n_seeds; s++)
      for (int w = -1; w <= 1; w += 2)
        jobs[k++] = (DnSynthJob){ a * 7, (uint32_t) (100 + s), w };
  return k;
}

/* Checks one job group in an open file; returns whether it is complete. */
static bool
check_group (DnH5 *h, const DnSynthJob *job, int steps)
{
  char g[96], d[128];
  g_snprintf (g, sizeof g, "/neuron_%04d/seed_%u/%s", job->neuron, job->seed, job->weight > 0 ? "most" : "least");
  double v;
  if (!dn_h5_exists (h, g))
    return false;
  /* commits are atomic: a group that exists is complete */
  DN_TEST_OK (dn_h5_read_attr_f64 (h, g, "complete", &v));
  g_assert_cmpfloat (v, ==, 1);
  DN_TEST_OK (dn_h5_read_attr_f64 (h, g, "neuron_id", &v));
  g_assert_cmpfloat (v, ==, job->neuron);
  DN_TEST_OK (dn_h5_read_attr_f64 (h, g, "seed", &v));
  g_assert_cmpfloat (v, ==, job->seed);
  DN_TEST_OK (dn_h5_read_attr_f64 (h, g, "weight", &v));
  g_assert_cmpfloat (v, ==, job->weight);
  char *s;
  DN_TEST_OK (dn_h5_read_attr_str (h, g, "type", &s));
  g_assert_cmpstr (s, ==, job->weight > 0 ? "most" : "least");
  free (s);
  DN_TEST_OK (dn_h5_read_attr_str (h, g, "model", &s));
  g_assert_cmpstr (s, ==, "builtin:gabor-v1");
  free (s);
  DN_TEST_OK (dn_h5_read_attr_f64 (h, g, "rf_cosine", &v));
  g_assert_true (isfinite (v));
  static const char *names[] = { "image", "alpha", "activations", "member_responses" };
  int64_t want[] = { NPIX, NPIX, steps, 1 };
  for (int i = 0; i < 4; i++)
    {
      g_snprintf (d, sizeof d, "%s/%s", g, names[i]);
      free (synth_read_f32 (h, d, want[i]));
    }
  return true;
}

/* Opens @path and checks the metadata and every group of @jobs; returns the number of complete jobs. */
static int
check_file (const char *path, const DnSynthJob *jobs, int n_jobs, int steps)
{
  DnStatus st;
  DnH5 *h = dn_h5_open (path, false, &st);
  if (!h)
    g_error ("%s does not open: %s", path, dn_last_error ());
  char *s;
  DN_TEST_OK (dn_h5_read_attr_str (h, "/", "format", &s));
  g_assert_cmpstr (s, ==, "dualneuron-poles");
  free (s);
  DN_TEST_OK (dn_h5_read_attr_str (h, "/", "model_name", &s));
  g_assert_cmpstr (s, ==, "builtin:gabor-v1");
  free (s);
  DN_TEST_OK (dn_h5_read_attr_str (h, "/", "parameters", &s));
  g_assert_nonnull (strstr (s, "kind=pixel"));
  free (s);
  double v;
  DN_TEST_OK (dn_h5_read_attr_f64 (h, "/", "steps", &v));
  g_assert_cmpfloat (v, ==, steps);
  int n = 0;
  for (int i = 0; i < n_jobs; i++)
    n += check_group (h, &jobs[i], steps);
  dn_h5_close (h);
  return n;
}

static float *
read_job (const char *path, const DnSynthJob *job, const char *what, int64_t n)
{
  DnStatus st;
  DnH5 *h = dn_h5_open (path, false, &st);
  g_assert_nonnull (h);
  char d[128];
  g_snprintf (d, sizeof d, "/neuron_%04d/seed_%u/%s/%s", job->neuron, job->seed, job->weight > 0 ? "most" : "least",
              what);
  float *x = synth_read_f32 (h, d, n);
  dn_h5_close (h);
  return x;
}

typedef struct
{
  float image[64][NPIX];
  float acts[64][STEPS];
  DnSynthJob job[64];
  int n;
} Ref;

static DnStatus
keep (const DnSynthResult *r, int n, void *user)
{
  Ref *ref = user;
  for (int i = 0; i < n; i++, ref->n++)
    {
      ref->job[ref->n] = r[i].job;
      memcpy (ref->image[ref->n], r[i].image, sizeof ref->image[0]);
      memcpy (ref->acts[ref->n], r[i].activations, sizeof ref->acts[0]);
    }
  return DN_OK;
}

/* dn_synth_run's results for @jobs (batch 1: per job, as the killed writers' resumed runs may batch them) */
static Ref *
reference (DnTwin *t, const DnSynthJob *jobs, int n, int batch)
{
  DnSynthParams p = params ();
  Ref *ref = g_new0 (Ref, 1);
  DnSynthRunOptions o;
  dn_synth_run_options_init (&o);
  o.batch = batch;
  o.batch_done = keep;
  o.user = ref;
  DN_TEST_OK (dn_synth_run (t, &p, jobs, n, &o));
  return ref;
}

static void
check_against (const char *path, const Ref *ref, double tol)
{
  for (int i = 0; i < ref->n; i++)
    {
      float *img = read_job (path, &ref->job[i], "image", NPIX);
      float *acts = read_job (path, &ref->job[i], "activations", STEPS);
      double e = synth_max_abs (img, ref->image[i], NPIX) + synth_max_abs (acts, ref->acts[i], STEPS);
      if (!(e <= tol))
        g_error ("%s: job %d (neuron %d) differs from dn_synth_run by %.3g", path, i, ref->job[i].neuron, e);
      free (img);
      free (acts);
    }
}

static void
test_write_and_resume (void)
{
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, 3, 2); /* 12 jobs */
  char *out = path_in_tmp ("poles.h5");
  DnSynthParams p = params ();
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out;
  o.model_id = "builtin:gabor-v1";
  o.preset = "v1-pixel";
  o.run.batch = 4;
  DnSynthFileReport rep;
  /* the first 8 jobs, then all 12: the second run adds only the last 4 */
  DN_TEST_OK (dn_synth_to_file (twin, &p, jobs, 8, &o, &rep));
  g_assert_cmpint (rep.n_jobs, ==, 8);
  g_assert_cmpint (rep.n_done, ==, 8);
  g_assert_cmpint (rep.n_skipped, ==, 0);
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, 8);
  g_assert_true (dn_synth_file_has_job (out, &jobs[7]));
  g_assert_false (dn_synth_file_has_job (out, &jobs[8]));
  DN_TEST_OK (dn_synth_to_file (twin, &p, jobs, n, &o, &rep));
  g_assert_cmpint (rep.n_skipped, ==, 8);
  g_assert_cmpint (rep.n_done, ==, 4);
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, 12);
  /* a rerun does nothing */
  struct stat before, after;
  g_assert_cmpint (stat (out, &before), ==, 0);
  DN_TEST_OK (dn_synth_to_file (twin, &p, jobs, n, &o, &rep));
  g_assert_cmpint (rep.n_skipped, ==, 12);
  g_assert_cmpint (rep.n_done, ==, 0);
  g_assert_cmpint (stat (out, &after), ==, 0);
  g_assert_cmpint (before.st_ino, ==, after.st_ino); /* not even rewritten */
  /* the same numbers as dn_synth_run with the same batches (bitwise), no stray files */
  Ref *ref = reference (twin, jobs, 8, 4);
  check_against (out, ref, 0);
  g_free (ref);
  char *tmp = g_strconcat (out, ".tmp", NULL), *lock = g_strconcat (out, ".lock", NULL);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (lock, G_FILE_TEST_EXISTS));

  /* other parameters / another model are refused, and the file stays as it was */
  DnSynthParams q = p;
  q.noise = 0.06;
  DN_TEST_FAILS (dn_synth_to_file (twin, &q, jobs, n, &o, &rep), DN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (dn_last_error (), "noise=0.06"));
  DnStatus st;
  DnWeightSet *ws;
  char *ck = twin_shared_path ("fixtures/checkpoints/v1_convnext_1_legacy.pth.tar");
  g_assert_nonnull ((ws = dn_weights_from_torch (ck, &st)));
  DnTwin *v1 = dn_twin_new (dn_test_device (), &ws, 1, &st);
  g_assert_nonnull (v1);
  dn_weight_set_free (ws);
  DN_TEST_FAILS (dn_synth_to_file (v1, &p, jobs, n, &o, &rep), DN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (dn_last_error (), "another model"));
  dn_twin_free (v1);
  g_free (ck);
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, 12);

  /* one writer per file */
  int fd = open (lock, O_RDWR | O_CREAT, 0644);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &o, &rep), DN_ERROR_IO);
  g_assert_nonnull (strstr (dn_last_error (), "another run"));
  close (fd);
  unlink (lock);
  g_free (tmp);
  g_free (lock);
  g_free (out);
}

static void
test_shards (void)
{
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, 2, 2); /* 8 jobs */
  DnSynthParams p = params ();
  char *out[3];
  int total = 0;
  for (int s = 0; s < 3; s++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "shard%d.h5", s);
      out[s] = path_in_tmp (name);
      DnSynthFileOptions o;
      dn_synth_file_options_init (&o);
      o.output = out[s];
      o.shard_index = s;
      o.shard_count = 3;
      DnSynthFileReport rep;
      DN_TEST_OK (dn_synth_to_file (twin, &p, jobs, n, &o, &rep));
      g_assert_cmpint (rep.n_jobs, ==, (n - s + 2) / 3);
      total += check_file (out[s], jobs, n, STEPS);
      for (int i = 0; i < n; i++)
        g_assert_true (dn_synth_file_has_job (out[s], &jobs[i]) == (i % 3 == s));
    }
  g_assert_cmpint (total, ==, n);
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out[0];
  o.shard_index = 3;
  o.shard_count = 3;
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &o, NULL), DN_ERROR_INVALID_ARGUMENT);
  for (int s = 0; s < 3; s++)
    g_free (out[s]);
}

/* Draws whose crop noise turns NaN for neuron 14 at step 2. */
static DnStatus
nan_step (void *user, const DnSynthJob *job, const DnSynthParams *p, int t, float *cx, float *cy, float *sc,
          float *noise, int64_t n)
{
  const DnSynthDraws *d = dn_synth_draws_default ();
  DnStatus st = d->step (d->user, job, p, t, cx, cy, sc, noise, n);
  if (st == DN_OK && job->neuron == 14 && t == 2)
    noise[n / 2] = NAN;
  return st;
}

static DnStatus
default_init (void *user, const DnSynthJob *job, const DnSynthParams *p, float *param, int64_t n)
{
  const DnSynthDraws *d = dn_synth_draws_default ();
  return d->init (d->user, job, p, param, n);
}

static void
test_bad_input (void)
{
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, 3, 1); /* neurons 0, 7, 14 */
  DnSynthParams p = params ();
  char *out = path_in_tmp ("bad.h5");
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out;
  /* neuron ids and weights */
  DnSynthJob bad = { 120, 1, 1 };
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, &bad, 1, &o, NULL), DN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (dn_last_error (), "neuron 120"));
  bad.neuron = -1;
  DN_TEST_FAILS (dn_synth_run (twin, &p, &bad, 1, NULL), DN_ERROR_INVALID_ARGUMENT);
  bad = (DnSynthJob){ 3, 1, 0 };
  DN_TEST_FAILS (dn_synth_run (twin, &p, &bad, 1, NULL), DN_ERROR_INVALID_ARGUMENT);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS)); /* nothing was created */
  /* parameters */
  DnSynthParams q = p;
  q.lr = NAN;
  DN_TEST_FAILS (dn_synth_to_file (twin, &q, jobs, n, &o, NULL), DN_ERROR_INVALID_ARGUMENT);
  q = p;
  q.steps = 0;
  DN_TEST_FAILS (dn_synth_run (twin, &q, jobs, n, NULL), DN_ERROR_INVALID_ARGUMENT);
  q = p;
  q.blur_ksize = 4;
  DN_TEST_FAILS (dn_synth_run (twin, &q, jobs, n, NULL), DN_ERROR_INVALID_ARGUMENT);
  q = p;
  q.kind = DN_SYNTH_FOURIER; /* without a prior */
  DN_TEST_FAILS (dn_synth_run (twin, &q, jobs, n, NULL), DN_ERROR_INVALID_ARGUMENT);
  float *img = g_new0 (float, NPIX);
  img[100] = NAN;
  q = p;
  q.init_image = img;
  DN_TEST_FAILS (dn_synth_to_file (twin, &q, jobs, n, &o, NULL), DN_ERROR_NON_FINITE);
  g_free (img);
  DN_TEST_FAILS (dn_synth_params_preset (&q, "v2-pixel"), DN_ERROR_INVALID_ARGUMENT);
  DnStatus st;
  g_assert_null (dn_synth_batch_new (twin, &p, 0, &st));
  g_assert_cmpint (st, ==, DN_ERROR_INVALID_ARGUMENT);
  /* unwritable outputs: a folder that does not exist, a "folder" that is a file */
  DnSynthFileOptions u = o;
  u.output = "/nonexistent-dualneuron-dir/poles.h5";
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &u, NULL), DN_ERROR_IO);
  g_assert_nonnull (strstr (dn_last_error (), "/nonexistent-dualneuron-dir/poles.h5"));
  char *file = path_in_tmp ("plain-file");
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  char *under = g_build_filename (file, "poles.h5", NULL);
  u.output = under;
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &u, NULL), DN_ERROR_IO);
  /* a foreign file is never overwritten */
  u.output = file;
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &u, NULL), DN_ERROR_FORMAT);
  char *content;
  gsize len;
  g_assert_true (g_file_get_contents (file, &content, &len, NULL));
  g_assert_cmpint (len, ==, 1);
  g_free (content);
  char *foreign = path_in_tmp ("foreign.h5");
  DnH5 *h = dn_h5_create (foreign, &st);
  DN_TEST_OK (dn_h5_write_attr_str (h, "/", "hello", "world"));
  DN_TEST_OK (dn_h5_close (h));
  u.output = foreign;
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &u, NULL), DN_ERROR_FORMAT);
  /* a job that turns NaN is not written; the others are, and the run says so */
  DnSynthDraws draws = { default_init, nan_step, NULL };
  o.run.draws = &draws;
  DnSynthFileReport rep;
  DN_TEST_FAILS (dn_synth_to_file (twin, &p, jobs, n, &o, &rep), DN_ERROR_NON_FINITE);
  g_assert_nonnull (strstr (dn_last_error (), "neuron 14"));
  g_assert_cmpint (rep.n_failed, ==, 2);
  g_assert_cmpint (rep.n_done, ==, n - 2);
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, n - 2);
  g_free (foreign);
  g_free (under);
  g_free (file);
  g_free (out);
}

/* The killed writers ------------------------------------------------------------------------------------- */

#define KILL_NEURONS 10
#define KILL_SEEDS 2

static int
child_synth (const char *out)
{
  DnTwin *t = synth_cpu_gabor ();
  if (!t)
    return 3;
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, KILL_NEURONS, KILL_SEEDS);
  DnSynthParams p = params ();
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out;
  o.run.batch = 1; /* many commits */
  DnStatus st = dn_synth_to_file (t, &p, jobs, n, &o, NULL);
  synth_cpu_twin_free (t);
  return st == DN_OK ? 0 : 4;
}

static void
test_kill (void)
{
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, KILL_NEURONS, KILL_SEEDS); /* 40 jobs */
  char *out = path_in_tmp ("killed.h5"), *tmp = g_strconcat (out, ".tmp", NULL);
  char exe[4096];
  ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  g_assert_cmpint (len, >, 0);
  exe[len] = '\0';
  GRand *rng = g_rand_new_with_seed (4);
  int kills = 0, mid_commit = 0, done = 0, rounds = 0;
  while (done < n && rounds < 40)
    {
      rounds++;
      pid_t pid = fork ();
      if (pid == 0)
        {
          execl (exe, exe, "--child-synth", out, (char *) NULL);
          _exit (127);
        }
      g_assert_cmpint (pid, >, 0);
      g_usleep ((gulong) g_rand_int_range (rng, 20000, 700000));
      int status;
      if (waitpid (pid, &status, WNOHANG) == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          kills++;
          mid_commit += g_file_test (tmp, G_FILE_TEST_EXISTS);
        }
      else
        g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
      if (g_file_test (out, G_FILE_TEST_EXISTS))
        {
          int now_done = check_file (out, jobs, n, STEPS); /* valid after every kill */
          g_assert_cmpint (now_done, >=, done);            /* and never loses finished jobs */
          done = now_done;
        }
    }
  if (g_test_verbose ())
    g_printerr ("  %d rounds, %d kills (%d with a commit in progress), %d/%d jobs done\n", rounds, kills, mid_commit,
                done, n);
  g_assert_cmpint (kills, >, 0);
  /* finish in this process as the writers did (CPU, batch 1): the file then equals an uninterrupted run
   * bitwise */
  DnTwin *ct = synth_cpu_gabor ();
  g_assert_nonnull (ct);
  DnSynthParams p = params ();
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out;
  o.run.batch = 1;
  DnSynthFileReport rep;
  DN_TEST_OK (dn_synth_to_file (ct, &p, jobs, n, &o, &rep));
  g_assert_cmpint (rep.n_skipped, ==, done);
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, n);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  Ref *ref = reference (ct, jobs, n, 1);
  check_against (out, ref, 0);
  g_free (ref);
  synth_cpu_twin_free (ct);
  g_rand_free (rng);
  g_free (tmp);
  g_free (out);
}

/* Vulkan suite: what the GPU computed reaches the file unchanged (the file logic itself is
 * backend-independent and runs in the cpu suite). */
static void
test_vulkan_results (void)
{
  DnSynthJob jobs[64];
  int n = make_jobs (jobs, 1, 1);
  char *out = path_in_tmp ("vulkan.h5");
  DnSynthParams p = params ();
  DnSynthFileOptions o;
  dn_synth_file_options_init (&o);
  o.output = out;
  o.run.batch = 2;
  DN_TEST_OK (dn_synth_to_file (twin, &p, jobs, n, &o, NULL));
  g_assert_cmpint (check_file (out, jobs, n, STEPS), ==, n);
  Ref *ref = reference (twin, jobs, n, 2);
  check_against (out, ref, 0);
  char *s;
  DnStatus st;
  DnH5 *h = dn_h5_open (out, false, &st);
  DN_TEST_OK (dn_h5_read_attr_str (h, "/", "backend", &s));
  g_assert_nonnull (strstr (s, "vulkan"));
  free (s);
  dn_h5_close (h);
  g_free (ref);
  g_free (out);
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--child-synth") == 0)
    return child_synth (argv[2]);
  g_test_init (&argc, &argv, NULL);
  DnStatus st;
  twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  if (!twin)
    g_error ("%s", dn_last_error ());
  GError *err = NULL;
  tmpdir = g_dir_make_tmp ("dn-synth-XXXXXX", &err);
  g_assert_no_error (err);
  if (strcmp (dn_test_backend_name (), "cpu") == 0)
    {
      g_test_add_func ("/synth/file/write-and-resume", test_write_and_resume);
      g_test_add_func ("/synth/file/shards", test_shards);
      g_test_add_func ("/synth/file/bad-input", test_bad_input);
      g_test_add_func ("/synth/file/kill", test_kill);
    }
  else
    g_test_add_func ("/synth/file/vulkan-results", test_vulkan_results);
  int rc = g_test_run ();
  /* remove the temporary folder */
  GDir *d = g_dir_open (tmpdir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d));)
    {
      char *f = g_build_filename (tmpdir, name, NULL);
      unlink (f);
      g_free (f);
    }
  if (d)
    g_dir_close (d);
  rmdir (tmpdir);
  g_free (tmpdir);
  dn_twin_free (twin);
  dn_test_device_free ();
  return rc;
}
