/* dn-app-plot.c: line and histogram chart (see dn-app-plot.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>

#include "dn-app-plot.h"

typedef struct
{
  GArray *y;      /* float */
  guint32 rgb;
  char *label;
} Series;

struct _DnAppPlot
{
  GtkWidget parent_instance;
  GPtrArray *series;  /* Series* */
  double *hist;       /* bin counts, or NULL */
  guint n_bins;
  double hist_lo, hist_hi;
  guint32 hist_rgb;
  char *title, *x_label, *y_label;
};

G_DEFINE_FINAL_TYPE (DnAppPlot, dn_app_plot, GTK_TYPE_WIDGET)

static void
series_free (gpointer data)
{
  Series *s = data;
  g_array_unref (s->y);
  g_free (s->label);
  g_free (s);
}

static void
set_rgb (cairo_t *cr, guint32 rgb, double a)
{
  cairo_set_source_rgba (cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0, a);
}

static char *
fmt (double v)
{
  return g_strdup_printf ("%.3g", v);
}

void
dn_app_plot_draw (DnAppPlot *self, cairo_t *cr, int width, int height)
{
  GdkRGBA fg = { 0.2, 0.2, 0.2, 1 };
#if GTK_CHECK_VERSION(4, 10, 0)
  gtk_widget_get_color (GTK_WIDGET (self), &fg);
#else
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
#endif
  double l = 48, r = 12, t = self->title ? 22 : 8, b = 30;
  double pw = width - l - r, ph = height - t - b;
  if (pw < 10 || ph < 10)
    return;
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 10);
  /* ranges */
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  gboolean any = FALSE;
  if (self->hist)
    {
      x0 = self->hist_lo, x1 = self->hist_hi, y0 = 0, y1 = 1;
      for (guint i = 0; i < self->n_bins; i++)
        y1 = MAX (y1, self->hist[i]);
      any = TRUE;
    }
  else
    {
      y0 = INFINITY, y1 = -INFINITY;
      x1 = 1;
      for (guint i = 0; i < self->series->len; i++)
        {
          Series *s = g_ptr_array_index (self->series, i);
          for (guint k = 0; k < s->y->len; k++)
            {
              float v = g_array_index (s->y, float, k);
              if (!isfinite (v))
                continue;
              y0 = MIN (y0, v), y1 = MAX (y1, v);
              any = TRUE;
            }
          x1 = MAX (x1, (double) s->y->len);
        }
      if (!any)
        y0 = 0, y1 = 1;
      if (y1 - y0 < 1e-9)
        y0 -= 0.5, y1 += 0.5;
      double pad = 0.05 * (y1 - y0);
      y0 -= pad, y1 += pad;
    }
  /* frame and ticks */
  cairo_set_line_width (cr, 1);
  gdk_cairo_set_source_rgba (cr, &fg);
  cairo_rectangle (cr, l + 0.5, t + 0.5, pw, ph);
  cairo_stroke (cr);
  for (int i = 0; i <= 4; i++)
    {
      double yv = y0 + (y1 - y0) * i / 4.0, py = t + ph - ph * i / 4.0;
      g_autofree char *s = fmt (yv);
      cairo_text_extents_t e;
      cairo_text_extents (cr, s, &e);
      cairo_move_to (cr, l - 4 - e.width, py + e.height / 2);
      cairo_show_text (cr, s);
      double xv = x0 + (x1 - x0) * i / 4.0, px = l + pw * i / 4.0;
      g_autofree char *sx = fmt (xv);
      cairo_text_extents (cr, sx, &e);
      cairo_move_to (cr, px - e.width / 2, t + ph + 13);
      cairo_show_text (cr, sx);
    }
  if (self->title)
    {
      cairo_set_font_size (cr, 12);
      cairo_move_to (cr, l, 15);
      cairo_show_text (cr, self->title);
      cairo_set_font_size (cr, 10);
    }
  if (self->x_label)
    {
      cairo_text_extents_t e;
      cairo_text_extents (cr, self->x_label, &e);
      cairo_move_to (cr, l + pw / 2 - e.width / 2, height - 4);
      cairo_show_text (cr, self->x_label);
    }
  if (self->y_label)
    {
      cairo_save (cr);
      cairo_move_to (cr, 11, t + ph / 2 + 30);
      cairo_rotate (cr, -G_PI / 2);
      cairo_show_text (cr, self->y_label);
      cairo_restore (cr);
    }
  cairo_save (cr);
  cairo_rectangle (cr, l, t, pw, ph);
  cairo_clip (cr);
  if (self->hist)
    {
      double bw = pw / self->n_bins;
      set_rgb (cr, self->hist_rgb, 0.85);
      for (guint i = 0; i < self->n_bins; i++)
        {
          double hgt = ph * self->hist[i] / y1;
          cairo_rectangle (cr, l + i * bw + 0.5, t + ph - hgt, MAX (bw - 1, 1), hgt);
        }
      cairo_fill (cr);
    }
  else
    {
      cairo_set_line_width (cr, 1.5);
      for (guint i = 0; i < self->series->len; i++)
        {
          Series *s = g_ptr_array_index (self->series, i);
          set_rgb (cr, s->rgb, 0.9);
          gboolean started = FALSE;
          for (guint k = 0; k < s->y->len; k++)
            {
              float v = g_array_index (s->y, float, k);
              if (!isfinite (v))
                continue;
              double px = l + pw * ((k + 1) - x0) / (x1 - x0), py = t + ph - ph * (v - y0) / (y1 - y0);
              if (!started)
                cairo_move_to (cr, px, py);
              else
                cairo_line_to (cr, px, py);
              started = TRUE;
            }
          cairo_stroke (cr);
        }
    }
  cairo_restore (cr);
  if (!any && !self->hist)
    {
      const char *msg = "—";
      cairo_move_to (cr, l + pw / 2, t + ph / 2);
      cairo_show_text (cr, msg);
    }
}

