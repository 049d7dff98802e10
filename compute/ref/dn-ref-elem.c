/* dn-ref-elem.c: float64 references of the elem op family (see dn-ref-elem.h). Plain loops, no
 * threads, no cleverness: these are the ground truth the engine ops are tested against.
 * SPDX-License-Identifier: MIT
 */
#include "dn-ref-elem.h"

#include <math.h>
#include <stdlib.h>

/* Activations ------------------------------------------------------------------------------------------ */

void
dn_ref_gelu_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = 0.5 * inp[i] * (1.0 + erf (inp[i] * M_SQRT1_2));
}

void
dn_ref_gelu_backward (double *dinp, const double *inp, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      double x = inp[i];
      double cdf = 0.5 * (1.0 + erf (x * M_SQRT1_2));
      double pdf = exp (-0.5 * x * x) / sqrt (2.0 * M_PI);
      dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void
dn_ref_relu_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = inp[i] > 0 ? inp[i] : 0.0;
}

void
dn_ref_relu_backward (double *dinp, const double *inp, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dinp[i] += inp[i] > 0 ? dout[i] : 0.0;
}

void
dn_ref_elu_forward (double *out, const double *inp, int64_t n, double alpha)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = inp[i] > 0 ? inp[i] : alpha * expm1 (inp[i]);
}

void
dn_ref_elu_backward (double *dinp, const double *inp, const double *dout, int64_t n, double alpha)
{
  for (int64_t i = 0; i < n; i++)
    dinp[i] += inp[i] > 0 ? dout[i] : dout[i] * alpha * exp (inp[i]);
}

void
dn_ref_sigmoid_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = 1.0 / (1.0 + exp (-inp[i]));
}

void
dn_ref_sigmoid_backward (double *dinp, const double *out, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dinp[i] += dout[i] * out[i] * (1.0 - out[i]);
}

void
dn_ref_tanh_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = tanh (inp[i]);
}

void
dn_ref_tanh_backward (double *dinp, const double *out, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dinp[i] += dout[i] * (1.0 - out[i] * out[i]);
}

/* Binary arithmetic ------------------------------------------------------------------------------------ */

void
dn_ref_binary_forward (DnRefBinaryOp op, double *out, const double *a, const double *b, int64_t n, int64_t nb,
                       int64_t inner)
{
  for (int64_t i = 0; i < n; i++)
    {
      double x = a[i], y = b[(i / inner) % nb];
      switch (op)
        {
        case DN_REF_ADD: out[i] = x + y; break;
        case DN_REF_SUB: out[i] = x - y; break;
        case DN_REF_MUL: out[i] = x * y; break;
        case DN_REF_DIV: out[i] = x / y; break;
        }
    }
}

void
dn_ref_binary_backward (DnRefBinaryOp op, double *da, double *db, const double *a, const double *b,
                        const double *dout, int64_t n, int64_t nb, int64_t inner)
{
  for (int64_t i = 0; i < n; i++)
    {
      int64_t j = (i / inner) % nb;
      double x = a ? a[i] : 0, y = b ? b[j] : 0, g = dout[i], ga = 0, gb = 0;
      switch (op)
        {
        case DN_REF_ADD: ga = g; gb = g; break;
        case DN_REF_SUB: ga = g; gb = -g; break;
        case DN_REF_MUL: ga = g * y; gb = g * x; break;
        case DN_REF_DIV: ga = g / y; gb = -g * x / (y * y); break;
        }
      if (da)
        da[i] += ga;
      if (db)
        db[j] += gb;
    }
}

/* Reflect pad ------------------------------------------------------------------------------------------ */

/* PyTorch reflect (edge not repeated) of a coordinate in [-(n-1), 2(n-1)] into [0, n) */
static int64_t
reflect (int64_t q, int64_t n)
{
  if (q < 0)
    q = -q;
  if (q >= n)
    q = 2 * (n - 1) - q;
  return q;
}

void
dn_ref_reflect_pad2d_forward (double *out, const double *inp, int64_t P, int64_t H, int64_t W, int left, int right,
                              int top, int bottom)
{
  int64_t Ho = H + top + bottom, Wo = W + left + right;
  for (int64_t p = 0; p < P; p++)
    for (int64_t y = 0; y < Ho; y++)
      for (int64_t x = 0; x < Wo; x++)
        out[(p * Ho + y) * Wo + x] = inp[(p * H + reflect (y - top, H)) * W + reflect (x - left, W)];
}

