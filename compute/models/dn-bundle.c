/* dn-bundle.c: twin sources (checkpoint folders) and twin bundles (one HDF5 file); see dn-bundle.h.
 * SPDX-License-Identifier: MIT
 */
#include "dn-bundle.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dn-device-private.h"
#include "dn-h5.h"
#include "dn-npy.h"
#include "dn-twin-load.h"
#include "dn-twin-private.h"

#define BUNDLE_FORMAT "dualneuron-twin-bundle"

void
dn_twin_source_clear (DnTwinSource *src)
{
  for (int i = 0; i < src->n_members; i++)
    dn_weight_set_free (src->members[i]);
  free (src->members);
  free (src->name);
  free (src->mask);
  free (src->correlations);
  free (src->prior);
  memset (src, 0, sizeof *src);
}

/* Loads an optional .npy beside the checkpoints as float32. Missing is fine; unreadable is an error. */
static DnStatus
load_npy_opt (const char *folder, const char *name, float **data, int *ndim, int64_t *shape, int max_dims)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", folder, name);
  if (access (path, F_OK) != 0)
    return DN_OK;
  DnNpyArray *a = NULL;
  DN_TRY (dn_npy_load (path, DN_NPY_FLOAT32, &a));
  if (a->ndim > max_dims)
    {
      int nd = a->ndim;
      dn_npy_array_free (a);
      return dn_set_error (DN_ERROR_SHAPE, "%s: %d dimensions, at most %d expected", path, nd, max_dims);
    }
  *data = malloc ((size_t) (a->numel > 0 ? a->numel : 1) * sizeof (float));
  if (!*data)
    {
      dn_npy_array_free (a);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
    }
  memcpy (*data, a->data, (size_t) a->numel * sizeof (float));
  *ndim = a->ndim;
  for (int i = 0; i < a->ndim; i++)
    shape[i] = a->shape[i];
  dn_npy_array_free (a);
  return DN_OK;
}

static DnStatus
load_extras (const char *folder, DnTwinSource *src)
{
  int nd;
  int64_t sh[4];
  DN_TRY (load_npy_opt (folder, "mask.npy", &src->mask, &nd, sh, 2));
  if (src->mask)
    {
      if (nd != 2)
        return dn_set_error (DN_ERROR_SHAPE, "%s/mask.npy: expected a 2-D mask", folder);
      src->mask_h = sh[0];
      src->mask_w = sh[1];
    }
  DN_TRY (load_npy_opt (folder, "correlations.npy", &src->correlations, &nd, sh, 1));
  if (src->correlations)
    src->n_correlations = nd == 1 ? sh[0] : 1;
  DN_TRY (load_npy_opt (folder, "prior.npy", &src->prior, &src->prior_ndim, src->prior_shape, 4));
  return DN_OK;
}

DnStatus
dn_twin_source_from_path (const char *path, DnTwinSource *src)
{
  return dn_twin_source_from_path_progress (path, src, NULL, NULL);
}

DnStatus
dn_twin_source_from_path_progress (const char *path, DnTwinSource *src, DnTwinSourceProgressFn progress,
                                   void *user)
{
  memset (src, 0, sizeof *src);
  struct stat sb;
  if (stat (path, &sb) != 0)
    return dn_set_error (DN_ERROR_IO, "%s: no such file or folder", path);
  char **paths = NULL;
  int n = 0;
  DnStatus st = DN_OK;
  char *copy = strdup (path);
  if (!copy)
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  if (S_ISDIR (sb.st_mode))
    {
      n = dn_twin_list_checkpoints (path, &paths, &st);
      if (st == DN_OK && n == 0)
        st = dn_set_error (DN_ERROR_FORMAT, "%s: no checkpoint (*.pth, *.pth.tar, *.pt) in this folder", path);
      if (st == DN_OK)
        {
          size_t len = strlen (copy);
          while (len > 1 && copy[len - 1] == '/')
            copy[--len] = '\0';
          src->name = strdup (basename (copy));
          st = load_extras (path, src);
        }
    }
  else
    {
      paths = malloc (sizeof *paths);
      if (!paths || !(paths[0] = strdup (path)))
        st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      else
        n = 1;
    }
  free (copy);
  if (st == DN_OK && !(src->members = calloc ((size_t) n, sizeof *src->members)))
    st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  for (int i = 0; st == DN_OK && i < n; i++)
    {
      if (progress)
        progress (i, n, paths[i], user);
      if ((src->members[i] = dn_weights_from_torch (paths[i], &st)))
        src->n_members++;
    }
  if (st == DN_OK && progress)
    progress (n, n, NULL, user);
  for (int i = 0; i < n; i++)
    free (paths[i]);
  free (paths);
  if (st != DN_OK)
    dn_twin_source_clear (src);
  return st;
}

