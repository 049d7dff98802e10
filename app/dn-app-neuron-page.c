/* dn-app-neuron-page.c: the selected neuron's page (see dn-app-neuron-page.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>

#include <glib/gi18n.h>

#include "dn-app-neuron-page.h"
#include "dn-app-util.h"
#include "dn-app-plot.h"
#include "dn-app-screen-job.h"

struct _DnAppNeuronPage
{
  GtkWidget parent_instance;
  DnAppProject *project;
  int neuron;
  GHashTable *thumbs;   /* item index → GdkTexture, bounded by cache-limit-mb */
  GSettings *settings;
  DnDataset *ds;        /* the screening's dataset, opened on demand (by the thumbnail worker) */
  char *ds_spec;        /* the set the thumbnails (and ds) belong to */
  GCancellable *thumbs_cancel; /* the thumbnail job in flight, if any */
  guint n_pending;      /* thumbnails shown as placeholders until that job delivers them */

  GtkStack *stack;
  GtkLabel *title_label, *description_label, *stats_label, *poles_empty, *screen_label, *screen_heading, *rf_label;
  GtkToggleButton *alpha_toggle;
  GtkWidget *synth_button;
  GtkFlowBox *poles_box, *top_box, *bottom_box;
  DnAppPlot *curves_plot;
  GtkWidget *rf_box;
  GtkPicture *rf_picture;
};

enum
{
  SIGNAL_SYNTHESIZE,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (DnAppNeuronPage, dn_app_neuron_page, GTK_TYPE_WIDGET)

static GtkWidget *
tile (GdkPaintable *paintable, const char *caption, int size)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_add_css_class (box, "pole-tile");
  GtkWidget *pic = gtk_picture_new_for_paintable (paintable);
  gtk_picture_set_can_shrink (GTK_PICTURE (pic), TRUE);
  gtk_widget_set_size_request (pic, size, size);
  gtk_box_append (GTK_BOX (box), pic);
  GtkWidget *label = gtk_label_new (caption);
  gtk_widget_add_css_class (label, "tile-label");
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_box_append (GTK_BOX (box), label);
  return box;
}

static void
clear_flow (GtkFlowBox *box)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (box))))
    gtk_flow_box_remove (box, child);
}

static guint
count_children (GtkFlowBox *box)
{
  guint n = 0;
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (box)); c; c = gtk_widget_get_next_sibling (c))
    n++;
  return n;
}

/* Thumbnails of screened images: decoding them (and listing a folder the first time) is file I/O, so it
 * runs on a worker. The page shows placeholder tiles at once, takes cached textures as they are, and
 * fills in the others when the job returns; a newer neuron (or project) cancels an older job. */

typedef struct
{
  DnAppItemRender render; /* made on the UI thread from the project's model */
  DnDataset *ds;      /* the page's dataset while the job has it, or NULL: the worker opens spec */
  char *spec;
  int builtin_size;
  GArray *index;      /* gint64 items to decode */
  GPtrArray *pictures;/* GtkPicture per item (placeholders) */
  GPtrArray *images;  /* float (C,H,W) per item, or NULL where it failed */
  int C, H, W;
} ThumbJob;

static void
thumb_job_free (ThumbJob *j)
{
  dn_app_item_render_clear (&j->render);
  dn_dataset_free (j->ds);
  g_free (j->spec);
  g_array_unref (j->index);
  g_ptr_array_unref (j->pictures);
  g_ptr_array_unref (j->images);
  g_free (j);
}

static void
thumb_job_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ThumbJob *j = data;
  GError *error = NULL;
  if (!j->ds && !(j->ds = dn_app_dataset_open_spec (j->spec, j->builtin_size, &error)))
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < j->index->len; i++)
    {
      float *out = NULL;
      if (!g_cancellable_is_cancelled (cancellable))
        {
          g_autoptr (GError) item_error = NULL;
          if (!(out = dn_app_item_render (&j->render, j->ds, g_array_index (j->index, gint64, i), &j->C, &j->H, &j->W,
                                          &item_error)))
            g_message ("%s", item_error->message);
        }
      g_ptr_array_add (j->images, out);
    }
  g_task_return_boolean (task, TRUE);
}

