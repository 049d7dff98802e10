/* dn-ops-norm.h: the norm op family (see compute/ops/norm/): normalisations, softmax and attention.
 *
 *   layernorm (channels-last and channels-first), batchnorm 2d (eval and train), GRN (ConvNeXt-V2),
 *   softmax over the last dim, scaled-dot-product attention, per-sample L2 norm / change-norm, and
 *   per-sample min-max normalisation.
 *
 * Every op has a _forward and a _backward on both backends (shaders in shaders/norm/, CPU kernels in the .c
 * files) and a float64 reference dn_ref_<op>_* in compute/ref/dn-ref-norm.c that the tests compare
 * against. Conventions (llm.c): outputs first, then cached values, then inputs, weights, then params.
 * Backward functions ACCUMULATE (+=) into their gradient outputs; any gradient output may be NULL when
 * it is not wanted. Zero-size tensors are a valid no-op. Tensors must have fewer than 2^32 elements.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"

/* LayerNorm, channels-last ---------------------------------------------------------------------------
 * Normalises over the last dim C of inp (...,C): out = (x - mean) * rstd * weight + bias with the biased
 * variance, rstd = 1/sqrt(var + eps). weight and bias are optional (NULL: 1 and 0). mean and rstd (one
 * value per row, i.e. numel(inp)/C elements in any shape, e.g. (...)) cache the statistics for the
 * backward; they may be NULL in the forward when no backward follows. Mirrors llm.c layernorm_forward
 * (dn_ref_layernorm_forward). */
DnStatus dn_layernorm_forward (DnTensor *out,          /* (...,C) */
                               DnTensor *mean,         /* (...) rows, or NULL */
                               DnTensor *rstd,         /* (...) rows, or NULL */
                               const DnTensor *inp,    /* (...,C) */
                               const DnTensor *weight, /* (C) or NULL */
                               const DnTensor *bias,   /* (C) or NULL */
                               float eps);
DnStatus dn_layernorm_backward (DnTensor *dinp,         /* (...,C) or NULL, += */
                                DnTensor *dweight,      /* (C) or NULL, += */
                                DnTensor *dbias,        /* (C) or NULL, += */
                                const DnTensor *dout,   /* (...,C) */
                                const DnTensor *inp,    /* (...,C) */
                                const DnTensor *weight, /* (C) or NULL */
                                const DnTensor *mean,   /* (...) rows, from the forward */
                                const DnTensor *rstd);  /* (...) rows, from the forward */

/* LayerNorm, channels-first (ConvNeXtV2LayerNorm data_format="channels_first") ------------------------
 * inp (N,C,*) (usually (N,C,H,W)) is normalised over C at each (n, spatial position); affine per channel.
 * mean/rstd hold N·prod(*) values (any shape, e.g. (N,H,W)). */
DnStatus dn_layernorm_channels_first_forward (DnTensor *out,          /* (N,C,*) */
                                              DnTensor *mean,         /* (N,*) or NULL */
                                              DnTensor *rstd,         /* (N,*) or NULL */
                                              const DnTensor *inp,    /* (N,C,*) */
                                              const DnTensor *weight, /* (C) or NULL */
                                              const DnTensor *bias,   /* (C) or NULL */
                                              float eps);
DnStatus dn_layernorm_channels_first_backward (DnTensor *dinp,         /* (N,C,*) or NULL, += */
                                               DnTensor *dweight,      /* (C) or NULL, += */
                                               DnTensor *dbias,        /* (C) or NULL, += */
                                               const DnTensor *dout,   /* (N,C,*) */
                                               const DnTensor *inp,    /* (N,C,*) */
                                               const DnTensor *weight, /* (C) or NULL */
                                               const DnTensor *mean,   /* (N,*) */
                                               const DnTensor *rstd);  /* (N,*) */

/* BatchNorm2d ---------------------------------------------------------------------------------------
 * Over inp (N,C,*) (usually (N,C,H,W)), statistics per channel over N and the spatial dims.
 * Eval: out = (x - running_mean) / sqrt(running_var + eps) * weight + bias (weight/bias optional). */
DnStatus dn_batchnorm_eval_forward (DnTensor *out,                /* (N,C,*) */
                                    const DnTensor *inp,          /* (N,C,*) */
                                    const DnTensor *weight,       /* (C) or NULL */
                                    const DnTensor *bias,         /* (C) or NULL */
                                    const DnTensor *running_mean, /* (C) */
                                    const DnTensor *running_var,  /* (C) */
                                    float eps);
