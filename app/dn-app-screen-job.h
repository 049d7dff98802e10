/* dn-app-screen-job.h: a screening run in the background (dn_screen_run on a worker thread) with coalesced
 * progress (items, rate, ETA), failures counted, cancellation, and the result installed in the project.
 * The run's file lives in the user cache folder, named after the model and dataset, so a cancelled or
 * interrupted screening continues where it stopped when started again. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-job.h"
#include "dn-app-project.h"
#include "dn-preprocess.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_SCREEN_JOB (dn_app_screen_job_get_type ())
G_DECLARE_FINAL_TYPE (DnAppScreenJob, dn_app_screen_job, DN_APP, SCREEN_JOB, DnAppJob)

DnAppScreenJob *dn_app_screen_job_new (DnAppProject *project, const char *dataset, int top_k, int batch);
void dn_app_screen_job_run_async (DnAppScreenJob *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean dn_app_screen_job_run_finish (DnAppScreenJob *self, GAsyncResult *result, GError **error);
gint64 dn_app_screen_job_get_n_failed (DnAppScreenJob *self);

/* Opens an image set; built-in sets are made at builtin_size (the model's input side). Usable on a worker. */
DnDataset *dn_app_dataset_open_spec (const char *spec, int builtin_size, GError **error);
/* Opens a dataset for the project's model (built-in sets at the model's input size). */
DnDataset *dn_app_dataset_open (DnAppProject *project, const char *spec, GError **error);

/* Model-space images (C,H,W) of dataset items, as the twin sees them (thumbnails, export). Init copies
 * what it needs from the project's model (on the UI thread), so render can run on a worker. */
typedef struct
{
  DnPreprocess pp;
  DnGeometry geometry;
  gboolean ready;
} DnAppItemRender;
gboolean dn_app_item_render_init (DnAppItemRender *r, DnAppProject *project, GError **error);
/* The image of item @index of @ds (g_free it); NULL + error. */
float *dn_app_item_render (DnAppItemRender *r, DnDataset *ds, gint64 index, int *C, int *H, int *W, GError **error);
void dn_app_item_render_clear (DnAppItemRender *r);

G_END_DECLS
