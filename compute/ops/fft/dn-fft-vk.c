/* dn-fft-vk.c: the VkFFT wrapper, the only file that includes vkFFT.h (a build-time patched copy of
 * Debian's libvkfft-dev header, see patch-vkfft.py; its static inline bulk compiles once, here).
 *
 * Ownership: the device owns instance, device, queue, command pool and fence; the DnFftPlan owns the work
 * tensor; a DnFftVk owns only what VkFFT created (its pipelines, descriptor sets, temp buffer), released
 * by deleteVkFFT. VkFFT keeps *pointers* to the handles and buffer in its configuration, so they live in
 * the DnFftVk itself.
 *
 * VkFFT records into the engine's open command buffer (dn_vk_record_external inserts the barrier the work
 * tensor needs and marks it written); VkFFT puts its own barriers between its kernels. At creation VkFFT
 * may upload tables through the device's queue and fence (its own one-time command buffers).
 *
 * Kernel cache: VkFFT compiles GLSL with glslang at creation (seconds on a software device). With
 * DnDeviceOptions.cache_dir set, the compiled SPIR-V (saveApplicationToString) is stored there under a
 * name that encodes the device, driver, VkFFT version and the plan's shape, and loaded
 * (loadApplicationFromString) next time; a stale or corrupt file just means compiling again.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dn-vk-private.h"
#define VKFFT_BACKEND 0
#include "ops/fft/dn-vkfft.h" /* generated into the build dir by patch-vkfft.py */

#include "dn-fft-private.h"

struct DnFftVk
{
  DnDevice *dev;
  DnTensor *work;       /* not owned: the plan's (batch,H,W,2) work tensor */
  DnVkHandles handles;  /* VkFFT's configuration points at these */
  VkBuffer buffer;      /* work's VkBuffer */
  uint64_t buffer_size; /* bytes VkFFT may touch from bufferOffset */
  VkFFTApplication app;
  bool app_live;        /* initializeVkFFT succeeded: deleteVkFFT needed */
};

bool
dn_fft_vk_radix_size (int64_t n)
{
  if (n < 1)
    return false;
  static const int primes[] = { 2, 3, 5, 7, 11, 13 };
  for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++)
    while (n % primes[i] == 0)
      n /= primes[i];
  return n == 1;
}

static DnStatus
vkfft_error (VkFFTResult r, const char *what)
{
  DnStatus st = DN_ERROR_FFT;
  if (r == VKFFT_ERROR_MALLOC_FAILED)
    st = DN_ERROR_NO_MEMORY;
  return dn_set_error (st, "fft: VkFFT %s: %s (%d)", what, dn_vkfft_result_string (r), (int) r);
}

/* The cache file name for this device and configuration (NULL: no cache dir). Caller frees. */
static char *
cache_path (DnFftVk *f, const VkFFTConfiguration *c)
{
  const char *dir = f->dev->opts.cache_dir;
  if (!dir || !*dir)
    return NULL;
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties (f->handles.physical_device, &p);
  char uuid[2 * VK_UUID_SIZE + 1];
  for (unsigned i = 0; i < VK_UUID_SIZE; i++)
    snprintf (uuid + 2 * i, 3, "%02x", p.pipelineCacheUUID[i]);
  size_t len = strlen (dir) + 256;
  char *path = malloc (len);
  if (!path)
    return NULL;
  snprintf (path, len,
            "%s/vkfft-%d-%04x-%04x-%08x-%s-d%" PRIu64 "-%" PRIu64 "x%" PRIu64 "-o%" PRIu64 "-b%" PRIu64 ".spv",
            dir, VkFFTGetVersion (), p.vendorID, p.deviceID, p.driverVersion, uuid, c->FFTdim, c->size[0],
            c->size[1], c->omitDimension[0], c->numberBatches);
  return path;
}

static void *
read_file (const char *path, size_t *size)
{
  FILE *fp = fopen (path, "rb");
  if (!fp)
    return NULL;
  void *data = NULL;
  long n;
  if (fseek (fp, 0, SEEK_END) == 0 && (n = ftell (fp)) > 0 && n % 4 == 0 && fseek (fp, 0, SEEK_SET) == 0)
    {
      data = malloc ((size_t) n);
      if (data && fread (data, 1, (size_t) n, fp) != (size_t) n)
        {
          free (data);
          data = NULL;
        }
      *size = (size_t) n;
    }
  fclose (fp);
  return data;
}

/* Best effort: a cache that cannot be written is not an error. */
static void
write_file (const char *path, const void *data, size_t size)
{
  size_t len = strlen (path) + 32;
  char *tmp = malloc (len);
  if (!tmp)
    return;
  snprintf (tmp, len, "%s.%ld.tmp", path, (long) getpid ());
  FILE *fp = fopen (tmp, "wb");
  if (fp)
    {
      bool ok = fwrite (data, 1, size, fp) == size;
      ok = fclose (fp) == 0 && ok;
      if (!ok || rename (tmp, path) != 0)
        remove (tmp);
    }
  free (tmp);
}

