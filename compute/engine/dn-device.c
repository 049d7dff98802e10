/* dn-device.c: backend-independent parts of devices, buffers, tensors, arenas and argument checks.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-backend-private.h"

#ifdef DN_HAVE_OPENBLAS
#include <cblas.h>
#endif

void
dn_device_options_init (DnDeviceOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->backend = DN_BACKEND_AUTO;
  opts->device_index = -1;
}

static void
cpu_info (DnDeviceInfo *info)
{
  memset (info, 0, sizeof *info);
  info->index = -1;
  info->backend = DN_BACKEND_CPU;
  snprintf (info->name, sizeof info->name, "CPU (%d threads)", dn_cpu_count ());
  info->memory_bytes = dn_cpu_memory_bytes ();
}

int
dn_device_enumerate (DnDeviceInfo *infos, int max)
{
  if (max > 0)
    cpu_info (&infos[0]);
  return 1 + dn_vk_enumerate (max > 1 ? infos + 1 : NULL, max > 1 ? max - 1 : 0);
}

DnDevice *
dn_device_new (const DnDeviceOptions *opts_in, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  DnDeviceOptions opts;
  if (opts_in)
    opts = *opts_in;
  else
    dn_device_options_init (&opts);
  const char *env = getenv ("DN_VULKAN_VALIDATION");
  if (env && env[0] == '1')
    opts.validation = true;

  DnDevice *dev = calloc (1, sizeof *dev);
  if (!dev)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "device: out of memory");
      return NULL;
    }
  dev->opts = opts;

  DnBackendKind kind = opts.backend;
  if (kind == DN_BACKEND_AUTO)
    {
      /* A real GPU if there is one; a software Vulkan device is slower than the CPU backend. */
      DnDeviceInfo infos[16];
      int n = dn_vk_enumerate (infos, 16);
      kind = DN_BACKEND_CPU;
      for (int i = 0; i < n && i < 16; i++)
        if (!infos[i].is_software && (opts.device_index < 0 || opts.device_index == infos[i].index))
          {
            kind = DN_BACKEND_VULKAN;
            if (opts.device_index < 0)
              dev->opts.device_index = infos[i].index;
            break;
          }
    }
  dev->kind = kind;

  if (kind == DN_BACKEND_CPU)
    {
      cpu_info (&dev->info);
      dev->n_threads = opts.n_threads > 0 ? opts.n_threads : dn_cpu_count ();
      snprintf (dev->info.name, sizeof dev->info.name, "CPU (%d threads)", dev->n_threads);
      dev->pool = dn_cpu_pool_new (dev->n_threads, status);
      if (!dev->pool)
        {
          free (dev);
          return NULL;
        }
#ifdef DN_HAVE_OPENBLAS
      /* the pool splits GEMMs itself (dn_cpu_sgemm); OpenBLAS's threads would spin against it */
      openblas_set_num_threads (1);
#endif
    }
  else
    {
      dev->n_threads = 1;
      *status = dn_vk_init (dev);
      if (*status != DN_OK)
        {
          free (dev);
          return NULL;
        }
    }
  *status = DN_OK;
  return dev;
}

void
dn_device_free (DnDevice *dev)
{
  if (!dev)
    return;
  if (dev->vk)
    dn_vk_fini (dev);
  dn_cpu_pool_free (dev->pool);
  free (dev);
}

DnBackendKind
dn_device_backend (const DnDevice *dev)
{
  return dev->kind;
}

bool
dn_device_is_cpu (const DnDevice *dev)
{
  return dev->kind == DN_BACKEND_CPU;
}

const DnDeviceInfo *
dn_device_info (const DnDevice *dev)
{
  return &dev->info;
}

int
dn_device_n_threads (const DnDevice *dev)
{
  return dev->n_threads;
}

DnStatus
dn_device_sync (DnDevice *dev)
{
  return dev->vk ? dn_vk_sync (dev) : DN_OK;
}

int
dn_device_validation_messages (const DnDevice *dev)
{
  return dev->vk ? dn_vk_validation_messages (dev) : 0;
}

