/* dn-synth.c: pole synthesis (see dn-synth.h): parameters and presets, the batch engine (one arena per
 * batch; the step is a fixed sequence of engine ops, written out llm.c style), and whole runs.
 * Mirrors DualNeuron's dualneuron/synthesis/{ascend,ops}.py with the intended semantics of twins.md §6.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dn-gabor.h"
#include "dn-npy.h"
#include "dn-ops.h"
#include "dn-device-private.h"
#include "dn-synth.h"

const float DN_SYNTH_COLOR_CORRELATION[9] = {
  0.56282854f, 0.58447580f, 0.58447580f,  /* */
  0.19482528f, 0.0f,        -0.19482528f, /* */
  0.04329450f, -0.10823626f, 0.06494176f,
};

/* Parameters ------------------------------------------------------------------------------------------ */

DnStatus
dn_synth_params_preset (DnSynthParams *p, const char *name)
{
  DnSynthParams q = {
    .steps = 128,
    .lr_schedule = true,
    .eta_min = 0,
    .momentum = 0.9,
    .beta1 = 0.9,
    .beta2 = 0.999,
    .adam_eps = 1e-8,
    .n_crops = 4,
    .box_min = 1.0,
    .box_max = 1.0,
    .jitter = 0.05,
    .pad_frac = 0.05,
    .oversample = 1,
    .tv_weight = 1e-4,
    .range = DN_SYNTH_RANGE_SIGMOID,
    .init_std = 0.05,
    .blur_ksize = 5,
    .blur_sigma = 1.5,
  };
  if (name && (strcmp (name, "v1-pixel") == 0 || strcmp (name, "gabor-pixel") == 0))
    {
      q.kind = DN_SYNTH_PIXEL;
      q.lr = 0.05;
      q.noise = 0.05;
      q.target_norm = 12;
      q.lo = -1;
      q.hi = 1;
      if (strcmp (name, "gabor-pixel") == 0)
        {
          /* v1-pixel without the crop jitter (4.65 px destroys the phase a simple cell needs) and with a
           * smaller start (the built-in twin's acceptance recipe, tests/synth/test-synth-gabor.c) */
          q.jitter = 0;
          q.init_std = 0.01;
        }
    }
  else if (name && strcmp (name, "v4-fourier") == 0)
    {
      q.kind = DN_SYNTH_FOURIER;
      q.lr = 1.0;
      q.noise = 0.08;
      q.target_norm = 40;
      q.lo = -2;
      q.hi = 2;
      q.blur_ksize = 0;
    }
  else
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: unknown preset '%s' (v1-pixel, gabor-pixel or v4-fourier)",
                         name ? name : "(null)");
  *p = q;
  return DN_OK;
}

static int
crop_pad (const DnSynthParams *p, int H, int W)
{
  return (int) (p->pad_frac * (H < W ? H : W));
}

static double
target_norm (const DnSynthParams *p, const DnTwin *twin)
{
  return p->target_norm > 0 ? p->target_norm : dn_twin_input_norm (twin);
}

static bool
all_finite (const float *x, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return false;
  return true;
}

DnStatus
dn_synth_params_check (const DnSynthParams *p, const DnTwin *twin)
{
  const char *op = "synth";
  const DnTwinInfo *info = dn_twin_info (twin);
  int C = info->in_channels, H = info->in_h, W = info->in_w;
#define REQUIRE(cond, ...)                                                                               \
  do                                                                                                   \
    if (!(cond))                                                                                       \
      return dn_set_error (DN_ERROR_INVALID_ARGUMENT, __VA_ARGS__);                                    \
  while (0)
  REQUIRE (p->kind == DN_SYNTH_PIXEL || p->kind == DN_SYNTH_FOURIER, "%s: unknown parameterization %d", op,
           (int) p->kind);
  REQUIRE (p->steps >= 1 && p->steps <= 1000000, "%s: steps must be in 1 … 10⁶ (got %d)", op, p->steps);
  REQUIRE (isfinite (p->lr) && p->lr >= 0, "%s: the learning rate must be finite and ≥ 0 (got %g)", op, p->lr);
  REQUIRE (isfinite (p->eta_min) && p->eta_min >= 0, "%s: eta_min must be finite and ≥ 0 (got %g)", op, p->eta_min);
  REQUIRE (p->n_crops >= 1 && p->n_crops <= 1024, "%s: crops must be in 1 … 1024 (got %d)", op, p->n_crops);
  REQUIRE (isfinite (p->box_min) && isfinite (p->box_max) && p->box_min > 0 && p->box_min <= p->box_max
               && p->box_max <= 4,
           "%s: the box size range must satisfy 0 < min ≤ max ≤ 4 (got %g, %g)", op, p->box_min, p->box_max);
  REQUIRE (isfinite (p->jitter) && p->jitter >= 0 && p->jitter <= 1, "%s: jitter must be in [0, 1] (got %g)", op,
           p->jitter);
  REQUIRE (isfinite (p->pad_frac) && p->pad_frac >= 0 && crop_pad (p, H, W) < (H < W ? H : W),
           "%s: the reflect pad fraction must be ≥ 0 and give a pad smaller than the image (got %g)", op,
           p->pad_frac);
  REQUIRE (p->oversample >= 1 && p->oversample <= 8, "%s: oversample must be in 1 … 8 (got %d)", op, p->oversample);
  REQUIRE (isfinite (p->noise) && p->noise >= 0, "%s: the noise std must be finite and ≥ 0 (got %g)", op, p->noise);
  REQUIRE (isfinite (p->target_norm) && p->target_norm >= 0, "%s: the target norm must be finite and ≥ 0 (0: the twin's; got %g)",
           op, p->target_norm);
  REQUIRE (isfinite (p->tv_weight) && p->tv_weight >= 0, "%s: the TV weight must be finite and ≥ 0 (got %g)", op,
           p->tv_weight);
  REQUIRE (isfinite (p->lo) && isfinite (p->hi) && p->lo < p->hi, "%s: the value range needs lo < hi (got %g, %g)", op,
           p->lo, p->hi);
  REQUIRE (p->range == DN_SYNTH_RANGE_SIGMOID || p->range == DN_SYNTH_RANGE_TANH, "%s: unknown range function %d", op,
           (int) p->range);
  if (p->kind == DN_SYNTH_PIXEL)
    {
      REQUIRE (isfinite (p->momentum) && p->momentum >= 0 && p->momentum < 1, "%s: momentum must be in [0, 1) (got %g)",
               op, p->momentum);
      REQUIRE (isfinite (p->init_std) && p->init_std >= 0, "%s: init std must be finite and ≥ 0 (got %g)", op,
               p->init_std);
      REQUIRE (p->blur_ksize == 0
                   || (p->blur_ksize % 2 == 1 && p->blur_ksize <= DN_GAUSSIAN_BLUR_MAX_KSIZE
                       && (p->blur_ksize - 1) / 2 < (H < W ? H : W) && isfinite (p->blur_sigma) && p->blur_sigma > 0),
               "%s: the gradient blur needs an odd kernel size ≤ %d and σ > 0 (got %d, %g)", op,
               DN_GAUSSIAN_BLUR_MAX_KSIZE, p->blur_ksize, p->blur_sigma);
    }
  else
    {
      REQUIRE (isfinite (p->beta1) && isfinite (p->beta2) && p->beta1 >= 0 && p->beta1 < 1 && p->beta2 >= 0
                   && p->beta2 < 1,
               "%s: Adam betas must be in [0, 1) (got %g, %g)", op, p->beta1, p->beta2);
      REQUIRE (isfinite (p->adam_eps) && p->adam_eps >= 0, "%s: Adam eps must be finite and ≥ 0 (got %g)", op,
               p->adam_eps);
      REQUIRE (p->magnitude, "%s: the Fourier parameterization needs an amplitude prior (magnitude)", op);
      if (!all_finite (p->magnitude, (int64_t) C * H * W))
        return dn_set_error (DN_ERROR_NON_FINITE, "%s: the amplitude prior holds NaN or Inf", op);
      if (C == 3 && p->color_matrix && !all_finite (p->color_matrix, 9))
        return dn_set_error (DN_ERROR_NON_FINITE, "%s: the colour matrix holds NaN or Inf", op);
    }
  if (p->init_image && !all_finite (p->init_image, (int64_t) C * H * W))
    return dn_set_error (DN_ERROR_NON_FINITE, "%s: the start image holds NaN or Inf", op);
#undef REQUIRE
  return DN_OK;
}

