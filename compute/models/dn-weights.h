/* dn-weights.h: named host tensors (one member's state dict after loading), the common currency
 * between the file readers (PyTorch checkpoints, twin bundles) and the models.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdint.h>

#include "dn-status.h"

#define DN_WEIGHT_MAX_DIMS 8

typedef struct
{
  char *name;
  int ndim;
  int64_t shape[DN_WEIGHT_MAX_DIMS];
  float *data; /* owned, numel floats */
} DnHostTensor;

typedef struct
{
  DnHostTensor *items;
  int n, cap;
  char *source; /* where it came from (file path), for messages */
} DnWeightSet;

DnWeightSet *dn_weight_set_new (const char *source);
void dn_weight_set_free (DnWeightSet *ws);
/* Copies name, shape and data. */
DnStatus dn_weight_set_add (DnWeightSet *ws, const char *name, int ndim, const int64_t *shape, const float *data);
const DnHostTensor *dn_weight_set_find (const DnWeightSet *ws, const char *name);
int64_t dn_host_tensor_numel (const DnHostTensor *t);

/* Looks up @name and checks its shape (dims[i] < 0 = any; numel must match when ndim differs only by
 * leading/trailing 1s, e.g. grn.weight (1,1,1,160) for a (160) parameter). Sets an error naming the
 * source file, the key and both shapes. */
DnStatus dn_weight_set_get (const DnWeightSet *ws, const char *name, int ndim, const int64_t *dims,
                            const DnHostTensor **out);
