/* dn-weights.c: named host tensors (see dn-weights.h).
 * SPDX-License-Identifier: MIT
 */
#include "dn-weights.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DnWeightSet *
dn_weight_set_new (const char *source)
{
  DnWeightSet *ws = calloc (1, sizeof *ws);
  if (ws && source)
    ws->source = strdup (source);
  return ws;
}

void
dn_weight_set_free (DnWeightSet *ws)
{
  if (!ws)
    return;
  for (int i = 0; i < ws->n; i++)
    {
      free (ws->items[i].name);
      free (ws->items[i].data);
    }
  free (ws->items);
  free (ws->source);
  free (ws);
}

int64_t
dn_host_tensor_numel (const DnHostTensor *t)
{
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

DnStatus
dn_weight_set_add (DnWeightSet *ws, const char *name, int ndim, const int64_t *shape, const float *data)
{
  if (ndim < 0 || ndim > DN_WEIGHT_MAX_DIMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: tensor %s has %d dimensions", ws->source ? ws->source : "weights",
                         name, ndim);
  if (ws->n == ws->cap)
    {
      int cap = ws->cap ? 2 * ws->cap : 64;
      DnHostTensor *items = realloc (ws->items, (size_t) cap * sizeof *items);
      if (!items)
        return dn_set_error (DN_ERROR_NO_MEMORY, "weights: out of memory");
      ws->items = items;
      ws->cap = cap;
    }
  DnHostTensor *t = &ws->items[ws->n];
  memset (t, 0, sizeof *t);
  t->ndim = ndim;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      t->shape[i] = shape[i];
      n *= shape[i];
    }
  t->name = strdup (name);
  t->data = malloc ((size_t) (n > 0 ? n : 1) * sizeof (float));
  if (!t->name || !t->data)
    {
      free (t->name);
      free (t->data);
      return dn_set_error (DN_ERROR_NO_MEMORY, "weights: out of memory");
    }
  if (n > 0 && data)
    memcpy (t->data, data, (size_t) n * sizeof (float));
  ws->n++;
  return DN_OK;
}

const DnHostTensor *
dn_weight_set_find (const DnWeightSet *ws, const char *name)
{
  for (int i = 0; i < ws->n; i++)
    if (strcmp (ws->items[i].name, name) == 0)
      return &ws->items[i];
  return NULL;
}

static void
shape_str (char *buf, size_t size, int ndim, const int64_t *dims)
{
  size_t k = (size_t) snprintf (buf, size, "(");
  for (int i = 0; i < ndim && k < size; i++)
    k += dims[i] < 0 ? (size_t) snprintf (buf + k, size - k, i ? ",*" : "*")
                     : (size_t) snprintf (buf + k, size - k, i ? ",%" PRId64 : "%" PRId64, dims[i]);
  if (k < size)
    snprintf (buf + k, size - k, ")");
}

DnStatus
dn_weight_set_get (const DnWeightSet *ws, const char *name, int ndim, const int64_t *dims, const DnHostTensor **out)
{
  const char *src = ws->source ? ws->source : "weights";
  const DnHostTensor *t = dn_weight_set_find (ws, name);
  *out = NULL;
  if (!t)
    return dn_set_error (DN_ERROR_FORMAT, "%s: missing tensor '%s'", src, name);
  bool ok = true;
  if (t->ndim == ndim)
    {
      for (int i = 0; i < ndim; i++)
        if (dims[i] >= 0 && t->shape[i] != dims[i])
          ok = false;
    }
  else
    {
      /* same non-1 dims in the same order, e.g. (1,1,1,160) for (160) */
      int a = 0, b = 0;
      while (ok)
        {
          while (a < t->ndim && t->shape[a] == 1)
            a++;
          while (b < ndim && dims[b] == 1)
            b++;
          if (a == t->ndim || b == ndim)
            {
              ok = a == t->ndim && b == ndim;
              break;
            }
          if (dims[b] >= 0 && t->shape[a] != dims[b])
            ok = false;
          a++;
          b++;
        }
    }
  if (!ok)
    {
      char got[160], want[160];
      shape_str (got, sizeof got, t->ndim, t->shape);
      shape_str (want, sizeof want, ndim, dims);
      return dn_set_error (DN_ERROR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", src, name, got, want);
    }
  *out = t;
  return DN_OK;
}
