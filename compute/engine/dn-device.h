/* dn-device.h: compute devices (Vulkan GPU or native CPU) and the tensors that live on them.
 *
 * A DnDevice is one backend instance. Ops take tensors of one device and run on that device's backend;
 * the caller never needs to know which. On Vulkan, ops are *recorded* into the device's open command
 * buffer (barriers are inserted automatically from each tensor's last access) and submitted once, by
 * dn_device_sync() or implicitly by a download. On the CPU backend ops run at once on a thread pool.
 *
 * Tensors are float32, contiguous, row-major (NCHW for images), up to DN_MAX_DIMS dimensions. A view
 * shares its base's storage at an element offset with a new shape. Storage is reference counted, so a
 * view may outlive its base.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

#define DN_MAX_DIMS 6

typedef enum
{
  DN_BACKEND_AUTO = 0, /* a real GPU if one is present, else the CPU backend */
  DN_BACKEND_CPU,
  DN_BACKEND_VULKAN,   /* Vulkan; with device_index < 0 the first GPU, or a software device if none */
} DnBackendKind;

typedef struct
{
  DnBackendKind backend; /* default DN_BACKEND_AUTO */
  int device_index;      /* Vulkan physical device index (see dn_device_enumerate), -1 = choose */
  bool prefer_software;  /* Vulkan: choose a CPU-type device (lavapipe) when device_index < 0 */
  int n_threads;         /* CPU backend: worker threads, 0 = all cores */
  bool validation;       /* Vulkan: enable VK_LAYER_KHRONOS_validation (also env DN_VULKAN_VALIDATION=1) */
  bool profile;          /* Vulkan: write timestamps around dispatches (see dn_device_profile_*) */
  const char *cache_dir; /* where compiled FFT kernels may be cached, NULL = none */
} DnDeviceOptions;

typedef struct
{
  int index;             /* Vulkan physical device index, or -1 for the CPU backend */
  DnBackendKind backend;
  char name[256];
  bool is_software;      /* a CPU implementation of Vulkan (lavapipe, SwiftShader) */
  bool is_discrete;
  uint64_t memory_bytes; /* largest device-local heap, or system memory for the CPU */
} DnDeviceInfo;

typedef struct DnDevice DnDevice;
typedef struct DnBuffer DnBuffer;

typedef struct DnTensor
{
  DnDevice *dev;
  DnBuffer *buf;      /* shared, reference-counted storage */
  int64_t offset;     /* in elements from the start of buf */
  int ndim;
  int64_t shape[DN_MAX_DIMS];
} DnTensor;

/* Lists the CPU backend (first entry, index -1) and every Vulkan physical device. Returns how many
 * entries exist (may exceed @max; only @max are written). Never fails: no Vulkan means just the CPU. */
int dn_device_enumerate (DnDeviceInfo *infos, int max);

void dn_device_options_init (DnDeviceOptions *opts);

/* Creates a device. Returns NULL on failure with *status set and the reason in dn_last_error(). */
DnDevice *dn_device_new (const DnDeviceOptions *opts, DnStatus *status);
void dn_device_free (DnDevice *dev);

DnBackendKind dn_device_backend (const DnDevice *dev);
bool dn_device_is_cpu (const DnDevice *dev);
const DnDeviceInfo *dn_device_info (const DnDevice *dev);
int dn_device_n_threads (const DnDevice *dev);

/* Submits all recorded work and waits for it (no-op on the CPU backend). */
DnStatus dn_device_sync (DnDevice *dev);

/* Number of validation-layer messages seen since the device was created (0 without validation). */
int dn_device_validation_messages (const DnDevice *dev);

/* Profiling (Vulkan with opts.profile): milliseconds of GPU time spent by each shader since the last
 * reset, written as "name: ms (count)" lines into @buf. */
void dn_device_profile_reset (DnDevice *dev);
void dn_device_profile_report (DnDevice *dev, char *buf, size_t size);

/* Tensors ------------------------------------------------------------------------------------------ */

/* A new zero-filled tensor. Returns NULL on failure (status + dn_last_error()). */
DnTensor *dn_tensor_new (DnDevice *dev, int ndim, const int64_t *shape, DnStatus *status);
/* Convenience: shape given as arguments, e.g. dn_tensor_new4 (dev, N, C, H, W, &st). */
DnTensor *dn_tensor_new1 (DnDevice *dev, int64_t d0, DnStatus *status);
DnTensor *dn_tensor_new2 (DnDevice *dev, int64_t d0, int64_t d1, DnStatus *status);
DnTensor *dn_tensor_new3 (DnDevice *dev, int64_t d0, int64_t d1, int64_t d2, DnStatus *status);
DnTensor *dn_tensor_new4 (DnDevice *dev, int64_t d0, int64_t d1, int64_t d2, int64_t d3, DnStatus *status);
/* A view of @numel(shape) elements of @base starting at @offset (elements). */
DnTensor *dn_tensor_view (const DnTensor *base, int64_t offset, int ndim, const int64_t *shape, DnStatus *status);
void dn_tensor_free (DnTensor *t);

int64_t dn_tensor_numel (const DnTensor *t);
/* Size of dimension @d; negative @d counts from the end. */
int64_t dn_tensor_dim (const DnTensor *t, int d);
bool dn_tensor_same_shape (const DnTensor *a, const DnTensor *b);
/* Writes e.g. "(2,3,93,93)" into @buf; returns @buf. */
char *dn_tensor_shape_str (const DnTensor *t, char *buf, size_t size);

DnStatus dn_tensor_upload (DnTensor *t, const float *src, int64_t n);
DnStatus dn_tensor_download (const DnTensor *t, float *dst, int64_t n);
/* Copies src into dst (same numel), recorded like an op. */
DnStatus dn_tensor_copy (DnTensor *dst, const DnTensor *src);
/* Sets every element to @value, recorded like an op. */
DnStatus dn_tensor_fill (DnTensor *t, float value);
/* Host pointer to the first element: CPU backend only (NULL on Vulkan). */
float *dn_tensor_host (const DnTensor *t);

/* Returns DN_ERROR_NON_FINITE (naming @what) if @t holds a NaN or an infinity, DN_OK otherwise.
 * Synchronizes the device. */
DnStatus dn_tensor_check_finite (const DnTensor *t, const char *what);

/* Tests only: makes the @n-th engine allocation (tensor or buffer) from now on this thread fail with
 * DN_ERROR_NO_MEMORY, so that cleanup paths can be swept; 0 disables. */
void dn_debug_fail_allocation_after (long n);

/* Memory plans ------------------------------------------------------------------------------------- */
/* An arena is one device allocation out of which many tensors are carved (256-byte aligned), so that a
 * training or ascent step allocates nothing. Measure first (dn_arena_new (dev, 0) + allocs counts the
 * bytes with no storage: tensors from a measuring arena have buf == NULL and must not be used), then
 * create the real arena with dn_arena_bytes() of the measuring one. */
typedef struct DnArena DnArena;
DnArena *dn_arena_new (DnDevice *dev, size_t capacity_bytes, DnStatus *status);
DnTensor *dn_arena_tensor (DnArena *arena, int ndim, const int64_t *shape, DnStatus *status);
size_t dn_arena_bytes (const DnArena *arena);
/* Forgets every tensor carved so far (their storage stays valid until the arena is freed). */
void dn_arena_reset (DnArena *arena);
void dn_arena_free (DnArena *arena);
