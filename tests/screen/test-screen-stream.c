/* test-screen-stream.c: streaming with bounded memory: 100,000 generated images (builtin:noise at 8×8,
 * resized to the built-in twin's 93×93) screened on the CPU suite; the resident memory measured during the
 * run must stop growing once the pipeline is full (the Vulkan suite streams 500, lavapipe being slow).
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <unistd.h>

#include "dn-twin-load.h"
#include "screen-test.h"

/* The process's peak resident memory so far (VmHWM), MB. */
static double
peak_mb (void)
{
  char line[256];
  double kb = 0;
  FILE *f = fopen ("/proc/self/status", "r");
  while (f && fgets (line, sizeof line, f))
    if (sscanf (line, "VmHWM: %lf", &kb) == 1)
      break;
  if (f)
    fclose (f);
  return kb / 1024;
}

static double
rss_mb (void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");
  if (f)
    {
      if (fscanf (f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
      fclose (f);
    }
  return (double) resident * (double) sysconf (_SC_PAGESIZE) / (1 << 20);
}

typedef struct
{
  double at_fifth, peak_after;
  int64_t calls;
  double last_rate;
} Mem;

static void
on_progress (const DnScreenProgress *p, void *user)
{
  Mem *m = user;
  double r = rss_mb ();
  if (m->at_fifth == 0 && p->done >= p->total / 5)
    m->at_fifth = r;
  if (m->at_fifth > 0)
    m->peak_after = fmax (m->peak_after, r);
  m->calls++;
  m->last_rate = p->items_per_s;
  g_assert_cmpint (p->done, <=, p->total);
}

static void
test_stream (void)
{
  bool cpu = dn_device_is_cpu (dn_test_device ());
  int64_t n = cpu ? 100000 : 500;
  char spec[64];
  snprintf (spec, sizeof spec, "builtin:noise:n=%lld,size=8", (long long) n);
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  DnDataset *ds = dn_dataset_open (spec, NULL, &st);
  g_assert_cmpint (dn_dataset_count (ds), ==, n);
  char *dir = screen_tmpdir (), *out = g_build_filename (dir, "stream.h5", NULL);
  DnScreenOptions o;
  screen_test_options (&o);
  o.batch = cpu ? 256 : 250;
  o.top_k = 20;
  Mem m = { 0 };
  o.progress = on_progress;
  o.user = &m;
  double before = rss_mb ();
  gint64 t0 = g_get_monotonic_time ();
  DN_TEST_OK (dn_screen_run (twin, ds, out, &o));
  double secs = (double) (g_get_monotonic_time () - t0) * 1e-6, peak = peak_mb ();
  DnScreenResult *r;
  DN_TEST_OK (dn_screen_result_load (out, &r));
  g_assert_cmpint (r->n_valid, ==, n);
  g_assert_cmpint (r->n_failed, ==, 0);
  for (int k = 0; k < r->n_neurons; k++)
    {
      g_assert_true (isfinite (r->stats[k].mean) && isfinite (r->stats[k].q95) && isfinite (r->stats[k].gini));
      g_assert_cmpint (r->top_index[(size_t) k * r->top_k + r->top_k - 1], >=, 0);
      g_assert_cmpfloat (r->top_value[(size_t) k * r->top_k], ==, r->stats[k].max);
      g_assert_cmpfloat (r->bottom_value[(size_t) k * r->top_k], ==, r->stats[k].min);
    }
  double growth = m.peak_after - m.at_fifth;
  g_printerr ("# streamed %lld images in %.1f s (%.0f images/s): RSS %.0f MB before, %.0f MB at 20%%, %.0f MB at most "
              "after (growth %.1f MB); process peak incl. the final write %.0f MB\n",
              (long long) n, secs, (double) n / secs, before, m.at_fifth, m.peak_after, growth, peak);
  /* the state is allocated up front and the ring is fixed: what grows is only the failure list (empty);
     the final write streams the item list in blocks */
#if defined(__SANITIZE_ADDRESS__)
  /* ASan's redzones and quarantine add to every allocation: the same bounds, doubled */
  g_assert_cmpfloat (growth, <, 32);
  g_assert_cmpfloat (peak - m.at_fifth, <, 64);
#else
  g_assert_cmpfloat (growth, <, 16);
  g_assert_cmpfloat (peak - m.at_fifth, <, 32);
#endif
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer keeps up to 256 MB of freed memory in quarantine on top of what the run holds */
  g_assert_cmpfloat (m.peak_after - before, <, 200 + 256);
#else
  g_assert_cmpfloat (m.peak_after - before, <, 200);
#endif
  dn_screen_result_free (r);
  dn_dataset_free (ds);
  dn_twin_free (twin);
  screen_rmtree (dir);
  g_free (dir);
  g_free (out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen/stream/bounded-memory", test_stream);
  return dn_test_run ();
}
