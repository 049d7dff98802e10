/* dn-app-synth-panel.c: the synthesis panel (see dn-app-synth-panel.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-plot.h"
#include "dn-app-synth-job.h"
#include "dn-app-synth-panel.h"
#include "dn-app-util.h"

struct _DnAppSynthPanel
{
  GtkWidget parent_instance;
  DnAppProject *project;
  GSettings *settings;
  DnAppSynthJob *job;
  GCancellable *cancellable;
  GApplication *held; /* while a job runs */
  int selection;

  AdwEntryRow *neurons_row;
  AdwComboRow *preset_row;
  GtkSpinButton *steps_spin, *seeds_spin;
  GtkSpinButton *lr_spin, *noise_spin, *crops_spin, *jitter_spin;
  GtkSwitch *most_switch, *least_switch;
  GtkWidget *start_button, *cancel_button;
  GtkProgressBar *progress_bar;
  GtkLabel *message_label;
  GtkFlowBox *preview_box;
  DnAppPlot *curves_plot;
};

G_DEFINE_FINAL_TYPE (DnAppSynthPanel, dn_app_synth_panel, GTK_TYPE_WIDGET)

static const char *presets[] = { "v1-pixel", "gabor-pixel", "v4-fourier" };

static void
set_running (DnAppSynthPanel *self, gboolean running)
{
  gtk_widget_set_sensitive (self->start_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
}

static void
on_progress (DnAppSynthPanel *self)
{
  gtk_progress_bar_set_fraction (self->progress_bar, dn_app_job_get_fraction (DN_APP_JOB (self->job)));
  gtk_label_set_text (self->message_label, dn_app_job_get_message (DN_APP_JOB (self->job)));
}

static void
on_preview (DnAppSynthPanel *self)
{
  DnAppSynthJob *job = self->job;
  guint n = dn_app_synth_job_get_n_previews (job);
  /* reuse the pictures of the previous preview */
  guint have = 0;
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->preview_box)); c; c = gtk_widget_get_next_sibling (c))
    have++;
  while (have > n)
    {
      gtk_flow_box_remove (self->preview_box, gtk_widget_get_last_child (GTK_WIDGET (self->preview_box)));
      have--;
    }
  for (; have < n; have++)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      gtk_widget_add_css_class (box, "preview-tile");
      GtkWidget *pic = gtk_picture_new ();
      gtk_picture_set_can_shrink (GTK_PICTURE (pic), TRUE);
      gtk_widget_set_size_request (pic, 112, 112);
      gtk_box_append (GTK_BOX (box), pic);
      GtkWidget *label = gtk_label_new (NULL);
      gtk_widget_add_css_class (label, "tile-label");
      gtk_box_append (GTK_BOX (box), label);
      gtk_flow_box_append (self->preview_box, box);
    }
  dn_app_plot_clear (self->curves_plot);
  guint i = 0;
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->preview_box)); c && i < n;
       c = gtk_widget_get_next_sibling (c), i++)
    {
      GtkWidget *box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (c));
      GtkWidget *pic = gtk_widget_get_first_child (box), *label = gtk_widget_get_last_child (box);
      gtk_picture_set_paintable (GTK_PICTURE (pic), GDK_PAINTABLE (dn_app_synth_job_get_preview (job, i)));
      int neuron = -1, weight = 0;
      const GArray *curve = dn_app_synth_job_get_curve (job, i, &neuron, &weight);
      float last = curve && curve->len ? g_array_index (curve, float, curve->len - 1) : 0;
      g_autofree char *cap = g_strdup_printf ("%04d %s  %.3g", neuron, weight > 0 ? "▲" : "▼", last);
      gtk_label_set_text (GTK_LABEL (label), neuron >= 0 ? cap : "");
      if (curve)
        dn_app_plot_add_series (self->curves_plot, (const float *) (gpointer) curve->data, curve->len,
                                weight > 0 ? 0xe01b24 : 0x1c71d8, NULL);
    }
  dn_app_plot_set_labels (self->curves_plot, _("Responses of the batch in flight (red: most, blue: least)"),
                          _("step"), _("response"));
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppSynthPanel *self = user_data;
  g_autoptr (GError) error = NULL;
  DnAppSynthJob *job = DN_APP_SYNTH_JOB (source);
  gboolean ok = dn_app_synth_job_run_finish (job, result, &error);
  if (ok)
    {
      g_autofree char *msg = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d pole synthesized", "%d poles synthesized",
                                                           dn_app_synth_job_get_n_jobs (job)),
                                              dn_app_synth_job_get_n_jobs (job));
      gtk_label_set_text (self->message_label, msg);
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
      dn_app_report (GTK_WIDGET (self), NULL, NULL, msg);
    }
  else
    {
      gtk_label_set_text (self->message_label, error->message);
      dn_app_report (GTK_WIDGET (self), _("Synthesis stopped"), error, NULL);
    }
  g_signal_handlers_disconnect_by_data (job, self);
  if (self->job == job)
    g_clear_object (&self->job);
  g_clear_object (&self->cancellable);
  dn_app_release (g_steal_pointer (&self->held));
  set_running (self, FALSE);
  g_object_unref (self);
}

