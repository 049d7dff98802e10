/* dn-ref-norm.c: float64 references of the norm op family (see dn-ref-norm.h and
 * compute/ops/norm/dn-ops-norm.h for the maths). Plain loops in double, llm.c style; test-only.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>

#include "dn-ref.h"

/* LayerNorm ------------------------------------------------------------------------------------------ */

void
dn_ref_layernorm_forward (double *out, double *mean, double *rstd, const double *inp, const double *weight,
                          const double *bias, int64_t outer, int64_t C, int64_t inner, double eps)
{
  for (int64_t o = 0; o < outer; o++)
    for (int64_t s = 0; s < inner; s++)
      {
        const double *x = inp + o * C * inner + s;
        double m = 0;
        for (int64_t c = 0; c < C; c++)
          m += x[c * inner];
        m /= (double) C;
        double v = 0;
        for (int64_t c = 0; c < C; c++)
          v += (x[c * inner] - m) * (x[c * inner] - m);
        v /= (double) C;
        double r = 1.0 / sqrt (v + eps);
        double *y = out + o * C * inner + s;
        for (int64_t c = 0; c < C; c++)
          {
            double n = (x[c * inner] - m) * r;
            y[c * inner] = n * (weight ? weight[c] : 1.0) + (bias ? bias[c] : 0.0);
          }
        if (mean)
          mean[o * inner + s] = m;
        if (rstd)
          rstd[o * inner + s] = r;
      }
}

void
dn_ref_layernorm_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                           const double *weight, const double *mean, const double *rstd, int64_t outer, int64_t C,
                           int64_t inner)
{
  for (int64_t o = 0; o < outer; o++)
    for (int64_t s = 0; s < inner; s++)
      {
        int64_t base = o * C * inner + s;
        double m = mean[o * inner + s], r = rstd[o * inner + s];
        /* pass 1: the two reductions */
        double dnorm_mean = 0, dnorm_norm_mean = 0;
        for (int64_t c = 0; c < C; c++)
          {
            double xh = (inp[base + c * inner] - m) * r;
            double dn = (weight ? weight[c] : 1.0) * dout[base + c * inner];
            dnorm_mean += dn;
            dnorm_norm_mean += dn * xh;
          }
        dnorm_mean /= (double) C;
        dnorm_norm_mean /= (double) C;
        /* pass 2: accumulate */
        for (int64_t c = 0; c < C; c++)
          {
            double xh = (inp[base + c * inner] - m) * r;
            double g = dout[base + c * inner];
            double dn = (weight ? weight[c] : 1.0) * g;
            if (dbias)
              dbias[c] += g;
            if (dweight)
              dweight[c] += xh * g;
            if (dinp)
              dinp[base + c * inner] += (dn - dnorm_mean - xh * dnorm_norm_mean) * r;
          }
      }
}

/* BatchNorm ------------------------------------------------------------------------------------------ */

void
dn_ref_batchnorm_eval_forward (double *out, const double *inp, const double *weight, const double *bias,
                               const double *running_mean, const double *running_var, int64_t N, int64_t C,
                               int64_t S, double eps)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      {
        double r = 1.0 / sqrt (running_var[c] + eps);
        for (int64_t s = 0; s < S; s++)
          {
            int64_t i = (n * C + c) * S + s;
            out[i] = (inp[i] - running_mean[c]) * r * (weight ? weight[c] : 1.0) + (bias ? bias[c] : 0.0);
          }
      }
}

void
dn_ref_batchnorm_eval_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                                const double *weight, const double *running_mean, const double *running_var,
                                int64_t N, int64_t C, int64_t S, double eps)
{
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      {
        double r = 1.0 / sqrt (running_var[c] + eps);
        for (int64_t s = 0; s < S; s++)
          {
            int64_t i = (n * C + c) * S + s;
            if (dinp)
              dinp[i] += dout[i] * r * (weight ? weight[c] : 1.0);
            if (dweight)
              dweight[c] += dout[i] * (inp[i] - running_mean[c]) * r;
            if (dbias)
              dbias[c] += dout[i];
          }
      }
}

