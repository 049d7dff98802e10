/* dn-preprocess.c: DualNeuron's screening transforms on the host (dn-preprocess.h): PIL's two-pass
 * resampling (Pillow's src/libImaging/Resample.c: coefficients in double, 8-bit images in 22-bit fixed
 * point with rounding, float images in double), torchvision's resize arithmetic and centre crop,
 * PIL's "L" conversion, ToTensor, Normalize, the aperture mask and the norm rescale.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-npy.h"
#include "dn-preprocess.h"

/* PIL resampling -------------------------------------------------------------------------------------- */

#define PRECISION_BITS (32 - 8 - 2)

typedef struct
{
  int ksize;
  int *bounds; /* (xmin, count) per output sample */
  double *kk;  /* ksize weights per output sample */
  int32_t *ik; /* the same in fixed point (8-bit images) */
} Coeffs;

static void
coeffs_free (Coeffs *c)
{
  free (c->bounds);
  free (c->kk);
  free (c->ik);
}

static double
bilinear_filter (double x)
{
  if (x < 0.0)
    x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs (box = the whole input) for the bilinear filter, plus
 * normalize_coeffs_8bpc. */
static DnStatus
precompute_coeffs (int in_size, int out_size, Coeffs *c)
{
  memset (c, 0, sizeof *c);
  double scale = (double) (float) in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  int ksize = (int) ceil (support) * 2 + 1;
  c->ksize = ksize;
  c->bounds = malloc ((size_t) out_size * 2 * sizeof (int));
  c->kk = malloc ((size_t) out_size * ksize * sizeof (double));
  c->ik = malloc ((size_t) out_size * ksize * sizeof (int32_t));
  if (!c->bounds || !c->kk || !c->ik)
    {
      coeffs_free (c);
      return dn_set_error (DN_ERROR_NO_MEMORY, "resize: out of memory");
    }
  for (int xx = 0; xx < out_size; xx++)
    {
      double center = 0.0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
      int xmin = (int) (center - support + 0.5);
      if (xmin < 0)
        xmin = 0;
      int xmax = (int) (center + support + 0.5);
      if (xmax > in_size)
        xmax = in_size;
      xmax -= xmin;
      double *k = &c->kk[(size_t) xx * ksize];
      int x;
      for (x = 0; x < xmax; x++)
        {
          double w = bilinear_filter ((x + xmin - center + 0.5) * ss);
          k[x] = w;
          ww += w;
        }
      for (x = 0; x < xmax; x++)
        if (ww != 0.0)
          k[x] /= ww;
      for (; x < ksize; x++)
        k[x] = 0;
      c->bounds[xx * 2 + 0] = xmin;
      c->bounds[xx * 2 + 1] = xmax;
    }
  for (size_t i = 0; i < (size_t) out_size * ksize; i++)
    c->ik[i] = c->kk[i] < 0 ? (int32_t) (-0.5 + c->kk[i] * (1 << PRECISION_BITS))
                            : (int32_t) (0.5 + c->kk[i] * (1 << PRECISION_BITS));
  return DN_OK;
}

static inline uint8_t
clip8 (int in)
{
  int v = in >> PRECISION_BITS;
  return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over rows [y0, y0 + out->height) of @in, all channels of a pixel together (as Pillow's
 * ImagingResampleHorizontal_8bpc). 8-bit sums are exact integers, so only the rounding matters. */
static void
resample_h (DnImage *out, const DnImage *in, int y0, const Coeffs *c)
{
  int C = in->channels, ow = out->width, ks = c->ksize;
  for (int yy = 0; yy < out->height; yy++)
    {
      size_t srow = (size_t) (yy + y0) * in->width * C, drow = (size_t) yy * ow * C;
      for (int xx = 0; xx < ow; xx++)
        {
          int xmin = c->bounds[xx * 2], xmax = c->bounds[xx * 2 + 1];
          if (in->type == DN_PIXEL_U8)
            {
              const uint8_t *p = (const uint8_t *) in->pixels + srow + (size_t) xmin * C;
              const int32_t *k = &c->ik[(size_t) xx * ks];
              uint8_t *d = (uint8_t *) out->pixels + drow + (size_t) xx * C;
              if (C == 3)
                {
                  int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                  for (int x = 0; x < xmax; x++)
                    {
                      s0 += p[3 * x] * k[x];
                      s1 += p[3 * x + 1] * k[x];
                      s2 += p[3 * x + 2] * k[x];
                    }
                  d[0] = clip8 (s0);
                  d[1] = clip8 (s1);
                  d[2] = clip8 (s2);
                }
              else
                {
                  int s0 = 1 << (PRECISION_BITS - 1);
                  for (int x = 0; x < xmax; x++)
                    s0 += p[x] * k[x];
                  d[0] = clip8 (s0);
                }
            }
          else
            {
              const float *p = (const float *) in->pixels + srow + (size_t) xmin * C;
              const double *k = &c->kk[(size_t) xx * ks];
              float *d = (float *) out->pixels + drow + (size_t) xx * C;
              for (int ch = 0; ch < C; ch++)
                {
                  double ss = 0.0;
                  for (int x = 0; x < xmax; x++)
                    ss += p[(size_t) x * C + ch] * k[x];
                  d[ch] = (float) ss;
                }
            }
        }
    }
}

/* Vertical pass: whole rows at a time (the 8-bit sums are exact, so the order of the taps is free;
 * float sums keep Pillow's order). @acc: scratch of one row of int32. */
static void
resample_v (DnImage *out, const DnImage *in, const Coeffs *c, int shift, int32_t *acc)
{
  size_t row = (size_t) in->width * in->channels;
  for (int yy = 0; yy < out->height; yy++)
    {
      int ymin = c->bounds[yy * 2] - shift, ymax = c->bounds[yy * 2 + 1];
      if (in->type == DN_PIXEL_U8)
        {
          const int32_t *k = &c->ik[(size_t) yy * c->ksize];
          for (size_t i = 0; i < row; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
          for (int y = 0; y < ymax; y++)
            {
              const uint8_t *p = (const uint8_t *) in->pixels + (size_t) (ymin + y) * row;
              int32_t kv = k[y];
              for (size_t i = 0; i < row; i++)
                acc[i] += p[i] * kv;
            }
          uint8_t *d = (uint8_t *) out->pixels + (size_t) yy * row;
          for (size_t i = 0; i < row; i++)
            d[i] = clip8 (acc[i]);
        }
      else
        {
          const double *k = &c->kk[(size_t) yy * c->ksize];
          for (size_t i = 0; i < row; i++)
            {
              const float *p = (const float *) in->pixels + (size_t) ymin * row + i;
              double ss = 0.0;
              for (int y = 0; y < ymax; y++)
                ss += p[(size_t) y * row] * k[y];
              ((float *) out->pixels)[(size_t) yy * row + i] = (float) ss;
            }
        }
    }
}

static size_t
pixel_size (const DnImage *img)
{
  return img->type == DN_PIXEL_U8 ? 1 : sizeof (float);
}

static DnStatus
image_copy (const DnImage *in, DnImage *out)
{
  DnStatus st = dn_image_alloc (out, in->width, in->height, in->channels, in->type);
  if (st == DN_OK)
    memcpy (out->pixels, in->pixels, (size_t) in->width * in->height * in->channels * pixel_size (in));
  return st;
}

DnStatus
dn_pil_resize_bilinear (const DnImage *in, int out_w, int out_h, DnImage *out)
{
  memset (out, 0, sizeof *out);
  if (out_w <= 0 || out_h <= 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "resize: bad size %dx%d", out_w, out_h);
  if (out_w == in->width && out_h == in->height)
    return image_copy (in, out);
  bool need_h = out_w != in->width, need_v = out_h != in->height;
  Coeffs cv = { 0 }, ch = { 0 };
  DnImage tmp = { 0 };
  DnStatus st = precompute_coeffs (in->height, out_h, &cv);
  if (st != DN_OK)
    return st;
  int ybox_first = cv.bounds[0], ybox_last = cv.bounds[out_h * 2 - 2] + cv.bounds[out_h * 2 - 1];
  const DnImage *src = in;
  int shift = 0;
  if (need_h)
    {
      if ((st = precompute_coeffs (in->width, out_w, &ch)) != DN_OK)
        goto out;
      /* only the rows the vertical pass reads */
      int rows = need_v ? ybox_last - ybox_first : in->height, y0 = need_v ? ybox_first : 0;
      if ((st = dn_image_alloc (&tmp, out_w, rows, in->channels, in->type)) != DN_OK)
        goto out;
      resample_h (&tmp, in, y0, &ch);
      src = &tmp;
      shift = y0;
    }
  if (need_v)
    {
      int32_t *acc = malloc ((size_t) src->width * in->channels * sizeof *acc);
      if (!acc)
        st = dn_set_error (DN_ERROR_NO_MEMORY, "resize: out of memory");
      else if ((st = dn_image_alloc (out, src->width, out_h, in->channels, in->type)) == DN_OK)
        resample_v (out, src, &cv, shift, acc);
      free (acc);
      if (st != DN_OK)
        goto out;
    }
  else
    {
      *out = tmp;
      memset (&tmp, 0, sizeof tmp);
    }
out:
  coeffs_free (&cv);
  coeffs_free (&ch);
  dn_image_clear (&tmp);
  return st;
}

/* The window [rx, rx+rw) × [ry, ry+rh) of dn_pil_resize_bilinear (in, out_w, out_h): every output pixel is
 * computed exactly as the full resize computes it (same coefficients, same passes), only the pixels
 * outside the window are not computed. The screening pipeline's resize-then-centre-crop computes only
 * the crop this way (about 3× less work for ImageNet-sized images). */
static DnStatus
pil_resize_window (const DnImage *in, int out_w, int out_h, int rx, int ry, int rw, int rh, DnImage *out)
{
  memset (out, 0, sizeof *out);
  Coeffs cv = { 0 }, ch = { 0 };
  DnImage tmp = { 0 };
  int32_t *acc = NULL;
  DnStatus st = precompute_coeffs (in->height, out_h, &cv);
  if (st != DN_OK)
    return st;
  if ((st = precompute_coeffs (in->width, out_w, &ch)) != DN_OK)
    goto out;
  /* views of the coefficients for the window's columns and rows */
  Coeffs hv = { .ksize = ch.ksize, .bounds = ch.bounds + 2 * rx, .kk = ch.kk + (size_t) rx * ch.ksize,
                .ik = ch.ik + (size_t) rx * ch.ksize };
  Coeffs vv = { .ksize = cv.ksize, .bounds = cv.bounds + 2 * ry, .kk = cv.kk + (size_t) ry * cv.ksize,
                .ik = cv.ik + (size_t) ry * cv.ksize };
  int y0 = vv.bounds[0], y1 = vv.bounds[(rh - 1) * 2] + vv.bounds[(rh - 1) * 2 + 1];
  if ((st = dn_image_alloc (&tmp, rw, y1 - y0, in->channels, in->type)) != DN_OK)
    goto out;
  resample_h (&tmp, in, y0, &hv);
  acc = malloc ((size_t) rw * in->channels * sizeof *acc);
  if (!acc)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "resize: out of memory");
      goto out;
    }
  if ((st = dn_image_alloc (out, rw, rh, in->channels, in->type)) == DN_OK)
    resample_v (out, &tmp, &vv, y0, acc);
out:
  free (acc);
  coeffs_free (&cv);
  coeffs_free (&ch);
  dn_image_clear (&tmp);
  return st;
}

/* cv2 -------------------------------------------------------------------------------------------- */

/* OpenCV's resize with INTER_LINEAR: sample centres (d + 0.5)·scale − 0.5, float weights, border
 * clamping. */
static void
cv2_taps (int in, int out, int *i0, int *i1, float *w)
{
  double scale = (double) in / out;
  for (int d = 0; d < out; d++)
    {
      float f = (float) ((d + 0.5) * scale - 0.5);
      int s = (int) floorf (f);
      f -= (float) s;
      if (s < 0)
        {
          s = 0;
          f = 0;
        }
      if (s >= in - 1)
        {
          s = in - 1;
          f = 0;
        }
      i0[d] = s;
      i1[d] = s + 1 < in ? s + 1 : s;
      w[d] = f;
    }
}

void
dn_cv2_resize_linear (const double *src, int h, int w, double *dst, int out_h, int out_w)
{
  int *y0 = malloc (sizeof (int) * (size_t) (2 * out_h + 2 * out_w));
  float *wy = malloc (sizeof (float) * (size_t) (out_h + out_w));
  if (!y0 || !wy)
    {
      free (y0);
      free (wy);
      memset (dst, 0, sizeof (double) * (size_t) out_h * out_w);
      return;
    }
  int *y1 = y0 + out_h, *x0 = y1 + out_h, *x1 = x0 + out_w;
  float *wx = wy + out_h;
  cv2_taps (h, out_h, y0, y1, wy);
  cv2_taps (w, out_w, x0, x1, wx);
  for (int y = 0; y < out_h; y++)
    for (int x = 0; x < out_w; x++)
      {
        double a = src[(size_t) y0[y] * w + x0[x]] * (1.0f - wx[x]) + src[(size_t) y0[y] * w + x1[x]] * wx[x];
        double b = src[(size_t) y1[y] * w + x0[x]] * (1.0f - wx[x]) + src[(size_t) y1[y] * w + x1[x]] * wx[x];
        dst[(size_t) y * out_w + x] = a * (1.0f - wy[y]) + b * wy[y];
      }
  free (y0);
  free (wy);
}

/* Presets --------------------------------------------------------------------------------------------- */

void
dn_preprocess_options_init (DnPreprocessOptions *opts)
{
  memset (opts, 0, sizeof *opts);
}

/* The original's mask treatment: resize to the model's input (cv2 linear), then min-max. */
static DnStatus
set_mask (DnPreprocess *pp, const double *m, int h, int w, const char *what)
{
  size_t n = (size_t) pp->out_h * pp->out_w;
  double *r = malloc (n * sizeof *r);
  if (!r || !(pp->mask = malloc (n * sizeof *pp->mask)))
    {
      free (r);
      return dn_set_error (DN_ERROR_NO_MEMORY, "preprocess: out of memory");
    }
  if (h == pp->out_h && w == pp->out_w)
    memcpy (r, m, n * sizeof *r);
  else
    dn_cv2_resize_linear (m, h, w, r, pp->out_h, pp->out_w);
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++)
    {
      lo = fmin (lo, r[i]);
      hi = fmax (hi, r[i]);
    }
  if (!(hi > lo) || !isfinite (hi - lo))
    {
      free (r);
      return dn_set_error (DN_ERROR_FORMAT, "%s: the mask is constant or not finite", what);
    }
  for (size_t i = 0; i < n; i++)
    pp->mask[i] = (float) ((r[i] - lo) / (hi - lo));
  free (r);
  return DN_OK;
}

