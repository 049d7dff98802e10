/* dn-dataset-builtin.c: generated stimulus sets that need no download, rendered as gray float images
 * in [0,1] at the model's input size (size×size, default 93). Coordinates are those of
 * builtin:gabor-v1 (dn-twin-gabor.c): x = column to the right, y = row downwards, pixel centres at
 * integers, image centre c = (size − 1)/2; an orientation θ is the direction of the luminance
 * modulation (the wave vector), u = (x − c) cos θ + (y − c) sin θ.
 *
 *   builtin:gratings  I = 0.5 + 0.5·C·cos(2π u/λ + φ). Grid (item order, last fastest):
 *                     θ = 180°·j/n_ori (n_ori 16: 11.25° steps), λ = 4·2^(j/2) px (n_sf 9: 4 … 64 px,
 *                     half-octave steps), φ = 360°·j/n_phase (n_phase 8), C = 2^−j, j = n_contrast−1 … 0
 *                     (n_contrast 3: 0.25, 0.5, 1). 3456 items. Params: ori_deg, wavelength_px,
 *                     phase_deg, contrast.
 *   builtin:plaids    I = 0.5 + 0.25·(cos(2π u₁/λ + φ) + cos(2π u₂/λ + φ)), components at θ ± Δ/2:
 *                     θ = 180°·j/n_ori (8), Δ ∈ {45°, 90°, 135°}, λ = 4·2^((j+1)/2) (n_sf 5: 5.7 … 22.6),
 *                     φ = 360°·j/n_phase (4). 480 items. Params: ori_deg, angle_deg, wavelength_px,
 *                     phase_deg.
 *   builtin:noise     n items (default 1000) of 1/f^alpha noise (amplitude spectrum, alpha 1: natural
 *                     image statistics): Gaussian Fourier coefficients (splitmix64 + Box-Muller, seeded by
 *                     seed + i) times f^−alpha (f in cycles/image, no DC), real part of the inverse
 *                     DFT, standardised and shown at RMS contrast 0.2 around 0.5, clipped to [0,1].
 *                     Params: seed, alpha.
 *   builtin:shapes    V4-style silhouettes (after Pasupathy & Connor 2001): 12 closed contours with
 *                     convex and concave parts, r(t) = R·(1 + Σ a_k cos(k (t − rot) + φ_k)), at 8
 *                     rotations (45°), 2 radii (0.15 and 0.25 of the size), bright (1) or dark (0) on 0.5,
 *                     4×4 supersampled along the contour. 384 items. Params: shape, rotation_deg, radius_px, polarity.
 * Options: builtin:NAME:key=value,... with size, n (noise), alpha, seed, n_ori, n_sf, n_phase,
 * n_contrast (gratings).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-screen-private.h"

static double
center (const DnBuiltin *b)
{
  return (b->size - 1) / 2.0;
}

/* Gratings -------------------------------------------------------------------------------------- */

static void
gratings_params (const DnBuiltin *b, int64_t i, double *p)
{
  int64_t c = i % b->n_contrast, ph = (i / b->n_contrast) % b->n_phase;
  int64_t sf = (i / ((int64_t) b->n_contrast * b->n_phase)) % b->n_sf;
  int64_t o = i / ((int64_t) b->n_contrast * b->n_phase * b->n_sf);
  p[0] = 180.0 * (double) o / b->n_ori;
  p[1] = 4.0 * pow (2.0, (double) sf / 2.0);
  p[2] = 360.0 * (double) ph / b->n_phase;
  p[3] = ldexp (1.0, -(int) (b->n_contrast - 1 - c));
}

static void
gratings_render (const DnBuiltin *b, const double *p, int64_t i, float *img)
{
  double th = p[0] * M_PI / 180, ph = p[2] * M_PI / 180, c = center (b);
  for (int y = 0; y < b->size; y++)
    for (int x = 0; x < b->size; x++)
      {
        double u = (x - c) * cos (th) + (y - c) * sin (th);
        img[y * b->size + x] = (float) (0.5 + 0.5 * p[3] * cos (2 * M_PI * u / p[1] + ph));
      }
}

/* Plaids ------------------------------------------------------------------------------------------- */

static const double PLAID_ANGLES[3] = { 45, 90, 135 };

