/* dn-model.c: permute4 and the Gaussian readout on both backends (shaders/model/…comp); float64
 * references in compute/ref/dn-ref-model.c.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-ops-model.h"

/* permute4 ----------------------------------------------------------------------------------------- */

typedef struct
{
  uint32_t n, d1, d2, d3, s0, s1, s2, s3, accumulate;
} PermuteParams;
_Static_assert (sizeof (PermuteParams) == 36, "PermuteParams mirrors permute4.comp");

typedef struct
{
  const float *x;
  float *y;
  PermuteParams p;
} PermuteArgs;

static void
permute_range (void *ctx, int64_t b, int64_t e)
{
  PermuteArgs *a = ctx;
  const PermuteParams *p = &a->p;
  for (int64_t i = b; i < e; i++)
    {
      uint32_t u = (uint32_t) i;
      uint32_t o3 = u % p->d3, r = u / p->d3;
      uint32_t o2 = r % p->d2;
      r /= p->d2;
      uint32_t o1 = r % p->d1, o0 = r / p->d1;
      float v = a->x[(int64_t) o0 * p->s0 + (int64_t) o1 * p->s1 + (int64_t) o2 * p->s2 + (int64_t) o3 * p->s3];
      a->y[i] = p->accumulate ? a->y[i] + v : v;
    }
}

/* Batched 2-D transpose: y[z][j][i] (+)= x[z][i][j] for x (Z,R,S) — the NCHW↔NHWC permutes — in
 * 32×32 tiles, so that both sides stream through the cache. */
typedef struct
{
  const float *x;
  float *y;
  int64_t Z, R, S, tiles_r, tiles_s;
  bool accumulate;
} TransposeArgs;

static void
transpose_range (void *ctx, int64_t b, int64_t e)
{
  const TransposeArgs *a = ctx;
  enum { T = 32 };
  for (int64_t t = b; t < e; t++)
    {
      int64_t z = t / (a->tiles_r * a->tiles_s), rem = t % (a->tiles_r * a->tiles_s);
      int64_t r0 = rem / a->tiles_s * T, s0 = rem % a->tiles_s * T;
      int64_t r1 = r0 + T < a->R ? r0 + T : a->R, s1 = s0 + T < a->S ? s0 + T : a->S;
      const float *x = a->x + z * a->R * a->S;
      float *y = a->y + z * a->R * a->S;
      for (int64_t j = s0; j < s1; j++)
        {
          float *yr = y + j * a->R;
          if (a->accumulate)
            for (int64_t i = r0; i < r1; i++)
              yr[i] += x[i * a->S + j];
          else
            for (int64_t i = r0; i < r1; i++)
              yr[i] = x[i * a->S + j];
        }
    }
}

