/* dn-app-screen-job.c: background screening (see dn-app-screen-job.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "dn-app-error.h"
#include "dn-app-screen-job.h"
#include "dn-preprocess.h"

struct _DnAppScreenJob
{
  DnAppJob parent_instance;
  DnAppProject *project;
  char *dataset, *model_spec;
  int top_k, batch, builtin_size;
  DnTwin *twin;
  DnDataset *ds;
  char *output;
  GCancellable *cancellable;

  /* written by the worker under the job's lock */
  DnScreenProgress progress;
  gint64 failed;
  char *last_failure;

  gint64 n_failed; /* main thread */
};

G_DEFINE_FINAL_TYPE (DnAppScreenJob, dn_app_screen_job, DN_APP_TYPE_JOB)

static void
dn_app_screen_job_finalize (GObject *object)
{
  DnAppScreenJob *self = DN_APP_SCREEN_JOB (object);
  g_clear_object (&self->project);
  g_clear_object (&self->cancellable);
  dn_dataset_free (self->ds);
  g_free (self->dataset);
  g_free (self->model_spec);
  g_free (self->output);
  g_free (self->last_failure);
  G_OBJECT_CLASS (dn_app_screen_job_parent_class)->finalize (object);
}

DnAppScreenJob *
dn_app_screen_job_new (DnAppProject *project, const char *dataset, int top_k, int batch)
{
  DnAppScreenJob *self = g_object_new (DN_APP_TYPE_SCREEN_JOB, NULL);
  self->project = g_object_ref (project);
  self->dataset = g_strdup (dataset);
  self->top_k = top_k;
  self->batch = batch;
  return self;
}

/* Main thread: publish the worker's state (DnAppJob's idle). */
static void
publish (DnAppJob *job)
{
  DnAppScreenJob *self = DN_APP_SCREEN_JOB (job);
  _dn_app_job_lock (job);
  DnScreenProgress p = self->progress;
  gint64 failed = self->failed;
  _dn_app_job_unlock (job);
  self->n_failed = failed;
  g_autofree char *eta = p.eta_s >= 0 ? g_strdup_printf (_(" · about %.0f s left"), p.eta_s) : g_strdup ("");
  g_autofree char *fail = failed > 0 ? g_strdup_printf (_(" · %lld unreadable"), (long long) failed) : g_strdup ("");
  g_autofree char *message = g_strdup_printf (_("%lld of %lld images · %.0f images/s%s%s"), (long long) p.done,
                                              (long long) p.total, p.items_per_s, eta, fail);
  _dn_app_job_set_progress (job, p.total > 0 ? (double) p.done / (double) p.total : 0, message);
}

static void
dn_app_screen_job_class_init (DnAppScreenJobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dn_app_screen_job_finalize;
  DN_APP_JOB_CLASS (klass)->publish = publish;
}

static void
dn_app_screen_job_init (DnAppScreenJob *self)
{
}


static void
on_progress (const DnScreenProgress *p, void *user)
{
  DnAppScreenJob *self = user;
  _dn_app_job_lock (DN_APP_JOB (self));
  self->progress = *p;
  _dn_app_job_schedule_locked (DN_APP_JOB (self));
  _dn_app_job_unlock (DN_APP_JOB (self));
}

static void
on_failure (gint64 index, const char *id, const char *reason, void *user)
{
  DnAppScreenJob *self = user;
  _dn_app_job_lock (DN_APP_JOB (self));
  self->failed++;
  g_free (self->last_failure);
  self->last_failure = g_strdup_printf ("%s: %s", id, reason);
  _dn_app_job_schedule_locked (DN_APP_JOB (self));
  _dn_app_job_unlock (DN_APP_JOB (self));
  g_message ("screening: skipped %s: %s", id, reason);
}

