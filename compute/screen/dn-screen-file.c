/* dn-screen-file.c: screening result files: writing (complete results and checkpoints), reading the
 * mergeable state back (resume, merge), merging shard files, and loading results for readers.
 *
 * Layout (format "dualneuron-screen", version 1):
 *   /                 attrs: format, version, software, complete, n_done, n_valid, n_failed,
 *                     quantile_method, hist_lo, hist_gamma, hist_bins, and the DnScreenMeta fields
 *                     (model, model_name, model_arch, n_neurons, n_members, dataset, dataset_kind,
 *                     dataset_count, dataset_hash, preset, geometry, resize_short, crop, out_h, out_w,
 *                     out_channels, mean, std, norm, mask_source, top_k, block_size, keep_responses,
 *                     shard_index, n_shards, item_start, item_end)
 *   /preprocess/mask  (out_h, out_w) float32, when a mask is applied
 *   /items/id         (n) strings: the dataset's item ids for [item_start, item_end)
 *   /items/label      (n) int32 (−1: none); /items/label_names (L) strings
 *   /items/params     (n, P) float64, /items/param_names (P) strings (built-in sets)
 *   /items/valid      (n) uint8: 1 screened, 0 failed
 *   /top/index, /top/value         (n_neurons, top_k) int64 / float32, most activating first
 *   /bottom/index, /bottom/value   (n_neurons, top_k), least activating first (−1 / NaN padding)
 *   /stats/{gini,skewness,mean,std,range,cv,max,min,q95,q05}   (n_neurons) float64
 *   /stats/active     (n_neurons) uint8;  /stats/order (n_neurons) int32: neurons by gini, descending
 *   /failures/index   (F) int64 dataset indices; /failures/reason (F) strings
 *   /state/block_count (B) int64, /state/block_moments (B, n_neurons, 3) float64 [mean, M2, M3],
 *   /state/hist (n_neurons, hist_bins) uint32, /state/min, /state/max (n_neurons) float32;
 *                     attrs first_block, done
 *   /responses        (n, n_neurons) float32, chunked + gzip, NaN rows for failed items (keep_responses)
 * A checkpoint (OUTPUT.partial) has the root attributes, /state, /top, /bottom and /failures only.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dn-screen-private.h"

#define FORMAT "dualneuron-screen"
#define VERSION 1

typedef struct
{
  const char *name;
  char type; /* 's' string, 'i' int64, 'f' double */
  size_t off, size;
  bool merge_may_differ;
} MetaField;

#define STR(f, m) { #f, 's', offsetof (DnScreenMeta, f), sizeof (((DnScreenMeta *) 0)->f), m }
#define INT(f, m) { #f, 'i', offsetof (DnScreenMeta, f), sizeof (int64_t), m }
static const MetaField META[] = {
  STR (model, true),         STR (model_name, false),  STR (model_arch, false),  INT (n_neurons, false),
  INT (n_members, false),    STR (dataset, true),      STR (dataset_kind, false), INT (dataset_count, false),
  STR (dataset_hash, false), STR (preset, false),      STR (geometry, false),    INT (resize_short, false),
  INT (crop, false),         INT (out_h, false),       INT (out_w, false),       INT (out_channels, false),
  STR (mean, false),         STR (std, false),         { "norm", 'f', offsetof (DnScreenMeta, norm), 8, false },
  STR (mask_source, false),  INT (top_k, false),       INT (block_size, false),  INT (keep_responses, false),
  INT (shard_index, true),   INT (n_shards, false),    INT (item_start, true),   INT (item_end, true),
};
#undef STR
#undef INT

const char *
dn_screen_meta_differs (const DnScreenMeta *a, const DnScreenMeta *b, bool for_merge)
{
  for (size_t i = 0; i < sizeof META / sizeof META[0]; i++)
    {
      const MetaField *f = &META[i];
      if (for_merge && f->merge_may_differ)
        continue;
      const char *pa = (const char *) a + f->off, *pb = (const char *) b + f->off;
      bool same = f->type == 's' ? strcmp (pa, pb) == 0 : memcmp (pa, pb, f->size) == 0;
      if (!same)
        return f->name;
    }
  return "";
}

static DnStatus
write_meta (DnSh5 *h, const DnScreenMeta *m)
{
  DnStatus st = DN_OK;
  for (size_t i = 0; i < sizeof META / sizeof META[0] && st == DN_OK; i++)
    {
      const MetaField *f = &META[i];
      const char *p = (const char *) m + f->off;
      if (f->type == 's')
        st = dn_sh5_set_str (h, "/", f->name, p);
      else if (f->type == 'i')
        st = dn_sh5_set_i64 (h, "/", f->name, *(const int64_t *) p);
      else
        st = dn_sh5_set_f64 (h, "/", f->name, *(const double *) p);
    }
  return st;
}

