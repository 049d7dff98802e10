/* dn-ops-sample.h: the sample op family (see compute/ops/sample/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
