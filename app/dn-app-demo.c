/* dn-app-demo.c: demo mode (see dn-app-demo.h). One neuron at a time: a synthesis job of both poles with
 * one seed; its previews fill the two pictures as they form; after the run the result stays up for
 * `demo-interval` seconds, then the next neuron starts. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-demo.h"
#include "dn-app-error.h"
#include "dn-app-plot.h"
#include "dn-app-synth-job.h"

struct _DnAppDemo
{
  AdwWindow parent_instance;
  DnAppProject *project;
  GSettings *settings;
  DnAppSynthJob *job;
  GCancellable *cancellable;
  guint timeout_id;
  int neuron;
  guint n_shown;

  GtkLabel *title_label, *caption_label, *most_label, *least_label;
  GtkPicture *most_picture, *least_picture;
  DnAppPlot *curves_plot;
};

G_DEFINE_FINAL_TYPE (DnAppDemo, dn_app_demo, ADW_TYPE_WINDOW)

static void start_next (DnAppDemo *self);

static gboolean
next_timeout (gpointer data)
{
  DnAppDemo *self = data;
  self->timeout_id = 0;
  start_next (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_next (DnAppDemo *self, int seconds)
{
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  self->timeout_id = g_timeout_add_seconds ((guint) MAX (seconds, 1), next_timeout, self);
}

static void
on_preview (DnAppDemo *self)
{
  dn_app_plot_clear (self->curves_plot);
  for (guint i = 0; i < dn_app_synth_job_get_n_previews (self->job); i++)
    {
      int neuron, weight;
      const GArray *curve = dn_app_synth_job_get_curve (self->job, i, &neuron, &weight);
      GdkTexture *t = dn_app_synth_job_get_preview (self->job, i);
      float last = curve && curve->len ? g_array_index (curve, float, curve->len - 1) : 0;
      g_autofree char *cap = g_strdup_printf (weight > 0 ? _("Most exciting · response %.2f") : _("Least exciting · response %.2f"), last);
      gtk_picture_set_paintable (weight > 0 ? self->most_picture : self->least_picture, GDK_PAINTABLE (t));
      gtk_label_set_text (weight > 0 ? self->most_label : self->least_label, cap);
      if (curve)
        dn_app_plot_add_series (self->curves_plot, (const float *) (gpointer) curve->data, curve->len,
                                weight > 0 ? 0xe01b24 : 0x1c71d8, NULL);
    }
  dn_app_plot_set_labels (self->curves_plot, _("The neuron's response while the images form"), _("step"), _("response"));
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppDemo *self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = dn_app_synth_job_run_finish (DN_APP_SYNTH_JOB (source), result, &error);
  g_signal_handlers_disconnect_by_data (source, self);
  g_clear_object (&self->job);
  g_clear_object (&self->cancellable);
  if (ok)
    {
      self->n_shown++;
      schedule_next (self, g_settings_get_int (self->settings, "demo-interval"));
    }
  else if (!g_error_matches (error, DN_APP_ERROR, DN_APP_ERROR_CANCELLED) && gtk_widget_get_visible (GTK_WIDGET (self)))
    {
      gtk_label_set_text (self->caption_label, error->message);
      schedule_next (self, 3);
    }
  g_object_unref (self);
}

static void
start_next (DnAppDemo *self)
{
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  if (!info || self->job)
    return;
  if (dn_app_project_get_busy (self->project))
    {
      gtk_label_set_text (self->caption_label, _("Waiting for the computation in progress…"));
      schedule_next (self, 2);
      return;
    }
  self->neuron = (self->neuron + 1) % info->n_neurons;
  g_autoptr (DnAppNeuron) row = dn_app_project_get_neuron (self->project, self->neuron);
  g_autofree char *title = g_strdup_printf (_("Neuron %04d"), self->neuron);
  gtk_label_set_text (self->title_label, title);
  const char *desc = row ? dn_app_neuron_get_description (row) : "";
  g_autofree char *caption = g_strdup_printf ("%s%s%s", dn_app_project_get_model_name (self->project),
                                              *desc ? " · " : "", desc);
  gtk_label_set_text (self->caption_label, caption);
  gtk_picture_set_paintable (self->most_picture, NULL);
  gtk_picture_set_paintable (self->least_picture, NULL);
  int neurons[1] = { self->neuron };
  g_autofree char *preset = g_settings_get_string (self->settings, "synth-preset");
  const char *recipe = info->in_channels == 3 ? "v4-fourier" : dn_app_project_is_gabor (self->project) ? "gabor-pixel" : preset;
  self->job = dn_app_synth_job_new (self->project, recipe,
                                    g_settings_get_int (self->settings, "synth-steps"), neurons, 1, 1, TRUE, TRUE);
  self->cancellable = g_cancellable_new ();
  g_signal_connect_swapped (self->job, "preview", G_CALLBACK (on_preview), self);
  dn_app_synth_job_run_async (self->job, self->cancellable, run_cb, g_object_ref (self));
}

static void
dn_app_demo_dispose (GObject *object)
{
  DnAppDemo *self = DN_APP_DEMO (object);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  if (self->job)
    g_signal_handlers_disconnect_by_data (self->job, self);
  g_clear_object (&self->project);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_demo_parent_class)->dispose (object);
}

static gboolean
dn_app_demo_close_request (GtkWindow *window)
{
  DnAppDemo *self = DN_APP_DEMO (window);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  return GTK_WINDOW_CLASS (dn_app_demo_parent_class)->close_request (window);
}

static void
dn_app_demo_class_init (DnAppDemoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_demo_dispose;
  GTK_WINDOW_CLASS (klass)->close_request = dn_app_demo_close_request;
  g_type_ensure (DN_APP_TYPE_PLOT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-demo.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, title_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, caption_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, most_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, least_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, most_picture);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, least_picture);
  gtk_widget_class_bind_template_child (widget_class, DnAppDemo, curves_plot);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0, "window.close", NULL);
}

static void
dn_app_demo_init (DnAppDemo *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

static gboolean
start_idle (gpointer data)
{
  start_next (data);
  return G_SOURCE_REMOVE;
}

DnAppDemo *
dn_app_demo_new (DnAppProject *project, GSettings *settings)
{
  DnAppDemo *self = g_object_new (DN_APP_TYPE_DEMO, NULL);
  self->project = g_object_ref (project);
  self->settings = g_object_ref (settings);
  const DnTwinInfo *info = dn_app_project_get_info (project);
  self->neuron = info ? g_random_int_range (0, info->n_neurons) - 1 : -1;
  g_idle_add_full (G_PRIORITY_DEFAULT, start_idle, g_object_ref (self), g_object_unref);
  return self;
}

guint
dn_app_demo_get_n_shown (DnAppDemo *self)
{
  return self->n_shown;
}

int
dn_app_demo_get_neuron (DnAppDemo *self)
{
  return self->neuron;
}