static DnStatus
read_meta (DnSh5 *h, DnScreenMeta *m)
{
  memset (m, 0, sizeof *m);
  char *fmt = NULL;
  int64_t version = 0;
  if (dn_sh5_get_str (h, "/", "format", &fmt) != DN_OK || strcmp (fmt, FORMAT) != 0
      || dn_sh5_get_i64 (h, "/", "version", &version) != DN_OK || version != VERSION)
    {
      free (fmt);
      return DN_ERROR_FORMAT;
    }
  free (fmt);
  DnStatus st = DN_OK;
  for (size_t i = 0; i < sizeof META / sizeof META[0] && st == DN_OK; i++)
    {
      const MetaField *f = &META[i];
      char *p = (char *) m + f->off;
      if (f->type == 's')
        {
          char *s = NULL;
          if ((st = dn_sh5_get_str (h, "/", f->name, &s)) == DN_OK)
            snprintf (p, f->size, "%s", s);
          free (s);
        }
      else if (f->type == 'i')
        st = dn_sh5_get_i64 (h, "/", f->name, (int64_t *) p);
      else
        st = dn_sh5_get_f64 (h, "/", f->name, (double *) p);
    }
  return st;
}

/* Writing --------------------------------------------------------------------------------------- */

static DnStatus
write_state (DnSh5 *h, const DnScreenState *s)
{
  int64_t K = s->n_neurons, k = s->k, nb = s->n_blocks;
  size_t nk = (size_t) (K * k > 0 ? K * k : 1);
  int64_t *ti = malloc (nk * sizeof *ti), *bi = malloc (nk * sizeof *bi);
  float *tv = malloc (nk * sizeof *tv), *bv = malloc (nk * sizeof *bv);
  DnStatus st = !ti || !bi || !tv || !bv ? dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory") : DN_OK;
  if (st == DN_OK)
    st = dn_screen_state_lists (s, ti, tv, bi, bv);
  int64_t sh2[2] = { K, k }, sh3[3] = { nb, K, 3 }, shh[2] = { K, DN_HIST_BINS };
  if (st == DN_OK)
    st = dn_sh5_write (h, "/top/index", DN_SH5_I64, 2, sh2, ti, true);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/top/value", DN_SH5_F32, 2, sh2, tv, true);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/bottom/index", DN_SH5_I64, 2, sh2, bi, true);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/bottom/value", DN_SH5_F32, 2, sh2, bv, true);
  free (ti);
  free (bi);
  free (tv);
  free (bv);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/state/block_count", DN_SH5_I64, 1, &nb, s->block_count, false);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/state/block_moments", DN_SH5_F64, 3, sh3, s->block_mom, true);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/state/hist", DN_SH5_U32, 2, shh, s->hist, true);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/state/min", DN_SH5_F32, 1, &K, s->vmin, false);
  if (st == DN_OK)
    st = dn_sh5_write (h, "/state/max", DN_SH5_F32, 1, &K, s->vmax, false);
  if (st == DN_OK)
    st = dn_sh5_set_i64 (h, "/state", "first_block", s->first_block);
  if (st == DN_OK)
    st = dn_sh5_set_i64 (h, "/state", "done", s->done);
  int64_t nf = s->n_failed;
  if (st == DN_OK)
    st = dn_sh5_write (h, "/failures/index", DN_SH5_I64, 1, &nf, s->fail_index ? (void *) s->fail_index : (void *) "", false);
  if (st == DN_OK)
    st = dn_sh5_write_strings (h, "/failures/reason", (const char *const *) s->fail_reason, nf);
  return st;
}

#define ITEM_BLOCK 65536

