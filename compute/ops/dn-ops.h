/* dn-ops.h: every op of the engine, forward and backward, on both backends.
 *
 * Conventions (llm.c): outputs first, then cached values, then inputs, weights, then shape/params.
 * Every tensor parameter carries a shape comment. Backward functions ACCUMULATE into their gradient
 * outputs (the caller zeroes them), so shared inputs sum their gradients naturally.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"
#include "conv/dn-ops-conv.h"
#include "norm/dn-ops-norm.h"
#include "elem/dn-ops-elem.h"
#include "sample/dn-ops-sample.h"
#include "optim/dn-ops-optim.h"
#include "fft/dn-ops-fft.h"
#include "model/dn-ops-model.h"
