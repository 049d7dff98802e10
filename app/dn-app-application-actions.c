/* dn-app-application-actions.c: the application actions (one table) and their accelerators. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-application.h"
#include "dn-app-preferences.h"

static void
action_preferences (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  gtk_window_present (GTK_WINDOW (dn_app_preferences_new (win)));
}

static void
action_about (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  const char *developers[] = { "DualNeuron developers", NULL };
  GtkWidget *about = g_object_new (ADW_TYPE_ABOUT_WINDOW, "transient-for", win, "application-name", "DualNeuron",
                                   "application-icon", DN_APP_ID, "version", DN_VERSION, "developer-name",
                                   _("DualNeuron developers"), "developers", developers, "license-type",
                                   GTK_LICENSE_MIT_X11, "website", "https://github.com/enigma-brain/dualneuron",
                                   "comments",
                                   _("Explore digital twins of macaque V1 and V4 neurons: their most and least "
                                     "activating stimuli, screened images and stimulus sets for experiments."),
                                   "translator-credits", _("translator-credits"), NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
action_quit (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (user_data));
  for (GList *l = g_list_copy (windows), *it = l; it; it = it->next)
    {
      gtk_window_close (it->data);
      if (!it->next)
        g_list_free (l);
    }
}

static void
action_new_window (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { .name = "preferences", .activate = action_preferences },
  { .name = "about", .activate = action_about },
  { .name = "quit", .activate = action_quit },
  { .name = "activate", .activate = action_new_window },
};

void
_dn_app_application_actions_init (DnAppApplication *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  const char *quit[] = { "<Control>q", NULL }, *prefs[] = { "<Control>comma", NULL };
  const char *help[] = { "<Control>question", NULL };
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", prefs);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", help);
}
