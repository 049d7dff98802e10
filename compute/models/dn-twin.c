/* dn-twin.c: twin ensembles: architecture recognition, member selection, the output nonlinearity
 * elu(y − 1) + 1, the ensemble mean, and forward+backward member by member in one shared workspace.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dn-device-private.h"
#include "dn-bundle.h"
#include "dn-gabor.h"
#include "dn-ops.h"
#include "dn-twin-private.h"

struct DnTwin
{
  DnDevice *dev;
  DnTwinInfo info;
  const DnTwinMemberClass *klass;
  DnTwinMember **members;
  bool *use;
  bool centered;
  bool keep_intermediates;
  bool fast; /* dn_twin_set_fast_paths */
  void *ws;     /* the members' shared workspace, for a batch of ws_n */
  int64_t ws_n;
  DnTensor *y, *ym1, *r, *dr, *dy; /* (N,K) scratch */
  /* the previous batch size's workspace and scratch, kept so that a caller alternating between two batch
   * sizes (synthesis: crops forward+backward, clean images forward) allocates nothing per call */
  struct
  {
    void *ws;
    int64_t n;
    DnTensor *y, *ym1, *r, *dr, *dy;
  } parked;
  /* extras from the twin's source (dn-bundle.h) */
  char *name;
  float *mask, *correlations;
  int64_t mask_h, mask_w, n_correlations;
};

DnStatus
dn_twin_set_extras (DnTwin *t, const char *name, const float *mask, int64_t mask_h, int64_t mask_w,
                    const float *correlations, int64_t n_correlations)
{
  if (name && !(t->name = strdup (name)))
    return dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
  if (mask)
    {
      if (!(t->mask = malloc ((size_t) (mask_h * mask_w) * sizeof (float))))
        return dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      memcpy (t->mask, mask, (size_t) (mask_h * mask_w) * sizeof (float));
      t->mask_h = mask_h;
      t->mask_w = mask_w;
    }
  if (correlations)
    {
      if (n_correlations != t->info.n_neurons)
        return dn_set_error (DN_ERROR_SHAPE, "twin: %lld test correlations for %d neurons",
                             (long long) n_correlations, t->info.n_neurons);
      if (!(t->correlations = malloc ((size_t) n_correlations * sizeof (float))))
        return dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      memcpy (t->correlations, correlations, (size_t) n_correlations * sizeof (float));
      t->n_correlations = n_correlations;
    }
  return DN_OK;
}

const float *
dn_twin_mask (const DnTwin *t, int64_t *h, int64_t *w)
{
  if (h)
    *h = t->mask_h;
  if (w)
    *w = t->mask_w;
  return t->mask;
}

const float *
dn_twin_correlations (const DnTwin *t, int64_t *n)
{
  if (n)
    *n = t->n_correlations;
  return t->correlations;
}

const char *
dn_twin_name (const DnTwin *t)
{
  return t->name ? t->name : t->info.arch_name;
}

float
dn_twin_input_norm (const DnTwin *t)
{
  return t->info.arch == DN_ARCH_V4_RESNET ? 40.0f : 12.0f;
}

DnTensor *
dn_twin_load_param (DnDevice *dev, const DnWeightSet *ws, const char *key, int ndim, const int64_t *dims,
                    DnStatus *status)
{
  const DnHostTensor *h;
  if ((*status = dn_weight_set_get (ws, key, ndim, dims, &h)) != DN_OK)
    return NULL;
  DnTensor *t = dn_tensor_new (dev, ndim, dims, status);
  if (!t)
    return NULL;
  if ((*status = dn_tensor_upload (t, h->data, dn_host_tensor_numel (h))) != DN_OK)
    {
      dn_tensor_free (t);
      return NULL;
    }
  return t;
}

int64_t
dn_twin_count_parameters (const DnWeightSet *ws)
{
  int64_t n = 0;
  for (int i = 0; i < ws->n; i++)
    {
      const char *name = ws->items[i].name;
      size_t len = strlen (name);
      /* buffers are not parameters */
      if (strstr (name, "running_") || (len >= 19 && strcmp (name + len - 19, "num_batches_tracked") == 0))
        continue;
      n += dn_host_tensor_numel (&ws->items[i]);
    }
  return n;
}