static void
thumb_job_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DnAppNeuronPage *self = DN_APP_NEURON_PAGE (source);
  ThumbJob *j = g_task_get_task_data (G_TASK (res));
  g_autoptr (GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (res), &error);
  bool current = g_task_get_cancellable (G_TASK (res)) == self->thumbs_cancel;
  if (current)
    {
      g_clear_object (&self->thumbs_cancel);
      self->n_pending = 0;
    }
  /* the dataset goes back to the page if it is still the page's set */
  if (j->ds && !self->ds && g_strcmp0 (self->ds_spec, j->spec) == 0)
    self->ds = g_steal_pointer (&j->ds);
  if (!ok)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("%s", error->message);
      return;
    }
  if (!current || g_strcmp0 (self->ds_spec, j->spec) != 0 || !self->project)
    return;
  int mh, mw;
  const float *mask = dn_app_project_get_mask (self->project, &mh, &mw);
  /* the thumbnail cache is bounded by the cache-limit-mb preference */
  gsize per = (gsize) j->H * j->W * 3 + 256;
  gsize limit = (gsize) g_settings_get_int (self->settings, "cache-limit-mb") * 1024 * 1024 / per;
  for (guint i = 0; i < j->images->len; i++)
    {
      const float *img = g_ptr_array_index (j->images, i);
      if (!img)
        continue;
      g_autoptr (GdkTexture) t = dn_app_render_texture (img, NULL, j->C, j->H, j->W,
                                                        mh == j->H && mw == j->W ? mask : NULL,
                                                        dn_app_project_get_display_gain (self->project));
      gtk_picture_set_paintable (g_ptr_array_index (j->pictures, i), GDK_PAINTABLE (t));
      if (g_hash_table_size (self->thumbs) >= MAX (limit, 32))
        g_hash_table_remove_all (self->thumbs);
      g_hash_table_insert (self->thumbs, GINT_TO_POINTER ((gint) g_array_index (j->index, gint64, i)),
                           g_object_ref (t));
    }
}

static void
cancel_thumbnails (DnAppNeuronPage *self)
{
  if (self->thumbs_cancel)
    g_cancellable_cancel (self->thumbs_cancel);
  g_clear_object (&self->thumbs_cancel);
  self->n_pending = 0;
}

static void
update_screening (DnAppNeuronPage *self)
{
  cancel_thumbnails (self);
  clear_flow (self->top_box);
  clear_flow (self->bottom_box);
  const DnAppScreening *s = dn_app_project_get_screening (self->project);
  int k = self->neuron;
  if (!s || k < 0 || k >= s->n_neurons)
    {
      gtk_label_set_text (self->screen_label, _("Not screened yet: run a screening to see the images that drive this neuron."));
      return;
    }
  const double *st = s->stats + (gsize) k * DN_APP_N_STATS;
  g_autofree char *text = g_strdup_printf (_("%s · %lld images · mean %.3g · max %.3g · Gini %.3f · %s\n"
                                             "Top row: most activating; bottom row: least activating."),
                                           s->dataset, (long long) s->n_valid, st[2], st[6], st[0],
                                           st[10] > 0 ? _("active") : _("inactive"));
  gtk_label_set_text (self->screen_label, text);
  /* thumbnails are per dataset item: keep them while the set stays the same */
  if (g_strcmp0 (self->ds_spec, s->dataset) != 0)
    {
      g_hash_table_remove_all (self->thumbs);
      g_clear_pointer (&self->ds, dn_dataset_free);
      g_free (self->ds_spec);
      self->ds_spec = g_strdup (s->dataset);
    }
  ThumbJob *j = g_new0 (ThumbJob, 1);
  j->index = g_array_new (FALSE, FALSE, sizeof (gint64));
  j->pictures = g_ptr_array_new_with_free_func (g_object_unref);
  j->images = g_ptr_array_new_with_free_func (g_free);
  int n = MIN (s->top_k, 8);
  for (int side = 0; side < 2; side++)
    for (int r = 0; r < n; r++)
      {
        gsize at = (gsize) k * s->top_k + r;
        gint64 index = side == 0 ? s->top_index[at] : s->bottom_index[at];
        if (index < 0)
          continue;
        GdkTexture *t = g_hash_table_lookup (self->thumbs, GINT_TO_POINTER ((gint) index));
        g_autofree char *cap = g_strdup_printf ("#%" G_GINT64_FORMAT "\n%.3g", index,
                                                side == 0 ? s->top_value[at] : s->bottom_value[at]);
        GtkWidget *box = tile (t ? GDK_PAINTABLE (t) : NULL, cap, 72);
        gtk_flow_box_append (side == 0 ? self->top_box : self->bottom_box, box);
        if (!t)
          {
            g_array_append_val (j->index, index);
            g_ptr_array_add (j->pictures, g_object_ref (gtk_widget_get_first_child (box)));
          }
      }
  if (j->index->len == 0)
    {
      thumb_job_free (j);
      return;
    }
  g_autoptr (GError) error = NULL;
  if (!dn_app_item_render_init (&j->render, self->project, &error))
    {
      g_message ("%s", error->message);
      thumb_job_free (j);
      return;
    }
  j->spec = g_strdup (s->dataset);
  const DnTwinInfo *info = dn_app_project_get_info (self->project);
  j->builtin_size = info ? info->in_h : 0;
  j->ds = g_steal_pointer (&self->ds);
  self->n_pending = j->index->len;
  self->thumbs_cancel = g_cancellable_new ();
  g_autoptr (GTask) task = g_task_new (self, self->thumbs_cancel, thumb_job_done, NULL);
  g_task_set_source_tag (task, update_screening);
  g_task_set_task_data (task, j, (GDestroyNotify) thumb_job_free);
  g_task_run_in_thread (task, thumb_job_thread);
}

