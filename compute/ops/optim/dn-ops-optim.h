/* dn-ops-optim.h: the optim op family: optimizers that update parameter tensors in place (SGD, Adam,
 * AdamW, RMSprop) on both backends, and the host-side learning-rate schedules (cosine annealing,
 * ReduceLROnPlateau).
 *
 * Semantics are PyTorch 1.13's (`torch.optim`, single-tensor path, the version the fixtures and the
 * DualNeuron/DINA sources were run with), including the ORDER of the floating-point operations, because
 * synthesis replays compare against PyTorch at lr 1 where Adam is a sign step (twins.md §6.2, §10.1).
 *
 * Design
 * - One call updates one parameter tensor (one shader dispatch on Vulkan, one parallel loop on the CPU).
 *   A model with many parameter tensors calls the step once per tensor (typically on views carved from
 *   one parameter block, llm.c style; views at any element offset work).
 * - The optimizer state (momentum buffers, Adam moments, RMSprop averages) is caller-owned: tensors of the
 *   same shape as the parameter, on the same device, ZERO-FILLED before the first step (dn_tensor_new
 *   returns zero-filled tensors). The op never allocates.
 * - Hyper-parameters are doubles, like PyTorch's Python floats: the host derives the per-step scalars in
 *   double exactly as torch.optim's Python code does (bias corrections 1 − β^t, lr/bc1, sqrt(bc2),
 *   1 − lr·wd, …) and rounds each to float32 once, as ATen does when a Python scalar meets a float32
 *   tensor. The element-wise work is float32 with PyTorch's operation order AND rounding: PyTorch's CPU
 *   (AVX2) kernels fuse `a + α·b` (add_ with alpha) and `a + (v·b)·c` (addcmul_) into one fma and
 *   nothing else, and so do the CPU kernels and the shaders here. The CPU backend therefore reproduces
 *   PyTorch 1.13 bitwise (checked on the Adam replay of v4_fixture.h5). A GPU does too where its fma is
 *   fused and its sqrt and division are correctly rounded; elsewhere (lavapipe does not fuse fma) the
 *   results differ by a few ulp per step.
 * - @step is the 1-based number of the step being taken (1 on the first call for a tensor, like PyTorch's
 *   `state['step']` after its increment). SGD uses it only to detect the first step (the momentum buffer
 *   is then set to the gradient, b = g); Adam/AdamW use it for the bias corrections.
 * - The lr passed in is the lr of this step: the caller evaluates the schedule (dn_lr_cosine, or the lr
 *   a DnLrPlateau returned) and writes it into the params struct before each step.
 * - Gradients are inputs and are not modified (PyTorch adds weight decay to a copy of the gradient).
 * - Errors: DN_ERROR_SHAPE when a state tensor or the gradient does not have the parameter's shape;
 *   DN_ERROR_INVALID_ARGUMENT for NULL tensors that the settings need, step < 1, or hyper-parameters that
 *   PyTorch rejects (negative lr/eps/momentum/weight decay, β ∉ [0,1), nesterov without momentum or with
 *   dampening). Zero-size tensors are a valid no-op. NaN/Inf in gradients propagate like in PyTorch.
 * Not implemented (not used by DualNeuron): `maximize`, Adam's `amsgrad`, `foreach`/fused variants.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-device.h"

/* SGD ------------------------------------------------------------------------------------------------ */

/* torch.optim.SGD (1.13, single tensor):
 *   d = g                       (+ weight_decay·p if weight_decay ≠ 0)
 *   if momentum ≠ 0:  b = d on the first step, else b = momentum·b + (1 − dampening)·d
 *                     d = nesterov ? d + momentum·b : b
 *   p = p + (−lr)·d
 * (every `x + α·y` here is one fma, as in PyTorch's AVX2 add_) */
typedef struct
{
  double lr;           /* learning rate of this step (≥ 0) */
  double momentum;     /* μ; 0 = plain SGD (no buffer needed). Default 0 */
  double dampening;    /* default 0 */
  double weight_decay; /* L2 penalty added to the gradient. Default 0 */
  bool nesterov;       /* needs momentum > 0 and dampening == 0. Default false */
} DnSgdParams;