DnStatus
dn_preprocess_init (DnPreprocess *pp, const DnTwin *twin, const DnPreprocessOptions *opts)
{
  DnPreprocessOptions defaults;
  if (!opts)
    {
      dn_preprocess_options_init (&defaults);
      opts = &defaults;
    }
  memset (pp, 0, sizeof *pp);
  const DnTwinInfo *info = dn_twin_info (twin);
  pp->out_h = info->in_h;
  pp->out_w = info->in_w;
  pp->out_channels = info->in_channels == 3 ? 3 : 1;
  pp->norm = dn_twin_input_norm (twin);
  switch (info->arch)
    {
    case DN_ARCH_V1_CONVNEXT:
      pp->resize_short = 256;
      pp->crop = 167;
      snprintf (pp->preset, sizeof pp->preset, "v1");
      break;
    case DN_ARCH_V4_RESNET:
      pp->resize_short = 256;
      pp->crop = 236;
      snprintf (pp->preset, sizeof pp->preset, "v4");
      break;
    default:
      pp->resize_short = info->in_h < info->in_w ? info->in_h : info->in_w;
      pp->crop = pp->resize_short;
      snprintf (pp->preset, sizeof pp->preset, "gabor-v1");
      break;
    }
  if (pp->out_channels == 1)
    {
      pp->mean[0] = 0.449f;
      pp->std[0] = 0.226f;
    }
  else
    {
      const float m[3] = { 0.485f, 0.456f, 0.406f }, s[3] = { 0.229f, 0.224f, 0.225f };
      memcpy (pp->mean, m, sizeof m);
      memcpy (pp->std, s, sizeof s);
    }
  DnStatus st = DN_OK;
  if (opts->mask == DN_MASK_NONE)
    snprintf (pp->mask_source, sizeof pp->mask_source, "none");
  else if (opts->mask == DN_MASK_FILE)
    {
      if (!opts->mask_path)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "preprocess: a mask file is needed");
      DnNpyArray *a = NULL;
      if ((st = dn_npy_load (opts->mask_path, DN_NPY_FLOAT64, &a)) != DN_OK)
        return st;
      if (a->ndim != 2 || a->shape[0] < 1 || a->shape[1] < 1)
        st = dn_set_error (DN_ERROR_SHAPE, "%s: a mask must be a 2-D array", opts->mask_path);
      else
        st = set_mask (pp, a->data, (int) a->shape[0], (int) a->shape[1], opts->mask_path);
      dn_npy_array_free (a);
      snprintf (pp->mask_source, sizeof pp->mask_source, "%s", opts->mask_path);
    }
  else
    {
      int64_t h = 0, w = 0;
      const float *m = dn_twin_mask (twin, &h, &w);
      snprintf (pp->mask_source, sizeof pp->mask_source, m ? "model" : "none");
      if (m)
        {
          double *d = malloc ((size_t) (h * w) * sizeof *d);
          if (!d)
            return dn_set_error (DN_ERROR_NO_MEMORY, "preprocess: out of memory");
          for (int64_t i = 0; i < h * w; i++)
            d[i] = m[i];
          st = set_mask (pp, d, (int) h, (int) w, dn_twin_name (twin));
          free (d);
        }
    }
  if (st != DN_OK)
    dn_preprocess_clear (pp);
  else
    dn_preprocess_geometry (pp, opts->geometry, false);
  return st;
}

