/* test-ui.c: drives the real DualNeuron window under Xvfb: start on the built-in twin, select a neuron,
 * run a short synthesis (previews and curves update, gallery tiles appear), screen a built-in set, export
 * a stimulus set and check the files, save and reopen the project, demo mode, bad input, small windows.
 * Screenshots of each main view go to $DN_SCREENSHOT_DIR (the test log folder). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-ui"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "dn-app-application.h"
#include "dn-app-demo.h"
#include "dn-app-preferences.h"
#include "dn-app-export-dialog.h"
#include "dn-app-plot.h"
#include "dn-app-window-private.h"
#include "dn-h5.h"

static DnAppWindow *win;
static char *tmpdir;

/* Main-loop helpers --------------------------------------------------------------------------------- */

typedef gboolean (*Cond) (gpointer data);

static gboolean
wait_until (Cond cond, gpointer data, double timeout_s)
{
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * 1e6);
  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return TRUE;
}

static void
settle (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * 1e6);
  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
}

static void
on_after_paint (GdkFrameClock *clock, gboolean *painted)
{
  *painted = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
screenshot (GtkWidget *widget, const char *name)
{
  settle (0.3);
  /* wait for a whole frame (layout + paint), then snapshot before anything else runs */
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  gboolean painted = FALSE;
  gulong id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
  gtk_widget_queue_draw (widget);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_LAYOUT | GDK_FRAME_CLOCK_PHASE_PAINT);
  g_assert_true (wait_until (is_true, &painted, 10));
  g_signal_handler_disconnect (clock, id);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  g_assert_cmpint (w, >, 0);
  g_assert_cmpint (h, >, 0);
  /* the widget's own snapshot of its current state (what the next frame shows) */
  GtkSnapshot *s = gtk_snapshot_new ();
  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, s);
  GskRenderNode *node = gtk_snapshot_free_to_node (s);
  g_assert_nonnull (node);
  GskRenderer *r = gtk_native_get_renderer (gtk_widget_get_native (widget));
  GdkTexture *t = gsk_renderer_render_texture (r, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  const char *dir = g_getenv ("DN_SCREENSHOT_DIR");
  g_autofree char *d = g_strdup (dir ? dir : tmpdir);
  g_mkdir_with_parents (d, 0755);
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (d, file, NULL);
  g_assert_true (gdk_texture_save_to_png (t, path));
  g_test_message ("screenshot %s (%dx%d)", path, w, h);
  gsk_render_node_unref (node);
  g_object_unref (t);
}

static gboolean
opens_at_least (gpointer data)
{
  return _dn_app_window_get_n_opens (win) >= GPOINTER_TO_UINT (data);
}

static gboolean
synth_done (gpointer data)
{
  return !dn_app_synth_panel_get_running (_dn_app_window_get_synth_panel (win));
}

static gboolean
screen_done (gpointer data)
{
  return !dn_app_screen_panel_get_running (_dn_app_window_get_screen_panel (win));
}

static gboolean
thumbnails_done (gpointer data)
{
  return dn_app_neuron_page_get_n_pending_thumbnails (_dn_app_window_get_neuron_page (win)) == 0;
}

static gboolean
not_busy (gpointer data)
{
  return !dn_app_project_get_busy (dn_app_window_get_project (win));
}

/* What a mouse click on a button does (gtk_widget_activate() delays "clicked" for its animation). */
static void
click (GtkWidget *button)
{
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

/* Tests ------------------------------------------------------------------------------------------------ */

static void
test_start (void)
{
  /* what the application does at start: the window on the last model (the built-in twin) */
  dn_app_window_open_model (win, "builtin:gabor-v1");
  g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (1), 60));
  DnAppProject *p = dn_app_window_get_project (win);
  g_assert_true (dn_app_project_has_model (p));
  g_assert_cmpstr (dn_app_project_get_model_name (p), ==, "builtin:gabor-v1");
  g_assert_cmpuint (g_list_model_get_n_items (_dn_app_window_get_visible_neurons (win)), ==, 120);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (gtk_column_view_get_columns (_dn_app_window_get_column_view (win)))), ==, 9);
  screenshot (GTK_WIDGET (win), "01-start");
}

static void
test_select (void)
{
  GtkSearchEntry *search = _dn_app_window_get_search_entry (win);
  gtk_editable_set_text (GTK_EDITABLE (search), "45");
  g_signal_emit_by_name (search, "search-changed");
  settle (0.1);
  GListModel *visible = _dn_app_window_get_visible_neurons (win);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  g_autoptr (DnAppNeuron) n = g_list_model_get_item (visible, 0);
  g_assert_cmpint (dn_app_neuron_get_index (n), ==, 45);
  /* free text searches the descriptions */
  gtk_editable_set_text (GTK_EDITABLE (search), "complex");
  g_signal_emit_by_name (search, "search-changed");
  settle (0.1);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 24);
  gtk_editable_set_text (GTK_EDITABLE (search), "");
  g_signal_emit_by_name (search, "search-changed");
  settle (0.1);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 120);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "win.select-neuron", "i", 2));
  settle (0.1);
  g_assert_cmpint (dn_app_window_get_selected_neuron (win), ==, 2);
  g_assert_cmpint (dn_app_neuron_page_get_neuron (_dn_app_window_get_neuron_page (win)), ==, 2);
}