static void
plaids_params (const DnBuiltin *b, int64_t i, double *p)
{
  int64_t ph = i % b->n_phase, sf = (i / b->n_phase) % b->n_sf, a = (i / ((int64_t) b->n_phase * b->n_sf)) % 3;
  int64_t o = i / ((int64_t) b->n_phase * b->n_sf * 3);
  p[0] = 180.0 * (double) o / b->n_ori;
  p[1] = PLAID_ANGLES[a];
  p[2] = 4.0 * pow (2.0, (double) (sf + 1) / 2.0);
  p[3] = 360.0 * (double) ph / b->n_phase;
}

static void
plaids_render (const DnBuiltin *b, const double *p, int64_t i, float *img)
{
  double t1 = (p[0] - p[1] / 2) * M_PI / 180, t2 = (p[0] + p[1] / 2) * M_PI / 180, ph = p[3] * M_PI / 180;
  double c = center (b), k = 2 * M_PI / p[2];
  for (int y = 0; y < b->size; y++)
    for (int x = 0; x < b->size; x++)
      {
        double u1 = (x - c) * cos (t1) + (y - c) * sin (t1), u2 = (x - c) * cos (t2) + (y - c) * sin (t2);
        img[y * b->size + x] = (float) (0.5 + 0.25 * (cos (k * u1 + ph) + cos (k * u2 + ph)));
      }
}

/* 1/f noise ----------------------------------------------------------------------------------------- */

static uint64_t
splitmix64 (uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double
uniform01 (uint64_t *s)
{
  return ((double) (splitmix64 (s) >> 11) + 0.5) * 0x1.0p-53;
}

static void
noise_params (const DnBuiltin *b, int64_t i, double *p)
{
  p[0] = (double) (b->seed + (uint64_t) i);
  p[1] = b->alpha;
}

static void
noise_render (const DnBuiltin *b, const double *p, int64_t i, float *img)
{
  int S = b->size;
  size_t n = (size_t) S * S;
  double *re = malloc (n * sizeof *re), *im = malloc (n * sizeof *im), *tr = malloc (n * sizeof *tr),
         *ti = malloc (n * sizeof *ti), *cs = malloc ((size_t) S * sizeof *cs), *sn = malloc ((size_t) S * sizeof *sn);
  if (!re || !im || !tr || !ti || !cs || !sn)
    {
      for (size_t j = 0; j < n; j++)
        img[j] = 0.5f;
      goto out;
    }
  uint64_t s = (uint64_t) p[0] * 0xD1B54A32D192ED03ULL + 0x2545F4914F6CDD1DULL;
  for (int ky = 0; ky < S; ky++)
    for (int kx = 0; kx < S; kx++)
      {
        double u1 = uniform01 (&s), u2 = uniform01 (&s);
        double r = sqrt (-2 * log (u1)), a = 2 * M_PI * u2;
        double fy = ky <= S / 2 ? ky : ky - S, fx = kx <= S / 2 ? kx : kx - S;
        double f = sqrt (fx * fx + fy * fy), amp = f > 0 ? pow (f, -p[1]) : 0;
        re[ky * S + kx] = amp * r * cos (a);
        im[ky * S + kx] = amp * r * sin (a);
      }
  for (int k = 0; k < S; k++)
    {
      cs[k] = cos (2 * M_PI * k / S);
      sn[k] = sin (2 * M_PI * k / S);
    }
  /* inverse DFT along x, then along y (real part) */
  for (int ky = 0; ky < S; ky++)
    for (int x = 0; x < S; x++)
      {
        double ar = 0, ai = 0;
        for (int kx = 0; kx < S; kx++)
          {
            int m = (kx * x) % S;
            ar += re[ky * S + kx] * cs[m] - im[ky * S + kx] * sn[m];
            ai += re[ky * S + kx] * sn[m] + im[ky * S + kx] * cs[m];
          }
        tr[ky * S + x] = ar;
        ti[ky * S + x] = ai;
      }
  double sum = 0, sum2 = 0;
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++)
      {
        double v = 0;
        for (int ky = 0; ky < S; ky++)
          {
            int m = (ky * y) % S;
            v += tr[ky * S + x] * cs[m] - ti[ky * S + x] * sn[m];
          }
        re[y * S + x] = v;
        sum += v;
        sum2 += v * v;
      }
  double mean = sum / (double) n, sd = sqrt (fmax (sum2 / (double) n - mean * mean, 0));
  for (size_t j = 0; j < n; j++)
    {
      double v = sd > 0 ? 0.5 + 0.2 * (re[j] - mean) / sd : 0.5;
      img[j] = (float) (v < 0 ? 0 : v > 1 ? 1 : v);
    }
out:
  free (re);
  free (im);
  free (tr);
  free (ti);
  free (cs);
  free (sn);
}

