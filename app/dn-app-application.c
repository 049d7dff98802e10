/* dn-app-application.c: the application object (see dn-app-application.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-application.h"
#include "dn-app-window.h"

struct _DnAppApplication
{
  AdwApplication parent_instance;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (DnAppApplication, dn_app_application, ADW_TYPE_APPLICATION)

static DnAppWindow *
new_window (DnAppApplication *self)
{
  DnAppWindow *win = dn_app_window_new (GTK_APPLICATION (self));
  gtk_window_present (GTK_WINDOW (win));
  return win;
}

static void
dn_app_application_activate (GApplication *app)
{
  DnAppApplication *self = DN_APP_APPLICATION (app);
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (win)
    {
      gtk_window_present (win);
      return;
    }
  DnAppWindow *w = new_window (self);
  g_autofree char *model = g_settings_get_string (self->settings, "last-model");
  dn_app_window_open_model (w, model && *model ? model : "builtin:gabor-v1");
}

static void
dn_app_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  DnAppApplication *self = DN_APP_APPLICATION (app);
  for (int i = 0; i < n_files; i++)
    {
      DnAppWindow *w = new_window (self);
      g_autofree char *path = g_file_get_path (files[i]);
      g_autofree char *uri = g_file_get_uri (files[i]);
      /* builtin:NAME arrives as a URI of that scheme */
      if (g_str_has_prefix (uri, "builtin:"))
        dn_app_window_open_model (w, uri);
      else if (path && (g_str_has_suffix (path, ".dnproj.h5") || g_str_has_suffix (path, ".dnproj")))
        dn_app_window_open_project (w, path);
      else if (path)
        dn_app_window_open_model (w, path);
    }
}

static void
dn_app_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (dn_app_application_parent_class)->startup (app);
  DnAppApplication *self = DN_APP_APPLICATION (app);
  self->settings = g_settings_new (DN_APP_ID);
  _dn_app_application_actions_init (self);
#ifdef DN_SOURCE_ICONS_DIR
  if (g_file_test (DN_SOURCE_ICONS_DIR, G_FILE_TEST_IS_DIR))
    gtk_icon_theme_add_search_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()), DN_SOURCE_ICONS_DIR);
#endif
  gtk_window_set_default_icon_name (DN_APP_ID);
}

static void
dn_app_application_finalize (GObject *object)
{
  DnAppApplication *self = DN_APP_APPLICATION (object);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_application_parent_class)->finalize (object);
}

static void
dn_app_application_class_init (DnAppApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = dn_app_application_finalize;
  app_class->activate = dn_app_application_activate;
  app_class->open = dn_app_application_open;
  app_class->startup = dn_app_application_startup;
}

static void
dn_app_application_init (DnAppApplication *self)
{
}

DnAppApplication *
dn_app_application_new (void)
{
  return g_object_new (DN_APP_TYPE_APPLICATION, "application-id", DN_APP_ID, "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/org/dualneuron/DualNeuron", NULL);
}

GSettings *
dn_app_application_get_settings (DnAppApplication *self)
{
  return self->settings;
}
