/* dn-app-project.c: the open project — twin, neurons, poles, screening, project file (dn-app-project.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "dn-app-error.h"
#include "dn-app-project.h"
#include "dn-app-util.h"
#include "dn-gabor.h"
#include "dn-h5.h"

#define PROJECT_FORMAT "dualneuron-project"
#define PROJECT_VERSION 1

struct _DnAppProject
{
  GObject parent_instance;
  DnDevice *device;
  DnTwin *twin;
  char *model_spec, *model_name, *device_name;
  char *path;
  gboolean dirty, busy;
  GListStore *neurons;        /* DnAppNeuron */
  GHashTable *poles;          /* "neuron:seed:weight" → DnAppPole* */
  DnAppScreening *screening;
  float *blank;               /* (n_neurons) or NULL */
  double boost;
  gboolean show_alpha;
};

enum
{
  PROP_0,
  PROP_MODEL_NAME,
  PROP_MODEL_SPEC,
  PROP_PATH,
  PROP_DIRTY,
  PROP_BUSY,
  PROP_BOOST,
  PROP_SHOW_ALPHA,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_MODEL_CHANGED,
  SIGNAL_POLES_CHANGED,
  SIGNAL_SCREENING_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DnAppProject, dn_app_project, G_TYPE_OBJECT)

/* Poles ------------------------------------------------------------------------------------------ */

void
dn_app_pole_free (DnAppPole *p)
{
  if (!p)
    return;
  g_free (p->image);
  g_free (p->alpha);
  g_free (p->activations);
  g_free (p->member_responses);
  g_free (p);
}

static DnAppPole *
pole_copy (const DnAppPole *src)
{
  DnAppPole *p = g_memdup2 (src, sizeof *src);
  gsize n = (gsize) src->channels * src->height * src->width;
  p->image = g_memdup2 (src->image, n * sizeof (float));
  p->alpha = src->alpha ? g_memdup2 (src->alpha, n * sizeof (float)) : NULL;
  p->activations = src->steps > 0 && src->activations ? g_memdup2 (src->activations, (gsize) src->steps * sizeof (float)) : NULL;
  p->member_responses = src->n_members > 0 && src->member_responses
                          ? g_memdup2 (src->member_responses, (gsize) src->n_members * sizeof (float)) : NULL;
  return p;
}

static char *
pole_key (int neuron, guint32 seed, int weight)
{
  return g_strdup_printf ("%d:%u:%d", neuron, seed, weight);
}

void
dn_app_screening_free (DnAppScreening *s)
{
  if (!s)
    return;
  g_free (s->dataset);
  g_free (s->top_index);
  g_free (s->bottom_index);
  g_free (s->top_value);
  g_free (s->bottom_value);
  g_free (s->stats);
  g_free (s);
}

DnAppScreening *
dn_app_screening_from_result (const DnScreenResult *r, const char *dataset)
{
  DnAppScreening *s = g_new0 (DnAppScreening, 1);
  gsize nk = (gsize) r->n_neurons * r->top_k;
  s->dataset = g_strdup (dataset ? dataset : r->dataset);
  s->n_neurons = r->n_neurons;
  s->top_k = r->top_k;
  s->dataset_count = r->dataset_count;
  s->n_valid = r->n_valid;
  s->n_failed = r->n_failed;
  s->top_index = g_memdup2 (r->top_index, nk * sizeof (gint64));
  s->bottom_index = g_memdup2 (r->bottom_index, nk * sizeof (gint64));
  s->top_value = g_memdup2 (r->top_value, nk * sizeof (float));
  s->bottom_value = g_memdup2 (r->bottom_value, nk * sizeof (float));
  s->stats = g_new0 (double, (gsize) r->n_neurons * DN_APP_N_STATS);
  for (int k = 0; k < r->n_neurons; k++)
    {
      const DnNeuronStats *st = &r->stats[k];
      double *o = s->stats + (gsize) k * DN_APP_N_STATS;
      o[0] = st->gini, o[1] = st->skewness, o[2] = st->mean, o[3] = st->std, o[4] = st->range;
      o[5] = st->cv, o[6] = st->max, o[7] = st->min, o[8] = st->q95, o[9] = st->q05, o[10] = st->active;
    }
  return s;
}

/* GObject ------------------------------------------------------------------------------------------ */

