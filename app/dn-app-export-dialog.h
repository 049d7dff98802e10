/* dn-app-export-dialog.h: the "Export Stimulus Set" dialog over dn-app-export. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include "dn-app-window.h"

G_BEGIN_DECLS

#define DN_APP_TYPE_EXPORT_DIALOG (dn_app_export_dialog_get_type ())
G_DECLARE_FINAL_TYPE (DnAppExportDialog, dn_app_export_dialog, DN_APP, EXPORT_DIALOG, AdwWindow)

DnAppExportDialog *dn_app_export_dialog_new (DnAppWindow *parent, DnAppProject *project, int selected);
/* For tests: set the folder without the file chooser, then press Export. */
void dn_app_export_dialog_set_folder (DnAppExportDialog *self, const char *folder);
GtkWidget *dn_app_export_dialog_get_export_button (DnAppExportDialog *self);
GtkEditable *dn_app_export_dialog_get_neurons_entry (DnAppExportDialog *self);
GtkSwitch *dn_app_export_dialog_get_screened_switch (DnAppExportDialog *self);

G_END_DECLS