void
dn_device_profile_reset (DnDevice *dev)
{
  if (dev->vk)
    dn_vk_profile_reset (dev);
}

void
dn_device_profile_report (DnDevice *dev, char *buf, size_t size)
{
  if (size > 0)
    buf[0] = '\0';
  if (dev->vk)
    dn_vk_profile_report (dev, buf, size);
}

/* Fault injection (tests): the Nth allocation from now fails as out-of-memory. */
static _Thread_local long fail_countdown;

void
dn_debug_fail_allocation_after (long n)
{
  fail_countdown = n;
}

static bool
injected_failure (void)
{
  return fail_countdown > 0 && --fail_countdown == 0;
}

/* Buffers ------------------------------------------------------------------------------------------ */

DnBuffer *
dn_buffer_new (DnDevice *dev, size_t size_bytes, DnStatus *status)
{
  DnBuffer *buf = injected_failure () ? NULL : calloc (1, sizeof *buf);
  if (!buf)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "tensor: out of host memory");
      return NULL;
    }
  atomic_init (&buf->refcount, 1);
  buf->dev = dev;
  buf->size_bytes = size_bytes;
  size_t alloc = size_bytes > 0 ? size_bytes : 4;
  if (dev->kind == DN_BACKEND_CPU)
    {
      alloc = (alloc + 63) & ~(size_t) 63;
      buf->host = aligned_alloc (64, alloc);
      if (!buf->host)
        {
          free (buf);
          *status = dn_set_error (DN_ERROR_NO_MEMORY, "tensor: cannot allocate %zu bytes of host memory",
                                  size_bytes);
          return NULL;
        }
      memset (buf->host, 0, alloc);
    }
  else
    {
      *status = dn_vk_buffer_new (dev, alloc, &buf->vk);
      if (*status != DN_OK)
        {
          free (buf);
          return NULL;
        }
    }
  *status = DN_OK;
  return buf;
}

DnBuffer *
dn_buffer_ref (DnBuffer *buf)
{
  atomic_fetch_add (&buf->refcount, 1);
  return buf;
}

void
dn_buffer_unref (DnBuffer *buf)
{
  if (!buf || atomic_fetch_sub (&buf->refcount, 1) != 1)
    return;
  if (buf->vk)
    dn_vk_buffer_free (buf->dev, buf->vk);
  free (buf->host);
  free (buf);
}

/* Tensors ------------------------------------------------------------------------------------------ */

static int64_t
shape_numel (int ndim, const int64_t *shape)
{
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  return n;
}

static DnStatus
check_shape_arg (const char *what, int ndim, const int64_t *shape)
{
  if (ndim < 0 || ndim > DN_MAX_DIMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %d dimensions (at most %d)", what, ndim, DN_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        return dn_set_error (DN_ERROR_SHAPE, "%s: negative size %" PRId64 " in dimension %d", what,
                             shape[i], i);
      if (shape[i] > 0 && n > (INT64_C (1) << 40) / shape[i])
        return dn_set_error (DN_ERROR_SHAPE, "%s: too many elements", what);
      n *= shape[i];
    }
  return DN_OK;
}

static DnTensor *
tensor_alloc (DnDevice *dev, DnBuffer *buf, int64_t offset, int ndim, const int64_t *shape,
              DnStatus *status)
{
  DnTensor *t = injected_failure () ? NULL : calloc (1, sizeof *t);
  if (!t)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "tensor: out of host memory");
      return NULL;
    }
  t->dev = dev;
  t->buf = buf;
  t->offset = offset;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  *status = DN_OK;
  return t;
}

DnTensor *
dn_tensor_new (DnDevice *dev, int ndim, const int64_t *shape, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  if ((*status = check_shape_arg ("tensor_new", ndim, shape)) != DN_OK)
    return NULL;
  DnBuffer *buf = dn_buffer_new (dev, (size_t) shape_numel (ndim, shape) * sizeof (float), status);
  if (!buf)
    return NULL;
  DnTensor *t = tensor_alloc (dev, buf, 0, ndim, shape, status);
  if (!t)
    dn_buffer_unref (buf);
  return t;
}

