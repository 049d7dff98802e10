/* dn-app-screen-panel.c: the screening panel (see dn-app-screen-panel.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-plot.h"
#include "dn-app-screen-job.h"
#include "dn-app-screen-panel.h"
#include "dn-app-util.h"

struct _DnAppScreenPanel
{
  GtkWidget parent_instance;
  DnAppProject *project;
  GSettings *settings;
  DnAppScreenJob *job;
  GCancellable *cancellable;
  GApplication *held; /* while a job runs */

  AdwComboRow *builtin_row;
  AdwEntryRow *dataset_row;
  GtkSpinButton *topk_spin;
  GtkWidget *start_button, *cancel_button;
  GtkProgressBar *progress_bar;
  GtkLabel *message_label, *summary_label;
  DnAppPlot *gini_plot, *max_plot;
};

G_DEFINE_FINAL_TYPE (DnAppScreenPanel, dn_app_screen_panel, GTK_TYPE_WIDGET)

static const char *builtins[] = { "builtin:gratings", "builtin:plaids", "builtin:noise", "builtin:shapes" };

static void
update_population (DnAppScreenPanel *self)
{
  const DnAppScreening *s = self->project ? dn_app_project_get_screening (self->project) : NULL;
  dn_app_plot_clear (self->gini_plot);
  dn_app_plot_clear (self->max_plot);
  if (!s)
    {
      gtk_label_set_text (self->summary_label, _("No screening yet."));
      return;
    }
  g_autofree double *gini = g_new (double, s->n_neurons);
  g_autofree double *max = g_new (double, s->n_neurons);
  int active = 0;
  for (int k = 0; k < s->n_neurons; k++)
    {
      const double *st = s->stats + (gsize) k * DN_APP_N_STATS;
      gini[k] = st[0];
      max[k] = st[6];
      active += st[10] > 0;
    }
  dn_app_plot_set_histogram (self->gini_plot, gini, (guint) s->n_neurons, 24, 0x3584e4);
  dn_app_plot_set_labels (self->gini_plot, _("Selectivity (Gini coefficient) across neurons"), _("Gini"), _("neurons"));
  dn_app_plot_set_histogram (self->max_plot, max, (guint) s->n_neurons, 24, 0xe66100);
  dn_app_plot_set_labels (self->max_plot, _("Maximum response across neurons"), _("max response"), _("neurons"));
  g_autofree char *text = g_strdup_printf (_("%s: %lld images screened, %lld unreadable · %d of %d neurons active · "
                                             "top and bottom %d kept"),
                                           s->dataset, (long long) s->n_valid, (long long) s->n_failed, active,
                                           s->n_neurons, s->top_k);
  gtk_label_set_text (self->summary_label, text);
}