static void
dn_app_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DnAppPlot *self = DN_APP_PLOT (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  dn_app_plot_draw (self, cr, w, h);
  cairo_destroy (cr);
}

static void
dn_app_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *min, int *nat,
                     int *min_baseline, int *nat_baseline)
{
  *min = orientation == GTK_ORIENTATION_HORIZONTAL ? 160 : 100;
  *nat = orientation == GTK_ORIENTATION_HORIZONTAL ? 360 : 180;
}

static void
dn_app_plot_finalize (GObject *object)
{
  DnAppPlot *self = DN_APP_PLOT (object);
  g_ptr_array_unref (self->series);
  g_free (self->hist);
  g_free (self->title);
  g_free (self->x_label);
  g_free (self->y_label);
  G_OBJECT_CLASS (dn_app_plot_parent_class)->finalize (object);
}

static void
dn_app_plot_class_init (DnAppPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->finalize = dn_app_plot_finalize;
  widget_class->snapshot = dn_app_plot_snapshot;
  widget_class->measure = dn_app_plot_measure;
  gtk_widget_class_set_css_name (widget_class, "plot");
}

static void
dn_app_plot_init (DnAppPlot *self)
{
  self->series = g_ptr_array_new_with_free_func (series_free);
}

GtkWidget *
dn_app_plot_new (void)
{
  return g_object_new (DN_APP_TYPE_PLOT, NULL);
}

void
dn_app_plot_clear (DnAppPlot *self)
{
  g_ptr_array_set_size (self->series, 0);
  g_clear_pointer (&self->hist, g_free);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dn_app_plot_add_series (DnAppPlot *self, const float *y, guint n, guint32 rgb, const char *label)
{
  Series *s = g_new0 (Series, 1);
  s->y = g_array_sized_new (FALSE, FALSE, sizeof (float), n);
  g_array_append_vals (s->y, y, n);
  s->rgb = rgb;
  s->label = g_strdup (label);
  g_ptr_array_add (self->series, s);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dn_app_plot_set_histogram (DnAppPlot *self, const double *values, guint n, guint n_bins, guint32 rgb)
{
  g_clear_pointer (&self->hist, g_free);
  n_bins = MAX (n_bins, 1);
  double lo = INFINITY, hi = -INFINITY;
  for (guint i = 0; i < n; i++)
    if (isfinite (values[i]))
      lo = MIN (lo, values[i]), hi = MAX (hi, values[i]);
  if (!isfinite (lo))
    lo = 0, hi = 1;
  if (hi - lo < 1e-12)
    hi = lo + 1;
  self->hist = g_new0 (double, n_bins);
  self->n_bins = n_bins;
  self->hist_lo = lo, self->hist_hi = hi;
  self->hist_rgb = rgb;
  for (guint i = 0; i < n; i++)
    if (isfinite (values[i]))
      {
        guint b = (guint) ((values[i] - lo) / (hi - lo) * n_bins);
        self->hist[MIN (b, n_bins - 1)] += 1;
      }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dn_app_plot_set_labels (DnAppPlot *self, const char *title, const char *x_label, const char *y_label)
{
  g_free (self->title);
  g_free (self->x_label);
  g_free (self->y_label);
  self->title = g_strdup (title);
  self->x_label = g_strdup (x_label);
  self->y_label = g_strdup (y_label);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
dn_app_plot_get_n_series (DnAppPlot *self)
{
  return self->hist ? 1 : self->series->len;
}

guint
dn_app_plot_get_n_points (DnAppPlot *self)
{
  if (self->hist)
    return self->n_bins;
  guint n = 0;
  for (guint i = 0; i < self->series->len; i++)
    n += ((Series *) g_ptr_array_index (self->series, i))->y->len;
  return n;
}
