/* dn-app-application.h: the DualNeuron application: one window per invocation, opening the last (or the
 * built-in) model, files from the command line, app actions and accelerators. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DN_APP_TYPE_APPLICATION (dn_app_application_get_type ())
G_DECLARE_FINAL_TYPE (DnAppApplication, dn_app_application, DN_APP, APPLICATION, AdwApplication)

DnAppApplication *dn_app_application_new (void);
GSettings *dn_app_application_get_settings (DnAppApplication *self);

/* app/dn-app-application-actions.c */
void _dn_app_application_actions_init (DnAppApplication *self);

G_END_DECLS