/* Eval backward: the running statistics are constants. */
DnStatus dn_batchnorm_eval_backward (DnTensor *dinp,               /* (N,C,*) or NULL, += */
                                     DnTensor *dweight,            /* (C) or NULL, += */
                                     DnTensor *dbias,              /* (C) or NULL, += */
                                     const DnTensor *dout,         /* (N,C,*) */
                                     const DnTensor *inp,          /* (N,C,*) */
                                     const DnTensor *weight,       /* (C) or NULL */
                                     const DnTensor *running_mean, /* (C) */
                                     const DnTensor *running_var,  /* (C) */
                                     float eps);
/* Train (PyTorch BatchNorm2d.train()): normalises with the batch mean and the BIASED batch variance,
 * caches mean and rstd = 1/sqrt(var_biased + eps) for the backward, and, when running_mean/running_var
 * are given, updates them in place: running = (1 - momentum)·running + momentum·batch, using the
 * UNBIASED variance var·n/(n-1) (n = N·prod(*)). Like PyTorch, n = 1 is an error (DN_ERROR_SHAPE). */
DnStatus dn_batchnorm_train_forward (DnTensor *out,          /* (N,C,*) */
                                     DnTensor *mean,         /* (C) batch mean, cached */
                                     DnTensor *rstd,         /* (C) batch 1/sqrt(var+eps), cached */
                                     DnTensor *running_mean, /* (C) or NULL, updated in place */
                                     DnTensor *running_var,  /* (C) or NULL, updated in place */
                                     const DnTensor *inp,    /* (N,C,*) */
                                     const DnTensor *weight, /* (C) or NULL */
                                     const DnTensor *bias,   /* (C) or NULL */
                                     float momentum, float eps);
/* Train backward: the full gradient through the batch statistics. */
DnStatus dn_batchnorm_train_backward (DnTensor *dinp,         /* (N,C,*) or NULL, += */
                                      DnTensor *dweight,      /* (C) or NULL, += */
                                      DnTensor *dbias,        /* (C) or NULL, += */
                                      const DnTensor *dout,   /* (N,C,*) */
                                      const DnTensor *inp,    /* (N,C,*) */
                                      const DnTensor *weight, /* (C) or NULL */
                                      const DnTensor *mean,   /* (C) from the forward */
                                      const DnTensor *rstd);  /* (C) from the forward */

/* GRN (ConvNeXt-V2 global response normalisation) on NHWC h (N,H,W,C) ----------------------------------
 *   gx[n,c] = ||h[n,:,:,c]||_2,  nx[n,c] = gx[n,c] / (mean_c gx[n,:] + eps),  out = gamma·(h·nx) + beta + h.
 * The model uses eps = 1e-6. gx and nx are cached for the backward. The derivative of the norm is taken
 * as 0 where gx = 0 (PyTorch's convention, twins.md §2.2), so an all-zero channel gives finite
 * gradients. */
DnStatus dn_grn_forward (DnTensor *out,         /* (N,H,W,C) */
                         DnTensor *gx,          /* (N,C) cached */
                         DnTensor *nx,          /* (N,C) cached */
                         const DnTensor *h,     /* (N,H,W,C) */
                         const DnTensor *gamma, /* (C) */
                         const DnTensor *beta,  /* (C) */
                         float eps);
DnStatus dn_grn_backward (DnTensor *dh,          /* (N,H,W,C) or NULL, += */
                          DnTensor *dgamma,      /* (C) or NULL, += */
                          DnTensor *dbeta,       /* (C) or NULL, += */
                          const DnTensor *dout,  /* (N,H,W,C) */
                          const DnTensor *h,     /* (N,H,W,C) */
                          const DnTensor *gamma, /* (C) */
                          const DnTensor *gx,    /* (N,C) from the forward */
                          const DnTensor *nx,    /* (N,C) from the forward */
                          float eps);

/* Softmax over the last dim (max-subtracted). A row that is entirely -inf gives NaN, as in PyTorch. */
DnStatus dn_softmax_forward (DnTensor *out,        /* (...,L) */
                             const DnTensor *inp); /* (...,L) */
/* dinp += out ⊙ (dout - sum(dout ⊙ out)) per row. */
DnStatus dn_softmax_backward (DnTensor *dinp,       /* (...,L) += */
                              const DnTensor *dout, /* (...,L) */
                              const DnTensor *out); /* (...,L) from the forward */