DnStatus
dn_synth_jobs_check (const DnTwin *twin, const DnSynthJob *jobs, int n)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  if (n < 0 || (n > 0 && !jobs))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: %d jobs", n);
  for (int i = 0; i < n; i++)
    {
      if (jobs[i].neuron < 0 || jobs[i].neuron >= info->n_neurons)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: job %d: neuron %d does not exist (the twin %s has %d: 0 … %d)",
                             i, jobs[i].neuron, dn_twin_name (twin), info->n_neurons, info->n_neurons - 1);
      if (jobs[i].weight != 1 && jobs[i].weight != -1)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: job %d: weight %d (+1 most or −1 least)", i,
                             jobs[i].weight);
    }
  return DN_OK;
}

/* FNV-1a over the bytes of a float buffer (0 for NULL), to identify the prior / start image. */
static uint64_t
checksum (const float *x, int64_t n)
{
  if (!x)
    return 0;
  uint64_t h = 1469598103934665603ull;
  const unsigned char *b = (const unsigned char *) x;
  for (int64_t i = 0; i < n * (int64_t) sizeof (float); i++)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

int
dn_synth_params_describe (const DnSynthParams *p, const DnTwin *twin, char *buf, size_t size)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  int64_t n = (int64_t) info->in_channels * info->in_h * info->in_w;
  bool px = p->kind == DN_SYNTH_PIXEL;
  char opt[256], extra[160];
  if (px)
    snprintf (opt, sizeof opt, "optimizer=sgd momentum=%.15g init_std=%.15g blur_ksize=%d blur_sigma=%.15g",
              p->momentum, p->init_std, p->blur_ksize, p->blur_sigma);
  else
    snprintf (opt, sizeof opt,
              "optimizer=adam beta1=%.15g beta2=%.15g adam_eps=%.15g prior_fnv=%016" PRIx64 " color_fnv=%016" PRIx64,
              p->beta1, p->beta2, p->adam_eps, checksum (p->magnitude, n),
              checksum (info->in_channels == 3 ? (p->color_matrix ? p->color_matrix : DN_SYNTH_COLOR_CORRELATION) : NULL, 9));
  snprintf (extra, sizeof extra, "init_image_fnv=%016" PRIx64, checksum (p->init_image, n));
  return snprintf (buf, size,
                   "kind=%s image=%dx%dx%d steps=%d lr=%.15g lr_schedule=%s eta_min=%.15g crops=%d box=%.15g,%.15g "
                   "jitter=%.15g pad=%d oversample=%d noise=%.15g target_norm=%.15g tv_weight=%.15g range=%s "
                   "values=%.15g,%.15g %s %s",
                   px ? "pixel" : "fourier", info->in_channels, info->in_h, info->in_w, p->steps, p->lr,
                   p->lr_schedule ? "cosine" : "constant", p->eta_min, p->n_crops, p->box_min, p->box_max, p->jitter,
                   crop_pad (p, info->in_h, info->in_w), p->oversample, p->noise, target_norm (p, twin), p->tv_weight,
                   p->range == DN_SYNTH_RANGE_TANH ? "tanh" : "sigmoid", p->lo, p->hi, opt, extra);
}

DnStatus
dn_synth_prior_load (DnDevice *dev, const char *path, int C, int H, int W, float **out)
{
  DnNpyArray *a = NULL;
  *out = NULL;
  DN_TRY (dn_npy_load (path, DN_NPY_FLOAT32, &a));
  int64_t c = a->ndim == 3 ? a->shape[0] : 1, h = a->shape[a->ndim - 2], w = a->shape[a->ndim - 1];
  DnStatus st = DN_OK;
  if ((a->ndim != 2 && a->ndim != 3) || c != C || h < 1 || w < 1)
    {
      st = dn_set_error (DN_ERROR_SHAPE, "%s: an amplitude prior of shape (%d,H,W) is needed, the file has %d dims "
                         "(first %lld)", path, C, a->ndim, (long long) (a->ndim ? a->shape[0] : 0));
      dn_npy_array_free (a);
      return st;
    }
  size_t bytes = (size_t) C * H * W * sizeof (float);
  float *res = malloc (bytes);
  if (!res)
    {
      dn_npy_array_free (a);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
    }
  if (h == H && w == W)
    memcpy (res, a->data, bytes);
  else
    {
      /* F.interpolate (M[None], (H,W), mode='bilinear', align_corners=False) */
      DnTensor *src = dn_tensor_new4 (dev, 1, C, h, w, &st), *dst = src ? dn_tensor_new4 (dev, 1, C, H, W, &st) : NULL;
      if (dst && (st = dn_tensor_upload (src, a->data, a->numel)) == DN_OK
          && (st = dn_resize_bilinear_forward (dst, src, false)) == DN_OK)
        st = dn_tensor_download (dst, res, (int64_t) C * H * W);
      dn_tensor_free (src);
      dn_tensor_free (dst);
    }
  dn_npy_array_free (a);
  if (st != DN_OK)
    {
      free (res);
      return st;
    }
  *out = res;
  return DN_OK;
}

/* The batch ----------------------------------------------------------------------------------------------- */

#define MAX_OWNED 96

struct DnSynthBatch
{
  DnTwin *twin;
  DnDevice *dev;
  DnSynthParams p;
  int cap, n;       /* capacity, started jobs */
  int C, H, W, K;   /* image, neurons */
  int nc, pad, Hp, Wp, So_h, So_w;
  int64_t numel;    /* C·H·W */
  int64_t rows;     /* cap·(nc+1) */
  float norm;       /* target norm */
  DnSynthJob *jobs;
  const DnSynthDraws *draws;
  int draws_step;   /* the step whose draws are loaded, −1 = none */
  int crops_step;   /* the step whose crops are in x, −1 = none */
  bool scores_valid;