void
dn_preprocess_geometry (DnPreprocess *pp, DnGeometry geometry, bool model_space)
{
  if (geometry == DN_GEOMETRY_AUTO)
    geometry = model_space ? DN_GEOMETRY_MODEL : DN_GEOMETRY_IMAGENET;
  if (geometry == DN_GEOMETRY_MODEL)
    pp->resize_short = pp->crop = 0;
  else if (geometry == DN_GEOMETRY_CROP)
    pp->resize_short = 0;
}

void
dn_preprocess_clear (DnPreprocess *pp)
{
  free (pp->mask);
  pp->mask = NULL;
}

/* Transforms -------------------------------------------------------------------------------------- */

/* torchvision's CenterCrop on a PIL image: zero padding to at least crop×crop, then the window at
 * round((size − crop) / 2) (Python rounds halves to even; rint does too). */
static DnStatus
center_crop (const DnImage *in, int crop, DnImage *out)
{
  int pl = 0, pt = 0, w = in->width, h = in->height;
  if (crop > w)
    {
      pl = (crop - w) / 2;
      w += pl + (crop - in->width + 1) / 2;
    }
  if (crop > h)
    {
      pt = (crop - h) / 2;
      h += pt + (crop - in->height + 1) / 2;
    }
  int top = (int) rint ((h - crop) / 2.0), left = (int) rint ((w - crop) / 2.0);
  DnStatus st = dn_image_alloc (out, crop, crop, in->channels, in->type);
  if (st != DN_OK)
    return st;
  size_t ps = pixel_size (in) * in->channels;
  memset (out->pixels, 0, (size_t) crop * crop * ps);
  for (int y = 0; y < crop; y++)
    {
      int sy = y + top - pt;
      if (sy < 0 || sy >= in->height)
        continue;
      int x0 = left - pl, xa = x0 < 0 ? -x0 : 0, xb = crop;
      if (x0 + xb > in->width)
        xb = in->width - x0;
      if (xb > xa)
        memcpy ((char *) out->pixels + ((size_t) y * crop + xa) * ps,
                (const char *) in->pixels + ((size_t) sy * in->width + x0 + xa) * ps, (size_t) (xb - xa) * ps);
    }
  return DN_OK;
}

