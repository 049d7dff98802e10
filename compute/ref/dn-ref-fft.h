/* dn-ref-fft.h: float64 references of the fft op family (test-only).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
