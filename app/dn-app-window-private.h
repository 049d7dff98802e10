/* dn-app-window-private.h: the window's parts, for the UI tests that drive the real widgets. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-gallery.h"
#include "dn-app-neuron-page.h"
#include "dn-app-screen-panel.h"
#include "dn-app-synth-panel.h"
#include "dn-app-window.h"

G_BEGIN_DECLS

GtkColumnView *_dn_app_window_get_column_view (DnAppWindow *self);
GtkSearchEntry *_dn_app_window_get_search_entry (DnAppWindow *self);
DnAppNeuronPage *_dn_app_window_get_neuron_page (DnAppWindow *self);
DnAppGallery *_dn_app_window_get_gallery (DnAppWindow *self);
DnAppSynthPanel *_dn_app_window_get_synth_panel (DnAppWindow *self);
DnAppScreenPanel *_dn_app_window_get_screen_panel (DnAppWindow *self);
GListModel *_dn_app_window_get_visible_neurons (DnAppWindow *self);
/* The number of model opens that finished (successfully or not), for tests waiting on one. */
guint _dn_app_window_get_n_opens (DnAppWindow *self);
guint _dn_app_window_get_n_imports (DnAppWindow *self);

G_END_DECLS