void
dn_ref_reflect_pad2d_backward (double *dinp, const double *dout, int64_t P, int64_t H, int64_t W, int left,
                               int right, int top, int bottom)
{
  int64_t Ho = H + top + bottom, Wo = W + left + right;
  for (int64_t p = 0; p < P; p++)
    for (int64_t y = 0; y < Ho; y++)
      for (int64_t x = 0; x < Wo; x++)
        dinp[(p * H + reflect (y - top, H)) * W + reflect (x - left, W)] += dout[(p * Ho + y) * Wo + x];
}

/* Gaussian blur ---------------------------------------------------------------------------------------- */

void
dn_ref_gaussian_kernel1d (double *k, int ksize, double sigma)
{
  double half = (ksize - 1) * 0.5, sum = 0;
  for (int i = 0; i < ksize; i++)
    {
      double x = -half + i;
      k[i] = exp (-0.5 * (x / sigma) * (x / sigma));
      sum += k[i];
    }
  for (int i = 0; i < ksize; i++)
    k[i] /= sum;
}

/* The blur as pad-then-"valid"-correlation: out[y,x] = Σ k[i]k[j] pad[y+i, x+j]. */
void
dn_ref_gaussian_blur2d_forward (double *out, const double *inp, int64_t P, int64_t H, int64_t W, int ksize,
                                double sigma)
{
  int r = (ksize - 1) / 2;
  double *k = malloc (sizeof (double) * (size_t) ksize);
  dn_ref_gaussian_kernel1d (k, ksize, sigma);
  for (int64_t p = 0; p < P; p++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++)
        {
          double s = 0;
          for (int i = 0; i < ksize; i++)
            for (int j = 0; j < ksize; j++)
              s += k[i] * k[j] * inp[(p * H + reflect (y + i - r, H)) * W + reflect (x + j - r, W)];
          out[(p * H + y) * W + x] = s;
        }
  free (k);
}

void
dn_ref_gaussian_blur2d_backward (double *dinp, const double *dout, int64_t P, int64_t H, int64_t W, int ksize,
                                 double sigma)
{
  int r = (ksize - 1) / 2;
  double *k = malloc (sizeof (double) * (size_t) ksize);
  dn_ref_gaussian_kernel1d (k, ksize, sigma);
  for (int64_t p = 0; p < P; p++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++)
        {
          double g = dout[(p * H + y) * W + x];
          for (int i = 0; i < ksize; i++)
            for (int j = 0; j < ksize; j++)
              dinp[(p * H + reflect (y + i - r, H)) * W + reflect (x + j - r, W)] += k[i] * k[j] * g;
        }
  free (k);
}

/* Total variation -------------------------------------------------------------------------------------- */

static double
tv_sumsq (const double *I, int64_t C, int64_t H, int64_t W)
{
  double s = 0;
  for (int64_t c = 0; c < C; c++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++)
        {
          double v = I[(c * H + y) * W + x];
          if (x + 1 < W)
            s += (I[(c * H + y) * W + x + 1] - v) * (I[(c * H + y) * W + x + 1] - v);
          if (y + 1 < H)
            s += (I[(c * H + y + 1) * W + x] - v) * (I[(c * H + y + 1) * W + x] - v);
        }
  return s;
}

void
dn_ref_tv_loss_forward (double *out, double *norm, const double *inp, int64_t N, int64_t C, int64_t H, int64_t W,
                        double weight)
{
  for (int64_t n = 0; n < N; n++)
    {
      double r = sqrt (tv_sumsq (inp + n * C * H * W, C, H, W) + 1e-8);
      out[n] = weight * r;
      if (norm)
        norm[n] = r;
    }
}

