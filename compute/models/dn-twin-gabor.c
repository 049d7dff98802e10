/* dn-twin-gabor.c: the built-in twin "builtin:gabor-v1": a generated population of V1-like model
 * neurons with known receptive fields, run by the same engine and ops as the real twins, so that
 * synthesis and screening can be checked against ground truth.
 *
 * Input (N,1,93,93) like the V1 twin (stimuli at L2 norm 12). Each neuron k has Gabor filters of unit
 * L2 norm,
 *   G(x,y) = exp(−(u² + v²)/(2σ²)) · cos(2π u/λ + φ),  u = (x−cx) cosθ + (y−cy) sinθ,
 *                                                      v = −(x−cx) sinθ + (y−cy) cosθ,
 * in image coordinates (x = column to the right, y = row downwards, pixel centres at integers), with
 * its DC removed under the envelope. θ is the direction of the luminance modulation (the grating's wave
 * vector), in [0°, 180°). σ = 0.5 λ.
 *   simple cell (linear–nonlinear):  y_k = f_k / 3,                 f_k = ⟨G_k, x⟩
 *   complex cell (energy model):     y_k = (f_k,0² + f_k,90²) / 24,  quadrature pair φ = 0°, 90°
 * and, like every twin, r_k = elu(y_k − 1) + 1. The population: 8 orientations × 3 wavelengths
 * (8, 12, 18 px) × 4 phases (0°, 90°, 180°, 270°) of simple cells at positions on a 3×3 grid of 6-px
 * spacing around the image centre (46, 46), then 8 × 3 complex cells at the centre: 120 neurons.
 *
 * Computed as y = M1·f + M2·(f⊙f) with f = W·x (W: all filters, one row each), so the forward and the
 * input gradient are linear layers, a product and a sum.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-gabor.h"
#include "dn-ops.h"
#include "dn-twin-private.h"

#define SIDE 93
#define NPIX (SIDE * SIDE)
#define N_ORI 8
#define N_SF 3
#define N_PHASE 4
#define N_SIMPLE (N_ORI * N_SF * N_PHASE)
#define N_COMPLEX (N_ORI * N_SF)
#define N_CELLS (N_SIMPLE + N_COMPLEX)
#define N_FILTERS (N_SIMPLE + 2 * N_COMPLEX)

static const double WAVELENGTHS[N_SF] = { 8, 12, 18 };

typedef struct
{
  DnTwinMember base;
  DnGaborCell cells[N_CELLS];
  float *filters;  /* (N_FILTERS, NPIX) host copy */
  DnTensor *W;     /* (N_FILTERS, NPIX) */
  DnTensor *M1;    /* (N_CELLS, N_FILTERS) */
  DnTensor *M2;    /* (N_CELLS, N_FILTERS) */
} GaborMember;

typedef struct
{
  DnArena *arena;
  DnTensor *f, *f2, *y1, *y2;   /* (N,F), (N,F), (N,K), (N,K) */
  DnTensor *gf, *gf2;           /* gradients (N,F) */
} GaborWork;

void
dn_gabor_filter (const DnGaborCell *c, double phase_deg, float *out)
{
  double th = c->orientation_deg * M_PI / 180, ph = phase_deg * M_PI / 180;
  double sigma = 0.5 * c->wavelength;
  double sum = 0, env_sum = 0;
  double *g = malloc (NPIX * sizeof *g), *env = malloc (NPIX * sizeof *env);
  if (!g || !env)
    {
      free (g);
      free (env);
      memset (out, 0, NPIX * sizeof *out);
      return;
    }
  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++)
      {
        double dx = x - c->x, dy = y - c->y;
        double u = dx * cos (th) + dy * sin (th), v = -dx * sin (th) + dy * cos (th);
        double e = exp (-(u * u + v * v) / (2 * sigma * sigma));
        env[y * SIDE + x] = e;
        g[y * SIDE + x] = e * cos (2 * M_PI * u / c->wavelength + ph);
        sum += g[y * SIDE + x];
        env_sum += e;
      }
  double norm = 0;
  for (int i = 0; i < NPIX; i++)
    {
      g[i] -= env[i] * sum / env_sum;
      norm += g[i] * g[i];
    }
  norm = sqrt (norm);
  for (int i = 0; i < NPIX; i++)
    out[i] = (float) (g[i] / norm);
  free (g);
  free (env);
}

