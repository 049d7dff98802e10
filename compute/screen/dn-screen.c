/* dn-screen.c: the screening pipeline (dn-screen.h): worker threads load and preprocess items into a
 * ring of batch buffers, the calling thread runs the forward batch by batch in dataset order and folds
 * the responses into the state; checkpoints, resume, sharding and the final write.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dn-backend-private.h" /* dn_cpu_tune_malloc */
#include "dn-screen-private.h"

#define RING 3
#define REASON_LEN 256

void
dn_screen_options_init (DnScreenOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->top_k = 100;
  opts->batch = 64;
  opts->n_shards = 1;
  opts->checkpoint_seconds = 30;
  dn_preprocess_options_init (&opts->preprocess);
}

int64_t
dn_screen_block_size (int64_t count)
{
  int64_t b = 64;
  while (b * 1024 < count)
    b *= 2;
  return b;
}

void
dn_screen_shard_range (int64_t count, int index, int n, int64_t *lo, int64_t *hi)
{
  int64_t B = dn_screen_block_size (count), nb = (count + B - 1) / B;
  int64_t b0 = nb * index / n, b1 = nb * (index + 1) / n;
  *lo = b0 * B < count ? b0 * B : count;
  *hi = b1 * B < count ? b1 * B : count;
}

static double
now_s (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

/* The ring of batch buffers shared with the workers. */
typedef struct
{
  DnDataset *ds;
  const DnPreprocess *pp;
  int64_t start, hi; /* items of this session */
  int batch;
  size_t P;          /* floats per preprocessed item */
  float *x[RING];    /* (batch, C, H, W) */
  char *reason[RING];  /* (batch, REASON_LEN) per slot: "" = fine, else why the item failed */
  int filled[RING];
  int64_t next;      /* next item to claim */
  int64_t released;  /* batches the main thread has finished */
  bool stop;
  pthread_mutex_t mu;
  pthread_cond_t ready, free_slot;
} Ring;

static bool
all_finite (const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return false;
  return true;
}

static void *
worker (void *arg)
{
  Ring *r = arg;
  pthread_mutex_lock (&r->mu);
  for (;;)
    {
      while (!r->stop && r->next < r->hi && (r->next - r->start) / r->batch >= r->released + RING)
        pthread_cond_wait (&r->free_slot, &r->mu);
      if (r->stop || r->next >= r->hi)
        break;
      int64_t i = r->next++, j = (i - r->start) / r->batch;
      int slot = (int) (j % RING), pos = (int) ((i - r->start) % r->batch);
      pthread_mutex_unlock (&r->mu);

      float *dst = r->x[slot] + (size_t) pos * r->P;
      char *reason = r->reason[slot] + (size_t) pos * REASON_LEN;
      reason[0] = 0;
      DnImage img;
      DnStatus st = dn_dataset_load (r->ds, i, &img);
      if (st == DN_OK)
        st = dn_preprocess_image (r->pp, &img, dst);
      /* 8-bit images always give finite values */
      if (st == DN_OK && img.type == DN_PIXEL_F32 && !all_finite (dst, r->P))
        st = dn_set_error (DN_ERROR_NON_FINITE, "non-finite pixel values");
      dn_image_clear (&img);
      if (st != DN_OK)
        {
          snprintf (reason, REASON_LEN, "%s", *dn_last_error () ? dn_last_error () : dn_status_to_string (st));
          if (!reason[0])
            snprintf (reason, REASON_LEN, "unreadable");
          memset (dst, 0, r->P * sizeof *dst);
        }

      pthread_mutex_lock (&r->mu);
      r->filled[slot]++;
      pthread_cond_broadcast (&r->ready);
    }
  pthread_mutex_unlock (&r->mu);
  return NULL;
}

/* Stops and joins the workers (they may be waiting for a free slot). */
static void
stop_workers (Ring *r, pthread_t *threads, int *n_threads)
{
  pthread_mutex_lock (&r->mu);
  r->stop = true;
  pthread_cond_broadcast (&r->free_slot);
  pthread_mutex_unlock (&r->mu);
  for (int t = 0; t < *n_threads; t++)
    pthread_join (threads[t], NULL);
  *n_threads = 0;
}

/* The responses of a run in progress: float32 rows appended to OUTPUT.responses.part. */
typedef struct
{
  FILE *f;
  int64_t K;
} RawRows;

static DnStatus
raw_rows_read (void *ctx, int64_t row0, int64_t n, float *buf)
{
  RawRows *rr = ctx;
  if (fseeko (rr->f, (off_t) (row0 * rr->K * (int64_t) sizeof (float)), SEEK_SET) != 0
      || fread (buf, sizeof (float), (size_t) (n * rr->K), rr->f) != (size_t) (n * rr->K))
    return dn_set_error (DN_ERROR_IO, "screen: cannot read back the kept responses");
  return DN_OK;
}

typedef struct
{
  char *partial, *rows_path;
  DnScreenMeta meta;
  DnScreenState state;
  const float *mask;
  RawRows raw;
} Run;

static DnStatus
checkpoint (Run *run)
{
  if (run->raw.f && (fflush (run->raw.f) != 0 || fsync (fileno (run->raw.f)) != 0))
    return dn_set_error (DN_ERROR_IO, "%s: %s", run->rows_path, strerror (errno));
  return dn_screen_write (run->partial, &run->meta, &run->state, NULL, run->mask, NULL, NULL);
}

static void
fill_meta (DnScreenMeta *m, DnTwin *twin, DnDataset *ds, const DnPreprocess *pp, DnGeometry geometry,
           const DnScreenOptions *o)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  static const char *geoms[] = { "auto", "imagenet", "crop", "model" };
  memset (m, 0, sizeof *m);
  snprintf (m->model, sizeof m->model, "%s", o->model_spec ? o->model_spec : dn_twin_name (twin));
  snprintf (m->model_name, sizeof m->model_name, "%s", dn_twin_name (twin));
  snprintf (m->model_arch, sizeof m->model_arch, "%s", info->arch_name);
  m->n_neurons = info->n_neurons;
  m->n_members = info->n_members;
  snprintf (m->dataset, sizeof m->dataset, "%s", dn_dataset_spec (ds));
  snprintf (m->dataset_kind, sizeof m->dataset_kind, "%s", dn_dataset_kind_name (ds));
  snprintf (m->dataset_hash, sizeof m->dataset_hash, "%s", dn_dataset_hash (ds));
  m->dataset_count = dn_dataset_count (ds);
  snprintf (m->preset, sizeof m->preset, "%s", pp->preset);
  snprintf (m->geometry, sizeof m->geometry, "%s", geoms[geometry]);
  snprintf (m->mask_source, sizeof m->mask_source, "%s", pp->mask_source);
  int C = pp->out_channels;
  snprintf (m->mean, sizeof m->mean, C == 1 ? "%.9g" : "%.9g,%.9g,%.9g", pp->mean[0], pp->mean[1], pp->mean[2]);
  snprintf (m->std, sizeof m->std, C == 1 ? "%.9g" : "%.9g,%.9g,%.9g", pp->std[0], pp->std[1], pp->std[2]);
  m->resize_short = pp->resize_short;
  m->crop = pp->crop;
  m->out_h = pp->out_h;
  m->out_w = pp->out_w;
  m->out_channels = C;
  m->norm = pp->norm;
  m->top_k = o->top_k;
  m->block_size = dn_screen_block_size (m->dataset_count);
  m->keep_responses = o->keep_responses;
  m->shard_index = o->shard_index;
  m->n_shards = o->n_shards;
  dn_screen_shard_range (m->dataset_count, o->shard_index, o->n_shards, &m->item_start, &m->item_end);
}

