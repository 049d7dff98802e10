/* dn-ref-elem.h: float64 references of the elem op family (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