/* Scaled-dot-product attention, multi-head ------------------------------------------------------------
 *   att = softmax(scale · Q Kᵀ + mask) over the keys,  out = att · V
 * per batch b and head h. scale <= 0 means 1/sqrt(D). mask is optional and ADDITIVE (use 0 to keep and
 * -INFINITY to mask out; a boolean mask is converted by the caller): a (Lq,Lk) tensor, or a 4-D
 * (mB,mH,mQ,Lk) tensor broadcast over the dims where it is 1, with mB ∈ {1,B}, mH ∈ {1,H}, mQ ∈ {1,Lq}
 * (e.g. (B,1,Lq,Lk), or a key padding mask (B,1,1,Lk)). A query row whose keys are all masked gets an
 * all-zero att row (so a zero output and zero gradients) instead of PyTorch's NaN. att holds the
 * probabilities; it is required (it is the working memory of the forward) and is read by the backward. */
DnStatus dn_attention_forward (DnTensor *out,       /* (B,H,Lq,Dv) */
                               DnTensor *att,       /* (B,H,Lq,Lk) probabilities, cached */
                               const DnTensor *q,   /* (B,H,Lq,D) */
                               const DnTensor *k,   /* (B,H,Lk,D) */
                               const DnTensor *v,   /* (B,H,Lk,Dv) */
                               const DnTensor *mask, /* (Lq,Lk), (mB,mH,mQ,Lk) or NULL; additive */
                               float scale);
/* datt is working memory of att's shape (its content on return is the gradient of the pre-softmax
 * scores, d(scale·QKᵀ+mask)); it may be NULL only when dq and dk are both NULL. */
DnStatus dn_attention_backward (DnTensor *dq,         /* (B,H,Lq,D) or NULL, += */
                                DnTensor *dk,         /* (B,H,Lk,D) or NULL, += */
                                DnTensor *dv,         /* (B,H,Lk,Dv) or NULL, += */
                                DnTensor *datt,       /* (B,H,Lq,Lk) scratch, or NULL (see above) */
                                const DnTensor *dout, /* (B,H,Lq,Dv) */
                                const DnTensor *q,    /* (B,H,Lq,D) */
                                const DnTensor *k,    /* (B,H,Lk,D) */
                                const DnTensor *v,    /* (B,H,Lk,Dv) */
                                const DnTensor *att,  /* (B,H,Lq,Lk) from the forward */
                                float scale);

/* Per-sample L2 norm: out[n] = ||inp[n]||_2 over all dims but the first. The gradient at a zero sample
 * is 0 (PyTorch's convention). */
DnStatus dn_l2norm_forward (DnTensor *out,        /* (N) */
                            const DnTensor *inp); /* (N,...) */
DnStatus dn_l2norm_backward (DnTensor *dinp,       /* (N,...) += */
                             const DnTensor *dout, /* (N) */
                             const DnTensor *inp,  /* (N,...) */
                             const DnTensor *out); /* (N) from the forward */

/* Change-norm (twins.md §6.1 step 4, §8 NormTransform): out[n] = inp[n] · target / (||inp[n]||_2 + eps)
 * per sample (eps = 1e-8 in the twins). norm caches ||inp[n]||_2. The norm's gradient at a zero sample is
 * 0, so a zero sample has dinp = dout · target / eps. */
DnStatus dn_change_norm_forward (DnTensor *out,       /* (N,...) */
                                 DnTensor *norm,      /* (N) cached ||inp[n]|| */
                                 const DnTensor *inp, /* (N,...) */
                                 float target, float eps);
DnStatus dn_change_norm_backward (DnTensor *dinp,       /* (N,...) += */
                                  const DnTensor *dout, /* (N,...) */
                                  const DnTensor *inp,  /* (N,...) */
                                  const DnTensor *norm, /* (N) from the forward */
                                  float target, float eps);

/* Per-sample min-max normalisation: out[n] = (x - min) / (max - min + eps), min/max over all dims but
 * the first (eps = 0 for the plain form, 1e-8 in the dual tower). stats caches (min, max) per sample.
 * Backward: the gradients reaching min and max are split evenly among all elements equal to the min
 * (resp. max), like PyTorch's amin/amax backward.
 * Degenerate case: when max - min + eps == 0 (a constant sample with eps = 0) the output is defined as 0
 * and the sample's gradient as 0 (no NaN, no error). With eps > 0 a constant sample gives 0 and the
 * ordinary (finite) gradient. */
DnStatus dn_minmax_norm_forward (DnTensor *out,       /* (N,...) */
                                 DnTensor *stats,     /* (N,2) cached (min, max) */
                                 const DnTensor *inp, /* (N,...) */
                                 float eps);
DnStatus dn_minmax_norm_backward (DnTensor *dinp,        /* (N,...) += */
                                  const DnTensor *dout,  /* (N,...) */
                                  const DnTensor *inp,   /* (N,...) */
                                  const DnTensor *stats, /* (N,2) from the forward */
                                  float eps);
