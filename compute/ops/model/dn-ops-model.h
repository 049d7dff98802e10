/* dn-ops-model.h: ops the twin models need beyond the generic families: 4-D permutation and the
 * Gaussian readout (neuralpredictors FullGaussian2d at eval, isotropic: bilinear grid_sample with
 * align_corners=True and zero padding at one position per neuron, then a per-neuron weighted sum over
 * channels plus bias; twins.md §2.1 row 9 and §4).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"

/**
 * dn_permute4_forward:
 * @out: (in.shape[perm[0]], …, in.shape[perm[3]])
 * @inp: (D0,D1,D2,D3)
 * @perm: out dimension i is input dimension perm[i] (as torch.permute)
 *
 * Returns: DN_OK, or DN_ERROR_SHAPE if @perm is not a permutation or @out has the wrong shape.
 */
DnStatus dn_permute4_forward (DnTensor *out, const DnTensor *inp, const int perm[4]);
/* dinp (D0,D1,D2,D3) += permute(dout, inverse perm). */
DnStatus dn_permute4_backward (DnTensor *dinp, const DnTensor *dout, const int perm[4]);

/**
 * dn_readout_forward:
 * @y: (N,K) readout output before the output nonlinearity
 * @feat: (N,C,H,W) core output
 * @mu: (K,2) positions (x = width axis, y = height axis) in [-1,1] (clamped), or NULL for the centre (0,0)
 * @features: (C,K) per-neuron channel weights
 * @bias: (K) or NULL
 *
 * y[n,k] = Σ_c bilinear(feat[n,c], mu[k]) · features[c,k] + bias[k], with align_corners=True: g ∈ [-1,1]
 * maps to pixel (g+1)/2·(size−1); corners outside the map read 0.
 */
DnStatus dn_readout_forward (DnTensor *y, const DnTensor *feat, const DnTensor *mu, const DnTensor *features,
                             const DnTensor *bias);
/* Accumulates the gradients of dy (N,K) into dfeat (N,C,H,W), dmu (K,2), dfeatures (C,K), dbias (K); any
 * of them may be NULL. dmu is zero for a coordinate clamped to ±1 from outside. */
DnStatus dn_readout_backward (DnTensor *dfeat, DnTensor *dmu, DnTensor *dfeatures, DnTensor *dbias,
                              const DnTensor *dy, const DnTensor *feat, const DnTensor *mu,
                              const DnTensor *features);
