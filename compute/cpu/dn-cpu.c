/* dn-cpu.c: the CPU backend's thread pool (dn_cpu_parallel_for) and machine facts.
 *
 * A fixed set of workers waits on a condition variable; parallel_for publishes one job (fn, ctx, n,
 * grain), every thread including the caller takes chunks from an atomic counter, and the caller waits
 * until all chunks are done. Jobs are not nested: a kernel called from a worker runs serially.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "dn-backend-private.h"

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

DnCpuPool *
dn_cpu_pool_new (int n_threads, DnStatus *status)
{
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