static void
dn_app_project_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DnAppProject *self = DN_APP_PROJECT (object);
  switch (prop_id)
    {
    case PROP_MODEL_NAME: g_value_set_string (value, self->model_name); break;
    case PROP_MODEL_SPEC: g_value_set_string (value, self->model_spec); break;
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_DIRTY: g_value_set_boolean (value, self->dirty); break;
    case PROP_BUSY: g_value_set_boolean (value, self->busy); break;
    case PROP_BOOST: g_value_set_double (value, self->boost); break;
    case PROP_SHOW_ALPHA: g_value_set_boolean (value, self->show_alpha); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dn_app_project_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DnAppProject *self = DN_APP_PROJECT (object);
  switch (prop_id)
    {
    case PROP_BOOST: dn_app_project_set_boost (self, g_value_get_double (value)); break;
    case PROP_SHOW_ALPHA: dn_app_project_set_show_alpha (self, g_value_get_boolean (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dn_app_project_finalize (GObject *object)
{
  DnAppProject *self = DN_APP_PROJECT (object);
  g_hash_table_unref (self->poles);
  g_clear_object (&self->neurons);
  dn_app_screening_free (self->screening);
  dn_twin_free (self->twin);
  dn_device_free (self->device);
  g_free (self->blank);
  g_free (self->model_spec);
  g_free (self->model_name);
  g_free (self->device_name);
  g_free (self->path);
  G_OBJECT_CLASS (dn_app_project_parent_class)->finalize (object);
}

static void
dn_app_project_class_init (DnAppProjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = dn_app_project_get_property;
  object_class->set_property = dn_app_project_set_property;
  object_class->finalize = dn_app_project_finalize;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  properties[PROP_MODEL_NAME] = g_param_spec_string ("model-name", NULL, NULL, NULL, ro);
  properties[PROP_MODEL_SPEC] = g_param_spec_string ("model-spec", NULL, NULL, NULL, ro);
  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, ro);
  properties[PROP_DIRTY] = g_param_spec_boolean ("dirty", NULL, NULL, FALSE, ro);
  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE, ro);
  properties[PROP_BOOST] = g_param_spec_double ("boost", NULL, NULL, 0.1, 10.0, 1.0, rw);
  properties[PROP_SHOW_ALPHA] = g_param_spec_boolean ("show-alpha", NULL, NULL, FALSE, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[SIGNAL_MODEL_CHANGED] = g_signal_new ("model-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_POLES_CHANGED] = g_signal_new ("poles-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  signals[SIGNAL_SCREENING_CHANGED] = g_signal_new ("screening-changed", G_TYPE_FROM_CLASS (klass),
                                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
dn_app_project_init (DnAppProject *self)
{
  self->neurons = g_list_store_new (DN_APP_TYPE_NEURON);
  self->poles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) dn_app_pole_free);
  self->boost = 1.0;
}

DnAppProject *
dn_app_project_new (void)
{
  return g_object_new (DN_APP_TYPE_PROJECT, NULL);
}

static void
set_dirty (DnAppProject *self, gboolean dirty)
{
  if (self->dirty == dirty)
    return;
  self->dirty = dirty;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIRTY]);
}

/* Rendering ---------------------------------------------------------------------------------------- */

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

void
dn_app_render_rgb8 (const float *image, const float *alpha, int C, int H, int W, const float *mask,
                    double gain, guint8 *rgb)
{
  gsize hw = (gsize) H * W;
  float a_hi = 1;
  if (alpha)
    {
      /* visualize.blend: alpha clipped at its 90th percentile and renormalised */
      float *tmp = g_new (float, hw);
      for (gsize i = 0; i < hw; i++)
        tmp[i] = alpha[i];
      qsort (tmp, hw, sizeof *tmp, cmp_float);
      a_hi = tmp[(gsize) (0.9 * (double) (hw - 1))];
      g_free (tmp);
      if (!(a_hi > 0))
        a_hi = 1;
    }
  for (gsize i = 0; i < hw; i++)
    {
      double a = 1;
      if (alpha)
        {
          double s = 0;
          for (int c = 0; c < C; c++)
            s += alpha[(gsize) c * hw + i];
          a = MIN (s / C / a_hi, 1.0);
        }
      double m = mask ? CLAMP (mask[i], 0.f, 1.f) : 1.0;
      for (int c = 0; c < 3; c++)
        {
          double x = image[(gsize) (C == 3 ? c : 0) * hw + i];
          double v = 0.45 + gain * x;
          v = v * a + 0.45 * (1 - a);
          v = 0.45 + m * (v - 0.45);
          rgb[i * 3 + c] = (guint8) lrint (CLAMP (v, 0.0, 1.0) * 255.0);
        }
    }
}

GdkTexture *
dn_app_render_texture (const float *image, const float *alpha, int C, int H, int W, const float *mask, double gain)
{
  gsize n = (gsize) H * W * 3;
  guint8 *rgb = g_malloc (n);
  dn_app_render_rgb8 (image, alpha, C, H, W, mask, gain, rgb);
  g_autoptr (GBytes) bytes = g_bytes_new_take (rgb, n);
  return gdk_memory_texture_new (W, H, GDK_MEMORY_R8G8B8, bytes, (gsize) W * 3);
}

GdkTexture *
dn_app_texture_from_gray (const float *gray, int H, int W, gboolean symmetric)
{
  gsize hw = (gsize) H * W;
  guint8 *rgb = g_malloc (hw * 3);
  float lo = 0, hi = 1;
  if (symmetric)
    {
      float m = 0;
      for (gsize i = 0; i < hw; i++)
        m = MAX (m, fabsf (gray[i]));
      lo = -m, hi = m > 0 ? m : 1;
    }
  for (gsize i = 0; i < hw; i++)
    {
      float v = (gray[i] - lo) / (hi - lo);
      guint8 b = (guint8) lrintf (CLAMP (v, 0.f, 1.f) * 255.f);
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = b;
    }
  g_autoptr (GBytes) bytes = g_bytes_new_take (rgb, hw * 3);
  return gdk_memory_texture_new (W, H, GDK_MEMORY_R8G8B8, bytes, (gsize) W * 3);
}

GdkTexture *
dn_app_project_render_pole (DnAppProject *self, const DnAppPole *pole)
{
  int mh = 0, mw = 0;
  const float *mask = dn_app_project_get_mask (self, &mh, &mw);
  if (mh != pole->height || mw != pole->width)
    mask = NULL;
  return dn_app_render_texture (pole->image, self->show_alpha ? pole->alpha : NULL, pole->channels, pole->height,
                                pole->width, mask, dn_app_project_get_display_gain (self));
}

double
dn_app_project_get_display_gain (DnAppProject *self)
{
  return dn_app_project_gain_for_boost (self, self->boost);
}

double
dn_app_project_gain_for_boost (DnAppProject *self, double boost)
{
  const DnTwinInfo *info = self->twin ? dn_twin_info (self->twin) : NULL;
  double norm = self->twin ? dn_twin_input_norm (self->twin) : 0;
  double rms = info && norm > 0 ? norm / sqrt ((double) info->in_channels * info->in_h * info->in_w) : 1.0;
  return 0.1 * boost / rms;
}

/* The neuron's row values from its poles: the best most-pole (highest response) and the best least-pole. */
static void
update_neuron_poles (DnAppProject *self, int neuron)
{
  DnAppNeuron *row = dn_app_project_get_neuron (self, neuron);
  if (!row)
    return;
  g_autoptr (GPtrArray) poles = dn_app_project_list_poles (self, neuron);
  const DnAppPole *most = NULL, *least = NULL;
  for (guint i = 0; i < poles->len; i++)
    {
      const DnAppPole *p = g_ptr_array_index (poles, i);
      if (p->weight > 0 && (!most || p->response > most->response))
        most = p;
      if (p->weight < 0 && (!least || p->response < least->response))
        least = p;
    }
  g_autoptr (GdkTexture) mt = most ? dn_app_project_render_pole (self, most) : NULL;
  g_autoptr (GdkTexture) lt = least ? dn_app_project_render_pole (self, least) : NULL;
  dn_app_neuron_set_poles (row, most ? most->response : NAN, least ? least->response : NAN,
                           mt ? GDK_PAINTABLE (mt) : NULL, lt ? GDK_PAINTABLE (lt) : NULL);
  g_object_unref (row);
}

static void
update_all_poles (DnAppProject *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->neurons));
  for (guint i = 0; i < n; i++)
    update_neuron_poles (self, (int) i);
}

