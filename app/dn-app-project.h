/* dn-app-project.h: what the user has open — a twin (model + compute device), its neurons, and every
 * synthesis and screening result — and the project file (HDF5) that holds it all.
 *
 * Threads: the project lives on the main thread. A compute job (synthesis, screening, export) borrows the
 * twin with dn_app_project_begin_job() and gives it back with _end_job(); while a job runs the project is
 * `busy` and refuses to change the model. Results are added on the main thread. */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "dn-app-compute-glue.h"
#include "dn-app-neuron.h"

G_BEGIN_DECLS

typedef struct
{
  int neuron;
  guint32 seed;
  int weight;                 /* +1 most, −1 least */
  int channels, height, width;
  int steps, n_members;
  float *image;               /* (C,H,W) in model-input space */
  float *alpha;               /* (C,H,W) in [0,1] */
  float *activations;         /* (steps) */
  float *member_responses;    /* (n_members) */
  float response, initial_response;
  double rf_cosine;           /* builtin:gabor-v1, else NaN */
} DnAppPole;

void dn_app_pole_free (DnAppPole *pole);

typedef struct
{
  char *dataset;              /* the dataset spec (path or builtin:…) */
  int n_neurons, top_k;
  gint64 dataset_count, n_valid, n_failed;
  gint64 *top_index, *bottom_index; /* (n_neurons, top_k), −1 where fewer */
  float *top_value, *bottom_value;  /* (n_neurons, top_k) */
  double *stats;              /* (n_neurons, DN_APP_N_STATS): gini skewness mean std range cv max min q95 q05 active */
} DnAppScreening;
#define DN_APP_N_STATS 11

#define DN_APP_TYPE_PROJECT (dn_app_project_get_type ())
G_DECLARE_FINAL_TYPE (DnAppProject, dn_app_project, DN_APP, PROJECT, GObject)

DnAppProject *dn_app_project_new (void);

/* Opening a model (bundle, checkpoint, folder or builtin:NAME) on a device: -2 auto, -1 CPU, N Vulkan N.
 * The current results are dropped when the model changes (unless they came with a project file). */
void dn_app_project_open_model_async (DnAppProject *self, const char *spec, int device_index, int threads,
                                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean dn_app_project_open_model_finish (DnAppProject *self, GAsyncResult *result, GError **error);

/* Opening and saving a project file. Saving is atomic (temporary file, fsync, rename). */
void dn_app_project_load_async (DnAppProject *self, const char *path, int device_index, int threads,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean dn_app_project_load_finish (DnAppProject *self, GAsyncResult *result, GError **error);
gboolean dn_app_project_save (DnAppProject *self, const char *path, GError **error);

gboolean dn_app_project_has_model (DnAppProject *self);
const char *dn_app_project_get_model_spec (DnAppProject *self);
const char *dn_app_project_get_model_name (DnAppProject *self);
const char *dn_app_project_get_device_name (DnAppProject *self);
const char *dn_app_project_get_path (DnAppProject *self);
gboolean dn_app_project_get_dirty (DnAppProject *self);
const DnTwinInfo *dn_app_project_get_info (DnAppProject *self);
const float *dn_app_project_get_mask (DnAppProject *self, int *h, int *w);
float dn_app_project_get_input_norm (DnAppProject *self);
gboolean dn_app_project_is_gabor (DnAppProject *self);
/* builtin:gabor-v1: the neuron's true RF filter (H·W floats, owned by the twin) or NULL. */
const float *dn_app_project_get_true_rf (DnAppProject *self, int neuron);
GListModel *dn_app_project_get_neurons (DnAppProject *self);
DnAppNeuron *dn_app_project_get_neuron (DnAppProject *self, int index);

gboolean dn_app_project_get_busy (DnAppProject *self);
/* Borrow the twin for a compute job (main thread); NULL + error when there is none or another job runs. */
DnTwin *dn_app_project_begin_job (DnAppProject *self, GError **error);
void dn_app_project_end_job (DnAppProject *self);

/* Poles */
void dn_app_project_add_pole (DnAppProject *self, const DnAppPole *pole); /* copies */
const DnAppPole *dn_app_project_get_pole (DnAppProject *self, int neuron, guint32 seed, int weight);
/* The neuron's poles, sorted by seed then most before least (transfer container). */
GPtrArray *dn_app_project_list_poles (DnAppProject *self, int neuron);
guint dn_app_project_get_n_poles (DnAppProject *self);
/* Blank (uniform grey = 0 in model space) response of every neuron, NaN until a job measured it. */
void dn_app_project_set_blank_responses (DnAppProject *self, const float *responses, int n);
double dn_app_project_get_blank_response (DnAppProject *self, int neuron);

/* Screening */
void dn_app_project_set_screening (DnAppProject *self, DnAppScreening *screening); /* transfer full */
const DnAppScreening *dn_app_project_get_screening (DnAppProject *self);
DnAppScreening *dn_app_screening_from_result (const DnScreenResult *r, const char *dataset);
void dn_app_screening_free (DnAppScreening *s);

/* Display and export: pixel = 0.45 + gain·x on a grey (0.45) background outside the mask, with
 * gain = 0.1·boost / rms, rms = the model's input norm / √(C·H·W) (the RMS pixel value of a normed input:
 * 12/93 for V1), so that an input at the model's norm has an RMS contrast of 0.1·boost around the grey,
 * the same scale for every image of one model. With @alpha the alpha map (clipped at its 90th
 * percentile) blends towards grey, as DualNeuron's visualize.blend does. */
double dn_app_project_gain_for_boost (DnAppProject *self, double boost);
/* The gain for the project's own boost (what the browser and gallery show). */
double dn_app_project_get_display_gain (DnAppProject *self);
double dn_app_project_get_boost (DnAppProject *self);
void dn_app_project_set_boost (DnAppProject *self, double boost);
gboolean dn_app_project_get_show_alpha (DnAppProject *self);
void dn_app_project_set_show_alpha (DnAppProject *self, gboolean show);
/* RGB8 (H·W·3) of an image (C,H,W); mask (H,W) may be NULL. */
void dn_app_render_rgb8 (const float *image, const float *alpha, int C, int H, int W, const float *mask,
                         double gain, guint8 *rgb);
GdkTexture *dn_app_render_texture (const float *image, const float *alpha, int C, int H, int W,
                                   const float *mask, double gain);
GdkTexture *dn_app_project_render_pole (DnAppProject *self, const DnAppPole *pole);
/* A gray image in [0,1] (H,W) or an RGB8 buffer as a texture (for screened images and RFs). */
GdkTexture *dn_app_texture_from_gray (const float *gray, int H, int W, gboolean symmetric);

/* Private to the app: the screening transforms for the project's twin (reads the twin, never runs it). */
#include "dn-preprocess.h"
DnStatus _dn_app_project_preprocess_init (DnAppProject *self, DnPreprocess *pp, const DnPreprocessOptions *opts);
/* For tests: the compute device the model runs on (owned by the project). */
DnDevice *_dn_app_project_get_device (DnAppProject *self);

G_END_DECLS