typedef struct
{
  guint max_previews, max_points;
} Watch;

static void
on_preview_seen (DnAppSynthPanel *panel, Watch *w)
{
  w->max_previews = MAX (w->max_previews, dn_app_synth_panel_get_n_previews (panel));
  w->max_points = MAX (w->max_points, dn_app_synth_panel_get_n_curve_points (panel));
}

static gboolean
watch_synth (gpointer data)
{
  on_preview_seen (_dn_app_window_get_synth_panel (win), data);
  return synth_done (NULL);
}

static void
test_synthesis (void)
{
  DnAppSynthPanel *panel = _dn_app_window_get_synth_panel (win);
  DnAppProject *p = dn_app_window_get_project (win);
  dn_app_window_show_page (win, "synthesis");
  gtk_editable_set_text (dn_app_synth_panel_get_neurons_entry (panel), "0-7,96-99");
  gtk_spin_button_set_value (dn_app_synth_panel_get_steps_spin (panel), 32);
  click (dn_app_synth_panel_get_start_button (panel));
  g_assert_true (dn_app_synth_panel_get_running (panel));
  g_assert_true (dn_app_project_get_busy (p));
  Watch w = { 0 };
  gboolean shot = FALSE;
  gint64 end = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;
  while (!synth_done (NULL) && g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, TRUE);
      on_preview_seen (panel, &w);
      if (!shot && w.max_previews > 0 && w.max_points > 16)
        {
          screenshot (GTK_WIDGET (win), "03-synthesis-running");
          shot = TRUE;
        }
    }
  g_assert_true (wait_until (watch_synth, &w, 1));
  g_assert_cmpuint (w.max_previews, >, 0);
  g_assert_cmpuint (w.max_points, >, 0);
  g_assert_false (dn_app_project_get_busy (p));
  g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, 24);
  for (int k = 0; k < 4; k++)
    {
      const DnAppPole *most = dn_app_project_get_pole (p, k, 0, 1), *least = dn_app_project_get_pole (p, k, 0, -1);
      g_assert_nonnull (most);
      g_assert_nonnull (least);
      g_assert_cmpint (most->steps, ==, 32);
      /* the ascent went up and the descent went down, and both beat the blank image */
      g_assert_cmpfloat (most->response, >, most->initial_response);
      g_assert_cmpfloat (most->response, >, least->response);
      double blank = dn_app_project_get_blank_response (p, k);
      g_assert_false (isnan (blank));
      g_assert_cmpfloat (most->response, >, blank);
      g_assert_cmpfloat (least->response, <=, blank + 1e-6);
      g_autoptr (DnAppNeuron) row = dn_app_project_get_neuron (p, k);
      g_assert_cmpfloat (dn_app_neuron_get_value (row, "most"), ==, most->response);
      GdkPaintable *tile = NULL;
      g_object_get (row, "most-paintable", &tile, NULL);
      g_assert_nonnull (tile);
      g_assert_cmpint (gdk_paintable_get_intrinsic_width (tile), ==, 93);
      g_object_unref (tile);
    }
  screenshot (GTK_WIDGET (win), "03-synthesis");

  /* sorting the browser by the most-pole column, descending, puts the strongest pole first */
  GtkColumnView *cv = _dn_app_window_get_column_view (win);
  GtkColumnViewColumn *most_col = g_list_model_get_item (G_LIST_MODEL (gtk_column_view_get_columns (cv)), 3);
  g_assert_cmpstr (gtk_column_view_column_get_title (most_col), ==, "Most");
  gtk_column_view_sort_by_column (cv, most_col, GTK_SORT_DESCENDING);
  settle (0.1);
  {
    g_autoptr (DnAppNeuron) first = g_list_model_get_item (_dn_app_window_get_visible_neurons (win), 0);
    double best = -1;
    int best_k = -1;
    for (int k = 0; k < 120; k++)
      {
        const DnAppPole *mp = dn_app_project_get_pole (p, k, 0, 1);
        if (mp && mp->response > best)
          best = mp->response, best_k = k;
      }
    g_assert_cmpint (dn_app_neuron_get_index (first), ==, best_k);
  }
  g_autoptr (GtkColumnViewColumn) id_col = g_list_model_get_item (G_LIST_MODEL (gtk_column_view_get_columns (cv)), 0);
  gtk_column_view_sort_by_column (cv, id_col, GTK_SORT_ASCENDING);
  g_object_unref (most_col);

  /* the gallery shows one tile per synthesized neuron */
  DnAppGallery *gallery = _dn_app_window_get_gallery (win);
  dn_app_window_show_page (win, "gallery");
  g_assert_cmpuint (dn_app_gallery_get_n_tiles (gallery), ==, 12);
  screenshot (GTK_WIDGET (win), "02-gallery");
  /* clicking a tile opens the neuron in the browser */
  g_signal_emit_by_name (dn_app_gallery_get_grid (gallery), "activate", 1u);
  settle (0.1);
  g_assert_cmpint (dn_app_window_get_selected_neuron (win), ==, 1);
  DnAppNeuronPage *page = _dn_app_window_get_neuron_page (win);
  g_assert_cmpint (dn_app_neuron_page_get_neuron (page), ==, 1);
  g_assert_cmpuint (dn_app_neuron_page_get_n_pole_tiles (page), ==, 2);
  screenshot (GTK_WIDGET (win), "01-browser");
}

