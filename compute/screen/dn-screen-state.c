/* dn-screen-state.c: the per-neuron state of a screening run (dn-screen.h explains the choices): top/
 * bottom heaps under a strict total order, per-block moments (Welford per item, Chan per block), the
 * log histogram, and the statistics computed from them or, exactly, from all responses.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dn-screen-private.h"

DnStatus
dn_screen_state_init (DnScreenState *s, int n_neurons, int k, int64_t block_size, int64_t lo, int64_t hi)
{
  memset (s, 0, sizeof *s);
  s->n_neurons = n_neurons;
  s->k = k;
  s->block_size = block_size;
  s->lo = lo;
  s->hi = hi;
  s->first_block = lo / block_size;
  s->n_blocks = hi > lo ? (hi - 1) / block_size - s->first_block + 1 : 0;
  size_t K = (size_t) n_neurons, nk = K * (size_t) (k ? k : 1), nb = (size_t) (s->n_blocks ? s->n_blocks : 1);
  s->top_n = calloc (K, sizeof *s->top_n);
  s->bot_n = calloc (K, sizeof *s->bot_n);
  s->top_v = malloc (nk * sizeof *s->top_v);
  s->bot_v = malloc (nk * sizeof *s->bot_v);
  s->top_i = malloc (nk * sizeof *s->top_i);
  s->bot_i = malloc (nk * sizeof *s->bot_i);
  s->block_count = calloc (nb, sizeof *s->block_count);
  s->block_mom = calloc (nb * K * 3, sizeof *s->block_mom);
  s->hist = calloc (K * DN_HIST_BINS, sizeof *s->hist);
  s->vmin = malloc (K * sizeof *s->vmin);
  s->vmax = malloc (K * sizeof *s->vmax);
  if (!s->top_n || !s->bot_n || !s->top_v || !s->bot_v || !s->top_i || !s->bot_i || !s->block_count || !s->block_mom
      || !s->hist || !s->vmin || !s->vmax)
    {
      dn_screen_state_clear (s);
      return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory for the state of %d neurons", n_neurons);
    }
  for (size_t i = 0; i < K; i++)
    {
      s->vmin[i] = INFINITY;
      s->vmax[i] = -INFINITY;
    }
  return DN_OK;
}

void
dn_screen_state_clear (DnScreenState *s)
{
  free (s->top_n);
  free (s->bot_n);
  free (s->top_v);
  free (s->bot_v);
  free (s->top_i);
  free (s->bot_i);
  free (s->block_count);
  free (s->block_mom);
  free (s->hist);
  free (s->vmin);
  free (s->vmax);
  for (int64_t i = 0; s->fail_reason && i < s->n_failed; i++)
    free (s->fail_reason[i]);
  free (s->fail_reason);
  free (s->fail_index);
  memset (s, 0, sizeof *s);
}

/* Heaps: the root is the worst entry; a is better than b when it is larger, or equal with a lower
 * index. */
static inline bool
better (float va, int64_t ia, float vb, int64_t ib)
{
  return va > vb || (va == vb && ia < ib);
}

static inline void
swap_entries (float *v, int64_t *idx, int a, int b)
{
  float tv = v[a];
  int64_t ti = idx[a];
  v[a] = v[b];
  idx[a] = idx[b];
  v[b] = tv;
  idx[b] = ti;
}

static void
sift_down (float *v, int64_t *idx, int n, int i)
{
  for (;;)
    {
      int l = 2 * i + 1, r = l + 1, w = i;
      if (l < n && better (v[w], idx[w], v[l], idx[l]))
        w = l;
      if (r < n && better (v[w], idx[w], v[r], idx[r]))
        w = r;
      if (w == i)
        return;
      swap_entries (v, idx, i, w);
      i = w;
    }
}

static void
heap_push (float *v, int64_t *idx, int *n, int k, float x, int64_t i)
{
  if (k <= 0)
    return;
  if (*n < k)
    {
      int c = (*n)++;
      v[c] = x;
      idx[c] = i;
      while (c > 0)
        {
          int p = (c - 1) / 2;
          if (!better (v[p], idx[p], v[c], idx[c]))
            break;
          swap_entries (v, idx, p, c);
          c = p;
        }
    }
  else if (better (x, i, v[0], idx[0]))
    {
      v[0] = x;
      idx[0] = i;
      sift_down (v, idx, *n, 0);
    }
}

static int
hist_bin (float x)
{
  double a = fabs ((double) x);
  if (a < DN_HIST_LO)
    return DN_HIST_H;
  int m = (int) floor (log (a / DN_HIST_LO) / log (DN_HIST_GAMMA));
  m = m < 0 ? 0 : m >= DN_HIST_H ? DN_HIST_H - 1 : m;
  return x > 0 ? DN_HIST_H + 1 + m : DN_HIST_H - 1 - m;
}

