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
/* V1 on the CPU backend: the fused forward for inference (dn-twin-v1-cpu.c). Host pointers to one
 * member's weights, in the shapes of the checkpoint (dn-twin-v1.c loads them). */
typedef struct
{
  const float *dw_w, *dw_b, *ln_w, *ln_b, *pw1_w, *pw1_b, *grn_g, *grn_b, *pw2_w, *pw2_b;
} DnTwinV1BlockParams;
typedef struct
{
  const float *patch_w1, *patch_w3, *patch_b, *stem_w, *stem_b; /* (40,1,4,4), (40,3,4,4), (40) ×3 */
  DnTwinV1BlockParams blk[2];
  const float *ds_ln_w, *ds_ln_b, *ds_w, *ds_b;  /* (40), (40), (80,40,2,2), (80) */
  const float *bn_w, *bn_b, *bn_rm, *bn_rv;      /* (80) */
  const float *mu, *features, *bias;             /* (K,2), (80,K), (K) */
  int K;
} DnTwinV1Params;
/* Where the fused forward also writes the intermediates (NCHW, host memory of the op path's tensors). */
typedef struct
{
  float *stem, *stage0; /* (N,40,23,23) */
  float *ds, *act;      /* (N,80,11,11) */
} DnTwinV1Keep;
typedef struct DnTwinV1Cpu DnTwinV1Cpu;         /* a member's weights, repacked */
typedef struct DnTwinV1CpuWork DnTwinV1CpuWork; /* per-thread scratch (about 1 MB a thread) */
DnTwinV1Cpu *dn_twin_v1_cpu_new (const DnTwinV1Params *params, DnStatus *status);
void dn_twin_v1_cpu_free (DnTwinV1Cpu *m);
DnTwinV1CpuWork *dn_twin_v1_cpu_work_new (int n_threads, DnStatus *status);
void dn_twin_v1_cpu_work_free (DnTwinV1CpuWork *w);
/* y (N,K) = readout output before elu for x (N,cin,93,93), cin 1 or 3; keep: NULL or where to write
 * the intermediates too. Runs on the device's thread pool. */
void dn_twin_v1_cpu_forward (DnDevice *dev, const DnTwinV1Cpu *m, DnTwinV1CpuWork *w, float *y, const float *x,
                             int64_t N, int cin, bool centered, const DnTwinV1Keep *keep);
/* Forward and input-gradient backward in one pass per image, centred readout only: y (N,K) as above and
 * dx (N,cin,93,93) += ∂/∂x Σ_{n,k} dout[n,k]·scale·(elu(y[n,k] − 1) + 1). Fails only for memory (the
 * backward's scratch, about 2.3 MB a thread, is made on the first call). */
DnStatus dn_twin_v1_cpu_forward_backward (DnDevice *dev, const DnTwinV1Cpu *m, DnTwinV1CpuWork *w, float *y,
                                          float *dx, const float *x, const float *dout, float scale, int64_t N,
                                          int cin);

DnTwinMember *dn_twin_v4_member_new (DnDevice *dev, const DnWeightSet *ws, DnTwinInfo *info, DnStatus *status);
extern const DnTwinMemberClass dn_twin_v4_class;

DnStatus dn_twin_set_extras (DnTwin *t, const char *name, const float *mask, int64_t mask_h, int64_t mask_w,
                             const float *correlations, int64_t n_correlations);