bool
dn_bundle_is_bundle (const char *path)
{
  DnStatus st;
  DnH5 *h = dn_h5_open (path, false, &st);
  if (!h)
    {
      dn_clear_error ();
      return false;
    }
  char *fmt = NULL;
  bool yes = dn_h5_read_attr_str (h, "/", "format", &fmt) == DN_OK && strcmp (fmt, BUNDLE_FORMAT) == 0;
  free (fmt);
  dn_h5_close (h);
  dn_clear_error ();
  return yes;
}

static DnStatus
read_opt (DnH5 *h, const char *name, float **data, int *ndim, int64_t *shape, int max_dims)
{
  if (!dn_h5_exists (h, name))
    return DN_OK;
  int64_t sh[DN_H5_MAX_DIMS];
  DN_TRY (dn_h5_read_f32 (h, name, data, ndim, sh));
  if (*ndim > max_dims)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %s has %d dimensions", dn_h5_path (h), name, *ndim);
  for (int i = 0; i < *ndim; i++)
    shape[i] = sh[i];
  return DN_OK;
}

DnStatus
dn_bundle_read (const char *path, DnTwinSource *src)
{
  memset (src, 0, sizeof *src);
  DnStatus st;
  DnH5 *h = dn_h5_open (path, false, &st);
  if (!h)
    return st;
  char *fmt = NULL;
  double nm = 0;
  char **keys = NULL;
  int nkeys = 0;
  if ((st = dn_h5_read_attr_str (h, "/", "format", &fmt)) != DN_OK || strcmp (fmt, BUNDLE_FORMAT) != 0)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: not a DualNeuron twin bundle", path);
      goto out;
    }
  if ((st = dn_h5_read_attr_f64 (h, "/", "n_members", &nm)) != DN_OK)
    goto out;
  if (nm < 1 || nm > 1000)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: n_members = %g", path, nm);
      goto out;
    }
  dn_h5_read_attr_str (h, "/", "name", &src->name);
  dn_clear_error ();
  if (!(src->members = calloc ((size_t) nm, sizeof *src->members)))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      goto out;
    }
  for (int m = 0; m < (int) nm; m++)
    {
      char group[64], dpath[1024], label[4200];
      snprintf (group, sizeof group, "/members/member_%d", m + 1);
      snprintf (label, sizeof label, "%s:%s", path, group);
      if (!(src->members[m] = dn_weight_set_new (label)))
        {
          st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
          goto out;
        }
      src->n_members++;
      if ((nkeys = dn_h5_list (h, group, &keys, &st)) < 0)
        goto out;
      for (int k = 0; k < nkeys; k++)
        {
          float *data = NULL;
          int nd;
          int64_t sh[DN_H5_MAX_DIMS];
          snprintf (dpath, sizeof dpath, "%s/%s", group, keys[k]);
          st = dn_h5_read_f32 (h, dpath, &data, &nd, sh);
          if (st == DN_OK)
            st = dn_weight_set_add (src->members[m], keys[k], nd, sh, data);
          free (data);
          if (st != DN_OK)
            goto out;
        }
      for (int k = 0; k < nkeys; k++)
        free (keys[k]);
      free (keys);
      keys = NULL;
      nkeys = 0;
    }
  int nd;
  int64_t sh[4];
  if ((st = read_opt (h, "/mask", &src->mask, &nd, sh, 2)) != DN_OK)
    goto out;
  if (src->mask)
    {
      src->mask_h = sh[0];
      src->mask_w = nd == 2 ? sh[1] : 1;
    }
  if ((st = read_opt (h, "/correlations", &src->correlations, &nd, sh, 1)) != DN_OK)
    goto out;
  if (src->correlations)
    src->n_correlations = sh[0];
  st = read_opt (h, "/prior", &src->prior, &src->prior_ndim, src->prior_shape, 4);
out:
  for (int k = 0; k < nkeys; k++)
    free (keys[k]);
  free (keys);
  free (fmt);
  dn_h5_close (h);
  if (st != DN_OK)
    dn_twin_source_clear (src);
  return st;
}

