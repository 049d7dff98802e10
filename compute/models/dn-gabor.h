/* dn-gabor.h: ground truth of the built-in twin "builtin:gabor-v1" (dn-twin-gabor.c explains the
 * model and the conventions).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-twin.h"

typedef enum
{
  DN_GABOR_SIMPLE = 0, /* linear filter, then the twins' elu(y − 1) + 1 */
  DN_GABOR_COMPLEX,    /* energy of a quadrature pair (phases 0° and 90°) */
} DnGaborType;

typedef struct
{
  int id;
  DnGaborType type;
  double x, y;            /* RF centre: column, row (pixel centres at integers) */
  double orientation_deg; /* direction of the luminance modulation, [0, 180), x right, y down */
  double wavelength;      /* pixels per cycle */
  double sigma;           /* Gaussian envelope, pixels */
  double phase_deg;       /* simple cells; 0 for complex cells */
} DnGaborCell;

/* Ground truth of neuron k of a builtin:gabor-v1 twin, or NULL (not that twin, or k out of range). */
const DnGaborCell *dn_twin_gabor_cell (const DnTwin *twin, int k);
/* Its filter (93×93, unit L2 norm; the phase-0° filter of a complex cell), or NULL. */
const float *dn_twin_gabor_filter (const DnTwin *twin, int k);
/* Writes the unit-norm, DC-free Gabor of @cell at @phase_deg into out (93×93). */
void dn_gabor_filter (const DnGaborCell *cell, double phase_deg, float *out);

/* internal (dn-twin-gabor.c) */
DnTwinMember *dn_twin_gabor_member_new (DnDevice *dev, DnTwinInfo *info, DnStatus *status);
extern const DnTwinMemberClass dn_twin_gabor_class;
const DnGaborCell *dn_gabor_cell (const DnTwinMember *m, int k);
const float *dn_gabor_cell_filter (const DnTwinMember *m, int k);