/* y (+)= x.permute(perm); x has shape xd. */
static DnStatus
permute_run (const char *op, DnTensor *y, const DnTensor *x, const int64_t xd[4], const int perm[4], bool accumulate)
{
  int64_t st[4] = { xd[1] * xd[2] * xd[3], xd[2] * xd[3], xd[3], 1 };
  int64_t n = xd[0] * xd[1] * xd[2] * xd[3];
  if (n == 0)
    return DN_OK;
  if (n > UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " elements exceed the 2^32 limit", op, n);
  PermuteParams p = { (uint32_t) n,
                      (uint32_t) xd[perm[1]],
                      (uint32_t) xd[perm[2]],
                      (uint32_t) xd[perm[3]],
                      (uint32_t) st[perm[0]],
                      (uint32_t) st[perm[1]],
                      (uint32_t) st[perm[2]],
                      (uint32_t) st[perm[3]],
                      accumulate };
  if (dn_device_is_cpu (y->dev))
    {
      /* (0,2,3,1) and (0,3,1,2) — and any perm that keeps dim 0 and rotates the rest — are batched
       * 2-D transposes of (A,B) → (B,A) */
      int split = perm[0] == 0 && perm[1] == 2 && perm[2] == 3 && perm[3] == 1   ? 1
                  : perm[0] == 0 && perm[1] == 3 && perm[2] == 1 && perm[3] == 2 ? 2
                                                                                 : 0;
      if (split)
        {
          int64_t R = split == 1 ? xd[1] : xd[1] * xd[2], S = split == 1 ? xd[2] * xd[3] : xd[3];
          TransposeArgs t = { dn_tensor_host (x), dn_tensor_host (y), xd[0], R, S, (R + 31) / 32, (S + 31) / 32, accumulate };
          dn_cpu_parallel_for (y->dev, t.Z * t.tiles_r * t.tiles_s, 4, transpose_range, &t);
          return DN_OK;
        }
      PermuteArgs a = { dn_tensor_host (x), dn_tensor_host (y), p };
      dn_cpu_parallel_for (y->dev, n, 1 << 14, permute_range, &a);
      return DN_OK;
    }
  DnBinding b[] = { DN_READ (x), accumulate ? DN_READ_WRITE (y) : DN_WRITE (y) };
  return dn_vk_dispatch_1d (y->dev, DN_SHADER_PERMUTE4, b, 2, &p, sizeof p, n);
}

static DnStatus
check_perm (const char *op, const int perm[4], int inverse[4])
{
  int seen = 0;
  for (int i = 0; i < 4; i++)
    {
      if (perm[i] < 0 || perm[i] > 3 || (seen & (1 << perm[i])))
        return dn_set_error (DN_ERROR_SHAPE, "%s: (%d,%d,%d,%d) is not a permutation of (0,1,2,3)", op, perm[0],
                             perm[1], perm[2], perm[3]);
      seen |= 1 << perm[i];
      inverse[perm[i]] = i;
    }
  return DN_OK;
}

DnStatus
dn_permute4_forward (DnTensor *out, const DnTensor *inp, const int perm[4])
{
  const char *op = "permute4_forward";
  int inv[4];
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_TRY (check_perm (op, perm, inv));
  DN_CHECK_SHAPE (op, "inp", inp, 4, -1, -1, -1, -1);
  DN_CHECK_SHAPE (op, "out", out, 4, inp->shape[perm[0]], inp->shape[perm[1]], inp->shape[perm[2]],
                  inp->shape[perm[3]]);
  return permute_run (op, out, inp, inp->shape, perm, false);
}

DnStatus
dn_permute4_backward (DnTensor *dinp, const DnTensor *dout, const int perm[4])
{
  const char *op = "permute4_backward";
  int inv[4];
  DN_CHECK_SAME_DEVICE (op, dinp, dout);
  DN_TRY (check_perm (op, perm, inv));
  DN_CHECK_SHAPE (op, "dinp", dinp, 4, -1, -1, -1, -1);
  DN_CHECK_SHAPE (op, "dout", dout, 4, dinp->shape[perm[0]], dinp->shape[perm[1]], dinp->shape[perm[2]],
                  dinp->shape[perm[3]]);
  return permute_run (op, dinp, dout, dout->shape, inv, true);
}

/* readout ------------------------------------------------------------------------------------------ */

typedef struct
{
  uint32_t N, C, H, W, K, has_mu, flag_a, flag_b;
} ReadoutParams;
_Static_assert (sizeof (ReadoutParams) == 32, "ReadoutParams mirrors readout_*.comp");

typedef struct
{
  int x0, y0;
  float wx, wy;
  bool gx_in, gy_in;
} Pos;

