/* dn-app-job.h: the base of the app's background jobs (synthesis, screening): a worker thread writes its
 * state under the job's lock and schedules at most one pending idle; the idle calls the class's
 * `publish` on the main thread, which reads that state and sets the `fraction` and `message`
 * properties the UI binds to (coalesced progress, as Sysprof's document loader does). */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define DN_APP_TYPE_JOB (dn_app_job_get_type ())
G_DECLARE_DERIVABLE_TYPE (DnAppJob, dn_app_job, DN_APP, JOB, GObject)

struct _DnAppJobClass
{
  GObjectClass parent_class;
  /* main thread, from the idle (or _dn_app_job_flush): take the worker's state and show it */
  void (*publish) (DnAppJob *self);
};

double dn_app_job_get_fraction (DnAppJob *self);
const char *dn_app_job_get_message (DnAppJob *self);

/* For subclasses. The lock guards what the worker writes. */
void _dn_app_job_lock (DnAppJob *self);
void _dn_app_job_unlock (DnAppJob *self);
/* With the lock held: make sure one idle will publish. */
void _dn_app_job_schedule_locked (DnAppJob *self);
/* Main thread, after the worker finished: drop the pending idle and publish now. */
void _dn_app_job_flush (DnAppJob *self);
/* Main thread: set and notify the progress (the message is copied). */
void _dn_app_job_set_progress (DnAppJob *self, double fraction, const char *message);

G_END_DECLS
