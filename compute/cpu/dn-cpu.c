/* dn-cpu.c: the CPU backend's thread pool (dn_cpu_parallel_for) and machine facts.
 *
 * A fixed set of workers waits on a condition variable; parallel_for publishes one job (fn, ctx, n,
 * grain), every thread including the caller takes chunks from an atomic counter, and the caller waits
 * until all chunks are done. Jobs are not nested: a kernel called from a worker runs serially.
 * SPDX-License-Identifier: MIT
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dn-backend-private.h"

#include <cblas.h>

struct DnCpuPool
{
  int n_threads; /* including the caller */
  pthread_t *threads;
  pthread_mutex_t lock;
  pthread_mutex_t busy; /* one job at a time; a concurrent caller runs serially */
  pthread_cond_t wake;
  pthread_cond_t done;
  uint64_t generation;
  bool quit;
  /* the current job */
  DnRangeFn fn;
  void *ctx;
  int64_t n, chunk;
  atomic_llong next;
  int active; /* workers still working on the current generation */
};

static _Thread_local bool in_worker;

int
dn_cpu_count (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int) n : 1;
}

uint64_t
dn_cpu_memory_bytes (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), size = sysconf (_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? (uint64_t) pages * (uint64_t) size : 0;
}

static void
run_chunks (DnCpuPool *p)
{
  for (;;)
    {
      int64_t b = atomic_fetch_add (&p->next, p->chunk);
      if (b >= p->n)
        break;
      int64_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
      p->fn (p->ctx, b, e);
    }
}

static void *
worker_main (void *data)
{
  DnCpuPool *p = data;
  uint64_t seen = 0;
  in_worker = true;
  pthread_mutex_lock (&p->lock);
  for (;;)
    {
      while (!p->quit && p->generation == seen)
        pthread_cond_wait (&p->wake, &p->lock);
      if (p->quit)
        break;
      seen = p->generation;
      pthread_mutex_unlock (&p->lock);
      run_chunks (p);
      pthread_mutex_lock (&p->lock);
      if (--p->active == 0)
        pthread_cond_signal (&p->done);
    }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

void
dn_cpu_tune_malloc (void)
{
  /* The CPU kernels allocate per-call temporaries (im2col columns, partial sums) of a few hundred KiB
   * to a few MiB, and screening decodes images of that size on every worker. glibc hands such blocks
   * to mmap and trims its arenas after each free, so every call paid fresh page faults and TLB
   * shootdowns (a fifth of a synthesis step, bench-synth). Keep them in the heap for reuse instead.
   * Process-wide and idempotent; it only changes how freed memory is kept. */
  static atomic_flag done = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set (&done))
    return;
  mallopt (M_MMAP_THRESHOLD, 64 << 20);
  mallopt (M_TRIM_THRESHOLD, 256 << 20);
}

DnCpuPool *
dn_cpu_pool_new (int n_threads, DnStatus *status)
{
  dn_cpu_tune_malloc ();
  DnCpuPool *p = calloc (1, sizeof *p);
  if (!p)
    {
      *status = dn_set_error (DN_ERROR_NO_MEMORY, "cpu: cannot allocate the thread pool");
      return NULL;
    }
  p->n_threads = n_threads > 0 ? n_threads : 1;
  pthread_mutex_init (&p->lock, NULL);
  pthread_mutex_init (&p->busy, NULL);
  pthread_cond_init (&p->wake, NULL);
  pthread_cond_init (&p->done, NULL);
  if (p->n_threads > 1)
    {
      p->threads = calloc ((size_t) p->n_threads - 1, sizeof *p->threads);
      if (!p->threads)
        {
          free (p);
          *status = dn_set_error (DN_ERROR_NO_MEMORY, "cpu: cannot allocate the thread pool");
          return NULL;
        }
      for (int i = 0; i < p->n_threads - 1; i++)
        if (pthread_create (&p->threads[i], NULL, worker_main, p) != 0)
          {
            p->n_threads = i + 1; /* run with the threads we got */
            break;
          }
    }
  *status = DN_OK;
  return p;
}

void
dn_cpu_pool_free (DnCpuPool *p)
{
  if (!p)
    return;
  pthread_mutex_lock (&p->lock);
  p->quit = true;
  pthread_cond_broadcast (&p->wake);
  pthread_mutex_unlock (&p->lock);
  for (int i = 0; i < p->n_threads - 1; i++)
    pthread_join (p->threads[i], NULL);
  free (p->threads);
  pthread_mutex_destroy (&p->lock);
  pthread_mutex_destroy (&p->busy);
  pthread_cond_destroy (&p->wake);
  pthread_cond_destroy (&p->done);
  free (p);
}

