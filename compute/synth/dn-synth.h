/* dn-synth.h: pole synthesis: the most and least exciting inputs of twin neurons by gradient ascent
 * (twins.md §6), many (neuron, seed, pole) jobs at once, on any device.
 *
 * Two parameterizations, each exactly the INTENDED semantics of DualNeuron's synthesis (not its bugs
 * B1/B2, twins.md §6.4):
 *   pixel   (preset "v1-pixel", §6.1): image I = σ(θ)·(hi−lo)+lo, SGD with momentum on θ, the gradient of θ
 *           Gaussian-blurred (5×5, σ 1.5) before the update;
 *   Fourier (preset "v4-fourier", §6.2): I = range(recorrelate(Re(ifft2(M·e^{iφ})))) with a natural
 *           amplitude prior M, Adam on the phase φ.
 * One step, for every job j of a batch at once (all jobs of a batch share the step number):
 *   1. I_j from the parameter;
 *   2. n_crops crops of reflect_pad(I_j, ⌊pad_frac·min(H,W)⌋): box centre c = 0.5 + jitter·N(0,1) per axis,
 *      side sc·size with sc ~ U(box_min, box_max), box clamped to the padded image (clamping shrinks it),
 *      roi_align (aligned, adaptive sampling) to oversample×size, antialiased bicubic resize to size;
 *   3. + noise·N(0,1) per crop pixel; 4. each crop rescaled to L2 norm target_norm;
 *   5. L_j = −w_j·mean_k r_{n_j}(crop_k) + TV(I_j) (the twin's ensemble response, TV of §6.1 step 5);
 *   6. alpha_j += |∂L_j/∂I_j| (the transparency map, §6.3);
 *   7. the parameter gradient (blurred for pixel) and one optimizer step at lr cosine(t) (eta_min → lr
 *      over `steps`, PyTorch's CosineAnnealingLR);
 *   8. activation_t = |w_j·r_{n_j}(change_norm(I_j after the update, target_norm))| (the "clean" image).
 * The crops of all jobs and the clean images form ONE twin batch: rows [0, n·n_crops) are the crops
 * (job-major), rows [n·n_crops, n·n_crops + n) the clean images, with dout = −w_j/n_crops at the crop
 * rows' neuron and 0 elsewhere. The clean image of step t is therefore evaluated in step t+1's batch (and
 * after the last step by one forward in dn_synth_batch_finish), which costs the clean rows' backward
 * but keeps the twin's workspace at one size, so that a step allocates nothing.
 *
 * Random draws are an INPUT (DnSynthDraws): the default draws come from a counter-based generator
 * (Philox4x32-10, dn_synth_draws_default) keyed by (seed, pole), so a job's draws do not depend on the
 * batch it runs in, and replays can feed recorded draws instead.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-device.h"
#include "dn-twin.h"

/* Parameters ------------------------------------------------------------------------------------- */

typedef enum
{
  DN_SYNTH_PIXEL = 0, /* SGD(momentum) on θ, I = σ(θ)·(hi−lo)+lo, blurred gradient */
  DN_SYNTH_FOURIER,   /* Adam on the phase φ, I = range(recorrelate(Re(ifft2(M·e^{iφ})))) */
} DnSynthKind;

typedef enum
{
  DN_SYNTH_RANGE_SIGMOID = 0, /* σ(x)·(hi−lo) + lo */
  DN_SYNTH_RANGE_TANH,        /* tanh(x)·(hi−lo)/2 + (hi+lo)/2 (Fourier only) */
} DnSynthRange;

