/* dn-fft.c: batched 2-D complex FFT plans and dn_fft2_forward/backward on both backends.
 *
 * CPU: FFTW (single precision). A DnFftPlan keeps one fftwf_plan per (direction, in place, aligned)
 * variant for one H×W transform, made on first use under the global planning mutex (FFTW's planner is not
 * thread-safe; fftwf_execute_dft is) and executed for the batch items in parallel on the device's threads.
 *
 * Vulkan: per axis, one of
 *   - skip (length 1: the DFT is the identity),
 *   - VkFFT (the length's prime factors are all ≤ 13; dn-fft-vk.c), in place on the plan's work tensor,
 *   - the direct DFT shader (shaders/fft/fft_dft.comp): O(n) per output along one axis, any length.
 * A call copies the input into the work tensor (VkFFT's descriptor sets are bound to it once and for
 * all), runs the VkFFT axes there, and finishes with a pass that writes the output with the norm's scale
 * (or adds it, for the backward): either the direct DFT of the last axis or fft_scale.comp.
 *
 * Backward: for y = s·F_d(x), dx += s·F_{-d}(dy) (see dn-ops-fft.h for the complex-gradient convention).
 * Mirrors dn_ref_fft2_forward/backward (compute/ref/dn-ref-fft.c).
 * SPDX-License-Identifier: MIT
 */
#include <fftw3.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-fft-private.h"
#include "dn-ops-fft.h"

/* Planning lock ------------------------------------------------------------------------------------ */

static pthread_mutex_t plan_mutex = PTHREAD_MUTEX_INITIALIZER;

void
dn_fft_plan_lock (void)
{
  pthread_mutex_lock (&plan_mutex);
}

void
dn_fft_plan_unlock (void)
{
  pthread_mutex_unlock (&plan_mutex);
}

/* Plans -------------------------------------------------------------------------------------------- */

typedef enum
{
  AXIS_SKIP = 0,
  AXIS_VKFFT,
  AXIS_DIRECT,
} AxisMode;

struct DnFftPlan
{
  DnDevice *dev;
  int64_t h, w, batch;
  unsigned flags;
  bool empty; /* a zero size: every call is a no-op */
  /* CPU */
  fftwf_plan fftw[2][2][2]; /* [inverse][in place][unaligned], made on first use */
  /* Vulkan */
  AxisMode mode_w, mode_h;
  bool fallback;
  DnFftVk *vk;          /* VkFFT for the AXIS_VKFFT axes, or NULL */
  DnTensor *work;       /* (batch, H, W, 2) */
  char desc[64];
};

static const char *
mode_name (AxisMode m)
{
  return m == AXIS_VKFFT ? "vkfft" : m == AXIS_DIRECT ? "direct" : "skip";
}

static void
describe (DnFftPlan *p)
{
  if (dn_device_is_cpu (p->dev))
    snprintf (p->desc, sizeof p->desc, "fftw");
  else if (p->mode_w == p->mode_h || p->mode_h == AXIS_SKIP)
    snprintf (p->desc, sizeof p->desc, "%s", mode_name (p->mode_w));
  else if (p->mode_w == AXIS_SKIP)
    snprintf (p->desc, sizeof p->desc, "%s", mode_name (p->mode_h));
  else
    snprintf (p->desc, sizeof p->desc, "%s(W)+%s(H)", mode_name (p->mode_w), mode_name (p->mode_h));
}

/* Host float64 DFT along one axis of one (h, w) complex image, in place (for the VkFFT self-test).
 * @tw: e^{2πi j/n}, j < n, for this axis' length n; @line, @res: 2n doubles each. */
static void
host_dft_axis (double *img, int64_t h, int64_t w, bool along_w, int sign, const double *tw, double *line,
               double *res)
{
  int64_t n = along_w ? w : h, lines = along_w ? h : w, stride = along_w ? 1 : w;
  for (int64_t l = 0; l < lines; l++)
    {
      double *base = img + 2 * (along_w ? l * w : l);
      for (int64_t j = 0; j < n; j++)
        {
          line[2 * j] = base[2 * j * stride];
          line[2 * j + 1] = base[2 * j * stride + 1];
        }
      for (int64_t k = 0; k < n; k++)
        {
          double re = 0, im = 0;
          for (int64_t j = 0, t = 0; j < n; j++, t = t + k >= n ? t + k - n : t + k)
            {
              double c = tw[2 * t], s = sign * tw[2 * t + 1];
              re += line[2 * j] * c - line[2 * j + 1] * s;
              im += line[2 * j] * s + line[2 * j + 1] * c;
            }
          res[2 * k] = re;
          res[2 * k + 1] = im;
        }
      for (int64_t k = 0; k < n; k++)
        {
          base[2 * k * stride] = res[2 * k];
          base[2 * k * stride + 1] = res[2 * k + 1];
        }
    }
}

