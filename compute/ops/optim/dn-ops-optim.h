/* dn-ops-optim.h: the optim op family (see compute/ops/optim/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
