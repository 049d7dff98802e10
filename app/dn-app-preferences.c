/* dn-app-preferences.c: the preferences window (see dn-app-preferences.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <glib/gi18n.h>

#include "dn-app-compute-glue.h"
#include "dn-app-preferences.h"

struct _DnAppPreferences
{
  AdwPreferencesWindow parent_instance;
  GSettings *settings;
  GArray *device_values;   /* int: the device-index value of each combo entry */

  AdwComboRow *device_row;
  GtkSpinButton *threads_spin, *cache_spin, *boost_spin, *interval_spin;
};

G_DEFINE_FINAL_TYPE (DnAppPreferences, dn_app_preferences, ADW_TYPE_PREFERENCES_WINDOW)

static void
on_device_selected (DnAppPreferences *self)
{
  guint i = adw_combo_row_get_selected (self->device_row);
  if (i < self->device_values->len)
    g_settings_set_int (self->settings, "device-index", g_array_index (self->device_values, int, i));
}

static void
bind_spin (DnAppPreferences *self, GtkSpinButton *spin, const char *key)
{
  /* GSettings "i" keys ↔ spin values (the default mapping needs a "d" key for a double property) */
  GVariant *v = g_settings_get_value (self->settings, key);
  double x = g_variant_is_of_type (v, G_VARIANT_TYPE_INT32) ? g_variant_get_int32 (v) : g_variant_get_double (v);
  g_variant_unref (v);
  gtk_spin_button_set_value (spin, x);
  g_object_set_data_full (G_OBJECT (spin), "dn-key", g_strdup (key), g_free);
}

static void
on_spin_changed (GtkSpinButton *spin, DnAppPreferences *self)
{
  const char *key = g_object_get_data (G_OBJECT (spin), "dn-key");
  if (!key)
    return;
  GVariant *v = g_settings_get_value (self->settings, key);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    g_settings_set_int (self->settings, key, gtk_spin_button_get_value_as_int (spin));
  else
    g_settings_set_double (self->settings, key, gtk_spin_button_get_value (spin));
  g_variant_unref (v);
}

static void
dn_app_preferences_dispose (GObject *object)
{
  DnAppPreferences *self = DN_APP_PREFERENCES (object);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->device_values, g_array_unref);
  G_OBJECT_CLASS (dn_app_preferences_parent_class)->dispose (object);
}

static void
dn_app_preferences_class_init (DnAppPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_preferences_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppPreferences, device_row);
  gtk_widget_class_bind_template_child (widget_class, DnAppPreferences, threads_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppPreferences, cache_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppPreferences, boost_spin);
  gtk_widget_class_bind_template_child (widget_class, DnAppPreferences, interval_spin);
}

static void
dn_app_preferences_init (DnAppPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  self->device_values = g_array_new (FALSE, FALSE, sizeof (int));
  GtkStringList *names = gtk_string_list_new (NULL);
  int v = -2;
  gtk_string_list_append (names, _("Automatic (a GPU if present, else the CPU)"));
  g_array_append_val (self->device_values, v);
  g_autofree char *cpu = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "CPU backend (%u core)", "CPU backend (%u cores)",
                                                           g_get_num_processors ()), g_get_num_processors ());
  gtk_string_list_append (names, cpu);
  v = -1;
  g_array_append_val (self->device_values, v);
  DnDeviceInfo infos[16];
  int n = dn_device_enumerate (infos, G_N_ELEMENTS (infos));
  for (int i = 0; i < n; i++)
    {
      if (infos[i].index < 0)
        continue;
      g_autofree char *s = g_strdup_printf ("%s%s", infos[i].name, infos[i].is_software ? _(" (software)") : "");
      gtk_string_list_append (names, s);
      g_array_append_val (self->device_values, infos[i].index);
    }
  adw_combo_row_set_model (self->device_row, G_LIST_MODEL (names));
  g_object_unref (names);
  int current = g_settings_get_int (self->settings, "device-index");
  for (guint i = 0; i < self->device_values->len; i++)
    if (g_array_index (self->device_values, int, i) == current)
      adw_combo_row_set_selected (self->device_row, i);
  g_signal_connect_swapped (self->device_row, "notify::selected", G_CALLBACK (on_device_selected), self);
  bind_spin (self, self->threads_spin, "threads");
  bind_spin (self, self->cache_spin, "cache-limit-mb");
  bind_spin (self, self->boost_spin, "export-boost");
  bind_spin (self, self->interval_spin, "demo-interval");
  GtkSpinButton *spins[] = { self->threads_spin, self->cache_spin, self->boost_spin, self->interval_spin };
  for (guint i = 0; i < G_N_ELEMENTS (spins); i++)
    g_signal_connect (spins[i], "value-changed", G_CALLBACK (on_spin_changed), self);
}

DnAppPreferences *
dn_app_preferences_new (GtkWindow *parent)
{
  return g_object_new (DN_APP_TYPE_PREFERENCES, "transient-for", parent, NULL);
}