/* Runs the VkFFT part of the plan on deterministic data, both directions, and compares batch items 0 and
 * batch−1 with a float64 DFT on the host. *ok = false when VkFFT's result is wrong (a device or size where
 * VkFFT is not exact); a failing engine call is an error. */
static DnStatus
vkfft_selftest (DnFftPlan *p, bool *ok)
{
  *ok = true;
  int64_t img = p->h * p->w * 2, n = img * p->batch, nmax = p->h > p->w ? p->h : p->w;
  float *x = malloc ((size_t) n * sizeof *x);
  float *y = malloc ((size_t) n * sizeof *y);
  double *ref = malloc ((size_t) img * sizeof *ref);
  double *line = malloc ((size_t) (4 * nmax) * sizeof *line);
  double *tw = malloc ((size_t) (2 * (p->w + p->h)) * sizeof *tw);
  DnStatus st = DN_OK;
  if (!x || !y || !ref || !line || !tw)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "fft: out of host memory");
      goto out;
    }
  for (int64_t j = 0; j < p->w; j++)
    {
      tw[2 * j] = cos (2.0 * M_PI * (double) j / (double) p->w);
      tw[2 * j + 1] = sin (2.0 * M_PI * (double) j / (double) p->w);
    }
  for (int64_t j = 0; j < p->h; j++)
    {
      tw[2 * (p->w + j)] = cos (2.0 * M_PI * (double) j / (double) p->h);
      tw[2 * (p->w + j) + 1] = sin (2.0 * M_PI * (double) j / (double) p->h);
    }
  uint64_t s = 0x2545f4914f6cdd1dull;
  for (int64_t i = 0; i < n; i++)
    {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x[i] = (float) ((double) (s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
  for (int dir = -1; dir <= 1 && *ok; dir += 2)
    {
      if ((st = dn_tensor_upload (p->work, x, n)) != DN_OK || (st = dn_fft_vk_record (p->vk, dir)) != DN_OK
          || (st = dn_tensor_download (p->work, y, n)) != DN_OK)
        goto out;
      int64_t items[2] = { 0, p->batch - 1 };
      for (int k = 0; k < (p->batch > 1 ? 2 : 1) && *ok; k++)
        {
          const float *xb = x + items[k] * img, *yb = y + items[k] * img;
          for (int64_t i = 0; i < img; i++)
            ref[i] = xb[i];
          if (p->mode_w == AXIS_VKFFT)
            host_dft_axis (ref, p->h, p->w, true, dir, tw, line, line + 2 * nmax);
          if (p->mode_h == AXIS_VKFFT)
            host_dft_axis (ref, p->h, p->w, false, dir, tw + 2 * p->w, line, line + 2 * nmax);
          double err = 0, mag = 1e-30;
          for (int64_t i = 0; i < img; i++)
            {
              double e = fabs (yb[i] - ref[i]);
              err = e > err || isnan (e) ? e : err;
              mag = fabs (ref[i]) > mag ? fabs (ref[i]) : mag;
            }
          /* float32 FFTs are ~1e-7 relative; a broken kernel is O(1) off */
          if (!(err <= 1e-4 * mag))
            *ok = false;
        }
    }
out:
  free (x);
  free (y);
  free (ref);
  free (line);
  free (tw);
  return st;
}

static DnStatus
vk_plan_init (DnFftPlan *p)
{
  DnStatus st;
  const int64_t shape[4] = { p->batch, p->h, p->w, 2 };
  p->work = dn_tensor_new (p->dev, 4, shape, &st);
  if (!p->work)
    return st;
  bool direct = p->flags & DN_FFT_PLAN_DIRECT;
  p->mode_w = p->w == 1 ? AXIS_SKIP : !direct && dn_fft_vk_radix_size (p->w) ? AXIS_VKFFT : AXIS_DIRECT;
  p->mode_h = p->h == 1 ? AXIS_SKIP : !direct && dn_fft_vk_radix_size (p->h) ? AXIS_VKFFT : AXIS_DIRECT;
  /* VkFFT along H alone needs omitDimension[0], and VkFFT 1.2.26 still plans (Rader/Bluestein, with null
   * buffers bound) for an omitted non-radix W: use the direct shader for both axes then */
  if (p->mode_w == AXIS_DIRECT)
    p->mode_h = p->h == 1 ? AXIS_SKIP : AXIS_DIRECT;
  int axes = (p->mode_w == AXIS_VKFFT ? DN_FFT_VK_AXIS_W : 0) | (p->mode_h == AXIS_VKFFT ? DN_FFT_VK_AXIS_H : 0);
  if (axes)
    {
      dn_fft_plan_lock ();
      st = dn_fft_vk_new (p->dev, p->work, p->batch, p->h, p->w, axes, &p->vk);
      dn_fft_plan_unlock ();
      if (st != DN_OK)
        return st;
      if (!(p->flags & DN_FFT_PLAN_NO_SELFTEST))
        {
          bool ok;
          DN_TRY (vkfft_selftest (p, &ok));
          if (!ok)
            {
              if (getenv ("DN_FFT_DEBUG"))
                fprintf (stderr, "dualneuron: fft: VkFFT failed its self-test for %" PRId64 "x%" PRId64
                                 " (batch %" PRId64 ") on %s: using the direct DFT\n",
                         p->h, p->w, p->batch, dn_device_info (p->dev)->name);
              dn_device_sync (p->dev);
              dn_fft_plan_lock ();
              dn_fft_vk_free (p->vk);
              dn_fft_plan_unlock ();
              p->vk = NULL;
              if (p->mode_w == AXIS_VKFFT)
                p->mode_w = AXIS_DIRECT;
              if (p->mode_h == AXIS_VKFFT)
                p->mode_h = AXIS_DIRECT;
            }
        }
    }
  p->fallback = p->mode_w == AXIS_DIRECT || p->mode_h == AXIS_DIRECT;
  if ((p->mode_w == AXIS_DIRECT && p->w >= (1 << 28)) || (p->mode_h == AXIS_DIRECT && p->h >= (1 << 28)))
    return dn_set_error (DN_ERROR_UNSUPPORTED, "fft_plan_new: a direct DFT of length %" PRId64 " (≥ 2^28)",
                         p->mode_w == AXIS_DIRECT ? p->w : p->h);
  return DN_OK;
}

DnFftPlan *
dn_fft_plan_new_full (DnDevice *dev, int64_t h, int64_t w, int64_t batch, unsigned flags, DnStatus *status)
{
  DnStatus st_dummy;
  if (!status)
    status = &st_dummy;
  if (!dev)
    {
      *status = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "fft_plan_new: no device");
      return NULL;
    }
  if (h < 0 || w < 0 || batch < 0)
    {
      *status = dn_set_error (DN_ERROR_SHAPE, "fft_plan_new: negative size (batch %" PRId64 ", %" PRId64
                                              "x%" PRId64 ")", batch, h, w);
      return NULL;
    }
  if ((h > 0 && w > 0 && batch > 0) && (h > INT_MAX || w > INT_MAX || batch * h * w * 2 > (int64_t) UINT32_MAX))
    {
      *status = dn_set_error (DN_ERROR_SHAPE, "fft_plan_new: batch %" PRId64 " of %" PRId64 "x%" PRId64
                                              " exceeds the 2^32-element limit", batch, h, w);
      return NULL;
    }
  DnFftPlan *p = calloc (1, sizeof *p);
  if (!p)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "fft_plan_new: out of host memory");
      return NULL;
    }
  p->dev = dev;
  p->h = h;
  p->w = w;
  p->batch = batch;
  p->flags = flags;
  p->empty = h == 0 || w == 0 || batch == 0;
  if (!p->empty && !dn_device_is_cpu (dev))
    {
      DnStatus st = vk_plan_init (p);
      if (st != DN_OK)
        {
          dn_fft_plan_free (p);
          *status = st;
          return NULL;
        }
    }
  describe (p);
  if (p->empty)
    snprintf (p->desc, sizeof p->desc, "empty");
  *status = DN_OK;
  return p;
}