static void
test_screening (void)
{
  DnAppScreenPanel *panel = _dn_app_window_get_screen_panel (win);
  DnAppProject *p = dn_app_window_get_project (win);
  dn_app_window_show_page (win, "screening");
  gtk_editable_set_text (dn_app_screen_panel_get_dataset_entry (panel),
                         "builtin:gratings:n_ori=8,n_sf=5,n_phase=4,n_contrast=1");
  gtk_spin_button_set_value (dn_app_screen_panel_get_top_k_spin (panel), 6);
  click (dn_app_screen_panel_get_start_button (panel));
  g_assert_true (dn_app_screen_panel_get_running (panel));
  g_assert_true (wait_until (screen_done, NULL, 300));
  const DnAppScreening *s = dn_app_project_get_screening (p);
  g_assert_nonnull (s);
  g_assert_cmpint (s->n_neurons, ==, 120);
  g_assert_cmpint (s->top_k, ==, 6);
  g_assert_cmpint (s->n_valid, ==, 160);
  g_assert_cmpint (s->n_failed, ==, 0);
  /* ordering: top values descending, bottom ascending */
  for (int r = 1; r < 6; r++)
    {
      g_assert_cmpfloat (s->top_value[r - 1], >=, s->top_value[r]);
      g_assert_cmpfloat (s->bottom_value[r - 1], <=, s->bottom_value[r]);
    }
  screenshot (GTK_WIDGET (win), "04-screening");
  g_autoptr (DnAppNeuron) row = dn_app_project_get_neuron (p, 1);
  g_assert_cmpfloat (dn_app_neuron_get_value (row, "screen-max"), ==, s->top_value[1 * 6]);
  g_assert_false (isnan (dn_app_neuron_get_value (row, "ratio")));
  dn_app_window_show_page (win, "browser");
  DnAppNeuronPage *page = _dn_app_window_get_neuron_page (win);
  g_assert_cmpuint (dn_app_neuron_page_get_n_screened_tiles (page), ==, 12);
  /* the thumbnails are decoded on a worker: placeholders first, then every image */
  g_assert_true (wait_until (thumbnails_done, NULL, 60));
  g_assert_cmpuint (dn_app_neuron_page_get_n_thumbnails (page), ==, 12);
  screenshot (GTK_WIDGET (win), "05-browser-screened");
}

static gboolean
file_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
png_size (const char *path, guint32 *w, guint32 *h)
{
  g_autofree guint8 *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, (char **) &data, &len, NULL));
  g_assert_cmpuint (len, >, 24);
  g_assert_cmpmem (data, 8, "\x89PNG\r\n\x1a\n", 8);
  *w = GUINT32_FROM_BE (*(guint32 *) (data + 16));
  *h = GUINT32_FROM_BE (*(guint32 *) (data + 20));
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *tops = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (tops); i++)
    {
      g_autoptr (GObject) o = g_list_model_get_item (tops, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (o, type))
        return GTK_WINDOW (o);
    }
  return NULL;
}

