/* dn-ref-fft.h: float64 references of the fft op family (test-only): plain loops, llm.c style, the ground
 * truth of compute/ops/fft/. Same argument order and semantics as the ops (dn-ops-fft.h): forwards
 * overwrite, backwards accumulate (+=) and skip NULL gradients. Complex arrays are interleaved (re, im).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* The scale of a norm (0 backward, 1 ortho, 2 forward: DnFftNorm) for a direction (-1 / +1) and N = h·w. */
double dn_ref_fft2_scale (int64_t h, int64_t w, int direction, int norm);

/* out (batch,h,w,2) = scale · sum_{m,n} inp[b,m,n] e^{direction·2πi (jm/h + kn/w)}: a direct DFT, done
 * separably (rows, then columns) with twiddles reduced exactly (jm mod h) in float64. */
void dn_ref_fft2_forward (double *out, const double *inp, int64_t batch, int64_t h, int64_t w, int direction,
                          int norm);
/* dinp (batch,h,w,2) += scale · F_{-direction}(dout): the adjoint, with re/im as independent reals. */
void dn_ref_fft2_backward (double *dinp, const double *dout, int64_t batch, int64_t h, int64_t w, int direction,
                           int norm);

/* out (n,2) = mag (n) · (cos phase, sin phase) */
void dn_ref_complex_polar_forward (double *out, const double *mag, const double *phase, int64_t n);
void dn_ref_complex_polar_backward (double *dmag, double *dphase, const double *dout, const double *mag,
                                    const double *phase, int64_t n);
/* out (n) = inp (n,2).re */
void dn_ref_complex_real_forward (double *out, const double *inp, int64_t n);
void dn_ref_complex_real_backward (double *dinp, const double *dout, int64_t n);
/* out (n,2) = (inp (n), 0) */
void dn_ref_complex_from_real_forward (double *out, const double *inp, int64_t n);
void dn_ref_complex_from_real_backward (double *dinp, const double *dout, int64_t n);
/* out (n) = atan2 (inp.im, inp.re); backward: dinp += dout·(−im, re)/|z|², 0 at z = 0 */
void dn_ref_complex_angle_forward (double *out, const double *inp, int64_t n);
void dn_ref_complex_angle_backward (double *dinp, const double *dout, const double *inp, int64_t n);
