/* dn-screen.h: screening: stream a dataset through a twin and keep, for every neuron, its most and
 * least activating items, its population statistics and (optionally) every response (twins.md §8).
 *
 * The pipeline: worker threads load and preprocess items (dn-dataset.h, dn-preprocess.h) into a ring
 * of batch buffers; the calling thread runs the twin's forward on each batch in dataset order (on the
 * twin's device) and folds the responses into the per-neuron state. Memory is bounded by the ring and
 * the state, whatever the dataset's size.
 *
 * Per neuron: the top-K and bottom-K (item index, response) pairs under the total order "higher response
 * first, then lower index" (so shards merge into exactly the single run's lists); the moments (count,
 * mean, M2, M3) of each block of `block_size` consecutive items, accumulated item by item in index
 * order and combined block by block in index order (Chan et al.), which makes them independent of
 * sharding; min and max; and a log-spaced histogram (relative bin width 1%, |r| from 1e-5 to 1e5, one
 * zero bin) for quantiles and the Gini coefficient when the responses are not kept.
 *
 * Statistics (DualNeuron's compute_population_statistics, numpy/scipy defaults; twins.md §8):
 *   mean; std = population std (ddof 0); skewness = m3 / m2^1.5 (scipy.stats.skew, bias=True; 0 when
 *   m2 = 0); range = max − min (np.ptp); cv = std / mean; max; q95, q05 = np.quantile (linear
 *   interpolation); gini = Σ_i (2i − n − 1) x_(i) / (n Σ x) over the ascending x_(i) (0 when Σx = 0);
 *   active = max > 0.5 && mean > 0.01 && std > 0; neurons ordered by gini, descending.
 * q95, q05 and gini are EXACT when the response matrix is kept (--keep-responses), and otherwise
 * computed from the histogram: q95/q05 within 0.5% relative (bin representatives, clamped to
 * [min, max]), gini from the bin representatives (error ≤ about 1%). The file says which
 * (attribute quantile_method).
 *
 * Failed items (unreadable, corrupt, too large, non-finite pixels or responses) are reported through
 * the callback, counted, listed in the output with their reason, and take no part in any statistic.
 *
 * Output (HDF5, written atomically when the run completes; see dn-screen-file.c for every dataset):
 * dataset identity (spec, kind, count, FNV-1a hash of the item ids), model identity, preprocessing
 * parameters (and the mask), item ids/labels/parameters, top/bottom lists, statistics, failures, the
 * mergeable state, and optionally the (items, neurons) response matrix (chunked, gzip).
 * A run is resumable: progress is checkpointed to OUTPUT.partial (+ OUTPUT.responses.part) at most every
 * checkpoint_seconds and on cancellation; a rerun with the same identity continues from there and
 * writes the same file an uninterrupted run would. `--shard i/N` runs the i-th of N contiguous ranges of
 * whole blocks; dn_screen_merge combines the N files into the single run's file.
 * HDF5 goes through dn-screen-h5.c, whose lock is not dn-h5.c's: while a run, a merge or a result load is
 * in progress, no other thread may call dn_h5_* (Debian's libhdf5 is not thread-safe).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-dataset.h"
#include "dn-preprocess.h"
#include "dn-twin.h"

typedef struct
{
  int64_t done, total;   /* items of this run's range processed so far (including failed and resumed) */
  int64_t failed;
  double elapsed_s;      /* this session */
  double items_per_s;    /* this session's rate */
  double eta_s;          /* remaining time at that rate (-1 when unknown) */
} DnScreenProgress;

/* After every batch (on the calling thread). */
typedef void (*DnScreenProgressFn) (const DnScreenProgress *p, void *user);
/* For every failed item, in index order (on the calling thread). */
typedef void (*DnScreenFailureFn) (int64_t index, const char *id, const char *reason, void *user);
/* Polled after every batch; true = stop (the run checkpoints and returns DN_ERROR_CANCELLED). Same
 * shape as synthesis's DnSynthStopFn. */
typedef bool (*DnScreenStopFn) (void *user);

typedef struct
{
  int top_k;                  /* most and least activating items kept per neuron (default 100) */
  int batch;                  /* images per forward (default 64) */
  bool keep_responses;        /* write the full response matrix (and exact quantiles) */
  int shard_index, n_shards;  /* this run's part (0-based) of n_shards (default 0 of 1) */
  int n_workers;              /* decode threads (0 = one per core) */
  DnPreprocessOptions preprocess;
  bool overwrite;             /* replace an existing output or checkpoint of another run */
  double checkpoint_seconds;  /* default 30 */
  DnScreenProgressFn progress;
  DnScreenFailureFn failure;
  DnScreenStopFn should_stop;
  void *user;                 /* for the three callbacks */
  const char *model_spec;     /* what identifies the model in the output (default: the twin's name) */
} DnScreenOptions;

void dn_screen_options_init (DnScreenOptions *opts);

/**
 * dn_screen_run:
 * @twin: the model (its device runs the forward)
 * @ds: the dataset
 * @output: the result file (OUTPUT.partial / OUTPUT.responses.part hold a run in progress)
 *
 * Returns: DN_OK when the output is complete (also when it already was, from an identical run);
 * DN_ERROR_CANCELLED when should_stop asked (resumable); other codes on failure (a checkpoint is kept
 * where possible).
 */
DnStatus dn_screen_run (DnTwin *twin, DnDataset *ds, const char *output, const DnScreenOptions *opts);

/* Combines the complete shard files 0..N−1 of one screening (any order) into @output, which is then
 * what a single run would have written. */
DnStatus dn_screen_merge (const char *output, const char *const *shards, int n_shards);

/* The item range [*lo, *hi) of shard @index of @n for @count items (whole blocks of dn_screen_block_size). */
void dn_screen_shard_range (int64_t count, int index, int n, int64_t *lo, int64_t *hi);
/* Block size used for @count items: the smallest power of two ≥ count/1024, at least 64. */
int64_t dn_screen_block_size (int64_t count);

/* Reading results --------------------------------------------------------------------------------- */

typedef struct
{
  double gini, skewness, mean, std, range, cv, max, min, q95, q05;
  bool active;
} DnNeuronStats;

typedef struct
{
  int n_neurons, top_k;
  int64_t item_start, item_end; /* the file's item range (a merged or single run: 0, count) */
  int64_t n_valid, n_failed;
  bool complete, exact_quantiles;
  char *model, *model_name, *dataset, *dataset_hash;
  int64_t dataset_count;
  int64_t *top_index, *bottom_index; /* (n_neurons, top_k), best first; -1 where there are fewer items */
  float *top_value, *bottom_value;   /* top: descending; bottom: ascending (least activating first) */
  DnNeuronStats *stats;              /* (n_neurons) */
  int *order;                        /* neurons by gini, descending */
  char **ids;                        /* item ids of the range (item_end − item_start) */
} DnScreenResult;

DnStatus dn_screen_result_load (const char *path, DnScreenResult **out);
void dn_screen_result_free (DnScreenResult *r);
/* The id of dataset item @index (NULL outside the file's range). */
const char *dn_screen_result_item_id (const DnScreenResult *r, int64_t index);