DnStatus
dn_bundle_write (const char *path, const DnTwinSource *src)
{
  if (src->n_members < 1)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: a bundle needs at least one member", path);
  DnTwinArch arch = dn_twin_detect_arch (src->members[0]);
  if (!arch)
    return DN_ERROR_FORMAT;
  size_t len = strlen (path) + 32;
  char *tmp = malloc (len);
  if (!tmp)
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  snprintf (tmp, len, "%s.tmp-%d", path, (int) getpid ());
  DnStatus st;
  DnH5 *h = dn_h5_create (tmp, &st);
  if (!h)
    {
      free (tmp);
      return st;
    }
  const DnHostTensor *ro;
  int64_t K = 0;
  ro = dn_weight_set_find (src->members[0], "readout.all_sessions.bias");
  if (ro)
    K = dn_host_tensor_numel (ro);
  bool v1 = arch == DN_ARCH_V1_CONVNEXT;
  if ((st = dn_h5_write_attr_str (h, "/", "format", BUNDLE_FORMAT)) || (st = dn_h5_write_attr_f64 (h, "/", "version", 1))
      || (st = dn_h5_write_attr_str (h, "/", "name", src->name ? src->name : (v1 ? "V1GrayTaskDriven" : "V4TaskDriven")))
      || (st = dn_h5_write_attr_str (h, "/", "architecture", v1 ? "v1-convnext" : "v4-resnet"))
      || (st = dn_h5_write_attr_f64 (h, "/", "n_members", src->n_members))
      || (st = dn_h5_write_attr_f64 (h, "/", "n_neurons", (double) K))
      || (st = dn_h5_write_attr_f64 (h, "/", "input_channels", v1 || K == 1244 ? 1 : 3))
      || (st = dn_h5_write_attr_f64 (h, "/", "input_height", v1 ? 93 : 100))
      || (st = dn_h5_write_attr_f64 (h, "/", "input_width", v1 ? 93 : 100))
      || (st = dn_h5_write_attr_f64 (h, "/", "input_norm", v1 ? 12 : 40))
      || (st = dn_h5_write_attr_str (h, "/", "software", "dualneuron " DN_VERSION)))
    goto fail;
  for (int m = 0; m < src->n_members; m++)
    {
      const DnWeightSet *ws = src->members[m];
      char group[64], dpath[1024];
      snprintf (group, sizeof group, "/members/member_%d", m + 1);
      if ((st = dn_h5_create_group (h, group))
          || (st = dn_h5_write_attr_str (h, group, "source", ws->source ? ws->source : "")))
        goto fail;
      for (int k = 0; k < ws->n; k++)
        {
          const DnHostTensor *t = &ws->items[k];
          if (strchr (t->name, '/'))
            {
              st = dn_set_error (DN_ERROR_FORMAT, "%s: key '%s' contains '/'", ws->source ? ws->source : "weights", t->name);
              goto fail;
            }
          snprintf (dpath, sizeof dpath, "%s/%s", group, t->name);
          if ((st = dn_h5_write_f32 (h, dpath, t->data, t->ndim, t->shape, true)))
            goto fail;
        }
    }
  if (src->mask && (st = dn_h5_write_f32 (h, "/mask", src->mask, 2, (const int64_t[]){ src->mask_h, src->mask_w }, true)))
    goto fail;
  if (src->correlations
      && (st = dn_h5_write_f32 (h, "/correlations", src->correlations, 1, (const int64_t[]){ src->n_correlations }, false)))
    goto fail;
  if (src->prior && (st = dn_h5_write_f32 (h, "/prior", src->prior, src->prior_ndim, src->prior_shape, true)))
    goto fail;
  if ((st = dn_h5_close (h)) != DN_OK)
    {
      h = NULL;
      goto fail;
    }
  h = NULL;
  if (rename (tmp, path) != 0)
    {
      st = dn_set_error (DN_ERROR_IO, "%s: cannot move the finished bundle into place", path);
      goto fail;
    }
  free (tmp);
  return DN_OK;
fail:
  {
    char msg[2048];
    snprintf (msg, sizeof msg, "%s", dn_last_error ());
    dn_h5_close (h);
    unlink (tmp);
    free (tmp);
    return dn_set_error (st, "%s", msg);
  }
}

DnTwin *
dn_twin_new_from_source (DnDevice *dev, const DnTwinSource *src, DnStatus *status)
{
  DnTwin *t = dn_twin_new (dev, src->members, src->n_members, status);
  if (!t)
    return NULL;
  *status = dn_twin_set_extras (t, src->name, src->mask, src->mask_h, src->mask_w, src->correlations,
                                src->n_correlations);
  if (*status != DN_OK)
    {
      dn_twin_free (t);
      return NULL;
    }
  return t;
}