static void
update (DnAppNeuronPage *self)
{
  int k = self->neuron;
  g_autoptr (DnAppNeuron) row = self->project ? dn_app_project_get_neuron (self->project, k) : NULL;
  if (!row)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "neuron");
  g_autofree char *title = g_strdup_printf (_("Neuron %s"), dn_app_neuron_get_label (row));
  gtk_label_set_text (self->title_label, title);
  const char *desc = dn_app_neuron_get_description (row);
  gtk_label_set_text (self->description_label, *desc ? desc : dn_app_project_get_model_name (self->project));

  /* poles */
  clear_flow (self->poles_box);
  dn_app_plot_clear (self->curves_plot);
  g_autoptr (GPtrArray) poles = dn_app_project_list_poles (self->project, k);
  gtk_widget_set_visible (GTK_WIDGET (self->poles_empty), poles->len == 0);
  double best_rf = NAN;
  for (guint i = 0; i < poles->len; i++)
    {
      const DnAppPole *p = g_ptr_array_index (poles, i);
      g_autoptr (GdkTexture) t = dn_app_project_render_pole (self->project, p);
      g_autofree char *cap = g_strdup_printf (_("seed %u · %s\nr = %.3g"), p->seed,
                                              p->weight > 0 ? _("most") : _("least"), p->response);
      gtk_flow_box_append (self->poles_box, tile (GDK_PAINTABLE (t), cap, 128));
      if (p->activations)
        {
          g_autofree char *label = g_strdup_printf ("%u %s", p->seed, p->weight > 0 ? "most" : "least");
          dn_app_plot_add_series (self->curves_plot, p->activations, (guint) p->steps,
                                  p->weight > 0 ? 0xe01b24 : 0x1c71d8, label);
        }
      if (p->weight > 0 && isfinite (p->rf_cosine))
        best_rf = isnan (best_rf) ? p->rf_cosine : MAX (best_rf, p->rf_cosine);
    }
  dn_app_plot_set_labels (self->curves_plot, _("Activation during synthesis (red: most, blue: least)"), _("step"),
                          _("|response|"));

  /* numbers */
  GString *s = g_string_new (NULL);
  double corr = dn_app_neuron_get_value (row, "correlation");
  if (!isnan (corr))
    g_string_append_printf (s, _("Test correlation %.3f · "), corr);
  double blank = dn_app_project_get_blank_response (self->project, k);
  if (!isnan (blank))
    g_string_append_printf (s, _("blank image %.3g · "), blank);
  double most = dn_app_neuron_get_value (row, "most"), least = dn_app_neuron_get_value (row, "least");
  if (!isnan (most))
    g_string_append_printf (s, _("most-pole %.3g · "), most);
  if (!isnan (least))
    g_string_append_printf (s, _("least-pole %.3g · "), least);
  double ratio = dn_app_neuron_get_value (row, "ratio");
  if (!isnan (ratio))
    g_string_append_printf (s, _("pole ÷ best screened image %.2f · "), ratio);
  if (s->len >= 3)
    g_string_truncate (s, s->len - 3);
  if (s->len > 0 && s->str[s->len - 1] == ' ')
    g_string_truncate (s, s->len - 1);
  gtk_label_set_text (self->stats_label, s->str);
  gtk_widget_set_visible (GTK_WIDGET (self->stats_label), s->len > 0);
  g_string_free (s, TRUE);

  update_screening (self);

  /* ground truth */
  const float *rf = dn_app_project_get_true_rf (self->project, k);
  gtk_widget_set_visible (self->rf_box, rf != NULL);
  if (rf)
    {
      const DnTwinInfo *info = dn_app_project_get_info (self->project);
      g_autoptr (GdkTexture) t = dn_app_texture_from_gray (rf, info->in_h, info->in_w, TRUE);
      gtk_picture_set_paintable (self->rf_picture, GDK_PAINTABLE (t));
      g_autofree char *txt = isnan (best_rf)
                               ? g_strdup (_("True receptive field of this model cell (ground truth of the built-in twin)."))
                               : g_strdup_printf (_("True receptive field of this model cell. Cosine similarity of the "
                                                    "best most-pole with it: %.3f"), best_rf);
      gtk_label_set_text (self->rf_label, txt);
    }
}

