/* dn-app-synth-job.c: background pole synthesis (see dn-app-synth-job.h).
 * The worker writes its state under `lock` and schedules at most one pending idle; the idle (main thread)
 * notifies `fraction` and `message`, emits `preview`, and moves finished poles into the project. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>

#include "dn-app-error.h"
#include "dn-app-synth-job.h"

struct _DnAppSynthJob
{
  DnAppJob parent_instance;
  DnAppProject *project;
  char *preset;
  int steps;
  double lr, noise, jitter; /* overrides of the preset, NaN = the preset's */
  int n_crops;              /* 0 = the preset's */
  DnSynthJob *jobs;
  int n_jobs;
  DnTwin *twin;                 /* borrowed from the project while running */
  GCancellable *cancellable;
  float *prior;                 /* Fourier amplitude prior (malloc'd by compute) */

  /* written by the worker under the job's lock */
  int jobs_done, step, n_steps, batch_n, batch_cap, batch_start;
  gboolean batch_finished;      /* the batch's poles are in `finished`; the next progress starts a batch */
  float *preview;               /* (preview_n, C,H,W) latest images */
  int preview_n;
  gboolean preview_new;
  int C, H, W;
  GArray **curves_w;            /* worker side: per job in the batch */
  GPtrArray *finished;          /* DnAppPole* not yet given to the project */
  gint64 t_start;

  /* main-thread state */
  GPtrArray *textures;          /* GdkTexture per job of the batch in flight */
  GArray **curves;              /* main-thread copies */
  int curves_n, curves_start;
  float *blank;
};

enum
{
  SIGNAL_PREVIEW,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DnAppSynthJob, dn_app_synth_job, DN_APP_TYPE_JOB)

static void publish (DnAppJob *job);

static void
free_curves (GArray **curves, int n)
{
  if (!curves)
    return;
  for (int i = 0; i < n; i++)
    if (curves[i])
      g_array_unref (curves[i]);
  g_free (curves);
}

static void
dn_app_synth_job_finalize (GObject *object)
{
  DnAppSynthJob *self = DN_APP_SYNTH_JOB (object);
  g_clear_object (&self->project);
  g_clear_object (&self->cancellable);
  g_free (self->preset);
  g_free (self->jobs);
  free (self->prior);
  g_free (self->preview);
  free_curves (self->curves_w, self->batch_n);
  free_curves (self->curves, self->curves_n);
  g_ptr_array_unref (self->finished);
  g_ptr_array_unref (self->textures);
  g_free (self->blank);
  G_OBJECT_CLASS (dn_app_synth_job_parent_class)->finalize (object);
}

static void
dn_app_synth_job_class_init (DnAppSynthJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = dn_app_synth_job_finalize;
  DN_APP_JOB_CLASS (klass)->publish = publish;
  signals[SIGNAL_PREVIEW] = g_signal_new ("preview", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
}

static void
dn_app_synth_job_init (DnAppSynthJob *self)
{
  self->finished = g_ptr_array_new_with_free_func ((GDestroyNotify) dn_app_pole_free);
  self->textures = g_ptr_array_new_with_free_func (g_object_unref);
}

int *
dn_app_parse_neurons (const char *text, int n_neurons, int *n_out, GError **error)
{
  *n_out = 0;
  g_autofree char *t = g_strstrip (g_strdup (text ? text : ""));
  if (g_ascii_strcasecmp (t, "all") == 0)
    {
      int *all = g_new (int, MAX (n_neurons, 1));
      for (int i = 0; i < n_neurons; i++)
        all[i] = i;
      *n_out = n_neurons;
      return all;
    }
  GArray *out = g_array_new (FALSE, FALSE, sizeof (int));
  g_auto (GStrv) parts = g_strsplit_set (t, ", ", -1);
  for (int i = 0; parts[i]; i++)
    {
      if (!*parts[i])
        continue;
      char *end = NULL;
      gint64 a = g_ascii_strtoll (parts[i], &end, 10), b = a;
      if (end == parts[i])
        goto bad;
      if (*end == '-')
        {
          char *s = end + 1;
          b = g_ascii_strtoll (s, &end, 10);
          if (end == s)
            goto bad;
        }
      if (*end || a < 0 || b < a || b >= n_neurons)
        goto bad;
      for (gint64 k = a; k <= b; k++)
        {
          int v = (int) k;
          g_array_append_val (out, v);
        }
      continue;
    bad:
      g_set_error (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a neuron or range of neurons (0 to %d)"), parts[i], n_neurons - 1);
      g_array_unref (out);
      return NULL;
    }
  if (out->len == 0)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("No neurons are chosen"));
      g_array_unref (out);
      return NULL;
    }
  *n_out = (int) out->len;
  return (int *) g_array_free (out, FALSE);
}