void
dn_ref_batchnorm_train_forward (double *out, double *mean, double *rstd, double *running_mean, double *running_var,
                                const double *inp, const double *weight, const double *bias, int64_t N, int64_t C,
                                int64_t S, double momentum, double eps)
{
  double cnt = (double) (N * S);
  for (int64_t c = 0; c < C; c++)
    {
      double m = 0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++)
          m += inp[(n * C + c) * S + s];
      m /= cnt;
      double v = 0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++)
          {
            double d = inp[(n * C + c) * S + s] - m;
            v += d * d;
          }
      double var = v / cnt;
      double r = 1.0 / sqrt (var + eps);
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++)
          {
            int64_t i = (n * C + c) * S + s;
            out[i] = (inp[i] - m) * r * (weight ? weight[c] : 1.0) + (bias ? bias[c] : 0.0);
          }
      mean[c] = m;
      rstd[c] = r;
      if (running_mean)
        running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m;
      if (running_var)
        running_var[c] = (1 - momentum) * running_var[c] + momentum * v / (cnt - 1);
    }
}

void
dn_ref_batchnorm_train_backward (double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                                 const double *weight, const double *mean, const double *rstd, int64_t N, int64_t C,
                                 int64_t S)
{
  double cnt = (double) (N * S);
  for (int64_t c = 0; c < C; c++)
    {
      /* pass 1: sum(dout) and sum(dout * xhat) over the batch */
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++)
          {
            int64_t i = (n * C + c) * S + s;
            sg += dout[i];
            sgx += dout[i] * (inp[i] - mean[c]) * rstd[c];
          }
      if (dweight)
        dweight[c] += sgx;
      if (dbias)
        dbias[c] += sg;
      if (!dinp)
        continue;
      /* pass 2: dinp = w·rstd·(dout - mean(dout) - xhat·mean(dout·xhat)) */
      double w = weight ? weight[c] : 1.0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++)
          {
            int64_t i = (n * C + c) * S + s;
            double xh = (inp[i] - mean[c]) * rstd[c];
            dinp[i] += w * rstd[c] * (dout[i] - sg / cnt - xh * sgx / cnt);
          }
    }
}

/* GRN ------------------------------------------------------------------------------------------------ */

void
dn_ref_grn_forward (double *out, double *gx, double *nx, const double *h, const double *gamma, const double *beta,
                    int64_t N, int64_t HW, int64_t C, double eps)
{
  for (int64_t n = 0; n < N; n++)
    {
      const double *hn = h + n * HW * C;
      double m = 0;
      for (int64_t c = 0; c < C; c++)
        {
          double s = 0;
          for (int64_t p = 0; p < HW; p++)
            s += hn[p * C + c] * hn[p * C + c];
          gx[n * C + c] = sqrt (s);
          m += gx[n * C + c];
        }
      m /= (double) C;
      for (int64_t c = 0; c < C; c++)
        nx[n * C + c] = gx[n * C + c] / (m + eps);
      for (int64_t p = 0; p < HW; p++)
        for (int64_t c = 0; c < C; c++)
          {
            double x = hn[p * C + c];
            out[(n * HW + p) * C + c] = gamma[c] * (x * nx[n * C + c]) + beta[c] + x;
          }
    }
}

void
dn_ref_grn_backward (double *dh, double *dgamma, double *dbeta, const double *dout, const double *h,
                     const double *gamma, const double *gx, const double *nx, int64_t N, int64_t HW, int64_t C,
                     double eps)
{
  double *P = malloc ((size_t) (C > 0 ? C : 1) * sizeof (double));
  for (int64_t n = 0; n < N; n++)
    {
      const double *hn = h + n * HW * C, *gn = dout + n * HW * C;
      double m = 0;
      for (int64_t c = 0; c < C; c++)
        m += gx[n * C + c];
      m /= (double) C;
      double den = m + eps;
      /* pass 1: P[c] = sum_hw dout·h, and S = sum_c dnx[c]·gx[c] with dnx = gamma·P */
      double S = 0;
      for (int64_t c = 0; c < C; c++)
        {
          double s = 0, sb = 0;
          for (int64_t p = 0; p < HW; p++)
            {
              s += gn[p * C + c] * hn[p * C + c];
              sb += gn[p * C + c];
            }
          P[c] = s;
          S += gamma[c] * s * gx[n * C + c];
          if (dgamma)
            dgamma[c] += nx[n * C + c] * s;
          if (dbeta)
            dbeta[c] += sb;
        }
      if (!dh)
        continue;
      /* pass 2: dh = dout·(gamma·nx + 1) + dgx·h/gx (0 where gx = 0) */
      for (int64_t c = 0; c < C; c++)
        {
          double g = gx[n * C + c];
          double dg = gamma[c] * P[c] / den - S / ((double) C * den * den);
          double k = g > 0 ? dg / g : 0.0;
          for (int64_t p = 0; p < HW; p++)
            dh[(n * HW + p) * C + c] += gn[p * C + c] * (gamma[c] * nx[n * C + c] + 1.0) + k * hn[p * C + c];
        }
    }
  free (P);
}

