/* dn-screen-private.h: what the files of compute/screen/ share: the dataset struct and the built-in
 * generators' interface.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-dataset.h"
#include "dn-screen-h5.h"

#define DN_BUILTIN_MAX_PARAMS 6

/* A built-in generated set: parameters of item i, its id, and its rendering (gray float in [0,1]). */
typedef struct DnBuiltin DnBuiltin;
struct DnBuiltin
{
  const char *name;
  int n_params;
  const char *param_names[DN_BUILTIN_MAX_PARAMS];
  int64_t count;
  int size;         /* image side (pixels) */
  /* options (key=value in the spec), interpreted by each generator */
  int n_ori, n_sf, n_phase, n_contrast;
  double alpha;     /* noise: amplitude spectrum 1/f^alpha */
  uint64_t seed;
  void (*params) (const DnBuiltin *b, int64_t i, double *p);
  void (*render) (const DnBuiltin *b, const double *p, int64_t i, float *img);
};

/* Parses "NAME[:k=v,...]" (after "builtin:") into @b. */
DnStatus dn_builtin_init (DnBuiltin *b, const char *spec, int default_size);

struct DnDataset
{
  DnDatasetKind kind;
  char *spec;
  int64_t count;
  char hash[17];
  int64_t max_pixels;
  /* folder */
  char *root;
  char **paths; /* relative to root */
  int *labels;
  char **label_names;
  int n_labels;
  /* stacks: item layout */
  int h, w, c;
  bool channels_last, is_u8;
  DnSh5Stack *h5;
  int fd;               /* .npy */
  int64_t data_offset;  /* .npy: first byte of the data */
  int npy_elsize;       /* 1, 4 or 8 */
  /* built-in */
  DnBuiltin builtin;
};

/* Screening state (dn-screen-state.c) ---------------------------------------------------------------- */
#include "dn-screen.h"

/* Histogram: magnitudes from HIST_LO to HIST_LO·γ^HIST_H, γ = 1.01 (relative error ≤ (γ−1)/(γ+1)). */
#define DN_HIST_LO 1e-5
#define DN_HIST_GAMMA 1.01
#define DN_HIST_H 2315 /* ⌈ln(1e10) / ln(1.01)⌉ */
#define DN_HIST_BINS (2 * DN_HIST_H + 1)

typedef struct
{
  int n_neurons, k;
  int64_t block_size;
  int64_t lo, hi;          /* item range */
  int64_t done;            /* items [lo, lo + done) are folded in */
  int64_t n_failed;
  int *top_n, *bot_n;      /* (n_neurons) */
  float *top_v, *bot_v;    /* (n_neurons, k) heaps, worst at the root; bottom holds −response */
  int64_t *top_i, *bot_i;  /* (n_neurons, k) */
  /* per-block moments over the blocks that meet [lo, hi) */
  int64_t first_block, n_blocks;
  int64_t *block_count;    /* (n_blocks) */
  double *block_mom;       /* (n_blocks, n_neurons, 3): mean, M2, M3 */
  uint32_t *hist;          /* (n_neurons, DN_HIST_BINS) */
  float *vmin, *vmax;      /* (n_neurons) */
  /* failures in index order */
  int64_t n_fail_alloc;
  int64_t *fail_index;
  char **fail_reason;
} DnScreenState;

DnStatus dn_screen_state_init (DnScreenState *s, int n_neurons, int k, int64_t block_size, int64_t lo, int64_t hi);
void dn_screen_state_clear (DnScreenState *s);
/* Folds item @index's responses r (n_neurons) in (items must come in index order). */
void dn_screen_state_add (DnScreenState *s, int64_t index, const float *r);
DnStatus dn_screen_state_fail (DnScreenState *s, int64_t index, const char *reason);
/* The lists, sorted, into (n_neurons, k) arrays: top descending, bottom ascending (least first);
 * index −1 and NaN where a neuron has fewer than k items. The heaps are left as they are. */
DnStatus dn_screen_state_lists (const DnScreenState *s, int64_t *top_i, float *top_v, int64_t *bot_i, float *bot_v);
/* Inserts lists (as written by dn_screen_state_lists, with @k columns) into the heaps. */
void dn_screen_state_load_lists (DnScreenState *s, const int64_t *top_i, const float *top_v, const int64_t *bot_i,
                                 const float *bot_v, int k);
/* Statistics of every neuron from the state (histogram quantiles and gini). */
void dn_screen_state_stats (const DnScreenState *s, DnNeuronStats *out);
/* Exact gini/q95/q05 of one neuron from its n valid responses (sorted in place). */
void dn_screen_exact_stats (float *v, int64_t n, DnNeuronStats *st);
/* Neurons ordered by gini, descending (ties: lower index first). */
void dn_screen_order (const DnNeuronStats *st, int n, int *order);

/* Result files (dn-screen-file.c) -------------------------------------------------------------------- */

/* What identifies a screening: written as attributes of the file's root. */
typedef struct
{
  char model[1024], model_name[256], model_arch[64];
  char dataset[1024], dataset_kind[16], dataset_hash[32];
  char preset[32], geometry[16], mask_source[512], mean[64], std[64];
  int64_t n_neurons, n_members, dataset_count;
  int64_t resize_short, crop, out_h, out_w, out_channels;
  double norm;
  int64_t top_k, block_size, keep_responses, shard_index, n_shards, item_start, item_end;
} DnScreenMeta;

/* Where the writer takes the items of a file's range from, one at a time (so that writing them needs no
 * memory that grows with the dataset). */
typedef struct
{
  int64_t n;
  int n_params, n_labels;
  const char *const *param_names; /* (n_params) */
  const char *const *label_names; /* (n_labels) */
  /* item @i of the range: its id (written into @buf, returned), label, parameters (n_params) and whether
     it was screened */
  const char *(*get) (void *ctx, int64_t i, char *buf, size_t size, int32_t *label, double *params, uint8_t *valid);
  void *ctx;
} DnScreenItems;

/* Rows [row0, row0 + n) of the run's response matrix (relative to the range) into buf (n, n_neurons). */
typedef DnStatus (*DnScreenRowReader) (void *ctx, int64_t row0, int64_t n, float *buf);

/* "" when @a and @b describe the same screening (for a merge: apart from the shard and the paths),
 * else the name of the first field that differs. */
const char *dn_screen_meta_differs (const DnScreenMeta *a, const DnScreenMeta *b, bool for_merge);

/* Writes a complete result (@items and, with keep_responses, @rows given) or a checkpoint (@items NULL)
 * to @path through @path.tmp and a rename. */
DnStatus dn_screen_write (const char *path, const DnScreenMeta *m, const DnScreenState *s, const DnScreenItems *items,
                          const float *mask, DnScreenRowReader rows, void *rows_ctx);
/* Reads the meta and the state of a result or checkpoint file; *complete tells which. */
DnStatus dn_screen_read_state (const char *path, DnScreenMeta *m, DnScreenState *s, bool *complete);