static void
gabor_free (DnTwinMember *base)
{
  GaborMember *m = (GaborMember *) base;
  if (!m)
    return;
  dn_tensor_free (m->W);
  dn_tensor_free (m->M1);
  dn_tensor_free (m->M2);
  free (m->filters);
  free (m);
}

DnTwinMember *
dn_twin_gabor_member_new (DnDevice *dev, DnTwinInfo *info, DnStatus *status)
{
  GaborMember *m = calloc (1, sizeof *m);
  float *M1 = calloc ((size_t) N_CELLS * N_FILTERS, sizeof *M1);
  float *M2 = calloc ((size_t) N_CELLS * N_FILTERS, sizeof *M2);
  if (!m || !M1 || !M2 || !(m->filters = malloc ((size_t) N_FILTERS * NPIX * sizeof (float))))
    {
      free (M1);
      free (M2);
      gabor_free (m ? &m->base : NULL);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "builtin:gabor-v1: out of memory");
      return NULL;
    }
  m->base.klass = &dn_twin_gabor_class;
  int k = 0, f = 0;
  for (int o = 0; o < N_ORI; o++)
    for (int s = 0; s < N_SF; s++)
      for (int p = 0; p < N_PHASE; p++, k++, f++)
        {
          DnGaborCell *c = &m->cells[k];
          int slot = (o * N_SF * N_PHASE + s * N_PHASE + p) % 9;
          c->id = k;
          c->type = DN_GABOR_SIMPLE;
          c->x = 46 + 6 * (slot % 3 - 1);
          c->y = 46 + 6 * (slot / 3 - 1);
          c->orientation_deg = 180.0 * o / N_ORI;
          c->wavelength = WAVELENGTHS[s];
          c->sigma = 0.5 * WAVELENGTHS[s];
          c->phase_deg = 90.0 * p;
          dn_gabor_filter (c, c->phase_deg, m->filters + (size_t) f * NPIX);
          M1[(size_t) k * N_FILTERS + f] = 1.0f / 3.0f;
        }
  for (int o = 0; o < N_ORI; o++)
    for (int s = 0; s < N_SF; s++, k++, f += 2)
      {
        DnGaborCell *c = &m->cells[k];
        c->id = k;
        c->type = DN_GABOR_COMPLEX;
        c->x = c->y = 46;
        c->orientation_deg = 180.0 * o / N_ORI;
        c->wavelength = WAVELENGTHS[s];
        c->sigma = 0.5 * WAVELENGTHS[s];
        c->phase_deg = 0;
        dn_gabor_filter (c, 0, m->filters + (size_t) f * NPIX);
        dn_gabor_filter (c, 90, m->filters + (size_t) (f + 1) * NPIX);
        M2[(size_t) k * N_FILTERS + f] = 1.0f / 24.0f;
        M2[(size_t) k * N_FILTERS + f + 1] = 1.0f / 24.0f;
      }
  DnStatus st = DN_OK;
  if (!(m->W = dn_tensor_new2 (dev, N_FILTERS, NPIX, &st)) || (st = dn_tensor_upload (m->W, m->filters, (int64_t) N_FILTERS * NPIX))
      || !(m->M1 = dn_tensor_new2 (dev, N_CELLS, N_FILTERS, &st)) || (st = dn_tensor_upload (m->M1, M1, N_CELLS * N_FILTERS))
      || !(m->M2 = dn_tensor_new2 (dev, N_CELLS, N_FILTERS, &st)) || (st = dn_tensor_upload (m->M2, M2, N_CELLS * N_FILTERS)))
    {
      free (M1);
      free (M2);
      gabor_free (&m->base);
      *status = st;
      return NULL;
    }
  free (M1);
  free (M2);
  info->arch = DN_ARCH_GABOR;
  info->arch_name = "builtin:gabor-v1";
  info->in_channels = 1;
  info->in_h = info->in_w = SIDE;
  info->n_neurons = N_CELLS;
  info->n_parameters = (int64_t) N_FILTERS * NPIX;
  *status = DN_OK;
  return &m->base;
}

const DnGaborCell *
dn_gabor_cell (const DnTwinMember *base, int k)
{
  const GaborMember *m = (const GaborMember *) base;
  return k >= 0 && k < N_CELLS ? &m->cells[k] : NULL;
}

/* The filter of cell k's first (or only) Gabor. */
const float *
dn_gabor_cell_filter (const DnTwinMember *base, int k)
{
  const GaborMember *m = (const GaborMember *) base;
  if (k < 0 || k >= N_CELLS)
    return NULL;
  int f = k < N_SIMPLE ? k : N_SIMPLE + 2 * (k - N_SIMPLE);
  return m->filters + (size_t) f * NPIX;
}