static double
hist_value (int b)
{
  if (b == DN_HIST_H)
    return 0;
  int m = b > DN_HIST_H ? b - DN_HIST_H - 1 : DN_HIST_H - 1 - b;
  double v = DN_HIST_LO * pow (DN_HIST_GAMMA, m) * 2 * DN_HIST_GAMMA / (1 + DN_HIST_GAMMA);
  return b > DN_HIST_H ? v : -v;
}

void
dn_screen_state_add (DnScreenState *s, int64_t index, const float *r)
{
  int64_t b = index / s->block_size - s->first_block;
  double n = (double) s->block_count[b], n1 = n + 1;
  s->block_count[b]++;
  double *mom = s->block_mom + (size_t) b * s->n_neurons * 3;
  int k = s->k;
  for (int j = 0; j < s->n_neurons; j++)
    {
      float x = r[j];
      size_t o = (size_t) j * k;
      heap_push (s->top_v + o, s->top_i + o, &s->top_n[j], k, x, index);
      heap_push (s->bot_v + o, s->bot_i + o, &s->bot_n[j], k, -x, index);
      /* Welford with the third moment (Terriberry): M3 before M2, both with the old values */
      double *m = mom + 3 * j;
      double delta = x - m[0], dn = delta / n1, t1 = delta * dn * n;
      m[0] += dn;
      m[2] += t1 * dn * (n1 - 2) - 3 * dn * m[1];
      m[1] += t1;
      s->hist[(size_t) j * DN_HIST_BINS + hist_bin (x)]++;
      s->vmin[j] = fminf (s->vmin[j], x);
      s->vmax[j] = fmaxf (s->vmax[j], x);
    }
}

DnStatus
dn_screen_state_fail (DnScreenState *s, int64_t index, const char *reason)
{
  if (s->n_failed == s->n_fail_alloc)
    {
      int64_t cap = s->n_fail_alloc ? 2 * s->n_fail_alloc : 64;
      int64_t *fi = realloc (s->fail_index, (size_t) cap * sizeof *fi);
      if (fi)
        s->fail_index = fi;
      char **fr = fi ? realloc (s->fail_reason, (size_t) cap * sizeof *fr) : NULL;
      if (!fr)
        return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory for the failure list");
      s->fail_reason = fr;
      s->n_fail_alloc = cap;
    }
  /* reasons are kept short: a million bad files must not take gigabytes */
  char *r = strndup (reason ? reason : "", 240);
  if (!r)
    return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory for the failure list");
  s->fail_index[s->n_failed] = index;
  s->fail_reason[s->n_failed++] = r;
  return DN_OK;
}

typedef struct
{
  float v;
  int64_t i;
} Entry;

static int
cmp_entry_desc (const void *a, const void *b)
{
  const Entry *x = a, *y = b;
  return better (x->v, x->i, y->v, y->i) ? -1 : better (y->v, y->i, x->v, x->i) ? 1 : 0;
}

/* @e: scratch for n entries */
static void
sorted_list (const float *v, const int64_t *idx, int n, int k, bool negate, Entry *e, int64_t *out_i, float *out_v)
{
  for (int j = 0; j < n; j++)
    {
      e[j].v = v[j];
      e[j].i = idx[j];
    }
  qsort (e, (size_t) n, sizeof e[0], cmp_entry_desc);
  for (int j = 0; j < k; j++)
    {
      out_i[j] = j < n ? e[j].i : -1;
      out_v[j] = j < n ? (negate ? -e[j].v : e[j].v) : NAN;
    }
}

DnStatus
dn_screen_state_lists (const DnScreenState *s, int64_t *top_i, float *top_v, int64_t *bot_i, float *bot_v)
{
  Entry *e = malloc ((size_t) (s->k ? s->k : 1) * sizeof *e);
  if (!e)
    return dn_set_error (DN_ERROR_NO_MEMORY, "screen: out of memory");
  for (int j = 0; j < s->n_neurons; j++)
    {
      size_t o = (size_t) j * s->k;
      sorted_list (s->top_v + o, s->top_i + o, s->top_n[j], s->k, false, e, top_i + o, top_v + o);
      sorted_list (s->bot_v + o, s->bot_i + o, s->bot_n[j], s->k, true, e, bot_i + o, bot_v + o);
    }
  free (e);
  return DN_OK;
}

void
dn_screen_state_load_lists (DnScreenState *s, const int64_t *top_i, const float *top_v, const int64_t *bot_i,
                            const float *bot_v, int k)
{
  for (int j = 0; j < s->n_neurons; j++)
    for (int c = 0; c < k; c++)
      {
        size_t src = (size_t) j * k + c, o = (size_t) j * s->k;
        if (top_i[src] >= 0)
          heap_push (s->top_v + o, s->top_i + o, &s->top_n[j], s->k, top_v[src], top_i[src]);
        if (bot_i[src] >= 0)
          heap_push (s->bot_v + o, s->bot_i + o, &s->bot_n[j], s->k, -bot_v[src], bot_i[src]);
      }
}

/* Statistics ------------------------------------------------------------------------------------ */

