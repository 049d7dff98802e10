/* dn-app-gallery.h: a virtualized grid of every synthesized neuron's poles (most, least or side by side),
 * like DualNeuron's figure; activating a tile emits `neuron-activated`. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_GALLERY (dn_app_gallery_get_type ())
G_DECLARE_FINAL_TYPE (DnAppGallery, dn_app_gallery, DN_APP, GALLERY, GtkWidget)

void dn_app_gallery_set_project (DnAppGallery *self, DnAppProject *project);
/* The neurons (DnAppNeuron) the gallery shows, those with poles (set by set_project; tests may give
 * their own); refilter after their poles change outside a project. */
void dn_app_gallery_set_model (DnAppGallery *self, GListModel *neurons);
void dn_app_gallery_refilter (DnAppGallery *self);
/* "most", "least" or "both" */
void dn_app_gallery_set_mode (DnAppGallery *self, const char *mode);
GtkGridView *dn_app_gallery_get_grid (DnAppGallery *self);
/* Tiles in the model (neurons with at least one pole). */
guint dn_app_gallery_get_n_tiles (DnAppGallery *self);

G_END_DECLS
