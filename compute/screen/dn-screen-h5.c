/* dn-screen-h5.c: typed HDF5 datasets, string lists, the chunked response matrix and image-stack reads
 * for screening (dn-screen-h5.h). Every entry point takes this module's lock and turns HDF5 failures
 * into DnStatus messages naming the file and the object.
 * SPDX-License-Identifier: MIT
 */
#include "dn-screen-h5.h"

#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct DnSh5
{
  hid_t file;
  char *path;
};

struct DnSh5Stack
{
  DnSh5 *f;
  hid_t dset, space;
  int ndim;
  int64_t shape[8];
  bool is_u8;
};

static pthread_mutex_t sh5_lock = PTHREAD_MUTEX_INITIALIZER;

static void
lock (void)
{
  pthread_mutex_lock (&sh5_lock);
  static bool quiet;
  if (!quiet)
    {
      H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);
      quiet = true;
    }
}

static void
unlock (void)
{
  pthread_mutex_unlock (&sh5_lock);
}

static hid_t
mem_type (DnSh5Type t)
{
  switch (t)
    {
    case DN_SH5_F32:
      return H5T_NATIVE_FLOAT;
    case DN_SH5_F64:
      return H5T_NATIVE_DOUBLE;
    case DN_SH5_I64:
      return H5T_NATIVE_INT64;
    case DN_SH5_I32:
      return H5T_NATIVE_INT32;
    case DN_SH5_U32:
      return H5T_NATIVE_UINT32;
    default:
      return H5T_NATIVE_UINT8;
    }
}

static size_t
type_size (DnSh5Type t)
{
  static const size_t s[] = { 4, 8, 8, 4, 4, 1 };
  return s[t];
}

static DnSh5 *
wrap (hid_t file, const char *path, DnStatus *status)
{
  DnSh5 *f = calloc (1, sizeof *f);
  if (!f || !(f->path = strdup (path)))
    {
      free (f);
      H5Fclose (file);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
      return NULL;
    }
  f->file = file;
  *status = DN_OK;
  return f;
}