DnFftPlan *
dn_fft_plan_new (DnDevice *dev, int64_t h, int64_t w, int64_t batch, DnStatus *status)
{
  return dn_fft_plan_new_full (dev, h, w, batch, 0, status);
}

void
dn_fft_plan_free (DnFftPlan *p)
{
  if (!p)
    return;
  if (p->vk)
    {
      dn_device_sync (p->dev); /* recorded work may still use VkFFT's pipelines */
      dn_fft_plan_lock ();
      dn_fft_vk_free (p->vk);
      dn_fft_plan_unlock ();
    }
  dn_tensor_free (p->work);
  dn_fft_plan_lock ();
  for (int i = 0; i < 8; i++)
    if (p->fftw[i >> 2][(i >> 1) & 1][i & 1])
      fftwf_destroy_plan (p->fftw[i >> 2][(i >> 1) & 1][i & 1]);
  dn_fft_plan_unlock ();
  free (p);
}

bool
dn_fft_plan_uses_fallback (const DnFftPlan *p)
{
  return p && p->fallback;
}

const char *
dn_fft_plan_describe (const DnFftPlan *p)
{
  return p ? p->desc : "";
}

/* Shape checks ------------------------------------------------------------------------------------- */

static DnStatus
check_tensor (const char *op, const DnFftPlan *p, const DnTensor *t, const char *name)
{
  char s[128];
  if (!t)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  if (t->dev != p->dev)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %s is on another device than the plan", op, name);
  int64_t lead = 1;
  for (int d = 0; d + 3 < t->ndim; d++)
    lead *= t->shape[d];
  if (t->ndim < 3 || t->shape[t->ndim - 1] != 2 || t->shape[t->ndim - 2] != p->w || t->shape[t->ndim - 3] != p->h
      || lead != p->batch)
    return dn_set_error (DN_ERROR_SHAPE,
                         "%s: %s is %s, but the plan wants (..., %" PRId64 ", %" PRId64 ", 2) with %" PRId64
                         " transforms in the leading dims",
                         op, name, dn_tensor_shape_str (t, s, sizeof s), p->h, p->w, p->batch);
  return DN_OK;
}