static void
test_export (void)
{
  g_autofree char *folder = g_build_filename (tmpdir, "stimuli", NULL);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "win.export", NULL));
  DnAppExportDialog *d = DN_APP_EXPORT_DIALOG (find_toplevel (DN_APP_TYPE_EXPORT_DIALOG));
  g_assert_nonnull (d);
  settle (0.2);
  screenshot (GTK_WIDGET (d), "06-export");
  gtk_editable_set_text (dn_app_export_dialog_get_neurons_entry (d), "0-3");
  g_assert_true (gtk_switch_get_active (dn_app_export_dialog_get_screened_switch (d)));
  dn_app_export_dialog_set_folder (d, folder);
  click (dn_app_export_dialog_get_export_button (d));
  g_autofree char *manifest = g_build_filename (folder, "manifest.csv", NULL);
  g_assert_true (wait_until (file_exists, manifest, 120));
  g_assert_true (wait_until (not_busy, NULL, 30));
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (manifest, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (g_strstrip (text), "\n", -1);
  g_assert_cmpstr (lines[0], ==, "file,neuron,pole,seed,predicted_response,norm,source");
  /* 8 poles + 4 neurons × (6 top + 6 bottom) screened images */
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + 8 + 4 * 12);
  for (int i = 1; lines[i]; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], ",", 7);
      g_assert_cmpuint (g_strv_length (f), ==, 7);
      g_autofree char *png = g_build_filename (folder, f[0], NULL);
      guint32 w, h;
      png_size (png, &w, &h);
      g_assert_cmpuint (w, ==, 256);
      g_assert_cmpuint (h, ==, 256);
      double norm = g_ascii_strtod (f[5], NULL);
      g_assert_cmpfloat (norm, >, 0);
    }
  /* poles.h5 in DualNeuron's layout */
  g_autofree char *h5path = g_build_filename (folder, "poles.h5", NULL);
  DnStatus st = DN_OK;
  DnH5 *h = dn_h5_open (h5path, false, &st);
  g_assert_nonnull (h);
  float *img = NULL;
  int nd = 0;
  int64_t shape[8];
  g_assert_cmpint (dn_h5_read_f32 (h, "/neuron_0002/seed_0/least/image", &img, &nd, shape), ==, DN_OK);
  g_assert_cmpint (nd, ==, 3);
  g_assert_cmpint (shape[1], ==, 93);
  const DnAppPole *pole = dn_app_project_get_pole (dn_app_window_get_project (win), 2, 0, -1);
  g_assert_cmpmem (img, 93 * 93 * sizeof (float), pole->image, 93 * 93 * sizeof (float));
  free (img);
  char *type = NULL;
  g_assert_cmpint (dn_h5_read_attr_str (h, "/neuron_0002/seed_0/least", "type", &type), ==, DN_OK);
  g_assert_cmpstr (type, ==, "least");
  free (type);
  dn_h5_close (h);
  /* no temporary files left */
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    g_assert_false (g_str_has_suffix (name, ".tmp"));
}

static void
test_project (void)
{
  DnAppProject *p = dn_app_window_get_project (win);
  g_autofree char *path = g_build_filename (tmpdir, "session.dnproj.h5", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (dn_app_project_save (p, path, &error));
  g_assert_no_error (error);
  g_assert_false (dn_app_project_get_dirty (p));
  guint poles = dn_app_project_get_n_poles (p);
  float r = dn_app_project_get_pole (p, 3, 0, 1)->response;
  float top = dn_app_project_get_screening (p)->top_value[7];
  guint opens = _dn_app_window_get_n_opens (win);
  dn_app_window_open_project (win, path);
  g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 60));
  g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, poles);
  g_assert_cmpfloat (dn_app_project_get_pole (p, 3, 0, 1)->response, ==, r);
  g_assert_nonnull (dn_app_project_get_screening (p));
  g_assert_cmpfloat (dn_app_project_get_screening (p)->top_value[7], ==, top);
  g_assert_cmpuint (dn_app_gallery_get_n_tiles (_dn_app_window_get_gallery (win)), ==, 12);
  g_assert_cmpstr (dn_app_project_get_path (p), ==, path);
  /* the reopened project's image set is opened by the thumbnail worker, not the UI thread */
  DnAppNeuronPage *page = _dn_app_window_get_neuron_page (win);
  dn_app_neuron_page_set_neuron (page, 1);
  g_assert_cmpuint (dn_app_neuron_page_get_n_screened_tiles (page), ==, 12);
  g_assert_true (wait_until (thumbnails_done, NULL, 60));
  g_assert_cmpuint (dn_app_neuron_page_get_n_thumbnails (page), ==, 12);
}