/* The run's items for the writer: from the dataset, valid unless in the (sorted) failure list. */
typedef struct
{
  DnDataset *ds;
  const DnScreenState *s;
} RunItems;

static const char *
run_item (void *ctx, int64_t i, char *buf, size_t size, int32_t *label, double *params, uint8_t *valid)
{
  const RunItems *ri = ctx;
  int64_t index = ri->s->lo + i, a = 0, b = ri->s->n_failed;
  while (a < b)
    {
      int64_t mid = a + (b - a) / 2;
      if (ri->s->fail_index[mid] < index)
        a = mid + 1;
      else
        b = mid;
    }
  *valid = !(a < ri->s->n_failed && ri->s->fail_index[a] == index);
  *label = dn_dataset_item_label (ri->ds, index);
  dn_dataset_item_params (ri->ds, index, params);
  return dn_dataset_item_id (ri->ds, index, buf, size);
}

/* Opens OUTPUT.responses.part and truncates it to the rows already folded in. */
static DnStatus
open_rows (Run *run, bool resumed)
{
  int64_t want = run->state.done * run->meta.n_neurons * (int64_t) sizeof (float);
  FILE *f = fopen (run->rows_path, resumed ? "r+b" : "w+b");
  if (!f && resumed)
    return dn_set_error (DN_ERROR_IO, "%s: missing (needed to resume)", run->rows_path);
  if (!f)
    return dn_set_error (DN_ERROR_IO, "%s: %s", run->rows_path, strerror (errno));
  if (fseeko (f, 0, SEEK_END) != 0 || ftello (f) < want || ftruncate (fileno (f), (off_t) want) != 0
      || fseeko (f, 0, SEEK_END) != 0)
    {
      fclose (f);
      return dn_set_error (DN_ERROR_IO, "%s: shorter than the checkpoint says (cannot resume)", run->rows_path);
    }
  run->raw.f = f;
  run->raw.K = run->meta.n_neurons;
  return DN_OK;
}

