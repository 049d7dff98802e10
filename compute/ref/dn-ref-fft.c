/* dn-ref-fft.c: float64 references of the fft op family (see dn-ref-fft.h). Test-only, plain loops.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dn-ref.h"

double
dn_ref_fft2_scale (int64_t h, int64_t w, int direction, int norm)
{
  double n = (double) h * (double) w;
  if (norm == 1)
    return 1.0 / sqrt (n);
  if (norm == 2)
    return direction < 0 ? 1.0 / n : 1.0;
  return direction > 0 ? 1.0 / n : 1.0;
}

/* In place on one (h,w,2) image: DFT with sign along one axis. */
static void
dft_axis (double *img, int64_t h, int64_t w, int along_w, int sign)
{
  int64_t n = along_w ? w : h, lines = along_w ? h : w, stride = along_w ? 1 : w;
  double *tw = malloc ((size_t) (2 * n) * sizeof *tw);
  double *res = malloc ((size_t) (2 * n) * sizeof *res);
  for (int64_t j = 0; j < n; j++)
    {
      tw[2 * j] = cos (2.0 * M_PI * (double) j / (double) n);
      tw[2 * j + 1] = sin (2.0 * M_PI * (double) j / (double) n);
    }
  for (int64_t l = 0; l < lines; l++)
    {
      double *x = img + 2 * (along_w ? l * w : l);
      for (int64_t k = 0; k < n; k++)
        {
          double re = 0, im = 0;
          for (int64_t j = 0; j < n; j++)
            {
              int64_t m = (j * k) % n; /* exact argument reduction */
              double c = tw[2 * m], s = sign * tw[2 * m + 1];
              double xr = x[2 * j * stride], xi = x[2 * j * stride + 1];
              re += xr * c - xi * s;
              im += xr * s + xi * c;
            }
          res[2 * k] = re;
          res[2 * k + 1] = im;
        }
      for (int64_t k = 0; k < n; k++)
        {
          x[2 * k * stride] = res[2 * k];
          x[2 * k * stride + 1] = res[2 * k + 1];
        }
    }
  free (tw);
  free (res);
}

/* out = scale · F_sign (inp), or out += ... with acc */
static void
fft2 (double *out, const double *inp, int64_t batch, int64_t h, int64_t w, int sign, double scale, int acc)
{
  int64_t img = 2 * h * w;
  double *tmp = malloc ((size_t) (img > 0 ? img : 1) * sizeof *tmp);
  for (int64_t b = 0; b < batch; b++)
    {
      memcpy (tmp, inp + b * img, (size_t) img * sizeof *tmp);
      dft_axis (tmp, h, w, 1, sign); /* pass 1: rows */
      dft_axis (tmp, h, w, 0, sign); /* pass 2: columns */
      double *o = out + b * img;
      for (int64_t i = 0; i < img; i++)
        o[i] = (acc ? o[i] : 0.0) + scale * tmp[i];
    }
  free (tmp);
}

void
dn_ref_fft2_forward (double *out, const double *inp, int64_t batch, int64_t h, int64_t w, int direction, int norm)
{
  fft2 (out, inp, batch, h, w, direction, dn_ref_fft2_scale (h, w, direction, norm), 0);
}

void
dn_ref_fft2_backward (double *dinp, const double *dout, int64_t batch, int64_t h, int64_t w, int direction, int norm)
{
  /* y = s·F_d x is real-linear in (re, im); its adjoint is s·F_{-d} (F_d^H = F_{-d}) */
  fft2 (dinp, dout, batch, h, w, -direction, dn_ref_fft2_scale (h, w, direction, norm), 1);
}

void
dn_ref_complex_polar_forward (double *out, const double *mag, const double *phase, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      out[2 * i] = mag[i] * cos (phase[i]);
      out[2 * i + 1] = mag[i] * sin (phase[i]);
    }
}

void
dn_ref_complex_polar_backward (double *dmag, double *dphase, const double *dout, const double *mag,
                               const double *phase, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      double c = cos (phase[i]), s = sin (phase[i]), gr = dout[2 * i], gi = dout[2 * i + 1];
      if (dmag)
        dmag[i] += gr * c + gi * s;
      if (dphase)
        dphase[i] += mag[i] * (gi * c - gr * s);
    }
}

void
dn_ref_complex_real_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = inp[2 * i];
}

void
dn_ref_complex_real_backward (double *dinp, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dinp[2 * i] += dout[i];
}

void
dn_ref_complex_from_real_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      out[2 * i] = inp[i];
      out[2 * i + 1] = 0.0;
    }
}

void
dn_ref_complex_from_real_backward (double *dinp, const double *dout, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dinp[i] += dout[2 * i];
}

void
dn_ref_complex_angle_forward (double *out, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    out[i] = atan2 (inp[2 * i + 1], inp[2 * i]);
}

void
dn_ref_complex_angle_backward (double *dinp, const double *dout, const double *inp, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      double re = inp[2 * i], im = inp[2 * i + 1], r2 = re * re + im * im;
      if (r2 == 0.0)
        continue;
      dinp[2 * i] += dout[i] * -im / r2;
      dinp[2 * i + 1] += dout[i] * re / r2;
    }
}