/* The same float arithmetic as readout_common.glsl. */
static Pos
readout_pos (const float *mu, int64_t k, int64_t H, int64_t W)
{
  Pos p;
  float gx = mu ? mu[2 * k] : 0.0f, gy = mu ? mu[2 * k + 1] : 0.0f;
  p.gx_in = gx >= -1.0f && gx <= 1.0f;
  p.gy_in = gy >= -1.0f && gy <= 1.0f;
  gx = gx < -1.0f ? -1.0f : gx > 1.0f ? 1.0f : gx;
  gy = gy < -1.0f ? -1.0f : gy > 1.0f ? 1.0f : gy;
  float ix = ((gx + 1.0f) / 2.0f) * (float) (W - 1);
  float iy = ((gy + 1.0f) / 2.0f) * (float) (H - 1);
  float fx = floorf (ix), fy = floorf (iy);
  p.x0 = (int) fx;
  p.y0 = (int) fy;
  p.wx = ix - fx;
  p.wy = iy - fy;
  return p;
}

static inline float
fat (const float *plane, int64_t H, int64_t W, int y, int x)
{
  return y >= 0 && y < H && x >= 0 && x < W ? plane[(int64_t) y * W + x] : 0.0f;
}

static inline float
sample (const float *plane, int64_t H, int64_t W, const Pos *p)
{
  return (1.0f - p->wy) * ((1.0f - p->wx) * fat (plane, H, W, p->y0, p->x0) + p->wx * fat (plane, H, W, p->y0, p->x0 + 1))
         + p->wy
               * ((1.0f - p->wx) * fat (plane, H, W, p->y0 + 1, p->x0)
                  + p->wx * fat (plane, H, W, p->y0 + 1, p->x0 + 1));
}

typedef struct
{
  const float *feat, *mu, *F, *bias, *dy;
  float *y, *dfeat, *dmu, *dF, *dbias;
  int64_t N, C, H, W, K;
  bool uniform; /* every neuron reads the same position (mu NULL, DualNeuron's centred readout, or all equal) */
} ReadoutArgs;

/* Whether all K positions are the same (then the samples are shared by every neuron). */
static bool
readout_uniform (const float *mu, int64_t K)
{
  if (!mu)
    return true;
  for (int64_t k = 1; k < K; k++)
    if (mu[2 * k] != mu[0] || mu[2 * k + 1] != mu[1])
      return false;
  return true;
}

/* Uniform positions, images b … e−1: each channel sampled once per image, then the same sums over c in
 * the same order as readout_fwd_range, so the results are identical. */
static void
readout_fwd_uniform_range (void *ctx, int64_t b, int64_t e)
{
  ReadoutArgs *a = ctx;
  Pos p = readout_pos (a->mu, 0, a->H, a->W);
  for (int64_t n = b; n < e; n++)
    {
      float *y = a->y + n * a->K;
      for (int64_t k = 0; k < a->K; k++)
        y[k] = 0.0f;
      for (int64_t c = 0; c < a->C; c++)
        {
          const float *Fc = a->F + c * a->K;
          float sc = sample (a->feat + (n * a->C + c) * a->H * a->W, a->H, a->W, &p);
          for (int64_t k = 0; k < a->K; k++)
            y[k] += sc * Fc[k];
        }
      if (a->bias)
        for (int64_t k = 0; k < a->K; k++)
          y[k] += a->bias[k];
    }
}

static void
readout_fwd_range (void *ctx, int64_t b, int64_t e)
{
  ReadoutArgs *a = ctx;
  for (int64_t i = b; i < e; i++)
    {
      int64_t n = i / a->K, k = i % a->K;
      Pos p = readout_pos (a->mu, k, a->H, a->W);
      float acc = 0.0f;
      for (int64_t c = 0; c < a->C; c++)
        acc += sample (a->feat + (n * a->C + c) * a->H * a->W, a->H, a->W, &p) * a->F[c * a->K + k];
      if (a->bias)
        acc += a->bias[k];
      a->y[i] = acc;
    }
}

static inline void
add_at (float *plane, int64_t H, int64_t W, int y, int x, float v)
{
  if (y >= 0 && y < H && x >= 0 && x < W)
    plane[(int64_t) y * W + x] += v;
}

