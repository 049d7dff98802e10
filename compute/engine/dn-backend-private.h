/* dn-backend-private.h: device and buffer internals shared by engine/, cpu/ and vulkan/ (not by ops).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdatomic.h>

#include "dn-device-private.h"

typedef struct DnVk DnVk;
typedef struct DnVkBuffer DnVkBuffer;
typedef struct DnCpuPool DnCpuPool;

struct DnBuffer
{
  atomic_int refcount;
  size_t size_bytes;
  DnDevice *dev;
  float *host;    /* CPU backend storage (64-byte aligned) */
  DnVkBuffer *vk; /* Vulkan storage */
};

struct DnDevice
{
  DnBackendKind kind;
  DnDeviceInfo info;
  DnDeviceOptions opts;
  int n_threads;
  DnCpuPool *pool; /* CPU backend (NULL on Vulkan) */
  DnVk *vk;        /* Vulkan backend (NULL on CPU) */
};

struct DnArena
{
  DnDevice *dev;
  DnBuffer *buf; /* NULL while measuring */
  size_t capacity;
  size_t used;
};

DnBuffer *dn_buffer_new (DnDevice *dev, size_t size_bytes, DnStatus *status);
DnBuffer *dn_buffer_ref (DnBuffer *buf);
void dn_buffer_unref (DnBuffer *buf);

/* cpu/dn-cpu.c */
DnCpuPool *dn_cpu_pool_new (int n_threads, DnStatus *status);
/* Keeps freed blocks of up to 64 MiB in the heap (no mmap/munmap and page faults per call). */
void dn_cpu_tune_malloc (void);
void dn_cpu_pool_free (DnCpuPool *pool);
int dn_cpu_count (void);
uint64_t dn_cpu_memory_bytes (void);

/* vulkan/dn-vk.c */
int dn_vk_enumerate (DnDeviceInfo *infos, int max);
DnStatus dn_vk_init (DnDevice *dev);
void dn_vk_fini (DnDevice *dev);
DnStatus dn_vk_buffer_new (DnDevice *dev, size_t size_bytes, DnVkBuffer **out);
void dn_vk_buffer_free (DnDevice *dev, DnVkBuffer *buf);
DnStatus dn_vk_write (DnDevice *dev, DnVkBuffer *buf, size_t offset, const void *src, size_t bytes);
DnStatus dn_vk_read (DnDevice *dev, DnVkBuffer *buf, size_t offset, void *dst, size_t bytes);
DnStatus dn_vk_sync (DnDevice *dev);
int dn_vk_validation_messages (const DnDevice *dev);
void dn_vk_profile_reset (DnDevice *dev);
void dn_vk_profile_report (DnDevice *dev, char *buf, size_t size);