  DnArena *arena;
  DnTensor *owned[MAX_OWNED];
  int n_owned;
  DnFftPlan *plan;

  /* (cap,C,H,W) */
  DnTensor *param, *grad_param, *grad_raw, *m1, *m2, *range_out, *image, *dimage, *drange, *alpha, *abs_tmp;
  /* Fourier */
  DnTensor *mag, *spec, *cplx, *dcplx, *dspec; /* (cap,C,H,W) and (cap,C,H,W,2) */
  DnTensor *dreal, *rec, *drec, *color;        /* (cap,C,H,W); (3,3) */
  DnTensor *real;                              /* Re(ifft2(S)) (cap,C,H,W) */
  /* crops */
  DnTensor *padded, *dpadded;  /* (cap,C,Hp,Wp) */
  DnTensor *boxes;             /* (cap·nc,5) */
  DnTensor *roi, *droi;        /* (cap·nc,C,So_h,So_w) (only with oversample > 1; else = crops, dcrops) */
  DnTensor *crops, *dcrops;    /* (cap·nc,C,H,W) resized crops before the noise, and the gradient */
  DnTensor *noise, *noisy;     /* (cap·nc,C,H,W) */
  DnTensor *x, *dx, *x_crops, *x_clean, *dx_crops; /* (rows,C,H,W) and views */
  DnTensor *out_crops, *out_clean, *dout_crops;      /* views of out and dout: the crop rows, the clean rows */
  DnTensor *norms, *norm_crops, *norm_clean;       /* (rows) and views */
  DnTensor *out, *dout;        /* (rows,K) */
  DnTensor *tv, *tvnorm, *ones; /* (cap) */

  /* host */
  float *h_cx, *h_cy, *h_sc, *h_boxes, *h_noise, *h_out, *h_tv, *h_param;
  float *acts;          /* (cap,steps) */
  float *init_resp;     /* (cap) */
  float *res_image, *res_alpha, *res_members; /* (cap,numel), (cap,numel), (cap,n_members) */
};

static DnTensor *
carve (DnSynthBatch *b, DnStatus *st, int ndim, const int64_t *shape)
{
  if (*st != DN_OK)
    return NULL;
  if (b->n_owned >= MAX_OWNED)
    {
      *st = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: too many batch tensors");
      return NULL;
    }
  DnTensor *t = dn_arena_tensor (b->arena, ndim, shape, st);
  if (t)
    b->owned[b->n_owned++] = t;
  return t;
}

static DnTensor *
view (DnSynthBatch *b, DnStatus *st, const DnTensor *base, int64_t offset, int ndim, const int64_t *shape)
{
  if (*st != DN_OK)
    return NULL;
  if (b->n_owned >= MAX_OWNED)
    {
      *st = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: too many batch tensors");
      return NULL;
    }
  DnTensor *t = dn_tensor_view (base, offset, ndim, shape, st);
  if (t)
    b->owned[b->n_owned++] = t;
  return t;
}

#define CARVE(...) carve (b, &st, DN_NARGS_S (__VA_ARGS__), (const int64_t[]){ __VA_ARGS__ })
#define DN_NARGS_S(...) DN_NARGS_S_ (__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define DN_NARGS_S_(a, b, c, d, e, f, N, ...) N

static void
free_tensors (DnSynthBatch *b)
{
  for (int i = b->n_owned - 1; i >= 0; i--)
    dn_tensor_free (b->owned[i]);
  b->n_owned = 0;
}

/* Carves every device tensor of the batch out of b->arena (a measuring arena in the first pass). */
static DnStatus
carve_all (DnSynthBatch *b)
{
  DnStatus st = DN_OK;
  int64_t cap = b->cap, C = b->C, H = b->H, W = b->W, nc = b->nc, kc = cap * nc;
  bool fourier = b->p.kind == DN_SYNTH_FOURIER;
  b->param = CARVE (cap, C, H, W);
  b->grad_param = CARVE (cap, C, H, W);
  b->m1 = CARVE (cap, C, H, W);
  b->m2 = fourier ? CARVE (cap, C, H, W) : NULL;
  b->range_out = CARVE (cap, C, H, W);
  b->image = CARVE (cap, C, H, W);
  b->dimage = CARVE (cap, C, H, W);
  b->drange = CARVE (cap, C, H, W);
  b->alpha = CARVE (cap, C, H, W);
  b->abs_tmp = CARVE (cap, C, H, W);
  if (fourier)
    {
      b->mag = CARVE (cap, C, H, W);
      b->spec = CARVE (cap, C, H, W, 2);
      b->cplx = CARVE (cap, C, H, W, 2);
      b->dcplx = CARVE (cap, C, H, W, 2);
      b->dspec = CARVE (cap, C, H, W, 2);
      b->real = CARVE (cap, C, H, W);
      b->dreal = CARVE (cap, C, H, W);
      if (C == 3)
        {
          b->rec = CARVE (cap, C, H, W);
          b->drec = CARVE (cap, C, H, W);
          b->color = CARVE (3, 3);
        }
      else
        {
          b->rec = b->real;   /* no recorrelation for one channel */
          b->drec = b->dreal;
        }
    }
  else if (b->p.blur_ksize > 0)
    b->grad_raw = CARVE (cap, C, H, W);
  else
    b->grad_raw = b->grad_param;
  b->padded = CARVE (cap, C, b->Hp, b->Wp);
  b->dpadded = CARVE (cap, C, b->Hp, b->Wp);
  b->boxes = CARVE (kc, 5);
  b->crops = CARVE (kc, C, H, W);
  b->dcrops = CARVE (kc, C, H, W);
  if (b->p.oversample > 1)
    {
      b->roi = CARVE (kc, C, b->So_h, b->So_w);
      b->droi = CARVE (kc, C, b->So_h, b->So_w);
    }
  else
    {
      b->roi = b->crops;
      b->droi = b->dcrops;
    }
  b->noise = CARVE (kc, C, H, W);
  b->noisy = CARVE (kc, C, H, W);
  b->x = CARVE (b->rows, C, H, W);
  b->dx = CARVE (b->rows, C, H, W);
  b->x_crops = view (b, &st, b->x, 0, 4, (const int64_t[]){ kc, C, H, W });
  b->x_clean = view (b, &st, b->x, kc * C * H * W, 4, (const int64_t[]){ cap, C, H, W });
  b->dx_crops = view (b, &st, b->dx, 0, 4, (const int64_t[]){ kc, C, H, W });
  b->norms = CARVE (b->rows);
  b->norm_crops = view (b, &st, b->norms, 0, 1, (const int64_t[]){ kc });
  b->norm_clean = view (b, &st, b->norms, kc, 1, (const int64_t[]){ cap });
  b->out = CARVE (b->rows, b->K);
  b->dout = CARVE (b->rows, b->K);
  b->out_crops = view (b, &st, b->out, 0, 2, (const int64_t[]){ kc, b->K });
  b->out_clean = view (b, &st, b->out, kc * b->K, 2, (const int64_t[]){ cap, b->K });
  b->dout_crops = view (b, &st, b->dout, 0, 2, (const int64_t[]){ kc, b->K });
  b->tv = CARVE (cap);
  b->tvnorm = CARVE (cap);
  b->ones = CARVE (cap);
  return st;
}