/* Replaces *cur by *next (freeing *cur unless it is the caller's input). */
static void
advance (DnImage *cur, DnImage *next, const DnImage *input)
{
  if (cur->pixels != input->pixels)
    dn_image_clear (cur);
  *cur = *next;
  memset (next, 0, sizeof *next);
}

DnStatus
dn_preprocess_geometry_only (const DnPreprocess *pp, const DnImage *img, DnImage *out)
{
  DnImage cur = *img, next = { 0 };
  DnStatus st = DN_OK;
  memset (out, 0, sizeof *out);
  if (pp->resize_short > 0)
    {
      int w = cur.width, h = cur.height, s = pp->resize_short;
      int shrt = w <= h ? w : h, lng = w <= h ? h : w;
      int nl = (int) ((double) ((int64_t) s * lng) / shrt);
      int nw = w <= h ? s : nl, nh = w <= h ? nl : s;
      if (nw != w && nh != h && pp->crop > 0 && pp->crop <= nw && pp->crop <= nh)
        {
          /* resize and centre crop in one: only the crop's pixels (see center_crop for the window) */
          int top = (int) rint ((nh - pp->crop) / 2.0), left = (int) rint ((nw - pp->crop) / 2.0);
          if ((st = pil_resize_window (&cur, nw, nh, left, top, pp->crop, pp->crop, &next)) != DN_OK)
            goto fail;
          advance (&cur, &next, img);
        }
      else if (nw != w || nh != h)
        {
          if ((st = dn_pil_resize_bilinear (&cur, nw, nh, &next)) != DN_OK)
            goto fail;
          advance (&cur, &next, img);
        }
    }
  if (pp->crop > 0 && (cur.width != pp->crop || cur.height != pp->crop))
    {
      if ((st = center_crop (&cur, pp->crop, &next)) != DN_OK)
        goto fail;
      advance (&cur, &next, img);
    }
  if (cur.width != pp->out_w || cur.height != pp->out_h)
    {
      if ((st = dn_pil_resize_bilinear (&cur, pp->out_w, pp->out_h, &next)) != DN_OK)
        goto fail;
      advance (&cur, &next, img);
    }
  if (cur.pixels == img->pixels)
    return image_copy (img, out);
  *out = cur;
  return DN_OK;
fail:
  if (cur.pixels != img->pixels)
    dn_image_clear (&cur);
  return st;
}