DnAppSynthJob *
dn_app_synth_job_new (DnAppProject *project, const char *preset, int steps, const int *neurons, int n_neurons,
                      int n_seeds, gboolean most, gboolean least)
{
  DnAppSynthJob *self = g_object_new (DN_APP_TYPE_SYNTH_JOB, NULL);
  self->project = g_object_ref (project);
  self->preset = g_strdup (preset);
  self->steps = steps;
  self->lr = self->noise = self->jitter = NAN;
  int per = (most ? 1 : 0) + (least ? 1 : 0);
  self->jobs = g_new0 (DnSynthJob, MAX (1, n_neurons * n_seeds * per));
  for (int i = 0; i < n_neurons; i++)
    for (int s = 0; s < n_seeds; s++)
      for (int w = 0; w < 2; w++)
        if ((w == 0 && most) || (w == 1 && least))
          self->jobs[self->n_jobs++] = (DnSynthJob) { .neuron = neurons[i], .seed = (guint32) s,
                                                      .weight = w == 0 ? 1 : -1 };
  return self;
}

void
dn_app_synth_job_set_overrides (DnAppSynthJob *self, double lr, double noise, int n_crops, double jitter)
{
  self->lr = lr;
  self->noise = noise;
  self->n_crops = n_crops;
  self->jitter = jitter;
}

int
dn_app_synth_job_get_n_jobs (DnAppSynthJob *self)
{
  return self->n_jobs;
}

/* Main thread: publish the worker's state (DnAppJob's idle). */
static void
publish (DnAppJob *job)
{
  DnAppSynthJob *self = DN_APP_SYNTH_JOB (job);
  _dn_app_job_lock (job);
  int done = self->jobs_done, step = self->step, n_steps = MAX (1, self->n_steps), bn = self->batch_n;
  gboolean batch_finished = self->batch_finished, have_preview = self->preview_new;
  self->preview_new = FALSE;
  if (have_preview)
    {
      g_ptr_array_set_size (self->textures, 0);
      gsize per = (gsize) self->C * self->H * self->W;
      int mh = 0, mw = 0;
      const float *mask = dn_app_project_get_mask (self->project, &mh, &mw);
      if (mh != self->H || mw != self->W)
        mask = NULL;
      /* the pole is the image rescaled to the target norm (dn_synth_batch_finish): show it that way */
      float norm = dn_app_project_get_input_norm (self->project);
      for (int i = 0; i < self->preview_n && norm > 0; i++)
        {
          float *x = self->preview + per * i;
          double s = 0;
          for (gsize k = 0; k < per; k++)
            s += (double) x[k] * x[k];
          if (s > 0)
            for (gsize k = 0; k < per; k++)
              x[k] = (float) (x[k] * norm / sqrt (s));
        }
      double gain = dn_app_project_get_display_gain (self->project);
      for (int i = 0; i < self->preview_n; i++)
        g_ptr_array_add (self->textures, dn_app_render_texture (self->preview + per * i, NULL, self->C, self->H,
                                                                self->W, mask, gain));
    }
  /* copy the curves */
  free_curves (self->curves, self->curves_n);
  self->curves = g_new0 (GArray *, MAX (bn, 1));
  self->curves_n = bn;
  self->curves_start = self->batch_start;
  for (int i = 0; i < bn && self->curves_w; i++)
    self->curves[i] = g_array_copy (self->curves_w[i]);
  GPtrArray *finished = self->finished;
  self->finished = g_ptr_array_new_with_free_func ((GDestroyNotify) dn_app_pole_free);
  double elapsed = (g_get_monotonic_time () - self->t_start) / 1e6;
  _dn_app_job_unlock (job);

  for (guint i = 0; i < finished->len; i++)
    dn_app_project_add_pole (self->project, g_ptr_array_index (finished, i));
  g_ptr_array_unref (finished);

  double f = (done + (batch_finished ? 0 : (double) bn * step / n_steps)) / MAX (1, self->n_jobs);
  g_autofree char *message = NULL;
  if (f > 0.001 && elapsed > 1)
    message = g_strdup_printf (_("%d of %d poles · step %d of %d · about %.0f s left"), done, self->n_jobs, step,
                               n_steps, elapsed * (1 - f) / f);
  else
    message = g_strdup_printf (_("%d of %d poles · step %d of %d"), done, self->n_jobs, step, n_steps);
  _dn_app_job_set_progress (job, f, message);
  g_signal_emit (self, signals[SIGNAL_PREVIEW], 0);
}

