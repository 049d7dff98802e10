/* dn-app-synth-panel.h: choose neurons, recipe and parameters; run a synthesis in the background with a
 * live preview of the images as they form, activation curves, progress with ETA, and cancel. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_SYNTH_PANEL (dn_app_synth_panel_get_type ())
G_DECLARE_FINAL_TYPE (DnAppSynthPanel, dn_app_synth_panel, DN_APP, SYNTH_PANEL, GtkWidget)

void dn_app_synth_panel_set_project (DnAppSynthPanel *self, DnAppProject *project);
void dn_app_synth_panel_set_selection (DnAppSynthPanel *self, int neuron);
/* Sets the neuron field and starts (as the Start button does). */
void dn_app_synth_panel_start_for (DnAppSynthPanel *self, const char *neurons);
gboolean dn_app_synth_panel_get_running (DnAppSynthPanel *self);
/* For tests: the widgets a user touches, and what the preview shows. */
GtkWidget *dn_app_synth_panel_get_start_button (DnAppSynthPanel *self);
GtkWidget *dn_app_synth_panel_get_cancel_button (DnAppSynthPanel *self);
GtkSpinButton *dn_app_synth_panel_get_steps_spin (DnAppSynthPanel *self);
GtkEditable *dn_app_synth_panel_get_neurons_entry (DnAppSynthPanel *self);
guint dn_app_synth_panel_get_n_previews (DnAppSynthPanel *self);
guint dn_app_synth_panel_get_n_curve_points (DnAppSynthPanel *self);

G_END_DECLS