/* The items in blocks: a first pass finds the width of the ids, a second writes them. */
static DnStatus
write_items (DnSh5 *h, const DnScreenItems *it)
{
  int64_t n = it->n, P = it->n_params, L = it->n_labels;
  char id[4096];
  int32_t label;
  uint8_t valid;
  double *params = malloc ((size_t) (ITEM_BLOCK * (P ? P : 1)) * sizeof *params);
  int32_t *labels = malloc (ITEM_BLOCK * sizeof *labels);
  uint8_t *valids = malloc (ITEM_BLOCK);
  char *ids = NULL;
  size_t width = 1;
  DnStatus st = !params || !labels || !valids ? dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory") : DN_OK;
  for (int64_t i = 0; st == DN_OK && i < n; i++)
    {
      size_t l = strlen (it->get (it->ctx, i, id, sizeof id, &label, params, &valid)) + 1;
      width = l > width ? l : width;
    }
  if (st == DN_OK && !(ids = malloc (ITEM_BLOCK * width)))
    st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
  if (st == DN_OK && (st = dn_sh5_strings_create (h, "/items/id", n, width)) == DN_OK
      && (st = dn_sh5_dataset_create (h, "/items/label", DN_SH5_I32, 1, &n)) == DN_OK
      && (st = dn_sh5_dataset_create (h, "/items/valid", DN_SH5_U8, 1, &n)) == DN_OK && P > 0)
    st = dn_sh5_dataset_create (h, "/items/params", DN_SH5_F64, 2, (const int64_t[]){ n, P });
  for (int64_t b = 0; st == DN_OK && b < n; b += ITEM_BLOCK)
    {
      int64_t m = n - b < ITEM_BLOCK ? n - b : ITEM_BLOCK;
      memset (ids, 0, (size_t) m * width);
      for (int64_t i = 0; i < m; i++)
        {
          const char *s = it->get (it->ctx, b + i, id, sizeof id, &labels[i], params + i * P, &valids[i]);
          memcpy (ids + (size_t) i * width, s, strlen (s));
        }
      if ((st = dn_sh5_write_string_rows (h, "/items/id", b, m, width, ids)) == DN_OK
          && (st = dn_sh5_write_rows (h, "/items/label", DN_SH5_I32, b, m, labels)) == DN_OK
          && (st = dn_sh5_write_rows (h, "/items/valid", DN_SH5_U8, b, m, valids)) == DN_OK && P > 0)
        st = dn_sh5_write_rows (h, "/items/params", DN_SH5_F64, b, m, params);
    }
  if (st == DN_OK)
    st = dn_sh5_write_strings (h, "/items/label_names", it->label_names, L);
  if (st == DN_OK && P > 0)
    st = dn_sh5_write_strings (h, "/items/param_names", it->param_names, P);
  free (params);
  free (labels);
  free (valids);
  free (ids);
  return st;
}

/* Copies the response matrix in blocks of 1024 rows, then computes the exact gini / q95 / q05 from it,
 * reading column blocks that fit in 256 MB (failed items are NaN rows; no valid response is NaN). */
static DnStatus
write_responses (DnSh5 *h, const DnScreenState *s, int64_t n, DnScreenRowReader rows, void *ctx, DnNeuronStats *stats)
{
  int64_t K = s->n_neurons;
  DnStatus st = dn_sh5_matrix_create (h, "/responses", n, K);
  float *buf = malloc ((size_t) 1024 * K * sizeof *buf);
  if (!buf)
    return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
  for (int64_t r = 0; st == DN_OK && r < n; r += 1024)
    {
      int64_t m = n - r < 1024 ? n - r : 1024;
      if ((st = rows (ctx, r, m, buf)) == DN_OK)
        st = dn_sh5_write_rows (h, "/responses", DN_SH5_F32, r, m, buf);
    }
  free (buf);
  if (st != DN_OK || n == 0)
    return st;
  int64_t nb = (64LL << 20) / n;
  nb = nb < 1 ? 1 : nb > K ? K : nb;
  float *cols = malloc ((size_t) (n * nb) * sizeof *cols), *v = malloc ((size_t) n * sizeof *v);
  if (!cols || !v)
    st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory for %lld responses", (long long) (n * nb));
  for (int64_t c0 = 0; st == DN_OK && c0 < K; c0 += nb)
    {
      int64_t m = K - c0 < nb ? K - c0 : nb;
      if ((st = dn_sh5_matrix_read (h, "/responses", 0, n, c0, m, cols)) != DN_OK)
        break;
      for (int64_t j = 0; j < m; j++)
        {
          int64_t cnt = 0;
          for (int64_t r = 0; r < n; r++)
            if (!isnan (cols[r * m + j]))
              v[cnt++] = cols[r * m + j];
          dn_screen_exact_stats (v, cnt, &stats[c0 + j]);
        }
    }
  free (cols);
  free (v);
  return st;
}

static DnStatus
write_stats (DnSh5 *h, const DnNeuronStats *stats, int K)
{
  static const char *names[] = { "gini", "skewness", "mean", "std", "range", "cv", "max", "min", "q95", "q05" };
  double *v = malloc ((size_t) K * sizeof *v);
  uint8_t *a = malloc ((size_t) K);
  int *order = malloc ((size_t) K * sizeof *order);
  DnStatus st = !v || !a || !order ? dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory") : DN_OK;
  int64_t n = K;
  for (size_t f = 0; st == DN_OK && f < sizeof names / sizeof names[0]; f++)
    {
      for (int j = 0; j < K; j++)
        {
          const DnNeuronStats *s = &stats[j];
          const double fields[] = { s->gini, s->skewness, s->mean, s->std, s->range, s->cv, s->max, s->min, s->q95, s->q05 };
          v[j] = fields[f];
        }
      char path[64];
      snprintf (path, sizeof path, "/stats/%s", names[f]);
      st = dn_sh5_write (h, path, DN_SH5_F64, 1, &n, v, false);
    }
  if (st == DN_OK)
    {
      for (int j = 0; j < K; j++)
        a[j] = stats[j].active;
      dn_screen_order (stats, K, order);
      if ((st = dn_sh5_write (h, "/stats/active", DN_SH5_U8, 1, &n, a, false)) == DN_OK)
        st = dn_sh5_write (h, "/stats/order", DN_SH5_I32, 1, &n, order, false);
    }
  free (v);
  free (a);
  free (order);
  return st;
}

