/* dn-app-window.c: the main window (see dn-app-window.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "dn-app-demo.h"
#include "dn-app-error.h"
#include "dn-app-export-dialog.h"
#include "dn-app-window-private.h"
#include "dn-bundle.h"

struct _DnAppWindow
{
  AdwApplicationWindow parent_instance;
  GSettings *settings;
  DnAppProject *project;
  guint n_opens, n_imports;
  guint scroll_id;

  /* template */
  AdwViewStack *stack;
  AdwToastOverlay *toast_overlay;
  GtkSearchEntry *search_entry;
  GtkScrolledWindow *list_scroller;
  GtkLabel *status_label;
  GtkSpinner *busy_spinner;
  DnAppNeuronPage *neuron_page;
  DnAppGallery *gallery;
  DnAppSynthPanel *synth_panel;
  DnAppScreenPanel *screen_panel;
  GMenu *recent_menu;

  GtkColumnView *column_view;
  GtkFilter *filter;
  GtkSingleSelection *selection;
  GtkFilterListModel *filter_model;
};

G_DEFINE_FINAL_TYPE (DnAppWindow, dn_app_window, ADW_TYPE_APPLICATION_WINDOW)

/* Feedback ------------------------------------------------------------------------------------------ */

void
dn_app_window_toast (DnAppWindow *self, const char *message)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

void
dn_app_window_show_error (DnAppWindow *self, const char *title, const GError *error)
{
  if (g_error_matches (error, DN_APP_ERROR, DN_APP_ERROR_CANCELLED) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      dn_app_window_toast (self, _("Cancelled"));
      return;
    }
  g_message ("%s: %s", title, error->message);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), title, error->message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Status ---------------------------------------------------------------------------------------------- */

static void
update_status (DnAppWindow *self)
{
  /* the description column only says something for the built-in twin's model cells */
  if (self->column_view)
    {
      g_autoptr (GtkColumnViewColumn) desc = g_list_model_get_item (G_LIST_MODEL (gtk_column_view_get_columns (self->column_view)), 1);
      gtk_column_view_column_set_visible (desc, dn_app_project_is_gabor (self->project));
    }
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  if (!info)
    {
      gtk_label_set_text (self->status_label, _("No model"));
      return;
    }
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model));
  g_autofree char *s = g_strdup_printf (_("%s · %u of %d neurons · %d members · %s"),
                                        dn_app_project_get_model_name (self->project), shown, info->n_neurons,
                                        info->n_members, dn_app_project_get_device_name (self->project));
  gtk_label_set_text (self->status_label, s);
  const char *path = dn_app_project_get_path (self->project);
  g_autofree char *base = path ? g_path_get_basename (path) : NULL;
  g_autofree char *title = g_strdup_printf ("%s%s — DualNeuron", dn_app_project_get_dirty (self->project) ? "• " : "",
                                            base ? base : dn_app_project_get_model_name (self->project));
  gtk_window_set_title (GTK_WINDOW (self), title);
}

static void
on_busy_changed (DnAppWindow *self)
{
  gboolean busy = dn_app_project_get_busy (self->project);
  gtk_spinner_set_spinning (self->busy_spinner, busy);
  gtk_widget_set_visible (GTK_WIDGET (self->busy_spinner), busy);
  const char *actions[] = { "open-model", "open-model-folder", "open-builtin", "open-project", "import", "export",
                            "save", "save-as" };
  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), actions[i], !busy);
}

/* Browser ------------------------------------------------------------------------------------------- */

static gboolean
filter_neuron (gpointer item, gpointer user_data)
{
  DnAppWindow *self = user_data;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  if (!text || !*text)
    return TRUE;
  DnAppNeuron *n = item;
  char *end = NULL;
  gint64 v = g_ascii_strtoll (text, &end, 10);
  if (end && *end == '\0' && end != text)
    return v == dn_app_neuron_get_index (n);
  g_autofree char *needle = g_utf8_casefold (text, -1);
  g_autofree char *desc = g_utf8_casefold (dn_app_neuron_get_description (n), -1);
  return strstr (dn_app_neuron_get_label (n), text) != NULL || strstr (desc, needle) != NULL;
}

