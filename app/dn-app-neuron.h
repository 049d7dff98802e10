/* dn-app-neuron.h: one row of the neuron browser and one tile of the gallery: a neuron's identity and the
 * numbers the project knows about it (NaN where nothing is known yet), plus its pole thumbnails. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DN_APP_TYPE_NEURON (dn_app_neuron_get_type ())
G_DECLARE_FINAL_TYPE (DnAppNeuron, dn_app_neuron, DN_APP, NEURON, GObject)

DnAppNeuron *dn_app_neuron_new (int index, const char *description, double correlation);
int dn_app_neuron_get_index (DnAppNeuron *self);
const char *dn_app_neuron_get_label (DnAppNeuron *self);
const char *dn_app_neuron_get_description (DnAppNeuron *self);
double dn_app_neuron_get_value (DnAppNeuron *self, const char *property);
void dn_app_neuron_set_poles (DnAppNeuron *self, double most, double least, GdkPaintable *most_paintable,
                              GdkPaintable *least_paintable);
void dn_app_neuron_set_screening (DnAppNeuron *self, double max, double mean, double selectivity);

/* Formats a value of the browser ("—" for NaN) – for `<closure>` bindings in .ui files. */
char *dn_app_format_value (gpointer unused, double value);

G_END_DECLS