DnStatus
dn_screen_write (const char *path, const DnScreenMeta *m, const DnScreenState *s, const DnScreenItems *items,
                 const float *mask, DnScreenRowReader rows, void *rows_ctx)
{
  size_t len = strlen (path) + 8;
  char *tmp = malloc (len);
  DnNeuronStats *stats = calloc ((size_t) m->n_neurons, sizeof *stats);
  if (!tmp || !stats)
    {
      free (tmp);
      free (stats);
      return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
    }
  snprintf (tmp, len, "%s.tmp", path);
  DnStatus st;
  DnSh5 *h = dn_sh5_create (tmp, &st);
  bool complete = items != NULL;
  bool exact = complete && m->keep_responses;
  if (h)
    {
      int64_t valid = s->done - s->n_failed;
      if ((st = dn_sh5_set_str (h, "/", "format", FORMAT)) == DN_OK && (st = dn_sh5_set_i64 (h, "/", "version", VERSION)) == DN_OK
          && (st = dn_sh5_set_str (h, "/", "software", "DualNeuron " DN_VERSION)) == DN_OK
          && (st = dn_sh5_set_i64 (h, "/", "complete", complete)) == DN_OK
          && (st = dn_sh5_set_i64 (h, "/", "n_done", s->done)) == DN_OK
          && (st = dn_sh5_set_i64 (h, "/", "n_valid", valid)) == DN_OK
          && (st = dn_sh5_set_i64 (h, "/", "n_failed", s->n_failed)) == DN_OK
          && (st = dn_sh5_set_f64 (h, "/", "hist_lo", DN_HIST_LO)) == DN_OK
          && (st = dn_sh5_set_f64 (h, "/", "hist_gamma", DN_HIST_GAMMA)) == DN_OK
          && (st = dn_sh5_set_i64 (h, "/", "hist_bins", DN_HIST_BINS)) == DN_OK
          && (st = dn_sh5_set_str (h, "/", "quantile_method",
                                   exact ? "exact (response matrix)"
                                         : "log histogram, bin ratio 1.01: q95/q05 within 0.5% relative, gini approximate"))
                 == DN_OK)
        st = write_meta (h, m);
      if (st == DN_OK && mask)
        st = dn_sh5_write (h, "/preprocess/mask", DN_SH5_F32, 2, (const int64_t[]){ m->out_h, m->out_w }, mask, false);
      if (st == DN_OK)
        st = write_state (h, s);
      if (st == DN_OK && complete)
        {
          dn_screen_state_stats (s, stats);
          if ((st = write_items (h, items)) == DN_OK && m->keep_responses)
            st = write_responses (h, s, items->n, rows, rows_ctx, stats);
          if (st == DN_OK)
            st = write_stats (h, stats, (int) m->n_neurons);
        }
      DnStatus cst = dn_sh5_close (h);
      st = st != DN_OK ? st : cst;
      if (st == DN_OK && rename (tmp, path) != 0)
        st = dn_set_error (DN_ERROR_IO, "%s: cannot rename %s into place", path, tmp);
      if (st != DN_OK)
        unlink (tmp);
    }
  free (tmp);
  free (stats);
  return st;
}

/* Reading ---------------------------------------------------------------------------------------- */

/* Reads @path as @type and checks its element count. */
static DnStatus
read_exact (DnSh5 *h, const char *path, DnSh5Type type, int64_t want, void **data)
{
  int nd;
  int64_t sh[8];
  DnStatus st = dn_sh5_read (h, path, type, &nd, sh, data);
  if (st != DN_OK)
    return st;
  int64_t n = 1;
  for (int i = 0; i < nd; i++)
    n *= sh[i];
  if (n != want)
    {
      free (*data);
      *data = NULL;
      return dn_set_error (DN_ERROR_FORMAT, "%s has %lld values, expected %lld", path, (long long) n, (long long) want);
    }
  return DN_OK;
}

