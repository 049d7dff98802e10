/* synth-test.h: what the synthesis tests share: recorded random draws of the PyTorch replays
 * (v1_fixture.h5 pixel_ascent_replay, v4_fixture.h5 fourier_ascent_replay) fed to the engine as a
 * DnSynthDraws source, and small comparison helpers.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../twin/twin-fixture.h"
#include "dn-synth.h"
#include "dn-twin-load.h"

typedef struct
{
  int steps, nc;
  int64_t numel;  /* C·H·W */
  float *init;    /* (numel) the parameter before the first step */
  float *cx, *cy, *sc, *boxes; /* (steps, nc) and (steps, nc, 5) */
  float *noise;   /* (steps, nc, numel), already × the noise std */
} SynthReplay;

static inline float *
synth_read_f32 (DnH5 *h, const char *path, int64_t want_n)
{
  float *d;
  int nd;
  int64_t sh[DN_H5_MAX_DIMS], n = 1;
  DN_TEST_OK (dn_h5_read_f32 (h, path, &d, &nd, sh));
  for (int i = 0; i < nd; i++)
    n *= sh[i];
  if (want_n >= 0 && n != want_n)
    g_error ("%s: %lld values, expected %lld", path, (long long) n, (long long) want_n);
  return d;
}

static inline SynthReplay *
synth_replay_load (DnH5 *h, const char *group, const char *init_name, int steps, int nc, int64_t numel)
{
  SynthReplay *r = g_new0 (SynthReplay, 1);
  char path[256];
  r->steps = steps;
  r->nc = nc;
  r->numel = numel;
  g_snprintf (path, sizeof path, "%s/%s", group, init_name);
  r->init = synth_read_f32 (h, path, numel);
  r->cx = g_new (float, steps * nc);
  r->cy = g_new (float, steps * nc);
  r->sc = g_new (float, steps * nc);
  r->boxes = g_new (float, steps * nc * 5);
  r->noise = g_new (float, steps * nc * numel);
  static const char *names[] = { "cx", "cy", "sc", "boxes", "noise" };
  float *dst[] = { r->cx, r->cy, r->sc, r->boxes, r->noise };
  int64_t per[] = { nc, nc, nc, nc * 5, nc * numel };
  for (int t = 0; t < steps; t++)
    for (int i = 0; i < 5; i++)
      {
        g_snprintf (path, sizeof path, "%s/step_%d/%s", group, t, names[i]);
        float *d = synth_read_f32 (h, path, per[i]);
        memcpy (dst[i] + t * per[i], d, (size_t) per[i] * sizeof (float));
        free (d);
      }
  return r;
}

static inline void
synth_replay_free (SynthReplay *r)
{
  if (!r)
    return;
  free (r->init);
  g_free (r->cx);
  g_free (r->cy);
  g_free (r->sc);
  g_free (r->boxes);
  g_free (r->noise);
  g_free (r);
}

static inline DnStatus
synth_replay_init (void *user, const DnSynthJob *job, const DnSynthParams *p, float *param, int64_t n)
{
  SynthReplay *r = user;
  g_assert_cmpint (n, ==, r->numel);
  memcpy (param, r->init, (size_t) n * sizeof (float));
  return DN_OK;
}

static inline DnStatus
synth_replay_step (void *user, const DnSynthJob *job, const DnSynthParams *p, int t, float *cx, float *cy, float *sc,
                   float *noise, int64_t n_noise)
{
  SynthReplay *r = user;
  g_assert_cmpint (t, <, r->steps);
  g_assert_cmpint (n_noise, ==, r->nc * r->numel);
  memcpy (cx, r->cx + t * r->nc, (size_t) r->nc * sizeof (float));
  memcpy (cy, r->cy + t * r->nc, (size_t) r->nc * sizeof (float));
  memcpy (sc, r->sc + t * r->nc, (size_t) r->nc * sizeof (float));
  memcpy (noise, r->noise + t * n_noise, (size_t) n_noise * sizeof (float));
  return DN_OK;
}

static inline double *
synth_f64 (const float *x, int64_t n)
{
  double *d = g_new (double, n > 0 ? n : 1);
  for (int64_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}

static inline double
synth_max_abs (const float *a, const float *b, int64_t n)
{
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - (double) b[i]);
      if (!(d <= m))
        m = d;
    }
  return m;
}

/* rel err ||got − want||_inf / ||want||_inf of float arrays (dn_test_check_close) */
static inline void
synth_check_close (const char *what, const float *got, const float *want, int64_t n, double tol)
{
  double *g = synth_f64 (got, n), *w = synth_f64 (want, n);
  dn_test_check_close (what, g, w, n, tol);
  g_free (g);
  g_free (w);
}

static inline double
synth_seconds (void)
{
  return g_get_monotonic_time () * 1e-6;
}

/* builtin:gabor-v1 on a CPU device of its own (freed with synth_cpu_twin_free), NULL on failure. */
static inline DnTwin *
synth_cpu_gabor (void)
{
  DnDeviceOptions opts;
  dn_device_options_init (&opts);
  opts.backend = DN_BACKEND_CPU;
  DnStatus st;
  DnDevice *dev = dn_device_new (&opts, &st);
  DnTwin *t = dev ? dn_twin_open (dev, "builtin:gabor-v1", &st) : NULL;
  if (!t)
    dn_device_free (dev);
  return t;
}

static inline void
synth_cpu_twin_free (DnTwin *t)
{
  DnDevice *dev = t ? dn_twin_device (t) : NULL;
  dn_twin_free (t);
  if (dev)
    dn_device_free (dev);
}
