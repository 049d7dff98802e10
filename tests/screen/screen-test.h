/* screen-test.h: what the screening tests share: fixture paths, temporary folders, comparisons.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>

#include "../twin/twin-fixture.h"
#include "screen/dn-screen-test-config.h" /* DN_SCREEN_DATA_DIR */
#include "dn-screen.h"

/* tests/screen/data/<rel> (committed fixture; missing = failure). g_free the result. */
static inline char *
screen_data_path (const char *rel)
{
  char *p = g_build_filename (DN_SCREEN_DATA_DIR, rel, NULL);
  if (!g_file_test (p, G_FILE_TEST_EXISTS))
    g_error ("missing fixture %s (tools/gen-screen-fixture.py writes it)", p);
  return p;
}

/* A fresh temporary folder; screen_rmtree() removes it. */
static inline char *
screen_tmpdir (void)
{
  GError *err = NULL;
  char *d = g_dir_make_tmp ("dn-screen-XXXXXX", &err);
  g_assert_no_error (err);
  return d;
}

static inline void
screen_rmtree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d)
    {
      const char *n;
      while ((n = g_dir_read_name (d)))
        {
          char *p = g_build_filename (path, n, NULL);
          if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
            screen_rmtree (p);
          else
            g_unlink (p);
          g_free (p);
        }
      g_dir_close (d);
    }
  g_rmdir (path);
}

static inline double
screen_max_abs (const float *got, const double *want, int64_t n)
{
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    m = fmax (m, fabs ((double) got[i] - want[i]));
  return m;
}

/* Quiet options: no worker-count surprises, default K. */
static inline void
screen_test_options (DnScreenOptions *o)
{
  dn_screen_options_init (o);
  o->n_workers = 2;
  o->top_k = 10;
  o->batch = 16;
}