DnTwinArch
dn_twin_detect_arch (const DnWeightSet *ws)
{
  if (dn_weight_set_find (ws, "core.features.backbone.model.embeddings.patch_embeddings.weight"))
    return DN_ARCH_V1_CONVNEXT;
  if (dn_weight_set_find (ws, "core.features.TaskDriven.conv1.weight"))
    return DN_ARCH_V4_RESNET;
  dn_set_error (DN_ERROR_FORMAT,
                "%s: not a DualNeuron twin: neither a V1 ConvNeXt core "
                "(core.features.backbone.model.*) nor a V4 ResNet core (core.features.TaskDriven.*) "
                "is in the state dict",
                ws->source ? ws->source : "weights");
  return 0;
}

void
dn_twin_free (DnTwin *t)
{
  if (!t)
    return;
  if (t->ws)
    t->klass->workspace_free (t->ws);
  for (int i = 0; t->members && i < t->info.n_members; i++)
    if (t->members[i])
      t->klass->free (t->members[i]);
  if (t->parked.ws)
    t->klass->workspace_free (t->parked.ws);
  DnTensor *s[] = { t->y, t->ym1, t->r, t->dr, t->dy, t->parked.y, t->parked.ym1, t->parked.r, t->parked.dr,
                    t->parked.dy };
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
    dn_tensor_free (s[i]);
  free (t->members);
  free (t->use);
  free (t->name);
  free (t->mask);
  free (t->correlations);
  free (t);
}

static DnTwin *
twin_alloc (DnDevice *dev, const DnTwinMemberClass *klass, int n_members, DnStatus *status)
{
  DnTwin *t = calloc (1, sizeof *t);
  if (!t || !(t->members = calloc ((size_t) n_members, sizeof *t->members))
      || !(t->use = calloc ((size_t) n_members, sizeof *t->use)))
    {
      dn_twin_free (t);
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      return NULL;
    }
  t->dev = dev;
  t->centered = true;
  t->fast = true;
  t->klass = klass;
  t->info.n_members = n_members;
  for (int i = 0; i < n_members; i++)
    t->use[i] = true;
  return t;
}

DnTwin *
dn_twin_new_builtin (DnDevice *dev, const char *name, DnStatus *status)
{
  if (strcmp (name, "builtin:gabor-v1") != 0)
    {
      *status = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: unknown built-in twin (there is builtin:gabor-v1)", name);
      return NULL;
    }
  DnTwin *t = twin_alloc (dev, &dn_twin_gabor_class, 1, status);
  if (!t)
    return NULL;
  DnTwinInfo info = { 0 };
  if (!(t->members[0] = dn_twin_gabor_member_new (dev, &info, status)))
    {
      dn_twin_free (t);
      return NULL;
    }
  info.n_members = 1;
  t->info = info;
  return t;
}

const DnGaborCell *
dn_twin_gabor_cell (const DnTwin *t, int k)
{
  return t->info.arch == DN_ARCH_GABOR ? dn_gabor_cell (t->members[0], k) : NULL;
}

const float *
dn_twin_gabor_filter (const DnTwin *t, int k)
{
  return t->info.arch == DN_ARCH_GABOR ? dn_gabor_cell_filter (t->members[0], k) : NULL;
}

DnTwin *
dn_twin_new (DnDevice *dev, DnWeightSet *const *members, int n_members, DnStatus *status)
{
  if (n_members < 1)
    {
      *status = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "twin: no members");
      return NULL;
    }
  DnTwinArch arch = dn_twin_detect_arch (members[0]);
  if (!arch)
    {
      *status = DN_ERROR_FORMAT;
      return NULL;
    }
  DnTwin *t = twin_alloc (dev, arch == DN_ARCH_V1_CONVNEXT ? &dn_twin_v1_class : &dn_twin_v4_class, n_members, status);
  if (!t)
    return NULL;
  for (int i = 0; i < n_members; i++)
    {
      DnTwinInfo info = { 0 };
      if (dn_twin_detect_arch (members[i]) != arch)
        {
          *status = dn_set_error (DN_ERROR_FORMAT, "%s: member %d has another architecture than member 1",
                                  members[i]->source ? members[i]->source : "weights", i + 1);
          dn_twin_free (t);
          return NULL;
        }
      t->members[i] = arch == DN_ARCH_V1_CONVNEXT ? dn_twin_v1_member_new (dev, members[i], &info, status)
                                                  : dn_twin_v4_member_new (dev, members[i], &info, status);
      if (!t->members[i])
        {
          dn_twin_free (t);
          return NULL;
        }
      if (i > 0 && (info.n_neurons != t->info.n_neurons || info.in_channels != t->info.in_channels))
        {
          *status = dn_set_error (DN_ERROR_SHAPE, "%s: member %d has %d neurons, member 1 has %d",
                                  members[i]->source ? members[i]->source : "weights", i + 1, info.n_neurons,
                                  t->info.n_neurons);
          dn_twin_free (t);
          return NULL;
        }
      info.n_members = n_members;
      t->info = info;
    }
  *status = DN_OK;
  return t;
}