static void
readout_bwd_feat_range (void *ctx, int64_t b, int64_t e)
{
  ReadoutArgs *a = ctx;
  Pos pu = readout_pos (a->mu, 0, a->H, a->W);
  for (int64_t i = b; i < e; i++)
    {
      int64_t n = i / a->C, c = i % a->C;
      float *q = a->dfeat + i * a->H * a->W;
      if (a->uniform)
        {
          /* one position: Σ_k dy·F first, then its four bilinear shares */
          float g = 0.0f;
          for (int64_t k = 0; k < a->K; k++)
            g += a->dy[n * a->K + k] * a->F[c * a->K + k];
          add_at (q, a->H, a->W, pu.y0, pu.x0, g * (1.0f - pu.wy) * (1.0f - pu.wx));
          add_at (q, a->H, a->W, pu.y0, pu.x0 + 1, g * (1.0f - pu.wy) * pu.wx);
          add_at (q, a->H, a->W, pu.y0 + 1, pu.x0, g * pu.wy * (1.0f - pu.wx));
          add_at (q, a->H, a->W, pu.y0 + 1, pu.x0 + 1, g * pu.wy * pu.wx);
          continue;
        }
      for (int64_t k = 0; k < a->K; k++)
        {
          Pos p = readout_pos (a->mu, k, a->H, a->W);
          float g = a->dy[n * a->K + k] * a->F[c * a->K + k];
          add_at (q, a->H, a->W, p.y0, p.x0, g * (1.0f - p.wy) * (1.0f - p.wx));
          add_at (q, a->H, a->W, p.y0, p.x0 + 1, g * (1.0f - p.wy) * p.wx);
          add_at (q, a->H, a->W, p.y0 + 1, p.x0, g * p.wy * (1.0f - p.wx));
          add_at (q, a->H, a->W, p.y0 + 1, p.x0 + 1, g * p.wy * p.wx);
        }
    }
}

static void
readout_bwd_features_range (void *ctx, int64_t b, int64_t e)
{
  ReadoutArgs *a = ctx;
  for (int64_t i = b; i < e; i++)
    {
      int64_t c = i / a->K, k = i % a->K;
      Pos p = readout_pos (a->mu, k, a->H, a->W);
      float acc = 0.0f;
      for (int64_t n = 0; n < a->N; n++)
        acc += a->dy[n * a->K + k] * sample (a->feat + (n * a->C + c) * a->H * a->W, a->H, a->W, &p);
      a->dF[i] += acc;
    }
}

static void
readout_bwd_mu_range (void *ctx, int64_t b, int64_t e)
{
  ReadoutArgs *a = ctx;
  for (int64_t k = b; k < e; k++)
    {
      Pos p = readout_pos (a->mu, k, a->H, a->W);
      float gb = 0.0f, gmx = 0.0f, gmy = 0.0f;
      for (int64_t n = 0; n < a->N; n++)
        {
          float g = a->dy[n * a->K + k];
          gb += g;
          if (a->dmu)
            for (int64_t c = 0; c < a->C; c++)
              {
                const float *pl = a->feat + (n * a->C + c) * a->H * a->W;
                float f00 = fat (pl, a->H, a->W, p.y0, p.x0), f01 = fat (pl, a->H, a->W, p.y0, p.x0 + 1);
                float f10 = fat (pl, a->H, a->W, p.y0 + 1, p.x0), f11 = fat (pl, a->H, a->W, p.y0 + 1, p.x0 + 1);
                float gf = g * a->F[c * a->K + k];
                gmx += gf * ((1.0f - p.wy) * (f01 - f00) + p.wy * (f11 - f10));
                gmy += gf * ((1.0f - p.wx) * (f10 - f00) + p.wx * (f11 - f01));
              }
        }
      if (a->dbias)
        a->dbias[k] += gb;
      if (a->dmu)
        {
          if (p.gx_in)
            a->dmu[2 * k] += gmx * (float) (a->W - 1) / 2.0f;
          if (p.gy_in)
            a->dmu[2 * k + 1] += gmy * (float) (a->H - 1) / 2.0f;
        }
    }
}