DnStatus
dn_preprocess_image (const DnPreprocess *pp, const DnImage *img, float *out)
{
  if (!img->pixels || (img->channels != 1 && img->channels != 3))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "preprocess: bad image");
  DnImage g;
  DnStatus st = dn_preprocess_geometry_only (pp, img, &g);
  if (st != DN_OK)
    return st;
  size_t P = (size_t) pp->out_h * pp->out_w;
  int C = pp->out_channels;
  if (g.type == DN_PIXEL_U8)
    {
      /* ToTensor + Normalize of an 8-bit value v is ((float) v / 255 − mean) / std in float32: a table */
      const uint8_t *p = g.pixels;
      for (int c = 0; c < C; c++)
        {
          float lut[256];
          for (int v = 0; v < 256; v++)
            lut[v] = ((float) v / 255.0f - pp->mean[c]) / pp->std[c];
          float *o = out + (size_t) c * P;
          if (g.channels == C)
            for (size_t i = 0; i < P; i++)
              o[i] = lut[p[i * C + c]];
          else if (g.channels == 1)
            for (size_t i = 0; i < P; i++)
              o[i] = lut[p[i]];
          else /* PIL's "L" */
            for (size_t i = 0; i < P; i++)
              o[i] = lut[(p[3 * i] * 19595 + p[3 * i + 1] * 38470 + p[3 * i + 2] * 7471 + 0x8000) >> 16];
        }
    }
  else
    {
      const float *p = g.pixels;
      for (int c = 0; c < C; c++)
        {
          float *o = out + (size_t) c * P, m = pp->mean[c], sd = pp->std[c];
          if (g.channels == C || g.channels == 1)
            for (size_t i = 0; i < P; i++)
              o[i] = (p[i * g.channels + (g.channels == 1 ? 0 : (size_t) c)] - m) / sd;
          else
            for (size_t i = 0; i < P; i++)
              o[i] = (0.299f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2] - m) / sd;
        }
    }
  dn_image_clear (&g);
  if (pp->mask)
    for (int c = 0; c < C; c++)
      for (size_t i = 0; i < P; i++)
        out[(size_t) c * P + i] *= pp->mask[i];
  if (pp->norm > 0)
    {
      double ss = 0;
      for (size_t i = 0; i < P * C; i++)
        ss += (double) out[i] * out[i];
      float denom = (float) sqrt (ss) + 1e-8f, norm = pp->norm;
      for (size_t i = 0; i < P * C; i++)
        out[i] = out[i] * norm / denom;
    }
  return DN_OK;
}