static void
gabor_workspace_free (void *p)
{
  GaborWork *w = p;
  if (!w)
    return;
  DnTensor *t[] = { w->f, w->f2, w->y1, w->y2, w->gf, w->gf2 };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    dn_tensor_free (t[i]);
  dn_arena_free (w->arena);
  free (w);
}

static void *
gabor_workspace_new (DnDevice *dev, const DnTwinMember *base, int64_t N, DnStatus *status)
{
  GaborWork *w = calloc (1, sizeof *w);
  if (!w)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "builtin:gabor-v1: out of memory");
      return NULL;
    }
  size_t bytes = (size_t) N * (4 * N_FILTERS + 2 * N_CELLS) * sizeof (float) + 8 * 256;
  w->arena = dn_arena_new (dev, bytes, status);
  if (!w->arena || !(w->f = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_FILTERS }, status))
      || !(w->f2 = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_FILTERS }, status))
      || !(w->gf = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_FILTERS }, status))
      || !(w->gf2 = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_FILTERS }, status))
      || !(w->y1 = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_CELLS }, status))
      || !(w->y2 = dn_arena_tensor (w->arena, 2, (const int64_t[]){ N, N_CELLS }, status)))
    {
      gabor_workspace_free (w);
      return NULL;
    }
  return w;
}

static const DnTensor *
gabor_intermediate (void *p, const char *name)
{
  GaborWork *w = p;
  return strcmp (name, "filters") == 0 ? w->f : NULL;
}

static DnStatus
flat_view (const DnTensor *x, DnTensor **out)
{
  DnStatus st;
  *out = dn_tensor_view (x, 0, 2, (const int64_t[]){ x->shape[0], NPIX }, &st);
  return st;
}

static DnStatus
gabor_forward (DnTwinMember *base, void *p, DnTensor *y, const DnTensor *x, bool centered)
{
  GaborMember *m = (GaborMember *) base;
  GaborWork *w = p;
  if (x->shape[1] != 1)
    return dn_set_error (DN_ERROR_SHAPE, "builtin:gabor-v1 takes a 1-channel image");
  DnTensor *xf;
  DN_TRY (flat_view (x, &xf));
  DnStatus st = dn_linear_forward (w->f, xf, m->W, NULL);
  dn_tensor_free (xf);
  DN_TRY (st);
  DN_TRY (dn_mul_forward (w->f2, w->f, w->f));
  DN_TRY (dn_linear_forward (w->y1, w->f, m->M1, NULL));
  DN_TRY (dn_linear_forward (w->y2, w->f2, m->M2, NULL));
  return dn_add_forward (y, w->y1, w->y2);
}

static DnStatus
gabor_backward (DnTwinMember *base, void *p, DnTensor *dx, const DnTensor *dy, const DnTensor *x)
{
  GaborMember *m = (GaborMember *) base;
  GaborWork *w = p;
  DN_TRY (dn_tensor_fill (w->gf, 0));
  DN_TRY (dn_tensor_fill (w->gf2, 0));
  /* y = y1 + y2: both receive dy */
  DN_TRY (dn_linear_backward (w->gf, NULL, NULL, dy, w->f, m->M1));
  DN_TRY (dn_linear_backward (w->gf2, NULL, NULL, dy, w->f2, m->M2));
  /* d(f⊙f) = 2 f ⊙ gf2: the product rule's two terms */
  DN_TRY (dn_mul_backward (w->gf, NULL, w->f, w->f, w->gf2));
  DN_TRY (dn_mul_backward (w->gf, NULL, w->f, w->f, w->gf2));
  DnTensor *xf, *dxf;
  DN_TRY (flat_view (x, &xf));
  DnStatus st = flat_view (dx, &dxf);
  if (st == DN_OK)
    st = dn_linear_backward (dxf, NULL, NULL, w->gf, xf, m->W);
  dn_tensor_free (xf);
  dn_tensor_free (dxf);
  return st;
}

const DnTwinMemberClass dn_twin_gabor_class = {
  .forward = gabor_forward,
  .backward = gabor_backward,
  .workspace_new = gabor_workspace_new,
  .workspace_free = gabor_workspace_free,
  .intermediate = gabor_intermediate,
  .free = gabor_free,
};
