/* dn-synth-file.c: pole-synthesis result files in DualNeuron's layout (twins.md §6.5), resumable, and
 * never modified in place: every commit writes a copy and renames it over the file (see dn-synth.h).
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dn-h5.h"
#include "dn-device-private.h"
#include "dn-synth.h"

#define FORMAT_NAME "dualneuron-poles"
#ifndef DN_VERSION
#define DN_VERSION "unknown"
#endif

void
dn_synth_file_options_init (DnSynthFileOptions *o)
{
  memset (o, 0, sizeof *o);
}

static void
job_group (const DnSynthJob *job, char *buf, size_t size)
{
  snprintf (buf, size, "/neuron_%04d/seed_%u/%s", job->neuron, job->seed, job->weight > 0 ? "most" : "least");
}

static bool
has_job (DnH5 *h, const DnSynthJob *job)
{
  char g[96];
  double v = 0;
  job_group (job, g, sizeof g);
  return dn_h5_exists (h, g) && dn_h5_read_attr_f64 (h, g, "complete", &v) == DN_OK && v == 1;
}

bool
dn_synth_file_has_job (const char *path, const DnSynthJob *job)
{
  DnStatus st;
  DnH5 *h = dn_h5_open (path, false, &st);
  if (!h)
    return false;
  bool r = has_job (h, job);
  dn_h5_close (h);
  return r;
}

/* File-system helpers ------------------------------------------------------------------------------------ */

static DnStatus
io_error (const char *path, const char *what)
{
  return dn_set_error (DN_ERROR_IO, "%s: %s: %s", path, what, strerror (errno));
}

static DnStatus
fsync_path (const char *path, bool dir)
{
  int fd = open (path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return io_error (path, "cannot open for fsync");
  int r = fsync (fd);
  close (fd);
  /* some file systems refuse fsync on folders (EINVAL): the rename is then as durable as they allow */
  return r == 0 || (dir && errno == EINVAL) ? DN_OK : io_error (path, "fsync failed");
}

static char *
dir_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  if (!slash)
    return strdup (".");
  if (slash == path)
    return strdup ("/");
  return strndup (path, (size_t) (slash - path));
}

/* Copies src to a new dst: a reflink where the file system has them, else copy_file_range, else read/write. */
static DnStatus
copy_file (const char *src, const char *dst)
{
  int in = open (src, O_RDONLY);
  if (in < 0)
    return io_error (src, "cannot open");
  int out = open (dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0)
    {
      DnStatus st = io_error (dst, "cannot create");
      close (in);
      return st;
    }
  DnStatus st = DN_OK;
  if (ioctl (out, FICLONE, in) != 0)
    {
      bool fallback = false;
      for (;;)
        {
          ssize_t n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);
          if (n == 0)
            break;
          if (n < 0)
            {
              if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)
                fallback = true;
              else
                st = io_error (dst, "copy failed");
              break;
            }
        }
      if (fallback)
        {
          char buf[1 << 16];
          if (lseek (in, 0, SEEK_SET) < 0 || lseek (out, 0, SEEK_SET) < 0 || ftruncate (out, 0) < 0)
            st = io_error (dst, "copy failed");
          for (ssize_t n; st == DN_OK && (n = read (in, buf, sizeof buf)) != 0;)
            if (n < 0 || write (out, buf, (size_t) n) != n)
              st = io_error (dst, "copy failed");
        }
    }
  if (close (out) != 0 && st == DN_OK)
    st = io_error (dst, "close failed");
  close (in);
  return st;
}

/* The writer ----------------------------------------------------------------------------------------------- */

typedef struct
{
  DnTwin *twin;
  const DnSynthParams *p;
  const DnSynthFileOptions *o;
  char *tmp, *dir, *lock_path;
  char params[2048];
  char backend[300];
  int lock_fd;
  int skipped, total;
  DnSynthFileReport *report;
  DnSynthJob first_failed;
} Writer;