static void
on_search_changed (DnAppWindow *self)
{
  gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_DIFFERENT);
  update_status (self);
}

static int
compare_values (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const char *prop = user_data;
  double x = dn_app_neuron_get_value ((DnAppNeuron *) a, prop), y = dn_app_neuron_get_value ((DnAppNeuron *) b, prop);
  /* unknown values last in either order is not possible with one comparator: they count as lowest */
  if (isnan (x) && isnan (y))
    return 0;
  if (isnan (x))
    return -1;
  if (isnan (y))
    return 1;
  return (x > y) - (x < y);
}

static int
compare_index (gconstpointer a, gconstpointer b, gpointer user_data)
{
  int x = dn_app_neuron_get_index ((DnAppNeuron *) a), y = dn_app_neuron_get_index ((DnAppNeuron *) b);
  return (x > y) - (x < y);
}

static void
setup_label (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const char *prop = user_data;
  GtkWidget *label = gtk_label_new (NULL);
  gboolean numeric = strcmp (prop, "label") != 0 && strcmp (prop, "description") != 0;
  gtk_label_set_xalign (GTK_LABEL (label), numeric ? 1.0f : 0.0f);
  if (strcmp (prop, "description") == 0)
    gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
  GtkExpression *it = gtk_property_expression_new (GTK_TYPE_LIST_ITEM, NULL, "item");
  GtkExpression *val = gtk_property_expression_new (DN_APP_TYPE_NEURON, it, prop);
  if (numeric)
    {
      GtkExpression *params[] = { val };
      val = gtk_cclosure_expression_new (G_TYPE_STRING, NULL, 1, params, G_CALLBACK (dn_app_format_value), NULL, NULL);
    }
  gtk_expression_bind (val, label, "label", item);
}

typedef struct
{
  const char *title, *prop;
  gboolean expand;
} Column;

static const Column columns[] = {
  { N_("Neuron"), "label", FALSE },
  { N_("Description"), "description", TRUE },
  { N_("Test r"), "correlation", FALSE },
  { N_("Most"), "most", FALSE },
  { N_("Least"), "least", FALSE },
  { N_("Screen max"), "screen-max", FALSE },
  { N_("Screen mean"), "screen-mean", FALSE },
  { N_("Selectivity"), "selectivity", FALSE },
  { N_("Pole ÷ best image"), "ratio", FALSE },
};

static void
on_selection_changed (DnAppWindow *self)
{
  DnAppNeuron *n = gtk_single_selection_get_selected_item (self->selection);
  int k = n ? dn_app_neuron_get_index (n) : -1;
  dn_app_neuron_page_set_neuron (self->neuron_page, k);
  dn_app_synth_panel_set_selection (self->synth_panel, k);
}

static void on_list_mapped (DnAppWindow *self);

