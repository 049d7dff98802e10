/* dn-ref-optim.h: float64 references of the optim op family (test-only): one optimizer step on a flat
 * array of n parameters, with PyTorch 1.13's semantics (see compute/ops/optim/dn-ops-optim.h). The
 * state arrays start zero-filled, exactly like the engine's state tensors.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "optim/dn-ops-optim.h"

/* Mirrors dn_sgd_step. momentum_buf may be NULL when p->momentum == 0. */
void dn_ref_sgd_step (double *param,        // (n) updated in place
                      double *momentum_buf, // (n)
                      const double *grad,   // (n)
                      int64_t n, const DnSgdParams *p, int64_t step);

/* Mirrors dn_adam_step (decoupled false) and dn_adamw_step (decoupled true). */
void dn_ref_adam_step (double *param,      // (n) updated in place
                       double *exp_avg,    // (n)
                       double *exp_avg_sq, // (n)
                       const double *grad, // (n)
                       int64_t n, const DnAdamParams *p, int64_t step, bool decoupled);

/* Mirrors dn_rmsprop_step. momentum_buf may be NULL when p->momentum == 0, grad_avg unless centered. */
void dn_ref_rmsprop_step (double *param,        // (n) updated in place
                          double *square_avg,   // (n)
                          double *momentum_buf, // (n)
                          double *grad_avg,     // (n)
                          const double *grad,   // (n)
                          int64_t n, const DnRmspropParams *p);