static void
test_bad_input (void)
{
  DnAppProject *p = dn_app_window_get_project (win);
  guint poles = dn_app_project_get_n_poles (p);
  /* a missing model, a corrupt checkpoint and a file that is not a project: a dialog each, the
   * open project stays as it was */
  g_autofree char *corrupt = g_build_filename (tmpdir, "corrupt.pth", NULL);
  g_assert_true (g_file_set_contents (corrupt, "PK\003\004 this is not a checkpoint", -1, NULL));
  const char *models[] = { "/nonexistent/twin.h5", corrupt };
  for (int i = 0; i < 2; i++)
    {
      guint opens = _dn_app_window_get_n_opens (win);
      dn_app_window_open_model (win, models[i]);
      g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 60));
      GtkWindow *dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
      g_assert_nonnull (dialog);
      const char *body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog));
      g_test_message ("error shown: %s", body);
      g_assert_nonnull (strstr (body, i == 0 ? "nonexistent" : "corrupt.pth"));
      if (i == 1)
        screenshot (GTK_WIDGET (dialog), "07-error");
      gtk_window_destroy (dialog);
      g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, poles);
      g_assert_cmpstr (dn_app_project_get_model_name (p), ==, "builtin:gabor-v1");
    }
  guint opens = _dn_app_window_get_n_opens (win);
  dn_app_window_open_project (win, corrupt);
  g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 60));
  GtkWindow *dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (dialog);
  gtk_window_destroy (dialog);
  g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, poles);
  /* a project whose screening lists disagree in shape: refused with the dataset named, nothing read */
  {
    g_autofree char *bad = g_build_filename (tmpdir, "bad-shapes.dnproj.h5", NULL);
    DnStatus hst = DN_OK;
    DnH5 *h = dn_h5_create (bad, &hst);
    g_assert_nonnull (h);
    int64_t idx[6] = { 0, 1, 2, 3, 4, 5 }, s23[2] = { 2, 3 }, s22[2] = { 2, 2 };
    float val[6] = { 0 };
    g_assert_cmpint (dn_h5_write_attr_str (h, "/", "format", "dualneuron-project"), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_attr_str (h, "/", "model", "builtin:gabor-v1"), ==, DN_OK);
    g_assert_cmpint (dn_h5_create_group (h, "/screening"), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_attr_str (h, "/screening", "dataset", "builtin:gratings"), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_i64 (h, "/screening/top_index", idx, 2, s23, false), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_i64 (h, "/screening/bottom_index", idx, 2, s23, false), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_f32 (h, "/screening/top_value", val, 2, s23, false), ==, DN_OK);
    g_assert_cmpint (dn_h5_write_f32 (h, "/screening/bottom_value", val, 2, s22, false), ==, DN_OK);
    g_assert_cmpint (dn_h5_close (h), ==, DN_OK);
    opens = _dn_app_window_get_n_opens (win);
    dn_app_window_open_project (win, bad);
    g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 60));
    dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (dialog);
    const char *body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog));
    g_test_message ("error shown: %s", body);
    g_assert_nonnull (strstr (body, "bottom_value"));
    gtk_window_destroy (dialog);
    g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, poles);
  }
  /* a missing image set: the run stops with a dialog that names it, the screening on show stays */
  DnAppScreenPanel *sp = _dn_app_window_get_screen_panel (win);
  const DnAppScreening *before = dn_app_project_get_screening (p);
  gtk_editable_set_text (dn_app_screen_panel_get_dataset_entry (sp), "/nonexistent/images");
  click (dn_app_screen_panel_get_start_button (sp));
  g_assert_true (wait_until (screen_done, NULL, 60));
  dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "/nonexistent/images"));
  gtk_window_destroy (dialog);
  g_assert_true (dn_app_project_get_screening (p) == before);
  g_assert_false (dn_app_project_get_busy (p));
  /* a bad neuron range: a dialog, nothing starts */
  DnAppSynthPanel *panel = _dn_app_window_get_synth_panel (win);
  gtk_editable_set_text (dn_app_synth_panel_get_neurons_entry (panel), "5-500");
  click (dn_app_synth_panel_get_start_button (panel));
  g_assert_false (dn_app_synth_panel_get_running (panel));
  dialog = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "5-500"));
  gtk_window_destroy (dialog);
}

static gboolean
demo_shown (gpointer data)
{
  return dn_app_demo_get_n_shown (data) >= 1;
}

static void
test_demo (void)
{
  g_autoptr (GSettings) settings = g_settings_new (DN_APP_ID);
  g_settings_set_int (settings, "synth-steps", 16);
  g_settings_set_int (settings, "demo-interval", 600);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "win.demo", NULL));
  DnAppDemo *demo = DN_APP_DEMO (find_toplevel (DN_APP_TYPE_DEMO));
  g_assert_nonnull (demo);
  g_assert_true (wait_until (demo_shown, demo, 120));
  int k = dn_app_demo_get_neuron (demo);
  g_assert_nonnull (dn_app_project_get_pole (dn_app_window_get_project (win), k, 0, 1));
  screenshot (GTK_WIDGET (demo), "08-demo");
  gtk_window_close (GTK_WINDOW (demo));
  g_assert_true (wait_until (not_busy, NULL, 30));
}

static void
on_tick_paint (GdkFrameClock *clock, guint *frames)
{
  (*frames)++;
}

/* 1,500 neurons with poles: the grid recycles its tiles (only those on screen exist) and scrolling
 * through all of them keeps frames short. */
