/* dn-app-util.c: see dn-app-util.h. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "dn-app-util.h"
#include "dn-app-window.h"

gboolean
dn_app_file_commit (const char *tmp, const char *path, GError **error)
{
  int fd = g_open (tmp, O_RDONLY, 0);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
  if (g_rename (tmp, path) != 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

void
dn_app_report (GtkWidget *widget, const char *title, const GError *error, const char *message)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  if (!DN_APP_IS_WINDOW (root))
    {
      if (error)
        g_message ("%s: %s", title, error->message);
      return;
    }
  if (error)
    dn_app_window_show_error (DN_APP_WINDOW (root), title, error);
  else
    dn_app_window_toast (DN_APP_WINDOW (root), message);
}

void
dn_app_dispose_template (GtkWidget *widget, GType type)
{
  gtk_widget_dispose_template (widget, type);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (widget)))
    gtk_widget_unparent (child);
}

GApplication *
dn_app_hold (GtkWidget *widget)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkApplication *app = GTK_IS_WINDOW (root) ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;
  if (!app)
    return NULL;
  g_application_hold (G_APPLICATION (app));
  return G_APPLICATION (g_object_ref (app));
}

void
dn_app_release (GApplication *app)
{
  if (!app)
    return;
  g_application_release (app);
  g_object_unref (app);
}