static DnStatus
read_state_h (DnSh5 *h, const DnScreenMeta *m, DnScreenState *s)
{
  int64_t first = 0, done = 0;
  DnStatus st = dn_sh5_get_i64 (h, "/state", "first_block", &first);
  if (st == DN_OK)
    st = dn_sh5_get_i64 (h, "/state", "done", &done);
  if (st != DN_OK)
    return st;
  if (m->n_neurons < 1 || m->n_neurons > 1 << 24 || m->top_k < 0 || m->top_k > 1 << 20 || m->block_size < 1
      || m->item_start < 0 || m->item_end < m->item_start || done < 0 || done > m->item_end - m->item_start)
    return dn_set_error (DN_ERROR_FORMAT, "screen: inconsistent sizes in the file");
  if ((st = dn_screen_state_init (s, (int) m->n_neurons, (int) m->top_k, m->block_size, m->item_start, m->item_end)) != DN_OK)
    return st;
  s->done = done;
  int64_t K = m->n_neurons, k = m->top_k;
  void *ti = NULL, *tv = NULL, *bi = NULL, *bv = NULL, *bc = NULL, *bm = NULL, *hist = NULL, *mn = NULL, *mx = NULL,
       *fi = NULL;
  char **fr = NULL;
  int64_t nf = 0, nfi = 0;
  if ((st = read_exact (h, "/top/index", DN_SH5_I64, K * k, &ti)) == DN_OK
      && (st = read_exact (h, "/top/value", DN_SH5_F32, K * k, &tv)) == DN_OK
      && (st = read_exact (h, "/bottom/index", DN_SH5_I64, K * k, &bi)) == DN_OK
      && (st = read_exact (h, "/bottom/value", DN_SH5_F32, K * k, &bv)) == DN_OK
      && (st = read_exact (h, "/state/block_count", DN_SH5_I64, s->n_blocks, &bc)) == DN_OK
      && (st = read_exact (h, "/state/block_moments", DN_SH5_F64, s->n_blocks * K * 3, &bm)) == DN_OK
      && (st = read_exact (h, "/state/hist", DN_SH5_U32, K * DN_HIST_BINS, &hist)) == DN_OK
      && (st = read_exact (h, "/state/min", DN_SH5_F32, K, &mn)) == DN_OK
      && (st = read_exact (h, "/state/max", DN_SH5_F32, K, &mx)) == DN_OK
      && (st = dn_sh5_read_strings (h, "/failures/reason", &fr, &nf)) == DN_OK
      && (st = read_exact (h, "/failures/index", DN_SH5_I64, nf, &fi)) == DN_OK)
    {
      if (first != s->first_block)
        st = dn_set_error (DN_ERROR_FORMAT, "screen: inconsistent block numbering in the file");
      for (int64_t i = 0; st == DN_OK && i < k * K; i++)
        if (((int64_t *) ti)[i] >= m->item_end || ((int64_t *) bi)[i] >= m->item_end)
          st = dn_set_error (DN_ERROR_FORMAT, "screen: item index out of range in the file");
      if (st == DN_OK)
        {
          dn_screen_state_load_lists (s, ti, tv, bi, bv, (int) k);
          memcpy (s->block_count, bc, (size_t) s->n_blocks * sizeof *s->block_count);
          memcpy (s->block_mom, bm, (size_t) (s->n_blocks * K * 3) * sizeof *s->block_mom);
          memcpy (s->hist, hist, (size_t) (K * DN_HIST_BINS) * sizeof *s->hist);
          memcpy (s->vmin, mn, (size_t) K * sizeof *s->vmin);
          memcpy (s->vmax, mx, (size_t) K * sizeof *s->vmax);
          for (; nfi < nf && st == DN_OK; nfi++)
            st = dn_screen_state_fail (s, ((int64_t *) fi)[nfi], fr[nfi]);
        }
    }
  dn_sh5_strings_free (fr, nf);
  void *all[] = { ti, tv, bi, bv, bc, bm, hist, mn, mx, fi };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    free (all[i]);
  if (st != DN_OK)
    dn_screen_state_clear (s);
  return st;
}

DnStatus
dn_screen_read_state (const char *path, DnScreenMeta *m, DnScreenState *s, bool *complete)
{
  DnStatus st;
  memset (s, 0, sizeof *s);
  DnSh5 *h = dn_sh5_open (path, false, &st);
  if (!h)
    return st;
  int64_t c = 0;
  if (read_meta (h, m) != DN_OK || dn_sh5_get_i64 (h, "/", "complete", &c) != DN_OK)
    st = dn_set_error (DN_ERROR_FORMAT, "%s: not a DualNeuron screening file (format %s, version %d)", path, FORMAT,
                       VERSION);
  else if ((st = read_state_h (h, m, s)) != DN_OK)
    dn_set_error (st, "%s: %s", path, dn_last_error ());
  *complete = c != 0;
  dn_sh5_close (h);
  return st;
}

/* Merging ----------------------------------------------------------------------------------------- */

/* A shard's items, read whole (a merge holds every shard's ids in memory). */
typedef struct
{
  int64_t n;
  char **ids;
  int32_t *labels;
  uint8_t *valid;
  double *params;      /* (n, n_params) */
  char **param_names, **label_names;
  int64_t n_params, n_labels;
} ShardItems;

