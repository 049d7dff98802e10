/* dn-ops-elem.h: the elem op family (see compute/ops/elem/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
