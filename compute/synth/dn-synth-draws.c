/* dn-synth-draws.c: the default random draws of pole synthesis: Philox4x32-10, counter-based, so that
 * every draw of a job is a pure function of (seed, pole, step, stream, index) and does not depend on the
 * batch the job runs in or on the order of jobs (the layout is documented at dn_synth_draws_default in
 * dn-synth.h).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-synth.h"

enum
{
  STREAM_INIT = 0,
  STREAM_CENTRE = 1,
  STREAM_SIDE = 2,
  STREAM_NOISE = 3,
};

/* Random123's Philox4x32 with 10 rounds: per round two 32×32→64 multiplies, key bumped by the Weyl
 * constants between rounds. */
void
dn_synth_philox4x32 (const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++)
    {
      if (r > 0)
        {
          k0 += 0x9E3779B9u;
          k1 += 0xBB67AE85u;
        }
      uint64_t p0 = (uint64_t) 0xD2511F53u * c0, p1 = (uint64_t) 0xCD9E8D57u * c2;
      uint32_t n0 = (uint32_t) (p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t) (p0 >> 32) ^ c3 ^ k1;
      c1 = (uint32_t) p1;
      c3 = (uint32_t) p0;
      c0 = n0;
      c2 = n2;
    }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

static void
job_key (const DnSynthJob *job, uint32_t key[2])
{
  key[0] = job->seed;
  key[1] = 0x5EED0000u | (job->weight > 0 ? 1u : 0u);
}

static void
block (const DnSynthJob *job, int t1, int stream, int64_t i, uint32_t out[4])
{
  uint32_t key[2], ctr[4] = { (uint32_t) i, (uint32_t) t1, (uint32_t) stream, (uint32_t) ((uint64_t) i >> 32) };
  job_key (job, key);
  dn_synth_philox4x32 (ctr, key, out);
}

/* Standard normals z[0 … n) of one stream. */
static void
normals (const DnSynthJob *job, int t1, int stream, float *z, int64_t n)
{
  for (int64_t b = 0; 4 * b < n; b++)
    {
      uint32_t a[4];
      block (job, t1, stream, b, a);
      for (int h = 0; h < 2; h++)
        {
          double u1 = ((double) a[2 * h] + 1.0) * 0x1p-32, u2 = (double) a[2 * h + 1] * 0x1p-32;
          double r = sqrt (-2.0 * log (u1)), s = sin (2 * M_PI * u2), c = cos (2 * M_PI * u2);
          int64_t i = 4 * b + 2 * h;
          if (i < n)
            z[i] = (float) (r * c);
          if (i + 1 < n)
            z[i + 1] = (float) (r * s);
        }
    }
}

/* Uniforms in [0, 1) with 24 bits, exact in float. */
static void
uniforms (const DnSynthJob *job, int t1, int stream, float *u, int64_t n)
{
  for (int64_t b = 0; 4 * b < n; b++)
    {
      uint32_t a[4];
      block (job, t1, stream, b, a);
      for (int k = 0; k < 4 && 4 * b + k < n; k++)
        u[4 * b + k] = (float) (a[k] >> 8) * 0x1p-24f;
    }
}

static DnStatus
default_init (void *user, const DnSynthJob *job, const DnSynthParams *p, float *param, int64_t n)
{
  if (p->kind == DN_SYNTH_PIXEL)
    {
      normals (job, 0, STREAM_INIT, param, n);
      float s = (float) p->init_std;
      for (int64_t i = 0; i < n; i++)
        param[i] *= s;
    }
  else
    {
      uniforms (job, 0, STREAM_INIT, param, n);
      const float pi = (float) M_PI;
      for (int64_t i = 0; i < n; i++)
        param[i] = param[i] * 2.0f * pi - pi;
    }
  return DN_OK;
}

static DnStatus
default_step (void *user, const DnSynthJob *job, const DnSynthParams *p, int t, float *cx, float *cy, float *sc,
              float *noise, int64_t n_noise)
{
  int nc = p->n_crops;
  float z[2 * 64];
  float *zz = nc <= 64 ? z : noise; /* more than 64 crops: borrow the noise buffer before it is filled */
  normals (job, t + 1, STREAM_CENTRE, zz, 2 * nc);
  float jit = (float) p->jitter;
  for (int k = 0; k < nc; k++)
    {
      cx[k] = 0.5f + zz[k] * jit;
      cy[k] = 0.5f + zz[nc + k] * jit;
    }
  uniforms (job, t + 1, STREAM_SIDE, sc, nc);
  float span = (float) (p->box_max - p->box_min), lo = (float) p->box_min;
  for (int k = 0; k < nc; k++)
    sc[k] = sc[k] * span + lo;
  normals (job, t + 1, STREAM_NOISE, noise, n_noise);
  float s = (float) p->noise;
  for (int64_t i = 0; i < n_noise; i++)
    noise[i] *= s;
  return DN_OK;
}

static const DnSynthDraws default_draws = { default_init, default_step, NULL };

const DnSynthDraws *
dn_synth_draws_default (void)
{
  return &default_draws;
}