static void
build_browser (DnAppWindow *self)
{
  self->column_view = GTK_COLUMN_VIEW (gtk_column_view_new (NULL));
  gtk_column_view_set_show_column_separators (self->column_view, FALSE);
  gtk_column_view_set_reorderable (self->column_view, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->column_view), "data-table");
  GtkColumnViewColumn *first = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    {
      GtkListItemFactory *f = gtk_signal_list_item_factory_new ();
      g_signal_connect (f, "setup", G_CALLBACK (setup_label), (gpointer) columns[i].prop);
      GtkColumnViewColumn *c = gtk_column_view_column_new (_(columns[i].title), f);
      GtkSorter *sorter = GTK_SORTER (gtk_custom_sorter_new (i == 0 ? compare_index : compare_values,
                                                             (gpointer) columns[i].prop, NULL));
      if (i != 1)
        gtk_column_view_column_set_sorter (c, sorter);
      g_object_unref (sorter);
      gtk_column_view_column_set_expand (c, columns[i].expand);
      if (columns[i].expand)
        gtk_column_view_column_set_fixed_width (c, 170);
      gtk_column_view_column_set_resizable (c, TRUE);
      gtk_column_view_append_column (self->column_view, c);
      if (i == 0)
        first = c;
      g_object_unref (c);
    }
  self->filter = GTK_FILTER (gtk_custom_filter_new (filter_neuron, self, NULL));
  self->filter_model = gtk_filter_list_model_new (g_object_ref (dn_app_project_get_neurons (self->project)),
                                                  g_object_ref (self->filter));
  GtkSortListModel *sorted = gtk_sort_list_model_new (g_object_ref (G_LIST_MODEL (self->filter_model)),
                                                      g_object_ref (gtk_column_view_get_sorter (self->column_view)));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (sorted));
  gtk_single_selection_set_autoselect (self->selection, TRUE);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  gtk_column_view_sort_by_column (self->column_view, first, GTK_SORT_ASCENDING);
  g_signal_connect_swapped (self->selection, "notify::selected-item", G_CALLBACK (on_selection_changed), self);
  g_signal_connect_swapped (self->filter_model, "items-changed", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (self->column_view, "map", G_CALLBACK (on_list_mapped), self);
  gtk_scrolled_window_set_child (self->list_scroller, GTK_WIDGET (self->column_view));
}

/* GTK 4.8's column view cannot scroll to an item: place the row in the middle of the view from the
 * list's height (all rows have the same height). */
static gboolean
scroll_to_selected (gpointer data)
{
  DnAppWindow *self = data;
  self->scroll_id = 0;
  guint position = gtk_single_selection_get_selected (self->selection);
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->column_view));
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  if (!adj || n == 0 || position == GTK_INVALID_LIST_POSITION || !gtk_widget_get_mapped (GTK_WIDGET (self->column_view)))
    return G_SOURCE_REMOVE;
  double upper = gtk_adjustment_get_upper (adj), page = gtk_adjustment_get_page_size (adj);
  double row = upper / n;
  double value = row * (position + 0.5) - page / 2;
  gtk_adjustment_set_value (adj, CLAMP (value, 0, MAX (upper - page, 0)));
  return G_SOURCE_REMOVE;
}

/* after the list has been laid out with the new selection */
static void
scroll_to_row (DnAppWindow *self, guint position G_GNUC_UNUSED)
{
  if (!self->scroll_id)
    self->scroll_id = g_timeout_add (50, scroll_to_selected, self);
}

static void
on_list_mapped (DnAppWindow *self)
{
  scroll_to_row (self, 0);
}

void
dn_app_window_select_neuron (DnAppWindow *self, int neuron)
{
  GListModel *m = G_LIST_MODEL (self->selection);
  guint n = g_list_model_get_n_items (m);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (DnAppNeuron) row = g_list_model_get_item (m, i);
      if (dn_app_neuron_get_index (row) == neuron)
        {
          gtk_single_selection_set_selected (self->selection, i);
          scroll_to_row (self, i);
          return;
        }
    }
  /* hidden by the search: clear it and try again */
  if (*gtk_editable_get_text (GTK_EDITABLE (self->search_entry)))
    {
      gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
      on_search_changed (self);
      dn_app_window_select_neuron (self, neuron);
    }
}

int
dn_app_window_get_selected_neuron (DnAppWindow *self)
{
  DnAppNeuron *n = gtk_single_selection_get_selected_item (self->selection);
  return n ? dn_app_neuron_get_index (n) : -1;
}

void
dn_app_window_show_page (DnAppWindow *self, const char *name)
{
  adw_view_stack_set_visible_child_name (self->stack, name);
}

static void
on_synthesize_neuron (DnAppWindow *self, int neuron)
{
  g_autofree char *s = g_strdup_printf ("%d", neuron);
  dn_app_window_show_page (self, "synthesis");
  dn_app_synth_panel_start_for (self->synth_panel, s);
}

static void
on_gallery_activated (DnAppWindow *self, int neuron)
{
  dn_app_window_select_neuron (self, neuron);
  dn_app_window_show_page (self, "browser");
}

