/* dn-app-window.h: the main window: neuron browser, gallery, synthesis and screening panels, the
 * window actions (open, save, export, demo) and error reporting (toasts and dialogs). */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_WINDOW (dn_app_window_get_type ())
G_DECLARE_FINAL_TYPE (DnAppWindow, dn_app_window, DN_APP, WINDOW, AdwApplicationWindow)

DnAppWindow *dn_app_window_new (GtkApplication *app);
DnAppProject *dn_app_window_get_project (DnAppWindow *self);
/* Opens a model (bundle, checkpoint, folder, builtin:NAME) in the background; errors become a dialog. */
void dn_app_window_open_model (DnAppWindow *self, const char *spec);
void dn_app_window_open_project (DnAppWindow *self, const char *path);
/* Imports a folder of member checkpoints (DualNeuron's twins/<Model>/) into a bundle, with a progress
 * dialog, then opens the bundle. */
void dn_app_window_import (DnAppWindow *self, const char *folder, const char *bundle);
void dn_app_window_select_neuron (DnAppWindow *self, int neuron);
int dn_app_window_get_selected_neuron (DnAppWindow *self);
void dn_app_window_show_page (DnAppWindow *self, const char *name);
void dn_app_window_toast (DnAppWindow *self, const char *message);
void dn_app_window_show_error (DnAppWindow *self, const char *title, const GError *error);

G_END_DECLS
