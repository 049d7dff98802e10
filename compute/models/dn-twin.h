/* dn-twin.h: digital twins: ensembles of neural-response models (V1 ConvNeXt-V2, V4 ResNet-50 cores
 * with a Gaussian readout; twins.md §1–5) that run on any DnDevice, with input gradients.
 *
 * An ensemble's response is the mean over its (selected) members of elu(y − 1) + 1. The readout reads
 * the feature map at mu = 0 ("centered", the default, as DualNeuron uses) or at each neuron's trained
 * position. Work memory is shared by the members, which run one after the other.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>

#include "dn-device.h"
#include "dn-weights.h"

typedef enum
{
  DN_ARCH_V1_CONVNEXT = 1, /* V1GrayTaskDriven: ConvNeXt-V2-atto to stage-1 downsampling, BN + GELU */
  DN_ARCH_V4_RESNET,       /* V4ColorTaskDriven / V4GrayTaskDriven: ResNet-50 to layer3.0, BN + ReLU */
  DN_ARCH_GABOR,           /* builtin:gabor-v1, generated V1-like simple and complex cells (dn-gabor.h) */
} DnTwinArch;

typedef struct
{
  DnTwinArch arch;
  const char *arch_name; /* "V1GrayTaskDriven", … */
  int in_channels;       /* channels the model takes (1 for gray models: repeated to 3 internally) */
  int in_h, in_w;
  int n_neurons;
  int n_members;
  int64_t n_parameters; /* per member */
} DnTwinInfo;

typedef struct DnTwin DnTwin;

/* Builds an ensemble from one weight set per member (state-dict keys as in the checkpoints). The
 * architecture is recognised from the keys; every key and shape is checked. The weight sets may be
 * freed afterwards. */
DnTwin *dn_twin_new (DnDevice *dev, DnWeightSet *const *members, int n_members, DnStatus *status);
/* The built-in twin "builtin:gabor-v1" (see dn-gabor.h). */
DnTwin *dn_twin_new_builtin (DnDevice *dev, const char *name, DnStatus *status);
void dn_twin_free (DnTwin *twin);
const DnTwinInfo *dn_twin_info (const DnTwin *twin);
DnDevice *dn_twin_device (const DnTwin *twin);

/* Extras a twin may carry (NULL when absent). */
const float *dn_twin_mask (const DnTwin *twin, int64_t *h, int64_t *w);
const float *dn_twin_correlations (const DnTwin *twin, int64_t *n);
const char *dn_twin_name (const DnTwin *twin);
/* The L2 norm DualNeuron rescales this twin's inputs to: 12 for V1 (and the built-in twin), 40 for V4. */
float dn_twin_input_norm (const DnTwin *twin);

/* Recognises the architecture of one member's weights (0 if none matches; message in dn_last_error). */
DnTwinArch dn_twin_detect_arch (const DnWeightSet *ws);

/* Which members take part (default: all). @use has n_members entries; at least one must be true. */
DnStatus dn_twin_set_members (DnTwin *twin, const bool *use);
/* true (default): readout at mu = 0; false: the trained positions. */
void dn_twin_set_centered (DnTwin *twin, bool centered);
/* true: every forward keeps the intermediates for dn_twin_intermediate (tests); false (default): a
 * forward without backward may take a faster path that does not. */
void dn_twin_set_keep_intermediates (DnTwin *twin, bool keep);

/* Whether the fused CPU paths (forward without backward, forward+backward) are used where a twin has them
 * (default: yes). Off, every call runs the op-by-op path: tests compare the two with it. */
void dn_twin_set_fast_paths (DnTwin *twin, bool fast);

/* out (N,K) = ensemble response to x (N,C,H,W). */
DnStatus dn_twin_forward (DnTwin *twin, DnTensor *out, const DnTensor *x);
/* Whether a forward without backward takes a faster path than the forward of dn_twin_forward_backward
 * (the fused CPU forward of V1 twins). */
bool dn_twin_has_fast_forward (const DnTwin *twin);
/* out (N,K) = response of member @m alone (0-based), whatever the selection. */
DnStatus dn_twin_member_forward (DnTwin *twin, int m, DnTensor *out, const DnTensor *x);
/* Forward, then backward of the ensemble response against dout (N,K): out (N,K) = response (may be
 * NULL), dx (N,C,H,W) += Σ_{n,k} dout[n,k] ∂r[n,k]/∂x. Member by member, so memory is one member's. */
DnStatus dn_twin_forward_backward (DnTwin *twin, DnTensor *out, DnTensor *dx, const DnTensor *x,
                                   const DnTensor *dout);

/* For tests: a named intermediate of the last forward of member m ("stem", "stage0", "downsample",
 * "bn_gelu" for V1; "conv1_bn_relu", "maxpool", "layer1", "layer2", "layer3_0", "out_bn_relu" for V4).
 * Only valid until the next call on the twin; NULL if unknown, or if the last forward did not keep them
 * (a forward without backward may skip them, e.g. V1 on the CPU: see dn_twin_set_keep_intermediates). */
const DnTensor *dn_twin_intermediate (DnTwin *twin, const char *name);

/* Internal: one member network (the architectures implement this). */
typedef struct DnTwinMember DnTwinMember;
typedef struct
{
  /* y (N,K) = readout output before elu (mu: NULL = centered) */
  DnStatus (*forward) (DnTwinMember *m, void *ws, DnTensor *y, const DnTensor *x, bool centered);
  /* optional: the same when no backward follows; may take a faster path that keeps no activations, and
   * then fills the intermediates only when @keep (NULL: forward is used) */
  DnStatus (*forward_infer) (DnTwinMember *m, void *ws, DnTensor *y, const DnTensor *x, bool centered, bool keep);
  /* optional: forward and input-gradient backward in one fused pass where the member has one for this case
   * (V1 on the CPU, centred readout): y (N,K) as forward, dx += ∂/∂x Σ dout·scale·(elu(y − 1) + 1). Sets
   * *done to whether it did; when not, nothing was touched and forward + backward are used. */
  DnStatus (*forward_backward) (DnTwinMember *m, void *ws, DnTensor *y, DnTensor *dx, const DnTensor *x,
                                const DnTensor *dout, float scale, bool centered, bool *done);
  /* dx += ∂/∂x of Σ dy·y for the last forward */
  DnStatus (*backward) (DnTwinMember *m, void *ws, DnTensor *dx, const DnTensor *dy, const DnTensor *x);
  void *(*workspace_new) (DnDevice *dev, const DnTwinMember *m, int64_t N, DnStatus *status);
  void (*workspace_free) (void *ws);
  const DnTensor *(*intermediate) (void *ws, const char *name);
  void (*free) (DnTwinMember *m);
} DnTwinMemberClass;