static void
update_all_screening (DnAppProject *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->neurons));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (DnAppNeuron) row = g_list_model_get_item (G_LIST_MODEL (self->neurons), i);
      const DnAppScreening *s = self->screening;
      if (s && (int) i < s->n_neurons)
        {
          const double *st = s->stats + (gsize) i * DN_APP_N_STATS;
          dn_app_neuron_set_screening (row, st[6], st[2], st[0]);
        }
      else
        dn_app_neuron_set_screening (row, NAN, NAN, NAN);
    }
}

double
dn_app_project_get_boost (DnAppProject *self)
{
  return self->boost;
}

void
dn_app_project_set_boost (DnAppProject *self, double boost)
{
  if (self->boost == boost)
    return;
  self->boost = boost;
  update_all_poles (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BOOST]);
  g_signal_emit (self, signals[SIGNAL_POLES_CHANGED], 0, -1);
}

gboolean
dn_app_project_get_show_alpha (DnAppProject *self)
{
  return self->show_alpha;
}

void
dn_app_project_set_show_alpha (DnAppProject *self, gboolean show)
{
  show = !!show;
  if (self->show_alpha == show)
    return;
  self->show_alpha = show;
  update_all_poles (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_ALPHA]);
  g_signal_emit (self, signals[SIGNAL_POLES_CHANGED], 0, -1);
}

/* Model ---------------------------------------------------------------------------------------------- */

typedef struct
{
  char *spec;
  char *project_path;      /* load: the project file */
  int device_index, threads;
  DnDevice *device;
  DnTwin *twin;
  GHashTable *poles;       /* load: read poles */
  DnAppScreening *screening;
  float *blank;
  int n_blank;
} OpenData;

static void
open_data_free (OpenData *d)
{
  dn_twin_free (d->twin);
  dn_device_free (d->device);
  if (d->poles)
    g_hash_table_unref (d->poles);
  dn_app_screening_free (d->screening);
  g_free (d->blank);
  g_free (d->spec);
  g_free (d->project_path);
  g_free (d);
}

static gboolean
open_twin (OpenData *d, GError **error)
{
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.n_threads = d->threads;
  if (d->device_index == -1)
    o.backend = DN_BACKEND_CPU;
  else if (d->device_index >= 0)
    {
      o.backend = DN_BACKEND_VULKAN;
      o.device_index = d->device_index;
    }
  DnStatus st = DN_OK;
  d->device = dn_device_new (&o, &st);
  if (!d->device)
    return dn_app_error_from_status (st, _("No compute device"), error);
  d->twin = dn_twin_open (d->device, d->spec, &st);
  if (!d->twin)
    {
      g_autofree char *detail = g_strdup_printf (_("Cannot open the model “%s”"), d->spec);
      return dn_app_error_from_status (st, detail, error);
    }
  return TRUE;
}