static DnStatus
write_metadata (Writer *w, DnH5 *h)
{
  const DnTwinInfo *info = dn_twin_info (w->twin);
  const DnSynthParams *p = w->p;
  const char *arch = info->arch == DN_ARCH_V1_CONVNEXT ? "v1-convnext"
                     : info->arch == DN_ARCH_V4_RESNET ? "v4-resnet"
                                                       : "gabor";
  char ver[64];
  snprintf (ver, sizeof ver, "DualNeuron %s", DN_VERSION);
  DN_TRY (dn_h5_write_attr_str (h, "/", "format", FORMAT_NAME));
  DN_TRY (dn_h5_write_attr_str (h, "/", "software", ver));
  DN_TRY (dn_h5_write_attr_str (h, "/", "version", DN_VERSION));
  DN_TRY (dn_h5_write_attr_str (h, "/", "model", w->o->model_id ? w->o->model_id : dn_twin_name (w->twin)));
  DN_TRY (dn_h5_write_attr_str (h, "/", "model_name", dn_twin_name (w->twin)));
  DN_TRY (dn_h5_write_attr_str (h, "/", "model_arch", arch));
  DN_TRY (dn_h5_write_attr_f64 (h, "/", "n_members", info->n_members));
  DN_TRY (dn_h5_write_attr_f64 (h, "/", "n_neurons", info->n_neurons));
  DN_TRY (dn_h5_write_attr_str (h, "/", "preset", w->o->preset ? w->o->preset : ""));
  DN_TRY (dn_h5_write_attr_str (h, "/", "parameters", w->params));
  DN_TRY (dn_h5_write_attr_str (h, "/", "backend", w->backend));
  DN_TRY (dn_h5_write_attr_str (h, "/", "rng", "philox4x32-10, key (seed, 0x5EED0000 | most), counter (block, step + 1, "
                                               "stream, 0); see dn-synth.h"));
  DN_TRY (dn_h5_write_attr_str (h, "/", "parameterization", p->kind == DN_SYNTH_PIXEL ? "pixel" : "fourier"));
  struct
  {
    const char *name;
    double v;
  } num[] = {
    { "steps", p->steps },         { "learning_rate", p->lr },
    { "lr_schedule", p->lr_schedule }, { "eta_min", p->eta_min },
    { "nb_crops", p->n_crops },    { "box_min", p->box_min },
    { "box_max", p->box_max },     { "jitter_std", p->jitter },
    { "reflect_pad_frac", p->pad_frac }, { "oversample", p->oversample },
    { "noise", p->noise },         { "target_norm", p->target_norm > 0 ? p->target_norm : dn_twin_input_norm (w->twin) },
    { "tv_weight", p->tv_weight }, { "value_lo", p->lo },
    { "value_hi", p->hi },
  };
  for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
    DN_TRY (dn_h5_write_attr_f64 (h, "/", num[i].name, num[i].v));
  DN_TRY (dn_h5_write_attr_str (h, "/", "range_fn", p->range == DN_SYNTH_RANGE_TANH ? "tanh" : "sigmoid"));
  if (p->kind == DN_SYNTH_PIXEL)
    {
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "momentum", p->momentum));
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "init_std", p->init_std));
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "blur_ksize", p->blur_ksize));
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "blur_sigma", p->blur_sigma));
    }
  else
    {
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "adam_beta1", p->beta1));
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "adam_beta2", p->beta2));
      DN_TRY (dn_h5_write_attr_f64 (h, "/", "adam_eps", p->adam_eps));
    }
  return DN_OK;
}

static DnStatus
write_job (Writer *w, DnH5 *h, const DnSynthResult *r)
{
  char g[96], d[128];
  char ver[64];
  snprintf (ver, sizeof ver, "DualNeuron %s", DN_VERSION);
  job_group (&r->job, g, sizeof g);
  DN_TRY (dn_h5_create_group (h, g));
  int64_t shape[3] = { r->channels, r->height, r->width };
  snprintf (d, sizeof d, "%s/image", g);
  DN_TRY (dn_h5_write_f32 (h, d, r->image, 3, shape, true));
  snprintf (d, sizeof d, "%s/alpha", g);
  DN_TRY (dn_h5_write_f32 (h, d, r->alpha, 3, shape, true));
  snprintf (d, sizeof d, "%s/activations", g);
  DN_TRY (dn_h5_write_f32 (h, d, r->activations, 1, (const int64_t[]){ r->steps }, false));
  snprintf (d, sizeof d, "%s/member_responses", g);
  DN_TRY (dn_h5_write_f32 (h, d, r->member_responses, 1, (const int64_t[]){ r->n_members }, false));
  DN_TRY (dn_h5_write_attr_str (h, g, "model", dn_twin_name (w->twin)));
  DN_TRY (dn_h5_write_attr_f64 (h, g, "neuron_id", r->job.neuron));
  DN_TRY (dn_h5_write_attr_f64 (h, g, "seed", r->job.seed));
  DN_TRY (dn_h5_write_attr_f64 (h, g, "weight", r->job.weight));
  DN_TRY (dn_h5_write_attr_str (h, g, "type", r->job.weight > 0 ? "most" : "least"));
  DN_TRY (dn_h5_write_attr_f64 (h, g, "response", r->response));
  DN_TRY (dn_h5_write_attr_f64 (h, g, "initial_response", r->initial_response));
  if (!isnan (r->rf_cosine))
    DN_TRY (dn_h5_write_attr_f64 (h, g, "rf_cosine", r->rf_cosine));
  DN_TRY (dn_h5_write_attr_str (h, g, "backend", w->backend));
  DN_TRY (dn_h5_write_attr_str (h, g, "software", ver));
  return dn_h5_write_attr_f64 (h, g, "complete", 1); /* last: marks the group as whole */
}