static DnStatus
readout_check (const char *op, const DnTensor *feat, const DnTensor *mu, const DnTensor *features,
               const DnTensor *bias, int64_t *K)
{
  DN_CHECK_SHAPE (op, "feat", feat, 4, -1, -1, -1, -1);
  DN_CHECK_SHAPE (op, "features", features, 2, feat->shape[1], -1);
  DN_CHECK_SAME_DEVICE (op, feat, features);
  *K = features->shape[1];
  if (mu)
    {
      DN_CHECK_SHAPE (op, "mu", mu, 2, *K, 2);
      DN_CHECK_SAME_DEVICE (op, feat, mu);
    }
  if (bias)
    {
      DN_CHECK_SHAPE (op, "bias", bias, 1, *K);
      DN_CHECK_SAME_DEVICE (op, feat, bias);
    }
  int64_t n = feat->shape[0] * feat->shape[1] * *K;
  if (dn_tensor_numel (feat) > UINT32_MAX || n > UINT32_MAX)
    return dn_set_error (DN_ERROR_SHAPE, "%s: sizes exceed the 2^32 limit", op);
  return DN_OK;
}

DnStatus
dn_readout_forward (DnTensor *y, const DnTensor *feat, const DnTensor *mu, const DnTensor *features,
                    const DnTensor *bias)
{
  const char *op = "readout_forward";
  int64_t K;
  DN_TRY (readout_check (op, feat, mu, features, bias, &K));
  DN_CHECK_SHAPE (op, "y", y, 2, feat->shape[0], K);
  DN_CHECK_SAME_DEVICE (op, y, feat);
  int64_t N = feat->shape[0], C = feat->shape[1], H = feat->shape[2], W = feat->shape[3];
  if (N * K == 0)
    return DN_OK;
  if (dn_device_is_cpu (y->dev))
    {
      ReadoutArgs a = { .feat = dn_tensor_host (feat), .mu = mu ? dn_tensor_host (mu) : NULL,
                        .F = dn_tensor_host (features), .bias = bias ? dn_tensor_host (bias) : NULL,
                        .y = dn_tensor_host (y), .N = N, .C = C, .H = H, .W = W, .K = K };
      if (readout_uniform (a.mu, K))
        dn_cpu_parallel_for (y->dev, N, 1, readout_fwd_uniform_range, &a);
      else
        dn_cpu_parallel_for (y->dev, N * K, 16, readout_fwd_range, &a);
      return DN_OK;
    }
  ReadoutParams p = { (uint32_t) N, (uint32_t) C, (uint32_t) H, (uint32_t) W, (uint32_t) K, mu != NULL, bias != NULL, 0 };
  DnBinding b[] = { DN_READ (feat), DN_READ (mu ? mu : feat), DN_READ (features), DN_READ (bias ? bias : feat),
                    DN_WRITE (y) };
  return dn_vk_dispatch_1d_local (y->dev, DN_SHADER_READOUT_FWD, b, 5, &p, sizeof p, N * K, 64);
}