static void
open_model_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpenData *d = task_data;
  GError *error = NULL;
  if (!open_twin (d, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static char *
describe_neuron (DnTwin *twin, int k)
{
  if (strcmp (dn_twin_name (twin), "builtin:gabor-v1") != 0)
    return g_strdup ("");
  const DnGaborCell *c = dn_twin_gabor_cell (twin, k);
  if (!c)
    return g_strdup ("");
  if (c->type == DN_GABOR_SIMPLE)
    return g_strdup_printf (_("simple · %.0f° · λ %.0f px · φ %.0f° · (%.0f, %.0f)"), c->orientation_deg,
                            c->wavelength, c->phase_deg, c->x, c->y);
  return g_strdup_printf (_("complex · %.0f° · λ %.0f px · (%.0f, %.0f)"), c->orientation_deg, c->wavelength,
                          c->x, c->y);
}

/* Installs the twin of @d (main thread). */
static void
install_model (DnAppProject *self, OpenData *d)
{
  gboolean same_model = g_strcmp0 (self->model_spec, d->spec) == 0;
  dn_twin_free (self->twin);
  dn_device_free (self->device);
  self->twin = g_steal_pointer (&d->twin);
  self->device = g_steal_pointer (&d->device);
  g_free (self->model_spec);
  self->model_spec = g_strdup (d->spec);
  g_free (self->model_name);
  const DnTwinInfo *info = dn_twin_info (self->twin);
  self->model_name = g_strdup_printf ("%s", dn_twin_name (self->twin));
  g_free (self->device_name);
  self->device_name = g_strdup (dn_device_info (self->device)->name);
  if (!same_model || d->project_path)
    {
      g_hash_table_remove_all (self->poles);
      g_clear_pointer (&self->screening, dn_app_screening_free);
      g_clear_pointer (&self->blank, g_free);
    }
  int64_t nc = 0;
  const float *corr = dn_twin_correlations (self->twin, &nc);
  g_list_store_remove_all (self->neurons);
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_object_unref);
  for (int k = 0; k < info->n_neurons; k++)
    {
      g_autofree char *desc = describe_neuron (self->twin, k);
      g_ptr_array_add (rows, dn_app_neuron_new (k, desc, corr && k < nc ? corr[k] : NAN));
    }
  g_list_store_splice (self->neurons, 0, 0, rows->pdata, rows->len);
  g_ptr_array_unref (rows);
  if (d->poles)
    {
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, d->poles);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          const DnAppPole *p = value;
          if (p->neuron >= 0 && p->neuron < info->n_neurons)
            g_hash_table_insert (self->poles, pole_key (p->neuron, p->seed, p->weight), pole_copy (p));
        }
    }
  if (d->screening && d->screening->n_neurons == info->n_neurons)
    self->screening = g_steal_pointer (&d->screening);
  if (d->blank && d->n_blank == info->n_neurons)
    self->blank = g_steal_pointer (&d->blank);
  update_all_poles (self);
  update_all_screening (self);
  g_free (self->path);
  self->path = g_strdup (d->project_path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
  set_dirty (self, FALSE);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_NAME]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_SPEC]);
  g_signal_emit (self, signals[SIGNAL_MODEL_CHANGED], 0);
  g_signal_emit (self, signals[SIGNAL_POLES_CHANGED], 0, -1);
  g_signal_emit (self, signals[SIGNAL_SCREENING_CHANGED], 0);
}

static gboolean
start_open (DnAppProject *self, GTask *task, GError **error)
{
  if (self->busy)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_BUSY,
                           _("A computation is running; cancel it before opening another model"));
      return FALSE;
    }
  self->busy = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  return TRUE;
}