typedef struct
{
  DnSynthKind kind;
  int steps;              /* optimizer steps (128) */
  double lr;              /* base learning rate (pixel 0.05, Fourier 1.0) */
  bool lr_schedule;       /* cosine annealing from lr to eta_min over `steps` (true) */
  double eta_min;         /* 0 */
  double momentum;        /* pixel: SGD momentum (0.9) */
  double beta1, beta2;    /* Fourier: Adam betas (0.9, 0.999) */
  double adam_eps;        /* Fourier: Adam eps (1e-8) */
  int n_crops;            /* crops per step (4) */
  double box_min, box_max;/* crop side as a fraction of the image side, drawn uniformly (1.0, 1.0) */
  double jitter;          /* std of the crop centre, as a fraction of the image (0.05) */
  double pad_frac;        /* reflect pad = ⌊pad_frac·min(H,W)⌋ pixels (0.05) */
  int oversample;         /* roi_align at oversample×size, then the antialiased bicubic resize (1) */
  double noise;           /* std of the Gaussian noise added to each crop (pixel 0.05, Fourier 0.08) */
  double target_norm;     /* L2 norm of each crop and of the clean image; 0 = dn_twin_input_norm (12/40) */
  double tv_weight;       /* weight of the TV term (1e-4) */
  double lo, hi;          /* value range of the image (pixel (−1,1), Fourier (−2,2)) */
  DnSynthRange range;     /* range function (sigmoid) */
  double init_std;        /* pixel: θ₀ ~ N(0, init_std²) (0.05) */
  int blur_ksize;         /* pixel: Gaussian blur of the θ gradient, odd kernel size (5); 0 = none */
  double blur_sigma;      /* pixel: its σ (1.5) */
  /* Fourier: the amplitude prior (C,H,W) of the twin's input size, unshifted FFT layout (DC at [0,0]),
   * e.g. from dn_synth_prior_load(). Borrowed: it must outlive the batches made with these params. */
  const float *magnitude;
  /* Fourier, C = 3: the recorrelation matrix (3×3, row-major; pixel row vector v → v·M), NULL = DualNeuron's
   * (twins.md §6.2, DN_SYNTH_COLOR_CORRELATION). Borrowed. */
  const float *color_matrix;
  /* Optional start image (C,H,W) in image space (values in (lo,hi)); NULL = random start from the draws.
   * Pixel: θ₀ = logit((I−lo)/(hi−lo)) (clamped to 1e-6 from the ends); Fourier: φ₀ = angle(fft2(I)), the
   * prior's magnitude is kept. Borrowed. */
  const float *init_image;
} DnSynthParams;

/* DualNeuron's recorrelation matrix Cc (Lucid's ImageNet colour_correlation_svd_sqrt / 0.46195, transposed). */
extern const float DN_SYNTH_COLOR_CORRELATION[9];

/* Fills @p with a preset: "v1-pixel" (DualNeuron's v1_params) or "v4-fourier" (v4_params; the caller
 * still sets .magnitude). Returns DN_ERROR_INVALID_ARGUMENT for an unknown name. */
DnStatus dn_synth_params_preset (DnSynthParams *p, const char *name);

/* Checks @p against @twin (image size, channel count, every value's range, finiteness of the prior and
 * the start image). DN_ERROR_INVALID_ARGUMENT / DN_ERROR_SHAPE / DN_ERROR_NON_FINITE with a message. */
DnStatus dn_synth_params_check (const DnSynthParams *p, const DnTwin *twin);

/* A canonical one-line description of every parameter ("kind=pixel steps=128 lr=0.05 …", with the
 * target norm resolved for @twin and a checksum of the prior and the start image), for run metadata and
 * for checking that a resumed run uses the same settings. Returns the length (snprintf semantics). */
int dn_synth_params_describe (const DnSynthParams *p, const DnTwin *twin, char *buf, size_t size);

/* Loads an amplitude prior (.npy, (C,H,W) or (H,W) float) and resizes it bilinearly (align_corners =
 * false, as twins.md §6.2) to (C,H,W) on @dev when its size differs. *out is malloc'd (free()). */
DnStatus dn_synth_prior_load (DnDevice *dev, const char *path, int C, int H, int W, float **out);

/* Jobs and random draws ---------------------------------------------------------------------------- */

