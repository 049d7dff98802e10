/* dn-app-error.h: the app's error domain and the one place where compute status codes become GErrors. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "dn-status.h"

G_BEGIN_DECLS

#define DN_APP_ERROR (dn_app_error_quark ())

typedef enum
{
  DN_APP_ERROR_FAILED,
  DN_APP_ERROR_INVALID_ARGUMENT,
  DN_APP_ERROR_SHAPE,
  DN_APP_ERROR_NO_MEMORY,
  DN_APP_ERROR_DEVICE,
  DN_APP_ERROR_DEVICE_LOST,
  DN_APP_ERROR_NO_DEVICE,
  DN_APP_ERROR_UNSUPPORTED,
  DN_APP_ERROR_IO,
  DN_APP_ERROR_FORMAT,
  DN_APP_ERROR_NON_FINITE,
  DN_APP_ERROR_CANCELLED,
  DN_APP_ERROR_BUSY,
} DnAppError;

GQuark dn_app_error_quark (void);

/* Sets @error from a compute status: the message is @detail (if any), then dn_last_error(). Returns FALSE
 * (for `return dn_app_error_from_status (…)`); DN_OK sets nothing and returns TRUE. */
gboolean dn_app_error_from_status (DnStatus status, const char *detail, GError **error);

G_END_DECLS
