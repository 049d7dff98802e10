/* dn-dataset.c: opening datasets (dn-dataset.h): folders (recursive listing, sorting, class labels),
 * HDF5 and .npy image stacks (one item read at a time), built-in sets (dn-dataset-builtin.c), item ids
 * and the identity hash.
 * SPDX-License-Identifier: MIT
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dn-screen-private.h"

void
dn_dataset_options_init (DnDatasetOptions *opts)
{
  memset (opts, 0, sizeof *opts);
}

void
dn_dataset_free (DnDataset *ds)
{
  if (!ds)
    return;
  for (int64_t i = 0; ds->paths && i < ds->count; i++)
    free (ds->paths[i]);
  free (ds->paths);
  for (int i = 0; i < ds->n_labels; i++)
    free (ds->label_names[i]);
  free (ds->label_names);
  free (ds->labels);
  free (ds->root);
  dn_sh5_stack_close (ds->h5);
  if (ds->fd >= 0)
    close (ds->fd);
  free (ds->spec);
  free (ds);
}

/* Folders ----------------------------------------------------------------------------------------- */

typedef struct
{
  char **v;
  int64_t n, cap;
} StrList;

static bool
strlist_push (StrList *l, char *s)
{
  if (!s)
    return false;
  if (l->n == l->cap)
    {
      int64_t cap = l->cap ? 2 * l->cap : 256;
      char **v = realloc (l->v, (size_t) cap * sizeof *v);
      if (!v)
        {
          free (s);
          return false;
        }
      l->v = v;
      l->cap = cap;
    }
  l->v[l->n++] = s;
  return true;
}

static bool
is_image_name (const char *name)
{
  const char *dot = strrchr (name, '.');
  if (!dot)
    return false;
  return strcasecmp (dot, ".png") == 0 || strcasecmp (dot, ".jpg") == 0 || strcasecmp (dot, ".jpeg") == 0;
}