typedef struct
{
  int neuron;    /* 0-based neuron index of the twin */
  uint32_t seed; /* fixes every random draw of the job */
  int weight;    /* +1: the most exciting input ("most"), −1: the least ("least") */
} DnSynthJob;

/* Where a job's random numbers come from. Both callbacks may be called from any one thread at a time. */
typedef struct
{
  /* The initial parameter of @job: pixel θ₀ (already × init_std), Fourier φ₀ (in [−π, π)); n = C·H·W. */
  DnStatus (*init) (void *user, const DnSynthJob *job, const DnSynthParams *p, float *param, int64_t n);
  /* The draws of step @t (0-based): crop centres cx, cy (fractions of the image, 0.5 + jitter·N(0,1)),
   * sides sc (fractions), n_crops each, and the crop noise (n_crops·C·H·W values, ALREADY × noise). */
  DnStatus (*step) (void *user, const DnSynthJob *job, const DnSynthParams *p, int t, float *cx, float *cy,
                    float *sc, float *noise, int64_t n_noise);
  void *user;
} DnSynthDraws;

/* Checks that every job names a neuron of @twin and has weight ±1 (DN_ERROR_INVALID_ARGUMENT naming the
 * first bad job). */
DnStatus dn_synth_jobs_check (const DnTwin *twin, const DnSynthJob *jobs, int n);

/* The default draws: Philox4x32-10 (Salmon et al., SC'11; the generator of cuRAND/JAX/numpy's Philox)
 * with key (seed, 0x5EED0000 | (weight > 0)), counter (i, t + 1, stream, 0) for block i of step t
 * (t + 1 = 0 for the init), streams 0 init, 1 crop centres, 2 crop sides, 3 noise. Each block gives four
 * 32-bit words a0..a3. Uniform: (a >> 8)·2⁻²⁴. Normal pair (Box–Muller in double, rounded to float):
 * u1 = (a0 + 1)·2⁻³², u2 = a1·2⁻³², r = √(−2 ln u1): (r cos 2πu2, r sin 2πu2), then the same for a2, a3.
 * init: pixel θ = z·init_std, Fourier φ = u·2π − π (float); centres: cx_k = 0.5 + z_k·jitter,
 * cy_k = 0.5 + z_{n_crops+k}·jitter; sides sc_k = u_k·(box_max − box_min) + box_min; noise z_i·noise. */
const DnSynthDraws *dn_synth_draws_default (void);

