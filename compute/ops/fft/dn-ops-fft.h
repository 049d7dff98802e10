/* dn-ops-fft.h: the fft op family (see compute/ops/fft/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
