/* dn-ref-model.c: float64 references of permute4 and the Gaussian readout (test-only).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ref-model.h"

void
dn_ref_permute4_forward (double *out, const double *inp, const int64_t d[4], const int perm[4])
{
  int64_t st[4] = { d[1] * d[2] * d[3], d[2] * d[3], d[3], 1 };
  int64_t od[4] = { d[perm[0]], d[perm[1]], d[perm[2]], d[perm[3]] };
  int64_t k = 0;
  for (int64_t a = 0; a < od[0]; a++)
    for (int64_t b = 0; b < od[1]; b++)
      for (int64_t c = 0; c < od[2]; c++)
        for (int64_t e = 0; e < od[3]; e++)
          out[k++] = inp[a * st[perm[0]] + b * st[perm[1]] + c * st[perm[2]] + e * st[perm[3]]];
}

/* Bilinear sampling point of neuron k: pixel coordinates and validity. */
static void
position (const double *mu, int64_t k, int64_t H, int64_t W, double *ix, double *iy, int *gx_in, int *gy_in)
{
  double gx = mu ? mu[2 * k] : 0, gy = mu ? mu[2 * k + 1] : 0;
  *gx_in = gx >= -1 && gx <= 1;
  *gy_in = gy >= -1 && gy <= 1;
  gx = gx < -1 ? -1 : gx > 1 ? 1 : gx;
  gy = gy < -1 ? -1 : gy > 1 ? 1 : gy;
  *ix = (gx + 1) / 2 * (double) (W - 1);
  *iy = (gy + 1) / 2 * (double) (H - 1);
}

static double
at (const double *plane, int64_t H, int64_t W, int64_t y, int64_t x)
{
  return y >= 0 && y < H && x >= 0 && x < W ? plane[y * W + x] : 0;
}

void
dn_ref_readout_forward (double *y, const double *feat, const double *mu, const double *features, const double *bias,
                        int64_t N, int64_t C, int64_t H, int64_t W, int64_t K)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++)
      {
        double ix, iy;
        int a, b;
        position (mu, k, H, W, &ix, &iy, &a, &b);
        int64_t x0 = (int64_t) floor (ix), y0 = (int64_t) floor (iy);
        double wx = ix - (double) x0, wy = iy - (double) y0;
        double acc = bias ? bias[k] : 0;
        for (int64_t c = 0; c < C; c++)
          {
            const double *p = feat + (n * C + c) * H * W;
            double s = (1 - wy) * ((1 - wx) * at (p, H, W, y0, x0) + wx * at (p, H, W, y0, x0 + 1))
                       + wy * ((1 - wx) * at (p, H, W, y0 + 1, x0) + wx * at (p, H, W, y0 + 1, x0 + 1));
            acc += s * features[c * K + k];
          }
        y[n * K + k] = acc;
      }
}

static void
add_at (double *plane, int64_t H, int64_t W, int64_t y, int64_t x, double v)
{
  if (y >= 0 && y < H && x >= 0 && x < W)
    plane[y * W + x] += v;
}

void
dn_ref_readout_backward (double *dfeat, double *dmu, double *dfeatures, double *dbias, const double *dy,
                         const double *feat, const double *mu, const double *features, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t K)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++)
      {
        double ix, iy;
        int gx_in, gy_in;
        position (mu, k, H, W, &ix, &iy, &gx_in, &gy_in);
        int64_t x0 = (int64_t) floor (ix), y0 = (int64_t) floor (iy);
        double wx = ix - (double) x0, wy = iy - (double) y0;
        double g = dy[n * K + k];
        if (dbias)
          dbias[k] += g;
        for (int64_t c = 0; c < C; c++)
          {
            const double *p = feat + (n * C + c) * H * W;
            double f00 = at (p, H, W, y0, x0), f01 = at (p, H, W, y0, x0 + 1);
            double f10 = at (p, H, W, y0 + 1, x0), f11 = at (p, H, W, y0 + 1, x0 + 1);
            double s = (1 - wy) * ((1 - wx) * f00 + wx * f01) + wy * ((1 - wx) * f10 + wx * f11);
            double fw = features[c * K + k];
            if (dfeatures)
              dfeatures[c * K + k] += g * s;
            if (dfeat)
              {
                double *q = dfeat + (n * C + c) * H * W;
                add_at (q, H, W, y0, x0, g * fw * (1 - wy) * (1 - wx));
                add_at (q, H, W, y0, x0 + 1, g * fw * (1 - wy) * wx);
                add_at (q, H, W, y0 + 1, x0, g * fw * wy * (1 - wx));
                add_at (q, H, W, y0 + 1, x0 + 1, g * fw * wy * wx);
              }
            if (dmu && mu)
              {
                double dsx = (1 - wy) * (f01 - f00) + wy * (f11 - f10);
                double dsy = (1 - wx) * (f10 - f00) + wx * (f11 - f01);
                if (gx_in)
                  dmu[2 * k] += g * fw * dsx * (double) (W - 1) / 2;
                if (gy_in)
                  dmu[2 * k + 1] += g * fw * dsy * (double) (H - 1) / 2;
              }
          }
      }
}
