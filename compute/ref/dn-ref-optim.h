/* dn-ref-optim.h: float64 references of the optim op family (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
