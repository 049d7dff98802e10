/* dn-torch.c: PyTorch checkpoints -> float32 state dicts (see dn-torch.h).
 *
 * Flow: detect the format (zip local-header magic, or a pickle PROTO byte) -> run the pickle(s) in the
 * safe VM with this file's allow-list hooks, which turn persistent ids into Storage records and
 * _rebuild_tensor* calls into TensorRef records -> locate every storage's bytes (zip entry, or the
 * legacy trailer) -> pick the state dict (bare or wrapped) -> validate every tensor against its storage
 * -> convert all of them into one float32 block.
 * Mirrors torch/serialization.py (_load, _legacy_load and their persistent_load) and
 * torch/_utils.py (_rebuild_tensor_v2, _rebuild_parameter).
 * SPDX-License-Identifier: MIT
 */
#include "dn-torch.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-io-private.h"
#include "dn-pickle.h"
#include "dn-zip.h"

/* global ids handed out by find_global */
enum
{
  G_ORDERED_DICT = 1,
  G_REBUILD_TENSOR,
  G_REBUILD_TENSOR_V2,
  G_REBUILD_TENSOR_V3,
  G_REBUILD_PARAMETER,
  G_REBUILD_PARAMETER_WITH_STATE,
  G_STORAGE_UNSUPPORTED, /* complex and quantized storages: valid, but not readable here */
  G_STORAGE = 100,       /* + DnTorchDtype */
  G_DTYPE = 200,         /* + DnTorchDtype */
};

/* object kinds made by the hooks */
enum
{
  OBJ_STORAGE = 1,
  OBJ_TENSOR,
};

/* Output larger than this (bytes) is refused as implausible: 16x the file (float16/int8 expand 2-4x,
 * tied weights share a storage) plus 256 MiB for broadcast (stride-0) tensors. */
#define OUTPUT_SLACK_BYTES ((uint64_t) 256 << 20)
#define MAX_PICKLE_BYTES ((uint64_t) 1 << 31)

static const char legacy_magic[10] = { 0x6c, (char) 0xfc, (char) 0x9c, 0x46, (char) 0xf9,
                                       0x20, 0x6a, (char) 0xa8, 0x50, 0x19 };

typedef struct Storage Storage;
struct Storage
{
  const char *key;       /* arena string */
  size_t key_len;
  DnTorchDtype dtype;
  int64_t numel;         /* elements of dtype */
  Storage *root;         /* legacy views: the storage they slice; NULL for a root */
  int64_t view_offset;   /* view: elements into root */
  const uint8_t *bytes;  /* root: numel * element size bytes, once located */
  void *owned;           /* root: an inflated zip entry (free) */
  bool located;
};

typedef struct
{
  Storage *storage;
  DnTorchDtype dtype;
  int64_t offset;        /* elements of dtype */
  int ndim;
  int64_t shape[DN_TORCH_MAX_DIMS];
  int64_t stride[DN_TORCH_MAX_DIMS];
} TensorRef;

typedef struct
{
  const char *name;
  const uint8_t *data;
  size_t size;
  DnTorchFormat format;
  DnZip *zip;
  char *prefix;          /* zip: the archive's top folder */
  bool big_endian;       /* zip: byteorder record says "big" */
  DnPickle *pk;
  Storage **storages;    /* roots and views (each allocated; owned buffers freed at the end) */
  size_t n_storages, cap_storages;
  DnStrMap storage_index; /* key -> index in storages */
} Loader;

struct DnTorchStateDict
{
  DnTorchFormat format;
  char *prefix;          /* zip archive prefix or NULL */
  char *wrapper;         /* "state_dict" / "model_state_dict" or NULL */
  DnTorchTensor *tensors;
  size_t n;
  float *block;          /* all values (aligned_alloc) */
  char *names;           /* all names */
  int64_t numel;
  DnStrMap index;        /* name -> tensor index */
};

static const size_t elsize[] = {
  [DN_TORCH_FLOAT32] = 4, [DN_TORCH_FLOAT64] = 8, [DN_TORCH_FLOAT16] = 2, [DN_TORCH_BFLOAT16] = 2,
  [DN_TORCH_INT64] = 8,   [DN_TORCH_INT32] = 4,   [DN_TORCH_INT16] = 2,   [DN_TORCH_INT8] = 1,
  [DN_TORCH_UINT8] = 1,   [DN_TORCH_BOOL] = 1,
};

const char *
dn_torch_dtype_name (DnTorchDtype dtype)
{
  switch (dtype)
    {
    case DN_TORCH_FLOAT32: return "float32";
    case DN_TORCH_FLOAT64: return "float64";
    case DN_TORCH_FLOAT16: return "float16";
    case DN_TORCH_BFLOAT16: return "bfloat16";
    case DN_TORCH_INT64: return "int64";
    case DN_TORCH_INT32: return "int32";
    case DN_TORCH_INT16: return "int16";
    case DN_TORCH_INT8: return "int8";
    case DN_TORCH_UINT8: return "uint8";
    case DN_TORCH_BOOL: return "bool";
    }
  return "?";
}

/* ---- allow-list ---- */