static void
set_running (DnAppScreenPanel *self, gboolean running)
{
  gtk_widget_set_sensitive (self->start_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
}

static void
on_progress (DnAppScreenPanel *self)
{
  gtk_progress_bar_set_fraction (self->progress_bar, dn_app_job_get_fraction (DN_APP_JOB (self->job)));
  gtk_label_set_text (self->message_label, dn_app_job_get_message (DN_APP_JOB (self->job)));
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppScreenPanel *self = user_data;
  DnAppScreenJob *job = DN_APP_SCREEN_JOB (source);
  g_autoptr (GError) error = NULL;
  if (dn_app_screen_job_run_finish (job, result, &error))
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 1.0);
      const DnAppScreening *scr = dn_app_project_get_screening (self->project);
      g_autofree char *msg = g_strdup_printf (_("Screened %lld images (%lld unreadable)"),
                                              (long long) (scr ? scr->n_valid : 0), (long long) (scr ? scr->n_failed : 0));
      gtk_label_set_text (self->message_label, msg);
      dn_app_report (GTK_WIDGET (self), NULL, NULL, _("Screening finished"));
    }
  else
    {
      gtk_label_set_text (self->message_label, error->message);
      dn_app_report (GTK_WIDGET (self), _("Screening stopped"), error, NULL);
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
on_start (DnAppScreenPanel *self)
{
  if (self->job || !self->project || !dn_app_project_has_model (self->project))
    return;
  const char *spec = gtk_editable_get_text (GTK_EDITABLE (self->dataset_row));
  int top_k = gtk_spin_button_get_value_as_int (self->topk_spin);
  g_settings_set_int (self->settings, "screen-top-k", top_k);
  self->job = dn_app_screen_job_new (self->project, spec, top_k, 0);
  self->cancellable = g_cancellable_new ();
  g_signal_connect_swapped (self->job, "notify::fraction", G_CALLBACK (on_progress), self);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_label_set_text (self->message_label, _("Starting…"));
  set_running (self, TRUE);
  self->held = dn_app_hold (GTK_WIDGET (self));
  dn_app_screen_job_run_async (self->job, self->cancellable, run_cb, g_object_ref (self));
}

static void
on_cancel (DnAppScreenPanel *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
}

static void
on_folder_response (GtkNativeDialog *native, int response, DnAppScreenPanel *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) f = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autofree char *path = f ? g_file_get_path (f) : NULL;
      if (path)
        gtk_editable_set_text (GTK_EDITABLE (self->dataset_row), path);
    }
  g_object_unref (native);
  g_object_unref (self);
}

static void
on_choose_folder (DnAppScreenPanel *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *native = gtk_file_chooser_native_new (_("Choose a Folder of Images"), GTK_WINDOW (root),
                                                              GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, NULL, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect (native, "response", G_CALLBACK (on_folder_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
on_builtin_selected (DnAppScreenPanel *self)
{
  guint i = adw_combo_row_get_selected (self->builtin_row);
  if (i < G_N_ELEMENTS (builtins))
    gtk_editable_set_text (GTK_EDITABLE (self->dataset_row), builtins[i]);
}

void
dn_app_screen_panel_set_project (DnAppScreenPanel *self, DnAppProject *project)
{
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  g_signal_connect_swapped (project, "screening-changed", G_CALLBACK (update_population), self);
  update_population (self);
}

gboolean
dn_app_screen_panel_get_running (DnAppScreenPanel *self)
{
  return self->job != NULL;
}

GtkWidget *
dn_app_screen_panel_get_start_button (DnAppScreenPanel *self)
{
  return self->start_button;
}

GtkEditable *
dn_app_screen_panel_get_dataset_entry (DnAppScreenPanel *self)
{
  return GTK_EDITABLE (self->dataset_row);
}

GtkSpinButton *
dn_app_screen_panel_get_top_k_spin (DnAppScreenPanel *self)
{
  return self->topk_spin;
}

static void
dn_app_screen_panel_dispose (GObject *object)
{
  DnAppScreenPanel *self = DN_APP_SCREEN_PANEL (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  if (self->job)
    g_signal_handlers_disconnect_by_data (self->job, self);
  dn_app_dispose_template (GTK_WIDGET (self), DN_APP_TYPE_SCREEN_PANEL);
  g_clear_object (&self->project);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_screen_panel_parent_class)->dispose (object);
}

static void
dn_app_screen_panel_class_init (DnAppScreenPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_screen_panel_dispose;
  g_type_ensure (DN_APP_TYPE_PLOT);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-screen-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, builtin_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, dataset_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, topk_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, start_button);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, message_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, summary_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, gini_plot);
  gtk_widget_class_bind_template_child (widget_class, DnAppScreenPanel, max_plot);
  gtk_widget_class_bind_template_callback (widget_class, on_start);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel);
  gtk_widget_class_bind_template_callback (widget_class, on_choose_folder);
}

static void
dn_app_screen_panel_init (DnAppScreenPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  gtk_spin_button_set_value (self->topk_spin, g_settings_get_int (self->settings, "screen-top-k"));
  g_signal_connect_swapped (self->builtin_row, "notify::selected", G_CALLBACK (on_builtin_selected), self);
}