/* One commit: the output (if any) copied to tmp, @n results added (NULL: only the metadata, for a new
 * file), fsync, rename over the output, fsync of the folder. */
static DnStatus
commit (Writer *w, const DnSynthResult *results, int n)
{
  const char *out = w->o->output;
  DnStatus st;
  struct stat sb;
  bool exists = stat (out, &sb) == 0;
  unlink (w->tmp);
  DnH5 *h;
  if (exists)
    {
      DN_TRY (copy_file (out, w->tmp));
      h = dn_h5_open (w->tmp, true, &st);
    }
  else
    h = dn_h5_create (w->tmp, &st);
  if (!h)
    {
      unlink (w->tmp);
      return st;
    }
  st = exists ? DN_OK : write_metadata (w, h);
  for (int i = 0; i < n && st == DN_OK; i++)
    if (results[i].finite)
      st = write_job (w, h, &results[i]);
  DnStatus cst = dn_h5_close (h);
  if (st == DN_OK)
    st = cst;
  if (st == DN_OK)
    st = fsync_path (w->tmp, false);
  if (st == DN_OK && rename (w->tmp, out) != 0)
    st = io_error (out, "cannot replace");
  if (st != DN_OK)
    {
      unlink (w->tmp);
      return st;
    }
  return fsync_path (w->dir, true);
}

static DnStatus
on_batch (const DnSynthResult *results, int n, void *user)
{
  Writer *w = user;
  for (int i = 0; i < n; i++)
    {
      if (results[i].finite)
        w->report->n_done++;
      else if (w->report->n_failed++ == 0)
        w->first_failed = results[i].job;
    }
  return commit (w, results, n);
}

static void
on_progress (int jobs_done, int n_jobs, int step, int n_steps, const float *resp, void *user)
{
  Writer *w = user;
  if (w->o->run.progress)
    w->o->run.progress (w->skipped + jobs_done, w->total, step, n_steps, resp, w->o->run.user);
}

static bool
on_stop (void *user)
{
  Writer *w = user;
  return w->o->run.should_stop && w->o->run.should_stop (w->o->run.user);
}

/* An existing output must be one of ours, for the same twin and parameters. */
static DnStatus
check_existing (Writer *w, DnH5 *h)
{
  const char *out = w->o->output;
  const DnTwinInfo *info = dn_twin_info (w->twin);
  char *fmt = NULL, *params = NULL, *name = NULL;
  double n_neurons = 0;
  DnStatus st = DN_OK;
  if (dn_h5_read_attr_str (h, "/", "format", &fmt) != DN_OK || strcmp (fmt, FORMAT_NAME) != 0)
    st = dn_set_error (DN_ERROR_FORMAT, "%s: exists and is not a DualNeuron pole file; choose another output", out);
  else if (dn_h5_read_attr_str (h, "/", "model_name", &name) != DN_OK
           || dn_h5_read_attr_f64 (h, "/", "n_neurons", &n_neurons) != DN_OK
           || strcmp (name, dn_twin_name (w->twin)) != 0 || n_neurons != info->n_neurons)
    st = dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: holds poles of another model (%s, %g neurons), not %s (%d)", out,
                       name ? name : "?", n_neurons, dn_twin_name (w->twin), info->n_neurons);
  else if (dn_h5_read_attr_str (h, "/", "parameters", &params) != DN_OK || strcmp (params, w->params) != 0)
    {
      /* name the first setting that differs */
      const char *a = params ? params : "", *b = w->params;
      while (*a && *a == *b)
        a++, b++;
      while (a > (params ? params : "") && a[-1] != ' ')
        a--, b--;
      const char *ae = strchr (a, ' '), *be = strchr (b, ' ');
      st = dn_set_error (DN_ERROR_INVALID_ARGUMENT,
                         "%s: was made with other parameters (file: %.*s, now: %.*s); use another output to change them",
                         out, (int) (ae ? ae - a : (long) strlen (a)), a, (int) (be ? be - b : (long) strlen (b)), b);
    }
  free (fmt);
  free (params);
  free (name);
  return st;
}