static bool
should_stop (void *user)
{
  DnAppScreenJob *self = user;
  return g_cancellable_is_cancelled (self->cancellable);
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  DnAppScreenJob *self = source;
  DnScreenOptions o;
  dn_screen_options_init (&o);
  o.top_k = self->top_k;
  if (self->batch > 0)
    o.batch = self->batch;
  o.progress = on_progress;
  o.failure = on_failure;
  o.should_stop = should_stop;
  o.user = self;
  o.checkpoint_seconds = 10;
  o.overwrite = FALSE;
  o.model_spec = self->model_spec;
  GError *error = NULL;
  /* open the set here, not on the UI thread: a folder of a million images takes a while to list */
  if (!(self->ds = dn_app_dataset_open_spec (self->dataset, self->builtin_size, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  /* the run's file: one per (model, dataset, top-K), so an interrupted run continues */
  g_autofree char *dir = g_build_filename (g_get_user_cache_dir (), "dualneuron", "screening", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_task_return_new_error (task, DN_APP_ERROR, DN_APP_ERROR_IO, _("Cannot create the folder %s"), dir);
      return;
    }
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%s\n%d", self->model_spec, self->dataset,
                                          dn_dataset_hash (self->ds), self->top_k);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autofree char *name = g_strdup_printf ("screen-%.16s.h5", hash);
  self->output = g_build_filename (dir, name, NULL);
  DnStatus st = dn_screen_run (self->twin, self->ds, self->output, &o);
  if (st != DN_OK)
    {
      dn_app_error_from_status (st, _("Screening stopped"), &error);
      g_task_return_error (task, error);
      return;
    }
  DnScreenResult *r = NULL;
  if ((st = dn_screen_result_load (self->output, &r)) != DN_OK)
    {
      dn_app_error_from_status (st, _("Reading the screening result"), &error);
      g_task_return_error (task, error);
      return;
    }
  DnAppScreening *s = dn_app_screening_from_result (r, self->dataset);
  dn_screen_result_free (r);
  g_task_return_pointer (task, s, (GDestroyNotify) dn_app_screening_free);
}

DnDataset *
dn_app_dataset_open_spec (const char *spec, int builtin_size, GError **error)
{
  DnDatasetOptions dopt;
  dn_dataset_options_init (&dopt);
  dopt.builtin_size = builtin_size;
  DnStatus st = DN_OK;
  DnDataset *ds = dn_dataset_open (spec, &dopt, &st);
  if (!ds)
    {
      g_autofree char *detail = g_strdup_printf (_("Cannot open the image set “%s”"), spec);
      dn_app_error_from_status (st, detail, error);
    }
  return ds;
}

DnDataset *
dn_app_dataset_open (DnAppProject *project, const char *spec, GError **error)
{
  const DnTwinInfo *info = dn_app_project_get_info (project);
  return dn_app_dataset_open_spec (spec, info ? info->in_h : 0, error);
}

void
dn_app_screen_job_run_async (DnAppScreenJob *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dn_app_screen_job_run_async);
  GError *error = NULL;
  self->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  if (!dn_app_project_has_model (self->project))
    {
      g_task_return_new_error (task, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("No model is open"));
      return;
    }
  self->model_spec = g_strdup (dn_app_project_get_model_spec (self->project));
  self->builtin_size = dn_app_project_get_info (self->project)->in_h;
  if (!(self->twin = dn_app_project_begin_job (self->project, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_run_in_thread (task, run_thread);
}

gboolean
dn_app_screen_job_run_finish (DnAppScreenJob *self, GAsyncResult *result, GError **error)
{
  _dn_app_job_flush (DN_APP_JOB (self));
  if (self->twin)
    {
      dn_app_project_end_job (self->project);
      self->twin = NULL;
    }
  DnAppScreening *s = g_task_propagate_pointer (G_TASK (result), error);
  if (!s)
    return FALSE;
  dn_app_project_set_screening (self->project, s);
  return TRUE;
}

gint64
dn_app_screen_job_get_n_failed (DnAppScreenJob *self)
{
  return self->n_failed;
}

gboolean
dn_app_item_render_init (DnAppItemRender *r, DnAppProject *project, GError **error)
{
  memset (r, 0, sizeof *r);
  /* the twin is only read here (mask, preset), never run */
  DnPreprocessOptions po;
  dn_preprocess_options_init (&po);
  DnStatus st = _dn_app_project_preprocess_init (project, &r->pp, &po);
  if (st != DN_OK)
    {
      dn_app_error_from_status (st, NULL, error);
      return FALSE;
    }
  r->geometry = po.geometry;
  r->ready = TRUE;
  return TRUE;
}

float *
dn_app_item_render (DnAppItemRender *r, DnDataset *ds, gint64 index, int *C, int *H, int *W, GError **error)
{
  g_return_val_if_fail (r->ready, NULL);
  dn_preprocess_geometry (&r->pp, r->geometry, dn_dataset_is_model_space (ds));
  DnImage img = { 0 };
  float *out = NULL;
  DnStatus st;
  if ((st = dn_dataset_load (ds, index, &img)) == DN_OK)
    {
      *C = r->pp.out_channels, *H = r->pp.out_h, *W = r->pp.out_w;
      out = g_new (float, (gsize) *C * *H * *W);
      st = dn_preprocess_image (&r->pp, &img, out);
    }
  dn_image_clear (&img);
  if (st != DN_OK)
    {
      g_clear_pointer (&out, g_free);
      dn_app_error_from_status (st, NULL, error);
    }
  return out;
}

void
dn_app_item_render_clear (DnAppItemRender *r)
{
  if (r->ready)
    dn_preprocess_clear (&r->pp);
  r->ready = FALSE;
}