/* PyTorch's defaults with the given lr (momentum, dampening, weight decay 0, no nesterov). */
DnSgdParams dn_sgd_params_default (double lr);

DnStatus dn_sgd_step (DnTensor *param,          // (any) updated in place
                      DnTensor *momentum_buf,   // (same as param) state; NULL allowed when momentum == 0
                      const DnTensor *grad,     // (same as param)
                      const DnSgdParams *p, int64_t step);

/* Adam / AdamW --------------------------------------------------------------------------------------- */

/* torch.optim.Adam (1.13, single tensor, amsgrad off):
 *   g = fma(p, weight_decay, g) (only if weight_decay ≠ 0; L2, coupled)
 *   m = β1·m;  m = fma(g, 1 − β1, m)
 *   v = β2·v;  v = fma((1 − β2)·g, g, v)
 *   bc1 = 1 − β1^t, bc2 = 1 − β2^t                         (double, on the host)
 *   denom = sqrt(v) / sqrt(bc2) + eps
 *   p = p + ((−lr/bc1)·m) / denom
 * torch.optim.AdamW: the same without the L2 term, preceded by the decoupled decay p = p·(1 − lr·wd). */
typedef struct
{
  double lr;           /* learning rate of this step. PyTorch default 1e-3 */
  double beta1, beta2; /* default 0.9, 0.999 */
  double eps;          /* added after the square root of the bias-corrected v. Default 1e-8 */
  double weight_decay; /* Adam: L2 added to g (default 0); AdamW: decoupled (PyTorch default 1e-2) */
} DnAdamParams;

/* PyTorch's Adam defaults with the given lr (β 0.9/0.999, eps 1e-8, weight decay 0). For AdamW set
 * .weight_decay yourself (torch's AdamW default is 1e-2; DINA uses 5e-5). */
DnAdamParams dn_adam_params_default (double lr);

DnStatus dn_adam_step (DnTensor *param,      // (any) updated in place
                       DnTensor *exp_avg,    // (same as param) state m
                       DnTensor *exp_avg_sq, // (same as param) state v
                       const DnTensor *grad, // (same as param)
                       const DnAdamParams *p, int64_t step);

DnStatus dn_adamw_step (DnTensor *param,      // (any) updated in place
                        DnTensor *exp_avg,    // (same as param) state m
                        DnTensor *exp_avg_sq, // (same as param) state v
                        const DnTensor *grad, // (same as param)
                        const DnAdamParams *p, int64_t step);

/* RMSprop -------------------------------------------------------------------------------------------- */

/* torch.optim.RMSprop (1.13, single tensor):
 *   g = fma(p, weight_decay, g) (only if weight_decay ≠ 0)
 *   s = α·s;  s = fma((1 − α)·g, g, s)
 *   if centered: a = α·a;  a = fma(g, 1 − α, a);  avg = sqrt(fma(−a, a, s))   else avg = sqrt(s)
 *   avg = avg + eps             (eps outside the square root)
 *   if momentum > 0: b = momentum·b;  b = b + g/avg;  p = fma(b, −lr, p)
 *   else:            p = p + ((−lr)·g)/avg
 * All state (s, a, b) starts at zero (no first-step special case), so no step counter is needed. */
typedef struct
{
  double lr;           /* learning rate of this step. PyTorch default 1e-2 */
  double alpha;        /* smoothing constant. Default 0.99 (DINA: 0.9) */
  double eps;          /* default 1e-8 */
  double weight_decay; /* default 0 */
  double momentum;     /* default 0 (no buffer needed) */
  bool centered;       /* normalise by the estimated variance; needs grad_avg. Default false */
} DnRmspropParams;

DnRmspropParams dn_rmsprop_params_default (double lr);