void
dn_synth_batch_free (DnSynthBatch *b)
{
  if (!b)
    return;
  dn_fft_plan_free (b->plan);
  free_tensors (b);
  dn_arena_free (b->arena);
  free (b->jobs);
  float *h[] = { b->h_cx, b->h_cy, b->h_sc, b->h_boxes, b->h_noise, b->h_out, b->h_tv, b->h_param, b->acts,
                 b->init_resp, b->res_image, b->res_alpha, b->res_members };
  for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
    free (h[i]);
  free (b);
}

int
dn_synth_batch_capacity (const DnSynthBatch *b)
{
  return b->cap;
}

static float *
host_alloc (int64_t n, bool *ok)
{
  float *p = calloc ((size_t) (n > 0 ? n : 1), sizeof (float));
  if (!p)
    *ok = false;
  return p;
}

DnSynthBatch *
dn_synth_batch_new (DnTwin *twin, const DnSynthParams *p, int capacity, DnStatus *status)
{
  DnStatus st_local;
  if (!status)
    status = &st_local;
  if ((*status = dn_synth_params_check (p, twin)) != DN_OK)
    return NULL;
  if (capacity < 1 || capacity > (1 << 20))
    {
      *status = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: batch capacity %d (must be ≥ 1)", capacity);
      return NULL;
    }
  const DnTwinInfo *info = dn_twin_info (twin);
  DnSynthBatch *b = calloc (1, sizeof *b);
  if (!b)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "synth: out of memory");
      return NULL;
    }
  b->twin = twin;
  b->dev = dn_twin_device (twin);
  b->p = *p;
  b->cap = capacity;
  b->C = info->in_channels;
  b->H = info->in_h;
  b->W = info->in_w;
  b->K = info->n_neurons;
  b->nc = p->n_crops;
  b->pad = crop_pad (p, b->H, b->W);
  b->Hp = b->H + 2 * b->pad;
  b->Wp = b->W + 2 * b->pad;
  b->So_h = b->H * p->oversample;
  b->So_w = b->W * p->oversample;
  b->numel = (int64_t) b->C * b->H * b->W;
  b->rows = (int64_t) capacity * (b->nc + 1);
  b->norm = (float) target_norm (p, twin);
  b->draws_step = -1;
  b->crops_step = -1;

  /* measure, then carve the real arena */
  DnStatus st;
  b->arena = dn_arena_new (b->dev, 0, &st);
  if (b->arena)
    st = carve_all (b);
  size_t bytes = b->arena ? dn_arena_bytes (b->arena) : 0;
  free_tensors (b);
  dn_arena_free (b->arena);
  b->arena = NULL;
  if (st == DN_OK && (b->arena = dn_arena_new (b->dev, bytes, &st)))
    st = carve_all (b);
  if (st != DN_OK)
    goto fail;

  int64_t kc = (int64_t) capacity * b->nc, n_members = info->n_members;
  bool ok = true;
  b->jobs = calloc ((size_t) capacity, sizeof *b->jobs);
  ok = b->jobs != NULL;
  b->h_cx = host_alloc (kc, &ok);
  b->h_cy = host_alloc (kc, &ok);
  b->h_sc = host_alloc (kc, &ok);
  b->h_boxes = host_alloc (kc * 5, &ok);
  if (!dn_tensor_host (b->noise))
    b->h_noise = host_alloc (kc * b->numel, &ok);
  b->h_out = host_alloc (b->rows * b->K, &ok);
  b->h_tv = host_alloc (capacity, &ok);
  b->h_param = host_alloc ((int64_t) capacity * b->numel, &ok);
  b->acts = host_alloc ((int64_t) capacity * p->steps, &ok);
  b->init_resp = host_alloc (capacity, &ok);
  b->res_image = host_alloc ((int64_t) capacity * b->numel, &ok);
  b->res_alpha = host_alloc ((int64_t) capacity * b->numel, &ok);
  b->res_members = host_alloc ((int64_t) capacity * n_members, &ok);
  if (!ok)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "synth: out of host memory for a batch of %d", capacity);
      goto fail;
    }

  /* constants */
  if ((st = dn_tensor_fill (b->ones, 1.0f)) != DN_OK)
    goto fail;
  if (p->kind == DN_SYNTH_FOURIER)
    {
      /* replicate the prior into every job's row (one upload of cap copies) */
      for (int j = 0; j < capacity; j++)
        memcpy (b->h_param + (int64_t) j * b->numel, p->magnitude, (size_t) b->numel * sizeof (float));
      if ((st = dn_tensor_upload (b->mag, b->h_param, (int64_t) capacity * b->numel)) != DN_OK)
        goto fail;
      if (b->C == 3
          && (st = dn_tensor_upload (b->color, p->color_matrix ? p->color_matrix : DN_SYNTH_COLOR_CORRELATION, 9))
                 != DN_OK)
        goto fail;
      /* deterministic FFTW planning (ESTIMATE), so that reruns are bit-identical */
      if (!(b->plan = dn_fft_plan_new_full (b->dev, b->H, b->W, (int64_t) capacity * b->C, DN_FFT_PLAN_ESTIMATE, &st)))
        goto fail;
    }

  /* warm-up: the FFT plans make their per-variant kernels (FFTW plans) on first use; do that here. (The
   * twin makes its workspace for this batch size in the first step's forward, once per batch.) */
  if ((st = dn_synth_batch_render (b)) != DN_OK || (st = dn_synth_batch_param_backward (b)) != DN_OK
      || (st = dn_device_sync (b->dev)) != DN_OK)
    goto fail;
  *status = DN_OK;
  return b;
fail:
  *status = st;
  dn_synth_batch_free (b);
  return NULL;
}

DnTensor *
dn_synth_batch_tensor (DnSynthBatch *b, const char *name)
{
  static const char *names[] = { "param", "image", "grad_image", "grad_param", "alpha", "moment1",
                                 "moment2", "crops", "x", "boxes" };
  DnTensor *t[] = { b->param, b->image, b->dimage, b->grad_param, b->alpha, b->m1, b->m2, b->crops, b->x, b->boxes };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (name, names[i]) == 0)
      return t[i];
  return NULL;
}

/* Start ------------------------------------------------------------------------------------------------ */

/* θ₀ from a start image: logit / atanh of the image mapped to the range function's output. */
static void
pixel_param_from_image (const DnSynthParams *p, const float *img, float *theta, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      double u = (img[i] - p->lo) / (p->hi - p->lo);
      u = fmin (fmax (u, 1e-6), 1 - 1e-6);
      theta[i] = (float) (p->range == DN_SYNTH_RANGE_TANH ? atanh (2 * u - 1) : log (u / (1 - u)));
    }
}

