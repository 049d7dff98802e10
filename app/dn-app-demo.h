/* dn-app-demo.h: demo mode for lab visitors: full screen, cycles through neurons and shows both poles
 * forming live with their activation curves. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_DEMO (dn_app_demo_get_type ())
G_DECLARE_FINAL_TYPE (DnAppDemo, dn_app_demo, DN_APP, DEMO, AdwWindow)

DnAppDemo *dn_app_demo_new (DnAppProject *project, GSettings *settings);
/* For tests: neurons finished so far, and the neuron on show. */
guint dn_app_demo_get_n_shown (DnAppDemo *self);
int dn_app_demo_get_neuron (DnAppDemo *self);

G_END_DECLS
