/* dn-ref-conv.c: float64 references of the conv family (see dn-ref-conv.h): the plainest loops that
 * say what each op computes, with no concern for speed. Test-only.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ref.h"

/* matmul -------------------------------------------------------------------------------------------- */

/* element (i,j) of op(x) where x is stored (rows,cols) and op(x) is (r,c) */
static double
at (const double *x, int64_t i, int64_t j, int64_t r, int64_t c, bool t)
{
  (void) r;
  return t ? x[j * r + i] : x[i * c + j];
}

void
dn_ref_matmul_forward (double *out, const double *a, const double *b, int64_t B, int64_t M, int64_t N, int64_t K,
                       bool ta, bool tb, double alpha)
{
  for (int64_t z = 0; z < B; z++)
    {
      const double *az = a + z * M * K, *bz = b + z * K * N;
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
          {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
              s += at (az, m, k, M, K, ta) * at (bz, k, n, K, N, tb);
            out[z * M * N + m * N + n] = alpha * s;
          }
    }
}

void
dn_ref_matmul_backward (double *da, double *db, const double *dout, const double *a, const double *b, int64_t B,
                        int64_t M, int64_t N, int64_t K, bool ta, bool tb, double alpha)
{
  for (int64_t z = 0; z < B; z++)
    {
      const double *az = a + z * M * K, *bz = b + z * K * N, *dz = dout + z * M * N;
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
          for (int64_t k = 0; k < K; k++)
            {
              double g = alpha * dz[m * N + n];
              /* out[m,n] += op(a)[m,k] · op(b)[k,n] */
              if (da)
                da[z * M * K + (ta ? k * M + m : m * K + k)] += g * at (bz, k, n, K, N, tb);
              if (db)
                db[z * K * N + (tb ? n * K + k : k * N + n)] += g * at (az, m, k, M, K, ta);
            }
    }
}

/* linear -------------------------------------------------------------------------------------------- */

void
dn_ref_linear_forward (double *out, const double *inp, const double *weight, const double *bias, int64_t rows,
                       int64_t nin, int64_t nout)
{
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < nout; o++)
      {
        double s = bias ? bias[o] : 0;
        for (int64_t i = 0; i < nin; i++)
          s += inp[r * nin + i] * weight[o * nin + i];
        out[r * nout + o] = s;
      }
}

void
dn_ref_linear_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                        const double *weight, int64_t rows, int64_t nin, int64_t nout)
{
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < nout; o++)
      {
        double g = dout[r * nout + o];
        if (dbias)
          dbias[o] += g;
        for (int64_t i = 0; i < nin; i++)
          {
            if (dinp)
              dinp[r * nin + i] += g * weight[o * nin + i];
            if (dweight)
              dweight[o * nin + i] += g * inp[r * nin + i];
          }
      }
}

/* conv2d -------------------------------------------------------------------------------------------- */

int64_t
dn_ref_conv_out_size (int64_t in, int64_t k, int64_t stride, int64_t pad)
{
  int64_t span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

void
dn_ref_conv2d_forward (double *out, const double *inp, const double *weight, const double *bias, int N, int Cin, int H,
                       int W, int Cout, int KH, int KW, int sh, int sw, int ph, int pw, int groups)
{
  int Ho = (int) dn_ref_conv_out_size (H, KH, sh, ph), Wo = (int) dn_ref_conv_out_size (W, KW, sw, pw);
  int cig = Cin / groups, cog = Cout / groups;
  for (int n = 0; n < N; n++)
    for (int co = 0; co < Cout; co++)
      {
        int g = co / cog;
        for (int ho = 0; ho < Ho; ho++)
          for (int wo = 0; wo < Wo; wo++)
            {
              double s = bias ? bias[co] : 0;
              for (int ci = 0; ci < cig; ci++)
                for (int kh = 0; kh < KH; kh++)
                  for (int kw = 0; kw < KW; kw++)
                    {
                      int h = ho * sh - ph + kh, w = wo * sw - pw + kw;
                      if (h < 0 || h >= H || w < 0 || w >= W)
                        continue; /* zero padding */
                      s += inp[(((int64_t) n * Cin + g * cig + ci) * H + h) * W + w]
                           * weight[(((int64_t) co * cig + ci) * KH + kh) * KW + kw];
                    }
              out[(((int64_t) n * Cout + co) * Ho + ho) * Wo + wo] = s;
            }
      }
}

void
dn_ref_conv2d_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                        const double *weight, int N, int Cin, int H, int W, int Cout, int KH, int KW, int sh, int sw,
                        int ph, int pw, int groups)
{
  int Ho = (int) dn_ref_conv_out_size (H, KH, sh, ph), Wo = (int) dn_ref_conv_out_size (W, KW, sw, pw);
  int cig = Cin / groups, cog = Cout / groups;
  for (int n = 0; n < N; n++)
    for (int co = 0; co < Cout; co++)
      {
        int g = co / cog;
        for (int ho = 0; ho < Ho; ho++)
          for (int wo = 0; wo < Wo; wo++)
            {
              double d = dout[(((int64_t) n * Cout + co) * Ho + ho) * Wo + wo];
              if (dbias)
                dbias[co] += d;
              for (int ci = 0; ci < cig; ci++)
                for (int kh = 0; kh < KH; kh++)
                  for (int kw = 0; kw < KW; kw++)
                    {
                      int h = ho * sh - ph + kh, w = wo * sw - pw + kw;
                      if (h < 0 || h >= H || w < 0 || w >= W)
                        continue;
                      int64_t ii = (((int64_t) n * Cin + g * cig + ci) * H + h) * W + w;
                      int64_t wi = (((int64_t) co * cig + ci) * KH + kh) * KW + kw;
                      if (dinp)
                        dinp[ii] += d * weight[wi];
                      if (dweight)
                        dweight[wi] += d * inp[ii];
                    }
            }
      }
}

