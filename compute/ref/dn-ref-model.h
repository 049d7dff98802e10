/* dn-ref-model.h: float64 references of the model ops (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdint.h>

/* out = inp.permute(perm), inp (d[0],d[1],d[2],d[3]) */
void dn_ref_permute4_forward (double *out, const double *inp, const int64_t d[4], const int perm[4]);
/* y (N,K); feat (N,C,H,W); mu (K,2) or NULL; features (C,K); bias (K) or NULL */
void dn_ref_readout_forward (double *y, const double *feat, const double *mu, const double *features,
                             const double *bias, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K);
/* Accumulates into dfeat, dmu, dfeatures, dbias (each may be NULL). */
void dn_ref_readout_backward (double *dfeat, double *dmu, double *dfeatures, double *dbias, const double *dy,
                              const double *feat, const double *mu, const double *features, int64_t N, int64_t C,
                              int64_t H, int64_t W, int64_t K);
