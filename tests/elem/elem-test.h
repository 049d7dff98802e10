/* elem-test.h: helpers shared by the elem family's tests (tests/elem/test-op-*.c).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

/* randn·scale + shift, rounded to float32 */
static inline double *
elem_randn (int64_t n, uint64_t seed, double scale, double shift)
{
  double *v = dn_test_randn (n, seed);
  for (int64_t i = 0; i < n; i++)
    v[i] = v[i] * scale + shift;
  dn_test_round_f32 (v, n);
  return v;
}

static inline double *
elem_copy (const double *v, int64_t n)
{
  double *c = g_new (double, n > 0 ? n : 1);
  if (n > 0)
    memcpy (c, v, sizeof (double) * (size_t) n);
  return c;
}

static inline int64_t
elem_prod (int ndim, const int64_t *shape)
{
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

/* A float tensor of the test device with @shape holding @vals. */
static inline DnTensor *
elem_tensor (int ndim, const int64_t *shape, const double *vals)
{
  return dn_test_tensor (ndim, shape, vals);
}

/* Reads a float32 dataset of a shared fixture into a new double array (g_free); fails the test when
 * the file or the dataset is missing (a missing fixture is a failure, never a skip). */
static inline double *
elem_read_fixture (const char *file, const char *dataset, int64_t *n_out)
{
  const char *dir = g_getenv ("DN_SHARED_DIR");
  if (!dir || !*dir)
    g_error ("DN_SHARED_DIR is not set: the test runner must point it at the shared folder");
  char *path = g_build_filename (dir, "fixtures", file, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("fixture %s is missing", path);
  hid_t f = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    g_error ("cannot open fixture %s", path);
  hid_t d = H5Dopen2 (f, dataset, H5P_DEFAULT);
  if (d < 0)
    g_error ("fixture %s has no dataset %s", path, dataset);
  hid_t sp = H5Dget_space (d);
  hssize_t np = H5Sget_simple_extent_npoints (sp);
  if (np <= 0 || np > (hssize_t) 1 << 31)
    g_error ("fixture %s:%s has %lld elements", path, dataset, (long long) np);
  gsize n = (gsize) np;
  float *f32 = g_new (float, n);
  if (H5Dread (d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f32) < 0)
    g_error ("cannot read %s:%s", path, dataset);
  double *v = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    v[i] = f32[i];
  g_free (f32);
  H5Sclose (sp);
  H5Dclose (d);
  H5Fclose (f);
  g_free (path);
  *n_out = (int64_t) n;
  return v;
}

/* Max |got − want|. */
static inline double
elem_max_abs (const double *got, const double *want, int64_t n)
{
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs (got[i] - want[i]);
      if (!(d <= m))
        m = d;
    }
  return m;
}