/* φ₀ = angle(fft2(image)) for every job (the Fourier start image), on the device. */
static DnStatus
fourier_phase_from_image (DnSynthBatch *b)
{
  for (int j = 0; j < b->cap; j++)
    memcpy (b->h_param + (int64_t) j * b->numel, b->p.init_image, (size_t) b->numel * sizeof (float));
  DN_TRY (dn_tensor_upload (b->real, b->h_param, (int64_t) b->cap * b->numel));
  DN_TRY (dn_complex_from_real_forward (b->spec, b->real));
  DN_TRY (dn_fft2_forward (b->plan, b->cplx, b->spec, DN_FFT_FORWARD, DN_FFT_NORM_BACKWARD));
  return dn_complex_angle_forward (b->param, b->cplx);
}

DnStatus
dn_synth_batch_start (DnSynthBatch *b, const DnSynthJob *jobs, int n, const DnSynthDraws *draws)
{
  if (n < 0 || n > b->cap)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: %d jobs for a batch of %d", n, b->cap);
  DN_TRY (dn_synth_jobs_check (b->twin, jobs, n));
  b->draws = draws ? draws : dn_synth_draws_default ();
  b->n = n;
  b->draws_step = -1;
  b->crops_step = -1;
  b->scores_valid = false;
  memcpy (b->jobs, jobs, (size_t) n * sizeof *jobs);

  /* initial parameters (jobs past n start at 0 and have dout 0) */
  memset (b->h_param, 0, (size_t) b->cap * (size_t) b->numel * sizeof (float));
  if (b->p.init_image && b->p.kind == DN_SYNTH_FOURIER)
    DN_TRY (fourier_phase_from_image (b));
  else
    {
      for (int j = 0; j < n; j++)
        {
          float *dst = b->h_param + (int64_t) j * b->numel;
          if (b->p.init_image)
            pixel_param_from_image (&b->p, b->p.init_image, dst, b->numel);
          else
            DN_TRY (b->draws->init (b->draws->user, &jobs[j], &b->p, dst, b->numel));
        }
      DN_TRY (dn_tensor_upload (b->param, b->h_param, (int64_t) b->cap * b->numel));
    }

  /* dout: −w/n_crops at each crop row's neuron */
  memset (b->h_out, 0, (size_t) (b->rows * b->K) * sizeof (float));
  for (int j = 0; j < n; j++)
    for (int k = 0; k < b->nc; k++)
      b->h_out[((int64_t) j * b->nc + k) * b->K + jobs[j].neuron] = (float) -jobs[j].weight / (float) b->nc;
  DN_TRY (dn_tensor_upload (b->dout, b->h_out, b->rows * b->K));

  DN_TRY (dn_tensor_fill (b->m1, 0));
  if (b->m2)
    DN_TRY (dn_tensor_fill (b->m2, 0));
  DN_TRY (dn_tensor_fill (b->alpha, 0));
  memset (b->acts, 0, (size_t) b->cap * (size_t) b->p.steps * sizeof (float));
  return DN_OK;
}

/* Step ---------------------------------------------------------------------------------------------------- */

/* range(x) into image, keeping range_out for the backward */
static DnStatus
apply_range (DnSynthBatch *b, const DnTensor *x)
{
  float lo = (float) b->p.lo, hi = (float) b->p.hi;
  if (b->p.range == DN_SYNTH_RANGE_TANH)
    {
      DN_TRY (dn_tanh_forward (b->range_out, x));
      return dn_affine_forward (b->image, b->range_out, (hi - lo) / 2, (hi + lo) / 2);
    }
  DN_TRY (dn_sigmoid_forward (b->range_out, x));
  return dn_affine_forward (b->image, b->range_out, hi - lo, lo);
}

/* d(range input) += range'·dimage, via drange (zeroed here) */
static DnStatus
range_backward (DnSynthBatch *b, DnTensor *dx)
{
  float lo = (float) b->p.lo, hi = (float) b->p.hi;
  DN_TRY (dn_tensor_fill (b->drange, 0));
  if (b->p.range == DN_SYNTH_RANGE_TANH)
    {
      DN_TRY (dn_affine_backward (b->drange, b->dimage, (hi - lo) / 2));
      return dn_tanh_backward (dx, b->range_out, b->drange);
    }
  DN_TRY (dn_affine_backward (b->drange, b->dimage, hi - lo));
  return dn_sigmoid_backward (dx, b->range_out, b->drange);
}