static void
moments_stats (const DnScreenState *s, int j, DnNeuronStats *st, double *count)
{
  double n = 0, mean = 0, M2 = 0, M3 = 0;
  for (int64_t b = 0; b < s->n_blocks; b++)
    {
      double nb = (double) s->block_count[b];
      if (nb == 0)
        continue;
      const double *m = s->block_mom + ((size_t) b * s->n_neurons + j) * 3;
      double N = n + nb, d = m[0] - mean;
      double M3n = M3 + m[2] + d * d * d * n * nb * (n - nb) / (N * N) + 3 * d * (n * m[1] - nb * M2) / N;
      M2 = M2 + m[1] + d * d * n * nb / N;
      M3 = M3n;
      mean += d * nb / N;
      n = N;
    }
  *count = n;
  memset (st, 0, sizeof *st);
  if (n == 0)
    {
      st->gini = st->skewness = st->mean = st->std = st->range = st->cv = st->max = st->min = st->q95 = st->q05 = NAN;
      return;
    }
  double m2 = M2 / n, m3 = M3 / n;
  st->mean = mean;
  st->std = sqrt (fmax (m2, 0));
  st->skewness = m2 > 0 ? m3 / pow (m2, 1.5) : 0;
  st->max = s->vmax[j];
  st->min = s->vmin[j];
  st->range = st->max - st->min;
  st->cv = st->std / st->mean;
  st->active = st->max > 0.5 && st->mean > 0.01 && st->std > 0;
}

/* The value at 0-based rank r of the histogram's sorted values. */
static double
hist_rank (const uint32_t *h, int64_t r)
{
  int64_t c = 0;
  for (int b = 0; b < DN_HIST_BINS; b++)
    {
      c += h[b];
      if (c > r)
        return hist_value (b);
    }
  return NAN;
}

static double
hist_quantile (const uint32_t *h, int64_t n, double q, double lo, double hi)
{
  double pos = q * (double) (n - 1), fl = floor (pos);
  int64_t r = (int64_t) fl;
  double a = hist_rank (h, r), b = r + 1 < n ? hist_rank (h, r + 1) : a;
  double v = a + (pos - fl) * (b - a);
  return v < lo ? lo : v > hi ? hi : v;
}

void
dn_screen_state_stats (const DnScreenState *s, DnNeuronStats *out)
{
  for (int j = 0; j < s->n_neurons; j++)
    {
      double n;
      DnNeuronStats *st = &out[j];
      moments_stats (s, j, st, &n);
      if (n == 0)
        continue;
      const uint32_t *h = s->hist + (size_t) j * DN_HIST_BINS;
      int64_t N = (int64_t) n;
      st->q95 = hist_quantile (h, N, 0.95, st->min, st->max);
      st->q05 = hist_quantile (h, N, 0.05, st->min, st->max);
      /* gini over the bins in ascending order: ranks i0 … i0 + c − 1 share the bin's value */
      double num = 0, sum = 0;
      int64_t i0 = 1;
      for (int b = 0; b < DN_HIST_BINS; b++)
        {
          if (!h[b])
            continue;
          double c = h[b], v = hist_value (b);
          num += v * c * (2.0 * (double) i0 + c - 2 - n);
          sum += v * c;
          i0 += h[b];
        }
      st->gini = sum != 0 ? num / (n * sum) : 0;
    }
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

static double
sorted_quantile (const float *v, int64_t n, double q)
{
  double pos = q * (double) (n - 1), fl = floor (pos);
  int64_t r = (int64_t) fl;
  double a = v[r], b = r + 1 < n ? v[r + 1] : a;
  return a + (pos - fl) * (b - a);
}

void
dn_screen_exact_stats (float *v, int64_t n, DnNeuronStats *st)
{
  if (n == 0)
    return;
  qsort (v, (size_t) n, sizeof *v, cmp_float);
  st->q95 = sorted_quantile (v, n, 0.95);
  st->q05 = sorted_quantile (v, n, 0.05);
  double num = 0, sum = 0;
  for (int64_t i = 0; i < n; i++)
    {
      num += (2.0 * (double) (i + 1) - (double) n - 1) * v[i];
      sum += v[i];
    }
  st->gini = sum != 0 ? num / ((double) n * sum) : 0;
}

static int
cmp_gini (const void *a, const void *b, void *ctx)
{
  const DnNeuronStats *st = ctx;
  int i = *(const int *) a, j = *(const int *) b;
  double gi = st[i].gini, gj = st[j].gini;
  /* NaN (no valid items) last */
  if (isnan (gi) != isnan (gj))
    return isnan (gi) ? 1 : -1;
  if (gi != gj)
    return gi > gj ? -1 : 1;
  return i < j ? -1 : i > j;
}

void
dn_screen_order (const DnNeuronStats *st, int n, int *order)
{
  for (int i = 0; i < n; i++)
    order[i] = i;
  qsort_r (order, (size_t) n, sizeof *order, cmp_gini, (void *) st);
}