/* Philox4x32-10 of one counter block (exposed for tests). */
void dn_synth_philox4x32 (const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* One batch of jobs (the low-level engine) ------------------------------------------------------------ */

typedef struct DnSynthBatch DnSynthBatch;

/* Allocates everything for up to @capacity jobs on the twin's device (one arena; the twin makes its own
 * workspace for this batch size in the first step's forward), so that no step allocates. The params are
 * copied (the buffers they point to must outlive the batch). */
DnSynthBatch *dn_synth_batch_new (DnTwin *twin, const DnSynthParams *p, int capacity, DnStatus *status);
void dn_synth_batch_free (DnSynthBatch *b);
int dn_synth_batch_capacity (const DnSynthBatch *b);

/* Starts @n ≤ capacity jobs: checks the neuron ids, draws (or derives) the initial parameters, and
 * zeroes the optimizer state and the alpha maps. @draws NULL = dn_synth_draws_default(). */
DnStatus dn_synth_batch_start (DnSynthBatch *b, const DnSynthJob *jobs, int n, const DnSynthDraws *draws);

/* One whole step t (0-based; steps are taken in order 0 … steps−1):
 * dn_synth_batch_render + _gradient + _param_backward + _update. */
DnStatus dn_synth_batch_step (DnSynthBatch *b, int t);

/* The parts of a step, for tests and tools (teacher forcing):
 * render:         param → image (the range-mapped image I, before any crop);
 * crops:          step t's draws → the crops and the twin batch x (normed crops + clean images of I);
 * gradient:       (crops if not yet made for t) the twin forward+backward, grad_image = ∂L/∂I (response
 *                 and TV terms), alpha += |grad_image|; the responses;
 * param_backward: grad_image → grad_param (pixel: through the range function, then the blur);
 * update:         one optimizer step with grad_param at the lr of step t. */
DnStatus dn_synth_batch_render (DnSynthBatch *b);
DnStatus dn_synth_batch_crops (DnSynthBatch *b, int t);
DnStatus dn_synth_batch_gradient (DnSynthBatch *b, int t);
DnStatus dn_synth_batch_param_backward (DnSynthBatch *b);
DnStatus dn_synth_batch_update (DnSynthBatch *b, int t);

/* The batch's named state, for tests and tools (valid until the batch is freed): "param", "image",
 * "grad_image", "grad_param", "alpha", "moment1" (SGD momentum / Adam m), "moment2" (Adam v) — all
 * (capacity,C,H,W); "crops" (capacity·n_crops,C,H,W): this step's resized crops before the noise;
 * "x" (capacity·(n_crops+1),C,H,W): the twin batch; "boxes" (capacity·n_crops,5). NULL if unknown. */
DnTensor *dn_synth_batch_tensor (DnSynthBatch *b, const char *name);

/* After dn_synth_batch_gradient: per job (n values each) the objective w·mean_k r(crop_k), the TV term
 * TV(I), and the response r of the clean image that entered the batch (the image before this step's
 * update, i.e. the activation of step t−1, or the start image at t = 0). Any pointer may be NULL. */
void dn_synth_batch_scores (const DnSynthBatch *b, double *objective, double *tv, float *clean_response);

/* A finished job. Buffers are owned by the batch (valid until the next start or free). */
typedef struct
{
  DnSynthJob job;
  int channels, height, width, steps, n_members;
  const float *image;            /* (C,H,W): change_norm(I, target_norm) after the last step */
  const float *alpha;            /* (C,H,W): A/(max A + 1e-8), A = Σ_t |∂L_t/∂I_t| */
  const float *activations;      /* (steps): |w·r| of the clean image after each step */
  float initial_response;        /* r of the clean start image */
  float response;                /* r of the final image (the ensemble's response, not signed by w) */
  const float *member_responses; /* (n_members): each member's response to the final image */
  double rf_cosine;              /* builtin:gabor-v1: cosine of image and the neuron's true RF (complex
                                  * cells: √(cos₀² + cos₉₀²) over the quadrature pair); NaN otherwise */
  bool finite;                   /* image, alpha and activations are all finite */
} DnSynthResult;

/* After the last step: evaluates the final clean images (ensemble and each member), normalises alpha and
 * fills results[0 … n−1] (n = the number of started jobs). */
DnStatus dn_synth_batch_finish (DnSynthBatch *b, DnSynthResult *results);

/* Whole runs ------------------------------------------------------------------------------------------ */

/* Progress after every step: @jobs_done of @n_jobs are finished; the current batch is at @step of
 * @n_steps; current_responses[i] is the response r of the current clean image of the batch's i-th job
 * (the batch holds jobs jobs_done … jobs_done + batch − 1 of the run's order). */
typedef void (*DnSynthProgressFn) (int jobs_done, int n_jobs, int step, int n_steps,
                                   const float *current_responses, void *user);
typedef bool (*DnSynthStopFn) (void *user);
/* Called with the @n finished jobs of each batch (in job order). A non-OK status stops the run with it. */
typedef DnStatus (*DnSynthBatchDoneFn) (const DnSynthResult *results, int n, void *user);

typedef struct
{
  int batch;                 /* jobs per batch; 0 = adapt to the device (see dn_synth_auto_batch) */
  const DnSynthDraws *draws; /* NULL = dn_synth_draws_default() */
  DnSynthProgressFn progress;
  DnSynthStopFn should_stop; /* checked before every step: true → DN_ERROR_CANCELLED */
  DnSynthBatchDoneFn batch_done;
  void *user;                /* for the callbacks */
  /* Optional live view (the app's preview): every @preview_every steps (0 = never) and after the last step,
   * the batch's current range-mapped images (n,C,H,W), n = the jobs of the batch, which are jobs
   * jobs_done … jobs_done + n − 1 of the run's order. The buffer is valid only during the call. */
  void (*preview) (int jobs_done, int n, int C, int H, int W, const float *images, void *user);
  int preview_every;
} DnSynthRunOptions;

void dn_synth_run_options_init (DnSynthRunOptions *o);

/* The batch the run uses when asked to adapt: on the CPU backend the best batch measured there
 * (bench-synth), on a GPU as many jobs as fit in half its memory by a per-architecture estimate (the run
 * halves it again if an allocation fails). At most @n_jobs, at least 1. */
int dn_synth_auto_batch (const DnTwin *twin, const DnSynthParams *p, int n_jobs);

/* Runs every job, batch by batch, calling batch_done after each batch. */
DnStatus dn_synth_run (DnTwin *twin, const DnSynthParams *p, const DnSynthJob *jobs, int n_jobs,
                       const DnSynthRunOptions *o);

/* Result files ---------------------------------------------------------------------------------------- */
/* DualNeuron's layout (twins.md §6.5): group neuron_%04d/seed_S/{most,least} with datasets image (C,H,W),
 * alpha (C,H,W) (gzip 4) and activations (steps,), attributes model (the twin's name), neuron_id, seed,
 * weight, type, and in addition response, initial_response, member_responses (dataset), rf_cosine
 * (builtin:gabor-v1), backend, software, and `complete` = 1, written last. The root carries the run
 * metadata: format "dualneuron-poles", software/version, model, model_name, model_arch, n_members,
 * n_neurons, preset, parameters (dn_synth_params_describe), every parameter as its own attribute, rng,
 * and backend.
 * (dn-h5 writes float32 datasets and float64 attributes, so activations are float32 and the integer
 * attributes are float64-valued; h5py reads both.)
 *
 * Atomicity: the file is never modified in place. Each commit (the start of a run, then every finished
 * batch) copies the file to "<output>.tmp", adds to the copy, fsyncs it and renames it over the output
 * (then fsyncs the folder), so a kill at any moment leaves the previous or the new complete file and
 * loses at most the jobs in flight. "<output>.lock" (flock) keeps two runs from writing one file.
 * Resuming: jobs whose group is complete are skipped; a file made with other parameters or another
 * model is refused (DN_ERROR_INVALID_ARGUMENT). */
typedef struct
{
  const char *output;    /* the result file (created, or resumed) */
  const char *model_id;  /* what the user opened (path or builtin name), stored as metadata */
  const char *preset;    /* the preset name the parameters started from, or NULL */
  int shard_index;       /* run only the jobs i with i % shard_count == shard_index (0-based) */
  int shard_count;       /* 0 or 1 = no sharding */
  DnSynthRunOptions run; /* batch_done is used internally; the others are passed on */
} DnSynthFileOptions;

typedef struct
{
  int n_jobs;     /* after sharding */
  int n_skipped;  /* already complete in the file */
  int n_done;     /* finished and written by this run */
  int n_failed;   /* finished with a non-finite result (not written) */
} DnSynthFileReport;

void dn_synth_file_options_init (DnSynthFileOptions *o);

/* Runs the jobs not yet in the file and commits them batch by batch. A job whose result is not finite is
 * not written; the run goes on and returns DN_ERROR_NON_FINITE at the end (report->n_failed says how many). */
DnStatus dn_synth_to_file (DnTwin *twin, const DnSynthParams *p, const DnSynthJob *jobs, int n_jobs,
                           const DnSynthFileOptions *o, DnSynthFileReport *report);

/* Whether @path holds a complete result for @job (for tools and tests). */
bool dn_synth_file_has_job (const char *path, const DnSynthJob *job);