DnStatus
dn_synth_batch_render (DnSynthBatch *b)
{
  if (b->p.kind == DN_SYNTH_PIXEL)
    return apply_range (b, b->param); /* I = σ(θ)·(hi−lo)+lo */
  /* I = range(recorrelate(Re(ifft2(M·e^{iφ})))) (twins.md §6.2 precondition) */
  DN_TRY (dn_complex_polar_forward (b->spec, b->mag, b->param));
  DN_TRY (dn_fft2_forward (b->plan, b->cplx, b->spec, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  DN_TRY (dn_complex_real_forward (b->real, b->cplx));
  if (b->C == 3)
    DN_TRY (dn_color_recorrelate_forward (b->rec, b->real, b->color));
  return apply_range (b, b->rec);
}

/* Job j's draws of step t into the host buffers, and its crop boxes. */
static DnStatus
draw_job (DnSynthBatch *b, int j, int t, float *noise)
{
  int nc = b->nc;
  int64_t nn = (int64_t) nc * b->numel;
  float Wf = (float) b->W, Hf = (float) b->H, pad = (float) b->pad, Wp = (float) b->Wp, Hp = (float) b->Hp;
  float *cx = b->h_cx + j * nc, *cy = b->h_cy + j * nc, *sc = b->h_sc + j * nc, *nz = noise + j * nn;
  if (j < b->n)
    DN_TRY (b->draws->step (b->draws->user, &b->jobs[j], &b->p, t, cx, cy, sc, nz, nn));
  else
    {
      for (int k = 0; k < nc; k++)
        cx[k] = cy[k] = 0.5f, sc[k] = 1.0f;
      memset (nz, 0, (size_t) nn * sizeof (float));
    }
  for (int k = 0; k < nc; k++)
    {
      /* create_crops: x1 = clamp(cx·W + pad − sc·W/2, 0, Wpad) in float32 (matches the fixture's boxes
       * bitwise), likewise x2 with +, and y with H */
      float *bx = b->h_boxes + ((int64_t) j * nc + k) * 5;
      float hw = sc[k] * Wf / 2.0f, hh = sc[k] * Hf / 2.0f;
      float ccx = cx[k] * Wf + pad, ccy = cy[k] * Hf + pad;
      bx[0] = (float) j;
      bx[1] = fminf (fmaxf (ccx - hw, 0.0f), Wp);
      bx[2] = fminf (fmaxf (ccy - hh, 0.0f), Hp);
      bx[3] = fminf (fmaxf (ccx + hw, 0.0f), Wp);
      bx[4] = fminf (fmaxf (ccy + hh, 0.0f), Hp);
    }
  return DN_OK;
}

typedef struct
{
  DnSynthBatch *b;
  int t, j0, j1;
  float *noise;
} DrawRange;

/* jobs [begin, end) of step t with the default draws, which cannot fail (a thread's or a pool item's share) */
static void
draw_pool_range (void *ctx, int64_t begin, int64_t end)
{
  DrawRange *r = ctx;
  for (int64_t j = begin; j < end; j++)
    draw_job (r->b, (int) j, r->t, r->noise);
}

static void *
draw_range (void *arg)
{
  DrawRange *r = arg;
  draw_pool_range (r, r->j0, r->j1);
  return NULL;
}

/* Step t's draws → host boxes and noise → device. A GPU step is fast next to drawing millions of normals
 * on one core, so there the default (thread-safe, counter-based) draws run on several threads; on the
 * CPU backend they run on its thread pool (on one thread they were 5% of a V1 step, the pool idle). */
static DnStatus
load_draws (DnSynthBatch *b, int t)
{
  int64_t nn = (int64_t) b->nc * b->numel;
  float *noise = b->h_noise ? b->h_noise : dn_tensor_host (b->noise);
  long cores = sysconf (_SC_NPROCESSORS_ONLN);
  int n_threads = b->h_noise && b->draws == dn_synth_draws_default () && (int64_t) b->cap * nn >= (1 << 16)
                      ? (int) (cores < 1 ? 1 : cores > 16 ? 16 : cores)
                      : 1;
  if (n_threads > b->cap)
    n_threads = b->cap;
  DnDevice *dev = dn_twin_device (b->twin);
  if (!b->h_noise && dn_device_is_cpu (dev) && b->draws == dn_synth_draws_default () && b->cap > 1
      && (int64_t) b->cap * nn >= (1 << 16))
    {
      DrawRange r = { b, t, 0, b->cap, noise };
      dn_cpu_parallel_for (dev, b->cap, 1, draw_pool_range, &r);
    }
  else if (n_threads > 1)
    {
      pthread_t th[16];
      DrawRange r[16];
      int started = 0;
      for (int i = 0; i < n_threads; i++)
        {
          r[i] = (DrawRange){ b, t, (int) ((int64_t) b->cap * i / n_threads),
                              (int) ((int64_t) b->cap * (i + 1) / n_threads), noise };
          if (i > 0 && pthread_create (&th[i], NULL, draw_range, &r[i]) == 0)
            started |= 1 << i;
          else if (i > 0)
            draw_range (&r[i]); /* no thread: do it here */
        }
      draw_range (&r[0]);
      for (int i = 1; i < n_threads; i++)
        if (started & (1 << i))
          pthread_join (th[i], NULL);
    }
  else
    for (int j = 0; j < b->cap; j++)
      DN_TRY (draw_job (b, j, t, noise));
  DN_TRY (dn_tensor_upload (b->boxes, b->h_boxes, (int64_t) b->cap * b->nc * 5));
  if (b->h_noise)
    DN_TRY (dn_tensor_upload (b->noise, b->h_noise, (int64_t) b->cap * nn));
  b->draws_step = t;
  return DN_OK;
}

DnStatus
dn_synth_batch_crops (DnSynthBatch *b, int t)
{
  if (t < 0 || t >= b->p.steps)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: step %d of %d", t, b->p.steps);
  if (b->draws_step != t)
    DN_TRY (load_draws (b, t));
  b->draws_step = -1; /* consumed */
  int p = b->pad;
  /* crops: reflect pad → roi_align (aligned, adaptive sampling) → antialiased bicubic resize */
  DN_TRY (dn_reflect_pad2d_forward (b->padded, b->image, p, p, p, p));
  DN_TRY (dn_roi_align_forward (b->roi, b->padded, b->boxes, 1.0f, -1, true));
  if (b->p.oversample > 1)
    DN_TRY (dn_resize_bicubic_aa_forward (b->crops, b->roi));
  /* + noise, each crop (and each clean image) to the target norm */
  DN_TRY (dn_add_forward (b->noisy, b->crops, b->noise));
  DN_TRY (dn_change_norm_forward (b->x_crops, b->norm_crops, b->noisy, b->norm, 1e-8f));
  DN_TRY (dn_change_norm_forward (b->x_clean, b->norm_clean, b->image, b->norm, 1e-8f));
  b->crops_step = t;
  return DN_OK;
}

DnStatus
dn_synth_batch_gradient (DnSynthBatch *b, int t)
{
  int p = b->pad;
  if (b->crops_step != t)
    DN_TRY (dn_synth_batch_crops (b, t));
  b->crops_step = -1; /* consumed */
  /* the twin: responses of all rows, dx = Σ dout·∂r/∂x (dout = −w/n_crops on the crop rows). Where the twin
   * has a faster forward-only path (V1 on the CPU), the clean rows, which need no gradient, take it and
   * only the crop rows go through forward+backward (the twin keeps a workspace for each of the two batch
   * sizes, so no step allocates). Elsewhere one call does all rows, as the replay fixtures were made. */
  if (dn_twin_has_fast_forward (b->twin))
    {
      DN_TRY (dn_tensor_fill (b->dx_crops, 0));
      DN_TRY (dn_twin_forward_backward (b->twin, b->out_crops, b->dx_crops, b->x_crops, b->dout_crops));
      DN_TRY (dn_twin_forward (b->twin, b->out_clean, b->x_clean));
    }
  else
    {
      DN_TRY (dn_tensor_fill (b->dx, 0));
      DN_TRY (dn_twin_forward_backward (b->twin, b->out, b->dx, b->x, b->dout));
    }
  /* back to the image: change_norm, (noise: identity), resize, roi_align, reflect pad */
  DN_TRY (dn_tensor_fill (b->dcrops, 0));
  DN_TRY (dn_change_norm_backward (b->dcrops, b->dx_crops, b->noisy, b->norm_crops, b->norm, 1e-8f));
  if (b->p.oversample > 1)
    {
      DN_TRY (dn_tensor_fill (b->droi, 0));
      DN_TRY (dn_resize_bicubic_aa_backward (b->droi, b->dcrops));
    }
  DN_TRY (dn_tensor_fill (b->dpadded, 0));
  DN_TRY (dn_roi_align_backward (b->dpadded, b->droi, b->boxes, 1.0f, -1, true));
  DN_TRY (dn_tensor_fill (b->dimage, 0));
  DN_TRY (dn_reflect_pad2d_backward (b->dimage, b->dpadded, p, p, p, p));
  /* + the TV term of each image */
  DN_TRY (dn_tv_loss_forward (b->tv, b->tvnorm, b->image, (float) b->p.tv_weight));
  DN_TRY (dn_tv_loss_backward (b->dimage, b->tvnorm, b->image, b->ones, (float) b->p.tv_weight));
  /* alpha += |∂L/∂I| = relu(g) + relu(−g) */
  DN_TRY (dn_relu_backward (b->alpha, b->dimage, b->dimage));
  DN_TRY (dn_affine_forward (b->abs_tmp, b->dimage, -1.0f, 0.0f));
  DN_TRY (dn_relu_backward (b->alpha, b->abs_tmp, b->abs_tmp));
  b->scores_valid = false;
  return DN_OK;
}

DnStatus
dn_synth_batch_param_backward (DnSynthBatch *b)
{
  if (b->p.kind == DN_SYNTH_PIXEL)
    {
      /* ∂L/∂θ through I = σ(θ)·(hi−lo)+lo, then θ.grad ← gaussian_blur(θ.grad) */
      DN_TRY (dn_tensor_fill (b->grad_raw, 0));
      DN_TRY (range_backward (b, b->grad_raw));
      if (b->p.blur_ksize > 0)
        DN_TRY (dn_gaussian_blur2d_forward (b->grad_param, b->grad_raw, b->p.blur_ksize, (float) b->p.blur_sigma));
      return DN_OK;
    }
  /* ∂L/∂φ through range, recorrelation, Re, ifft2 and the polar form */
  DN_TRY (dn_tensor_fill (b->drec, 0));
  DN_TRY (range_backward (b, b->drec));
  if (b->C == 3)
    {
      DN_TRY (dn_tensor_fill (b->dreal, 0));
      DN_TRY (dn_color_recorrelate_backward (b->dreal, NULL, b->real, b->color, b->drec));
    }
  DN_TRY (dn_tensor_fill (b->dcplx, 0));
  DN_TRY (dn_complex_real_backward (b->dcplx, b->dreal));
  DN_TRY (dn_tensor_fill (b->dspec, 0));
  DN_TRY (dn_fft2_backward (b->plan, b->dspec, b->dcplx, DN_FFT_INVERSE, DN_FFT_NORM_BACKWARD));
  DN_TRY (dn_tensor_fill (b->grad_param, 0));
  return dn_complex_polar_backward (NULL, b->grad_param, b->dspec, b->mag, b->param);
}

DnStatus
dn_synth_batch_update (DnSynthBatch *b, int t)
{
  const DnSynthParams *p = &b->p;
  double lr = p->lr_schedule ? dn_lr_cosine (p->lr, p->eta_min, t, p->steps) : p->lr;
  if (p->kind == DN_SYNTH_PIXEL)
    {
      DnSgdParams sp = dn_sgd_params_default (lr);
      sp.momentum = p->momentum;
      return dn_sgd_step (b->param, p->momentum > 0 ? b->m1 : NULL, b->grad_param, &sp, t + 1);
    }
  DnAdamParams ap = dn_adam_params_default (lr);
  ap.beta1 = p->beta1;
  ap.beta2 = p->beta2;
  ap.eps = p->adam_eps;
  return dn_adam_step (b->param, b->m1, b->m2, b->grad_param, &ap, t + 1);
}

/* Downloads the twin's outputs and the TV values of the last gradient. */
static DnStatus
fetch_scores (DnSynthBatch *b)
{
  if (b->scores_valid)
    return DN_OK;
  DN_TRY (dn_tensor_download (b->out, b->h_out, b->rows * b->K));
  DN_TRY (dn_tensor_download (b->tv, b->h_tv, b->cap));
  b->scores_valid = true;
  return DN_OK;
}

static float
clean_response (const DnSynthBatch *b, int j)
{
  return b->h_out[((int64_t) b->cap * b->nc + j) * b->K + b->jobs[j].neuron];
}

void
dn_synth_batch_scores (const DnSynthBatch *bc, double *objective, double *tv, float *clean)
{
  DnSynthBatch *b = (DnSynthBatch *) bc;
  if (fetch_scores (b) != DN_OK)
    {
      for (int j = 0; j < b->n; j++)
        {
          if (objective)
            objective[j] = NAN;
          if (tv)
            tv[j] = NAN;
          if (clean)
            clean[j] = NAN;
        }
      return;
    }
  for (int j = 0; j < b->n; j++)
    {
      double s = 0;
      for (int k = 0; k < b->nc; k++)
        s += b->h_out[((int64_t) j * b->nc + k) * b->K + b->jobs[j].neuron];
      if (objective)
        objective[j] = b->jobs[j].weight * s / b->nc;
      if (tv)
        tv[j] = b->h_tv[j];
      if (clean)
        clean[j] = clean_response (b, j);
    }
}

DnStatus
dn_synth_batch_step (DnSynthBatch *b, int t)
{
  DN_TRY (load_draws (b, t));
  DN_TRY (dn_synth_batch_render (b));
  DN_TRY (dn_synth_batch_gradient (b, t));
  DN_TRY (dn_synth_batch_param_backward (b));
  DN_TRY (dn_synth_batch_update (b, t));
  DN_TRY (fetch_scores (b));
  /* the clean rows held the image before this update: the activation of step t−1 */
  for (int j = 0; j < b->n; j++)
    {
      float r = clean_response (b, j);
      if (t == 0)
        b->init_resp[j] = r;
      else
        b->acts[(int64_t) j * b->p.steps + t - 1] = fabsf ((float) b->jobs[j].weight * r);
    }
  return DN_OK;
}

DnStatus
dn_synth_batch_finish (DnSynthBatch *b, DnSynthResult *results)
{
  const DnTwinInfo *info = dn_twin_info (b->twin);
  int T = b->p.steps, M = info->n_members;
  /* the final clean images, through the same batch shape (the crop rows are left as they are) */
  DN_TRY (dn_synth_batch_render (b));
  DN_TRY (dn_change_norm_forward (b->x_clean, b->norm_clean, b->image, b->norm, 1e-8f));
  for (int m = 0; m < M; m++)
    {
      DN_TRY (dn_twin_member_forward (b->twin, m, b->out, b->x));
      DN_TRY (dn_tensor_download (b->out, b->h_out, b->rows * b->K));
      for (int j = 0; j < b->n; j++)
        b->res_members[(int64_t) j * M + m] = clean_response (b, j);
    }
  DN_TRY (dn_twin_forward (b->twin, b->out, b->x));
  DN_TRY (dn_tensor_download (b->out, b->h_out, b->rows * b->K));
  b->scores_valid = false;
  DN_TRY (dn_tensor_download (b->x_clean, b->res_image, (int64_t) b->cap * b->numel));
  DN_TRY (dn_tensor_download (b->alpha, b->res_alpha, (int64_t) b->cap * b->numel));
  for (int j = 0; j < b->n; j++)
    {
      DnSynthResult *r = &results[j];
      const DnSynthJob *job = &b->jobs[j];
      float resp = clean_response (b, j);
      b->acts[(int64_t) j * T + T - 1] = fabsf ((float) job->weight * resp);
      float *img = b->res_image + (int64_t) j * b->numel, *alpha = b->res_alpha + (int64_t) j * b->numel;
      /* alpha = A / (max A + 1e-8) (for one channel DualNeuron's mean over its 3 broadcast copies is A itself) */
      float amax = 0;
      for (int64_t i = 0; i < b->numel; i++)
        amax = fmaxf (amax, alpha[i]);
      float den = amax + 1e-8f;
      for (int64_t i = 0; i < b->numel; i++)
        alpha[i] = alpha[i] / den;
      *r = (DnSynthResult){
        .job = *job,
        .channels = b->C,
        .height = b->H,
        .width = b->W,
        .steps = T,
        .n_members = M,
        .image = img,
        .alpha = alpha,
        .activations = b->acts + (int64_t) j * T,
        .initial_response = b->init_resp[j],
        .response = resp,
        .member_responses = b->res_members + (int64_t) j * M,
        .rf_cosine = NAN,
      };
      r->finite = all_finite (img, b->numel) && all_finite (alpha, b->numel) && all_finite (r->activations, T)
                  && isfinite (resp);
      const DnGaborCell *cell = dn_twin_gabor_cell (b->twin, job->neuron);
      const float *f0 = dn_twin_gabor_filter (b->twin, job->neuron);
      if (cell && f0 && b->numel == (int64_t) b->H * b->W)
        {
          double d0 = 0, d90 = 0, nx = 0;
          float *f90 = cell->type == DN_GABOR_COMPLEX ? malloc ((size_t) b->numel * sizeof (float)) : NULL;
          if (f90)
            dn_gabor_filter (cell, 90, f90);
          for (int64_t i = 0; i < b->numel; i++)
            {
              d0 += (double) img[i] * f0[i];
              d90 += f90 ? (double) img[i] * f90[i] : 0;
              nx += (double) img[i] * img[i];
            }
          free (f90);
          nx = sqrt (nx);
          if (nx > 0)
            r->rf_cosine = cell->type == DN_GABOR_COMPLEX ? sqrt (d0 * d0 + d90 * d90) / nx : d0 / nx;
        }
    }
  return DN_OK;
}

/* Runs ------------------------------------------------------------------------------------------------------ */

void
dn_synth_run_options_init (DnSynthRunOptions *o)
{
  memset (o, 0, sizeof *o);
}

int
dn_synth_auto_batch (const DnTwin *twin, const DnSynthParams *p, int n_jobs)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  const DnDeviceInfo *dinfo = dn_device_info (dn_twin_device (twin));
  int batch;
  if (dinfo->backend == DN_BACKEND_CPU || dinfo->is_software)
    batch = 8; /* bench-synth: the CPU step time per job stops improving at about 8 jobs (40 twin rows) */
  else
    {
      /* bytes per twin row of the workspace (kept activations for the backward), estimated generously */
      double row = info->arch == DN_ARCH_V4_RESNET ? 24e6 : info->arch == DN_ARCH_V1_CONVNEXT ? 4e6 : 0.5e6;
      double per_job = row * (p->n_crops + 1) + 64.0 * (double) info->in_channels * info->in_h * info->in_w;
      batch = (int) fmin (4096, 0.5 * (double) dinfo->memory_bytes / per_job);
    }
  if (batch > n_jobs)
    batch = n_jobs;
  return batch < 1 ? 1 : batch;
}

/* Renders the batch's current images and hands the first @n to the preview callback. */
static DnStatus
run_preview (DnSynthBatch *b, DnTwin *twin, int start, int n, const DnSynthRunOptions *o)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  int64_t per = (int64_t) info->in_channels * info->in_h * info->in_w;
  DnStatus st = dn_synth_batch_render (b);
  if (st != DN_OK)
    return st;
  /* the batch's first n images (the last batch of a run may not fill its capacity) */
  DnTensor *img = dn_tensor_view (dn_synth_batch_tensor (b, "image"), 0, 4,
                                  (const int64_t[]){ n, info->in_channels, info->in_h, info->in_w }, &st);
  float *buf = img ? malloc ((size_t) (per * n) * sizeof *buf) : NULL;
  if (img && !buf)
    st = dn_set_error (DN_ERROR_NO_MEMORY, "synth: out of memory for the preview");
  if (buf && (st = dn_tensor_download (img, buf, per * n)) == DN_OK)
    o->preview (start, n, info->in_channels, info->in_h, info->in_w, buf, o->user);
  free (buf);
  dn_tensor_free (img);
  return st;
}