void
dn_cpu_parallel_for (DnDevice *dev, int64_t n, int64_t grain, DnRangeFn fn, void *ctx)
{
  if (n <= 0)
    return;
  DnCpuPool *p = dev ? dev->pool : NULL;
  if (grain < 1)
    grain = 1;
  if (!p || p->n_threads == 1 || in_worker || n <= grain || pthread_mutex_trylock (&p->busy) != 0)
    {
      fn (ctx, 0, n);
      return;
    }
  int64_t chunk = (n + (int64_t) p->n_threads * 4 - 1) / ((int64_t) p->n_threads * 4);
  if (chunk < grain)
    chunk = grain;
  pthread_mutex_lock (&p->lock);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  p->chunk = chunk;
  atomic_store (&p->next, 0);
  p->active = p->n_threads - 1;
  p->generation++;
  pthread_cond_broadcast (&p->wake);
  pthread_mutex_unlock (&p->lock);

  in_worker = true;
  run_chunks (p);
  in_worker = false;

  pthread_mutex_lock (&p->lock);
  while (p->active > 0)
    pthread_cond_wait (&p->done, &p->lock);
  pthread_mutex_unlock (&p->lock);
  pthread_mutex_unlock (&p->busy);
}

/* GEMM ---------------------------------------------------------------------------------------------- */

typedef struct
{
  bool ta, tb, split_m;
  int64_t M, N, K, lda, ldb, ldc, chunk;
  float alpha, beta;
  const float *A, *B;
  float *C;
} GemmJob;

static void
gemm_range (void *ctx, int64_t b, int64_t e)
{
  const GemmJob *j = ctx;
  for (int64_t p = b; p < e; p++)
    {
      int64_t s = p * j->chunk;
      int64_t len = j->split_m ? j->M - s : j->N - s;
      if (len > j->chunk)
        len = j->chunk;
      if (len <= 0)
        continue;
      const float *A = j->A, *B = j->B;
      float *C = j->C;
      int64_t M = j->M, N = j->N;
      if (j->split_m)
        {
          A += j->ta ? s : s * j->lda;
          C += s * j->ldc;
          M = len;
        }
      else
        {
          B += j->tb ? s * j->ldb : s;
          C += s;
          N = len;
        }
      cblas_sgemm (CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int) M,
                   (int) N, (int) j->K, j->alpha, A, (int) j->lda, B, (int) j->ldb, j->beta, C, (int) j->ldc);
    }
}

void
dn_cpu_sgemm (DnDevice *dev, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
  if (M <= 0 || N <= 0)
    return;
  int threads = dev && dev->pool ? dev->pool->n_threads : 1;
  GemmJob j = { trans_a, trans_b, M >= N, M, N, K, lda, ldb, ldc, 0, alpha, beta, A, B, C };
  int64_t len = j.split_m ? M : N;
  /* one piece per thread for big products; small ones run in one call */
  if (threads == 1 || (double) M * (double) N * (double) (K > 0 ? K : 1) < 2e5 || len < 2 * threads)
    {
      j.chunk = len;
      gemm_range (&j, 0, 1);
      return;
    }
  int64_t pieces = threads * 4;
  j.chunk = (len + pieces - 1) / pieces;
  if (j.split_m && !trans_a)
    j.chunk = (j.chunk + 7) & ~(int64_t) 7;
  pieces = (len + j.chunk - 1) / j.chunk;
  dn_cpu_parallel_for (dev, pieces, 1, gemm_range, &j);
}

/* Whether environment variable @name is set to something other than "" or "0". */
static bool
env_set (const char *name)
{
  const char *v = getenv (name);
  return v && *v && strcmp (v, "0") != 0;
}

bool
dn_cpu_have_avx2_fma (void)
{
  static atomic_int have = -1;
  int h = atomic_load (&have);
  if (h < 0)
    {
      h = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
      __builtin_cpu_init ();
      h = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && !env_set ("DN_CPU_NO_AVX2");
#endif
      atomic_store (&have, h);
    }
  return h;
}

bool
dn_cpu_have_avx512 (void)
{
  static atomic_int have = -1;
  int h = atomic_load (&have);
  if (h < 0)
    {
      h = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
      h = dn_cpu_have_avx2_fma () && __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512vl")
          && !env_set ("DN_CPU_NO_AVX512");
#endif
      atomic_store (&have, h);
    }
  return h;
}
