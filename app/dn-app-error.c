/* dn-app-error.c: DnStatus → GError (one boundary between compute/ and the app). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include "dn-app-error.h"

G_DEFINE_QUARK (dn-app-error-quark, dn_app_error)

gboolean
dn_app_error_from_status (DnStatus status, const char *detail, GError **error)
{
  static const DnAppError map[] = {
    [DN_ERROR_INVALID_ARGUMENT] = DN_APP_ERROR_INVALID_ARGUMENT,
    [DN_ERROR_SHAPE] = DN_APP_ERROR_SHAPE,
    [DN_ERROR_NO_MEMORY] = DN_APP_ERROR_NO_MEMORY,
    [DN_ERROR_VULKAN] = DN_APP_ERROR_DEVICE,
    [DN_ERROR_DEVICE_LOST] = DN_APP_ERROR_DEVICE_LOST,
    [DN_ERROR_NO_DEVICE] = DN_APP_ERROR_NO_DEVICE,
    [DN_ERROR_UNSUPPORTED] = DN_APP_ERROR_UNSUPPORTED,
    [DN_ERROR_IO] = DN_APP_ERROR_IO,
    [DN_ERROR_FORMAT] = DN_APP_ERROR_FORMAT,
    [DN_ERROR_NON_FINITE] = DN_APP_ERROR_NON_FINITE,
    [DN_ERROR_CANCELLED] = DN_APP_ERROR_CANCELLED,
    [DN_ERROR_FFT] = DN_APP_ERROR_DEVICE,
  };
  if (status == DN_OK)
    return TRUE;
  DnAppError code = DN_APP_ERROR_FAILED;
  if ((unsigned) status < G_N_ELEMENTS (map))
    code = map[status];
  const char *last = dn_last_error ();
  if (!last || !*last)
    last = dn_status_to_string (status);
  if (detail && *detail)
    g_set_error (error, DN_APP_ERROR, code, "%s: %s", detail, last);
  else
    g_set_error_literal (error, DN_APP_ERROR, code, last);
  return FALSE;
}
