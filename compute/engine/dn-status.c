/* dn-status.c: status strings and the per-thread last-error message.
 * SPDX-License-Identifier: MIT
 */
#include "dn-status.h"

#include <stdio.h>

static _Thread_local char last_error[2048];

const char *
dn_status_to_string (DnStatus status)
{
  switch (status)
    {
    case DN_OK: return "ok";
    case DN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case DN_ERROR_SHAPE: return "shape mismatch";
    case DN_ERROR_NO_MEMORY: return "out of memory";
    case DN_ERROR_VULKAN: return "Vulkan error";
    case DN_ERROR_DEVICE_LOST: return "device lost";
    case DN_ERROR_NO_DEVICE: return "no suitable device";
    case DN_ERROR_UNSUPPORTED: return "unsupported";
    case DN_ERROR_IO: return "I/O error";
    case DN_ERROR_FORMAT: return "bad file format";
    case DN_ERROR_NON_FINITE: return "non-finite value";
    case DN_ERROR_CANCELLED: return "cancelled";
    case DN_ERROR_FFT: return "FFT error";
    }
  return "unknown status";
}

const char *
dn_last_error (void)
{
  return last_error;
}

DnStatus
dn_set_error_v (DnStatus status, const char *fmt, va_list ap)
{
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  return status;
}

DnStatus
dn_set_error (DnStatus status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  dn_set_error_v (status, fmt, ap);
  va_end (ap);
  return status;
}

void
dn_clear_error (void)
{
  last_error[0] = '\0';
}