static void
finish_open (DnAppProject *self)
{
  self->busy = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

void
dn_app_project_open_model_async (DnAppProject *self, const char *spec, int device_index, int threads,
                                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dn_app_project_open_model_async);
  GError *error = NULL;
  if (!start_open (self, task, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  OpenData *d = g_new0 (OpenData, 1);
  d->spec = g_strdup (spec);
  d->device_index = device_index;
  d->threads = threads;
  g_task_set_task_data (task, d, (GDestroyNotify) open_data_free);
  g_task_run_in_thread (task, open_model_thread);
}

gboolean
dn_app_project_open_model_finish (DnAppProject *self, GAsyncResult *result, GError **error)
{
  GTask *task = G_TASK (result);
  finish_open (self);
  if (!g_task_propagate_boolean (task, error))
    return FALSE;
  install_model (self, g_task_get_task_data (task));
  return TRUE;
}

/* Project file ----------------------------------------------------------------------------------------
 * /                  attrs format "dualneuron-project", version, software, model (the spec), model_name
 * /poles/neuron_%04d/seed_S/{most,least}/{image,alpha,activations,member_responses}  (DualNeuron's layout)
 *                    attrs model, neuron_id, seed, weight, type, response, initial_response, rf_cosine
 * /blank_responses   (n_neurons)
 * /screening/{top_index,bottom_index (int64), top_value,bottom_value (float32), stats (n, 11 float64)}
 *                    attrs dataset, top_k, dataset_count, n_valid, n_failed */

#define H5_TRY(call)                                                                                  \
  do                                                                                                  \
    {                                                                                                 \
      if ((st = (call)) != DN_OK)                                                                     \
        goto out;                                                                                     \
    }                                                                                                 \
  while (0)

static DnStatus
write_pole (DnH5 *h, const char *model, const DnAppPole *p)
{
  DnStatus st = DN_OK;
  g_autofree char *g = g_strdup_printf ("/poles/neuron_%04d/seed_%u/%s", p->neuron, p->seed,
                                        p->weight > 0 ? "most" : "least");
  g_autofree char *pi = g_strconcat (g, "/image", NULL);
  g_autofree char *pa = g_strconcat (g, "/alpha", NULL);
  g_autofree char *pact = g_strconcat (g, "/activations", NULL);
  g_autofree char *pm = g_strconcat (g, "/member_responses", NULL);
  int64_t shape[3] = { p->channels, p->height, p->width };
  H5_TRY (dn_h5_create_group (h, g));
  H5_TRY (dn_h5_write_f32 (h, pi, p->image, 3, shape, true));
  if (p->alpha)
    H5_TRY (dn_h5_write_f32 (h, pa, p->alpha, 3, shape, true));
  int64_t ns = p->steps;
  if (p->activations)
    H5_TRY (dn_h5_write_f32 (h, pact, p->activations, 1, &ns, false));
  int64_t nm = p->n_members;
  if (p->member_responses)
    H5_TRY (dn_h5_write_f32 (h, pm, p->member_responses, 1, &nm, false));
  H5_TRY (dn_h5_write_attr_str (h, g, "model", model));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "neuron_id", p->neuron));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "seed", p->seed));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "weight", p->weight));
  H5_TRY (dn_h5_write_attr_str (h, g, "type", p->weight > 0 ? "most" : "least"));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "response", p->response));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "initial_response", p->initial_response));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "rf_cosine", p->rf_cosine));
  H5_TRY (dn_h5_write_attr_f64 (h, g, "complete", 1));
out:
  return st;
}

static DnStatus
write_screening (DnH5 *h, const DnAppScreening *s)
{
  DnStatus st = DN_OK;
  int64_t shape[2] = { s->n_neurons, s->top_k };
  H5_TRY (dn_h5_create_group (h, "/screening"));
  H5_TRY (dn_h5_write_i64 (h, "/screening/top_index", s->top_index, 2, shape, true));
  H5_TRY (dn_h5_write_i64 (h, "/screening/bottom_index", s->bottom_index, 2, shape, true));
  H5_TRY (dn_h5_write_f32 (h, "/screening/top_value", s->top_value, 2, shape, true));
  H5_TRY (dn_h5_write_f32 (h, "/screening/bottom_value", s->bottom_value, 2, shape, true));
  int64_t sshape[2] = { s->n_neurons, DN_APP_N_STATS };
  H5_TRY (dn_h5_write_f64 (h, "/screening/stats", s->stats, 2, sshape, false));
  H5_TRY (dn_h5_write_attr_str (h, "/screening", "dataset", s->dataset));
  H5_TRY (dn_h5_write_attr_str (h, "/screening", "stats_columns",
                                "gini skewness mean std range cv max min q95 q05 active"));
  H5_TRY (dn_h5_write_attr_f64 (h, "/screening", "top_k", s->top_k));
  H5_TRY (dn_h5_write_attr_f64 (h, "/screening", "dataset_count", (double) s->dataset_count));
  H5_TRY (dn_h5_write_attr_f64 (h, "/screening", "n_valid", (double) s->n_valid));
  H5_TRY (dn_h5_write_attr_f64 (h, "/screening", "n_failed", (double) s->n_failed));
out:
  return st;
}

gboolean
dn_app_project_save (DnAppProject *self, const char *path, GError **error)
{
  if (!self->twin)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("No model is open"));
      return FALSE;
    }
  if (self->busy)
    {
      /* a screening run writes HDF5 on its worker, and Debian's libhdf5 is not thread-safe */
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_BUSY,
                           _("A computation is running; save when it has finished or been cancelled"));
      return FALSE;
    }
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  DnStatus st = DN_OK;
  DnH5 *h = dn_h5_create (tmp, &st);
  if (!h)
    return dn_app_error_from_status (st, NULL, error);
  H5_TRY (dn_h5_write_attr_str (h, "/", "format", PROJECT_FORMAT));
  H5_TRY (dn_h5_write_attr_f64 (h, "/", "version", PROJECT_VERSION));
  H5_TRY (dn_h5_write_attr_str (h, "/", "software", "DualNeuron " DN_VERSION));
  H5_TRY (dn_h5_write_attr_str (h, "/", "model", self->model_spec));
  H5_TRY (dn_h5_write_attr_str (h, "/", "model_name", self->model_name));
  H5_TRY (dn_h5_create_group (h, "/poles"));
  {
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init (&it, self->poles);
    while (g_hash_table_iter_next (&it, NULL, &value))
      H5_TRY (write_pole (h, self->model_name, value));
  }
  if (self->blank)
    {
      int64_t n = dn_twin_info (self->twin)->n_neurons;
      H5_TRY (dn_h5_write_f32 (h, "/blank_responses", self->blank, 1, &n, false));
    }
  if (self->screening)
    H5_TRY (write_screening (h, self->screening));
