/* dn-twin-load.h: opening twins from what users have: a PyTorch checkpoint, a folder of member
 * checkpoints (DualNeuron's twins/<Model>/ layout, with optional mask.npy and correlations.npy), or a
 * twin bundle (one HDF5 file; see dn-bundle.h).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-twin.h"
#include "dn-weights.h"

/* One checkpoint file as a weight set (bare or wrapped state dicts, any float dtype → f32). */
DnWeightSet *dn_weights_from_torch (const char *path, DnStatus *status);

/* Lists the member checkpoints of a folder (*.pth, *.pth.tar, *.pt, *.ckpt; sorted by name, so
 * v1_convnext_1 … _5 come in order). Returns the count; *paths is a malloc'd array of malloc'd strings. */
int dn_twin_list_checkpoints (const char *folder, char ***paths, DnStatus *status);

/* Opens a twin from a checkpoint file or a folder of checkpoints. */
DnTwin *dn_twin_open (DnDevice *dev, const char *path, DnStatus *status);