const DnTwinInfo *
dn_twin_info (const DnTwin *t)
{
  return &t->info;
}

DnDevice *
dn_twin_device (const DnTwin *t)
{
  return t->dev;
}

DnStatus
dn_twin_set_members (DnTwin *t, const bool *use)
{
  int n = 0;
  for (int i = 0; i < t->info.n_members; i++)
    n += use[i];
  if (n == 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "twin: at least one member must be selected");
  memcpy (t->use, use, (size_t) t->info.n_members * sizeof *use);
  return DN_OK;
}

void
dn_twin_set_centered (DnTwin *t, bool centered)
{
  t->centered = centered;
}

void
dn_twin_set_fast_paths (DnTwin *t, bool fast)
{
  t->fast = fast;
}

void
dn_twin_set_keep_intermediates (DnTwin *t, bool keep)
{
  t->keep_intermediates = keep;
}

/* Swaps the current workspace and scratch with the parked ones. */
static void
swap_parked (DnTwin *t)
{
#define SWAP(a, b)                                                                                    \
  do                                                                                                  \
    {                                                                                                 \
      __typeof__ (a) tmp_ = (a);                                                                      \
      (a) = (b);                                                                                      \
      (b) = tmp_;                                                                                     \
    }                                                                                                 \
  while (0)
  SWAP (t->ws, t->parked.ws);
  SWAP (t->ws_n, t->parked.n);
  SWAP (t->y, t->parked.y);
  SWAP (t->ym1, t->parked.ym1);
  SWAP (t->r, t->parked.r);
  SWAP (t->dr, t->parked.dr);
  SWAP (t->dy, t->parked.dy);
#undef SWAP
}

/* Makes the workspace and scratch fit a batch of N: the current one, the parked one (the previous batch
 * size), or a new one (the current one is parked, the parked one freed). */
static DnStatus
ensure_batch (DnTwin *t, int64_t N)
{
  if (t->ws && t->ws_n == N)
    return DN_OK;
  if (t->parked.ws && t->parked.n == N)
    {
      swap_parked (t);
      return DN_OK;
    }
  /* free the parked slot, park the current one */
  if (t->parked.ws)
    t->klass->workspace_free (t->parked.ws);
  t->parked.ws = NULL;
  DnTensor **ps[] = { &t->parked.y, &t->parked.ym1, &t->parked.r, &t->parked.dr, &t->parked.dy };
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
    {
      dn_tensor_free (*ps[i]);
      *ps[i] = NULL;
    }
  t->parked.n = 0;
  swap_parked (t);
  DnTensor **s[] = { &t->y, &t->ym1, &t->r, &t->dr, &t->dy };
  DnStatus st;
  t->ws = t->klass->workspace_new (t->dev, t->members[0], N, &st);
  if (!t->ws)
    return st;
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
    if (!(*s[i] = dn_tensor_new2 (t->dev, N, t->info.n_neurons, &st)))
      return st;
  t->ws_n = N;
  return DN_OK;
}

static DnStatus
check_input (DnTwin *t, const char *op, const DnTensor *x)
{
  if (!x || x->ndim != 4 || (x->shape[1] != t->info.in_channels && x->shape[1] != 3)
      || x->shape[2] != t->info.in_h || x->shape[3] != t->info.in_w)
    {
      char s[128] = "NULL";
      if (x)
        dn_tensor_shape_str (x, s, sizeof s);
      return dn_set_error (DN_ERROR_SHAPE, "%s: input has shape %s, the %s twin takes (N,%d,%d,%d)", op, s,
                           t->info.arch_name, t->info.in_channels, t->info.in_h, t->info.in_w);
    }
  if (x->dev != t->dev)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: input lives on another device than the twin", op);
  return DN_OK;
}