DnTensor *
dn_tensor_new1 (DnDevice *dev, int64_t d0, DnStatus *status)
{
  return dn_tensor_new (dev, 1, (int64_t[]){ d0 }, status);
}

DnTensor *
dn_tensor_new2 (DnDevice *dev, int64_t d0, int64_t d1, DnStatus *status)
{
  return dn_tensor_new (dev, 2, (int64_t[]){ d0, d1 }, status);
}

DnTensor *
dn_tensor_new3 (DnDevice *dev, int64_t d0, int64_t d1, int64_t d2, DnStatus *status)
{
  return dn_tensor_new (dev, 3, (int64_t[]){ d0, d1, d2 }, status);
}

DnTensor *
dn_tensor_new4 (DnDevice *dev, int64_t d0, int64_t d1, int64_t d2, int64_t d3, DnStatus *status)
{
  return dn_tensor_new (dev, 4, (int64_t[]){ d0, d1, d2, d3 }, status);
}

DnTensor *
dn_tensor_view (const DnTensor *base, int64_t offset, int ndim, const int64_t *shape, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  if ((*status = check_shape_arg ("tensor_view", ndim, shape)) != DN_OK)
    return NULL;
  int64_t n = shape_numel (ndim, shape);
  if (offset < 0 || offset + n > dn_tensor_numel (base))
    {
      char s[128];
      *status = dn_set_error (DN_ERROR_SHAPE,
                              "tensor_view: %" PRId64 " elements at offset %" PRId64
                              " do not fit in a tensor of shape %s",
                              n, offset, dn_tensor_shape_str (base, s, sizeof s));
      return NULL;
    }
  DnTensor *t = tensor_alloc (base->dev, base->buf, base->offset + offset, ndim, shape, status);
  if (t && t->buf)
    dn_buffer_ref (t->buf);
  return t;
}

void
dn_tensor_free (DnTensor *t)
{
  if (!t)
    return;
  dn_buffer_unref (t->buf);
  free (t);
}

int64_t
dn_tensor_numel (const DnTensor *t)
{
  return shape_numel (t->ndim, t->shape);
}

int64_t
dn_tensor_dim (const DnTensor *t, int d)
{
  if (d < 0)
    d += t->ndim;
  return d >= 0 && d < t->ndim ? t->shape[d] : 1;
}

bool
dn_tensor_same_shape (const DnTensor *a, const DnTensor *b)
{
  if (a->ndim != b->ndim)
    return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return false;
  return true;
}

char *
dn_tensor_shape_str (const DnTensor *t, char *buf, size_t size)
{
  size_t k = 0;
  if (size == 0)
    return buf;
  k += (size_t) snprintf (buf + k, size - k, "(");
  for (int i = 0; i < t->ndim && k < size; i++)
    k += (size_t) snprintf (buf + k, size - k, i ? ",%" PRId64 : "%" PRId64, t->shape[i]);
  if (k < size)
    snprintf (buf + k, size - k, ")");
  return buf;
}

float *
dn_tensor_host (const DnTensor *t)
{
  return t->buf && t->buf->host ? t->buf->host + t->offset : NULL;
}

static DnStatus
check_transfer (const char *op, const DnTensor *t, const void *p, int64_t n)
{
  if (!t || !t->buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: tensor has no storage", op);
  if (!p && n > 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL host pointer", op);
  if (n != dn_tensor_numel (t))
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " host values for a tensor of shape %s (%" PRId64
                           " elements)", op, n, dn_tensor_shape_str (t, s, sizeof s), dn_tensor_numel (t));
    }
  return DN_OK;
}

DnStatus
dn_tensor_upload (DnTensor *t, const float *src, int64_t n)
{
  DN_TRY (check_transfer ("tensor_upload", t, src, n));
  if (n == 0)
    return DN_OK;
  if (t->buf->host)
    {
      memcpy (t->buf->host + t->offset, src, (size_t) n * sizeof (float));
      return DN_OK;
    }
  return dn_vk_write (t->dev, t->buf->vk, (size_t) t->offset * sizeof (float), src, (size_t) n * sizeof (float));
}