/* Opening ---------------------------------------------------------------------------------------------- */

static void
remember_model (DnAppWindow *self, const char *spec)
{
  g_settings_set_string (self->settings, "last-model", spec);
  g_auto (GStrv) old = g_settings_get_strv (self->settings, "recent-models");
  GStrvBuilder *b = g_strv_builder_new ();
  g_strv_builder_add (b, spec);
  for (int i = 0, n = 1; old[i] && n < 8; i++)
    if (strcmp (old[i], spec) != 0)
      {
        g_strv_builder_add (b, old[i]);
        n++;
      }
  g_auto (GStrv) now = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  g_settings_set_strv (self->settings, "recent-models", (const char *const *) now);
}

static void
update_recent_menu (DnAppWindow *self)
{
  g_menu_remove_all (self->recent_menu);
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-models");
  for (int i = 0; recent[i]; i++)
    {
      g_autofree char *label = g_path_get_basename (recent[i]);
      g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-recent", g_variant_new_string (recent[i]));
      g_menu_append_item (self->recent_menu, item);
    }
}

static void
open_model_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  self->n_opens++;
  if (!dn_app_project_open_model_finish (DN_APP_PROJECT (source), result, &error))
    dn_app_window_show_error (self, _("Cannot open the model"), error);
  else
    {
      const char *spec = dn_app_project_get_model_spec (self->project);
      remember_model (self, spec);
      g_autofree char *msg = g_strdup_printf (_("Opened %s on %s"), dn_app_project_get_model_name (self->project),
                                              dn_app_project_get_device_name (self->project));
      dn_app_window_toast (self, msg);
      g_debug ("%s", msg);
    }
  update_status (self);
  g_object_unref (self);
}

void
dn_app_window_open_model (DnAppWindow *self, const char *spec)
{
  dn_app_project_open_model_async (self->project, spec, g_settings_get_int (self->settings, "device-index"),
                                   g_settings_get_int (self->settings, "threads"), NULL, open_model_cb,
                                   g_object_ref (self));
}

static void
load_project_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  self->n_opens++;
  if (!dn_app_project_load_finish (DN_APP_PROJECT (source), result, &error))
    dn_app_window_show_error (self, _("Cannot open the project"), error);
  else
    {
      g_autofree char *msg = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Opened the project with %u pole",
                                                           "Opened the project with %u poles",
                                                           dn_app_project_get_n_poles (self->project)),
                                              dn_app_project_get_n_poles (self->project));
      dn_app_window_toast (self, msg);
    }
  update_status (self);
  g_object_unref (self);
}

void
dn_app_window_open_project (DnAppWindow *self, const char *path)
{
  dn_app_project_load_async (self->project, path, g_settings_get_int (self->settings, "device-index"),
                             g_settings_get_int (self->settings, "threads"), NULL, load_project_cb,
                             g_object_ref (self));
}

typedef enum
{
  CHOOSE_MODEL,
  CHOOSE_MODEL_FOLDER,
  CHOOSE_PROJECT_OPEN,
  CHOOSE_PROJECT_SAVE,
  CHOOSE_IMPORT_SOURCE,
} ChooseKind;

typedef struct
{
  DnAppWindow *self;
  ChooseKind kind;
  char *import_source;
} Choose;

/* Import: a DualNeuron twins folder (or any folder of checkpoints) → one bundle, in a thread, with a
 * progress dialog that says which member is being read. */
typedef struct
{
  char *source, *dest;
  GMutex lock;
  int done, total;
  char *file;
  guint idle_id;
  AdwMessageDialog *dialog; /* main thread */
  GtkProgressBar *bar;      /* main thread */
} Import;

static void
import_free (Import *im)
{
  g_clear_handle_id (&im->idle_id, g_source_remove);
  g_free (im->source);
  g_free (im->dest);
  g_free (im->file);
  g_mutex_clear (&im->lock);
  g_free (im);
}

