/* dn-ref-norm.h: float64 references of the norm op family (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