static void
on_start (DnAppSynthPanel *self)
{
  if (self->job || !self->project)
    return;
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  if (!info)
    return;
  g_autoptr (GError) error = NULL;
  int n = 0;
  g_autofree int *neurons = dn_app_parse_neurons (gtk_editable_get_text (GTK_EDITABLE (self->neurons_row)),
                                                  info->n_neurons, &n, &error);
  if (!neurons)
    {
      dn_app_report (GTK_WIDGET (self), _("Cannot start the synthesis"), error, NULL);
      return;
    }
  gboolean most = gtk_switch_get_active (self->most_switch), least = gtk_switch_get_active (self->least_switch);
  if (!most && !least)
    {
      g_autoptr (GError) e = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                                  _("Choose the most or the least exciting pole (or both)"));
      dn_app_report (GTK_WIDGET (self), _("Cannot start the synthesis"), e, NULL);
      return;
    }
  guint pi = adw_combo_row_get_selected (self->preset_row);
  self->job = dn_app_synth_job_new (self->project, presets[MIN (pi, G_N_ELEMENTS (presets) - 1)], gtk_spin_button_get_value_as_int (self->steps_spin),
                                    neurons, n, gtk_spin_button_get_value_as_int (self->seeds_spin), most, least);
  self->cancellable = g_cancellable_new ();
  dn_app_synth_job_set_overrides (self->job, gtk_spin_button_get_value (self->lr_spin),
                                  gtk_spin_button_get_value (self->noise_spin),
                                  gtk_spin_button_get_value_as_int (self->crops_spin),
                                  gtk_spin_button_get_value (self->jitter_spin));
  g_signal_connect_swapped (self->job, "notify::fraction", G_CALLBACK (on_progress), self);
  g_signal_connect_swapped (self->job, "preview", G_CALLBACK (on_preview), self);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_label_set_text (self->message_label, _("Starting…"));
  set_running (self, TRUE);
  self->held = dn_app_hold (GTK_WIDGET (self));
  dn_app_synth_job_run_async (self->job, self->cancellable, run_cb, g_object_ref (self));
}

static void
on_cancel (DnAppSynthPanel *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
}

static void
on_use_selection (DnAppSynthPanel *self)
{
  if (self->selection >= 0)
    {
      g_autofree char *s = g_strdup_printf ("%d", self->selection);
      gtk_editable_set_text (GTK_EDITABLE (self->neurons_row), s);
    }
}

/* The advanced rows show the chosen recipe's values. */
static void
on_preset_changed (DnAppSynthPanel *self)
{
  guint i = adw_combo_row_get_selected (self->preset_row);
  if (i >= G_N_ELEMENTS (presets))
    return;
  g_settings_set_string (self->settings, "synth-preset", presets[i]);
  DnSynthParams p;
  if (dn_synth_params_preset (&p, presets[i]) != DN_OK)
    return;
  gtk_spin_button_set_value (self->lr_spin, p.lr);
  gtk_spin_button_set_value (self->noise_spin, p.noise);
  gtk_spin_button_set_value (self->crops_spin, p.n_crops);
  gtk_spin_button_set_value (self->jitter_spin, p.jitter);
}

static void
on_steps_changed (DnAppSynthPanel *self)
{
  g_settings_set_int (self->settings, "synth-steps", gtk_spin_button_get_value_as_int (self->steps_spin));
  g_settings_set_int (self->settings, "synth-seeds", gtk_spin_button_get_value_as_int (self->seeds_spin));
}

