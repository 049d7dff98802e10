/* dn-ref-conv.h: float64 references of the conv op family (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
