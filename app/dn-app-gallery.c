/* dn-app-gallery.c: the pole gallery (see dn-app-gallery.h). A GtkGridView recycles its tiles, so a
 * thousand neurons cost only the tiles on screen; tiles bind to the neuron rows' paintables. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>

#include <glib/gi18n.h>

#include "dn-app-gallery.h"
#include "dn-app-util.h"

struct _DnAppGallery
{
  GtkWidget parent_instance;
  DnAppProject *project;
  GSettings *settings;
  GtkFilter *filter;
  GtkFilterListModel *filtered;
  GtkGridView *grid;
  int mode;              /* 0 most, 1 least, 2 both */

  GtkDropDown *mode_dropdown;
  GtkLabel *count_label;
  GtkStack *stack;
  GtkScrolledWindow *scroller;
};

enum
{
  SIGNAL_NEURON_ACTIVATED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DnAppGallery, dn_app_gallery, GTK_TYPE_WIDGET)

static const char *mode_names[] = { "most", "least", "both" };

static char *
tile_caption (gpointer unused, const char *label, double most, double least)
{
  if (!isnan (most) && !isnan (least))
    return g_strdup_printf ("%s  ▲ %.3g  ▼ %.3g", label, most, least);
  if (!isnan (most))
    return g_strdup_printf ("%s  ▲ %.3g", label, most);
  if (!isnan (least))
    return g_strdup_printf ("%s  ▼ %.3g", label, least);
  return g_strdup (label);
}

static void
setup_tile (GtkSignalListItemFactory *f, GtkListItem *item, DnAppGallery *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_add_css_class (box, "pole-tile");
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_widget_set_halign (row, GTK_ALIGN_CENTER);
  const char *props[] = { "most-paintable", "least-paintable" };
  for (int i = 0; i < 2; i++)
    {
      GtkWidget *pic = gtk_picture_new ();
      gtk_picture_set_can_shrink (GTK_PICTURE (pic), TRUE);
      gtk_widget_set_size_request (pic, 112, 112);
      gtk_widget_set_visible (pic, self->mode == 2 || self->mode == i);
      GtkExpression *it = gtk_property_expression_new (GTK_TYPE_LIST_ITEM, NULL, "item");
      GtkExpression *p = gtk_property_expression_new (DN_APP_TYPE_NEURON, it, props[i]);
      gtk_expression_bind (p, pic, "paintable", item);
      gtk_box_append (GTK_BOX (row), pic);
    }
  gtk_box_append (GTK_BOX (box), row);
  GtkWidget *label = gtk_label_new (NULL);
  gtk_widget_add_css_class (label, "tile-label");
  GtkExpression *it = gtk_property_expression_new (GTK_TYPE_LIST_ITEM, NULL, "item");
  GtkExpression *params[] = {
    gtk_property_expression_new (DN_APP_TYPE_NEURON, gtk_expression_ref (it), "label"),
    gtk_property_expression_new (DN_APP_TYPE_NEURON, gtk_expression_ref (it), "most"),
    gtk_property_expression_new (DN_APP_TYPE_NEURON, gtk_expression_ref (it), "least"),
  };
  gtk_expression_unref (it);
  GtkExpression *cap = gtk_cclosure_expression_new (G_TYPE_STRING, NULL, 3, params, G_CALLBACK (tile_caption), NULL, NULL);
  gtk_expression_bind (cap, label, "label", item);
  gtk_box_append (GTK_BOX (box), label);
  gtk_list_item_set_child (item, box);
}

static void
make_factory (DnAppGallery *self)
{
  GtkListItemFactory *f = gtk_signal_list_item_factory_new ();
  g_signal_connect (f, "setup", G_CALLBACK (setup_tile), self);
  gtk_grid_view_set_factory (self->grid, f);
  g_object_unref (f);
}

static gboolean
has_poles (gpointer item, gpointer user_data)
{
  DnAppNeuron *n = item;
  return !isnan (dn_app_neuron_get_value (n, "most")) || !isnan (dn_app_neuron_get_value (n, "least"));
}

static void
update_count (DnAppGallery *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->filtered));
  g_autofree char *s = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u neuron with poles", "%u neurons with poles", n), n);
  gtk_label_set_text (self->count_label, s);
  gtk_stack_set_visible_child_name (self->stack, n > 0 ? "grid" : "empty");
}

