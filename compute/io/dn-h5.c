/* dn-h5.c: HDF5 helpers (see dn-h5.h).
 * SPDX-License-Identifier: MIT
 */
#include "dn-h5.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct DnH5
{
  hid_t file;
  char *path;
};

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

static void
lock (void)
{
  pthread_mutex_lock (&h5_lock);
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
  pthread_mutex_unlock (&h5_lock);
}

static DnH5 *
wrap (hid_t file, const char *path, DnStatus *status)
{
  DnH5 *h = calloc (1, sizeof *h);
  if (!h || !(h->path = strdup (path)))
    {
      free (h);
      H5Fclose (file);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
      return NULL;
    }
  h->file = file;
  *status = DN_OK;
  return h;
}

DnH5 *
dn_h5_open (const char *path, bool write, DnStatus *status)
{
  lock ();
  hid_t f = -1;
  htri_t is = H5Fis_hdf5 (path);
  if (is > 0)
    f = H5Fopen (path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  DnH5 *h = NULL;
  if (f < 0)
    {
      FILE *fp = fopen (path, "rb");
      if (!fp)
        *status = dn_set_error (DN_ERROR_IO, "%s: cannot open (no such file or not readable)", path);
      else
        {
          fclose (fp);
          *status = dn_set_error (DN_ERROR_FORMAT, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
        }
    }
  else
    h = wrap (f, path, status);
  unlock ();
  return h;
}

DnH5 *
dn_h5_create (const char *path, DnStatus *status)
{
  lock ();
  DnH5 *h = NULL;
  hid_t f = H5Fcreate (path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0)
    *status = dn_set_error (DN_ERROR_IO, "%s: cannot create the HDF5 file", path);
  else
    h = wrap (f, path, status);
  unlock ();
  return h;
}

DnStatus
dn_h5_close (DnH5 *h)
{
  if (!h)
    return DN_OK;
  lock ();
  herr_t r = H5Fclose (h->file);
  unlock ();
  DnStatus st = r < 0 ? dn_set_error (DN_ERROR_IO, "%s: closing failed", h->path) : DN_OK;
  free (h->path);
  free (h);
  return st;
}

const char *
dn_h5_path (const DnH5 *h)
{
  return h->path;
}

/* H5Lexists on every prefix of an absolute or relative path. Caller holds the lock. */
static bool
exists_locked (DnH5 *h, const char *path)
{
  char buf[1024];
  size_t n = strlen (path);
  if (n == 0 || n >= sizeof buf)
    return false;
  if (strcmp (path, "/") == 0)
    return true;
  memcpy (buf, path, n + 1);
  for (size_t i = 1; i <= n; i++)
    if (buf[i] == '/' || buf[i] == '\0')
      {
        char c = buf[i];
        buf[i] = '\0';
        if (H5Lexists (h->file, buf, H5P_DEFAULT) <= 0)
          return false;
        buf[i] = c;
      }
  return true;
}

bool
dn_h5_exists (DnH5 *h, const char *path)
{
  lock ();
  bool e = exists_locked (h, path);
  unlock ();
  return e;
}

static DnStatus
read_numeric (DnH5 *h, const char *path, hid_t memtype, size_t elsize, void **data, int *ndim, int64_t *shape)
{
  *data = NULL;
  lock ();
  DnStatus st = DN_OK;
  hid_t d = -1, s = -1, t = -1;
  if (!exists_locked (h, path) || (d = H5Dopen2 (h->file, path, H5P_DEFAULT)) < 0)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: no dataset '%s'", h->path, path);
      goto out;
    }
  t = H5Dget_type (d);
  H5T_class_t cls = H5Tget_class (t);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: dataset '%s' is not numeric", h->path, path);
      goto out;
    }
  s = H5Dget_space (d);
  int nd = H5Sget_simple_extent_ndims (s);
  if (nd < 0 || nd > DN_H5_MAX_DIMS)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: dataset '%s' has %d dimensions", h->path, path, nd);
      goto out;
    }
  hsize_t dims[DN_H5_MAX_DIMS];
  H5Sget_simple_extent_dims (s, dims, NULL);
  size_t n = 1;
  for (int i = 0; i < nd; i++)
    {
      shape[i] = (int64_t) dims[i];
      n *= dims[i];
    }
  *ndim = nd;
  *data = malloc ((n ? n : 1) * elsize);
  if (!*data)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: dataset '%s': out of memory", h->path, path);
      goto out;
    }
  if (n && H5Dread (d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
    {
      free (*data);
      *data = NULL;
      st = dn_set_error (DN_ERROR_FORMAT, "%s: dataset '%s' cannot be read (truncated or corrupt?)", h->path, path);
    }
out:
  if (s >= 0)
    H5Sclose (s);
  if (t >= 0)
    H5Tclose (t);
  if (d >= 0)
    H5Dclose (d);
  unlock ();
  return st;
}

DnStatus
dn_h5_read_f32 (DnH5 *h, const char *path, float **data, int *ndim, int64_t *shape)
{
  return read_numeric (h, path, H5T_NATIVE_FLOAT, sizeof (float), (void **) data, ndim, shape);
}

DnStatus
dn_h5_read_f64 (DnH5 *h, const char *path, double **data, int *ndim, int64_t *shape)
{
  return read_numeric (h, path, H5T_NATIVE_DOUBLE, sizeof (double), (void **) data, ndim, shape);
}

static hid_t
open_attr_locked (DnH5 *h, const char *obj, const char *name)
{
  if (!exists_locked (h, obj) || H5Aexists_by_name (h->file, obj, name, H5P_DEFAULT) <= 0)
    return -1;
  return H5Aopen_by_name (h->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
}

DnStatus
dn_h5_read_attr_f64 (DnH5 *h, const char *obj, const char *name, double *value)
{
  lock ();
  DnStatus st = DN_OK;
  hid_t a = open_attr_locked (h, obj, name);
  if (a < 0 || H5Aread (a, H5T_NATIVE_DOUBLE, value) < 0)
    st = dn_set_error (DN_ERROR_FORMAT, "%s: no numeric attribute '%s' on '%s'", h->path, name, obj);
  if (a >= 0)
    H5Aclose (a);
  unlock ();
  return st;
}

DnStatus
dn_h5_read_attr_str (DnH5 *h, const char *obj, const char *name, char **value)
{
  *value = NULL;
  lock ();
  DnStatus st = DN_OK;
  hid_t a = open_attr_locked (h, obj, name), t = -1, mt = -1;
  if (a < 0 || (t = H5Aget_type (a)) < 0 || H5Tget_class (t) != H5T_STRING)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: no string attribute '%s' on '%s'", h->path, name, obj);
      goto out;
    }
  if (H5Tis_variable_str (t) > 0)
    {
      char *s = NULL;
      mt = H5Tcopy (H5T_C_S1);
      H5Tset_size (mt, H5T_VARIABLE);
      H5Tset_cset (mt, H5Tget_cset (t));
      if (H5Aread (a, mt, &s) < 0 || !s)
        st = dn_set_error (DN_ERROR_FORMAT, "%s: attribute '%s' on '%s' cannot be read", h->path, name, obj);
      else
        {
          *value = strdup (s);
          H5free_memory (s);
        }
    }
  else
    {
      size_t n = H5Tget_size (t);
      char *s = calloc (1, n + 1);
      mt = H5Tcopy (H5T_C_S1);
      H5Tset_size (mt, n + 1);
      H5Tset_cset (mt, H5Tget_cset (t));
      if (!s || H5Aread (a, mt, s) < 0)
        {
          free (s);
          st = dn_set_error (DN_ERROR_FORMAT, "%s: attribute '%s' on '%s' cannot be read", h->path, name, obj);
        }
      else
        *value = s;
    }
out:
  if (mt >= 0)
    H5Tclose (mt);
  if (t >= 0)
    H5Tclose (t);
  if (a >= 0)
    H5Aclose (a);
  unlock ();
  return st;
}

/* Creates every missing group on the way to (but not including) the last component. */
static DnStatus
make_parents_locked (DnH5 *h, const char *path, bool include_last)
{
  char buf[1024];
  size_t n = strlen (path);
  if (strcmp (path, "/") == 0)
    return DN_OK;
  if (n >= sizeof buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: path too long", h->path);
  memcpy (buf, path, n + 1);
  for (size_t i = 1; i <= n; i++)
    if (buf[i] == '/' || (include_last && buf[i] == '\0'))
      {
        char c = buf[i];
        buf[i] = '\0';
        if (H5Lexists (h->file, buf, H5P_DEFAULT) <= 0)
          {
            /* track creation order, so that listings keep e.g. a state dict's key order */
            hid_t gcpl = H5Pcreate (H5P_GROUP_CREATE);
            H5Pset_link_creation_order (gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
            hid_t g = H5Gcreate2 (h->file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose (gcpl);
            if (g < 0)
              return dn_set_error (DN_ERROR_IO, "%s: cannot create group '%s'", h->path, buf);
            H5Gclose (g);
          }
        buf[i] = c;
      }
  return DN_OK;
}

DnStatus
dn_h5_create_group (DnH5 *h, const char *path)
{
  lock ();
  DnStatus st = make_parents_locked (h, path, true);
  unlock ();
  return st;
}

static DnStatus
write_numeric (DnH5 *h, const char *path, hid_t file_type, hid_t mem_type, const void *data, int ndim,
               const int64_t *shape, bool compress)
{
  lock ();
  DnStatus st = make_parents_locked (h, path, false);
  hid_t s = -1, p = -1, d = -1;
  if (st != DN_OK)
    goto out;
  hsize_t dims[DN_H5_MAX_DIMS], chunk[DN_H5_MAX_DIMS];
  hsize_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      dims[i] = (hsize_t) shape[i];
      n *= dims[i];
    }
  s = H5Screate_simple (ndim, dims, NULL);
  p = H5Pcreate (H5P_DATASET_CREATE);
  if (compress && n > 0 && ndim > 0)
    {
      /* chunks of whole trailing rows, about 256 KiB */
      hsize_t rest = 1;
      for (int i = ndim - 1; i >= 0; i--)
        {
          chunk[i] = dims[i];
          if (i < ndim - 1 && rest * dims[i] > 65536)
            chunk[i] = (65536 / rest) ? 65536 / rest : 1;
          rest *= chunk[i];
        }
      H5Pset_chunk (p, ndim, chunk);
      H5Pset_deflate (p, 4);
    }
  if (H5Lexists (h->file, path, H5P_DEFAULT) > 0)
    H5Ldelete (h->file, path, H5P_DEFAULT);
  d = H5Dcreate2 (h->file, path, file_type, s, H5P_DEFAULT, p, H5P_DEFAULT);
  if (d < 0 || (n > 0 && H5Dwrite (d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
    st = dn_set_error (DN_ERROR_IO, "%s: cannot write dataset '%s'", h->path, path);
out:
  if (d >= 0)
    H5Dclose (d);
  if (p >= 0)
    H5Pclose (p);
  if (s >= 0)
    H5Sclose (s);
  unlock ();
  return st;
}

DnStatus
dn_h5_write_f32 (DnH5 *h, const char *path, const float *data, int ndim, const int64_t *shape, bool compress)
{
  return write_numeric (h, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, ndim, shape, compress);
}

DnStatus
dn_h5_write_f64 (DnH5 *h, const char *path, const double *data, int ndim, const int64_t *shape, bool compress)
{
  return write_numeric (h, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, ndim, shape, compress);
}

DnStatus
dn_h5_write_i64 (DnH5 *h, const char *path, const int64_t *data, int ndim, const int64_t *shape, bool compress)
{
  return write_numeric (h, path, H5T_STD_I64LE, H5T_NATIVE_INT64, data, ndim, shape, compress);
}

DnStatus
dn_h5_read_i64 (DnH5 *h, const char *path, int64_t **data, int *ndim, int64_t *shape)
{
  return read_numeric (h, path, H5T_NATIVE_INT64, sizeof (int64_t), (void **) data, ndim, shape);
}

static DnStatus
write_attr_locked (DnH5 *h, const char *obj, const char *name, hid_t type, const void *value)
{
  hid_t s = H5Screate (H5S_SCALAR);
  if (H5Aexists_by_name (h->file, obj, name, H5P_DEFAULT) > 0)
    H5Adelete_by_name (h->file, obj, name, H5P_DEFAULT);
  hid_t a = H5Acreate_by_name (h->file, obj, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  DnStatus st = DN_OK;
  if (a < 0 || H5Awrite (a, type, value) < 0)
    st = dn_set_error (DN_ERROR_IO, "%s: cannot write attribute '%s' on '%s'", h->path, name, obj);
  if (a >= 0)
    H5Aclose (a);
  H5Sclose (s);
  return st;
}

DnStatus
dn_h5_write_attr_f64 (DnH5 *h, const char *obj, const char *name, double value)
{
  lock ();
  DnStatus st = make_parents_locked (h, obj, true);
  if (st == DN_OK)
    st = write_attr_locked (h, obj, name, H5T_NATIVE_DOUBLE, &value);
  unlock ();
  return st;
}

DnStatus
dn_h5_write_attr_str (DnH5 *h, const char *obj, const char *name, const char *value)
{
  lock ();
  DnStatus st = make_parents_locked (h, obj, true);
  if (st == DN_OK)
    {
      hid_t t = H5Tcopy (H5T_C_S1);
      H5Tset_size (t, H5T_VARIABLE);
      H5Tset_cset (t, H5T_CSET_UTF8);
      st = write_attr_locked (h, obj, name, t, &value);
      H5Tclose (t);
    }
  unlock ();
  return st;
}

DnStatus
dn_h5_flush (DnH5 *h)
{
  lock ();
  herr_t r = H5Fflush (h->file, H5F_SCOPE_GLOBAL);
  unlock ();
  return r < 0 ? dn_set_error (DN_ERROR_IO, "%s: flush failed", h->path) : DN_OK;
}

typedef struct
{
  char **v;
  int n, cap;
  bool oom;
} NameList;

static herr_t
collect_name (hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  NameList *l = data;
  if (l->n == l->cap)
    {
      int cap = l->cap ? 2 * l->cap : 32;
      char **v = realloc (l->v, (size_t) cap * sizeof *v);
      if (!v)
        {
          l->oom = true;
          return -1;
        }
      l->v = v;
      l->cap = cap;
    }
  if (!(l->v[l->n] = strdup (name)))
    {
      l->oom = true;
      return -1;
    }
  l->n++;
  return 0;
}

int
dn_h5_list (DnH5 *h, const char *path, char ***names, DnStatus *status)
{
  *names = NULL;
  lock ();
  NameList l = { 0 };
  hid_t g = exists_locked (h, path) ? H5Gopen2 (h->file, path, H5P_DEFAULT) : -1;
  *status = DN_OK;
  if (g < 0)
    *status = dn_set_error (DN_ERROR_FORMAT, "%s: no group '%s'", h->path, path);
  else
    {
      hid_t cpl = H5Gget_create_plist (g);
      unsigned flags = 0;
      H5Pget_link_creation_order (cpl, &flags);
      H5Pclose (cpl);
      H5_index_t idx = (flags & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
      if (H5Literate (g, idx, H5_ITER_INC, NULL, collect_name, &l) < 0)
        *status = dn_set_error (l.oom ? DN_ERROR_NO_MEMORY : DN_ERROR_FORMAT, "%s: cannot list group '%s'", h->path, path);
      H5Gclose (g);
    }
  unlock ();
  if (*status != DN_OK)
    {
      for (int i = 0; i < l.n; i++)
        free (l.v[i]);
      free (l.v);
      return -1;
    }
  *names = l.v;
  return l.n;
}