static void
shard_items_clear (ShardItems *it)
{
  dn_sh5_strings_free (it->ids, it->n);
  dn_sh5_strings_free (it->param_names, it->n_params);
  dn_sh5_strings_free (it->label_names, it->n_labels);
  free (it->labels);
  free (it->valid);
  free (it->params);
  memset (it, 0, sizeof *it);
}

static DnStatus
read_items (DnSh5 *h, int64_t n, ShardItems *it)
{
  memset (it, 0, sizeof *it);
  int nd;
  int64_t sh[8];
  DnStatus st = dn_sh5_read_strings (h, "/items/id", &it->ids, &it->n);
  if (st == DN_OK && it->n != n)
    st = dn_set_error (DN_ERROR_FORMAT, "/items/id has %lld ids for %lld items", (long long) it->n, (long long) n);
  if (st == DN_OK)
    st = read_exact (h, "/items/label", DN_SH5_I32, n, (void **) &it->labels);
  if (st == DN_OK)
    st = read_exact (h, "/items/valid", DN_SH5_U8, n, (void **) &it->valid);
  if (st == DN_OK)
    st = dn_sh5_read_strings (h, "/items/label_names", &it->label_names, &it->n_labels);
  if (st == DN_OK && dn_sh5_exists (h, "/items/params")
      && (st = dn_sh5_read_strings (h, "/items/param_names", &it->param_names, &it->n_params)) == DN_OK
      && (st = dn_sh5_read (h, "/items/params", DN_SH5_F64, &nd, sh, (void **) &it->params)) == DN_OK
      && (nd != 2 || sh[0] != n || sh[1] != it->n_params))
    st = dn_set_error (DN_ERROR_FORMAT, "/items/params has the wrong shape");
  if (st != DN_OK)
    shard_items_clear (it);
  return st;
}

typedef struct
{
  DnScreenMeta meta;
  DnScreenState state;
  ShardItems items;
  DnSh5 *h;
} Shard;

typedef struct
{
  Shard *shards;
  int n;
} MergeRows;

static DnStatus
merge_rows (void *ctx, int64_t row0, int64_t n, float *buf)
{
  MergeRows *mr = ctx;
  int64_t K = mr->shards[0].meta.n_neurons;
  for (int s = 0; s < mr->n && n > 0; s++)
    {
      const DnScreenMeta *m = &mr->shards[s].meta;
      if (row0 >= m->item_end || row0 + n <= m->item_start)
        continue;
      int64_t a = row0 > m->item_start ? row0 : m->item_start, b = row0 + n < m->item_end ? row0 + n : m->item_end;
      DnStatus st = dn_sh5_matrix_read (mr->shards[s].h, "/responses", a - m->item_start, b - a, 0, K,
                                        buf + (a - row0) * K);
      if (st != DN_OK)
        return st;
    }
  return DN_OK;
}

/* Item i of the merged range, from the shard that holds it. */
static const char *
merge_item (void *ctx, int64_t i, char *buf, size_t size, int32_t *label, double *params, uint8_t *valid)
{
  MergeRows *mr = ctx;
  for (int s = 0; s < mr->n; s++)
    {
      const Shard *sh = &mr->shards[s];
      if (i < sh->meta.item_start || i >= sh->meta.item_end)
        continue;
      int64_t j = i - sh->meta.item_start, P = sh->items.n_params;
      *label = sh->items.labels[j];
      *valid = sh->items.valid[j];
      if (P)
        memcpy (params, sh->items.params + j * P, (size_t) P * sizeof *params);
      return sh->items.ids[j];
    }
  return "";
}

static int
cmp_shard (const void *a, const void *b)
{
  const Shard *x = a, *y = b;
  return (x->meta.shard_index > y->meta.shard_index) - (x->meta.shard_index < y->meta.shard_index);
}

/* Checks that the shards are parts 0 … n−1 of one screening, covering its items. */
static DnStatus
check_shards (Shard *sh, int n, const char *const *paths)
{
  for (int s = 0; s < n; s++)
    {
      const char *diff = dn_screen_meta_differs (&sh[0].meta, &sh[s].meta, true);
      if (*diff)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "merge: %s and %s are not parts of one screening (%s differs)",
                             paths[0], paths[s], diff);
      if (sh[s].items.n_params != sh[0].items.n_params || sh[s].items.n_labels != sh[0].items.n_labels)
        return dn_set_error (DN_ERROR_FORMAT, "merge: the shards list different item parameters or labels");
    }
  qsort (sh, (size_t) n, sizeof *sh, cmp_shard);
  if (sh[0].meta.n_shards != n)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "merge: the screening has %lld shards, %d files were given",
                         (long long) sh[0].meta.n_shards, n);
  for (int s = 0; s < n; s++)
    {
      int64_t lo, hi;
      dn_screen_shard_range (sh[0].meta.dataset_count, s, n, &lo, &hi);
      if (sh[s].meta.shard_index != s || sh[s].meta.item_start != lo || sh[s].meta.item_end != hi)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "merge: shard %d of %d is missing or given twice", s + 1, n);
    }
  return DN_OK;
}