static DnStatus
check_args (const char *op, const DnFftPlan *p, const DnTensor *a, const char *an, const DnTensor *b,
            const char *bn, DnFftDirection dir, DnFftNorm norm)
{
  if (!p)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: no plan", op);
  if (dir != DN_FFT_FORWARD && dir != DN_FFT_INVERSE)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: direction %d (want -1 or +1)", op, (int) dir);
  if (norm != DN_FFT_NORM_BACKWARD && norm != DN_FFT_NORM_ORTHO && norm != DN_FFT_NORM_FORWARD)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: unknown norm %d", op, (int) norm);
  DN_TRY (check_tensor (op, p, a, an));
  DN_TRY (check_tensor (op, p, b, bn));
  return DN_OK;
}

static float
norm_scale (const DnFftPlan *p, DnFftDirection dir, DnFftNorm norm)
{
  double n = (double) p->h * (double) p->w;
  switch (norm)
    {
    case DN_FFT_NORM_ORTHO:
      return (float) (1.0 / sqrt (n));
    case DN_FFT_NORM_FORWARD:
      return dir == DN_FFT_FORWARD ? (float) (1.0 / n) : 1.0f;
    case DN_FFT_NORM_BACKWARD:
    default:
      return dir == DN_FFT_INVERSE ? (float) (1.0 / n) : 1.0f;
    }
}

/* CPU (FFTW) --------------------------------------------------------------------------------------- */

static bool
misaligned (const float *ptr)
{
  return fftwf_alignment_of ((float *) ptr) != 0;
}

/* Makes (once) the FFTW plan for this variant. Call with the planning lock held. */
static DnStatus
fftw_variant (DnFftPlan *p, int sign, bool in_place, bool unaligned)
{
  fftwf_plan *slot = &p->fftw[sign > 0][in_place][unaligned];
  if (*slot)
    return DN_OK;
  size_t bytes = (size_t) (p->h * p->w) * sizeof (fftwf_complex);
  fftwf_complex *a = fftwf_malloc (bytes), *b = in_place ? a : fftwf_malloc (bytes);
  if (a && b)
    {
      unsigned flags = (p->flags & DN_FFT_PLAN_ESTIMATE ? FFTW_ESTIMATE : FFTW_MEASURE) | (unaligned ? FFTW_UNALIGNED : 0);
      *slot = fftwf_plan_dft_2d ((int) p->h, (int) p->w, a, b, sign, flags);
    }
  if (b && b != a)
    fftwf_free (b);
  if (a)
    fftwf_free (a);
  if (!*slot)
    return dn_set_error (DN_ERROR_FFT, "fft: FFTW could not plan a %" PRId64 "x%" PRId64 " transform", p->h, p->w);
  return DN_OK;
}

