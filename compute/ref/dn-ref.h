/* dn-ref.h: float64 reference implementations of every op (plain loops, llm.c style), used only by
 * tests and benchmarks as the ground truth both backends are compared against. Families declare their
 * references in dn-ref-<family>.h, included from here.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdint.h>

/* Sum of a[i]*b[i] (used by finite-difference gradient checks). */
double dn_ref_dot (const double *a, const double *b, int64_t n);