DnStatus
dn_tensor_download (const DnTensor *t, float *dst, int64_t n)
{
  DN_TRY (check_transfer ("tensor_download", t, dst, n));
  if (n == 0)
    return DN_OK;
  if (t->buf->host)
    {
      memcpy (dst, t->buf->host + t->offset, (size_t) n * sizeof (float));
      return DN_OK;
    }
  return dn_vk_read (t->dev, t->buf->vk, (size_t) t->offset * sizeof (float), dst, (size_t) n * sizeof (float));
}

/* Arenas ------------------------------------------------------------------------------------------- */

DnArena *
dn_arena_new (DnDevice *dev, size_t capacity_bytes, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  DnArena *a = calloc (1, sizeof *a);
  if (!a)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "arena: out of host memory");
      return NULL;
    }
  a->dev = dev;
  a->capacity = capacity_bytes;
  if (capacity_bytes > 0)
    {
      a->buf = dn_buffer_new (dev, capacity_bytes, status);
      if (!a->buf)
        {
          free (a);
          return NULL;
        }
    }
  *status = DN_OK;
  return a;
}

DnTensor *
dn_arena_tensor (DnArena *a, int ndim, const int64_t *shape, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  if ((*status = check_shape_arg ("arena_tensor", ndim, shape)) != DN_OK)
    return NULL;
  size_t bytes = (size_t) shape_numel (ndim, shape) * sizeof (float);
  size_t start = (a->used + 255) & ~(size_t) 255;
  if (a->buf && start + bytes > a->capacity)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "arena: %zu bytes requested, %zu of %zu left", bytes,
                              a->capacity > start ? a->capacity - start : 0, a->capacity);
      return NULL;
    }
  a->used = start + bytes;
  DnTensor *t = tensor_alloc (a->dev, a->buf, (int64_t) (start / sizeof (float)), ndim, shape, status);
  if (t && t->buf)
    dn_buffer_ref (t->buf);
  return t;
}

size_t
dn_arena_bytes (const DnArena *a)
{
  return (a->used + 255) & ~(size_t) 255;
}

void
dn_arena_reset (DnArena *a)
{
  a->used = 0;
}

void
dn_arena_free (DnArena *a)
{
  if (!a)
    return;
  dn_buffer_unref (a->buf);
  free (a);
}

/* Checks ------------------------------------------------------------------------------------------- */

DnStatus
dn_check_same_device (const char *op, const DnTensor *a, const DnTensor *b)
{
  if (!a || !b)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  if (!a->buf || !b->buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: tensor without storage (from a measuring arena?)", op);
  if (a->dev != b->dev)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: tensors live on different devices", op);
  return DN_OK;
}

DnStatus
dn_check_same_shape (const char *op, const DnTensor *a, const DnTensor *b)
{
  if (!a || !b)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  if (!dn_tensor_same_shape (a, b))
    {
      char sa[128], sb[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: shapes %s and %s differ", op, dn_tensor_shape_str (a, sa, sizeof sa),
                           dn_tensor_shape_str (b, sb, sizeof sb));
    }
  return DN_OK;
}

DnStatus
dn_check_shape (const char *op, const char *name, const DnTensor *t, int ndim, const int64_t *dims)
{
  if (!t)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  if (!t->buf)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s has no storage", op, name);
  bool ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++)
    if (dims[i] >= 0 && t->shape[i] != dims[i])
      ok = false;
  if (ok)
    return DN_OK;
  char got[128], want[128];
  size_t k = 0;
  k += (size_t) snprintf (want + k, sizeof want - k, "(");
  for (int i = 0; i < ndim && k < sizeof want; i++)
    k += dims[i] >= 0 ? (size_t) snprintf (want + k, sizeof want - k, i ? ",%" PRId64 : "%" PRId64, dims[i])
                      : (size_t) snprintf (want + k, sizeof want - k, i ? ",*" : "*");
  if (k < sizeof want)
    snprintf (want + k, sizeof want - k, ")");
  return dn_set_error (DN_ERROR_SHAPE, "%s: %s has shape %s, expected %s", op, name,
                       dn_tensor_shape_str (t, got, sizeof got), want);
}
