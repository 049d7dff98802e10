/* dn-app-export.c: stimulus-set export (see dn-app-export.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "dn-app-error.h"
#include "dn-app-export.h"
#include "dn-app-screen-job.h"
#include "dn-app-util.h"
#include "dn-h5.h"

void
dn_app_export_options_clear (DnAppExportOptions *o)
{
  g_clear_pointer (&o->folder, g_free);
  g_clear_pointer (&o->neurons, g_free);
}

static DnAppExportOptions *
options_copy (const DnAppExportOptions *o)
{
  DnAppExportOptions *c = g_memdup2 (o, sizeof *o);
  c->folder = g_strdup (o->folder);
  c->neurons = g_memdup2 (o->neurons, (gsize) MAX (o->n_neurons, 0) * sizeof (int));
  return c;
}

static void
options_free (DnAppExportOptions *o)
{
  dn_app_export_options_clear (o);
  g_free (o);
}

/* Bilinear resize (align_corners false) of an RGB8 image. */
static guint8 *
resize_rgb8 (const guint8 *src, int sw, int sh, int dw, int dh)
{
  guint8 *dst = g_malloc ((gsize) dw * dh * 3);
  for (int y = 0; y < dh; y++)
    {
      double fy = CLAMP ((y + 0.5) * sh / (double) dh - 0.5, 0, sh - 1);
      int y0 = (int) fy, y1 = MIN (y0 + 1, sh - 1);
      double ay = fy - y0;
      for (int x = 0; x < dw; x++)
        {
          double fx = CLAMP ((x + 0.5) * sw / (double) dw - 0.5, 0, sw - 1);
          int x0 = (int) fx, x1 = MIN (x0 + 1, sw - 1);
          double ax = fx - x0;
          for (int c = 0; c < 3; c++)
            {
              double v = (1 - ay) * ((1 - ax) * src[((gsize) y0 * sw + x0) * 3 + c] + ax * src[((gsize) y0 * sw + x1) * 3 + c])
                         + ay * ((1 - ax) * src[((gsize) y1 * sw + x0) * 3 + c] + ax * src[((gsize) y1 * sw + x1) * 3 + c]);
              dst[((gsize) y * dw + x) * 3 + c] = (guint8) lrint (CLAMP (v, 0, 255));
            }
        }
    }
  return dst;
}

typedef struct
{
  int size;
  double gain;
} PngOptions;

static gboolean
write_png (const float *image, int C, int H, int W, const float *mask, const PngOptions *o,
           const char *path, GError **error)
{
  guint8 *rgb = g_malloc ((gsize) H * W * 3);
  dn_app_render_rgb8 (image, NULL, C, H, W, mask, o->gain, rgb);
  guint8 *out = resize_rgb8 (rgb, W, H, o->size, o->size);
  g_free (rgb);
  DnImage img = { .width = o->size, .height = o->size, .channels = 3, .type = DN_PIXEL_U8, .pixels = out };
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  DnStatus st = dn_image_save_png (&img, tmp);
  g_free (out);
  if (st != DN_OK)
    {
      g_unlink (tmp);
      return dn_app_error_from_status (st, NULL, error);
    }
  return dn_app_file_commit (tmp, path, error);
}

