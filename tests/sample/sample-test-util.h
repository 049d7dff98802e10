/* sample-test-util.h: helpers shared by the sample family's tests: reading HDF5 fixtures (the shared
 * PyTorch fixtures and this family's own tests/sample/data/sample_torch.h5, made by
 * tests/sample/gen-sample-fixture.py), and accumulation checks.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <hdf5.h>
#include <string.h>

#include "dn-test.h"
#include "sample/dn-sample-test-config.h" /* DN_SAMPLE_DATA_DIR */

/* Opens an HDF5 file read-only; a missing file FAILS the test (never a skip). */
static inline hid_t
sample_h5_open (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("fixture %s is missing", path);
  hid_t f = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    g_error ("cannot open fixture %s", path);
  return f;
}

/* This family's PyTorch fixture (tests/sample/data/sample_torch.h5). */
static inline hid_t
sample_h5_open_own (void)
{
  char *path = g_build_filename (DN_SAMPLE_DATA_DIR, "sample_torch.h5", NULL);
  hid_t f = sample_h5_open (path);
  g_free (path);
  return f;
}

/* Reads dataset @name as float64; checks its rank and (where dims[i] >= 0) its dims, and writes the
 * actual dims back into @dims. Caller g_free()s. */
static inline double *
sample_h5_read (hid_t f, const char *name, int ndim, int64_t *dims)
{
  hid_t d = H5Dopen2 (f, name, H5P_DEFAULT);
  if (d < 0)
    g_error ("fixture dataset %s is missing", name);
  hid_t s = H5Dget_space (d);
  int nd = H5Sget_simple_extent_ndims (s);
  if (nd != ndim)
    g_error ("fixture dataset %s has rank %d, expected %d", name, nd, ndim);
  hsize_t hd[16];
  H5Sget_simple_extent_dims (s, hd, NULL);
  int64_t n = 1;
  for (int i = 0; i < nd; i++)
    {
      if (dims[i] >= 0 && dims[i] != (int64_t) hd[i])
        g_error ("fixture dataset %s: dim %d is %lld, expected %lld", name, i, (long long) hd[i],
                 (long long) dims[i]);
      dims[i] = (int64_t) hd[i];
      n *= (int64_t) hd[i];
    }
  double *v = g_new (double, n > 0 ? n : 1);
  if (H5Dread (d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
    g_error ("cannot read fixture dataset %s", name);
  H5Sclose (s);
  H5Dclose (d);
  return v;
}

/* Reads an integer attribute of object @obj (a group path). */
static inline int64_t
sample_h5_attr_int (hid_t f, const char *obj, const char *attr)
{
  long long v = 0;
  hid_t a = H5Aopen_by_name (f, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Aread (a, H5T_NATIVE_LLONG, &v) < 0)
    g_error ("fixture attribute %s/%s is missing", obj, attr);
  H5Aclose (a);
  return (int64_t) v;
}

static inline double
sample_h5_attr_double (hid_t f, const char *obj, const char *attr)
{
  double v = 0;
  hid_t a = H5Aopen_by_name (f, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Aread (a, H5T_NATIVE_DOUBLE, &v) < 0)
    g_error ("fixture attribute %s/%s is missing", obj, attr);
  H5Aclose (a);
  return v;
}

static inline int64_t
sample_numel (int ndim, const int64_t *dims)
{
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= dims[i];
  return n;
}

/* a[i] += b[i] */
static inline void
sample_add (double *a, const double *b, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    a[i] += b[i];
}

static inline double *
sample_dup (const double *v, int64_t n)
{
  return g_memdup2 (v, sizeof (double) * (size_t) (n > 0 ? n : 1));
}
