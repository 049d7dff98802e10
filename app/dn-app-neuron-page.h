/* dn-app-neuron-page.h: one neuron: its poles for every seed (alpha overlay), activation curves, its top
 * and bottom screened images, the ratio pole ÷ best image, and for the built-in twin its true RF. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_NEURON_PAGE (dn_app_neuron_page_get_type ())
G_DECLARE_FINAL_TYPE (DnAppNeuronPage, dn_app_neuron_page, DN_APP, NEURON_PAGE, GtkWidget)

void dn_app_neuron_page_set_project (DnAppNeuronPage *self, DnAppProject *project);
void dn_app_neuron_page_set_neuron (DnAppNeuronPage *self, int neuron);
int dn_app_neuron_page_get_neuron (DnAppNeuronPage *self);
/* For tests: how many pole tiles and screened tiles are shown. */
guint dn_app_neuron_page_get_n_pole_tiles (DnAppNeuronPage *self);
guint dn_app_neuron_page_get_n_screened_tiles (DnAppNeuronPage *self);
/* For tests: screened tiles still waiting for their thumbnail (decoded on a worker). */
guint dn_app_neuron_page_get_n_pending_thumbnails (DnAppNeuronPage *self);
/* For tests: screened tiles that show their image. */
guint dn_app_neuron_page_get_n_thumbnails (DnAppNeuronPage *self);

G_END_DECLS
