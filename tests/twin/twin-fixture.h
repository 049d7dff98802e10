/* twin-fixture.h: reading the PyTorch twin fixtures (../shared/fixtures/…h5) in tests.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-h5.h"
#include "dn-test.h"

/* $DN_SHARED_DIR/<rel>; a missing file fails the test (never a skip). g_free the result. */
static inline char *
twin_shared_path (const char *rel)
{
  const char *dir = g_getenv ("DN_SHARED_DIR");
  if (!dir || !*dir)
    g_error ("DN_SHARED_DIR is not set (the test runner sets it to the shared folder)");
  char *p = g_build_filename (dir, rel, NULL);
  if (!g_file_test (p, G_FILE_TEST_EXISTS))
    g_error ("missing shared file %s", p);
  return p;
}

/* Reads a dataset as float64 (g_malloc'd via malloc: free with free()). Asserts. */
static inline double *
twin_read (DnH5 *h, const char *path, int64_t *numel, int64_t *shape)
{
  double *d;
  int ndim;
  int64_t sh[DN_H5_MAX_DIMS];
  DN_TEST_OK (dn_h5_read_f64 (h, path, &d, &ndim, sh));
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      n *= sh[i];
      if (shape)
        shape[i] = sh[i];
    }
  if (numel)
    *numel = n;
  return d;
}
