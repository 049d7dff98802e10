/* dn-bundle.h: twin sources and twin bundles.
 *
 * A twin source is everything a twin is made of: one weight set per member, plus what DualNeuron keeps
 * beside the checkpoints in twins/<Model>/ — the aperture mask (mask.npy), the per-neuron test
 * correlations (correlations.npy) and, optionally, a natural-spectrum prior. A bundle is one HDF5 file
 * holding all of it, so a twin travels as one file:
 *
 *   /                         attrs: format = "dualneuron-twin-bundle", version = 1, name, architecture,
 *                                    n_members, n_neurons, input_channels, input_height, input_width,
 *                                    input_norm, software
 *   /members/member_<k>/<key> float32 datasets, one per state-dict key, in the checkpoint's order
 *                             (attr source = the checkpoint it came from)
 *   /mask (H,W), /correlations (K), /prior (…)   optional float32 datasets
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>

#include "dn-twin.h"
#include "dn-weights.h"

typedef struct
{
  char *name;                 /* e.g. "V1GrayTaskDriven" (the folder's name), may be NULL */
  DnWeightSet **members;
  int n_members;
  float *mask;                /* (mask_h, mask_w) or NULL */
  int64_t mask_h, mask_w;
  float *correlations;        /* (n_correlations) or NULL */
  int64_t n_correlations;
  float *prior;               /* (prior_shape) or NULL */
  int prior_ndim;
  int64_t prior_shape[4];
} DnTwinSource;

void dn_twin_source_clear (DnTwinSource *src);

/* A folder of member checkpoints (sorted by name) with optional mask.npy, correlations.npy and
 * prior.npy / natural_*.npy beside them; or a single checkpoint file. */
DnStatus dn_twin_source_from_path (const char *path, DnTwinSource *src);
/* The same, calling @progress before each member checkpoint is read (done = members read so far, of
 * @total; @file = the one read next) and once at the end (done = total, file NULL). */
typedef void (*DnTwinSourceProgressFn) (int done, int total, const char *file, void *user);
DnStatus dn_twin_source_from_path_progress (const char *path, DnTwinSource *src, DnTwinSourceProgressFn progress,
                                            void *user);
DnStatus dn_bundle_read (const char *path, DnTwinSource *src);
/* Writes atomically: a temporary file beside @path, renamed over it when complete. */
DnStatus dn_bundle_write (const char *path, const DnTwinSource *src);
/* true if @path is an HDF5 file that says it is a bundle. */
bool dn_bundle_is_bundle (const char *path);

/* Builds the twin; the source's mask and correlations go with it (dn_twin_mask, …). */
DnTwin *dn_twin_new_from_source (DnDevice *dev, const DnTwinSource *src, DnStatus *status);