/* Shapes ------------------------------------------------------------------------------------------ */

#define N_SHAPES 12
#define N_HARM 3

/* (k, a_k, φ_k in degrees) per shape: circle, ellipse, rounded triangle, rounded square, 5-point star,
 * 6-point star, teardrop, peanut (two concavities), cross, trefoil, crescent-like, irregular blob. */
static const double SHAPES[N_SHAPES][N_HARM][3] = {
  { { 0, 0, 0 } },
  { { 2, 0.30, 0 } },
  { { 3, 0.18, 0 } },
  { { 4, 0.10, 0 } },
  { { 5, 0.30, 0 } },
  { { 6, 0.22, 0 } },
  { { 1, 0.25, 0 }, { 2, 0.10, 0 } },
  { { 2, 0.42, 0 } },
  { { 4, 0.35, 0 } },
  { { 3, 0.40, 0 } },
  { { 1, 0.45, 0 }, { 2, 0.25, 180 } },
  { { 2, 0.20, 0 }, { 3, 0.15, 30 }, { 5, 0.08, 60 } },
};

static void
shapes_params (const DnBuiltin *b, int64_t i, double *p)
{
  int64_t pol = i % 2, rad = (i / 2) % 2, rot = (i / 4) % 8, shape = i / 32;
  p[0] = (double) shape;
  p[1] = 45.0 * (double) rot;
  p[2] = (rad ? 0.25 : 0.15) * b->size;
  p[3] = pol ? 0 : 1;
}

/* inside the contour at (dx, dy) from the centre */
static bool
shape_inside (const double (*h)[3], double rot, double R, double dx, double dy)
{
  double r = hypot (dx, dy), t = atan2 (dy, dx) - rot, rho = 1;
  for (int k = 0; k < N_HARM; k++)
    rho += h[k][1] * cos (h[k][0] * t + h[k][2] * M_PI / 180);
  return r < R * rho;
}

/* Coverage by 4×4 supersampling, done only where the pixel's corners disagree (the shapes have no detail
 * finer than a pixel, so the others are wholly inside or outside). */
static void
shapes_render (const DnBuiltin *b, const double *p, int64_t i, float *img)
{
  const double (*h)[3] = SHAPES[(int) p[0] % N_SHAPES];
  double rot = p[1] * M_PI / 180, R = p[2], c = center (b);
  int S = b->size;
  bool *corner = malloc ((size_t) (S + 1) * (S + 1) * sizeof *corner);
  if (!corner)
    {
      for (int j = 0; j < S * S; j++)
        img[j] = 0.5f;
      return;
    }
  for (int y = 0; y <= S; y++)
    for (int x = 0; x <= S; x++)
      corner[y * (S + 1) + x] = shape_inside (h, rot, R, x - 0.5 - c, y - 0.5 - c);
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++)
      {
        const bool *q = corner + y * (S + 1) + x;
        int n = q[0] + q[1] + q[S + 1] + q[S + 2], inside = 0;
        if (n == 0 || n == 4)
          inside = n * 4;
        else
          for (int sy = 0; sy < 4; sy++)
            for (int sx = 0; sx < 4; sx++)
              inside += shape_inside (h, rot, R, x - c + (sx - 1.5) / 4, y - c + (sy - 1.5) / 4);
        img[y * S + x] = (float) (0.5 + (p[3] - 0.5) * inside / 16.0);
      }
  free (corner);
}

/* The sets --------------------------------------------------------------------------------------------- */

static int64_t
gratings_count (const DnBuiltin *b, int64_t n)
{
  return (int64_t) b->n_ori * b->n_sf * b->n_phase * b->n_contrast;
}

static int64_t
plaids_count (const DnBuiltin *b, int64_t n)
{
  return (int64_t) b->n_ori * 3 * b->n_sf * b->n_phase;
}

static int64_t
noise_count (const DnBuiltin *b, int64_t n)
{
  return n;
}

static int64_t
shapes_count (const DnBuiltin *b, int64_t n)
{
  return N_SHAPES * 8 * 2 * 2;
}