static void
on_poles_changed (DnAppNeuronPage *self, int neuron)
{
  if (neuron < 0)
    g_hash_table_remove_all (self->thumbs); /* the contrast or alpha changed: render again */
  if (neuron < 0 || neuron == self->neuron)
    update (self);
}

static void
on_synth_clicked (DnAppNeuronPage *self)
{
  if (self->neuron >= 0)
    g_signal_emit (self, signals[SIGNAL_SYNTHESIZE], 0, self->neuron);
}

void
dn_app_neuron_page_set_project (DnAppNeuronPage *self, DnAppProject *project)
{
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  g_set_object (&self->project, project);
  g_signal_connect_swapped (project, "poles-changed", G_CALLBACK (on_poles_changed), self);
  g_signal_connect_swapped (project, "screening-changed", G_CALLBACK (update), self);
  g_signal_connect_swapped (project, "model-changed", G_CALLBACK (update), self);
  g_object_bind_property (project, "show-alpha", self->alpha_toggle, "active",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  g_object_bind_property (project, "busy", self->synth_button, "sensitive",
                          G_BINDING_INVERT_BOOLEAN | G_BINDING_SYNC_CREATE);
  update (self);
}

void
dn_app_neuron_page_set_neuron (DnAppNeuronPage *self, int neuron)
{
  self->neuron = neuron;
  update (self);
}

int
dn_app_neuron_page_get_neuron (DnAppNeuronPage *self)
{
  return self->neuron;
}

guint
dn_app_neuron_page_get_n_pole_tiles (DnAppNeuronPage *self)
{
  return count_children (self->poles_box);
}

guint
dn_app_neuron_page_get_n_screened_tiles (DnAppNeuronPage *self)
{
  return count_children (self->top_box) + count_children (self->bottom_box);
}

guint
dn_app_neuron_page_get_n_pending_thumbnails (DnAppNeuronPage *self)
{
  return self->n_pending;
}

guint
dn_app_neuron_page_get_n_thumbnails (DnAppNeuronPage *self)
{
  guint n = 0;
  GtkFlowBox *boxes[2] = { self->top_box, self->bottom_box };
  for (int i = 0; i < 2; i++)
    for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (boxes[i])); c; c = gtk_widget_get_next_sibling (c))
      {
        /* flow box child → tile box → picture */
        GtkWidget *tile_box = gtk_flow_box_child_get_child (GTK_FLOW_BOX_CHILD (c));
        GtkWidget *pic = tile_box ? gtk_widget_get_first_child (tile_box) : NULL;
        n += GTK_IS_PICTURE (pic) && gtk_picture_get_paintable (GTK_PICTURE (pic)) != NULL;
      }
  return n;
}

static void
dn_app_neuron_page_dispose (GObject *object)
{
  DnAppNeuronPage *self = DN_APP_NEURON_PAGE (object);
  cancel_thumbnails (self);
  if (self->project)
    g_signal_handlers_disconnect_by_data (self->project, self);
  dn_app_dispose_template (GTK_WIDGET (self), DN_APP_TYPE_NEURON_PAGE);
  g_clear_object (&self->project);
  G_OBJECT_CLASS (dn_app_neuron_page_parent_class)->dispose (object);
}

static void
dn_app_neuron_page_finalize (GObject *object)
{
  DnAppNeuronPage *self = DN_APP_NEURON_PAGE (object);
  g_hash_table_unref (self->thumbs);
  g_clear_object (&self->settings);
  dn_dataset_free (self->ds);
  g_free (self->ds_spec);
  G_OBJECT_CLASS (dn_app_neuron_page_parent_class)->finalize (object);
}

static void
dn_app_neuron_page_class_init (DnAppNeuronPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = dn_app_neuron_page_dispose;
  object_class->finalize = dn_app_neuron_page_finalize;
  signals[SIGNAL_SYNTHESIZE] = g_signal_new ("synthesize", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                             NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  g_type_ensure (DN_APP_TYPE_PLOT);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/dualneuron/DualNeuron/ui/dn-app-neuron-page.ui");
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, stack);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, description_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, stats_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, poles_empty);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, screen_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, screen_heading);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, rf_label);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, alpha_toggle);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, synth_button);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, poles_box);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, top_box);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, bottom_box);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, curves_plot);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, rf_box);
  gtk_widget_class_bind_template_child (widget_class, DnAppNeuronPage, rf_picture);
  gtk_widget_class_bind_template_callback (widget_class, on_synth_clicked);
}

static void
dn_app_neuron_page_init (DnAppNeuronPage *self)
{
  self->neuron = -1;
  self->thumbs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_object_unref);
  self->settings = g_settings_new (DN_APP_ID);
  gtk_widget_init_template (GTK_WIDGET (self));
}