DnStatus dn_rmsprop_step (DnTensor *param,        // (any) updated in place
                          DnTensor *square_avg,   // (same as param) state s
                          DnTensor *momentum_buf, // (same as param) state b; NULL allowed when momentum == 0
                          DnTensor *grad_avg,     // (same as param) state a; NULL allowed unless centered
                          const DnTensor *grad,   // (same as param)
                          const DnRmspropParams *p);

/* Learning-rate schedules (host only) ---------------------------------------------------------------- */

/* torch.optim.lr_scheduler.CosineAnnealingLR in closed form: the lr of the optimiser step that follows
 * @t scheduler steps (t = 0 for the first optimiser step, as the scheduler is stepped AFTER every
 * optimiser step):  eta_min + (base_lr − eta_min)·(1 + cos(π·t/t_max))/2.
 * DualNeuron synthesis: base_lr 0.05 (V1 SGD) / 1.0 (V4 Adam), eta_min 0, t_max = steps = 128, so step
 * t = 0..127 uses dn_lr_cosine (base, 0, t, 128) (twins.md §6.1 item 8). PyTorch's recursive form equals
 * this to double rounding. Past t_max the lr rises again like PyTorch's (period 2·t_max). t_max ≤ 0
 * returns base_lr. */
double dn_lr_cosine (double base_lr, double eta_min, int64_t t, int64_t t_max);

/* torch.optim.lr_scheduler.ReduceLROnPlateau (for one parameter group). A plain value struct: the
 * settings first (fill with dn_lr_plateau_options_init, then change), then the state. */
typedef enum
{
  DN_PLATEAU_MIN = 0, /* the metric should decrease (a loss) */
  DN_PLATEAU_MAX,     /* the metric should increase (an accuracy) */
} DnPlateauMode;

typedef enum
{
  DN_PLATEAU_REL = 0, /* better = below best·(1 − threshold) (min) / above best·(1 + threshold) (max) */
  DN_PLATEAU_ABS,     /* better = below best − threshold (min) / above best + threshold (max) */
} DnPlateauThresholdMode;

typedef struct
{
  DnPlateauMode mode;                    /* default DN_PLATEAU_MIN */
  double factor;                         /* new lr = lr·factor, must be < 1. Default 0.1 */
  int64_t patience;                      /* bad epochs tolerated before reducing. Default 10 */
  double threshold;                      /* significance of an improvement. Default 1e-4 */
  DnPlateauThresholdMode threshold_mode; /* default DN_PLATEAU_REL */
  int64_t cooldown;                      /* epochs to wait after a reduction. Default 0 */
  double min_lr;                         /* lower bound of the lr. Default 0 */
  double eps;                            /* reductions smaller than this are skipped. Default 1e-8 */
} DnPlateauOptions;

typedef struct
{
  DnPlateauOptions opts;
  double lr;                /* the current lr (what dn_lr_plateau_step returns) */
  double best;              /* best metric so far (+inf for min, −inf for max before the first step) */
  int64_t num_bad_epochs;
  int64_t cooldown_counter;
  int64_t last_epoch;       /* number of dn_lr_plateau_step calls */
} DnLrPlateau;

/* PyTorch's defaults (see the field comments). DINA uses mode min, factor 0.5, patience 50, rel 1e-4,
 * cooldown 0, min_lr 0 (dual_tower.md §4). */
void dn_lr_plateau_options_init (DnPlateauOptions *opts);

/* Starts a schedule at @initial_lr. Returns DN_ERROR_INVALID_ARGUMENT (state untouched) for factor ≥ 1,
 * a bad mode, negative patience/cooldown/threshold/min_lr/eps or initial_lr. @opts NULL = defaults. */
DnStatus dn_lr_plateau_init (DnLrPlateau *s, const DnPlateauOptions *opts, double initial_lr);

/* One scheduler step with this epoch's metric (e.g. the mean validation loss); returns the lr to use from
 * now on. A NaN metric counts as a bad epoch, as in PyTorch. */
double dn_lr_plateau_step (DnLrPlateau *s, double metric);
