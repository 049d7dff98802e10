/* dn-app-plot.h: a small Cairo chart drawn in snapshot: line series (activation curves) or a histogram
 * (population statistics), with axes and labels. The data is copied in; the widget redraws on change. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DN_APP_TYPE_PLOT (dn_app_plot_get_type ())
G_DECLARE_FINAL_TYPE (DnAppPlot, dn_app_plot, DN_APP, PLOT, GtkWidget)

GtkWidget *dn_app_plot_new (void);
void dn_app_plot_clear (DnAppPlot *self);
/* Adds a line series; @rgb 0xRRGGBB. */
void dn_app_plot_add_series (DnAppPlot *self, const float *y, guint n, guint32 rgb, const char *label);
/* Shows a histogram of @values in @n_bins bins (NaNs skipped). */
void dn_app_plot_set_histogram (DnAppPlot *self, const double *values, guint n, guint n_bins, guint32 rgb);
void dn_app_plot_set_labels (DnAppPlot *self, const char *title, const char *x_label, const char *y_label);
guint dn_app_plot_get_n_series (DnAppPlot *self);
guint dn_app_plot_get_n_points (DnAppPlot *self);
/* Draws the plot into a cairo context of the given size (also used by export). */
void dn_app_plot_draw (DnAppPlot *self, cairo_t *cr, int width, int height);

G_END_DECLS