static const struct
{
  const char *name;
  DnTorchDtype dtype;
} storage_names[] = {
  { "FloatStorage", DN_TORCH_FLOAT32 },   { "DoubleStorage", DN_TORCH_FLOAT64 },
  { "HalfStorage", DN_TORCH_FLOAT16 },    { "BFloat16Storage", DN_TORCH_BFLOAT16 },
  { "LongStorage", DN_TORCH_INT64 },      { "IntStorage", DN_TORCH_INT32 },
  { "ShortStorage", DN_TORCH_INT16 },     { "CharStorage", DN_TORCH_INT8 },
  { "ByteStorage", DN_TORCH_UINT8 },      { "BoolStorage", DN_TORCH_BOOL },
  { "UntypedStorage", DN_TORCH_UINT8 },
}, dtype_names[] = {
  { "float32", DN_TORCH_FLOAT32 }, { "float", DN_TORCH_FLOAT32 },   { "float64", DN_TORCH_FLOAT64 },
  { "double", DN_TORCH_FLOAT64 },  { "float16", DN_TORCH_FLOAT16 }, { "half", DN_TORCH_FLOAT16 },
  { "bfloat16", DN_TORCH_BFLOAT16 }, { "int64", DN_TORCH_INT64 },   { "long", DN_TORCH_INT64 },
  { "int32", DN_TORCH_INT32 },     { "int", DN_TORCH_INT32 },       { "int16", DN_TORCH_INT16 },
  { "short", DN_TORCH_INT16 },     { "int8", DN_TORCH_INT8 },       { "uint8", DN_TORCH_UINT8 },
  { "bool", DN_TORCH_BOOL },
};

static int
find_global (void *user, const char *module, const char *name)
{
  if (strcmp (module, "collections") == 0 && strcmp (name, "OrderedDict") == 0)
    return G_ORDERED_DICT;
  if (strcmp (module, "torch._utils") == 0)
    {
      if (strcmp (name, "_rebuild_tensor") == 0)
        return G_REBUILD_TENSOR;
      if (strcmp (name, "_rebuild_tensor_v2") == 0)
        return G_REBUILD_TENSOR_V2;
      if (strcmp (name, "_rebuild_tensor_v3") == 0)
        return G_REBUILD_TENSOR_V3;
      if (strcmp (name, "_rebuild_parameter") == 0)
        return G_REBUILD_PARAMETER;
      if (strcmp (name, "_rebuild_parameter_with_state") == 0)
        return G_REBUILD_PARAMETER_WITH_STATE;
      return -1;
    }
  /* torch's legacy find_class maps any "*Storage" name; we only accept torch's own modules */
  if (strcmp (module, "torch") == 0 || strcmp (module, "torch.cuda") == 0)
    {
      for (size_t i = 0; i < sizeof storage_names / sizeof storage_names[0]; i++)
        if (strcmp (name, storage_names[i].name) == 0)
          return G_STORAGE + (int) storage_names[i].dtype;
      if (strstr (name, "Storage") && (strncmp (name, "Complex", 7) == 0 || strncmp (name, "QInt", 4) == 0
                                       || strncmp (name, "QUInt", 5) == 0))
        return G_STORAGE_UNSUPPORTED;
      if (strcmp (module, "torch") == 0)
        for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
          if (strcmp (name, dtype_names[i].name) == 0)
            return G_DTYPE + (int) dtype_names[i].dtype;
    }
  return -1;
}

/* ---- hooks ---- */