out:
  {
    DnStatus cst = dn_h5_close (h);
    if (st == DN_OK)
      st = cst;
  }
  if (st != DN_OK)
    {
      g_unlink (tmp);
      g_autofree char *detail = g_strdup_printf (_("Cannot save the project “%s”"), path);
      return dn_app_error_from_status (st, detail, error);
    }
  if (!dn_app_file_commit (tmp, path, error))
    return FALSE;
  if (g_strcmp0 (self->path, path) != 0)
    {
      g_free (self->path);
      self->path = g_strdup (path);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
    }
  set_dirty (self, FALSE);
  return TRUE;
}

static DnAppPole *
read_pole (DnH5 *h, const char *g, DnStatus *stp)
{
  DnStatus st = DN_OK;
  DnAppPole *p = g_new0 (DnAppPole, 1);
  double v;
  int nd;
  int64_t shape[8];
  float *buf = NULL;
  g_autofree char *pi = g_strconcat (g, "/image", NULL);
  g_autofree char *pa = g_strconcat (g, "/alpha", NULL);
  g_autofree char *pact = g_strconcat (g, "/activations", NULL);
  g_autofree char *pm = g_strconcat (g, "/member_responses", NULL);
  H5_TRY (dn_h5_read_attr_f64 (h, g, "neuron_id", &v));
  p->neuron = (int) v;
  H5_TRY (dn_h5_read_attr_f64 (h, g, "seed", &v));
  p->seed = (guint32) v;
  H5_TRY (dn_h5_read_attr_f64 (h, g, "weight", &v));
  p->weight = v > 0 ? 1 : -1;
  H5_TRY (dn_h5_read_attr_f64 (h, g, "response", &v));
  p->response = (float) v;
  p->rf_cosine = NAN;
  if (dn_h5_read_attr_f64 (h, g, "initial_response", &v) == DN_OK)
    p->initial_response = (float) v;
  if (dn_h5_read_attr_f64 (h, g, "rf_cosine", &v) == DN_OK)
    p->rf_cosine = v;
  H5_TRY (dn_h5_read_f32 (h, pi, &p->image, &nd, shape));
  if (nd != 3)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: %s is not (C,H,W)", dn_h5_path (h), pi);
      goto out;
    }
  p->channels = (int) shape[0], p->height = (int) shape[1], p->width = (int) shape[2];
  /* (the buffers dn-h5 returns are kept: GLib ≥ 2.46 allocates with the system malloc) */
  if (dn_h5_exists (h, pa))
    {
      H5_TRY (dn_h5_read_f32 (h, pa, &buf, &nd, shape));
      if (nd == 3 && shape[0] == p->channels && shape[1] == p->height && shape[2] == p->width)
        p->alpha = g_steal_pointer (&buf); /* an alpha map of another shape is dropped */
      g_clear_pointer (&buf, free);
    }
  if (dn_h5_exists (h, pact))
    {
      H5_TRY (dn_h5_read_f32 (h, pact, &p->activations, &nd, shape));
      p->steps = nd == 1 ? (int) shape[0] : 0;
    }
  if (dn_h5_exists (h, pm))
    {
      H5_TRY (dn_h5_read_f32 (h, pm, &p->member_responses, &nd, shape));
      p->n_members = nd == 1 ? (int) shape[0] : 0;
    }
out:
  if (st != DN_OK)
    g_clear_pointer (&p, dn_app_pole_free);
  *stp = st;
  return p;
}