static gboolean
import_progress_idle (gpointer data)
{
  Import *im = data;
  g_mutex_lock (&im->lock);
  im->idle_id = 0;
  int done = im->done, total = im->total;
  g_autofree char *file = im->file ? g_path_get_basename (im->file) : NULL;
  g_mutex_unlock (&im->lock);
  if (im->bar)
    {
      gtk_progress_bar_set_fraction (im->bar, total > 0 ? (double) done / (total + 1) : 0);
      g_autofree char *text = file ? g_strdup_printf (_("Reading %s (%d of %d)"), file, done + 1, total)
                                   : g_strdup (_("Writing the bundle…"));
      gtk_progress_bar_set_text (im->bar, text);
    }
  return G_SOURCE_REMOVE;
}

static void
import_progress (int done, int total, const char *file, void *user)
{
  Import *im = user;
  g_mutex_lock (&im->lock);
  im->done = done;
  im->total = total;
  g_free (im->file);
  im->file = g_strdup (file);
  if (!im->idle_id)
    im->idle_id = g_idle_add (import_progress_idle, im);
  g_mutex_unlock (&im->lock);
}

static void
import_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Import *im = task_data;
  DnStatus st = DN_OK;
  DnTwin *twin = NULL;
  DnDevice *dev = NULL;
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  GError *error = NULL;
  DnTwinSource src = { 0 };
  /* read every member, build the twin once (so that a bundle is only written for a model that runs) */
  if ((st = dn_twin_source_from_path_progress (im->source, &src, import_progress, im)) != DN_OK
      || !(dev = dn_device_new (&o, &st)) || !(twin = dn_twin_new_from_source (dev, &src, &st)))
    {
      g_autofree char *d = g_strdup_printf (_("Cannot read “%s”"), im->source);
      dn_app_error_from_status (st, d, &error);
    }
  else if ((st = dn_bundle_write (im->dest, &src)) != DN_OK)
    {
      g_autofree char *d = g_strdup_printf (_("Cannot write the bundle “%s”"), im->dest);
      dn_app_error_from_status (st, d, &error);
    }
  dn_twin_source_clear (&src);
  dn_twin_free (twin);
  dn_device_free (dev);
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
import_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnAppWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  Import *im = g_task_get_task_data (G_TASK (result));
  g_clear_handle_id (&im->idle_id, g_source_remove);
  if (im->dialog)
    gtk_window_destroy (GTK_WINDOW (im->dialog));
  im->dialog = NULL;
  im->bar = NULL;
  g_autofree char *dest = g_strdup (im->dest);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    dn_app_window_show_error (self, _("Import failed"), error);
  else
    {
      g_autofree char *msg = g_strdup_printf (_("Imported into %s"), dest);
      dn_app_window_toast (self, msg);
      dn_app_window_open_model (self, dest);
    }
  self->n_imports++;
  g_object_unref (self);
}

void
dn_app_window_import (DnAppWindow *self, const char *folder, const char *bundle)
{
  Import *im = g_new0 (Import, 1);
  g_mutex_init (&im->lock);
  im->source = g_strdup (folder);
  im->dest = g_strdup (bundle);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Importing the Twin"), NULL);
  g_autofree char *body = g_strdup_printf (_("%s → %s"), folder, bundle);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (dialog), body);
  GtkWidget *bar = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (bar), TRUE);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (bar), _("Listing the checkpoints…"));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), bar);
  im->dialog = ADW_MESSAGE_DIALOG (dialog);
  im->bar = GTK_PROGRESS_BAR (bar);
  gtk_window_present (GTK_WINDOW (dialog));
  g_autoptr (GTask) task = g_task_new (NULL, NULL, import_cb, g_object_ref (self));
  g_task_set_task_data (task, im, (GDestroyNotify) import_free);
  g_task_run_in_thread (task, import_thread);
}