static double
l2 (const float *x, gsize n)
{
  double s = 0;
  for (gsize i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  return sqrt (s);
}

#define TRY_H5(call)                                                                                  \
  do                                                                                                  \
    {                                                                                                 \
      if ((st = (call)) != DN_OK)                                                                     \
        goto h5_out;                                                                                  \
    }                                                                                                 \
  while (0)

static gboolean
write_poles_h5 (DnAppProject *project, GPtrArray *poles, const char *path, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  DnStatus st = DN_OK;
  DnH5 *h = dn_h5_create (tmp, &st);
  if (!h)
    return dn_app_error_from_status (st, NULL, error);
  const char *model = dn_app_project_get_model_name (project);
  TRY_H5 (dn_h5_write_attr_str (h, "/", "format", "dualneuron-poles"));
  TRY_H5 (dn_h5_write_attr_str (h, "/", "software", "DualNeuron " DN_VERSION));
  TRY_H5 (dn_h5_write_attr_str (h, "/", "model", dn_app_project_get_model_spec (project)));
  TRY_H5 (dn_h5_write_attr_str (h, "/", "model_name", model));
  for (guint i = 0; i < poles->len; i++)
    {
      const DnAppPole *p = g_ptr_array_index (poles, i);
      g_autofree char *g = g_strdup_printf ("/neuron_%04d/seed_%u/%s", p->neuron, p->seed, p->weight > 0 ? "most" : "least");
      g_autofree char *pi = g_strconcat (g, "/image", NULL);
      g_autofree char *pa = g_strconcat (g, "/alpha", NULL);
      g_autofree char *pact = g_strconcat (g, "/activations", NULL);
      int64_t shape[3] = { p->channels, p->height, p->width }, ns = p->steps;
      TRY_H5 (dn_h5_create_group (h, g));
      TRY_H5 (dn_h5_write_f32 (h, pi, p->image, 3, shape, true));
      if (p->alpha)
        TRY_H5 (dn_h5_write_f32 (h, pa, p->alpha, 3, shape, true));
      if (p->activations)
        TRY_H5 (dn_h5_write_f32 (h, pact, p->activations, 1, &ns, false));
      TRY_H5 (dn_h5_write_attr_str (h, g, "model", model));
      TRY_H5 (dn_h5_write_attr_f64 (h, g, "neuron_id", p->neuron));
      TRY_H5 (dn_h5_write_attr_f64 (h, g, "seed", p->seed));
      TRY_H5 (dn_h5_write_attr_f64 (h, g, "weight", p->weight));
      TRY_H5 (dn_h5_write_attr_str (h, g, "type", p->weight > 0 ? "most" : "least"));
      TRY_H5 (dn_h5_write_attr_f64 (h, g, "response", p->response));
      TRY_H5 (dn_h5_write_attr_f64 (h, g, "complete", 1));
    }
h5_out:
  {
    DnStatus cst = dn_h5_close (h);
    if (st == DN_OK)
      st = cst;
  }
  if (st != DN_OK)
    {
      g_unlink (tmp);
      return dn_app_error_from_status (st, NULL, error);
    }
  return dn_app_file_commit (tmp, path, error);
}

int
dn_app_export_run (DnAppProject *project, const DnAppExportOptions *o, GCancellable *cancellable, GError **error)
{
  int written = 0;
  if (!dn_app_project_has_model (project))
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("No model is open"));
      return -1;
    }
  if (o->size < 8 || o->size > 4096 || !o->folder || o->n_neurons <= 0)
    {
      g_set_error_literal (error, DN_APP_ERROR, DN_APP_ERROR_INVALID_ARGUMENT, _("Nothing to export"));
      return -1;
    }
  if (g_mkdir_with_parents (o->folder, 0755) != 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), _("Cannot create the folder %s: %s"), o->folder,
                   g_strerror (e));
      return -1;
    }
  int mh = 0, mw = 0;
  const float *mask = dn_app_project_get_mask (project, &mh, &mw);
  PngOptions po = { .size = o->size, .gain = dn_app_project_gain_for_boost (project, o->boost) };
  GString *csv = g_string_new ("file,neuron,pole,seed,predicted_response,norm,source\n");
  g_autoptr (GPtrArray) all_poles = g_ptr_array_new ();
  g_autoptr (DnDataset) ds = NULL;
  const DnAppScreening *scr = dn_app_project_get_screening (project);
  gboolean ok = TRUE;
  DnAppItemRender render = { 0 };
  if (o->screened && scr
      && (!(ds = dn_app_dataset_open (project, scr->dataset, error)) || !dn_app_item_render_init (&render, project, error)))
    ok = FALSE;
  for (int i = 0; ok && i < o->n_neurons; i++)
    {
      int k = o->neurons[i];
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      if (o->poles)
        {
          g_autoptr (GPtrArray) poles = dn_app_project_list_poles (project, k);
          for (guint j = 0; ok && j < poles->len; j++)
            {
              const DnAppPole *p = g_ptr_array_index (poles, j);
              g_autofree char *name = g_strdup_printf ("neuron_%04d_seed%u_%s.png", k, p->seed, p->weight > 0 ? "most" : "least");
              g_autofree char *path = g_build_filename (o->folder, name, NULL);
              const float *m = (mh == p->height && mw == p->width) ? mask : NULL;
              if (!(ok = write_png (p->image, p->channels, p->height, p->width, m, &po, path, error)))
                break;
              g_string_append_printf (csv, "%s,%d,%s,%u,%.6g,%.6g,synthesis\n", name, k, p->weight > 0 ? "most" : "least",
                                      p->seed, p->response,
                                      l2 (p->image, (gsize) p->channels * p->height * p->width));
              g_ptr_array_add (all_poles, (gpointer) p);
              written++;
            }
        }
      if (ok && o->screened && scr && k < scr->n_neurons)
        {
          int n = MIN (o->n_screened, scr->top_k);
          for (int side = 0; ok && side < 2; side++)
            for (int r = 0; ok && r < n; r++)
              {
                gsize at = (gsize) k * scr->top_k + r;
                gint64 index = side == 0 ? scr->top_index[at] : scr->bottom_index[at];
                float value = side == 0 ? scr->top_value[at] : scr->bottom_value[at];
                if (index < 0)
                  continue;
                int C, H, W;
                g_autofree float *img = dn_app_item_render (&render, ds, index, &C, &H, &W, error);
                if (!img)
                  {
                    ok = FALSE;
                    break;
                  }
                g_autofree char *name = g_strdup_printf ("neuron_%04d_%s%02d.png", k, side == 0 ? "top" : "bottom", r + 1);
                g_autofree char *path = g_build_filename (o->folder, name, NULL);
                const float *m = (mh == H && mw == W) ? mask : NULL;
                if (!(ok = write_png (img, C, H, W, m, &po, path, error)))
                  break;
                char idbuf[512];
                const char *id = dn_dataset_item_id (ds, index, idbuf, sizeof idbuf);
                g_autoptr (GString) quoted = g_string_new (id ? id : "");
                g_string_replace (quoted, "\"", "\"\"", 0);
                g_string_append_printf (csv, "%s,%d,%s,,%.6g,%.6g,\"%s\"\n", name, k, side == 0 ? "top" : "bottom",
                                        value, l2 (img, (gsize) C * H * W), quoted->str);
                written++;
              }
        }
    }
  if (ok && all_poles->len > 0)
    {
      g_autofree char *h5 = g_build_filename (o->folder, "poles.h5", NULL);
      ok = write_poles_h5 (project, all_poles, h5, error);
    }
  if (ok)
    {
      g_autofree char *path = g_build_filename (o->folder, "manifest.csv", NULL);
      ok = g_file_set_contents (path, csv->str, (gssize) csv->len, error); /* atomic: temp file + rename */
    }
  g_string_free (csv, TRUE);
  dn_app_item_render_clear (&render);
  return ok ? written : -1;
}

static void
export_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  int n = dn_app_export_run (source, task_data, cancellable, &error);
  if (n < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n);
}

void
dn_app_export_async (DnAppProject *project, const DnAppExportOptions *options, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (project, cancellable, callback, user_data);
  g_task_set_source_tag (task, dn_app_export_async);
  GError *error = NULL;
  if (!dn_app_project_begin_job (project, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, options_copy (options), (GDestroyNotify) options_free);
  g_task_run_in_thread (task, export_thread);
}

int
dn_app_export_finish (DnAppProject *project, GAsyncResult *result, GError **error)
{
  if (g_task_get_task_data (G_TASK (result)))
    dn_app_project_end_job (project); /* the job began (see _async) */
  GError *e = NULL;
  gssize n = g_task_propagate_int (G_TASK (result), &e);
  if (e)
    {
      g_propagate_error (error, e);
      return -1;
    }
  return (int) n;
}