DnStatus
dn_readout_backward (DnTensor *dfeat, DnTensor *dmu, DnTensor *dfeatures, DnTensor *dbias, const DnTensor *dy,
                     const DnTensor *feat, const DnTensor *mu, const DnTensor *features)
{
  const char *op = "readout_backward";
  int64_t K;
  DN_TRY (readout_check (op, feat, mu, features, NULL, &K));
  int64_t N = feat->shape[0], C = feat->shape[1], H = feat->shape[2], W = feat->shape[3];
  DN_CHECK_SHAPE (op, "dy", dy, 2, N, K);
  DN_CHECK_SAME_DEVICE (op, dy, feat);
  if (dfeat)
    {
      DN_CHECK_SAME_SHAPE (op, dfeat, feat);
      DN_CHECK_SAME_DEVICE (op, dfeat, feat);
    }
  if (dmu)
    {
      if (!mu)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dmu requested without mu", op);
      DN_CHECK_SAME_SHAPE (op, dmu, mu);
      DN_CHECK_SAME_DEVICE (op, dmu, feat);
    }
  if (dfeatures)
    {
      DN_CHECK_SAME_SHAPE (op, dfeatures, features);
      DN_CHECK_SAME_DEVICE (op, dfeatures, feat);
    }
  if (dbias)
    {
      DN_CHECK_SHAPE (op, "dbias", dbias, 1, K);
      DN_CHECK_SAME_DEVICE (op, dbias, feat);
    }
  if (N * C * K == 0)
    return DN_OK;
  if (dn_device_is_cpu (feat->dev))
    {
      ReadoutArgs a = { .feat = dn_tensor_host (feat), .mu = mu ? dn_tensor_host (mu) : NULL,
                        .F = dn_tensor_host (features), .dy = dn_tensor_host (dy),
                        .dfeat = dfeat ? dn_tensor_host (dfeat) : NULL, .dmu = dmu ? dn_tensor_host (dmu) : NULL,
                        .dF = dfeatures ? dn_tensor_host (dfeatures) : NULL,
                        .dbias = dbias ? dn_tensor_host (dbias) : NULL, .N = N, .C = C, .H = H, .W = W, .K = K };
      a.uniform = readout_uniform (a.mu, K);
      if (dfeat)
        dn_cpu_parallel_for (feat->dev, N * C, 1, readout_bwd_feat_range, &a);
      if (dfeatures)
        dn_cpu_parallel_for (feat->dev, C * K, 16, readout_bwd_features_range, &a);
      if (dmu || dbias)
        dn_cpu_parallel_for (feat->dev, K, 4, readout_bwd_mu_range, &a);
      return DN_OK;
    }
  DnDevice *dev = feat->dev;
  const DnTensor *mu_b = mu ? mu : feat;
  if (dfeat)
    {
      ReadoutParams p = { (uint32_t) N, (uint32_t) C, (uint32_t) H, (uint32_t) W, (uint32_t) K, mu != NULL, 0, 0 };
      DnBinding b[] = { DN_READ (feat), DN_READ (mu_b), DN_READ (features), DN_READ (dy), DN_READ_WRITE (dfeat) };
      DN_TRY (dn_vk_dispatch_1d_local (dev, DN_SHADER_READOUT_BWD_FEAT, b, 5, &p, sizeof p, N * C, 64));
    }
  if (dfeatures)
    {
      ReadoutParams p = { (uint32_t) N, (uint32_t) C, (uint32_t) H, (uint32_t) W, (uint32_t) K, mu != NULL, 0, 0 };
      DnBinding b[] = { DN_READ (feat), DN_READ (mu_b), DN_READ (dy), DN_READ_WRITE (dfeatures) };
      DN_TRY (dn_vk_dispatch_1d_local (dev, DN_SHADER_READOUT_BWD_FEATURES, b, 4, &p, sizeof p, C * K, 64));
    }
  if (dmu || dbias)
    {
      ReadoutParams p = { (uint32_t) N, (uint32_t) C, (uint32_t) H, (uint32_t) W, (uint32_t) K, mu != NULL,
                          dbias != NULL, dmu != NULL };
      DnBinding b[] = { DN_READ (feat), DN_READ (mu_b), DN_READ (features), DN_READ (dy),
                        dmu ? DN_READ_WRITE (dmu) : DN_READ (feat), dbias ? DN_READ_WRITE (dbias) : DN_READ (feat) };
      DN_TRY (dn_vk_dispatch_1d_local (dev, DN_SHADER_READOUT_BWD_MU, b, 6, &p, sizeof p, K, 64));
    }
  return DN_OK;
}