/* (GLib ≥ 2.46 allocates with the system malloc, so the buffers dn-h5 returns are kept as they are.) */
static DnStatus
read_screening (DnH5 *h, DnAppScreening **out)
{
  DnStatus st = DN_OK;
  DnAppScreening *s = g_new0 (DnAppScreening, 1);
  double v;
  int nd;
  int64_t shape[8];
  H5_TRY (dn_h5_read_attr_str (h, "/screening", "dataset", &s->dataset));
  H5_TRY (dn_h5_read_i64 (h, "/screening/top_index", (int64_t **) &s->top_index, &nd, shape));
  if (nd != 2)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: /screening/top_index is not 2-D", dn_h5_path (h));
      goto out;
    }
  s->n_neurons = (int) shape[0], s->top_k = (int) shape[1];
  /* every list must have the shape of top_index, the statistics one row per neuron */
  struct
  {
    const char *path;
    void **data;
    bool i64;
  } lists[] = { { "/screening/bottom_index", (void **) &s->bottom_index, true },
                { "/screening/top_value", (void **) &s->top_value, false },
                { "/screening/bottom_value", (void **) &s->bottom_value, false } };
  for (size_t i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      H5_TRY (lists[i].i64 ? dn_h5_read_i64 (h, lists[i].path, (int64_t **) lists[i].data, &nd, shape)
                           : dn_h5_read_f32 (h, lists[i].path, (float **) lists[i].data, &nd, shape));
      if (nd != 2 || shape[0] != s->n_neurons || shape[1] != s->top_k)
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: %s does not have the shape of /screening/top_index (%d, %d)",
                             dn_h5_path (h), lists[i].path, s->n_neurons, s->top_k);
          goto out;
        }
    }
  H5_TRY (dn_h5_read_f64 (h, "/screening/stats", &s->stats, &nd, shape));
  if (nd != 2 || shape[0] != s->n_neurons || shape[1] != DN_APP_N_STATS)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: /screening/stats has the wrong shape", dn_h5_path (h));
      goto out;
    }
  if (dn_h5_read_attr_f64 (h, "/screening", "dataset_count", &v) == DN_OK)
    s->dataset_count = (gint64) v;
  if (dn_h5_read_attr_f64 (h, "/screening", "n_valid", &v) == DN_OK)
    s->n_valid = (gint64) v;
  if (dn_h5_read_attr_f64 (h, "/screening", "n_failed", &v) == DN_OK)
    s->n_failed = (gint64) v;
out:
  if (st != DN_OK)
    g_clear_pointer (&s, dn_app_screening_free);
  *out = s;
  return st;
}

static gboolean
read_project (OpenData *d, GError **error)
{
  DnStatus st = DN_OK;
  DnH5 *h = dn_h5_open (d->project_path, false, &st);
  if (!h)
    return dn_app_error_from_status (st, NULL, error);
  char *format = NULL, *model = NULL;
  char **neurons = NULL;
  int n_neurons = 0;
  if (dn_h5_read_attr_str (h, "/", "format", &format) != DN_OK || strcmp (format, PROJECT_FORMAT) != 0)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: not a DualNeuron project file (format attribute '%s')",
                         d->project_path, format ? format : "missing");
      goto out;
    }
  H5_TRY (dn_h5_read_attr_str (h, "/", "model", &model));
  d->spec = g_strdup (model);
  d->poles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) dn_app_pole_free);
  if (dn_h5_exists (h, "/poles"))
    {
      n_neurons = dn_h5_list (h, "/poles", &neurons, &st);
      if (n_neurons < 0)
        goto out;
      for (int i = 0; i < n_neurons && st == DN_OK; i++)
        {
          g_autofree char *gn = g_strconcat ("/poles/", neurons[i], NULL);
          char **seeds = NULL;
          int n_seeds = dn_h5_list (h, gn, &seeds, &st);
          for (int j = 0; j < n_seeds && st == DN_OK; j++)
            {
              for (int w = 0; w < 2 && st == DN_OK; w++)
                {
                  g_autofree char *g = g_strdup_printf ("%s/%s/%s", gn, seeds[j], w == 0 ? "most" : "least");
                  if (!dn_h5_exists (h, g))
                    continue;
                  DnAppPole *p = read_pole (h, g, &st);
                  if (p)
                    g_hash_table_insert (d->poles, pole_key (p->neuron, p->seed, p->weight), p);
                }
            }
          for (int j = 0; j < n_seeds; j++)
            free (seeds[j]);
          free (seeds);
        }
      if (st != DN_OK)
        goto out;
    }
  if (dn_h5_exists (h, "/blank_responses"))
    {
      int nd;
      int64_t shape[8];
      float *b = NULL;
      H5_TRY (dn_h5_read_f32 (h, "/blank_responses", &b, &nd, shape));
      d->blank = g_memdup2 (b, (gsize) shape[0] * sizeof (float));
      d->n_blank = (int) shape[0];
      free (b);
    }
  if (dn_h5_exists (h, "/screening"))
    H5_TRY (read_screening (h, &d->screening));
