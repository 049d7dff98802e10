/* dn-lr.c: learning-rate schedules, host only (no device work): CosineAnnealingLR in closed form and
 * ReduceLROnPlateau, with torch.optim.lr_scheduler (1.13) semantics. See dn-ops-optim.h.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops-optim.h"

double
dn_lr_cosine (double base_lr, double eta_min, int64_t t, int64_t t_max)
{
  if (t_max <= 0)
    return base_lr;
  /* CosineAnnealingLR._get_closed_form_lr, same operation order */
  return eta_min + (base_lr - eta_min) * (1 + cos (M_PI * (double) t / (double) t_max)) / 2;
}

void
dn_lr_plateau_options_init (DnPlateauOptions *opts)
{
  *opts = (DnPlateauOptions){
    .mode = DN_PLATEAU_MIN,
    .factor = 0.1,
    .patience = 10,
    .threshold = 1e-4,
    .threshold_mode = DN_PLATEAU_REL,
    .cooldown = 0,
    .min_lr = 0,
    .eps = 1e-8,
  };
}

DnStatus
dn_lr_plateau_init (DnLrPlateau *s, const DnPlateauOptions *opts, double initial_lr)
{
  DnPlateauOptions o;
  if (opts)
    o = *opts;
  else
    dn_lr_plateau_options_init (&o);
  if (!s)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "lr_plateau_init: state is NULL");
  if (!(o.factor < 1.0) || !(o.factor >= 0))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "lr_plateau_init: factor %g must be in [0, 1)", o.factor);
  if (o.mode != DN_PLATEAU_MIN && o.mode != DN_PLATEAU_MAX)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "lr_plateau_init: mode %d is neither min nor max", (int) o.mode);
  if (o.threshold_mode != DN_PLATEAU_REL && o.threshold_mode != DN_PLATEAU_ABS)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "lr_plateau_init: threshold mode %d is neither rel nor abs",
                         (int) o.threshold_mode);
  if (o.patience < 0 || o.cooldown < 0 || !(o.threshold >= 0) || !(o.min_lr >= 0) || !(o.eps >= 0)
      || !(initial_lr >= 0) || !isfinite (initial_lr))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "lr_plateau_init: invalid patience %lld, cooldown %lld, threshold %g, min_lr %g, eps %g or "
                         "lr %g",
                         (long long) o.patience, (long long) o.cooldown, o.threshold, o.min_lr, o.eps, initial_lr);
  *s = (DnLrPlateau){
    .opts = o,
    .lr = initial_lr,
    .best = o.mode == DN_PLATEAU_MIN ? INFINITY : -INFINITY, /* mode_worse */
    .num_bad_epochs = 0,
    .cooldown_counter = 0,
    .last_epoch = 0,
  };
  return DN_OK;
}

/* ReduceLROnPlateau.is_better (NaN is never better) */
static bool
is_better (const DnPlateauOptions *o, double a, double best)
{
  if (o->mode == DN_PLATEAU_MIN && o->threshold_mode == DN_PLATEAU_REL)
    return a < best * (1. - o->threshold);
  if (o->mode == DN_PLATEAU_MIN)
    return a < best - o->threshold;
  if (o->threshold_mode == DN_PLATEAU_REL)
    return a > best * (o->threshold + 1.);
  return a > best + o->threshold;
}

double
dn_lr_plateau_step (DnLrPlateau *s, double metric)
{
  /* ReduceLROnPlateau.step */
  s->last_epoch++;
  if (is_better (&s->opts, metric, s->best))
    {
      s->best = metric;
      s->num_bad_epochs = 0;
    }
  else
    s->num_bad_epochs++;
  if (s->cooldown_counter > 0)
    {
      s->cooldown_counter--;
      s->num_bad_epochs = 0; /* bad epochs in cooldown are ignored */
    }
  if (s->num_bad_epochs > s->opts.patience)
    {
      /* _reduce_lr */
      double old_lr = s->lr;
      double new_lr = fmax (old_lr * s->opts.factor, s->opts.min_lr);
      if (old_lr - new_lr > s->opts.eps)
        s->lr = new_lr;
      s->cooldown_counter = s->opts.cooldown;
      s->num_bad_epochs = 0;
    }
  return s->lr;
}
