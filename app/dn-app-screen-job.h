/* dn-app-screen-job.h: a screening run in the background (dn_screen_run on a worker thread) with coalesced
 * progress (items, rate, ETA), failures counted, cancellation, and the result installed in the project.
 * The run's file lives in the user cache folder, named after the model and dataset, so a cancelled or
 * interrupted screening continues where it stopped when started again. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-job.h"
#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_SCREEN_JOB (dn_app_screen_job_get_type ())
G_DECLARE_FINAL_TYPE (DnAppScreenJob, dn_app_screen_job, DN_APP, SCREEN_JOB, DnAppJob)

DnAppScreenJob *dn_app_screen_job_new (DnAppProject *project, const char *dataset, int top_k, int batch);
void dn_app_screen_job_run_async (DnAppScreenJob *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean dn_app_screen_job_run_finish (DnAppScreenJob *self, GAsyncResult *result, GError **error);
gint64 dn_app_screen_job_get_n_failed (DnAppScreenJob *self);

/* The model-space image (C,H,W) of a dataset item, as the twin sees it (for thumbnails); NULL + error. */
float *dn_app_dataset_item_image (DnAppProject *project, DnDataset *ds, gint64 index, int *C, int *H, int *W,
                                  GError **error);
/* Opens a dataset for the project's model (built-in sets at the model's input size). */
DnDataset *dn_app_dataset_open (DnAppProject *project, const char *spec, GError **error);

G_END_DECLS