typedef struct
{
  DnFftPlan *p;
  float *y;
  const float *x;
  int sign;
  float scale;
  bool acc;
  DnStatus status; /* set by a chunk that could not allocate its scratch */
} CpuArgs;

static void
cpu_range (void *ctx, int64_t b0, int64_t b1)
{
  CpuArgs *a = ctx;
  DnFftPlan *p = a->p;
  int64_t img = p->h * p->w * 2;
  float *scratch = NULL;
  if (a->acc)
    {
      scratch = fftwf_malloc ((size_t) img * sizeof (float));
      if (!scratch)
        {
          a->status = DN_ERROR_NO_MEMORY;
          return;
        }
    }
  for (int64_t b = b0; b < b1; b++)
    {
      const float *xb = a->x + b * img;
      float *yb = a->y + b * img;
      if (!a->acc)
        {
          bool in_place = xb == yb;
          fftwf_plan fp = p->fftw[a->sign > 0][in_place][misaligned (xb) || misaligned (yb)];
          fftwf_execute_dft (fp, (fftwf_complex *) xb, (fftwf_complex *) yb);
          if (a->scale != 1.0f)
            for (int64_t i = 0; i < img; i++)
              yb[i] *= a->scale;
        }
      else
        {
          fftwf_plan fp = p->fftw[a->sign > 0][false][misaligned (xb)];
          fftwf_execute_dft (fp, (fftwf_complex *) xb, (fftwf_complex *) scratch);
          for (int64_t i = 0; i < img; i++)
            yb[i] += a->scale * scratch[i];
        }
    }
  fftwf_free (scratch);
}

static DnStatus
cpu_run (DnFftPlan *p, DnTensor *out, const DnTensor *inp, int sign, float scale, bool acc)
{
  int64_t img = p->h * p->w * 2, n = img * p->batch;
  float *y = dn_tensor_host (out);
  const float *x = dn_tensor_host (inp);
  float *copy = NULL;
  /* FFTW needs the input and output of a transform to be the same array or disjoint */
  if (x != y && x < y + n && y < x + n)
    {
      copy = fftwf_malloc ((size_t) n * sizeof *copy);
      if (!copy)
        return dn_set_error (DN_ERROR_NO_MEMORY, "fft2: out of host memory");
      memcpy (copy, x, (size_t) n * sizeof *copy);
      x = copy;
    }
  /* make the variants this call needs, before going parallel */
  DnStatus st = DN_OK;
  dn_fft_plan_lock ();
  for (int64_t b = 0; b < p->batch && st == DN_OK; b++)
    {
      const float *xb = x + b * img;
      float *yb = y + b * img;
      if (acc)
        st = fftw_variant (p, sign, false, misaligned (xb));
      else
        st = fftw_variant (p, sign, xb == yb, misaligned (xb) || misaligned (yb));
    }
  dn_fft_plan_unlock ();
  if (st == DN_OK)
    {
      CpuArgs a = { .p = p, .y = y, .x = x, .sign = sign, .scale = scale, .acc = acc, .status = DN_OK };
      dn_cpu_parallel_for (p->dev, p->batch, 1, cpu_range, &a);
      if (a.status != DN_OK)
        st = dn_set_error (a.status, "fft2: out of host memory");
    }
  fftwf_free (copy);
  return st;
}

/* Vulkan ------------------------------------------------------------------------------------------- */

typedef struct
{
  uint32_t n;
  float s;
  uint32_t acc;
} ScaleParams;
_Static_assert (sizeof (ScaleParams) == 12, "ScaleParams must mirror fft_scale.comp");

/* y = (acc ? y : 0) + s·x, elementwise */
static DnStatus
vk_scale (DnTensor *y, const DnTensor *x, float s, bool acc)
{
  ScaleParams pc = { (uint32_t) dn_tensor_numel (x), s, acc };
  DnBinding b[] = { DN_READ (x), acc ? DN_READ_WRITE (y) : DN_WRITE (y) };
  return dn_vk_dispatch_1d (y->dev, DN_SHADER_FFT_SCALE, b, 2, &pc, sizeof pc, dn_tensor_numel (x));
}

