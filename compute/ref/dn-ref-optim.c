/* dn-ref-optim.c: float64 references of the optimizers (plain loops, the update rules of
 * torch.optim 1.13 written as maths). Used only by tests/optim; see dn-ref-optim.h.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ref-optim.h"

void
dn_ref_sgd_step (double *param,        // (n)
                 double *momentum_buf, // (n)
                 const double *grad,   // (n)
                 int64_t n, const DnSgdParams *p, int64_t step)
{
  for (int64_t i = 0; i < n; i++)
    {
      double d = grad[i] + p->weight_decay * param[i];
      if (p->momentum != 0)
        {
          double b = step == 1 ? d : p->momentum * momentum_buf[i] + (1 - p->dampening) * d;
          momentum_buf[i] = b;
          d = p->nesterov ? d + p->momentum * b : b;
        }
      param[i] -= p->lr * d;
    }
}

void
dn_ref_adam_step (double *param,      // (n)
                  double *exp_avg,    // (n)
                  double *exp_avg_sq, // (n)
                  const double *grad, // (n)
                  int64_t n, const DnAdamParams *p, int64_t step, bool decoupled)
{
  double bc1 = 1 - pow (p->beta1, (double) step);
  double bc2 = 1 - pow (p->beta2, (double) step);
  for (int64_t i = 0; i < n; i++)
    {
      double g = grad[i];
      if (decoupled)
        param[i] *= 1 - p->lr * p->weight_decay;
      else
        g += p->weight_decay * param[i];
      exp_avg[i] = p->beta1 * exp_avg[i] + (1 - p->beta1) * g;
      exp_avg_sq[i] = p->beta2 * exp_avg_sq[i] + (1 - p->beta2) * g * g;
      double m_hat = exp_avg[i] / bc1;
      double v_hat = exp_avg_sq[i] / bc2;
      param[i] -= p->lr * m_hat / (sqrt (v_hat) + p->eps);
    }
}

void
dn_ref_rmsprop_step (double *param,        // (n)
                     double *square_avg,   // (n)
                     double *momentum_buf, // (n)
                     double *grad_avg,     // (n)
                     const double *grad,   // (n)
                     int64_t n, const DnRmspropParams *p)
{
  for (int64_t i = 0; i < n; i++)
    {
      double g = grad[i] + p->weight_decay * param[i];
      square_avg[i] = p->alpha * square_avg[i] + (1 - p->alpha) * g * g;
      double var = square_avg[i];
      if (p->centered)
        {
          grad_avg[i] = p->alpha * grad_avg[i] + (1 - p->alpha) * g;
          var -= grad_avg[i] * grad_avg[i];
        }
      double avg = sqrt (var) + p->eps;
      if (p->momentum > 0)
        {
          momentum_buf[i] = p->momentum * momentum_buf[i] + g / avg;
          param[i] -= p->lr * momentum_buf[i];
        }
      else
        param[i] -= p->lr * g / avg;
    }
}