DnStatus
dn_fft_vk_new (DnDevice *dev, DnTensor *work, int64_t batch, int64_t h, int64_t w, int axes, DnFftVk **out)
{
  *out = NULL;
  if (dn_device_is_cpu (dev) || !work || !work->buf || !work->buf->vk)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "fft: VkFFT needs a Vulkan device and work tensor");
  DnFftVk *f = calloc (1, sizeof *f);
  if (!f)
    return dn_set_error (DN_ERROR_NO_MEMORY, "fft: out of host memory");
  f->dev = dev;
  f->work = work;
  dn_vk_get_handles (dev, &f->handles);
  f->buffer = dn_vk_buffer_handle (work->buf->vk);
  f->buffer_size = (uint64_t) dn_tensor_numel (work) * sizeof (float);

  VkFFTConfiguration c = { 0 };
  if (axes == (DN_FFT_VK_AXIS_W | DN_FFT_VK_AXIS_H))
    {
      c.FFTdim = 2;
      c.size[0] = (uint64_t) w;
      c.size[1] = (uint64_t) h;
      c.numberBatches = (uint64_t) batch;
    }
  else if (axes == DN_FFT_VK_AXIS_W || (axes == DN_FFT_VK_AXIS_H && w == 1))
    {
      /* rows are contiguous: a 1-D transform over batch·H rows (or, with W = 1, over batch columns) */
      c.FFTdim = 1;
      c.size[0] = (uint64_t) (axes == DN_FFT_VK_AXIS_W ? w : h);
      c.numberBatches = (uint64_t) (axes == DN_FFT_VK_AXIS_W ? batch * h : batch);
    }
  else if (axes == DN_FFT_VK_AXIS_H)
    {
      c.FFTdim = 2;
      c.size[0] = (uint64_t) w;
      c.size[1] = (uint64_t) h;
      c.omitDimension[0] = 1;
      c.numberBatches = (uint64_t) batch;
    }
  else
    {
      free (f);
      return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "fft: VkFFT plan with no axes");
    }
  c.physicalDevice = &f->handles.physical_device;
  c.device = &f->handles.device;
  c.queue = &f->handles.queue;
  c.commandPool = &f->handles.command_pool;
  c.fence = &f->handles.fence;
  c.buffer = &f->buffer;
  c.bufferSize = &f->buffer_size;
  c.bufferOffset = (uint64_t) work->offset * sizeof (float);

  char *path = cache_path (f, &c);
  size_t cached_size = 0;
  void *cached = path ? read_file (path, &cached_size) : NULL;
  VkFFTResult r = VKFFT_ERROR_PLAN_NOT_INITIALIZED;
  if (cached)
    {
      VkFFTConfiguration lc = c;
      lc.loadApplicationFromString = 1;
      lc.loadApplicationString = cached;
      r = initializeVkFFT (&f->app, lc);
      if (r != VKFFT_SUCCESS)
        {
          /* a stale cache entry: forget it, compile afresh */
          deleteVkFFT (&f->app);
          memset (&f->app, 0, sizeof f->app);
        }
      free (cached);
    }
  if (r != VKFFT_SUCCESS)
    {
      VkFFTConfiguration sc = c;
      sc.saveApplicationToString = path != NULL;
      r = initializeVkFFT (&f->app, sc);
      if (r == VKFFT_SUCCESS && path && f->app.saveApplicationString && f->app.applicationStringSize > 0)
        write_file (path, f->app.saveApplicationString, (size_t) f->app.applicationStringSize);
    }
  free (path);
  if (r != VKFFT_SUCCESS)
    {
      deleteVkFFT (&f->app);
      free (f);
      return vkfft_error (r, "initializeVkFFT");
    }
  f->app_live = true;
  *out = f;
  return DN_OK;
}

DnStatus
dn_fft_vk_record (DnFftVk *f, int direction)
{
  VkCommandBuffer cmd;
  DnBinding b[] = { DN_READ_WRITE (f->work) };
  DN_TRY (dn_vk_record_external (f->dev, b, 1, &cmd));
  VkFFTLaunchParams lp = { 0 };
  lp.commandBuffer = &cmd;
  VkFFTResult r = VkFFTAppend (&f->app, direction < 0 ? -1 : 1, &lp);
  if (r != VKFFT_SUCCESS)
    return vkfft_error (r, "VkFFTAppend");
  return DN_OK;
}

void
dn_fft_vk_free (DnFftVk *f)
{
  if (!f)
    return;
  if (f->app_live)
    deleteVkFFT (&f->app);
  free (f);
}