typedef struct
{
  uint32_t n;            /* transform length */
  uint32_t stride;       /* complex elements between consecutive elements of a line */
  uint32_t inner;        /* lines per image-row block: line l starts at (l / inner)·outer_stride + (l % inner)·inner_stride */
  uint32_t outer_stride;
  uint32_t inner_stride;
  uint32_t n_lines;
  float sign;
  float s;
  uint32_t acc;
} DftParams;
_Static_assert (sizeof (DftParams) == 36, "DftParams must mirror fft_dft.comp");

#define DFT_LOCAL 64

static DnStatus
vk_dft_axis (DnFftPlan *p, bool along_w, DnTensor *y, const DnTensor *x, int sign, float s, bool acc)
{
  DftParams pc;
  if (along_w)
    pc = (DftParams){ .n = (uint32_t) p->w, .stride = 1, .inner = 1, .outer_stride = (uint32_t) p->w,
                      .inner_stride = 0, .n_lines = (uint32_t) (p->batch * p->h) };
  else
    pc = (DftParams){ .n = (uint32_t) p->h, .stride = (uint32_t) p->w, .inner = (uint32_t) p->w,
                      .outer_stride = (uint32_t) (p->h * p->w), .inner_stride = 1,
                      .n_lines = (uint32_t) (p->batch * p->w) };
  pc.sign = (float) sign;
  pc.s = s;
  pc.acc = acc;
  uint32_t gx = dn_div_up (pc.n, DFT_LOCAL);
  uint32_t gy = pc.n_lines > 65535 ? 65535 : pc.n_lines;
  uint32_t gz = dn_div_up (pc.n_lines, gy);
  DnBinding b[] = { DN_READ (x), acc ? DN_READ_WRITE (y) : DN_WRITE (y) };
  return dn_vk_dispatch (p->dev, DN_SHADER_FFT_DFT, b, 2, &pc, sizeof pc, gx, gy, gz);
}

static bool
same_view (const DnTensor *a, const DnTensor *b)
{
  return a->buf == b->buf && a->offset == b->offset;
}

static DnStatus
vk_run (DnFftPlan *p, DnTensor *out, const DnTensor *inp, int sign, float s, bool acc)
{
  const DnTensor *cur = inp;
  if (p->mode_w == AXIS_DIRECT)
    {
      DN_TRY (vk_dft_axis (p, true, p->work, cur, sign, 1.0f, false));
      cur = p->work;
    }
  if (p->vk)
    {
      if (cur != p->work)
        DN_TRY (vk_scale (p->work, cur, 1.0f, false));
      DN_TRY (dn_fft_vk_record (p->vk, sign));
      cur = p->work;
    }
  if (p->mode_h == AXIS_DIRECT)
    return vk_dft_axis (p, false, out, cur, sign, s, acc);
  if (!acc && s == 1.0f && same_view (out, cur))
    return DN_OK;
  return vk_scale (out, cur, s, acc);
}

/* Entry points ------------------------------------------------------------------------------------- */

DnStatus
dn_fft2_forward (DnFftPlan *plan, DnTensor *out, const DnTensor *inp, DnFftDirection direction, DnFftNorm norm)
{
  DN_TRY (check_args ("fft2_forward", plan, out, "out", inp, "inp", direction, norm));
  if (plan->empty)
    return DN_OK;
  float s = norm_scale (plan, direction, norm);
  if (dn_device_is_cpu (plan->dev))
    return cpu_run (plan, out, inp, direction, s, false);
  return vk_run (plan, out, inp, direction, s, false);
}

DnStatus
dn_fft2_backward (DnFftPlan *plan, DnTensor *dinp, const DnTensor *dout, DnFftDirection direction, DnFftNorm norm)
{
  DN_TRY (check_args ("fft2_backward", plan, dinp, "dinp", dout, "dout", direction, norm));
  if (plan->empty)
    return DN_OK;
  /* the adjoint of s·F_d is s·F_{-d} */
  float s = norm_scale (plan, direction, norm);
  if (dn_device_is_cpu (plan->dev))
    return cpu_run (plan, dinp, dout, -direction, s, true);
  return vk_run (plan, dinp, dout, -direction, s, true);
}