DnStatus
dn_synth_run (DnTwin *twin, const DnSynthParams *p, const DnSynthJob *jobs, int n_jobs, const DnSynthRunOptions *o)
{
  DnSynthRunOptions none;
  if (!o)
    {
      dn_synth_run_options_init (&none);
      o = &none;
    }
  DN_TRY (dn_synth_params_check (p, twin));
  DN_TRY (dn_synth_jobs_check (twin, jobs, n_jobs));
  if (n_jobs == 0)
    return DN_OK;
  bool adapt = o->batch <= 0;
  int batch = adapt ? dn_synth_auto_batch (twin, p, n_jobs) : (o->batch < n_jobs ? o->batch : n_jobs);
  DnSynthBatch *b = NULL;
  DnSynthResult *results = NULL;
  float *resp = NULL;
  DnStatus st = DN_OK;
  for (int start = 0; start < n_jobs && st == DN_OK;)
    {
      int n = n_jobs - start < batch ? n_jobs - start : batch;
      if (!b || dn_synth_batch_capacity (b) != n)
        {
          dn_synth_batch_free (b);
          free (results);
          free (resp);
          results = NULL;
          resp = NULL;
          b = dn_synth_batch_new (twin, p, n, &st);
          if (!b && st == DN_ERROR_NO_MEMORY && adapt && batch > 1)
            {
              batch /= 2; /* did not fit: try half */
              st = DN_OK;
              continue;
            }
          if (!b)
            break;
          results = calloc ((size_t) n, sizeof *results);
          resp = calloc ((size_t) n, sizeof *resp);
          if (!results || !resp)
            {
              st = dn_set_error (DN_ERROR_NO_MEMORY, "synth: out of memory");
              break;
            }
        }
      if ((st = dn_synth_batch_start (b, jobs + start, n, o->draws)) != DN_OK)
        break;
      bool first_step_done = false;
      for (int t = 0; t < p->steps && st == DN_OK; t++)
        {
          if (o->should_stop && o->should_stop (o->user))
            {
              st = dn_set_error (DN_ERROR_CANCELLED, "synth: cancelled at step %d of batch %d", t, start / batch + 1);
              break;
            }
          if ((st = dn_synth_batch_step (b, t)) != DN_OK)
            break;
          if (t == 0 && st == DN_OK)
            first_step_done = true;
          if (o->progress)
            {
              dn_synth_batch_scores (b, NULL, NULL, resp);
              o->progress (start, n_jobs, t + 1, p->steps, resp, o->user);
            }
          if (o->preview && o->preview_every > 0 && ((t + 1) % o->preview_every == 0 || t + 1 == p->steps))
            st = run_preview (b, twin, start, n, o);
        }
      if (st == DN_ERROR_NO_MEMORY && !first_step_done && adapt && batch > 1)
        {
          /* the twin's workspace for this batch (made by the first step) did not fit: half the batch */
          dn_synth_batch_free (b);
          b = NULL;
          batch /= 2;
          st = DN_OK;
          continue;
        }
      if (st != DN_OK || (st = dn_synth_batch_finish (b, results)) != DN_OK)
        break;
      if (o->batch_done)
        st = o->batch_done (results, n, o->user);
      start += n;
    }
  dn_synth_batch_free (b);
  free (results);
  free (resp);
  return st;
}