/* r = elu(y − 1) + 1 from t->y; leaves ym1 = y − 1 for the backward. */
static DnStatus
response_from_y (DnTwin *t, DnTensor *r)
{
  DN_TRY (dn_affine_forward (t->ym1, t->y, 1.0f, -1.0f));
  DN_TRY (dn_elu_forward (r, t->ym1, 1.0f));
  return dn_affine_forward (r, r, 1.0f, 1.0f);
}

/* r = elu(y − 1) + 1 for member m; leaves y and ym1 = y − 1 for the backward (infer: none follows). */
static DnStatus
member_response (DnTwin *t, int m, DnTensor *r, const DnTensor *x, bool infer)
{
  if (infer && t->fast && t->klass->forward_infer)
    DN_TRY (t->klass->forward_infer (t->members[m], t->ws, t->y, x, t->centered, t->keep_intermediates));
  else
    DN_TRY (t->klass->forward (t->members[m], t->ws, t->y, x, t->centered));
  return response_from_y (t, r);
}

static int
n_selected (const DnTwin *t)
{
  int n = 0;
  for (int i = 0; i < t->info.n_members; i++)
    n += t->use[i];
  return n;
}

DnStatus
dn_twin_member_forward (DnTwin *t, int m, DnTensor *out, const DnTensor *x)
{
  const char *op = "twin_member_forward";
  DN_TRY (check_input (t, op, x));
  if (m < 0 || m >= t->info.n_members)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: member %d of %d", op, m + 1, t->info.n_members);
  DN_CHECK_SHAPE (op, "out", out, 2, x->shape[0], t->info.n_neurons);
  if (x->shape[0] == 0)
    return DN_OK;
  DN_TRY (ensure_batch (t, x->shape[0]));
  return member_response (t, m, out, x, true);
}

DnStatus
dn_twin_forward (DnTwin *t, DnTensor *out, const DnTensor *x)
{
  return dn_twin_forward_backward (t, out, NULL, x, NULL);
}

DnStatus
dn_twin_forward_backward (DnTwin *t, DnTensor *out, DnTensor *dx, const DnTensor *x, const DnTensor *dout)
{
  const char *op = dx ? "twin_forward_backward" : "twin_forward";
  DN_TRY (check_input (t, op, x));
  int64_t N = x->shape[0];
  if (out)
    DN_CHECK_SHAPE (op, "out", out, 2, N, t->info.n_neurons);
  if (dx)
    {
      DN_CHECK_SAME_SHAPE (op, dx, x);
      if (!dout)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dx without dout", op);
      DN_CHECK_SHAPE (op, "dout", dout, 2, N, t->info.n_neurons);
    }
  if (N == 0)
    return DN_OK;
  DN_TRY (ensure_batch (t, N));
  float inv = 1.0f / (float) n_selected (t);
  if (out)
    DN_TRY (dn_tensor_fill (out, 0));
  for (int m = 0; m < t->info.n_members; m++)
    {
      if (!t->use[m])
        continue;
      if (dx && t->fast && !t->keep_intermediates && t->klass->forward_backward)
        {
          bool done = false;
          DN_TRY (t->klass->forward_backward (t->members[m], t->ws, t->y, dx, x, dout, inv, t->centered, &done));
          if (done)
            {
              DN_TRY (response_from_y (t, t->r));
              if (out)
                DN_TRY (dn_axpy (out, t->r, inv));
              continue;
            }
        }
      DN_TRY (member_response (t, m, t->r, x, dx == NULL));
      if (out)
        DN_TRY (dn_axpy (out, t->r, inv));
      if (dx)
        {
          /* dr = dout / M; dy = dr · elu'(y − 1) */
          DN_TRY (dn_affine_forward (t->dr, dout, inv, 0.0f));
          DN_TRY (dn_tensor_fill (t->dy, 0));
          DN_TRY (dn_elu_backward (t->dy, t->ym1, t->dr, 1.0f));
          DN_TRY (t->klass->backward (t->members[m], t->ws, dx, t->dy, x));
        }
    }
  return DN_OK;
}

const DnTensor *
dn_twin_intermediate (DnTwin *t, const char *name)
{
  return t->ws ? t->klass->intermediate (t->ws, name) : NULL;
}

bool
dn_twin_has_fast_forward (const DnTwin *t)
{
  return t->fast && t->klass->forward_infer != NULL && dn_device_is_cpu (t->dev);
}