static void
test_gallery_large (void)
{
  const guint n = 1500;
  GListStore *store = g_list_store_new (DN_APP_TYPE_NEURON);
  float img[93 * 93];
  for (guint i = 0; i < n; i++)
    {
      for (int k = 0; k < 93 * 93; k++)
        img[k] = sinf ((float) (k % 93) * (0.05f + 0.0003f * i)) * 0.3f;
      g_autoptr (DnAppNeuron) row = dn_app_neuron_new ((int) i, "", NAN);
      g_autoptr (GdkTexture) t = dn_app_render_texture (img, NULL, 1, 93, 93, NULL, 1.0);
      dn_app_neuron_set_poles (row, 1.0 + i, 0.5, GDK_PAINTABLE (t), GDK_PAINTABLE (t));
      g_list_store_append (store, row);
    }
  GtkWindow *w = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (w, 1280, 800);
  DnAppGallery *gallery = g_object_new (DN_APP_TYPE_GALLERY, NULL);
  gtk_window_set_child (w, GTK_WIDGET (gallery));
  dn_app_gallery_set_model (gallery, G_LIST_MODEL (store));
  gtk_window_present (w);
  settle (0.5);
  g_assert_cmpuint (dn_app_gallery_get_n_tiles (gallery), ==, n);
  GtkGridView *grid = dn_app_gallery_get_grid (gallery);
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (grid));
  double upper = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);
  g_assert_cmpfloat (upper, >, 10000);
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (grid));
  guint frames = 0;
  gulong id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_tick_paint), &frames);
  gint64 t0 = g_get_monotonic_time ();
  const int steps = 60;
  guint max_children = 0;
  for (int s = 1; s <= steps; s++)
    {
      guint before = frames;
      gtk_adjustment_set_value (adj, upper * s / steps);
      while (frames == before)
        g_main_context_iteration (NULL, TRUE);
      guint children = 0;
      for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (grid)); c; c = gtk_widget_get_next_sibling (c))
        children++;
      max_children = MAX (max_children, children);
    }
  double ms = (g_get_monotonic_time () - t0) / 1e3 / steps;
  g_signal_handler_disconnect (clock, id);
  g_test_message ("gallery: %u tiles, scrolled top to bottom in %d frames, %.1f ms per frame (Xvfb, cairo), at "
                  "most %u tile widgets alive", n, steps, ms, max_children);
  g_assert_cmpuint (max_children, <, 400);
  g_assert_cmpfloat (ms, <, 250);
  screenshot (GTK_WIDGET (w), "10-gallery-1500");
  gtk_window_destroy (w);
  g_object_unref (store);
}

static void
test_small (void)
{
  gtk_window_set_default_size (GTK_WINDOW (win), 800, 600);
  settle (0.5);
  const char *pages[] = { "browser", "gallery", "synthesis", "screening" };
  for (int i = 0; i < 4; i++)
    {
      dn_app_window_show_page (win, pages[i]);
      settle (0.2);
      g_autofree char *name = g_strdup_printf ("09-small-%s", pages[i]);
      screenshot (GTK_WIDGET (win), name);
      g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (win)), <=, 800);
    }
}

static void
test_preferences (void)
{
  g_autoptr (GSettings) settings = g_settings_new (DN_APP_ID);
  DnAppPreferences *prefs = dn_app_preferences_new (GTK_WINDOW (win));
  gtk_window_present (GTK_WINDOW (prefs));
  settle (0.3);
  screenshot (GTK_WIDGET (prefs), "11-preferences");
  /* the device row offers automatic, the CPU backend and every Vulkan device dn_device_enumerate finds */
  GtkWidget *w = GTK_WIDGET (prefs);
  AdwComboRow *row = NULL;
  GtkWidget *stack[64];
  int sp = 0;
  stack[sp++] = w;
  while (sp > 0 && !row)
    {
      GtkWidget *x = stack[--sp];
      if (ADW_IS_COMBO_ROW (x))
        row = ADW_COMBO_ROW (x);
      for (GtkWidget *c = gtk_widget_get_first_child (x); c && sp < 64; c = gtk_widget_get_next_sibling (c))
        stack[sp++] = c;
    }
  g_assert_nonnull (row);
  DnDeviceInfo infos[16];
  int n_vk = 0, n = dn_device_enumerate (infos, 16);
  for (int i = 0; i < n; i++)
    n_vk += infos[i].index >= 0;
  g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, 2 + (guint) n_vk);
  /* choosing the CPU backend writes the setting the next model open reads */
  g_assert_cmpint (g_settings_get_int (settings, "device-index"), ==, -1); /* what main() chose */
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 1);
  adw_combo_row_set_selected (row, 0);
  g_assert_cmpint (g_settings_get_int (settings, "device-index"), ==, -2);
  adw_combo_row_set_selected (row, 1);
  g_assert_cmpint (g_settings_get_int (settings, "device-index"), ==, -1);
  gtk_window_destroy (GTK_WINDOW (prefs));
}