void
dn_ref_tv_loss_backward (double *dinp, const double *inp, const double *dout, int64_t N, int64_t C, int64_t H,
                         int64_t W, double weight)
{
  for (int64_t n = 0; n < N; n++)
    {
      const double *I = inp + n * C * H * W;
      double *dI = dinp + n * C * H * W;
      /* d/dI of weight·sqrt(s + 1e-8) = weight / (2 sqrt(.)) · ds/dI */
      double f = dout[n] * weight / sqrt (tv_sumsq (I, C, H, W) + 1e-8);
      for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++)
          for (int64_t x = 0; x < W; x++)
            {
              int64_t i = (c * H + y) * W + x;
              if (x + 1 < W)
                {
                  double d = I[i + 1] - I[i];
                  dI[i + 1] += f * d;
                  dI[i] -= f * d;
                }
              if (y + 1 < H)
                {
                  double d = I[i + W] - I[i];
                  dI[i + W] += f * d;
                  dI[i] -= f * d;
                }
            }
    }
}

/* Cross-entropy ---------------------------------------------------------------------------------------- */

static double
row_lse (const double *x, int64_t K, int64_t stride)
{
  double m = -INFINITY, s = 0;
  for (int64_t k = 0; k < K; k++)
    if (x[k * stride] > m)
      m = x[k * stride];
  for (int64_t k = 0; k < K; k++)
    s += exp (x[k * stride] - m);
  return m + log (s);
}

double
dn_ref_cross_entropy_forward (const double *logits, const double *targets, int64_t B, int64_t K)
{
  double loss = 0;
  for (int64_t b = 0; b < B; b++)
    {
      int64_t t = (int64_t) targets[b];
      loss += row_lse (logits + b * K, K, 1) - logits[b * K + t];
    }
  return loss / (double) B;
}

void
dn_ref_cross_entropy_backward (double *dlogits, const double *logits, const double *targets, int64_t B, int64_t K,
                               double dloss)
{
  for (int64_t b = 0; b < B; b++)
    {
      const double *x = logits + b * K;
      double lse = row_lse (x, K, 1);
      int64_t t = (int64_t) targets[b];
      for (int64_t k = 0; k < K; k++)
        dlogits[b * K + k] += dloss / (double) B * (exp (x[k] - lse) - (k == t ? 1.0 : 0.0));
    }
}

/* Row normalisation ------------------------------------------------------------------------------------ */

void
dn_ref_row_normalize_forward (double *out, const double *inp, int64_t B, int64_t D, double eps)
{
  for (int64_t b = 0; b < B; b++)
    {
      double s = 0;
      for (int64_t d = 0; d < D; d++)
        s += inp[b * D + d] * inp[b * D + d];
      double nrm = sqrt (s);
      double den = nrm > eps ? nrm : eps;
      for (int64_t d = 0; d < D; d++)
        out[b * D + d] = inp[b * D + d] / den;
    }
}

void
dn_ref_row_normalize_backward (double *dinp, const double *inp, const double *dout, int64_t B, int64_t D,
                               double eps)
{
  for (int64_t b = 0; b < B; b++)
    {
      const double *x = inp + b * D, *g = dout + b * D;
      double s = 0, xg = 0;
      for (int64_t d = 0; d < D; d++)
        {
          s += x[d] * x[d];
          xg += x[d] * g[d];
        }
      double nrm = sqrt (s);
      if (nrm >= eps) /* PyTorch clamp_min passes the gradient where norm >= eps */
        for (int64_t d = 0; d < D; d++)
          dinp[b * D + d] += g[d] / nrm - x[d] * xg / (nrm * nrm * nrm);
      else
        for (int64_t d = 0; d < D; d++)
          dinp[b * D + d] += g[d] / eps;
    }
}

/* CLIP loss -------------------------------------------------------------------------------------------- */

/* logits (B,B) = scale · rownorm(img) · rownorm(neu)ᵀ */
static void
clip_logits (double *S, double *a, double *n, const double *img, const double *neu, int64_t B, int64_t D,
             double scale)
{
  dn_ref_row_normalize_forward (a, img, B, D, 1e-12);
  dn_ref_row_normalize_forward (n, neu, B, D, 1e-12);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < B; j++)
      {
        double s = 0;
        for (int64_t d = 0; d < D; d++)
          s += a[i * D + d] * n[j * D + d];
        S[i * B + j] = scale * s;
      }
}