static void
on_poles_changed (DnAppGallery *self, int neuron)
{
  gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_DIFFERENT);
  update_count (self);
}

static void
on_activate (GtkGridView *grid, guint position, DnAppGallery *self)
{
  g_autoptr (DnAppNeuron) n = g_list_model_get_item (G_LIST_MODEL (self->filtered), position);
  if (n)
    g_signal_emit (self, signals[SIGNAL_NEURON_ACTIVATED], 0, dn_app_neuron_get_index (n));
}

void
dn_app_gallery_set_mode (DnAppGallery *self, const char *mode)
{
  int m = 2;
  for (int i = 0; i < 3; i++)
    if (g_strcmp0 (mode, mode_names[i]) == 0)
      m = i;
  if ((int) gtk_drop_down_get_selected (self->mode_dropdown) != m)
    gtk_drop_down_set_selected (self->mode_dropdown, (guint) m);
  if (m == self->mode)
    return;
  self->mode = m;
  make_factory (self);
}

static void
on_mode_selected (DnAppGallery *self)
{
  guint m = gtk_drop_down_get_selected (self->mode_dropdown);
  if (m < 3)
    {
      g_settings_set_string (self->settings, "gallery-mode", mode_names[m]);
      dn_app_gallery_set_mode (self, mode_names[m]);
    }
}

void
dn_app_gallery_set_project (DnAppGallery *self, DnAppProject *project)
{
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  dn_app_gallery_set_model (self, dn_app_project_get_neurons (project));
  g_signal_connect_swapped (project, "poles-changed", G_CALLBACK (on_poles_changed), self);
  update_count (self);
}

void
dn_app_gallery_set_model (DnAppGallery *self, GListModel *neurons)
{
  gtk_filter_list_model_set_model (self->filtered, neurons);
  update_count (self);
}

void
dn_app_gallery_refilter (DnAppGallery *self)
{
  on_poles_changed (self, -1);
}

GtkGridView *
dn_app_gallery_get_grid (DnAppGallery *self)
{
  return self->grid;
}

guint
dn_app_gallery_get_n_tiles (DnAppGallery *self)
{
  return g_list_model_get_n_items (G_LIST_MODEL (self->filtered));
}

static void
dn_app_gallery_dispose (GObject *object)
{
  DnAppGallery *self = DN_APP_GALLERY (object);
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  dn_app_dispose_template (GTK_WIDGET (self), DN_APP_TYPE_GALLERY);
  g_clear_object (&self->project);
  g_clear_object (&self->filtered);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dn_app_gallery_parent_class)->dispose (object);
}

static void
dn_app_gallery_class_init (DnAppGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_gallery_dispose;
  signals[SIGNAL_NEURON_ACTIVATED] = g_signal_new ("neuron-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                   0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppGallery, mode_dropdown);
  gtk_widget_class_bind_template_child (widget_class, DnAppGallery, count_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppGallery, stack);
  gtk_widget_class_bind_template_child (widget_class, DnAppGallery, scroller);
}

static void
dn_app_gallery_init (DnAppGallery *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (DN_APP_ID);
  self->filter = GTK_FILTER (gtk_custom_filter_new (has_poles, NULL, NULL));
  self->filtered = gtk_filter_list_model_new (NULL, self->filter); /* takes the filter */
  self->mode = -1;
  GtkNoSelection *sel = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->filtered)));
  self->grid = GTK_GRID_VIEW (gtk_grid_view_new (GTK_SELECTION_MODEL (sel), NULL));
  /* GTK 4.8 keeps about 30 rows × max-columns tiles alive: a small max-columns keeps the grid light */
  gtk_grid_view_set_max_columns (self->grid, 10);
  gtk_grid_view_set_min_columns (self->grid, 1);
  gtk_grid_view_set_single_click_activate (self->grid, TRUE);
  g_signal_connect (self->grid, "activate", G_CALLBACK (on_activate), self);
  gtk_scrolled_window_set_child (self->scroller, GTK_WIDGET (self->grid));
  g_autofree char *mode = g_settings_get_string (self->settings, "gallery-mode");
  dn_app_gallery_set_mode (self, mode);
  g_signal_connect_swapped (self->mode_dropdown, "notify::selected", G_CALLBACK (on_mode_selected), self);
  update_count (self);
}