static void
test_shortcuts (void)
{
  g_autoptr (GtkBuilder) b = gtk_builder_new_from_resource ("/org/dualneuron/DualNeuron/gtk/help-overlay.ui");
  GObject *o = gtk_builder_get_object (b, "help_overlay");
  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (o));
  gtk_window_destroy (GTK_WINDOW (o));
}

static gboolean
imports_at_least (gpointer data)
{
  return _dn_app_window_get_n_imports (win) >= GPOINTER_TO_UINT (data);
}

static gboolean
import_dialog_open (gpointer data)
{
  return find_toplevel (ADW_TYPE_MESSAGE_DIALOG) != NULL;
}

/* File > Import: the real V1GrayTaskDriven folder becomes a bundle, which opens; then a short synthesis of
 * the real neuron 100 and the browser on the real model. */
static void
test_import_real (void)
{
  const char *shared = g_getenv ("DN_SHARED_DIR");
  g_assert_nonnull (shared);
  g_autofree char *folder = g_build_filename (shared, "dualneuron", "V1GrayTaskDriven", NULL);
  g_assert_true (g_file_test (folder, G_FILE_TEST_IS_DIR));
  g_autofree char *bundle = g_build_filename (tmpdir, "V1GrayTaskDriven.h5", NULL);
  guint opens = _dn_app_window_get_n_opens (win);
  dn_app_window_import (win, folder, bundle);
  g_assert_true (wait_until (import_dialog_open, NULL, 5));
  g_assert_true (wait_until (imports_at_least, GUINT_TO_POINTER (1), 120));
  g_assert_null (find_toplevel (ADW_TYPE_MESSAGE_DIALOG)); /* the progress dialog closed; no error */
  g_assert_true (g_file_test (bundle, G_FILE_TEST_EXISTS));
  g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 120));
  DnAppProject *p = dn_app_window_get_project (win);
  g_assert_cmpstr (dn_app_project_get_model_spec (p), ==, bundle);
  const DnTwinInfo *info = dn_app_project_get_info (p);
  g_assert_cmpint (info->n_neurons, ==, 458);
  g_assert_cmpint (info->n_members, ==, 5);
  g_assert_cmpuint (dn_app_project_get_n_poles (p), ==, 0); /* another model: the old results are gone */
  g_autoptr (DnAppNeuron) row = dn_app_project_get_neuron (p, 100);
  g_assert_false (isnan (dn_app_neuron_get_value (row, "correlation")));
  /* the real neuron 100: a short synthesis of both poles from its page's button */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "win.select-neuron", "i", 100));
  DnAppSynthPanel *panel = _dn_app_window_get_synth_panel (win);
  gtk_spin_button_set_value (dn_app_synth_panel_get_steps_spin (panel), 24);
  g_signal_emit_by_name (_dn_app_window_get_neuron_page (win), "synthesize", 100);
  g_assert_true (dn_app_synth_panel_get_running (panel));
  g_assert_true (wait_until (synth_done, NULL, 300));
  const DnAppPole *most = dn_app_project_get_pole (p, 100, 0, 1), *least = dn_app_project_get_pole (p, 100, 0, -1);
  g_assert_nonnull (most);
  g_assert_nonnull (least);
  g_test_message ("real V1 neuron 100, 24 steps: most %.3f (from %.3f), least %.3f, blank %.3f", most->response,
                  most->initial_response, least->response, dn_app_project_get_blank_response (p, 100));
  g_assert_cmpfloat (most->response, >, most->initial_response);
  g_assert_cmpfloat (least->response, <, least->initial_response);
  g_assert_cmpint (most->n_members, ==, 5);
  dn_app_window_show_page (win, "browser");
  gtk_window_set_default_size (GTK_WINDOW (win), 1280, 800);
  settle (0.5);
  screenshot (GTK_WIDGET (win), "12-browser-v1");
}

/* The same app on the Vulkan backend (lavapipe here, with the validation layer): open the built-in twin on
 * the first Vulkan device and synthesize one pole. */