double
dn_ref_clip_loss_forward (double *logits, const double *img, const double *neu, int64_t B, int64_t D, double scale)
{
  double *S = malloc (sizeof (double) * (size_t) (B * B));
  double *a = malloc (sizeof (double) * (size_t) (B * D));
  double *n = malloc (sizeof (double) * (size_t) (B * D));
  clip_logits (S, a, n, img, neu, B, D, scale);
  double loss = 0;
  for (int64_t i = 0; i < B; i++)
    loss += 0.5 * (row_lse (S + i * B, B, 1) - S[i * B + i]) + 0.5 * (row_lse (S + i, B, B) - S[i * B + i]);
  loss /= (double) B;
  if (logits)
    for (int64_t i = 0; i < B * B; i++)
      logits[i] = S[i];
  free (S);
  free (a);
  free (n);
  return loss;
}

void
dn_ref_clip_loss_backward (double *dimg, double *dneu, double *dscale, const double *img, const double *neu,
                           int64_t B, int64_t D, double scale, double dloss)
{
  double *S = malloc (sizeof (double) * (size_t) (B * B));
  double *dS = malloc (sizeof (double) * (size_t) (B * B));
  double *a = malloc (sizeof (double) * (size_t) (B * D));
  double *n = malloc (sizeof (double) * (size_t) (B * D));
  double *da = calloc ((size_t) (B * D), sizeof (double));
  double *dn = calloc ((size_t) (B * D), sizeof (double));
  clip_logits (S, a, n, img, neu, B, D, scale);
  /* dL/dS = dloss/(2B) · (softmax over rows + softmax over columns − 2I) */
  for (int64_t i = 0; i < B; i++)
    {
      double lr = row_lse (S + i * B, B, 1);
      for (int64_t j = 0; j < B; j++)
        dS[i * B + j] = dloss / (2.0 * B) * (exp (S[i * B + j] - lr) - (i == j ? 1.0 : 0.0));
    }
  for (int64_t j = 0; j < B; j++)
    {
      double lc = row_lse (S + j, B, B);
      for (int64_t i = 0; i < B; i++)
        dS[i * B + j] += dloss / (2.0 * B) * (exp (S[i * B + j] - lc) - (i == j ? 1.0 : 0.0));
    }
  double ds = 0;
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < B; j++)
      {
        double cosij = 0;
        for (int64_t d = 0; d < D; d++)
          {
            cosij += a[i * D + d] * n[j * D + d];
            da[i * D + d] += scale * dS[i * B + j] * n[j * D + d];
            dn[j * D + d] += scale * dS[i * B + j] * a[i * D + d];
          }
        ds += dS[i * B + j] * cosij;
      }
  if (dimg)
    dn_ref_row_normalize_backward (dimg, img, da, B, D, 1e-12);
  if (dneu)
    dn_ref_row_normalize_backward (dneu, neu, dn, B, D, 1e-12);
  if (dscale)
    *dscale += ds;
  free (S);
  free (dS);
  free (a);
  free (n);
  free (da);
  free (dn);
}

/* Colour recorrelation --------------------------------------------------------------------------------- */

void
dn_ref_color_recorrelate_forward (double *out, const double *inp, const double *mat, int64_t N, int64_t Ci,
                                  int64_t Co, int64_t P)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t co = 0; co < Co; co++)
      for (int64_t p = 0; p < P; p++)
        {
          double s = 0;
          for (int64_t ci = 0; ci < Ci; ci++)
            s += inp[(n * Ci + ci) * P + p] * mat[ci * Co + co];
          out[(n * Co + co) * P + p] = s;
        }
}

void
dn_ref_color_recorrelate_backward (double *dinp, double *dmat, const double *inp, const double *mat,
                                   const double *dout, int64_t N, int64_t Ci, int64_t Co, int64_t P)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t co = 0; co < Co; co++)
      for (int64_t p = 0; p < P; p++)
        {
          double g = dout[(n * Co + co) * P + p];
          for (int64_t ci = 0; ci < Ci; ci++)
            {
              if (dinp)
                dinp[(n * Ci + ci) * P + p] += g * mat[ci * Co + co];
              if (dmat)
                dmat[ci * Co + co] += g * inp[(n * Ci + ci) * P + p];
            }
        }
}