/* Softmax -------------------------------------------------------------------------------------------- */

void
dn_ref_softmax_forward (double *out, const double *inp, int64_t rows, int64_t L)
{
  for (int64_t r = 0; r < rows; r++)
    {
      const double *x = inp + r * L;
      double *y = out + r * L;
      double mx = -INFINITY;
      for (int64_t j = 0; j < L; j++)
        if (x[j] > mx)
          mx = x[j];
      double s = 0;
      for (int64_t j = 0; j < L; j++)
        {
          y[j] = exp (x[j] - mx);
          s += y[j];
        }
      for (int64_t j = 0; j < L; j++)
        y[j] /= s;
    }
}

void
dn_ref_softmax_backward (double *dinp, const double *dout, const double *out, int64_t rows, int64_t L)
{
  for (int64_t r = 0; r < rows; r++)
    {
      const double *g = dout + r * L, *y = out + r * L;
      double s = 0;
      for (int64_t j = 0; j < L; j++)
        s += g[j] * y[j];
      for (int64_t j = 0; j < L; j++)
        dinp[r * L + j] += y[j] * (g[j] - s);
    }
}

/* Attention ------------------------------------------------------------------------------------------ */

void
dn_ref_attention_forward (double *out, double *att, const double *q, const double *k, const double *v,
                          const double *mask, int64_t mB, int64_t mH, int64_t mQ, int64_t B, int64_t H, int64_t Lq,
                          int64_t Lk, int64_t D, int64_t Dv, double scale)
{
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      {
        int64_t bh = b * H + h;
        for (int64_t i = 0; i < Lq; i++)
          {
            double *a = att + (bh * Lq + i) * Lk;
            const double *qi = q + (bh * Lq + i) * D;
            const double *mrow = NULL;
            if (mask)
              mrow = mask + (((mB > 1 ? b : 0) * mH + (mH > 1 ? h : 0)) * mQ + (mQ > 1 ? i : 0)) * Lk;
            double mx = -INFINITY;
            for (int64_t j = 0; j < Lk; j++)
              {
                const double *kj = k + (bh * Lk + j) * D;
                double s = 0;
                for (int64_t d = 0; d < D; d++)
                  s += qi[d] * kj[d];
                s = s * scale + (mrow ? mrow[j] : 0.0);
                a[j] = s;
                if (s > mx)
                  mx = s;
              }
            if (mx == -INFINITY) /* every key masked: a zero row (documented deviation from PyTorch's NaN) */
              {
                for (int64_t j = 0; j < Lk; j++)
                  a[j] = 0;
              }
            else
              {
                double sum = 0;
                for (int64_t j = 0; j < Lk; j++)
                  {
                    a[j] = exp (a[j] - mx);
                    sum += a[j];
                  }
                for (int64_t j = 0; j < Lk; j++)
                  a[j] /= sum;
              }
            double *o = out + (bh * Lq + i) * Dv;
            for (int64_t e = 0; e < Dv; e++)
              {
                double s = 0;
                for (int64_t j = 0; j < Lk; j++)
                  s += a[j] * v[(bh * Lk + j) * Dv + e];
                o[e] = s;
              }
          }
      }
}

void
dn_ref_attention_backward (double *dq, double *dk, double *dv, const double *dout, const double *q, const double *k,
                           const double *v, const double *att, int64_t B, int64_t H, int64_t Lq, int64_t Lk,
                           int64_t D, int64_t Dv, double scale)
{
  double *ds = malloc ((size_t) (Lk > 0 ? Lk : 1) * sizeof (double));
  for (int64_t bh = 0; bh < B * H; bh++)
    for (int64_t i = 0; i < Lq; i++)
      {
        const double *a = att + (bh * Lq + i) * Lk;
        const double *g = dout + (bh * Lq + i) * Dv;
        /* datt[j] = dout_i · v_j; softmax backward gives ds */
        double dot = 0;
        for (int64_t j = 0; j < Lk; j++)
          {
            double s = 0;
            for (int64_t e = 0; e < Dv; e++)
              s += g[e] * v[(bh * Lk + j) * Dv + e];
            ds[j] = s;
            dot += s * a[j];
          }
        for (int64_t j = 0; j < Lk; j++)
          {
            double dsj = a[j] * (ds[j] - dot) * scale;
            if (dv)
              for (int64_t e = 0; e < Dv; e++)
                dv[(bh * Lk + j) * Dv + e] += a[j] * g[e];
            for (int64_t d = 0; d < D; d++)
              {
                if (dq)
                  dq[(bh * Lq + i) * D + d] += dsj * k[(bh * Lk + j) * D + d];
                if (dk)
                  dk[(bh * Lk + j) * D + d] += dsj * q[(bh * Lq + i) * D + d];
              }
          }
      }
  free (ds);
}