/* bias add ------------------------------------------------------------------------------------------ */

void
dn_ref_bias_add_forward (double *out, const double *inp, const double *bias, int64_t N, int64_t C, int64_t S)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t s = 0; s < S; s++)
        out[(n * C + c) * S + s] = inp[(n * C + c) * S + s] + bias[c];
}

void
dn_ref_bias_add_backward (double *dinp, double *dbias, const double *dout, int64_t N, int64_t C, int64_t S)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t s = 0; s < S; s++)
        {
          double d = dout[(n * C + c) * S + s];
          if (dinp)
            dinp[(n * C + c) * S + s] += d;
          if (dbias)
            dbias[c] += d;
        }
}

/* max pool ------------------------------------------------------------------------------------------ */

void
dn_ref_maxpool2d_forward (double *out, double *argmax, const double *inp, int N, int C, int H, int W, int kh, int kw,
                          int sh, int sw, int ph, int pw)
{
  int Ho = (int) dn_ref_conv_out_size (H, kh, sh, ph), Wo = (int) dn_ref_conv_out_size (W, kw, sw, pw);
  for (int64_t p = 0; p < (int64_t) N * C; p++)
    {
      const double *x = inp + p * H * W;
      for (int ho = 0; ho < Ho; ho++)
        for (int wo = 0; wo < Wo; wo++)
          {
            double best = -INFINITY;
            int besti = -1;
            for (int i = 0; i < kh; i++)
              for (int j = 0; j < kw; j++)
                {
                  int h = ho * sh - ph + i, w = wo * sw - pw + j;
                  if (h < 0 || h >= H || w < 0 || w >= W)
                    continue; /* padding is −inf: never taken */
                  double v = x[h * W + w];
                  /* as PyTorch: the first element of the window starts it; then a greater value or a
                   * NaN takes over (so ties keep the first maximum) */
                  if (besti < 0 || v > best || isnan (v))
                    {
                      best = v;
                      besti = h * W + w;
                    }
                }
            int64_t o = (p * Ho + ho) * Wo + wo;
            out[o] = best;
            if (argmax)
              argmax[o] = besti;
          }
    }
}

void
dn_ref_maxpool2d_backward (double *dinp, const double *dout, const double *argmax, int N, int C, int H, int W, int Ho,
                           int Wo)
{
  for (int64_t p = 0; p < (int64_t) N * C; p++)
    for (int64_t o = 0; o < (int64_t) Ho * Wo; o++)
      dinp[p * H * W + (int64_t) argmax[p * Ho * Wo + o]] += dout[p * Ho * Wo + o];
}

/* reductions ---------------------------------------------------------------------------------------- */

void
dn_ref_reduce_sum_forward (double *out, const double *inp, int64_t outer, int64_t len, int64_t inner)
{
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++)
      {
        double s = 0;
        for (int64_t l = 0; l < len; l++)
          s += inp[(o * len + l) * inner + i];
        out[o * inner + i] = s;
      }
}

void
dn_ref_reduce_sum_backward (double *dinp, const double *dout, int64_t outer, int64_t len, int64_t inner)
{
  for (int64_t o = 0; o < outer; o++)
    for (int64_t l = 0; l < len; l++)
      for (int64_t i = 0; i < inner; i++)
        dinp[(o * len + l) * inner + i] += dout[o * inner + i];
}

void
dn_ref_reduce_mean_forward (double *out, const double *inp, int64_t outer, int64_t len, int64_t inner)
{
  dn_ref_reduce_sum_forward (out, inp, outer, len, inner);
  for (int64_t j = 0; j < outer * inner; j++)
    out[j] /= (double) len;
}

void
dn_ref_reduce_mean_backward (double *dinp, const double *dout, int64_t outer, int64_t len, int64_t inner)
{
  for (int64_t o = 0; o < outer; o++)
    for (int64_t l = 0; l < len; l++)
      for (int64_t i = 0; i < inner; i++)
        dinp[(o * len + l) * inner + i] += dout[o * inner + i] / (double) len;
}
