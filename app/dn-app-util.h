/* dn-app-util.h: small helpers shared by the app's classes. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Makes a finished temporary file the real one: fsync, then rename @tmp over @path. On failure @tmp is
 * removed and @error names @path. */
gboolean dn_app_file_commit (const char *tmp, const char *path, GError **error);

/* Tells the user, through the window that holds @widget: a dialog with @title for @error, else a toast
 * with @message. Without such a window (a widget not shown yet) the error is logged. */
void dn_app_report (GtkWidget *widget, const char *title, const GError *error, const char *message);

/* dispose for a widget made from a template with a bin layout: the template's objects, then any child
 * left (GTK 4.8 warns about children left at finalize). */
void dn_app_dispose_template (GtkWidget *widget, GType type);

/* Keeps the application running while a job runs in the background (g_application_hold/release on the
 * widget's window's application, if any); returns what to pass to dn_app_release. */
GApplication *dn_app_hold (GtkWidget *widget);
void dn_app_release (GApplication *app);

G_END_DECLS