/* Folds shard state @p into @all (blocks are disjoint: shards hold whole blocks). */
static DnStatus
merge_state (DnScreenState *all, const DnScreenState *p, int64_t *ti, float *tv, int64_t *bi, float *bv)
{
  int64_t K = all->n_neurons;
  DnStatus st = dn_screen_state_lists (p, ti, tv, bi, bv);
  if (st != DN_OK)
    return st;
  dn_screen_state_load_lists (all, ti, tv, bi, bv, all->k);
  int64_t off = p->first_block - all->first_block;
  memcpy (all->block_count + off, p->block_count, (size_t) p->n_blocks * sizeof *p->block_count);
  memcpy (all->block_mom + off * K * 3, p->block_mom, (size_t) (p->n_blocks * K * 3) * sizeof *p->block_mom);
  for (int64_t i = 0; i < K * DN_HIST_BINS; i++)
    all->hist[i] += p->hist[i];
  for (int64_t j = 0; j < K; j++)
    {
      all->vmin[j] = fminf (all->vmin[j], p->vmin[j]);
      all->vmax[j] = fmaxf (all->vmax[j], p->vmax[j]);
    }
  for (int64_t i = 0; i < p->n_failed && st == DN_OK; i++)
    st = dn_screen_state_fail (all, p->fail_index[i], p->fail_reason[i]);
  all->done += p->done;
  return st;
}

DnStatus
dn_screen_merge (const char *output, const char *const *paths, int n)
{
  if (n < 1)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "merge: no shard files");
  Shard *sh = calloc ((size_t) n, sizeof *sh);
  float *mask = NULL;
  int64_t *ti = NULL, *bi = NULL;
  float *tv = NULL, *bv = NULL;
  DnScreenState all = { 0 };
  if (!sh)
    return dn_set_error (DN_ERROR_NO_MEMORY, "merge: out of memory");
  DnStatus st = DN_OK;
  for (int s = 0; s < n && st == DN_OK; s++)
    {
      bool complete = false;
      if ((st = dn_screen_read_state (paths[s], &sh[s].meta, &sh[s].state, &complete)) != DN_OK)
        break;
      if (!complete)
        st = dn_set_error (DN_ERROR_FORMAT, "%s: not a complete screening file", paths[s]);
      else if ((sh[s].h = dn_sh5_open (paths[s], false, &st))
               && (st = read_items (sh[s].h, sh[s].meta.item_end - sh[s].meta.item_start, &sh[s].items)) != DN_OK)
        dn_set_error (st, "%s: %s", paths[s], dn_last_error ());
    }
  if (st != DN_OK || (st = check_shards (sh, n, paths)) != DN_OK)
    goto out;
  DnScreenMeta m = sh[0].meta;
  m.shard_index = 0;
  m.n_shards = 1;
  m.item_start = 0;
  m.item_end = m.dataset_count;
  if ((st = dn_screen_state_init (&all, (int) m.n_neurons, (int) m.top_k, m.block_size, 0, m.dataset_count)) != DN_OK)
    goto out;
  size_t nk = (size_t) (m.n_neurons * m.top_k > 0 ? m.n_neurons * m.top_k : 1);
  if (!(ti = malloc (nk * sizeof *ti)) || !(bi = malloc (nk * sizeof *bi)) || !(tv = malloc (nk * sizeof *tv))
      || !(bv = malloc (nk * sizeof *bv)))
    st = dn_set_error (DN_ERROR_NO_MEMORY, "merge: out of memory");
  for (int s = 0; s < n && st == DN_OK; s++)
    st = merge_state (&all, &sh[s].state, ti, tv, bi, bv);
  if (st == DN_OK && dn_sh5_exists (sh[0].h, "/preprocess/mask"))
    st = read_exact (sh[0].h, "/preprocess/mask", DN_SH5_F32, m.out_h * m.out_w, (void **) &mask);
  if (st != DN_OK)
    goto out;
  MergeRows mr = { sh, n };
  DnScreenItems items = { m.dataset_count, (int) sh[0].items.n_params, (int) sh[0].items.n_labels,
                          (const char *const *) sh[0].items.param_names, (const char *const *) sh[0].items.label_names,
                          merge_item, &mr };
  st = dn_screen_write (output, &m, &all, &items, mask, merge_rows, &mr);
out:
  for (int s = 0; s < n; s++)
    {
      dn_screen_state_clear (&sh[s].state);
      shard_items_clear (&sh[s].items);
      dn_sh5_close (sh[s].h);
    }
  free (sh);
  free (mask);
  free (ti);
  free (bi);
  free (tv);
  free (bv);
  dn_screen_state_clear (&all);
  return st;
}

