/* dn-twin-private.h: what the architecture files share with dn-twin.c.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-twin.h"

#define DN_NARGS(...) DN_NARGS_ (__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define DN_NARGS_(a, b, c, d, e, f, g, h, N, ...) N

struct DnTwinMember
{
  const DnTwinMemberClass *klass;
};

/* Uploads weight @key (shape-checked against dims; a leading/trailing-1 reshape is allowed) into a new
 * device tensor of shape dims. */
DnTensor *dn_twin_load_param (DnDevice *dev, const DnWeightSet *ws, const char *key, int ndim, const int64_t *dims,
                              DnStatus *status);
int64_t dn_twin_count_parameters (const DnWeightSet *ws);

DnTwinMember *dn_twin_v1_member_new (DnDevice *dev, const DnWeightSet *ws, DnTwinInfo *info, DnStatus *status);
extern const DnTwinMemberClass dn_twin_v1_class;
DnTwinMember *dn_twin_v4_member_new (DnDevice *dev, const DnWeightSet *ws, DnTwinInfo *info, DnStatus *status);
extern const DnTwinMemberClass dn_twin_v4_class;

DnStatus dn_twin_set_extras (DnTwin *t, const char *name, const float *mask, int64_t mask_h, int64_t mask_w,
                             const float *correlations, int64_t n_correlations);