/* Decides between a fresh run, a resumed one and "already complete". */
static DnStatus
prepare (Run *run, const char *output, const DnScreenOptions *o, bool *already)
{
  *already = false;
  DnScreenMeta m;
  DnScreenState s;
  bool complete = false;
  if (access (output, F_OK) == 0 && !o->overwrite)
    {
      DnStatus st = dn_screen_read_state (output, &m, &s, &complete);
      dn_screen_state_clear (&s);
      if (st == DN_OK && complete && !*dn_screen_meta_differs (&m, &run->meta, false))
        {
          *already = true;
          return DN_OK;
        }
      return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s exists and is not this screening's result (%s); remove it",
                           output, st != DN_OK ? "unreadable" : complete ? dn_screen_meta_differs (&m, &run->meta, false) : "incomplete");
    }
  if (access (run->partial, F_OK) == 0 && !o->overwrite)
    {
      DnStatus st = dn_screen_read_state (run->partial, &m, &s, &complete);
      if (st == DN_OK && !complete && !*dn_screen_meta_differs (&m, &run->meta, false))
        {
          run->state = s;
          return run->meta.keep_responses ? open_rows (run, true) : DN_OK;
        }
      dn_screen_state_clear (&s);
      return dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                           "%s holds another screening in progress (%s differs); remove it to start anew", run->partial,
                           st != DN_OK ? "unreadable" : dn_screen_meta_differs (&m, &run->meta, false));
    }
  DnStatus st = dn_screen_state_init (&run->state, (int) run->meta.n_neurons, (int) run->meta.top_k,
                                      run->meta.block_size, run->meta.item_start, run->meta.item_end);
  if (st == DN_OK && run->meta.keep_responses)
    st = open_rows (run, false);
  return st;
}

/* Folds one forwarded batch into the state, in index order. */
static DnStatus
fold_batch (Run *run, Ring *r, int slot, int64_t b0, int n, const float *resp, const DnScreenOptions *o)
{
  int64_t K = run->meta.n_neurons;
  DnStatus st = DN_OK;
  for (int p = 0; p < n && st == DN_OK; p++)
    {
      int64_t i = b0 + p;
      float *row = (float *) resp + (size_t) p * K;
      const char *reason = r->reason[slot] + (size_t) p * REASON_LEN;
      if (!reason[0])
        reason = NULL;
      if (!reason && !all_finite (row, (size_t) K))
        reason = "non-finite response";
      if (reason)
        {
          char id[1024];
          if (o->failure)
            o->failure (i, dn_dataset_item_id (r->ds, i, id, sizeof id), reason, o->user);
          st = dn_screen_state_fail (&run->state, i, reason);
          for (int64_t j = 0; j < K; j++)
            row[j] = NAN;
        }
      else
        dn_screen_state_add (&run->state, i, row);
    }
  if (st == DN_OK && run->raw.f && fwrite (resp, sizeof (float), (size_t) (n * K), run->raw.f) != (size_t) (n * K))
    st = dn_set_error (DN_ERROR_IO, "%s: %s", run->rows_path, strerror (errno));
  if (st == DN_OK)
    run->state.done += n;
  return st;
}