static DnStatus
err (const Loader *L, DnStatus st, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static DnStatus
err (const Loader *L, DnStatus st, const char *fmt, ...)
{
  char msg[768];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return dn_set_error (st, "%s: %s", L->name, msg);
}

static bool
is_int (const DnPkValue *v)
{
  return v && v->type == DN_PK_INT;
}

static bool
is_text (const DnPkValue *v)
{
  return v && (v->type == DN_PK_STR || v->type == DN_PK_BYTES);
}

static DnPkValue *
new_object (DnPickle *pk, int kind, size_t bytes)
{
  DnPkValue *v = dn_pickle_value (pk, DN_PK_OBJECT);
  void *p = v ? dn_pickle_alloc (pk, bytes) : NULL;
  if (!p)
    return NULL;
  v->u.obj.kind = kind;
  v->u.obj.ptr = p;
  return v;
}

/* shape/stride tuple -> int64 array */
static DnStatus
int_tuple (const Loader *L, const DnPkValue *t, const char *what, int64_t *out, int *n)
{
  if (!t || t->type != DN_PK_TUPLE)
    return err (L, DN_ERROR_FORMAT, "tensor %s is a %s, not a tuple", what, dn_pk_type_name (t));
  if (t->u.seq.n > DN_TORCH_MAX_DIMS)
    return err (L, DN_ERROR_UNSUPPORTED, "tensor with %zu dimensions (at most %d supported)", t->u.seq.n,
                DN_TORCH_MAX_DIMS);
  for (size_t i = 0; i < t->u.seq.n; i++)
    {
      const DnPkValue *v = t->u.seq.items[i];
      if (!is_int (v) || v->u.i < 0)
        return err (L, DN_ERROR_FORMAT, "tensor %s entry %zu is not a non-negative int", what, i);
      out[i] = v->u.i;
    }
  *n = (int) t->u.seq.n;
  return DN_OK;
}

static DnStatus
hook_call (void *user, DnPickle *pk, const DnPkValue *callable, const DnPkValue *args, DnPkValue **result)
{
  Loader *L = user;
  int id = callable->u.global.id;
  size_t n = args->u.seq.n;
  DnPkValue *const *a = args->u.seq.items;
  switch (id)
    {
    case G_ORDERED_DICT:
      if (n != 0)
        return err (L, DN_ERROR_FORMAT, "OrderedDict called with %zu arguments", n);
      *result = dn_pickle_value (pk, DN_PK_DICT);
      return *result ? DN_OK : dn_pickle_alloc_status (pk);
    case G_REBUILD_TENSOR:
    case G_REBUILD_TENSOR_V2:
    case G_REBUILD_TENSOR_V3:
      {
        /* (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, dtype][, metadata]]) */
        size_t lo = id == G_REBUILD_TENSOR ? 4 : id == G_REBUILD_TENSOR_V2 ? 6 : 7;
        if (n < lo || n > lo + (id == G_REBUILD_TENSOR ? 0 : 1))
          return err (L, DN_ERROR_FORMAT, "%s called with %zu arguments", callable->u.global.name, n);
        if (a[0]->type != DN_PK_OBJECT || a[0]->u.obj.kind != OBJ_STORAGE)
          return err (L, DN_ERROR_FORMAT, "%s: first argument is a %s, not a storage", callable->u.global.name,
                      dn_pk_type_name (a[0]));
        if (!is_int (a[1]) || a[1]->u.i < 0)
          return err (L, DN_ERROR_FORMAT, "tensor storage offset is not a non-negative int");
        DnPkValue *v = new_object (pk, OBJ_TENSOR, sizeof (TensorRef));
        if (!v)
          return dn_pickle_alloc_status (pk);
        TensorRef *t = v->u.obj.ptr;
        t->storage = a[0]->u.obj.ptr;
        t->dtype = t->storage->dtype;
        t->offset = a[1]->u.i;
        int nd_shape, nd_stride;
        DnStatus st = int_tuple (L, a[2], "size", t->shape, &nd_shape);
        if (st == DN_OK)
          st = int_tuple (L, a[3], "stride", t->stride, &nd_stride);
        if (st != DN_OK)
          return st;
        if (nd_shape != nd_stride)
          return err (L, DN_ERROR_FORMAT, "tensor size has %d entries but stride %d", nd_shape, nd_stride);
        t->ndim = nd_shape;
        if (id == G_REBUILD_TENSOR_V3)
          {
            const DnPkValue *d = a[6];
            if (d->type != DN_PK_GLOBAL || d->u.global.id < G_DTYPE)
              return err (L, DN_ERROR_FORMAT, "_rebuild_tensor_v3: argument 7 is not a torch dtype");
            t->dtype = (DnTorchDtype) (d->u.global.id - G_DTYPE);
          }
        *result = v;
        return DN_OK;
      }
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_WITH_STATE:
      /* (data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here */
      if (n != (id == G_REBUILD_PARAMETER ? 3u : 4u))
        return err (L, DN_ERROR_FORMAT, "%s called with %zu arguments", callable->u.global.name, n);
      if (a[0]->type != DN_PK_OBJECT || a[0]->u.obj.kind != OBJ_TENSOR)
        return err (L, DN_ERROR_FORMAT, "%s of a %s, not a tensor", callable->u.global.name,
                    dn_pk_type_name (a[0]));
      *result = a[0];
      return DN_OK;
    default:
      return err (L, DN_ERROR_FORMAT, "%s.%s cannot be called", callable->u.global.module,
                  callable->u.global.name);
    }
}

static DnStatus
add_storage (Loader *L, Storage *s)
{
  if (L->n_storages == L->cap_storages)
    {
      size_t cap = L->cap_storages ? L->cap_storages * 2 : 64;
      Storage **a = realloc (L->storages, cap * sizeof *a);
      if (!a)
        return err (L, DN_ERROR_NO_MEMORY, "out of memory");
      L->storages = a;
      L->cap_storages = cap;
    }
  if (!dn_str_map_put (&L->storage_index, s->key, s->key_len, (int64_t) L->n_storages))
    return err (L, DN_ERROR_NO_MEMORY, "out of memory");
  L->storages[L->n_storages++] = s;
  return DN_OK;
}

static Storage *
find_storage (const Loader *L, const DnPkValue *key)
{
  int64_t i = dn_str_map_get (&L->storage_index, key->u.s.ptr, key->u.s.len);
  return i < 0 ? NULL : L->storages[i];
}

/* a printable storage key for messages */
static const char *
key_str (const DnPkValue *key, char *buf, size_t cap)
{
  size_t j = 0;
  for (size_t i = 0; i < key->u.s.len && j + 1 < cap; i++)
    buf[j++] = (key->u.s.ptr[i] >= 32 && key->u.s.ptr[i] < 127) ? key->u.s.ptr[i] : '?';
  buf[j] = '\0';
  return buf;
}

/* zip: reads <prefix>/data/<key> into the root storage */
static DnStatus
locate_zip_storage (Loader *L, Storage *s, const DnPkValue *key)
{
  char kb[96];
  size_t plen = strlen (L->prefix);
  char *entry = malloc (plen + 6 + key->u.s.len + 1);
  if (!entry)
    return err (L, DN_ERROR_NO_MEMORY, "out of memory");
  memcpy (entry, L->prefix, plen);
  memcpy (entry + plen, "/data/", 6);
  memcpy (entry + plen + 6, key->u.s.ptr, key->u.s.len);
  entry[plen + 6 + key->u.s.len] = '\0';
  const DnZipEntry *e = memchr (key->u.s.ptr, 0, key->u.s.len) ? NULL : dn_zip_find (L->zip, entry);
  free (entry);
  if (!e)
    return err (L, DN_ERROR_FORMAT, "storage '%s' has no zip entry '%s/data/%s' (truncated?)",
                key_str (key, kb, sizeof kb), L->prefix, kb);
  uint64_t nbytes = (uint64_t) s->numel * elsize[s->dtype];
  if (e->usize != nbytes)
    return err (L, DN_ERROR_FORMAT, "storage '%s' holds %llu bytes, but %lld %s values need %llu",
                key_str (key, kb, sizeof kb), (unsigned long long) e->usize, (long long) s->numel,
                dn_torch_dtype_name (s->dtype), (unsigned long long) nbytes);
  DnStatus st = dn_zip_read (L->zip, e, nbytes, &s->bytes, &s->owned);
  if (st != DN_OK)
    return st;
  s->located = true;
  return DN_OK;
}

static DnStatus
hook_persistent_load (void *user, DnPickle *pk, const DnPkValue *pid, DnPkValue **result)
{
  Loader *L = user;
  char kb[96];
  if (pid->type != DN_PK_TUPLE || pid->u.seq.n < 1 || !is_text (pid->u.seq.items[0]))
    return err (L, DN_ERROR_FORMAT, "persistent id is a %s, not a ('storage', ...) tuple", dn_pk_type_name (pid));
  DnPkValue *const *a = pid->u.seq.items;
  size_t n = pid->u.seq.n;
  const DnPkValue *tn = a[0];
  if (tn->u.s.len == 6 && memcmp (tn->u.s.ptr, "module", 6) == 0)
    return err (L, DN_ERROR_UNSUPPORTED, "the file holds a pickled nn.Module, not a state dict "
                "(save model.state_dict() instead)");
  if (!(tn->u.s.len == 7 && memcmp (tn->u.s.ptr, "storage", 7) == 0))
    return err (L, DN_ERROR_FORMAT, "unknown persistent id type");
  size_t want = L->format == DN_TORCH_FORMAT_ZIP ? 5 : 6;
  if (n != want)
    return err (L, DN_ERROR_FORMAT, "storage persistent id has %zu fields, expected %zu", n, want);
  /* ('storage', storage_type, key, location, numel[, view_metadata]) */
  const DnPkValue *type = a[1], *key = a[2], *location = a[3], *numel = a[4];
  if (type->type != DN_PK_GLOBAL || (type->u.global.id < G_STORAGE && type->u.global.id != G_STORAGE_UNSUPPORTED)
      || type->u.global.id >= G_DTYPE)
    return err (L, DN_ERROR_FORMAT, "storage type is not a torch storage class");
  if (type->u.global.id == G_STORAGE_UNSUPPORTED)
    return err (L, DN_ERROR_UNSUPPORTED, "tensors of type torch.%s are not supported", type->u.global.name);
  if (!is_text (key) || !is_text (location) || !is_int (numel))
    return err (L, DN_ERROR_FORMAT, "malformed storage persistent id");
  DnTorchDtype dtype = (DnTorchDtype) (type->u.global.id - G_STORAGE);
  if (numel->u.i < 0 || (uint64_t) numel->u.i > (uint64_t) INT64_MAX / 8)
    return err (L, DN_ERROR_FORMAT, "storage '%s' has an invalid size %lld", key_str (key, kb, sizeof kb),
                (long long) numel->u.i);

  Storage *root = find_storage (L, key);
  if (root)
    {
      if (root->root)
        return err (L, DN_ERROR_FORMAT, "storage key '%s' used both as a view and a root",
                    key_str (key, kb, sizeof kb));
      if (root->dtype != dtype || root->numel != numel->u.i)
        return err (L, DN_ERROR_FORMAT, "storage '%s' is referenced with different types or sizes",
                    key_str (key, kb, sizeof kb));
    }
  else
    {
      root = dn_pickle_alloc (pk, sizeof *root);
      if (!root)
        return dn_pickle_alloc_status (pk);
      root->key = key->u.s.ptr;
      root->key_len = key->u.s.len;
      root->dtype = dtype;
      root->numel = numel->u.i;
      DnStatus st = add_storage (L, root);
      if (st == DN_OK && L->format == DN_TORCH_FORMAT_ZIP)
        st = locate_zip_storage (L, root, key);
      if (st != DN_OK)
        return st;
    }

  Storage *res = root;
  if (L->format == DN_TORCH_FORMAT_LEGACY && a[5]->type != DN_PK_NONE)
    {
      /* view_metadata = (view_key, offset, view_size), in elements of the root's dtype */
      const DnPkValue *vm = a[5];
      if (vm->type != DN_PK_TUPLE || vm->u.seq.n != 3 || !is_text (vm->u.seq.items[0]) || !is_int (vm->u.seq.items[1])
          || !is_int (vm->u.seq.items[2]))
        return err (L, DN_ERROR_FORMAT, "malformed storage view metadata");
      const DnPkValue *vkey = vm->u.seq.items[0];
      int64_t off = vm->u.seq.items[1]->u.i, vsize = vm->u.seq.items[2]->u.i;
      if (off < 0 || vsize < 0 || off > root->numel || vsize > root->numel - off)
        return err (L, DN_ERROR_FORMAT, "storage view '%s' lies outside storage '%s'",
                    key_str (vkey, kb, sizeof kb), root->key);
      res = find_storage (L, vkey);
      if (!res)
        {
          res = dn_pickle_alloc (pk, sizeof *res);
          if (!res)
            return dn_pickle_alloc_status (pk);
          res->key = vkey->u.s.ptr;
          res->key_len = vkey->u.s.len;
          res->dtype = dtype;
          res->numel = vsize;
          res->root = root;
          res->view_offset = off;
          DnStatus st = add_storage (L, res);
          if (st != DN_OK)
            return st;
        }
      else if (!res->root || res->root != root || res->view_offset != off || res->numel != vsize)
        return err (L, DN_ERROR_FORMAT, "storage view '%s' is defined twice differently",
                    key_str (vkey, kb, sizeof kb));
    }
  DnPkValue *v = dn_pickle_value (pk, DN_PK_OBJECT);
  if (!v)
    return dn_pickle_alloc_status (pk);
  v->u.obj.kind = OBJ_STORAGE;
  v->u.obj.ptr = res;
  *result = v;
  return DN_OK;
}

/* ---- conversion ---- */

static inline float
load_one (const uint8_t *p, DnTorchDtype dt, bool swap)
{
  uint8_t b[8];
  size_t n = elsize[dt];
  if (swap)
    for (size_t i = 0; i < n; i++)
      b[i] = p[n - 1 - i];
  else
    memcpy (b, p, n);
  switch (dt)
    {
    case DN_TORCH_FLOAT32:
      {
        float f;
        memcpy (&f, b, 4);
        return f;
      }
    case DN_TORCH_FLOAT64:
      {
        double d;
        memcpy (&d, b, 8);
        return (float) d;
      }
    case DN_TORCH_FLOAT16:
      return dn_io_half_to_float (dn_io_le16 (b));
    case DN_TORCH_BFLOAT16:
      return dn_io_bf16_to_float (dn_io_le16 (b));
    case DN_TORCH_INT64:
      {
        int64_t i;
        memcpy (&i, b, 8);
        return (float) i;
      }
    case DN_TORCH_INT32:
      {
        int32_t i;
        memcpy (&i, b, 4);
        return (float) i;
      }
    case DN_TORCH_INT16:
      {
        int16_t i;
        memcpy (&i, b, 2);
        return (float) i;
      }
    case DN_TORCH_INT8:
      return (float) (int8_t) b[0];
    case DN_TORCH_UINT8:
      return (float) b[0];
    case DN_TORCH_BOOL:
      return b[0] ? 1.0f : 0.0f;
    }
  return 0.0f;
}

/* dst[i] = src[i * step] for i < n (step in bytes) */
static void
convert_run (float *dst, const uint8_t *src, int64_t n, int64_t step, DnTorchDtype dt, bool swap)
{
  if (dt == DN_TORCH_FLOAT32 && !swap && step == 4)
    {
      memcpy (dst, src, (size_t) n * 4);
      return;
    }
  for (int64_t i = 0; i < n; i++)
    dst[i] = load_one (src + i * step, dt, swap);
}

/* gathers a strided tensor into contiguous float32 */
static void
convert_tensor (float *dst, const uint8_t *base, const TensorRef *t, int64_t numel, bool swap)
{
  if (numel == 0)
    return;
  int64_t es = (int64_t) elsize[t->dtype];
  const uint8_t *src = base + t->offset * es;
  if (t->ndim == 0)
    {
      dst[0] = load_one (src, t->dtype, swap);
      return;
    }
  int last = t->ndim - 1;
  int64_t inner = t->shape[last], istep = t->stride[last] * es;
  int64_t idx[DN_TORCH_MAX_DIMS] = { 0 };
  for (int64_t done = 0; done < numel; done += inner)
    {
      int64_t off = 0;
      for (int d = 0; d < last; d++)
        off += idx[d] * t->stride[d];
      convert_run (dst + done, src + off * es, inner, istep, t->dtype, swap);
      for (int d = last - 1; d >= 0; d--)
        {
          if (++idx[d] < t->shape[d])
            break;
          idx[d] = 0;
        }
    }
}

/* checks @t against its storage; returns the storage's bytes (at element 0 of the tensor's dtype) */
static DnStatus
check_tensor (const Loader *L, const char *key, const TensorRef *t, int64_t *numel, const uint8_t **base)
{
  const Storage *s = t->storage, *root = s->root ? s->root : s;
  if (!root->located)
    return err (L, DN_ERROR_FORMAT, "tensor '%s': storage '%s' has no data (truncated file?)", key, root->key);
  uint64_t sbytes = (uint64_t) s->numel * elsize[s->dtype];
  const uint8_t *p = root->bytes + (uint64_t) (s->root ? s->view_offset : 0) * elsize[root->dtype];
  int64_t cap = (int64_t) (sbytes / elsize[t->dtype]); /* storage capacity in tensor elements */
  int64_t n = 1, maxi = t->offset;
  for (int d = 0; d < t->ndim; d++)
    {
      if (__builtin_mul_overflow (n, t->shape[d], &n))
        return err (L, DN_ERROR_FORMAT, "tensor '%s': size overflows", key);
    }
  if (n > 0)
    for (int d = 0; d < t->ndim; d++)
      {
        int64_t span;
        if (__builtin_mul_overflow (t->shape[d] - 1, t->stride[d], &span) || __builtin_add_overflow (maxi, span, &maxi))
          return err (L, DN_ERROR_FORMAT, "tensor '%s': strides overflow", key);
      }
  if (n > 0 && maxi >= cap)
    return err (L, DN_ERROR_FORMAT, "tensor '%s' (offset %lld) reaches element %lld of a storage of %lld %s "
                "values", key, (long long) t->offset, (long long) maxi, (long long) cap,
                dn_torch_dtype_name (t->dtype));
  *numel = n;
  *base = p;
  return DN_OK;
}

/* the dict of tensors: the object itself, or its "state_dict" / "model_state_dict" entry */
static DnStatus
pick_state_dict (const Loader *L, const DnPkValue *obj, const DnPkValue **sd, const char **wrapper)
{
  *wrapper = NULL;
  if (obj->type != DN_PK_DICT)
    return err (L, DN_ERROR_FORMAT, "the checkpoint holds a %s, not a state dict", dn_pk_type_name (obj));
  bool all_tensors = true;
  for (size_t i = 0; i + 1 < obj->u.seq.n; i += 2)
    {
      const DnPkValue *v = obj->u.seq.items[i + 1];
      if (v->type != DN_PK_OBJECT || v->u.obj.kind != OBJ_TENSOR)
        all_tensors = false;
    }
  if (all_tensors)
    {
      *sd = obj;
      return DN_OK;
    }
  static const char *const wrappers[] = { "state_dict", "model_state_dict" };
  for (size_t w = 0; w < 2; w++)
    {
      const DnPkValue *v = dn_pk_dict_get (obj, wrappers[w]);
      if (v && v->type == DN_PK_DICT)
        {
          *sd = v;
          *wrapper = wrappers[w];
          return DN_OK;
        }
    }
  return err (L, DN_ERROR_FORMAT, "no state dict found: the top-level dict holds values that are not tensors "
              "and has no 'state_dict' or 'model_state_dict' entry");
}

static DnStatus
build_state_dict (const Loader *L, const DnPkValue *obj, DnTorchStateDict **out)
{
  const DnPkValue *dict = NULL;
  const char *wrapper;
  DnStatus st = pick_state_dict (L, obj, &dict, &wrapper);
  if (st != DN_OK)
    return st;

  size_t n_pairs = dict->u.seq.n / 2;
  DnTorchStateDict *sd = calloc (1, sizeof *sd);
  const uint8_t **bases = calloc (n_pairs ? n_pairs : 1, sizeof *bases);
  const TensorRef **refs = calloc (n_pairs ? n_pairs : 1, sizeof *refs);
  if (!sd || !bases || !refs || !(sd->tensors = calloc (n_pairs ? n_pairs : 1, sizeof *sd->tensors)))
    {
      st = err (L, DN_ERROR_NO_MEMORY, "out of memory");
      goto out;
    }
  sd->format = L->format;
  if ((L->prefix && !(sd->prefix = strdup (L->prefix))) || (wrapper && !(sd->wrapper = strdup (wrapper))))
    {
      st = err (L, DN_ERROR_NO_MEMORY, "out of memory");
      goto out;
    }

  /* pass 1: keys (Python dict semantics: a repeated key keeps its first position, last value wins),
   * validation and sizes */
  size_t names_bytes = 0;
  for (size_t i = 0; i < n_pairs; i++)
    {
      const DnPkValue *k = dict->u.seq.items[2 * i], *v = dict->u.seq.items[2 * i + 1];
      if (k->type != DN_PK_STR || memchr (k->u.s.ptr, 0, k->u.s.len))
        {
          st = err (L, DN_ERROR_FORMAT, "state dict key %zu is a %s, not a string", i, dn_pk_type_name (k));
          goto out;
        }
      if (v->type != DN_PK_OBJECT || v->u.obj.kind != OBJ_TENSOR)
        {
          st = err (L, DN_ERROR_FORMAT, "state dict entry '%.200s' is a %s, not a tensor", k->u.s.ptr,
                    dn_pk_type_name (v));
          goto out;
        }
      int64_t j = dn_str_map_get (&sd->index, k->u.s.ptr, k->u.s.len);
      if (j < 0)
        {
          j = (int64_t) sd->n++;
          if (!dn_str_map_put (&sd->index, k->u.s.ptr, k->u.s.len, j))
            {
              st = err (L, DN_ERROR_NO_MEMORY, "out of memory");
              goto out;
            }
          sd->tensors[j].name = k->u.s.ptr; /* arena; replaced below */
          names_bytes += k->u.s.len + 1;
        }
      refs[j] = v->u.obj.ptr;
    }

  uint64_t total = 0; /* floats, each tensor padded to 16 (64 bytes) */
  for (size_t j = 0; j < sd->n; j++)
    {
      DnTorchTensor *t = &sd->tensors[j];
      st = check_tensor (L, t->name, refs[j], &t->numel, &bases[j]);
      if (st != DN_OK)
        goto out;
      t->ndim = refs[j]->ndim;
      memcpy (t->shape, refs[j]->shape, sizeof t->shape);
      t->src_dtype = refs[j]->dtype;
      total += ((uint64_t) t->numel + 15) & ~(uint64_t) 15;
      if (total > (16 * (uint64_t) L->size + OUTPUT_SLACK_BYTES) / 4)
        {
          st = err (L, DN_ERROR_FORMAT, "the tensors would need %llu MiB, implausibly more than the file's "
                    "%zu bytes (hostile or corrupt file?)", (unsigned long long) (total >> 18), L->size);
          goto out;
        }
    }

  /* pass 2: one block for all values, one for all names */
  sd->block = aligned_alloc (64, (size_t) (total ? total : 16) * sizeof (float));
  sd->names = malloc (names_bytes ? names_bytes : 1);
  if (!sd->block || !sd->names)
    {
      st = err (L, DN_ERROR_NO_MEMORY, "out of memory for %llu values", (unsigned long long) total);
      goto out;
    }
  dn_str_map_clear (&sd->index); /* re-keyed on the owned names */
  float *fp = sd->block;
  char *np = sd->names;
  for (size_t j = 0; j < sd->n; j++)
    {
      DnTorchTensor *t = &sd->tensors[j];
      size_t len = strlen (t->name);
      memcpy (np, t->name, len + 1);
      t->name = np;
      np += len + 1;
      t->data = fp;
      fp += (t->numel + 15) & ~(int64_t) 15;
      convert_tensor (t->data, bases[j], refs[j], t->numel, L->big_endian);
      if (!dn_str_map_put (&sd->index, t->name, len, (int64_t) j))
        {
          st = err (L, DN_ERROR_NO_MEMORY, "out of memory");
          goto out;
        }
    }
  sd->numel = 0;
  for (size_t j = 0; j < sd->n; j++)
    sd->numel += sd->tensors[j].numel;

out:
  free (bases);
  free (refs);
  if (st != DN_OK)
    {
      if (sd && !sd->names)
        {
          /* names still point into the arena */
          for (size_t j = 0; j < sd->n; j++)
            sd->tensors[j].name = NULL;
        }
      dn_torch_state_dict_free (sd);
      return st;
    }
  *out = sd;
  return DN_OK;
}

/* ---- the two formats ---- */

static DnStatus
load_zip (Loader *L, DnPkValue **obj)
{
  DnStatus st = dn_zip_open (L->data, L->size, L->name, &L->zip);
  if (st != DN_OK)
    return st;
  if (dn_zip_n_entries (L->zip) == 0)
    return err (L, DN_ERROR_FORMAT, "empty zip archive, not a PyTorch checkpoint");
  const char *first = dn_zip_entry (L->zip, 0)->name;
  const char *slash = strchr (first, '/');
  if (!slash)
    return err (L, DN_ERROR_FORMAT, "zip archive without a top folder, not a PyTorch checkpoint");
  L->prefix = strndup (first, (size_t) (slash - first));
  size_t plen = (size_t) (slash - first);
  char *name = L->prefix ? malloc (plen + 32) : NULL;
  if (!name)
    return err (L, DN_ERROR_NO_MEMORY, "out of memory");

  snprintf (name, plen + 32, "%s/constants.pkl", L->prefix);
  if (dn_zip_find (L->zip, name))
    {
      free (name);
      return err (L, DN_ERROR_UNSUPPORTED, "a TorchScript archive (torch.jit.save), not a state dict; save "
                  "model.state_dict() with torch.save instead");
    }
  snprintf (name, plen + 32, "%s/byteorder", L->prefix);
  const DnZipEntry *bo = dn_zip_find (L->zip, name);
  snprintf (name, plen + 32, "%s/data.pkl", L->prefix);
  const DnZipEntry *pe = dn_zip_find (L->zip, name);
  free (name);
  if (!pe)
    return err (L, DN_ERROR_FORMAT, "zip archive has no '%s/data.pkl', not a PyTorch checkpoint", L->prefix);
  if (bo)
    {
      const uint8_t *b;
      void *owned;
      if ((st = dn_zip_read (L->zip, bo, 16, &b, &owned)))
        return st;
      if (bo->usize == 3 && memcmp (b, "big", 3) == 0)
        L->big_endian = true;
      else if (!(bo->usize == 6 && memcmp (b, "little", 6) == 0))
        st = err (L, DN_ERROR_FORMAT, "unknown byteorder record");
      free (owned);
      if (st != DN_OK)
        return st;
    }

  const uint8_t *pkl;
  void *owned = NULL;
  if ((st = dn_zip_read (L->zip, pe, MAX_PICKLE_BYTES, &pkl, &owned)))
    return st;
  size_t pos = 0;
  st = dn_pickle_load (L->pk, pkl, (size_t) pe->usize, &pos, obj);
  free (owned); /* the values are arena copies */
  return st;
}

static DnStatus
load_legacy (Loader *L, DnPkValue **obj)
{
  DnStatus st;
  size_t pos = 0;
  DnPkValue *v;
  if ((st = dn_pickle_load (L->pk, L->data, L->size, &pos, &v)))
    return st;
  if (v->type != DN_PK_BIGINT || v->u.s.len != sizeof legacy_magic || memcmp (v->u.s.ptr, legacy_magic, 10))
    return err (L, DN_ERROR_FORMAT, "a pickle, but not a PyTorch checkpoint (no magic number)");
  if ((st = dn_pickle_load (L->pk, L->data, L->size, &pos, &v)))
    return st;
  if (!is_int (v) || v->u.i != 1001)
    return err (L, DN_ERROR_FORMAT, "unsupported legacy protocol version");
  if ((st = dn_pickle_load (L->pk, L->data, L->size, &pos, &v))) /* sys_info */
    return st;
  if (v->type != DN_PK_DICT)
    return err (L, DN_ERROR_FORMAT, "legacy sys_info is a %s, not a dict", dn_pk_type_name (v));
  const DnPkValue *le = dn_pk_dict_get (v, "little_endian");
  if (le && le->type == DN_PK_BOOL && !le->u.b)
    return err (L, DN_ERROR_UNSUPPORTED, "legacy checkpoint written on a big-endian machine");
  if ((st = dn_pickle_load (L->pk, L->data, L->size, &pos, obj)))
    return st;
  DnPkValue *keys;
  if ((st = dn_pickle_load (L->pk, L->data, L->size, &pos, &keys)))
    return st;
  if (keys->type != DN_PK_LIST && keys->type != DN_PK_TUPLE)
    return err (L, DN_ERROR_FORMAT, "legacy storage key list is a %s", dn_pk_type_name (keys));

  /* each storage: int64 element count, then its bytes */
  for (size_t i = 0; i < keys->u.seq.n; i++)
    {
      char kb[96];
      const DnPkValue *k = keys->u.seq.items[i];
      if (!is_text (k))
        return err (L, DN_ERROR_FORMAT, "legacy storage key %zu is a %s", i, dn_pk_type_name (k));
      Storage *s = find_storage (L, k);
      if (!s || s->root)
        return err (L, DN_ERROR_FORMAT, "legacy storage key '%s' names no storage", key_str (k, kb, sizeof kb));
      if (L->size - pos < 8)
        return err (L, DN_ERROR_FORMAT, "truncated: storage '%s' (%zu of %zu) has no size at byte %zu",
                    key_str (k, kb, sizeof kb), i + 1, keys->u.seq.n, pos);
      uint64_t count = dn_io_le64 (L->data + pos);
      if (count != (uint64_t) s->numel)
        return err (L, DN_ERROR_FORMAT, "storage '%s' at byte %zu holds %llu values, its tensors expect %lld",
                    key_str (k, kb, sizeof kb), pos, (unsigned long long) count, (long long) s->numel);
      pos += 8;
      uint64_t nbytes = count * elsize[s->dtype];
      if (L->size - pos < nbytes)
        return err (L, DN_ERROR_FORMAT, "truncated: storage '%s' (%zu of %zu) needs %llu bytes at byte %zu, "
                    "%zu left", key_str (k, kb, sizeof kb), i + 1, keys->u.seq.n, (unsigned long long) nbytes,
                    pos, L->size - pos);
      s->bytes = L->data + pos;
      s->located = true;
      pos += (size_t) nbytes;
    }
  return DN_OK;
}

DnStatus
dn_torch_load_memory (const void *data, size_t size, const char *name, DnTorchStateDict **out)
{
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dn_torch_load_memory: out is NULL");
  *out = NULL;
  Loader L = { .name = name ? name : "(memory)", .data = data, .size = data ? size : 0 };
  const uint8_t *d = L.data;
  if (L.size == 0)
    return err (&L, DN_ERROR_FORMAT, "empty file, not a PyTorch checkpoint");

  DnStatus st = DN_OK;
  DnPkValue *obj = NULL;
  DnPickleHooks hooks = { find_global, hook_call, hook_persistent_load, &L };
  L.pk = dn_pickle_new (L.name, &hooks, NULL);
  if (!L.pk)
    return DN_ERROR_NO_MEMORY;

  if (L.size >= 4 && memcmp (d, "PK\x03\x04", 4) == 0)
    {
      L.format = DN_TORCH_FORMAT_ZIP;
      st = load_zip (&L, &obj);
    }
  else if (L.size >= 262 && memcmp (d + 257, "ustar", 5) == 0)
    st = err (&L, DN_ERROR_UNSUPPORTED, "an old tar-format checkpoint (PyTorch < 0.4); re-save it with a "
              "newer PyTorch");
  else if (d[0] == 0x80)
    {
      L.format = DN_TORCH_FORMAT_LEGACY;
      st = load_legacy (&L, &obj);
    }
  else
    st = err (&L, DN_ERROR_FORMAT, "not a PyTorch checkpoint (neither a zip archive nor a pickle)");

  if (st == DN_OK)
    st = build_state_dict (&L, obj, out);

  for (size_t i = 0; i < L.n_storages; i++)
    free (L.storages[i]->owned);
  free (L.storages);
  dn_str_map_clear (&L.storage_index);
  dn_pickle_free (L.pk);
  dn_zip_free (L.zip);
  free (L.prefix);
  return st;
}

DnStatus
dn_torch_load (const char *path, DnTorchStateDict **out)
{
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dn_torch_load: out is NULL");
  *out = NULL;
  DnIoFile f;
  DnStatus st = dn_io_file_read (path, &f);
  if (st != DN_OK)
    return st;
  st = dn_torch_load_memory (f.data, f.size, path, out);
  dn_io_file_release (&f);
  return st;
}

void
dn_torch_state_dict_free (DnTorchStateDict *sd)
{
  if (!sd)
    return;
  dn_str_map_clear (&sd->index);
  free (sd->names);
  free (sd->block);
  free (sd->tensors);
  free (sd->wrapper);
  free (sd->prefix);
  free (sd);
}

size_t
dn_torch_state_dict_size (const DnTorchStateDict *sd)
{
  return sd ? sd->n : 0;
}

const DnTorchTensor *
dn_torch_state_dict_at (const DnTorchStateDict *sd, size_t i)
{
  return sd && i < sd->n ? &sd->tensors[i] : NULL;
}

const DnTorchTensor *
dn_torch_state_dict_get (const DnTorchStateDict *sd, const char *name)
{
  if (!sd || !name)
    return NULL;
  int64_t i = dn_str_map_get (&sd->index, name, strlen (name));
  return i < 0 ? NULL : &sd->tensors[i];
}

DnTorchFormat
dn_torch_state_dict_format (const DnTorchStateDict *sd)
{
  return sd->format;
}

const char *
dn_torch_state_dict_archive_prefix (const DnTorchStateDict *sd)
{
  return sd->prefix;
}

const char *
dn_torch_state_dict_wrapper_key (const DnTorchStateDict *sd)
{
  return sd->wrapper;
}

int64_t
dn_torch_state_dict_numel (const DnTorchStateDict *sd)
{
  return sd ? sd->numel : 0;
}