static void
on_chooser_response (GtkNativeDialog *native, int response, gpointer user_data)
{
  Choose *c = user_data;
  DnAppWindow *self = c->self;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path)
        switch (c->kind)
          {
          case CHOOSE_MODEL:
          case CHOOSE_MODEL_FOLDER:
            dn_app_window_open_model (self, path);
            break;
          case CHOOSE_PROJECT_OPEN:
            dn_app_window_open_project (self, path);
            break;
          case CHOOSE_PROJECT_SAVE:
            {
              g_autoptr (GError) error = NULL;
              if (!dn_app_project_save (self->project, path, &error))
                dn_app_window_show_error (self, _("Cannot save the project"), error);
              else
                dn_app_window_toast (self, _("Project saved"));
              update_status (self);
            }
            break;
          case CHOOSE_IMPORT_SOURCE:
            {
              /* the bundle goes next to the folder: <folder>.h5 */
              g_autofree char *bundle = g_strconcat (path, ".h5", NULL);
              dn_app_window_import (self, path, bundle);
            }
            break;
          }
    }
  g_object_unref (native);
  g_object_unref (c->self);
  g_free (c);
}

static void
choose (DnAppWindow *self, ChooseKind kind)
{
  static const char *titles[] = { N_("Open a Model"), N_("Open a Folder of Checkpoints"), N_("Open a Project"),
                                  N_("Save the Project"), N_("Import a DualNeuron Twin Folder") };
  GtkFileChooserAction action = GTK_FILE_CHOOSER_ACTION_OPEN;
  if (kind == CHOOSE_MODEL_FOLDER || kind == CHOOSE_IMPORT_SOURCE)
    action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER;
  else if (kind == CHOOSE_PROJECT_SAVE)
    action = GTK_FILE_CHOOSER_ACTION_SAVE;
  GtkFileChooserNative *native = gtk_file_chooser_native_new (_(titles[kind]), GTK_WINDOW (self), action, NULL, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  if (kind == CHOOSE_MODEL)
    {
      GtkFileFilter *f = gtk_file_filter_new ();
      gtk_file_filter_set_name (f, _("Twin bundles and checkpoints"));
      gtk_file_filter_add_pattern (f, "*.h5");
      gtk_file_filter_add_pattern (f, "*.pth");
      gtk_file_filter_add_pattern (f, "*.pt");
      gtk_file_filter_add_pattern (f, "*.tar");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), f);
      g_object_unref (f);
    }
  else if (kind == CHOOSE_PROJECT_SAVE)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), "project.dnproj.h5");
  Choose *c = g_new0 (Choose, 1);
  c->self = g_object_ref (self);
  c->kind = kind;
  g_signal_connect (native, "response", G_CALLBACK (on_chooser_response), c);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

/* Actions -------------------------------------------------------------------------------------------- */

static void
action_open_model (GtkWidget *w, const char *name, GVariant *param)
{
  choose (DN_APP_WINDOW (w), CHOOSE_MODEL);
}

static void
action_open_model_folder (GtkWidget *w, const char *name, GVariant *param)
{
  choose (DN_APP_WINDOW (w), CHOOSE_MODEL_FOLDER);
}

static void
action_open_builtin (GtkWidget *w, const char *name, GVariant *param)
{
  dn_app_window_open_model (DN_APP_WINDOW (w), "builtin:gabor-v1");
}

static void
action_open_recent (GtkWidget *w, const char *name, GVariant *param)
{
  dn_app_window_open_model (DN_APP_WINDOW (w), g_variant_get_string (param, NULL));
}

static void
action_import (GtkWidget *w, const char *name, GVariant *param)
{
  choose (DN_APP_WINDOW (w), CHOOSE_IMPORT_SOURCE);
}

static void
action_open_project (GtkWidget *w, const char *name, GVariant *param)
{
  choose (DN_APP_WINDOW (w), CHOOSE_PROJECT_OPEN);
}

static void
action_save (GtkWidget *w, const char *name, GVariant *param)
{
  DnAppWindow *self = DN_APP_WINDOW (w);
  const char *path = dn_app_project_get_path (self->project);
  if (!path)
    {
      choose (self, CHOOSE_PROJECT_SAVE);
      return;
    }
  g_autoptr (GError) error = NULL;
  if (!dn_app_project_save (self->project, path, &error))
    dn_app_window_show_error (self, _("Cannot save the project"), error);
  else
    dn_app_window_toast (self, _("Project saved"));
  update_status (self);
}

