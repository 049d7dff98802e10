/* dn-app-preferences.h: the preferences window: compute device (every GPU found + the CPU backend),
 * threads, thumbnail cache, display contrast and demo pace — all bound to GSettings. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DN_APP_TYPE_PREFERENCES (dn_app_preferences_get_type ())
G_DECLARE_FINAL_TYPE (DnAppPreferences, dn_app_preferences, DN_APP, PREFERENCES, AdwPreferencesWindow)

DnAppPreferences *dn_app_preferences_new (GtkWindow *parent);

G_END_DECLS