static void
on_progress (int jobs_done, int n_jobs, int step, int n_steps, const float *resp, void *user)
{
  DnAppSynthJob *self = user;
  _dn_app_job_lock (DN_APP_JOB (self));
  if (self->batch_finished || !self->curves_w)
    {
      int bn = MIN (self->n_jobs - jobs_done, self->batch_cap);
      free_curves (self->curves_w, self->batch_n);
      self->batch_n = bn;
      self->batch_start = jobs_done;
      self->batch_finished = FALSE;
      self->curves_w = g_new0 (GArray *, bn);
      for (int i = 0; i < bn; i++)
        self->curves_w[i] = g_array_new (FALSE, FALSE, sizeof (float));
    }
  self->jobs_done = jobs_done;
  self->step = step;
  self->n_steps = n_steps;
  for (int i = 0; i < self->batch_n; i++)
    {
      float v = resp[i];
      g_array_append_val (self->curves_w[i], v);
    }
  _dn_app_job_schedule_locked (DN_APP_JOB (self));
  _dn_app_job_unlock (DN_APP_JOB (self));
}

static void
on_preview (int jobs_done, int n, int C, int H, int W, const float *images, void *user)
{
  DnAppSynthJob *self = user;
  _dn_app_job_lock (DN_APP_JOB (self));
  g_free (self->preview);
  self->preview = g_memdup2 (images, (gsize) n * C * H * W * sizeof (float));
  self->C = C, self->H = H, self->W = W;
  self->preview_n = n;
  self->preview_new = TRUE;
  _dn_app_job_schedule_locked (DN_APP_JOB (self));
  _dn_app_job_unlock (DN_APP_JOB (self));
}

static bool
should_stop (void *user)
{
  DnAppSynthJob *self = user;
  return g_cancellable_is_cancelled (self->cancellable);
}

static DnStatus
on_batch_done (const DnSynthResult *r, int n, void *user)
{
  DnAppSynthJob *self = user;
  _dn_app_job_lock (DN_APP_JOB (self));
  int first = self->batch_start;
  for (int i = 0; i < n; i++)
    {
      if (!r[i].finite)
        continue;
      const DnSynthJob *job = &self->jobs[first + i];
      DnAppPole *p = g_new0 (DnAppPole, 1);
      gsize px = (gsize) r[i].channels * r[i].height * r[i].width;
      p->neuron = job->neuron;
      p->seed = job->seed;
      p->weight = job->weight;
      p->channels = r[i].channels, p->height = r[i].height, p->width = r[i].width;
      p->steps = r[i].steps;
      p->n_members = r[i].n_members;
      p->image = g_memdup2 (r[i].image, px * sizeof (float));
      p->alpha = g_memdup2 (r[i].alpha, px * sizeof (float));
      p->activations = g_memdup2 (r[i].activations, (gsize) r[i].steps * sizeof (float));
      p->member_responses = g_memdup2 (r[i].member_responses, (gsize) r[i].n_members * sizeof (float));
      p->response = r[i].response;
      p->initial_response = r[i].initial_response;
      p->rf_cosine = r[i].rf_cosine;
      g_ptr_array_add (self->finished, p);
    }
  self->jobs_done = first + n;
  self->batch_finished = TRUE; /* the curves stay on show until the next batch starts */
  _dn_app_job_schedule_locked (DN_APP_JOB (self));
  _dn_app_job_unlock (DN_APP_JOB (self));
  return DN_OK;
}