static void
action_save_as (GtkWidget *w, const char *name, GVariant *param)
{
  choose (DN_APP_WINDOW (w), CHOOSE_PROJECT_SAVE);
}

static void
action_export (GtkWidget *w, const char *name, GVariant *param)
{
  DnAppWindow *self = DN_APP_WINDOW (w);
  if (!dn_app_project_has_model (self->project))
    return;
  DnAppExportDialog *d = dn_app_export_dialog_new (self, self->project, dn_app_window_get_selected_neuron (self));
  gtk_window_present (GTK_WINDOW (d));
}

static void
action_demo (GtkWidget *w, const char *name, GVariant *param)
{
  DnAppWindow *self = DN_APP_WINDOW (w);
  if (!dn_app_project_has_model (self->project))
    return;
  GtkWindow *demo = GTK_WINDOW (dn_app_demo_new (self->project, self->settings));
  gtk_window_set_transient_for (demo, GTK_WINDOW (self));
  gtk_window_set_application (demo, gtk_window_get_application (GTK_WINDOW (self)));
  gtk_window_present (demo);
  gtk_window_fullscreen (demo);
}

static void
action_find (GtkWidget *w, const char *name, GVariant *param)
{
  DnAppWindow *self = DN_APP_WINDOW (w);
  dn_app_window_show_page (self, "browser");
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
action_page (GtkWidget *w, const char *name, GVariant *param)
{
  dn_app_window_show_page (DN_APP_WINDOW (w), g_variant_get_string (param, NULL));
}

static void
action_select (GtkWidget *w, const char *name, GVariant *param)
{
  dn_app_window_select_neuron (DN_APP_WINDOW (w), g_variant_get_int32 (param));
}

/* GObject ------------------------------------------------------------------------------------------------ */

static gboolean
dn_app_window_close_request (GtkWindow *window)
{
  DnAppWindow *self = DN_APP_WINDOW (window);
  int w = 0, h = 0;
  gtk_window_get_default_size (window, &w, &h);
  g_settings_set_int (self->settings, "window-width", w);
  g_settings_set_int (self->settings, "window-height", h);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  return GTK_WINDOW_CLASS (dn_app_window_parent_class)->close_request (window);
}

static void
dn_app_window_dispose (GObject *object)
{
  DnAppWindow *self = DN_APP_WINDOW (object);
  g_clear_handle_id (&self->scroll_id, g_source_remove);
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), DN_APP_TYPE_WINDOW);
  G_OBJECT_CLASS (dn_app_window_parent_class)->dispose (object);
}

static void
dn_app_window_finalize (GObject *object)
{
  DnAppWindow *self = DN_APP_WINDOW (object);
  g_clear_object (&self->selection);
  g_clear_object (&self->filter_model);
  g_clear_object (&self->filter);
  g_clear_object (&self->project);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_window_parent_class)->finalize (object);
}

