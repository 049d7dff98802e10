/* dn-status.h: the engine's status codes and error messages.
 *
 * Every fallible engine function returns a DnStatus (or NULL plus a status). The human-readable detail
 * (which op, which shapes, which VkResult, which file) is kept on the device (dn_device_last_error) and,
 * for calls without a device, per thread (dn_last_error). Nothing in compute/ ever calls exit() or abort()
 * on bad input.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdarg.h>

typedef enum
{
  DN_OK = 0,
  DN_ERROR_INVALID_ARGUMENT, /* a programmer-level misuse detected at run time (NULL, bad enum) */
  DN_ERROR_SHAPE,            /* tensor shapes do not fit the op */
  DN_ERROR_NO_MEMORY,        /* host or device allocation failed */
  DN_ERROR_VULKAN,           /* a Vulkan call failed (VkResult in the message) */
  DN_ERROR_DEVICE_LOST,      /* the device was lost; the DnDevice must be recreated */
  DN_ERROR_NO_DEVICE,        /* no suitable device */
  DN_ERROR_UNSUPPORTED,      /* valid request this backend or build cannot serve */
  DN_ERROR_IO,               /* file system errors */
  DN_ERROR_FORMAT,           /* a file's content is malformed or not what was expected */
  DN_ERROR_NON_FINITE,       /* NaN or Inf where finite values are required */
  DN_ERROR_CANCELLED,        /* should_stop() asked to stop */
  DN_ERROR_FFT,              /* VkFFT / FFTW planning or execution failed */
} DnStatus;

const char *dn_status_to_string (DnStatus status);

/* The last error message set on this thread (never NULL; "" when none). */
const char *dn_last_error (void);

/* Sets this thread's last error message and returns @status, so that callers can write
 * `return dn_set_error (DN_ERROR_SHAPE, "conv2d: ...", ...);`. */
DnStatus dn_set_error (DnStatus status, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
DnStatus dn_set_error_v (DnStatus status, const char *fmt, va_list ap);
void dn_clear_error (void);