/* The response of every neuron to a blank (all-zero, i.e. mean-grey) image. */
static float *
blank_responses (DnTwin *twin, GError **error)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  DnDevice *dev = dn_twin_device (twin);
  DnStatus st = DN_OK;
  float *out = NULL;
  DnTensor *x = dn_tensor_new4 (dev, 1, info->in_channels, info->in_h, info->in_w, &st);
  DnTensor *y = x ? dn_tensor_new2 (dev, 1, info->n_neurons, &st) : NULL;
  if (y && (st = dn_tensor_fill (x, 0.f)) == DN_OK && (st = dn_twin_forward (twin, y, x)) == DN_OK)
    {
      out = g_new (float, info->n_neurons);
      st = dn_tensor_download (y, out, info->n_neurons);
    }
  dn_tensor_free (y);
  dn_tensor_free (x);
  if (st != DN_OK)
    {
      g_clear_pointer (&out, g_free);
      dn_app_error_from_status (st, _("Blank-image responses"), error);
    }
  return out;
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  DnAppSynthJob *self = source;
  DnSynthParams p;
  DnStatus st = dn_synth_params_preset (&p, self->preset);
  GError *error = NULL;
  if (st != DN_OK)
    {
      dn_app_error_from_status (st, _("Synthesis preset"), &error);
      g_task_return_error (task, error);
      return;
    }
  if (self->steps > 0)
    p.steps = self->steps;
  if (!isnan (self->lr))
    p.lr = self->lr;
  if (!isnan (self->noise))
    p.noise = self->noise;
  if (!isnan (self->jitter))
    p.jitter = self->jitter;
  if (self->n_crops > 0)
    p.n_crops = self->n_crops;
  if ((st = dn_synth_params_check (&p, self->twin)) != DN_OK)
    {
      dn_app_error_from_status (st, _("Synthesis parameters"), &error);
      g_task_return_error (task, error);
      return;
    }
  p.magnitude = self->prior;
  if (!(self->blank = blank_responses (self->twin, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  DnSynthRunOptions o;
  dn_synth_run_options_init (&o);
  o.progress = on_progress;
  o.should_stop = should_stop;
  o.batch_done = on_batch_done;
  o.preview = on_preview;
  o.preview_every = MAX (1, p.steps / 32);
  o.user = self;
  /* an explicit batch, so that the callbacks know its size */
  o.batch = self->batch_cap = MAX (1, dn_synth_auto_batch (self->twin, &p, self->n_jobs));
  self->t_start = g_get_monotonic_time ();
  st = dn_synth_run (self->twin, &p, self->jobs, self->n_jobs, &o);
  if (st != DN_OK)
    {
      dn_app_error_from_status (st, _("Synthesis stopped"), &error);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static gboolean
load_prior (DnAppSynthJob *self, GError **error)
{
  const DnTwinInfo *info = dn_twin_info (self->twin);
  const char *model = dn_app_project_get_model_spec (self->project);
  g_autofree char *prior = g_strdup_printf ("%s/../priors/natural_%s.npy", model,
                                            info->in_channels == 3 ? "rgb" : "gray");
  if (!g_file_test (model, G_FILE_TEST_IS_DIR) || !g_file_test (prior, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, DN_APP_ERROR, DN_APP_ERROR_IO,
                   _("The Fourier preset needs the natural-spectrum prior natural_%s.npy, looked for in %s"),
                   info->in_channels == 3 ? "rgb" : "gray", prior);
      return FALSE;
    }
  DnStatus st = dn_synth_prior_load (dn_twin_device (self->twin), prior, info->in_channels, info->in_h,
                                     info->in_w, &self->prior);
  return dn_app_error_from_status (st, _("Reading the spectrum prior"), error);
}

void
dn_app_synth_job_run_async (DnAppSynthJob *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dn_app_synth_job_run_async);
  GError *error = NULL;
  self->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  if (self->n_jobs == 0)
    {
      g_task_return_new_error (task, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("Nothing to synthesize"));
      return;
    }
  if (!(self->twin = dn_app_project_begin_job (self->project, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_strcmp0 (self->preset, "v4-fourier") == 0 && !load_prior (self, &error))
    {
      dn_app_project_end_job (self->project);
      self->twin = NULL;
      g_task_return_error (task, error);
      return;
    }
  g_task_run_in_thread (task, run_thread);
}

gboolean
dn_app_synth_job_run_finish (DnAppSynthJob *self, GAsyncResult *result, GError **error)
{
  /* the blank-image responses first, so that the pages the last poles update show them */
  if (self->blank)
    {
      const DnTwinInfo *info = dn_app_project_get_info (self->project);
      if (info)
        dn_app_project_set_blank_responses (self->project, self->blank, info->n_neurons);
    }
  /* publish what the worker left (the last batch's poles) */
  _dn_app_job_flush (DN_APP_JOB (self));
  if (self->twin)
    {
      dn_app_project_end_job (self->project);
      self->twin = NULL;
    }
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
dn_app_synth_job_get_n_previews (DnAppSynthJob *self)
{
  return self->textures->len;
}

GdkTexture *
dn_app_synth_job_get_preview (DnAppSynthJob *self, guint i)
{
  return i < self->textures->len ? g_ptr_array_index (self->textures, i) : NULL;
}

const GArray *
dn_app_synth_job_get_curve (DnAppSynthJob *self, guint i, int *neuron, int *weight)
{
  if ((int) i >= self->curves_n || !self->curves[i] || self->curves_start + (int) i >= self->n_jobs)
    return NULL;
  const DnSynthJob *job = &self->jobs[self->curves_start + i];
  if (neuron)
    *neuron = job->neuron;
  if (weight)
    *weight = job->weight;
  return self->curves[i];
}
