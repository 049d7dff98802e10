/* dn-ops-conv.h: the conv op family (see compute/ops/conv/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