/* Lists image files under root/rel (hidden entries skipped; symlinked folders followed to depth 32). */
static DnStatus
scan (const char *root, const char *rel, int depth, StrList *out)
{
  char dir[4096];
  snprintf (dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir (dir);
  if (!d)
    return depth == 0 ? dn_set_error (DN_ERROR_IO, "%s: %s", dir, strerror (errno)) : DN_OK;
  DnStatus st = DN_OK;
  struct dirent *e;
  while (st == DN_OK && (e = readdir (d)))
    {
      if (e->d_name[0] == '.')
        continue;
      char relp[4096], full[8192];
      snprintf (relp, sizeof relp, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
      snprintf (full, sizeof full, "%s/%s", root, relp);
      struct stat sb;
      if (stat (full, &sb) != 0)
        {
          /* a dangling link or an unreadable entry: an image name is still an item (reported later) */
          if (is_image_name (e->d_name) && !strlist_push (out, strdup (relp)))
            st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", root);
          continue;
        }
      if (S_ISDIR (sb.st_mode))
        {
          if (depth < 32)
            st = scan (root, relp, depth + 1, out);
        }
      else if (is_image_name (e->d_name) && !strlist_push (out, strdup (relp)))
        st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", root);
    }
  closedir (d);
  return st;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static DnStatus
open_folder (DnDataset *ds, const char *path)
{
  StrList l = { 0 };
  size_t len = strlen (path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  if (!(ds->root = strndup (path, len)))
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  DnStatus st = scan (ds->root, "", 0, &l);
  if (st != DN_OK)
    {
      for (int64_t i = 0; i < l.n; i++)
        free (l.v[i]);
      free (l.v);
      return st;
    }
  qsort (l.v, (size_t) l.n, sizeof *l.v, cmp_str);
  ds->paths = l.v;
  ds->count = l.n;
  /* classes: the distinct first components of paths in sub-folders, sorted (paths are sorted, so the
     class names come in order) */
  if (!(ds->labels = malloc ((size_t) (l.n ? l.n : 1) * sizeof *ds->labels))
      || !(ds->label_names = calloc ((size_t) (l.n ? l.n : 1), sizeof *ds->label_names)))
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
  for (int64_t i = 0; i < l.n; i++)
    {
      const char *slash = strchr (l.v[i], '/');
      ds->labels[i] = -1;
      if (!slash)
        continue;
      size_t cl = (size_t) (slash - l.v[i]);
      int last = ds->n_labels - 1;
      if (last < 0 || strlen (ds->label_names[last]) != cl || strncmp (ds->label_names[last], l.v[i], cl) != 0)
        {
          if (!(ds->label_names[ds->n_labels] = strndup (l.v[i], cl)))
            return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
          ds->n_labels++;
        }
      ds->labels[i] = ds->n_labels - 1;
    }
  return DN_OK;
}

/* Stacks ------------------------------------------------------------------------------------------ */

/* The item layout of a (N,H,W), (N,C,H,W) or (N,H,W,C) stack. */
static DnStatus
stack_layout (DnDataset *ds, int ndim, const int64_t *shape)
{
  if (ndim == 3)
    {
      ds->h = (int) shape[1];
      ds->w = (int) shape[2];
      ds->c = 1;
    }
  else if (ndim == 4 && (shape[1] == 1 || shape[1] == 3))
    {
      ds->c = (int) shape[1];
      ds->h = (int) shape[2];
      ds->w = (int) shape[3];
    }
  else if (ndim == 4 && (shape[3] == 1 || shape[3] == 3))
    {
      ds->h = (int) shape[1];
      ds->w = (int) shape[2];
      ds->c = (int) shape[3];
      ds->channels_last = true;
    }
  else
    return dn_set_error (DN_ERROR_SHAPE, "%s: an image stack is (N,H,W), (N,C,H,W) or (N,H,W,C) with C = 1 or 3",
                         ds->spec);
  if (ds->h < 1 || ds->w < 1 || (int64_t) ds->h * ds->w > ds->max_pixels)
    return dn_set_error (DN_ERROR_SHAPE, "%s: images of %dx%d pixels are not supported", ds->spec, ds->h, ds->w);
  ds->count = shape[0];
  return DN_OK;
}

static DnStatus
open_h5 (DnDataset *ds, const char *spec, const char *sep)
{
  char *file = strndup (spec, (size_t) (sep - spec));
  if (!file)
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  int ndim = 0;
  int64_t shape[8];
  DnStatus st;
  ds->h5 = dn_sh5_stack_open (file, sep + 1, &ndim, shape, &ds->is_u8, &st);
  free (file);
  return ds->h5 ? stack_layout (ds, ndim, shape) : st;
}

/* The few header fields of a .npy file that a stack needs. */
static DnStatus
parse_npy_header (DnDataset *ds, const char *h)
{
  const char *d = strstr (h, "'descr'"), *f = strstr (h, "'fortran_order'"), *s = strstr (h, "'shape'");
  if (!d || !f || !s)
    return dn_set_error (DN_ERROR_FORMAT, "%s: not a .npy header", ds->spec);
  d = strchr (d + 7, '\'');
  if (!d)
    return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy descr", ds->spec);
  d++;
  if (strncmp (d, "|u1'", 4) == 0 || strncmp (d, "<u1'", 4) == 0)
    ds->npy_elsize = 1;
  else if (strncmp (d, "<f4'", 4) == 0)
    ds->npy_elsize = 4;
  else if (strncmp (d, "<f8'", 4) == 0)
    ds->npy_elsize = 8;
  else
    return dn_set_error (DN_ERROR_UNSUPPORTED, "%s: image stacks must be uint8, float32 or float64 (little-endian)",
                         ds->spec);
  ds->is_u8 = ds->npy_elsize == 1;
  f = strchr (f + 15, ':');
  if (!f)
    return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy header", ds->spec);
  while (*++f == ' ')
    ;
  if (strncmp (f, "False", 5) != 0)
    return dn_set_error (DN_ERROR_UNSUPPORTED, "%s: Fortran-ordered stacks are not supported", ds->spec);
  s = strchr (s, '(');
  if (!s)
    return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy shape", ds->spec);
  int64_t shape[8];
  int nd = 0;
  s++;
  while (*s && *s != ')')
    {
      char *end;
      long long v = strtoll (s, &end, 10);
      if (end == s)
        {
          s++;
          continue;
        }
      if (nd == 8 || v < 0)
        return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy shape", ds->spec);
      shape[nd++] = v;
      s = end;
    }
  return stack_layout (ds, nd, shape);
}

static DnStatus
open_npy (DnDataset *ds, const char *path)
{
  if ((ds->fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    return dn_set_error (DN_ERROR_IO, "%s: %s", path, strerror (errno));
  uint8_t pre[12];
  if (pread (ds->fd, pre, sizeof pre, 0) != (ssize_t) sizeof pre || memcmp (pre, "\x93NUMPY", 6) != 0)
    return dn_set_error (DN_ERROR_FORMAT, "%s: not a .npy file", path);
  int64_t hlen = pre[6] == 1 ? (pre[8] | pre[9] << 8) : (int64_t) (pre[8] | pre[9] << 8 | pre[10] << 16 | (uint32_t) pre[11] << 24);
  int64_t hoff = pre[6] == 1 ? 10 : 12;
  if (hlen <= 0 || hlen > 1 << 20)
    return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy header length", path);
  char *h = calloc (1, (size_t) hlen + 1);
  if (!h)
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  DnStatus st = pread (ds->fd, h, (size_t) hlen, hoff) == hlen ? parse_npy_header (ds, h)
                                                                  : dn_set_error (DN_ERROR_FORMAT, "%s: truncated header", path);
  free (h);
  if (st != DN_OK)
    return st;
  ds->data_offset = hoff + hlen;
  struct stat sb;
  int64_t need = ds->data_offset + ds->count * (int64_t) ds->h * ds->w * ds->c * ds->npy_elsize;
  if (fstat (ds->fd, &sb) != 0 || (int64_t) sb.st_size < need)
    return dn_set_error (DN_ERROR_FORMAT, "%s: truncated (%lld bytes, the header needs %lld)", path,
                         (long long) sb.st_size, (long long) need);
  return DN_OK;
}

/* Opening --------------------------------------------------------------------------------------------- */

static void
hash_update (uint64_t *h, const char *s)
{
  for (; *s; s++)
    {
      *h ^= (uint8_t) *s;
      *h *= 0x100000001b3ULL;
    }
  *h ^= '\n';
  *h *= 0x100000001b3ULL;
}

static void
compute_hash (DnDataset *ds)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  char buf[512];
  if (ds->kind == DN_DATASET_H5 || ds->kind == DN_DATASET_NPY)
    {
      snprintf (buf, sizeof buf, "%s stack %lldx%dx%dx%d %s", dn_dataset_kind_name (ds), (long long) ds->count, ds->c,
                ds->h, ds->w, ds->is_u8 ? "uint8" : "float");
      hash_update (&h, buf);
    }
  for (int64_t i = 0; i < ds->count; i++)
    hash_update (&h, dn_dataset_item_id (ds, i, buf, sizeof buf));
  snprintf (ds->hash, sizeof ds->hash, "%016llx", (unsigned long long) h);
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcasecmp (s + a - b, suffix) == 0;
}

DnDataset *
dn_dataset_open (const char *spec, const DnDatasetOptions *opts, DnStatus *status)
{
  DnDatasetOptions defaults;
  if (!opts)
    {
      dn_dataset_options_init (&defaults);
      opts = &defaults;
    }
  DnDataset *ds = calloc (1, sizeof *ds);
  if (!ds || !(ds->spec = strdup (spec)))
    {
      free (ds);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      return NULL;
    }
  ds->fd = -1;
  ds->max_pixels = opts->max_pixels > 0 ? opts->max_pixels : DN_IMAGE_DEFAULT_MAX_PIXELS;
  const char *h5sep = strstr (spec, ".h5:");
  if (!h5sep)
    h5sep = strstr (spec, ".hdf5:");
  struct stat sb;
  DnStatus st;
  if (strncmp (spec, "builtin:", 8) == 0)
    {
      ds->kind = DN_DATASET_BUILTIN;
      st = dn_builtin_init (&ds->builtin, spec + 8, opts->builtin_size > 0 ? opts->builtin_size : 93);
      ds->count = ds->builtin.count;
    }
  else if (h5sep)
    {
      ds->kind = DN_DATASET_H5;
      st = open_h5 (ds, spec, strchr (h5sep, ':'));
    }
  else if (has_suffix (spec, ".npy"))
    {
      ds->kind = DN_DATASET_NPY;
      st = open_npy (ds, spec);
    }
  else if (stat (spec, &sb) == 0 && S_ISDIR (sb.st_mode))
    {
      ds->kind = DN_DATASET_FOLDER;
      st = open_folder (ds, spec);
    }
  else
    st = dn_set_error (DN_ERROR_IO,
                       "%s: not a folder, FILE.h5:/dataset, .npy file or builtin:gratings|plaids|noise|shapes", spec);
  if (st != DN_OK)
    {
      dn_dataset_free (ds);
      *status = st;
      return NULL;
    }
  compute_hash (ds);
  *status = DN_OK;
  return ds;
}

/* Accessors --------------------------------------------------------------------------------------- */

DnDatasetKind
dn_dataset_kind (const DnDataset *ds)
{
  return ds->kind;
}

const char *
dn_dataset_kind_name (const DnDataset *ds)
{
  switch (ds->kind)
    {
    case DN_DATASET_FOLDER:
      return "folder";
    case DN_DATASET_H5:
      return "hdf5";
    case DN_DATASET_NPY:
      return "npy";
    default:
      return "builtin";
    }
}

const char *
dn_dataset_spec (const DnDataset *ds)
{
  return ds->spec;
}

int64_t
dn_dataset_count (const DnDataset *ds)
{
  return ds->count;
}

const char *
dn_dataset_hash (const DnDataset *ds)
{
  return ds->hash;
}

bool
dn_dataset_is_model_space (const DnDataset *ds)
{
  return ds->kind == DN_DATASET_BUILTIN;
}

const char *
dn_dataset_item_id (const DnDataset *ds, int64_t i, char *buf, size_t size)
{
  if (i < 0 || i >= ds->count)
    snprintf (buf, size, "?");
  else if (ds->kind == DN_DATASET_FOLDER)
    snprintf (buf, size, "%s", ds->paths[i]);
  else if (ds->kind == DN_DATASET_BUILTIN)
    {
      double p[DN_BUILTIN_MAX_PARAMS];
      const DnBuiltin *b = &ds->builtin;
      b->params (b, i, p);
      int n = snprintf (buf, size, "%s/", b->name);
      for (int j = 0; j < b->n_params && n >= 0 && (size_t) n < size; j++)
        n += snprintf (buf + n, size - (size_t) n, "%s%s=%.6g", j ? "," : "", b->param_names[j], p[j]);
    }
  else
    snprintf (buf, size, "%lld", (long long) i);
  return buf;
}

int
dn_dataset_item_label (const DnDataset *ds, int64_t i)
{
  return ds->labels && i >= 0 && i < ds->count ? ds->labels[i] : -1;
}

int
dn_dataset_n_labels (const DnDataset *ds)
{
  return ds->n_labels;
}

const char *
dn_dataset_label_name (const DnDataset *ds, int label)
{
  return label >= 0 && label < ds->n_labels ? ds->label_names[label] : NULL;
}

int
dn_dataset_n_params (const DnDataset *ds)
{
  return ds->kind == DN_DATASET_BUILTIN ? ds->builtin.n_params : 0;
}

const char *
dn_dataset_param_name (const DnDataset *ds, int j)
{
  return ds->kind == DN_DATASET_BUILTIN && j >= 0 && j < ds->builtin.n_params ? ds->builtin.param_names[j] : NULL;
}

void
dn_dataset_item_params (const DnDataset *ds, int64_t i, double *params)
{
  if (ds->kind == DN_DATASET_BUILTIN)
    ds->builtin.params (&ds->builtin, i, params);
}

/* Loading ------------------------------------------------------------------------------------------- */

/* (C,H,W) or (H,W,C) raw values (uint8, float32 or float64) → an (H,W,C) image. */
static void
raw_to_image (const DnDataset *ds, const void *raw, int elsize, DnImage *img)
{
  size_t P = (size_t) ds->h * ds->w;
  for (size_t p = 0; p < P; p++)
    for (int c = 0; c < ds->c; c++)
      {
        size_t s = ds->channels_last ? p * ds->c + c : c * P + p, d = p * ds->c + c;
        if (elsize == 1)
          ((uint8_t *) img->pixels)[d] = ((const uint8_t *) raw)[s];
        else if (elsize == 4)
          ((float *) img->pixels)[d] = ((const float *) raw)[s];
        else
          ((float *) img->pixels)[d] = (float) ((const double *) raw)[s];
      }
}

DnStatus
dn_dataset_load (DnDataset *ds, int64_t i, DnImage *out)
{
  memset (out, 0, sizeof *out);
  if (i < 0 || i >= ds->count)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: item %lld out of range", ds->spec, (long long) i);
  if (ds->kind == DN_DATASET_FOLDER)
    {
      size_t n = strlen (ds->root) + strlen (ds->paths[i]) + 2;
      char *path = malloc (n);
      if (!path)
        return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      snprintf (path, n, "%s/%s", ds->root, ds->paths[i]);
      DnStatus st = dn_image_load (path, ds->max_pixels, out);
      free (path);
      return st;
    }
  if (ds->kind == DN_DATASET_BUILTIN)
    {
      const DnBuiltin *b = &ds->builtin;
      DnStatus st = dn_image_alloc (out, b->size, b->size, 1, DN_PIXEL_F32);
      if (st != DN_OK)
        return st;
      double p[DN_BUILTIN_MAX_PARAMS];
      b->params (b, i, p);
      b->render (b, p, i, out->pixels);
      return DN_OK;
    }
  DnStatus st = dn_image_alloc (out, ds->w, ds->h, ds->c, ds->is_u8 ? DN_PIXEL_U8 : DN_PIXEL_F32);
  if (st != DN_OK)
    return st;
  size_t n = (size_t) ds->h * ds->w * ds->c;
  int elsize = ds->kind == DN_DATASET_H5 ? (ds->is_u8 ? 1 : 4) : ds->npy_elsize;
  void *raw = malloc (n * (size_t) elsize);
  if (!raw)
    st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  else if (ds->kind == DN_DATASET_H5)
    st = dn_sh5_stack_read (ds->h5, i, raw);
  else if (pread (ds->fd, raw, n * (size_t) elsize, ds->data_offset + i * (int64_t) (n * (size_t) elsize))
           != (ssize_t) (n * (size_t) elsize))
    st = dn_set_error (DN_ERROR_IO, "%s: item %lld cannot be read", ds->spec, (long long) i);
  if (st == DN_OK)
    raw_to_image (ds, raw, elsize, out);
  else
    dn_image_clear (out);
  free (raw);
  return st;
}
