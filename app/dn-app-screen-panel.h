/* dn-app-screen-panel.h: choose an image set, run a screening with progress, rate, ETA and cancel, and see
 * the population's histograms; per-neuron top and bottom images appear in the browser. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_SCREEN_PANEL (dn_app_screen_panel_get_type ())
G_DECLARE_FINAL_TYPE (DnAppScreenPanel, dn_app_screen_panel, DN_APP, SCREEN_PANEL, GtkWidget)

void dn_app_screen_panel_set_project (DnAppScreenPanel *self, DnAppProject *project);
gboolean dn_app_screen_panel_get_running (DnAppScreenPanel *self);
GtkWidget *dn_app_screen_panel_get_start_button (DnAppScreenPanel *self);
GtkEditable *dn_app_screen_panel_get_dataset_entry (DnAppScreenPanel *self);
GtkSpinButton *dn_app_screen_panel_get_top_k_spin (DnAppScreenPanel *self);

G_END_DECLS
