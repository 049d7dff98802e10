/* dn-ref.c: shared helpers of the float64 references.
 * SPDX-License-Identifier: MIT
 */
#include "dn-ref.h"

double
dn_ref_dot (const double *a, const double *b, int64_t n)
{
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}