DnSh5 *
dn_sh5_create (const char *path, DnStatus *status)
{
  lock ();
  hid_t fcpl = H5Pcreate (H5P_FILE_CREATE);
  H5Pset_link_creation_order (fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t file = H5Fcreate (path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose (fcpl);
  DnSh5 *f = NULL;
  if (file < 0)
    *status = dn_set_error (DN_ERROR_IO, "%s: cannot create the HDF5 file", path);
  else
    f = wrap (file, path, status);
  unlock ();
  return f;
}

DnSh5 *
dn_sh5_open (const char *path, bool write, DnStatus *status)
{
  lock ();
  hid_t file = H5Fis_hdf5 (path) > 0 ? H5Fopen (path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  DnSh5 *f = NULL;
  if (file < 0)
    *status = dn_set_error (DN_ERROR_FORMAT, "%s: missing, unreadable or not an HDF5 file", path);
  else
    f = wrap (file, path, status);
  unlock ();
  return f;
}

DnStatus
dn_sh5_close (DnSh5 *f)
{
  if (!f)
    return DN_OK;
  lock ();
  herr_t e = H5Fclose (f->file);
  unlock ();
  DnStatus st = e < 0 ? dn_set_error (DN_ERROR_IO, "%s: closing failed (disk full?)", f->path) : DN_OK;
  free (f->path);
  free (f);
  return st;
}

static bool
exists_locked (DnSh5 *f, const char *path)
{
  /* every prefix must exist before H5Lexists may be asked about the next component */
  char buf[1024];
  snprintf (buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++)
    {
      if (*p == '/' || *p == 0)
        {
          char c = *p;
          *p = 0;
          if (H5Lexists (f->file, buf, H5P_DEFAULT) <= 0)
            return false;
          *p = c;
          if (!c)
            return true;
        }
    }
}

bool
dn_sh5_exists (DnSh5 *f, const char *path)
{
  lock ();
  bool e = strcmp (path, "/") == 0 || exists_locked (f, path);
  unlock ();
  return e;
}

static hid_t
lcpl (void)
{
  hid_t p = H5Pcreate (H5P_LINK_CREATE);
  H5Pset_create_intermediate_group (p, 1);
  return p;
}

/* Creates dataset @path (replacing one of that name): chunks of about 256 KiB along the first dimension
 * (or @chunk), gzip 4, when @compress and not empty; @fill (NULL = zeros). Returns the dataset or -1. */
static hid_t
create_locked (DnSh5 *f, const char *path, hid_t ftype, int ndim, const int64_t *shape, const hsize_t *chunk,
               bool compress, const void *fill)
{
  hsize_t dims[8] = { 0 }, ch[8] = { 0 };
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      dims[i] = (hsize_t) shape[i];
      n *= shape[i];
    }
  hid_t space = H5Screate_simple (ndim, dims, NULL);
  hid_t dcpl = H5Pcreate (H5P_DATASET_CREATE);
  if (compress && n > 0 && ndim > 0)
    {
      if (chunk)
        memcpy (ch, chunk, (size_t) ndim * sizeof *ch);
      else
        {
          int64_t row = n / shape[0];
          int64_t rows = (int64_t) (262144 / H5Tget_size (ftype)) / (row ? row : 1);
          ch[0] = (hsize_t) (rows < 1 ? 1 : rows > shape[0] ? shape[0] : rows);
          for (int i = 1; i < ndim; i++)
            ch[i] = dims[i];
        }
      H5Pset_chunk (dcpl, ndim, ch);
      H5Pset_deflate (dcpl, 4);
    }
  if (fill)
    H5Pset_fill_value (dcpl, ftype, fill);
  hid_t lp = lcpl ();
  if (exists_locked (f, path))
    H5Ldelete (f->file, path, H5P_DEFAULT);
  hid_t d = H5Dcreate2 (f->file, path, ftype, space, lp, dcpl, H5P_DEFAULT);
  H5Pclose (lp);
  H5Pclose (dcpl);
  H5Sclose (space);
  return d;
}

static DnStatus
write_locked (DnSh5 *f, const char *path, hid_t type, int ndim, const int64_t *shape, const void *data, bool compress)
{
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  hid_t d = create_locked (f, path, type, ndim, shape, NULL, compress, NULL);
  herr_t e = d >= 0 && n > 0 ? H5Dwrite (d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
  if (d >= 0)
    H5Dclose (d);
  if (d < 0 || e < 0)
    return dn_set_error (DN_ERROR_IO, "%s: cannot write %s", f->path, path);
  return DN_OK;
}

/* Reads or writes rows [row0, row0 + nrows) (all of the other dimensions) of dataset @path. */
static DnStatus
rows_io_locked (DnSh5 *f, const char *path, hid_t mtype, int64_t row0, int64_t nrows, void *data, bool write)
{
  hid_t d = exists_locked (f, path) ? H5Dopen2 (f->file, path, H5P_DEFAULT) : -1;
  hid_t fs = d >= 0 ? H5Dget_space (d) : -1;
  int nd = fs >= 0 ? H5Sget_simple_extent_ndims (fs) : -1;
  herr_t e = -1;
  if (nd >= 1 && nd <= 8)
    {
      hsize_t start[8] = { (hsize_t) row0 }, count[8];
      H5Sget_simple_extent_dims (fs, count, NULL);
      count[0] = (hsize_t) nrows;
      hid_t ms = H5Screate_simple (nd, count, NULL);
      if (H5Sselect_hyperslab (fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 && H5Sselect_valid (fs) > 0)
        e = write ? H5Dwrite (d, mtype, ms, fs, H5P_DEFAULT, data) : H5Dread (d, mtype, ms, fs, H5P_DEFAULT, data);
      H5Sclose (ms);
    }
  if (fs >= 0)
    H5Sclose (fs);
  if (d >= 0)
    H5Dclose (d);
  if (e < 0)
    return dn_set_error (write ? DN_ERROR_IO : DN_ERROR_FORMAT, "%s: cannot %s rows %lld..%lld of %s", f->path,
                         write ? "write" : "read", (long long) row0, (long long) (row0 + nrows), path);
  return DN_OK;
}

/* A fixed-length UTF-8 string type of @width bytes (terminator included); H5Tclose it. */
static hid_t
string_type (size_t width)
{
  hid_t t = H5Tcopy (H5T_C_S1);
  H5Tset_size (t, width);
  H5Tset_strpad (t, H5T_STR_NULLTERM);
  H5Tset_cset (t, H5T_CSET_UTF8);
  return t;
}

/* create_locked under the lock, with the error message. */
static DnStatus
create (DnSh5 *f, const char *path, hid_t type, int ndim, const int64_t *shape, const hsize_t *chunk, const void *fill)
{
  lock ();
  hid_t d = create_locked (f, path, type, ndim, shape, chunk, true, fill);
  if (d >= 0)
    H5Dclose (d);
  unlock ();
  return d < 0 ? dn_set_error (DN_ERROR_IO, "%s: cannot create %s", f->path, path) : DN_OK;
}

static DnStatus
write_rows (DnSh5 *f, const char *path, hid_t type, int64_t row0, int64_t nrows, const void *data)
{
  if (nrows <= 0)
    return DN_OK;
  lock ();
  DnStatus st = rows_io_locked (f, path, type, row0, nrows, (void *) data, true);
  unlock ();
  return st;
}

DnStatus
dn_sh5_dataset_create (DnSh5 *f, const char *path, DnSh5Type type, int ndim, const int64_t *shape)
{
  return create (f, path, mem_type (type), ndim, shape, NULL, NULL);
}

DnStatus
dn_sh5_write_rows (DnSh5 *f, const char *path, DnSh5Type type, int64_t row0, int64_t nrows, const void *data)
{
  return write_rows (f, path, mem_type (type), row0, nrows, data);
}

DnStatus
dn_sh5_strings_create (DnSh5 *f, const char *path, int64_t n, size_t width)
{
  hid_t t = string_type (width);
  DnStatus st = create (f, path, t, 1, &n, NULL, NULL);
  H5Tclose (t);
  return st;
}

DnStatus
dn_sh5_write_string_rows (DnSh5 *f, const char *path, int64_t row0, int64_t nrows, size_t width, const char *buf)
{
  hid_t t = string_type (width);
  DnStatus st = write_rows (f, path, t, row0, nrows, buf);
  H5Tclose (t);
  return st;
}

DnStatus
dn_sh5_write (DnSh5 *f, const char *path, DnSh5Type type, int ndim, const int64_t *shape, const void *data,
              bool compress)
{
  lock ();
  DnStatus st = write_locked (f, path, mem_type (type), ndim, shape, data, compress);
  unlock ();
  return st;
}

DnStatus
dn_sh5_read (DnSh5 *f, const char *path, DnSh5Type type, int *ndim, int64_t *shape, void **data)
{
  DnStatus st = DN_OK;
  *data = NULL;
  lock ();
  hid_t d = exists_locked (f, path) ? H5Dopen2 (f->file, path, H5P_DEFAULT) : -1;
  hid_t space = d >= 0 ? H5Dget_space (d) : -1;
  int nd = space >= 0 ? H5Sget_simple_extent_ndims (space) : -1;
  if (d < 0 || nd < 0 || nd > 8)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: no readable dataset %s", f->path, path);
      goto out;
    }
  hsize_t dims[8];
  H5Sget_simple_extent_dims (space, dims, NULL);
  int64_t n = 1;
  for (int i = 0; i < nd; i++)
    {
      shape[i] = (int64_t) dims[i];
      n *= shape[i];
    }
  *ndim = nd;
  if (!(*data = malloc ((size_t) (n ? n : 1) * type_size (type))))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: %s: out of memory", f->path, path);
      goto out;
    }
  if (n > 0 && H5Dread (d, mem_type (type), H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
    {
      free (*data);
      *data = NULL;
      st = dn_set_error (DN_ERROR_FORMAT, "%s: cannot read %s as numbers (corrupt?)", f->path, path);
    }
out:
  if (space >= 0)
    H5Sclose (space);
  if (d >= 0)
    H5Dclose (d);
  unlock ();
  return st;
}

DnStatus
dn_sh5_write_strings (DnSh5 *f, const char *path, const char *const *strings, int64_t n)
{
  if (n < 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: negative count", path);
  size_t width = 1;
  for (int64_t i = 0; i < n; i++)
    {
      size_t l = strlen (strings[i]) + 1;
      width = l > width ? l : width;
    }
  char *buf = calloc ((size_t) (n ? n : 1), width);
  if (!buf)
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
  for (int64_t i = 0; i < n; i++)
    memcpy (buf + (size_t) i * width, strings[i], strlen (strings[i]));
  lock ();
  hid_t t = string_type (width);
  DnStatus st = write_locked (f, path, t, 1, &n, buf, true);
  H5Tclose (t);
  unlock ();
  free (buf);
  return st;
}

void
dn_sh5_strings_free (char **strings, int64_t n)
{
  for (int64_t i = 0; strings && i < n; i++)
    free (strings[i]);
  free (strings);
}

DnStatus
dn_sh5_read_strings (DnSh5 *f, const char *path, char ***strings, int64_t *n)
{
  DnStatus st = DN_OK;
  *strings = NULL;
  *n = 0;
  char *buf = NULL;
  lock ();
  hid_t d = exists_locked (f, path) ? H5Dopen2 (f->file, path, H5P_DEFAULT) : -1;
  hid_t ft = d >= 0 ? H5Dget_type (d) : -1, space = d >= 0 ? H5Dget_space (d) : -1, mt = -1;
  hsize_t dims[1] = { 0 };
  if (d < 0 || ft < 0 || H5Tget_class (ft) != H5T_STRING || H5Tis_variable_str (ft) > 0
      || H5Sget_simple_extent_ndims (space) != 1)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: %s is not a list of fixed-length strings", f->path, path);
      goto out;
    }
  H5Sget_simple_extent_dims (space, dims, NULL);
  size_t width = H5Tget_size (ft);
  mt = H5Tcopy (H5T_C_S1);
  H5Tset_size (mt, width);
  H5Tset_strpad (mt, H5T_STR_NULLTERM);
  H5Tset_cset (mt, H5Tget_cset (ft));
  if (!(buf = calloc (dims[0] ? dims[0] : 1, width + 1)) || !(*strings = calloc (dims[0] ? dims[0] : 1, sizeof (char *))))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
      goto out;
    }
  if (dims[0] && H5Dread (d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: cannot read %s", f->path, path);
      goto out;
    }
  for (hsize_t i = 0; i < dims[0]; i++)
    {
      if (!((*strings)[i] = strndup (buf + i * width, width)))
        {
          st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
          goto out;
        }
      (*n)++;
    }
out:
  if (st != DN_OK)
    {
      dn_sh5_strings_free (*strings, *n);
      *strings = NULL;
      *n = 0;
    }
  if (mt >= 0)
    H5Tclose (mt);
  if (ft >= 0)
    H5Tclose (ft);
  if (space >= 0)
    H5Sclose (space);
  if (d >= 0)
    H5Dclose (d);
  unlock ();
  free (buf);
  return st;
}

/* Attributes ----------------------------------------------------------------------------------------- */

static DnStatus
set_attr (DnSh5 *f, const char *obj, const char *name, hid_t type, const void *value)
{
  lock ();
  hid_t o = H5Oopen (f->file, obj, H5P_DEFAULT);
  if (o >= 0 && H5Aexists (o, name) > 0)
    H5Adelete (o, name);
  hid_t space = H5Screate (H5S_SCALAR);
  hid_t a = o >= 0 ? H5Acreate2 (o, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t e = a >= 0 ? H5Awrite (a, type, value) : -1;
  if (a >= 0)
    H5Aclose (a);
  H5Sclose (space);
  if (o >= 0)
    H5Oclose (o);
  unlock ();
  return e < 0 ? dn_set_error (DN_ERROR_IO, "%s: cannot write attribute %s of %s", f->path, name, obj) : DN_OK;
}

DnStatus
dn_sh5_set_str (DnSh5 *f, const char *obj, const char *name, const char *value)
{
  lock ();
  hid_t t = string_type (strlen (value) + 1);
  unlock ();
  DnStatus st = set_attr (f, obj, name, t, value);
  lock ();
  H5Tclose (t);
  unlock ();
  return st;
}

DnStatus
dn_sh5_set_f64 (DnSh5 *f, const char *obj, const char *name, double value)
{
  return set_attr (f, obj, name, H5T_NATIVE_DOUBLE, &value);
}

DnStatus
dn_sh5_set_i64 (DnSh5 *f, const char *obj, const char *name, int64_t value)
{
  return set_attr (f, obj, name, H5T_NATIVE_INT64, &value);
}

static hid_t
open_attr_locked (DnSh5 *f, const char *obj, const char *name)
{
  if (strcmp (obj, "/") != 0 && !exists_locked (f, obj))
    return -1;
  hid_t o = H5Oopen (f->file, obj, H5P_DEFAULT);
  if (o < 0)
    return -1;
  hid_t a = H5Aexists (o, name) > 0 ? H5Aopen (o, name, H5P_DEFAULT) : -1;
  H5Oclose (o);
  return a;
}

static DnStatus
get_num (DnSh5 *f, const char *obj, const char *name, hid_t type, void *value)
{
  lock ();
  hid_t a = open_attr_locked (f, obj, name);
  herr_t e = a >= 0 ? H5Aread (a, type, value) : -1;
  if (a >= 0)
    H5Aclose (a);
  unlock ();
  return e < 0 ? dn_set_error (DN_ERROR_FORMAT, "%s: no numeric attribute %s on %s", f->path, name, obj) : DN_OK;
}

DnStatus
dn_sh5_get_f64 (DnSh5 *f, const char *obj, const char *name, double *value)
{
  return get_num (f, obj, name, H5T_NATIVE_DOUBLE, value);
}

DnStatus
dn_sh5_get_i64 (DnSh5 *f, const char *obj, const char *name, int64_t *value)
{
  return get_num (f, obj, name, H5T_NATIVE_INT64, value);
}

DnStatus
dn_sh5_get_str (DnSh5 *f, const char *obj, const char *name, char **value)
{
  *value = NULL;
  lock ();
  hid_t a = open_attr_locked (f, obj, name);
  hid_t ft = a >= 0 ? H5Aget_type (a) : -1;
  DnStatus st = DN_OK;
  if (ft < 0 || H5Tget_class (ft) != H5T_STRING)
    st = dn_set_error (DN_ERROR_FORMAT, "%s: no string attribute %s on %s", f->path, name, obj);
  else if (H5Tis_variable_str (ft) > 0)
    {
      char *s = NULL;
      hid_t mt = H5Tcopy (H5T_C_S1);
      H5Tset_size (mt, H5T_VARIABLE);
      H5Tset_cset (mt, H5Tget_cset (ft));
      if (H5Aread (a, mt, &s) < 0 || !s || !(*value = strdup (s)))
        st = dn_set_error (DN_ERROR_FORMAT, "%s: cannot read attribute %s", f->path, name);
      if (s)
        H5free_memory (s);
      H5Tclose (mt);
    }
  else
    {
      size_t n = H5Tget_size (ft);
      hid_t mt = H5Tcopy (H5T_C_S1);
      H5Tset_size (mt, n + 1);
      H5Tset_strpad (mt, H5T_STR_NULLTERM);
      H5Tset_cset (mt, H5Tget_cset (ft));
      if (!(*value = calloc (1, n + 1)) || H5Aread (a, mt, *value) < 0)
        {
          free (*value);
          *value = NULL;
          st = dn_set_error (DN_ERROR_FORMAT, "%s: cannot read attribute %s", f->path, name);
        }
      H5Tclose (mt);
    }
  if (ft >= 0)
    H5Tclose (ft);
  if (a >= 0)
    H5Aclose (a);
  unlock ();
  return st;
}

/* Matrix ------------------------------------------------------------------------------------------- */

DnStatus
dn_sh5_matrix_create (DnSh5 *f, const char *path, int64_t rows, int64_t cols)
{
  hsize_t chunk[2] = { rows < 1024 ? (hsize_t) rows : 1024, cols < 64 ? (hsize_t) cols : 64 };
  float nan = NAN;
  return create (f, path, H5T_NATIVE_FLOAT, 2, (const int64_t[]){ rows, cols }, chunk, &nan);
}

DnStatus
dn_sh5_matrix_read (DnSh5 *f, const char *path, int64_t row0, int64_t nrows, int64_t col0, int64_t ncols, float *data)
{
  if (nrows <= 0 || ncols <= 0)
    return DN_OK;
  lock ();
  hid_t d = exists_locked (f, path) ? H5Dopen2 (f->file, path, H5P_DEFAULT) : -1;
  hid_t fs = d >= 0 ? H5Dget_space (d) : -1;
  hsize_t start[2] = { (hsize_t) row0, (hsize_t) col0 }, count[2] = { (hsize_t) nrows, (hsize_t) ncols };
  hid_t ms = H5Screate_simple (2, count, NULL);
  herr_t e = -1;
  if (fs >= 0 && H5Sget_simple_extent_ndims (fs) == 2
      && H5Sselect_hyperslab (fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 && H5Sselect_valid (fs) > 0)
    e = H5Dread (d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, data);
  H5Sclose (ms);
  if (fs >= 0)
    H5Sclose (fs);
  if (d >= 0)
    H5Dclose (d);
  unlock ();
  if (e < 0)
    return dn_set_error (DN_ERROR_FORMAT, "%s: cannot read rows %lld..%lld of %s", f->path, (long long) row0,
                         (long long) (row0 + nrows), path);
  return DN_OK;
}

/* Image stacks ------------------------------------------------------------------------------------- */

DnSh5Stack *
dn_sh5_stack_open (const char *file, const char *dset, int *ndim, int64_t *shape, bool *is_u8, DnStatus *status)
{
  DnSh5Stack *s = calloc (1, sizeof *s);
  if (!s)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", file);
      return NULL;
    }
  s->dset = s->space = -1;
  if (!(s->f = dn_sh5_open (file, false, status)))
    {
      free (s);
      return NULL;
    }
  lock ();
  s->dset = exists_locked (s->f, dset) ? H5Dopen2 (s->f->file, dset, H5P_DEFAULT) : -1;
  s->space = s->dset >= 0 ? H5Dget_space (s->dset) : -1;
  int nd = s->space >= 0 ? H5Sget_simple_extent_ndims (s->space) : -1;
  hid_t t = s->dset >= 0 ? H5Dget_type (s->dset) : -1;
  H5T_class_t cls = t >= 0 ? H5Tget_class (t) : H5T_NO_CLASS;
  bool ok = nd >= 3 && nd <= 4 && (cls == H5T_INTEGER || cls == H5T_FLOAT);
  if (ok)
    {
      hsize_t dims[8];
      H5Sget_simple_extent_dims (s->space, dims, NULL);
      for (int i = 0; i < nd; i++)
        s->shape[i] = shape[i] = (int64_t) dims[i];
      s->ndim = *ndim = nd;
      s->is_u8 = *is_u8 = cls == H5T_INTEGER && H5Tget_size (t) == 1 && H5Tget_sign (t) == H5T_SGN_NONE;
      if (cls == H5T_INTEGER && !s->is_u8)
        ok = false;
    }
  if (t >= 0)
    H5Tclose (t);
  unlock ();
  if (!ok)
    {
      *status = dn_set_error (DN_ERROR_FORMAT,
                              "%s:%s: not an image stack (want a 3-D or 4-D dataset of uint8 or floats)", file, dset);
      dn_sh5_stack_close (s);
      return NULL;
    }
  *status = DN_OK;
  return s;
}

DnStatus
dn_sh5_stack_read (DnSh5Stack *s, int64_t i, void *buf)
{
  hsize_t start[8] = { (hsize_t) i }, count[8] = { 1 };
  for (int d = 1; d < s->ndim; d++)
    count[d] = (hsize_t) s->shape[d];
  lock ();
  hid_t fs = H5Scopy (s->space);
  hid_t ms = H5Screate_simple (s->ndim, count, NULL);
  herr_t e = H5Sselect_hyperslab (fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (e >= 0)
    e = H5Dread (s->dset, s->is_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf);
  H5Sclose (ms);
  H5Sclose (fs);
  unlock ();
  return e < 0 ? dn_set_error (DN_ERROR_FORMAT, "%s: item %lld cannot be read (corrupt chunk?)", s->f->path, (long long) i)
               : DN_OK;
}

void
dn_sh5_stack_close (DnSh5Stack *s)
{
  if (!s)
    return;
  lock ();
  if (s->space >= 0)
    H5Sclose (s->space);
  if (s->dset >= 0)
    H5Dclose (s->dset);
  unlock ();
  dn_sh5_close (s->f);
  free (s);
}
