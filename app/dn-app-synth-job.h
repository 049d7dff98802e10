/* dn-app-synth-job.h: a pole synthesis run in the background (dn_synth_run on a worker thread) with
 * coalesced progress, live previews of the batch in flight, activation curves and cancellation. Finished
 * poles go into the project as each batch completes. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-job.h"
#include "dn-app-project.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_SYNTH_JOB (dn_app_synth_job_get_type ())
G_DECLARE_FINAL_TYPE (DnAppSynthJob, dn_app_synth_job, DN_APP, SYNTH_JOB, DnAppJob)

/* @preset "v1-pixel" or "v4-fourier"; @steps ≤ 0 keeps the preset's. Neurons × seeds × poles jobs. */
DnAppSynthJob *dn_app_synth_job_new (DnAppProject *project, const char *preset, int steps, const int *neurons,
                                     int n_neurons, int n_seeds, gboolean most, gboolean least);
/* Parameters that replace the preset's (NaN or 0 = keep the preset's); checked when the run starts. */
void dn_app_synth_job_set_overrides (DnAppSynthJob *self, double lr, double noise, int n_crops, double jitter);
int dn_app_synth_job_get_n_jobs (DnAppSynthJob *self);
void dn_app_synth_job_run_async (DnAppSynthJob *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean dn_app_synth_job_run_finish (DnAppSynthJob *self, GAsyncResult *result, GError **error);

/* The batch in flight: previews (textures, one per job of the batch) and the activation curve of each. */
guint dn_app_synth_job_get_n_previews (DnAppSynthJob *self);
GdkTexture *dn_app_synth_job_get_preview (DnAppSynthJob *self, guint i);
/* Neuron, weight and curve (|response| per step so far) of preview i; the curve is owned by the job. */
const GArray *dn_app_synth_job_get_curve (DnAppSynthJob *self, guint i, int *neuron, int *weight);

/* Parses "0-9,100" (or "all") into neuron indices < n_neurons. */
int *dn_app_parse_neurons (const char *text, int n_neurons, int *n_out, GError **error);

G_END_DECLS