static void
writer_release (Writer *w)
{
  if (w->lock_fd >= 0)
    {
      unlink (w->lock_path);
      close (w->lock_fd); /* releases the flock */
    }
  free (w->tmp);
  free (w->dir);
  free (w->lock_path);
}

DnStatus
dn_synth_to_file (DnTwin *twin, const DnSynthParams *p, const DnSynthJob *jobs, int n_jobs, const DnSynthFileOptions *o,
                  DnSynthFileReport *report)
{
  DnSynthFileReport local;
  if (!report)
    report = &local;
  memset (report, 0, sizeof *report);
  if (!o || !o->output || !*o->output)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: no output file");
  int shards = o->shard_count > 1 ? o->shard_count : 1;
  if (o->shard_index < 0 || o->shard_index >= shards)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "synth: shard %d of %d (0-based index)", o->shard_index, shards);
  DN_TRY (dn_synth_params_check (p, twin));
  DN_TRY (dn_synth_jobs_check (twin, jobs, n_jobs));

  Writer w = { .twin = twin, .p = p, .o = o, .lock_fd = -1, .report = report };
  DnStatus st = DN_OK;
  size_t len = strlen (o->output);
  w.tmp = malloc (len + 8);
  w.lock_path = malloc (len + 8);
  w.dir = dir_of (o->output);
  DnSynthJob *todo = calloc ((size_t) (n_jobs > 0 ? n_jobs : 1), sizeof *todo);
  if (!w.tmp || !w.lock_path || !w.dir || !todo)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "synth: out of memory");
      goto out;
    }
  snprintf (w.tmp, len + 8, "%s.tmp", o->output);
  snprintf (w.lock_path, len + 8, "%s.lock", o->output);
  dn_synth_params_describe (p, twin, w.params, sizeof w.params);
  const DnDeviceInfo *dinfo = dn_device_info (dn_twin_device (twin));
  snprintf (w.backend, sizeof w.backend, "%s: %s", dinfo->backend == DN_BACKEND_CPU ? "cpu" : "vulkan", dinfo->name);

  /* one writer per file */
  if ((w.lock_fd = open (w.lock_path, O_RDWR | O_CREAT, 0644)) < 0)
    {
      st = io_error (w.lock_path, "cannot create (is the output folder writable?)");
      goto out;
    }
  if (flock (w.lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      st = errno == EWOULDBLOCK ? dn_set_error (DN_ERROR_IO, "%s: another run is writing this file", o->output)
                                : io_error (w.lock_path, "cannot lock");
      close (w.lock_fd);
      w.lock_fd = -1; /* not ours: do not unlink it */
      goto out;
    }

  /* the jobs of this shard that are not in the file yet */
  struct stat sb;
  DnH5 *h = NULL;
  if (stat (o->output, &sb) == 0)
    {
      if (!(h = dn_h5_open (o->output, false, &st)))
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: exists and is not an HDF5 file (%s); choose another output",
                             o->output, dn_last_error ());
          goto out;
        }
      if ((st = check_existing (&w, h)) != DN_OK)
        {
          dn_h5_close (h);
          goto out;
        }
    }
  int n_todo = 0;
  for (int i = 0; i < n_jobs; i++)
    {
      if (i % shards != o->shard_index)
        continue;
      bool dup = false; /* the same job twice would be computed twice into one group */
      for (int k = 0; k < n_todo && !dup; k++)
        dup = todo[k].neuron == jobs[i].neuron && todo[k].seed == jobs[i].seed && todo[k].weight == jobs[i].weight;
      if (dup)
        continue;
      report->n_jobs++;
      if (h && has_job (h, &jobs[i]))
        report->n_skipped++;
      else
        todo[n_todo++] = jobs[i];
    }
  if (h)
    dn_h5_close (h);
  else if ((st = commit (&w, NULL, 0)) != DN_OK) /* a new file: the metadata first (and fail early if unwritable) */
    goto out;
  w.skipped = report->n_skipped;
  w.total = report->n_jobs;

  DnSynthRunOptions ro = o->run;
  ro.batch_done = on_batch;
  ro.progress = o->run.progress ? on_progress : NULL;
  ro.should_stop = o->run.should_stop ? on_stop : NULL;
  ro.user = &w;
  st = dn_synth_run (twin, p, todo, n_todo, &ro);
  if (st == DN_OK && report->n_failed > 0)
    st = dn_set_error (DN_ERROR_NON_FINITE,
                       "synth: %d job(s) gave non-finite results and were not written (first: neuron %d, seed %u, %s)",
                       report->n_failed, w.first_failed.neuron, w.first_failed.seed,
                       w.first_failed.weight > 0 ? "most" : "least");
out:
  free (todo);
  writer_release (&w);
  return st;
}
