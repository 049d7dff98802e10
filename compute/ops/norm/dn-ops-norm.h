/* dn-ops-norm.h: the norm op family (see compute/ops/norm/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