/* Loading results ------------------------------------------------------------------------------------- */

void
dn_screen_result_free (DnScreenResult *r)
{
  if (!r)
    return;
  free (r->model);
  free (r->model_name);
  free (r->dataset);
  free (r->dataset_hash);
  free (r->top_index);
  free (r->bottom_index);
  free (r->top_value);
  free (r->bottom_value);
  free (r->stats);
  free (r->order);
  dn_sh5_strings_free (r->ids, r->item_end - r->item_start);
  free (r);
}

DnStatus
dn_screen_result_load (const char *path, DnScreenResult **out)
{
  *out = NULL;
  DnStatus st;
  DnSh5 *h = dn_sh5_open (path, false, &st);
  if (!h)
    return st;
  DnScreenResult *r = calloc (1, sizeof *r);
  DnScreenMeta m;
  int64_t complete = 0;
  if (!r)
    {
      dn_sh5_close (h);
      return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
    }
  if (read_meta (h, &m) != DN_OK || dn_sh5_get_i64 (h, "/", "complete", &complete) != DN_OK)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: not a DualNeuron screening file", path);
      goto out;
    }
  if (!complete)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: the screening is not complete (a checkpoint?)", path);
      goto out;
    }
  r->n_neurons = (int) m.n_neurons;
  r->top_k = (int) m.top_k;
  r->item_start = m.item_start;
  r->item_end = m.item_end;
  r->dataset_count = m.dataset_count;
  r->exact_quantiles = m.keep_responses != 0;
  r->complete = true;
  r->model = strdup (m.model);
  r->model_name = strdup (m.model_name);
  r->dataset = strdup (m.dataset);
  r->dataset_hash = strdup (m.dataset_hash);
  int64_t K = m.n_neurons, k = m.top_k, nids = 0;
  if ((st = dn_sh5_get_i64 (h, "/", "n_valid", &r->n_valid)) != DN_OK
      || (st = dn_sh5_get_i64 (h, "/", "n_failed", &r->n_failed)) != DN_OK
      || (st = read_exact (h, "/top/index", DN_SH5_I64, K * k, (void **) &r->top_index)) != DN_OK
      || (st = read_exact (h, "/top/value", DN_SH5_F32, K * k, (void **) &r->top_value)) != DN_OK
      || (st = read_exact (h, "/bottom/index", DN_SH5_I64, K * k, (void **) &r->bottom_index)) != DN_OK
      || (st = read_exact (h, "/bottom/value", DN_SH5_F32, K * k, (void **) &r->bottom_value)) != DN_OK
      || (st = read_exact (h, "/stats/order", DN_SH5_I32, K, (void **) &r->order)) != DN_OK
      || (st = dn_sh5_read_strings (h, "/items/id", &r->ids, &nids)) != DN_OK)
    goto out;
  if (nids != m.item_end - m.item_start)
    {
      dn_sh5_strings_free (r->ids, nids);
      r->ids = NULL;
      r->item_end = r->item_start;
      st = dn_set_error (DN_ERROR_FORMAT, "%s: /items/id has the wrong length", path);
      goto out;
    }
  if (!(r->stats = calloc ((size_t) K, sizeof *r->stats)))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      goto out;
    }
  static const char *names[] = { "gini", "skewness", "mean", "std", "range", "cv", "max", "min", "q95", "q05", "active" };
  for (size_t f = 0; f < sizeof names / sizeof names[0]; f++)
    {
      char p[64];
      void *v = NULL;
      snprintf (p, sizeof p, "/stats/%s", names[f]);
      if ((st = read_exact (h, p, DN_SH5_F64, K, &v)) != DN_OK)
        goto out;
      for (int64_t j = 0; j < K; j++)
        {
          DnNeuronStats *s = &r->stats[j];
          double x = ((double *) v)[j];
          double *fields[] = { &s->gini, &s->skewness, &s->mean, &s->std, &s->range, &s->cv, &s->max, &s->min, &s->q95, &s->q05 };
          if (f < 10)
            *fields[f] = x;
          else
            s->active = x != 0;
        }
      free (v);
    }
  for (int64_t j = 0; j < K; j++)
    if (r->order[j] < 0 || r->order[j] >= K)
      {
        st = dn_set_error (DN_ERROR_FORMAT, "%s: /stats/order is corrupt", path);
        goto out;
      }
out:
  dn_sh5_close (h);
  if (st != DN_OK)
    dn_screen_result_free (r);
  else
    *out = r;
  return st;
}

const char *
dn_screen_result_item_id (const DnScreenResult *r, int64_t index)
{
  return r->ids && index >= r->item_start && index < r->item_end ? r->ids[index - r->item_start] : NULL;
}
