/* dn-app-export-dialog.c: the export dialog (see dn-app-export-dialog.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-export-dialog.h"
#include "dn-app-export.h"
#include "dn-app-synth-job.h"

struct _DnAppExportDialog
{
  AdwWindow parent_instance;
  DnAppWindow *parent;    /* weak: the dialog is transient for it */
  DnAppProject *project;
  GSettings *settings;
  char *folder;

  AdwEntryRow *neurons_row;
  GtkSwitch *poles_switch, *screened_switch;
  GtkSpinButton *count_spin, *size_spin;
  AdwActionRow *folder_row;
  GtkWidget *export_button;
};

G_DEFINE_FINAL_TYPE (DnAppExportDialog, dn_app_export_dialog, ADW_TYPE_WINDOW)

void
dn_app_export_dialog_set_folder (DnAppExportDialog *self, const char *folder)
{
  g_free (self->folder);
  self->folder = g_strdup (folder);
  adw_action_row_set_subtitle (self->folder_row, folder ? folder : "");
  gtk_widget_set_sensitive (self->export_button, folder != NULL);
}

static void
on_choose_response (GtkNativeDialog *native, int response, DnAppExportDialog *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) f = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autofree char *path = f ? g_file_get_path (f) : NULL;
      if (path)
        dn_app_export_dialog_set_folder (self, path);
    }
  g_object_unref (native);
  g_object_unref (self);
}

static void
on_choose (DnAppExportDialog *self)
{
  GtkFileChooserNative *native = gtk_file_chooser_native_new (_("Export to Folder"), GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, NULL, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect (native, "response", G_CALLBACK (on_choose_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
export_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppExportDialog *self = user_data;
  g_autoptr (GError) error = NULL;
  int n = dn_app_export_finish (DN_APP_PROJECT (source), result, &error);
  if (self->parent)
    {
      if (n < 0)
        dn_app_window_show_error (self->parent, _("Export failed"), error);
      else
        {
          g_autofree char *msg = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Exported %d image", "Exported %d images", n), n);
          dn_app_window_toast (self->parent, msg);
        }
    }
  gtk_window_destroy (GTK_WINDOW (self));
  g_object_unref (self);
}

static void
on_export (DnAppExportDialog *self)
{
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  if (!info || !self->folder)
    return;
  g_autoptr (GError) error = NULL;
  DnAppExportOptions o = { 0 };
  o.neurons = dn_app_parse_neurons (gtk_editable_get_text (GTK_EDITABLE (self->neurons_row)), info->n_neurons,
                                    &o.n_neurons, &error);
  if (!o.neurons)
    {
      if (self->parent)
        dn_app_window_show_error (self->parent, _("Cannot export"), error);
      return;
    }
  o.folder = g_strdup (self->folder);
  o.poles = gtk_switch_get_active (self->poles_switch);
  o.screened = gtk_switch_get_active (self->screened_switch);
  o.n_screened = gtk_spin_button_get_value_as_int (self->count_spin);
  o.size = gtk_spin_button_get_value_as_int (self->size_spin);
  o.boost = g_settings_get_double (self->settings, "export-boost");
  g_settings_set_int (self->settings, "export-size", o.size);
  gtk_widget_set_sensitive (self->export_button, FALSE);
  dn_app_export_async (self->project, &o, NULL, export_cb, g_object_ref (self));
  dn_app_export_options_clear (&o);
}

GtkWidget *
dn_app_export_dialog_get_export_button (DnAppExportDialog *self)
{
  return self->export_button;
}

GtkEditable *
dn_app_export_dialog_get_neurons_entry (DnAppExportDialog *self)
{
  return GTK_EDITABLE (self->neurons_row);
}

GtkSwitch *
dn_app_export_dialog_get_screened_switch (DnAppExportDialog *self)
{
  return self->screened_switch;
}

static void
dn_app_export_dialog_dispose (GObject *object)
{
  DnAppExportDialog *self = DN_APP_EXPORT_DIALOG (object);
  g_clear_weak_pointer (&self->parent);
  g_clear_object (&self->project);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->folder, g_free);
  G_OBJECT_CLASS (dn_app_export_dialog_parent_class)->dispose (object);
}

static void
dn_app_export_dialog_class_init (DnAppExportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_export_dialog_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-export-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, neurons_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, poles_switch);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, screened_switch);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, count_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, size_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, folder_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppExportDialog, export_button);
  gtk_widget_class_bind_template_callback (widget_class, on_export);
  gtk_widget_class_bind_template_callback (widget_class, on_choose);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
dn_app_export_dialog_init (DnAppExportDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  gtk_spin_button_set_value (self->size_spin, g_settings_get_int (self->settings, "export-size"));
  dn_app_export_dialog_set_folder (self, NULL);
}

DnAppExportDialog *
dn_app_export_dialog_new (DnAppWindow *parent, DnAppProject *project, int selected)
{
  DnAppExportDialog *self = g_object_new (DN_APP_TYPE_EXPORT_DIALOG, "transient-for", parent, NULL);
  g_set_weak_pointer (&self->parent, parent);
  self->project = g_object_ref (project);
  g_autofree char *sel = selected >= 0 ? g_strdup_printf ("%d", selected) : g_strdup ("all");
  gtk_editable_set_text (GTK_EDITABLE (self->neurons_row), sel);
  gboolean screened = dn_app_project_get_screening (project) != NULL;
  gtk_switch_set_active (self->screened_switch, screened);
  gtk_widget_set_sensitive (GTK_WIDGET (self->screened_switch), screened);
  g_autofree char *folder = g_build_filename (g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS)
                                                ? g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS) : g_get_home_dir (),
                                              "DualNeuron stimuli", NULL);
  dn_app_export_dialog_set_folder (self, folder);
  return self;
}
