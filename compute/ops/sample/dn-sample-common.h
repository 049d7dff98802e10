/* dn-sample-common.h: argument checks shared by the sample family's op files (private to
 * compute/ops/sample/).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <inttypes.h>

#include "dn-device-private.h"
#include "dn-ops-sample.h"

/* Fails with DN_ERROR_SHAPE when @n elements exceed what a shader indexes with 32-bit integers. */
static inline DnStatus
dn_sample_check_u32 (const char *op, const char *name, const DnTensor *t)
{
  int64_t n = dn_tensor_numel (t);
  if (n > (int64_t) INT32_MAX)
    {
      char s[128];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s has %" PRId64 " elements, more than 2^31-1", op, name,
                           dn_tensor_shape_str (t, s, sizeof s), n);
    }
  return DN_OK;
}