static void
on_model_changed (DnAppSynthPanel *self)
{
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  if (!info)
    return;
  /* the Fourier recipe for colour models, the jitter-free one for the built-in twin, else V1's */
  adw_combo_row_set_selected (self->preset_row, info->in_channels == 3 ? 2 : dn_app_project_is_gabor (self->project) ? 1 : 0);
}

void
dn_app_synth_panel_set_project (DnAppSynthPanel *self, DnAppProject *project)
{
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  g_signal_connect_swapped (project, "model-changed", G_CALLBACK (on_model_changed), self);
}

void
dn_app_synth_panel_set_selection (DnAppSynthPanel *self, int neuron)
{
  self->selection = neuron;
}

void
dn_app_synth_panel_start_for (DnAppSynthPanel *self, const char *neurons)
{
  gtk_editable_set_text (GTK_EDITABLE (self->neurons_row), neurons);
  on_start (self);
}

gboolean
dn_app_synth_panel_get_running (DnAppSynthPanel *self)
{
  return self->job != NULL;
}

GtkWidget *
dn_app_synth_panel_get_start_button (DnAppSynthPanel *self)
{
  return self->start_button;
}

GtkWidget *
dn_app_synth_panel_get_cancel_button (DnAppSynthPanel *self)
{
  return self->cancel_button;
}

GtkSpinButton *
dn_app_synth_panel_get_steps_spin (DnAppSynthPanel *self)
{
  return self->steps_spin;
}

GtkEditable *
dn_app_synth_panel_get_neurons_entry (DnAppSynthPanel *self)
{
  return GTK_EDITABLE (self->neurons_row);
}

guint
dn_app_synth_panel_get_n_previews (DnAppSynthPanel *self)
{
  guint n = 0;
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->preview_box)); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (c));
      if (gtk_picture_get_paintable (GTK_PICTURE (gtk_widget_get_first_child (box))))
        n++;
    }
  return n;
}

guint
dn_app_synth_panel_get_n_curve_points (DnAppSynthPanel *self)
{
  return dn_app_plot_get_n_points (self->curves_plot);
}

static void
dn_app_synth_panel_dispose (GObject *object)
{
  DnAppSynthPanel *self = DN_APP_SYNTH_PANEL (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->job)
    g_signal_handlers_disconnect_by_data (self->job, self);
  dn_app_dispose_template (GTK_WIDGET (self), DN_APP_TYPE_SYNTH_PANEL);
  g_clear_object (&self->project);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_synth_panel_parent_class)->dispose (object);
}

static void
dn_app_synth_panel_class_init (DnAppSynthPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_synth_panel_dispose;
  g_type_ensure (DN_APP_TYPE_PLOT);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-synth-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, neurons_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, preset_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, steps_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, seeds_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, lr_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, noise_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, crops_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, jitter_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, most_switch);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, least_switch);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, start_button);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, message_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, preview_box);
  gtk_widget_class_bind_template_child (widget_class, DnAppSynthPanel, curves_plot);
  gtk_widget_class_bind_template_callback (widget_class, on_start);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel);
  gtk_widget_class_bind_template_callback (widget_class, on_use_selection);
}

static void
dn_app_synth_panel_init (DnAppSynthPanel *self)
{
  self->selection = -1;
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  g_autofree char *preset = g_settings_get_string (self->settings, "synth-preset");
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_strcmp0 (preset, presets[i]) == 0)
      adw_combo_row_set_selected (self->preset_row, i);
  gtk_spin_button_set_value (self->steps_spin, g_settings_get_int (self->settings, "synth-steps"));
  gtk_spin_button_set_value (self->seeds_spin, g_settings_get_int (self->settings, "synth-seeds"));
  g_signal_connect_swapped (self->preset_row, "notify::selected", G_CALLBACK (on_preset_changed), self);
  on_preset_changed (self);
  g_signal_connect_swapped (self->steps_spin, "value-changed", G_CALLBACK (on_steps_changed), self);
  g_signal_connect_swapped (self->seeds_spin, "value-changed", G_CALLBACK (on_steps_changed), self);
  dn_app_plot_set_labels (self->curves_plot, _("Responses of the batch in flight"), _("step"), _("response"));
}
