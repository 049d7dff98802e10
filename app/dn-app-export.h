/* dn-app-export.h: exports a stimulus set for experiments — for the chosen neurons, their poles and/or
 * top/bottom screened images as 8-bit PNGs (mask and grey background applied, chosen size), a
 * manifest.csv (file, neuron, pole, seed, predicted response, norm) and poles.h5 in DualNeuron's layout.
 * Every file is written to a temporary name and renamed into place; manifest.csv comes last, so a folder
 * with a manifest holds a complete export. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-project.h"

G_BEGIN_DECLS

typedef struct
{
  char *folder;
  int *neurons;
  int n_neurons;
  gboolean poles;     /* export the synthesized poles */
  gboolean screened;  /* export the top and bottom screened images */
  int n_screened;     /* how many of each (≤ the screening's top-K) */
  int size;           /* side of the PNGs in pixels */
  double boost;       /* contrast (dn_app_project_gain_for_boost) */
} DnAppExportOptions;

void dn_app_export_options_clear (DnAppExportOptions *o);

/* Runs in a thread; the result is the number of images written. */
void dn_app_export_async (DnAppProject *project, const DnAppExportOptions *options, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
int dn_app_export_finish (DnAppProject *project, GAsyncResult *result, GError **error);

/* The same, synchronously (for tests and the CLI-like paths); must not run while a job uses the project. */
int dn_app_export_run (DnAppProject *project, const DnAppExportOptions *options, GCancellable *cancellable,
                       GError **error);

G_END_DECLS