/* Per-sample norms ----------------------------------------------------------------------------------- */

void
dn_ref_l2norm_forward (double *out, const double *inp, int64_t N, int64_t M)
{
  for (int64_t n = 0; n < N; n++)
    {
      double s = 0;
      for (int64_t i = 0; i < M; i++)
        s += inp[n * M + i] * inp[n * M + i];
      out[n] = sqrt (s);
    }
}

void
dn_ref_l2norm_backward (double *dinp, const double *dout, const double *inp, const double *out, int64_t N, int64_t M)
{
  for (int64_t n = 0; n < N; n++)
    {
      double k = out[n] > 0 ? dout[n] / out[n] : 0.0;
      for (int64_t i = 0; i < M; i++)
        dinp[n * M + i] += k * inp[n * M + i];
    }
}

void
dn_ref_change_norm_forward (double *out, double *norm, const double *inp, int64_t N, int64_t M, double target,
                            double eps)
{
  for (int64_t n = 0; n < N; n++)
    {
      double s = 0;
      for (int64_t i = 0; i < M; i++)
        s += inp[n * M + i] * inp[n * M + i];
      double nr = sqrt (s);
      norm[n] = nr;
      for (int64_t i = 0; i < M; i++)
        out[n * M + i] = inp[n * M + i] * (target / (nr + eps));
    }
}

void
dn_ref_change_norm_backward (double *dinp, const double *dout, const double *inp, const double *norm, int64_t N,
                             int64_t M, double target, double eps)
{
  for (int64_t n = 0; n < N; n++)
    {
      double nr = norm[n], den = nr + eps;
      double dot = 0;
      for (int64_t i = 0; i < M; i++)
        dot += dout[n * M + i] * inp[n * M + i];
      /* d/dx [x·t/(|x|+e)] = t/(|x|+e)·dy − t·(dy·x)/(|x|+e)²·x/|x| (the last factor is 0 at |x| = 0) */
      double k = nr > 0 ? -target * dot / (den * den * nr) : 0.0;
      for (int64_t i = 0; i < M; i++)
        dinp[n * M + i] += target / den * dout[n * M + i] + k * inp[n * M + i];
    }
}

void
dn_ref_minmax_norm_forward (double *out, double *stats, const double *inp, int64_t N, int64_t M, double eps)
{
  for (int64_t n = 0; n < N; n++)
    {
      const double *x = inp + n * M;
      double lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < M; i++)
        {
          lo = x[i] < lo ? x[i] : lo;
          hi = x[i] > hi ? x[i] : hi;
        }
      double den = hi - lo + eps;
      for (int64_t i = 0; i < M; i++)
        out[n * M + i] = den != 0 ? (x[i] - lo) / den : 0.0;
      stats[2 * n] = lo;
      stats[2 * n + 1] = hi;
    }
}

void
dn_ref_minmax_norm_backward (double *dinp, const double *dout, const double *inp, const double *stats, int64_t N,
                             int64_t M, double eps)
{
  for (int64_t n = 0; n < N; n++)
    {
      const double *x = inp + n * M, *g = dout + n * M;
      double lo = stats[2 * n], hi = stats[2 * n + 1];
      double den = hi - lo + eps;
      if (den == 0) /* constant sample with eps = 0: output defined as 0, gradient 0 */
        continue;
      /* y = (x - lo)/den: dL/dlo = sum g·(-den + x - lo)/den², dL/dhi = -sum g·(x - lo)/den² */
      double s1 = 0, s2 = 0, nlo = 0, nhi = 0;
      for (int64_t i = 0; i < M; i++)
        {
          s1 += g[i];
          s2 += g[i] * (x[i] - lo);
          nlo += x[i] == lo;
          nhi += x[i] == hi;
        }
      if (lo == hi) /* constant sample, eps > 0: the same maths without the 1/eps cancellation */
        {
          for (int64_t i = 0; i < M; i++)
            dinp[n * M + i] += (g[i] - s1 / (double) M) / den;
          continue;
        }
      double dlo = (-s1 * den + s2) / (den * den), dhi = -s2 / (den * den);
      for (int64_t i = 0; i < M; i++)
        dinp[n * M + i] += g[i] / den + (x[i] == lo ? dlo / nlo : 0.0) + (x[i] == hi ? dhi / nhi : 0.0);
    }
}
