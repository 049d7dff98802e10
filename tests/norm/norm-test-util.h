/* norm-test-util.h: small helpers shared by the norm family's tests (tests/norm/test-op-*.c).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <math.h>
#include <string.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

/* A tensor of @ndim dims holding @vals, or NULL when @vals is NULL. */
static inline DnTensor *
nt_tensor (const double *vals, int ndim, const int64_t *shape)
{
  return vals ? dn_test_tensor (ndim, shape, vals) : NULL;
}

static inline double *
nt_copy (const double *v, int64_t n)
{
  if (!v)
    return NULL;
  double *c = g_new (double, n > 0 ? n : 1);
  memcpy (c, v, (size_t) (n > 0 ? n : 0) * sizeof (double));
  return c;
}

static inline double *
nt_zeros (int64_t n)
{
  return g_new0 (double, n > 0 ? n : 1);
}

static inline void
nt_free (DnTensor *t)
{
  if (t)
    dn_tensor_free (t);
}

/* Label helper: "what (shape text)". */
static inline const char *
nt_label (char *buf, size_t size, const char *what, const char *shape)
{
  g_snprintf (buf, size, "%s %s", what, shape);
  return buf;
}

static inline bool
nt_all_finite (const DnTensor *t)
{
  double *v = dn_test_download (t);
  int64_t n = dn_tensor_numel (t);
  bool ok = true;
  for (int64_t i = 0; i < n; i++)
    if (!isfinite (v[i]))
      ok = false;
  g_free (v);
  return ok;
}

/* Numerical gradient check helper: concatenates several arrays into one x vector. */
typedef struct
{
  int n;
  double *parts[8];
  int64_t sizes[8];
} NtPack;

static inline int64_t
nt_pack_size (const NtPack *p)
{
  int64_t s = 0;
  for (int i = 0; i < p->n; i++)
    s += p->sizes[i];
  return s;
}

static inline double *
nt_pack (const NtPack *p)
{
  double *x = g_new (double, nt_pack_size (p) + 1);
  int64_t o = 0;
  for (int i = 0; i < p->n; i++)
    {
      if (p->parts[i])
        memcpy (x + o, p->parts[i], (size_t) p->sizes[i] * sizeof (double));
      o += p->sizes[i];
    }
  return x;
}

/* Points the parts of @p at consecutive slices of @x (no copy). */
static inline void
nt_unpack_view (const NtPack *p, const double *x, const double **views)
{
  int64_t o = 0;
  for (int i = 0; i < p->n; i++)
    {
      views[i] = p->parts[i] ? x + o : NULL;
      o += p->sizes[i];
    }
}

/* A view at element offset @off of a new base tensor (returned in *base, freed by the caller) holding
 * @vals (or zeros when NULL), with a few spare elements after it. */
static inline DnTensor *
nt_view_of (const double *vals, int ndim, const int64_t *shape, int64_t off, DnTensor **base)
{
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  double *b = nt_zeros (n + off + 3);
  for (int64_t i = 0; i < n + off + 3; i++)
    b[i] = -777.0; /* garbage around the view */
  for (int64_t i = 0; i < n; i++)
    b[off + i] = vals ? vals[i] : 0.0;
  *base = DN_TEST_TENSOR (b, 1, n + off + 3);
  g_free (b);
  DnStatus st;
  DnTensor *v = dn_tensor_view (*base, off, ndim, shape, &st);
  g_assert_nonnull (v);
  return v;
}

/* Asserts two tensors hold identical values. */
static inline void
nt_check_same (const char *what, const DnTensor *got, const DnTensor *want)
{
  double *w = dn_test_download (want);
  dn_test_check_tensor (what, got, w, 0);
  g_free (w);
}