typedef struct
{
  const char *name;
  int n_params;
  const char *param_names[DN_BUILTIN_MAX_PARAMS];
  int n_ori, n_sf, n_phase, n_contrast; /* defaults; 0: not an option of this set */
  int64_t (*count) (const DnBuiltin *b, int64_t n);
  void (*params) (const DnBuiltin *b, int64_t i, double *p);
  void (*render) (const DnBuiltin *b, const double *p, int64_t i, float *img);
} SetDef;

static const SetDef SETS[] = {
  { "gratings", 4, { "ori_deg", "wavelength_px", "phase_deg", "contrast" }, 16, 9, 8, 3, gratings_count,
    gratings_params, gratings_render },
  { "plaids", 4, { "ori_deg", "angle_deg", "wavelength_px", "phase_deg" }, 8, 5, 4, 0, plaids_count, plaids_params,
    plaids_render },
  { "noise", 2, { "seed", "alpha" }, 0, 0, 0, 0, noise_count, noise_params, noise_render },
  { "shapes", 4, { "shape", "rotation_deg", "radius_px", "polarity" }, 0, 0, 0, 0, shapes_count, shapes_params,
    shapes_render },
};

/* Options --------------------------------------------------------------------------------------------- */

DnStatus
dn_builtin_init (DnBuiltin *b, const char *spec, int default_size)
{
  memset (b, 0, sizeof *b);
  b->size = default_size;
  b->alpha = 1.0;
  char name[32];
  const char *colon = strchr (spec, ':');
  size_t nl = colon ? (size_t) (colon - spec) : strlen (spec);
  snprintf (name, sizeof name, "%.*s", (int) (nl < sizeof name ? nl : sizeof name - 1), spec);
  const SetDef *set = NULL;
  for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++)
    if (strcmp (name, SETS[i].name) == 0)
      set = &SETS[i];
  if (!set)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "builtin:%s: unknown built-in set (there are gratings, plaids, noise, shapes)", name);
  b->n_ori = set->n_ori;
  b->n_sf = set->n_sf;
  b->n_phase = set->n_phase;
  b->n_contrast = set->n_contrast;
  int64_t n = 1000;
  for (const char *p = colon ? colon + 1 : NULL; p && *p;)
    {
      char key[32];
      const char *eq = strchr (p, '=');
      if (!eq || eq - p >= (long) sizeof key)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "builtin:%s: options are key=value,key=value", spec);
      snprintf (key, sizeof key, "%.*s", (int) (eq - p), p);
      char *end;
      double v = strtod (eq + 1, &end);
      if (end == eq + 1 || (*end && *end != ','))
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "builtin:%s: %s needs a number", spec, key);
      bool whole = v == floor (v) && v >= 0 && v <= 1e12, ok = true;
      bool noise = strcmp (name, "noise") == 0;
      if (strcmp (key, "alpha") == 0)
        ok = noise && v >= 0 && v <= 4 && (b->alpha = v, true);
      else if (!whole)
        ok = false;
      else if (strcmp (key, "seed") == 0)
        ok = noise && (b->seed = (uint64_t) v, true);
      else if (v < 1)
        ok = false;
      else if (strcmp (key, "size") == 0)
        ok = v <= 4096 && (b->size = (int) v, true);
      else if (strcmp (key, "n") == 0)
        ok = noise && (n = (int64_t) v, true);
      else if (strcmp (key, "n_ori") == 0)
        ok = b->n_ori && v <= 360 && (b->n_ori = (int) v, true);
      else if (strcmp (key, "n_sf") == 0)
        ok = b->n_sf && v <= 16 && (b->n_sf = (int) v, true);
      else if (strcmp (key, "n_phase") == 0)
        ok = b->n_phase && v <= 360 && (b->n_phase = (int) v, true);
      else if (strcmp (key, "n_contrast") == 0)
        ok = b->n_contrast && v <= 16 && (b->n_contrast = (int) v, true);
      else
        ok = false;
      if (!ok)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "builtin:%s: unknown or out-of-range option %s", spec, key);
      p = *end ? end + 1 : end;
    }
  b->name = set->name;
  b->n_params = set->n_params;
  memcpy (b->param_names, set->param_names, sizeof b->param_names);
  b->count = set->count (b, n);
  b->params = set->params;
  b->render = set->render;
  return DN_OK;
}
