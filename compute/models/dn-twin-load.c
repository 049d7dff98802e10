/* dn-twin-load.c: twins from checkpoints and checkpoint folders (see dn-twin-load.h).
 * SPDX-License-Identifier: MIT
 */
#include "dn-twin-load.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-bundle.h"
#include "dn-torch.h"

DnWeightSet *
dn_weights_from_torch (const char *path, DnStatus *status)
{
  DnTorchStateDict *sd = NULL;
  if ((*status = dn_torch_load (path, &sd)) != DN_OK)
    return NULL;
  DnWeightSet *ws = dn_weight_set_new (path);
  if (!ws)
    {
      dn_torch_state_dict_free (sd);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
      return NULL;
    }
  size_t n = dn_torch_state_dict_size (sd);
  for (size_t i = 0; i < n; i++)
    {
      const DnTorchTensor *t = dn_torch_state_dict_at (sd, i);
      if ((*status = dn_weight_set_add (ws, t->name, t->ndim, t->shape, t->data)) != DN_OK)
        {
          dn_weight_set_free (ws);
          dn_torch_state_dict_free (sd);
          return NULL;
        }
    }
  dn_torch_state_dict_free (sd);
  *status = DN_OK;
  return ws;
}

static bool
is_checkpoint_name (const char *name)
{
  size_t n = strlen (name);
  const char *ext[] = { ".pth", ".pth.tar", ".pt", ".ckpt", ".tar" };
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    {
      size_t e = strlen (ext[i]);
      if (n > e && strcmp (name + n - e, ext[i]) == 0)
        return true;
    }
  return false;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
dn_twin_list_checkpoints (const char *folder, char ***paths, DnStatus *status)
{
  *paths = NULL;
  DIR *d = opendir (folder);
  if (!d)
    {
      *status = dn_set_error (DN_ERROR_IO, "%s: cannot open the folder", folder);
      return 0;
    }
  char **v = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  *status = DN_OK;
  while ((e = readdir (d)))
    {
      if (e->d_name[0] == '.' || !is_checkpoint_name (e->d_name))
        continue;
      if (n == cap)
        {
          cap = cap ? 2 * cap : 8;
          char **nv = realloc (v, (size_t) cap * sizeof *nv);
          if (!nv)
            {
              *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", folder);
              break;
            }
          v = nv;
        }
      size_t len = strlen (folder) + strlen (e->d_name) + 2;
      if (!(v[n] = malloc (len)))
        {
          *status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", folder);
          break;
        }
      snprintf (v[n], len, "%s/%s", folder, e->d_name);
      n++;
    }
  closedir (d);
  if (*status != DN_OK)
    {
      for (int i = 0; i < n; i++)
        free (v[i]);
      free (v);
      return 0;
    }
  qsort (v, (size_t) n, sizeof *v, cmp_str);
  *paths = v;
  return n;
}

DnTwin *
dn_twin_open (DnDevice *dev, const char *path, DnStatus *status)
{
  if (strncmp (path, "builtin:", 8) == 0)
    return dn_twin_new_builtin (dev, path, status);
  DnTwinSource src;
  *status = dn_bundle_is_bundle (path) ? dn_bundle_read (path, &src) : dn_twin_source_from_path (path, &src);
  if (*status != DN_OK)
    return NULL;
  DnTwin *t = dn_twin_new_from_source (dev, &src, status);
  dn_twin_source_clear (&src);
  return t;
}