static void
test_vulkan (void)
{
  DnDeviceInfo infos[16];
  int n = dn_device_enumerate (infos, 16), vk = -1;
  for (int i = 0; i < n && vk < 0; i++)
    if (infos[i].index >= 0)
      vk = infos[i].index;
  if (vk < 0)
    {
      if (g_getenv ("DN_TEST_REQUIRE_VULKAN"))
        g_error ("no Vulkan device, and DN_TEST_REQUIRE_VULKAN is set");
      g_test_skip ("no Vulkan device");
      return;
    }
  g_autoptr (GSettings) settings = g_settings_new (DN_APP_ID);
  g_settings_set_int (settings, "device-index", vk);
  guint opens = _dn_app_window_get_n_opens (win);
  dn_app_window_open_model (win, "builtin:gabor-v1");
  g_assert_true (wait_until (opens_at_least, GUINT_TO_POINTER (opens + 1), 120));
  DnAppProject *p = dn_app_window_get_project (win);
  g_assert_false (dn_device_is_cpu (_dn_app_project_get_device (p)));
  g_test_message ("Vulkan device: %s", dn_app_project_get_device_name (p));
  DnAppSynthPanel *panel = _dn_app_window_get_synth_panel (win);
  gtk_editable_set_text (dn_app_synth_panel_get_neurons_entry (panel), "5");
  gtk_spin_button_set_value (dn_app_synth_panel_get_steps_spin (panel), 6);
  click (dn_app_synth_panel_get_start_button (panel));
  g_assert_true (wait_until (synth_done, NULL, 600));
  const DnAppPole *most = dn_app_project_get_pole (p, 5, 0, 1);
  g_assert_nonnull (most);
  g_assert_cmpfloat (most->response, >, most->initial_response);
  /* the Khronos validation layer (DN_VULKAN_VALIDATION=1) saw nothing wrong */
  g_assert_cmpint (dn_device_validation_messages (_dn_app_project_get_device (p)), ==, 0);
  g_settings_set_int (settings, "device-index", -1);
}

typedef struct
{
  GApplication *app;
  DnAppWindow *window;
  char *model;
  guint polls;
  gboolean has_actions;
} AppRun;

static gboolean
poll_app (gpointer data)
{
  AppRun *r = data;
  r->polls++;
  if (r->window && _dn_app_window_get_n_opens (r->window) > 0)
    {
      r->model = g_strdup (dn_app_project_get_model_name (dn_app_window_get_project (r->window)));
      r->has_actions = g_action_group_has_action (G_ACTION_GROUP (r->app), "preferences")
                       && g_action_group_has_action (G_ACTION_GROUP (r->app), "about")
                       && g_action_group_has_action (G_ACTION_GROUP (r->app), "quit");
      screenshot (GTK_WIDGET (r->window), "00-application-start");
      g_application_quit (r->app);
      return G_SOURCE_REMOVE;
    }
  if (r->polls > 600)
    {
      g_application_quit (r->app);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_window_added (GtkApplication *app, GtkWindow *window, AppRun *r)
{
  if (DN_APP_IS_WINDOW (window))
    r->window = DN_APP_WINDOW (window);
}

/* The application as `dualneuron` starts it: one window, on the last model (the built-in twin on a
 * fresh machine). */
static void
test_application (void)
{
  g_autoptr (GSettings) settings = g_settings_new (DN_APP_ID);
  g_settings_reset (settings, "last-model");
  g_settings_set_int (settings, "device-index", -1);
  DnAppApplication *app = dn_app_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE);
  AppRun r = { .app = G_APPLICATION (app) };
  g_signal_connect (app, "window-added", G_CALLBACK (on_window_added), &r);
  g_timeout_add (100, poll_app, &r);
  char *argv[] = { (char *) "dualneuron", NULL };
  int rc = g_application_run (G_APPLICATION (app), 1, argv);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (r.window);
  g_assert_cmpstr (r.model, ==, "builtin:gabor-v1");
  g_assert_true (r.has_actions);
  g_free (r.model);
  g_object_unref (app);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  adw_init ();
  /* what AdwApplication does for the app: the style sheet of the resource base path */
  GtkCssProvider *css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/org/dualneuron/DualNeuron/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  tmpdir = g_dir_make_tmp ("dn-ui-XXXXXX", NULL);
  g_autoptr (GSettings) settings = g_settings_new (DN_APP_ID);
  g_settings_set_int (settings, "device-index", -1); /* the CPU backend */
  g_settings_set_int (settings, "threads", 2);
  win = dn_app_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (win), 1280, 800);
  gtk_window_present (GTK_WINDOW (win));
  g_test_add_func ("/ui/start", test_start);
  g_test_add_func ("/ui/select", test_select);
  g_test_add_func ("/ui/synthesis", test_synthesis);
  g_test_add_func ("/ui/screening", test_screening);
  g_test_add_func ("/ui/export", test_export);
  g_test_add_func ("/ui/project", test_project);
  g_test_add_func ("/ui/bad-input", test_bad_input);
  g_test_add_func ("/ui/demo", test_demo);
  g_test_add_func ("/ui/gallery-large", test_gallery_large);
  g_test_add_func ("/ui/small", test_small);
  g_test_add_func ("/ui/preferences", test_preferences);
  g_test_add_func ("/ui/shortcuts", test_shortcuts);
  g_test_add_func ("/ui/import-real", test_import_real);
  g_test_add_func ("/ui/vulkan", test_vulkan);
  g_test_add_func ("/ui/application", test_application);
  int rc = g_test_run ();
  gtk_window_destroy (GTK_WINDOW (win));
  return rc;
}
