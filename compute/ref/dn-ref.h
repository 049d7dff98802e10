/* dn-ref.h: float64 reference implementations of every op (plain loops, llm.c style), used only by
 * tests and benchmarks as the ground truth both backends are compared against. Families declare their
 * references in dn-ref-<family>.h, included from here.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdint.h>

/* Sum of a[i]*b[i] (used by finite-difference gradient checks). */
double dn_ref_dot (const double *a, const double *b, int64_t n);

#include "dn-ref-conv.h"
#include "dn-ref-norm.h"
#include "dn-ref-elem.h"
#include "dn-ref-sample.h"
#include "dn-ref-optim.h"
#include "dn-ref-fft.h"
#include "dn-ref-model.h"