out:
  for (int i = 0; i < n_neurons; i++)
    free (neurons[i]);
  free (neurons);
  free (format);
  free (model);
  dn_h5_close (h);
  if (st != DN_OK)
    {
      g_autofree char *detail = g_strdup_printf (_("Cannot open the project “%s”"), d->project_path);
      return dn_app_error_from_status (st, detail, error);
    }
  return TRUE;
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpenData *d = task_data;
  GError *error = NULL;
  if (!read_project (d, &error) || !open_twin (d, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
dn_app_project_load_async (DnAppProject *self, const char *path, int device_index, int threads,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, dn_app_project_load_async);
  GError *error = NULL;
  if (!start_open (self, task, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  OpenData *d = g_new0 (OpenData, 1);
  d->project_path = g_strdup (path);
  d->device_index = device_index;
  d->threads = threads;
  g_task_set_task_data (task, d, (GDestroyNotify) open_data_free);
  g_task_run_in_thread (task, load_thread);
}

gboolean
dn_app_project_load_finish (DnAppProject *self, GAsyncResult *result, GError **error)
{
  return dn_app_project_open_model_finish (self, result, error);
}

/* Accessors ------------------------------------------------------------------------------------------ */

gboolean
dn_app_project_has_model (DnAppProject *self)
{
  return self->twin != NULL;
}

const char *
dn_app_project_get_model_spec (DnAppProject *self)
{
  return self->model_spec;
}

const char *
dn_app_project_get_model_name (DnAppProject *self)
{
  return self->model_name;
}

const char *
dn_app_project_get_device_name (DnAppProject *self)
{
  return self->device_name;
}

const char *
dn_app_project_get_path (DnAppProject *self)
{
  return self->path;
}

gboolean
dn_app_project_get_dirty (DnAppProject *self)
{
  return self->dirty;
}

const DnTwinInfo *
dn_app_project_get_info (DnAppProject *self)
{
  return self->twin ? dn_twin_info (self->twin) : NULL;
}

const float *
dn_app_project_get_mask (DnAppProject *self, int *h, int *w)
{
  *h = *w = 0;
  if (!self->twin)
    return NULL;
  int64_t mh = 0, mw = 0;
  const float *m = dn_twin_mask (self->twin, &mh, &mw);
  *h = (int) mh, *w = (int) mw;
  return m;
}

float
dn_app_project_get_input_norm (DnAppProject *self)
{
  return self->twin ? dn_twin_input_norm (self->twin) : 0;
}

gboolean
dn_app_project_is_gabor (DnAppProject *self)
{
  return self->twin && strcmp (dn_twin_name (self->twin), "builtin:gabor-v1") == 0;
}

const float *
dn_app_project_get_true_rf (DnAppProject *self, int neuron)
{
  return dn_app_project_is_gabor (self) ? dn_twin_gabor_filter (self->twin, neuron) : NULL;
}

GListModel *
dn_app_project_get_neurons (DnAppProject *self)
{
  return G_LIST_MODEL (self->neurons);
}

DnAppNeuron *
dn_app_project_get_neuron (DnAppProject *self, int index)
{
  if (index < 0)
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->neurons), (guint) index);
}

gboolean
dn_app_project_get_busy (DnAppProject *self)
{
  return self->busy;
}

DnTwin *
dn_app_project_begin_job (DnAppProject *self, GError **error)
{
  if (!self->twin)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("No model is open"));
      return NULL;
    }
  if (self->busy)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_BUSY, _("Another computation is running"));
      return NULL;
    }
  self->busy = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  return self->twin;
}

void
dn_app_project_end_job (DnAppProject *self)
{
  self->busy = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

void
dn_app_project_add_pole (DnAppProject *self, const DnAppPole *pole)
{
  g_hash_table_insert (self->poles, pole_key (pole->neuron, pole->seed, pole->weight), pole_copy (pole));
  update_neuron_poles (self, pole->neuron);
  set_dirty (self, TRUE);
  g_signal_emit (self, signals[SIGNAL_POLES_CHANGED], 0, pole->neuron);
}

const DnAppPole *
dn_app_project_get_pole (DnAppProject *self, int neuron, guint32 seed, int weight)
{
  g_autofree char *key = pole_key (neuron, seed, weight);
  return g_hash_table_lookup (self->poles, key);
}

static int
cmp_pole (gconstpointer a, gconstpointer b)
{
  const DnAppPole *p = *(const DnAppPole **) a, *q = *(const DnAppPole **) b;
  if (p->seed != q->seed)
    return p->seed < q->seed ? -1 : 1;
  return q->weight - p->weight;
}

GPtrArray *
dn_app_project_list_poles (DnAppProject *self, int neuron)
{
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, self->poles);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (((DnAppPole *) value)->neuron == neuron)
      g_ptr_array_add (out, value);
  g_ptr_array_sort (out, cmp_pole);
  return out;
}

guint
dn_app_project_get_n_poles (DnAppProject *self)
{
  return g_hash_table_size (self->poles);
}

void
dn_app_project_set_blank_responses (DnAppProject *self, const float *responses, int n)
{
  if (!self->twin || n != dn_twin_info (self->twin)->n_neurons)
    return;
  g_free (self->blank);
  self->blank = g_memdup2 (responses, (gsize) n * sizeof (float));
  set_dirty (self, TRUE);
}

double
dn_app_project_get_blank_response (DnAppProject *self, int neuron)
{
  if (!self->blank || !self->twin || neuron < 0 || neuron >= dn_twin_info (self->twin)->n_neurons)
    return NAN;
  return self->blank[neuron];
}

void
dn_app_project_set_screening (DnAppProject *self, DnAppScreening *screening)
{
  dn_app_screening_free (self->screening);
  self->screening = screening;
  update_all_screening (self);
  set_dirty (self, TRUE);
  g_signal_emit (self, signals[SIGNAL_SCREENING_CHANGED], 0);
}

const DnAppScreening *
dn_app_project_get_screening (DnAppProject *self)
{
  return self->screening;
}

DnStatus
_dn_app_project_preprocess_init (DnAppProject *self, DnPreprocess *pp, const DnPreprocessOptions *opts)
{
  if (!self->twin)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "no model is open");
  return dn_preprocess_init (pp, self->twin, opts);
}

DnDevice *
_dn_app_project_get_device (DnAppProject *self)
{
  return self->device;
}