static void
dn_app_window_class_init (DnAppWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);
  object_class->dispose = dn_app_window_dispose;
  object_class->finalize = dn_app_window_finalize;
  window_class->close_request = dn_app_window_close_request;

  g_type_ensure (DN_APP_TYPE_NEURON_PAGE);
  g_type_ensure (DN_APP_TYPE_GALLERY);
  g_type_ensure (DN_APP_TYPE_SYNTH_PANEL);
  g_type_ensure (DN_APP_TYPE_SCREEN_PANEL);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, list_scroller);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, busy_spinner);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, neuron_page);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, gallery);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, synth_panel);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, screen_panel);
  gtk_widget_class_bind_template_child (widget_class, DnAppWindow, recent_menu);

  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, action_open_model);
  gtk_widget_class_install_action (widget_class, "win.open-model-folder", NULL, action_open_model_folder);
  gtk_widget_class_install_action (widget_class, "win.open-builtin", NULL, action_open_builtin);
  gtk_widget_class_install_action (widget_class, "win.open-recent", "s", action_open_recent);
  gtk_widget_class_install_action (widget_class, "win.import", NULL, action_import);
  gtk_widget_class_install_action (widget_class, "win.open-project", NULL, action_open_project);
  gtk_widget_class_install_action (widget_class, "win.save", NULL, action_save);
  gtk_widget_class_install_action (widget_class, "win.save-as", NULL, action_save_as);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, action_export);
  gtk_widget_class_install_action (widget_class, "win.demo", NULL, action_demo);
  gtk_widget_class_install_action (widget_class, "win.find", NULL, action_find);
  gtk_widget_class_install_action (widget_class, "win.page", "s", action_page);
  gtk_widget_class_install_action (widget_class, "win.select-neuron", "i", action_select);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open-model", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.open-project", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK, "win.save", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.save-as", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0, "win.demo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.find", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, GDK_ALT_MASK, "win.page", "s", "browser");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, GDK_ALT_MASK, "win.page", "s", "gallery");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, GDK_ALT_MASK, "win.page", "s", "synthesis");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_4, GDK_ALT_MASK, "win.page", "s", "screening");
}

static void
dn_app_window_init (DnAppWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  self->project = dn_app_project_new ();
  g_settings_bind (self->settings, "export-boost", self->project, "boost", G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "show-alpha", self->project, "show-alpha", G_SETTINGS_BIND_DEFAULT);
  build_browser (self);
  g_signal_connect_swapped (self->search_entry, "search-changed", G_CALLBACK (on_search_changed), self);
  g_signal_connect_swapped (self->project, "notify::busy", G_CALLBACK (on_busy_changed), self);
  g_signal_connect_swapped (self->project, "notify::dirty", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (self->project, "notify::path", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (self->project, "model-changed", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (self->gallery, "neuron-activated", G_CALLBACK (on_gallery_activated), self);
  g_signal_connect_swapped (self->neuron_page, "synthesize", G_CALLBACK (on_synthesize_neuron), self);
  g_signal_connect_swapped (self->settings, "changed::recent-models", G_CALLBACK (update_recent_menu), self);
  dn_app_neuron_page_set_project (self->neuron_page, self->project);
  dn_app_gallery_set_project (self->gallery, self->project);
  dn_app_synth_panel_set_project (self->synth_panel, self->project);
  dn_app_screen_panel_set_project (self->screen_panel, self->project);
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  update_recent_menu (self);
  on_busy_changed (self);
  update_status (self);
}

DnAppWindow *
dn_app_window_new (GtkApplication *app)
{
  return g_object_new (DN_APP_TYPE_WINDOW, "application", app, NULL);
}

DnAppProject *
dn_app_window_get_project (DnAppWindow *self)
{
  return self->project;
}

GtkColumnView *
_dn_app_window_get_column_view (DnAppWindow *self)
{
  return self->column_view;
}

GtkSearchEntry *
_dn_app_window_get_search_entry (DnAppWindow *self)
{
  return self->search_entry;
}

DnAppNeuronPage *
_dn_app_window_get_neuron_page (DnAppWindow *self)
{
  return self->neuron_page;
}

DnAppGallery *
_dn_app_window_get_gallery (DnAppWindow *self)
{
  return self->gallery;
}

DnAppSynthPanel *
_dn_app_window_get_synth_panel (DnAppWindow *self)
{
  return self->synth_panel;
}

DnAppScreenPanel *
_dn_app_window_get_screen_panel (DnAppWindow *self)
{
  return self->screen_panel;
}

GListModel *
_dn_app_window_get_visible_neurons (DnAppWindow *self)
{
  return G_LIST_MODEL (self->selection);
}

guint
_dn_app_window_get_n_opens (DnAppWindow *self)
{
  return self->n_opens;
}

guint
_dn_app_window_get_n_imports (DnAppWindow *self)
{
  return self->n_imports;
}