static DnStatus
forward (DnTwin *twin, DnTensor *x, DnTensor *out, const float *host, int n, size_t P, int64_t K, float *resp)
{
  DnStatus st = DN_OK;
  DnTensor *xv = dn_tensor_view (x, 0, 4, (const int64_t[]){ n, x->shape[1], x->shape[2], x->shape[3] }, &st);
  DnTensor *ov = xv ? dn_tensor_view (out, 0, 2, (const int64_t[]){ n, K }, &st) : NULL;
  if (ov && (st = dn_tensor_upload (xv, host, (int64_t) (n * P))) == DN_OK
      && (st = dn_twin_forward (twin, ov, xv)) == DN_OK)
    st = dn_tensor_download (ov, resp, n * K);
  dn_tensor_free (xv);
  dn_tensor_free (ov);
  return st;
}

DnStatus
dn_screen_run (DnTwin *twin, DnDataset *ds, const char *output, const DnScreenOptions *opts)
{
  DnScreenOptions defaults;
  if (!opts)
    {
      dn_screen_options_init (&defaults);
      opts = &defaults;
    }
  const DnScreenOptions *o = opts;
  /* decoding allocates and frees image buffers of a few hundred KiB per item on every worker */
  dn_cpu_tune_malloc ();
  if (o->top_k < 0 || o->batch < 1 || o->n_shards < 1 || o->shard_index < 0 || o->shard_index >= o->n_shards)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "screen: bad options (top_k %d, batch %d, shard %d/%d)", o->top_k,
                         o->batch, o->shard_index + 1, o->n_shards);
  Run run = { 0 };
  DnPreprocess pp;
  Ring ring = { 0 };
  pthread_t *threads = NULL;
  int n_threads = 0;
  DnTensor *x = NULL, *out = NULL;
  float *resp = NULL;
  bool ring_init = false;
  DnStatus st = dn_preprocess_init (&pp, twin, &o->preprocess);
  if (st != DN_OK)
    return st;
  dn_preprocess_geometry (&pp, o->preprocess.geometry, dn_dataset_is_model_space (ds));
  DnGeometry geometry = o->preprocess.geometry;
  if (geometry == DN_GEOMETRY_AUTO)
    geometry = dn_dataset_is_model_space (ds) ? DN_GEOMETRY_MODEL : DN_GEOMETRY_IMAGENET;
  fill_meta (&run.meta, twin, ds, &pp, geometry, o);
  run.mask = pp.mask;
  size_t len = strlen (output) + 32;
  run.partial = malloc (len);
  run.rows_path = malloc (len);
  if (!run.partial || !run.rows_path)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
      goto out;
    }
  snprintf (run.partial, len, "%s.partial", output);
  snprintf (run.rows_path, len, "%s.responses.part", output);
  bool already;
  if ((st = prepare (&run, output, o, &already)) != DN_OK)
    goto out;
  int64_t total = run.meta.item_end - run.meta.item_start;
  if (already)
    {
      if (o->progress)
        {
          DnScreenProgress p = { total, total, 0, 0, 0, 0 };
          o->progress (&p, o->user);
        }
      goto out;
    }

  /* the ring and the workers */
  DnDevice *dev = dn_twin_device (twin);
  int64_t K = run.meta.n_neurons;
  int B = o->batch;
  if (B > total && total > 0)
    B = (int) total;
  ring.ds = ds;
  ring.pp = &pp;
  ring.start = run.meta.item_start + run.state.done;
  ring.hi = run.meta.item_end;
  ring.next = ring.start;
  ring.batch = B;
  ring.P = (size_t) pp.out_channels * pp.out_h * pp.out_w;
  pthread_mutex_init (&ring.mu, NULL);
  pthread_cond_init (&ring.ready, NULL);
  pthread_cond_init (&ring.free_slot, NULL);
  ring_init = true;
  for (int s = 0; s < RING; s++)
    if (!(ring.x[s] = malloc ((size_t) B * ring.P * sizeof (float))) || !(ring.reason[s] = calloc ((size_t) B, REASON_LEN)))
      {
        st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory for the batch buffers");
        goto out;
      }
  if (!(resp = malloc ((size_t) (B * K) * sizeof *resp))
      || !(x = dn_tensor_new4 (dev, B, pp.out_channels, pp.out_h, pp.out_w, &st)) || !(out = dn_tensor_new2 (dev, B, K, &st)))
    {
      if (!resp)
        st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
      goto out;
    }
  int nw = o->n_workers > 0 ? o->n_workers : (int) sysconf (_SC_NPROCESSORS_ONLN);
  nw = nw < 1 ? 1 : nw > 64 ? 64 : nw;
  if (!(threads = calloc ((size_t) nw, sizeof *threads)))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
      goto out;
    }
  for (; n_threads < nw; n_threads++)
    if (pthread_create (&threads[n_threads], NULL, worker, &ring) != 0)
      {
        if (n_threads == 0)
          {
            st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: cannot start a worker thread");
            goto out;
          }
        break;
      }

  /* the batches, in order */
  double t0 = now_s (), last_ckpt = t0;
  int64_t session_start = run.state.done;
  for (int64_t j = 0; ring.start + j * B < ring.hi; j++)
    {
      int slot = (int) (j % RING);
      int64_t b0 = ring.start + j * B;
      int n = (int) (ring.hi - b0 < B ? ring.hi - b0 : B);
      pthread_mutex_lock (&ring.mu);
      while (ring.filled[slot] < n)
        pthread_cond_wait (&ring.ready, &ring.mu);
      pthread_mutex_unlock (&ring.mu);

      st = forward (twin, x, out, ring.x[slot], n, ring.P, K, resp);
      if (st == DN_OK)
        st = fold_batch (&run, &ring, slot, b0, n, resp, o);

      pthread_mutex_lock (&ring.mu);
      ring.filled[slot] = 0;
      ring.released++;
      pthread_cond_broadcast (&ring.free_slot);
      pthread_mutex_unlock (&ring.mu);
      if (st != DN_OK)
        break;

      double t = now_s ();
      if (o->progress)
        {
          DnScreenProgress p = { run.state.done, total, run.state.n_failed, t - t0, 0, -1 };
          p.items_per_s = (double) (run.state.done - session_start) / fmax (t - t0, 1e-9);
          if (p.items_per_s > 0)
            p.eta_s = (double) (total - run.state.done) / p.items_per_s;
          o->progress (&p, o->user);
        }
      if (o->should_stop && o->should_stop (o->user))
        {
          st = DN_ERROR_CANCELLED;
          break;
        }
      if (t - last_ckpt >= (o->checkpoint_seconds > 0 ? o->checkpoint_seconds : 30) && run.state.done < total)
        {
          if ((st = checkpoint (&run)) != DN_OK)
            break;
          last_ckpt = t;
        }
    }

  stop_workers (&ring, threads, &n_threads);

  if (st == DN_OK)
    {
      int P = dn_dataset_n_params (ds), L = dn_dataset_n_labels (ds);
      const char *pn[DN_BUILTIN_MAX_PARAMS], **ln = calloc ((size_t) (L ? L : 1), sizeof *ln);
      for (int p = 0; p < P; p++)
        pn[p] = dn_dataset_param_name (ds, p);
      for (int l = 0; ln && l < L; l++)
        ln[l] = dn_dataset_label_name (ds, l);
      RunItems ri = { ds, &run.state };
      DnScreenItems items = { total, P, L, pn, ln, run_item, &ri };
      if (!ln)
        st = dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
      if (st == DN_OK && run.raw.f && fflush (run.raw.f) != 0)
        st = dn_set_error (DN_ERROR_IO, "%s: %s", run.rows_path, strerror (errno));
      if (st == DN_OK)
        st = dn_screen_write (output, &run.meta, &run.state, &items, pp.mask, raw_rows_read, &run.raw);
      free (ln);
      if (st == DN_OK)
        {
          unlink (run.partial);
          if (run.raw.f)
            unlink (run.rows_path);
        }
    }
  else
    {
      /* keep what was done: a rerun continues from here */
      DnStatus err = st;
      char msg[1024];
      snprintf (msg, sizeof msg, "%s", dn_last_error ());
      checkpoint (&run);
      st = err == DN_ERROR_CANCELLED ? dn_set_error (err, "screen: cancelled after %lld of %lld items (resumable)",
                                                     (long long) run.state.done, (long long) total)
                                     : dn_set_error (err, "%s", msg);
    }
out:
  if (n_threads > 0)
    stop_workers (&ring, threads, &n_threads);
  free (threads);
  if (ring_init)
    {
      pthread_mutex_destroy (&ring.mu);
      pthread_cond_destroy (&ring.ready);
      pthread_cond_destroy (&ring.free_slot);
    }
  for (int s = 0; s < RING; s++)
    {
      free (ring.reason[s]);
      free (ring.x[s]);
    }
  dn_tensor_free (x);
  dn_tensor_free (out);
  free (resp);
  if (run.raw.f)
    fclose (run.raw.f);
  dn_screen_state_clear (&run.state);
  free (run.partial);
  free (run.rows_path);
  dn_preprocess_clear (&pp);
  return st;
}
