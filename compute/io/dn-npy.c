/* dn-npy.c: .npy read/convert and atomic write (see dn-npy.h).
 *
 * Format (numpy/lib/format.py): "\x93NUMPY", major, minor, header length (uint16 LE for 1.x, uint32 LE
 * for 2.x/3.x), the header (ASCII for 1.x/2.x, UTF-8 for 3.x) - a dict literal ending in '\n' and padded
 * with spaces so that the data starts at a multiple of 64 (16 in old files) - then the raw values.
 * SPDX-License-Identifier: MIT
 */
#include "dn-npy.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dn-io-private.h"

#define MAX_HEADER_BYTES ((size_t) 1 << 20)

static const struct
{
  char kind;
  int size;
  DnNpyDtype dtype;
  const char *name;
} dtypes[] = {
  { 'f', 4, DN_NPY_FLOAT32, "float32" }, { 'f', 8, DN_NPY_FLOAT64, "float64" },
  { 'f', 2, DN_NPY_FLOAT16, "float16" }, { 'i', 8, DN_NPY_INT64, "int64" },
  { 'i', 4, DN_NPY_INT32, "int32" },     { 'i', 2, DN_NPY_INT16, "int16" },
  { 'i', 1, DN_NPY_INT8, "int8" },       { 'u', 8, DN_NPY_UINT64, "uint64" },
  { 'u', 4, DN_NPY_UINT32, "uint32" },   { 'u', 2, DN_NPY_UINT16, "uint16" },
  { 'u', 1, DN_NPY_UINT8, "uint8" },     { 'b', 1, DN_NPY_BOOL, "bool" },
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *
dn_npy_dtype_name (DnNpyDtype dtype)
{
  for (size_t i = 0; i < N_DTYPES; i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].name;
  return "?";
}

/* ---- header literal parser ---- */

typedef struct
{
  const char *p, *end;
  const char *name;
} Parser;

static DnStatus
perr (const Parser *ps, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static DnStatus
perr (const Parser *ps, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return dn_set_error (DN_ERROR_FORMAT, "%s: bad .npy header: %s", ps->name, msg);
}

static void
skip_ws (Parser *ps)
{
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static bool
eat (Parser *ps, char c)
{
  skip_ws (ps);
  if (ps->p < ps->end && *ps->p == c)
    {
      ps->p++;
      return true;
    }
  return false;
}

/* a '...' or "..." literal without escapes; the result points into the header */
static bool
parse_string (Parser *ps, const char **s, size_t *len)
{
  skip_ws (ps);
  if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
    return false;
  char q = *ps->p++;
  const char *start = ps->p;
  while (ps->p < ps->end && *ps->p != q)
    {
      if (*ps->p == '\\')
        return false;
      ps->p++;
    }
  if (ps->p >= ps->end)
    return false;
  *s = start;
  *len = (size_t) (ps->p - start);
  ps->p++;
  return true;
}

static bool
parse_word (Parser *ps, const char *w)
{
  skip_ws (ps);
  size_t n = strlen (w);
  if ((size_t) (ps->end - ps->p) >= n && memcmp (ps->p, w, n) == 0)
    {
      ps->p += n;
      return true;
    }
  return false;
}

static bool
parse_int (Parser *ps, int64_t *v)
{
  skip_ws (ps);
  int64_t x = 0;
  const char *start = ps->p;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
    {
      if (x > (INT64_MAX - 9) / 10)
        return false;
      x = x * 10 + (*ps->p++ - '0');
    }
  if (ps->p == start)
    return false;
  if (ps->p < ps->end && *ps->p == 'L') /* Python 2 longs */
    ps->p++;
  *v = x;
  return true;
}

typedef struct
{
  bool has_descr, has_order, has_shape;
  const char *descr;
  size_t descr_len;
  bool fortran;
  int ndim;
  int64_t shape[DN_NPY_MAX_DIMS];
} Header;

static DnStatus
parse_header (Parser *ps, Header *h, DnStatus *unsupported)
{
  memset (h, 0, sizeof *h);
  if (!eat (ps, '{'))
    return perr (ps, "not a dict");
  for (;;)
    {
      if (eat (ps, '}'))
        break;
      const char *k;
      size_t klen;
      if (!parse_string (ps, &k, &klen) || !eat (ps, ':'))
        return perr (ps, "expected 'key':");
      if (klen == 5 && memcmp (k, "descr", 5) == 0 && !h->has_descr)
        {
          skip_ws (ps);
          if (ps->p < ps->end && *ps->p == '[')
            {
              *unsupported = dn_set_error (DN_ERROR_UNSUPPORTED, "%s: structured .npy dtypes are not supported",
                                           ps->name);
              return *unsupported;
            }
          if (!parse_string (ps, &h->descr, &h->descr_len))
            return perr (ps, "'descr' is not a string");
          h->has_descr = true;
        }
      else if (klen == 13 && memcmp (k, "fortran_order", 13) == 0 && !h->has_order)
        {
          if (parse_word (ps, "True"))
            h->fortran = true;
          else if (!parse_word (ps, "False"))
            return perr (ps, "'fortran_order' is not True or False");
          h->has_order = true;
        }
      else if (klen == 5 && memcmp (k, "shape", 5) == 0 && !h->has_shape)
        {
          if (!eat (ps, '('))
            return perr (ps, "'shape' is not a tuple");
          for (;;)
            {
              if (eat (ps, ')'))
                break;
              if (h->ndim == DN_NPY_MAX_DIMS)
                return perr (ps, "more than %d dimensions", DN_NPY_MAX_DIMS);
              if (!parse_int (ps, &h->shape[h->ndim]))
                return perr (ps, "'shape' entry is not a non-negative integer");
              h->ndim++;
              if (!eat (ps, ','))
                {
                  if (!eat (ps, ')'))
                    return perr (ps, "unterminated 'shape'");
                  break;
                }
            }
          h->has_shape = true;
        }
      else
        return perr (ps, "unexpected or repeated key '%.*s'", (int) (klen < 40 ? klen : 40), k);
      if (!eat (ps, ','))
        {
          if (!eat (ps, '}'))
            return perr (ps, "expected ',' or '}'");
          break;
        }
    }
  if (!h->has_descr || !h->has_order || !h->has_shape)
    return perr (ps, "missing 'descr', 'fortran_order' or 'shape'");
  return DN_OK;
}

/* ---- reading ---- */

static double
load_elem (const uint8_t *p, DnNpyDtype dt, int size, bool swap)
{
  uint8_t b[8];
  if (swap)
    for (int i = 0; i < size; i++)
      b[i] = p[size - 1 - i];
  else
    memcpy (b, p, (size_t) size);
  switch (dt)
    {
    case DN_NPY_FLOAT32:
      {
        float f;
        memcpy (&f, b, 4);
        return f;
      }
    case DN_NPY_FLOAT64:
      {
        double d;
        memcpy (&d, b, 8);
        return d;
      }
    case DN_NPY_FLOAT16:
      return dn_io_half_to_float (dn_io_le16 (b));
    case DN_NPY_INT64:
      {
        int64_t v;
        memcpy (&v, b, 8);
        return (double) v;
      }
    case DN_NPY_INT32:
      {
        int32_t v;
        memcpy (&v, b, 4);
        return v;
      }
    case DN_NPY_INT16:
      {
        int16_t v;
        memcpy (&v, b, 2);
        return v;
      }
    case DN_NPY_INT8:
      return (int8_t) b[0];
    case DN_NPY_UINT64:
      {
        uint64_t v;
        memcpy (&v, b, 8);
        return (double) v;
      }
    case DN_NPY_UINT32:
      {
        uint32_t v;
        memcpy (&v, b, 4);
        return v;
      }
    case DN_NPY_UINT16:
      {
        uint16_t v;
        memcpy (&v, b, 2);
        return v;
      }
    case DN_NPY_UINT8:
      return b[0];
    case DN_NPY_BOOL:
      return b[0] ? 1.0 : 0.0;
    }
  return 0.0;
}

static bool
host_is_little_endian (void)
{
  const uint16_t one = 1;
  uint8_t b;
  memcpy (&b, &one, 1);
  return b == 1;
}

DnStatus
dn_npy_load_memory (const void *data, size_t size, const char *name, DnNpyDtype want, DnNpyArray **out)
{
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dn_npy_load: out is NULL");
  *out = NULL;
  name = name ? name : "(memory)";
  if (want != DN_NPY_FLOAT32 && want != DN_NPY_FLOAT64)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dn_npy_load can return float32 or float64 only", name);
  const uint8_t *d = data;
  if (!d || size < 10 || memcmp (d, "\x93NUMPY", 6) != 0)
    return dn_set_error (DN_ERROR_FORMAT, "%s: not a .npy file (bad magic)", name);
  int major = d[6];
  size_t hl, hstart;
  if (major == 1)
    {
      hl = dn_io_le16 (d + 8);
      hstart = 10;
    }
  else if (major == 2 || major == 3)
    {
      if (size < 12)
        return dn_set_error (DN_ERROR_FORMAT, "%s: truncated .npy header", name);
      hl = dn_io_le32 (d + 8);
      hstart = 12;
    }
  else
    return dn_set_error (DN_ERROR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported", name, major, d[7]);
  if (hl > MAX_HEADER_BYTES)
    return dn_set_error (DN_ERROR_FORMAT, "%s: .npy header of %zu bytes is implausibly long", name, hl);
  if (size - hstart < hl)
    return dn_set_error (DN_ERROR_FORMAT, "%s: truncated .npy header (%zu of %zu bytes)", name, size - hstart, hl);

  Parser ps = { (const char *) d + hstart, (const char *) d + hstart + hl, name };
  Header h;
  DnStatus unsupported = DN_OK;
  DnStatus st = parse_header (&ps, &h, &unsupported);
  if (st != DN_OK)
    return st;

  /* descr: [<>|=]? kind size */
  const char *ds = h.descr;
  size_t dl = h.descr_len;
  bool swap = false;
  if (dl > 0 && (ds[0] == '<' || ds[0] == '>' || ds[0] == '|' || ds[0] == '='))
    {
      if (ds[0] == '>')
        swap = host_is_little_endian ();
      else if (ds[0] == '<')
        swap = !host_is_little_endian ();
      ds++;
      dl--;
    }
  if (dl >= 1 && (ds[0] == 'O' || ds[0] == 'c' || ds[0] == 'V' || ds[0] == 'S' || ds[0] == 'U' || ds[0] == 'M'
                  || ds[0] == 'm'))
    return dn_set_error (DN_ERROR_UNSUPPORTED, "%s: .npy dtype '%.*s' is not supported (numbers only)", name,
                         (int) (h.descr_len < 20 ? h.descr_len : 20), h.descr);
  int dsize = 0;
  const DnNpyDtype *found = NULL;
  if (dl == 2 && ds[1] >= '1' && ds[1] <= '8')
    {
      dsize = ds[1] - '0';
      for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].kind == ds[0] && dtypes[i].size == dsize)
          found = &dtypes[i].dtype;
    }
  if (!found)
    return dn_set_error (DN_ERROR_FORMAT, "%s: unknown .npy dtype '%.*s'", name,
                         (int) (h.descr_len < 20 ? h.descr_len : 20), h.descr);

  int64_t numel = 1;
  for (int i = 0; i < h.ndim; i++)
    if (__builtin_mul_overflow (numel, h.shape[i], &numel))
      return dn_set_error (DN_ERROR_FORMAT, "%s: .npy shape overflows", name);
  size_t dstart = hstart + hl;
  uint64_t nbytes;
  if (__builtin_mul_overflow ((uint64_t) numel, (uint64_t) dsize, &nbytes) || nbytes > size - dstart)
    return dn_set_error (DN_ERROR_FORMAT, "%s: truncated .npy data (%lld %s values need %llu bytes, %zu left)",
                         name, (long long) numel, dn_npy_dtype_name (*found),
                         (unsigned long long) ((uint64_t) numel * (uint64_t) dsize), size - dstart);

  size_t osize = want == DN_NPY_FLOAT32 ? 4 : 8;
  size_t obytes = ((size_t) numel * osize + 63) & ~(size_t) 63;
  DnNpyArray *a = calloc (1, sizeof *a);
  void *buf = a ? aligned_alloc (64, obytes ? obytes : 64) : NULL;
  if (!buf)
    {
      free (a);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory for %lld values", name, (long long) numel);
    }
  a->ndim = h.ndim;
  memcpy (a->shape, h.shape, sizeof a->shape);
  a->numel = numel;
  a->dtype = want;
  a->src_dtype = *found;
  a->src_fortran_order = h.fortran;
  a->version = major;
  a->data = buf;

  const uint8_t *src = d + dstart;
  float *of = buf;
  double *od = buf;
  if (!h.fortran || h.ndim < 2)
    {
      if (want == DN_NPY_FLOAT32 && *found == DN_NPY_FLOAT32 && !swap)
        memcpy (of, src, (size_t) numel * 4);
      else if (want == DN_NPY_FLOAT64 && *found == DN_NPY_FLOAT64 && !swap)
        memcpy (od, src, (size_t) numel * 8);
      else
        for (int64_t i = 0; i < numel; i++)
          {
            double v = load_elem (src + i * dsize, *found, dsize, swap);
            if (want == DN_NPY_FLOAT32)
              of[i] = (float) v;
            else
              od[i] = v;
          }
    }
  else if (numel > 0)
    {
      /* Fortran order: element (i0, .., in-1) is at sum_d i_d * prod_{e<d} shape_e. Walk the C order. */
      int64_t fstride[DN_NPY_MAX_DIMS], idx[DN_NPY_MAX_DIMS] = { 0 };
      fstride[0] = 1;
      for (int k = 1; k < h.ndim; k++)
        fstride[k] = fstride[k - 1] * h.shape[k - 1];
      int64_t off = 0;
      for (int64_t i = 0; i < numel; i++)
        {
          double v = load_elem (src + off * dsize, *found, dsize, swap);
          if (want == DN_NPY_FLOAT32)
            of[i] = (float) v;
          else
            od[i] = v;
          for (int k = h.ndim - 1; k >= 0; k--)
            {
              off += fstride[k];
              if (++idx[k] < h.shape[k])
                break;
              off -= fstride[k] * h.shape[k];
              idx[k] = 0;
            }
        }
    }
  *out = a;
  return DN_OK;
}

DnStatus
dn_npy_load (const char *path, DnNpyDtype want, DnNpyArray **out)
{
  if (!out)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dn_npy_load: out is NULL");
  *out = NULL;
  DnIoFile f;
  DnStatus st = dn_io_file_read (path, &f);
  if (st != DN_OK)
    return st;
  st = dn_npy_load_memory (f.data, f.size, path, want, out);
  dn_io_file_release (&f);
  return st;
}

void
dn_npy_array_free (DnNpyArray *a)
{
  if (!a)
    return;
  free (a->data);
  free (a);
}

/* ---- writing ---- */

static bool
write_all (int fd, const void *buf, size_t n)
{
  const uint8_t *p = buf;
  while (n > 0)
    {
      ssize_t w = write (fd, p, n > ((size_t) 1 << 30) ? ((size_t) 1 << 30) : n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      p += w;
      n -= (size_t) w;
    }
  return true;
}

static bool
write_values (int fd, const void *data, size_t n, size_t esize)
{
  if (host_is_little_endian ())
    return write_all (fd, data, n * esize);
  uint8_t buf[4096];
  const uint8_t *src = data;
  size_t per = sizeof buf / esize;
  for (size_t i = 0; i < n; i += per)
    {
      size_t k = n - i < per ? n - i : per;
      for (size_t j = 0; j < k; j++)
        for (size_t b = 0; b < esize; b++)
          buf[j * esize + b] = src[(i + j) * esize + esize - 1 - b];
      if (!write_all (fd, buf, k * esize))
        return false;
    }
  return true;
}

DnStatus
dn_npy_save (const char *path, DnNpyDtype dtype, int ndim, const int64_t *shape, const void *data)
{
  if (!path || (dtype != DN_NPY_FLOAT32 && dtype != DN_NPY_FLOAT64) || ndim < 0 || ndim > DN_NPY_MAX_DIMS
      || (ndim > 0 && !shape))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dn_npy_save: bad arguments (float32/float64 arrays of "
                         "0..%d dimensions)", path ? path : "(null)", DN_NPY_MAX_DIMS);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0 || __builtin_mul_overflow (numel, shape[i], &numel))
      return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dn_npy_save: bad shape", path);
  if (numel > 0 && !data)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dn_npy_save: data is NULL", path);

  /* header: dict literal, padded with spaces and '\n' so that the data starts at a multiple of 64 */
  char dict[64 + DN_NPY_MAX_DIMS * 24];
  int n = snprintf (dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                    dtype == DN_NPY_FLOAT32 ? "<f4" : "<f8");
  for (int i = 0; i < ndim; i++)
    n += snprintf (dict + n, sizeof dict - (size_t) n, i + 1 < ndim ? "%lld, " : "%lld", (long long) shape[i]);
  n += snprintf (dict + n, sizeof dict - (size_t) n, "%s), }", ndim == 1 ? "," : "");
  size_t pre = 10;
  size_t total = pre + (size_t) n + 1;
  total = (total + 63) & ~(size_t) 63;
  uint8_t header[sizeof dict + 128];
  memcpy (header, "\x93NUMPY\x01\x00", 8);
  size_t hl = total - pre;
  header[8] = (uint8_t) (hl & 0xff);
  header[9] = (uint8_t) (hl >> 8);
  memcpy (header + pre, dict, (size_t) n);
  memset (header + pre + n, ' ', hl - (size_t) n - 1);
  header[total - 1] = '\n';

  size_t plen = strlen (path);
  char *tmp = malloc (plen + 16);
  if (!tmp)
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
  snprintf (tmp, plen + 16, "%s.tmp-XXXXXX", path);
  DnStatus st = DN_OK;
  int fd = mkstemp (tmp);
  if (fd < 0)
    {
      st = dn_set_error (DN_ERROR_IO, "%s: cannot create a temporary file: %s", path, strerror (errno));
      free (tmp);
      return st;
    }
  size_t es = dtype == DN_NPY_FLOAT32 ? 4 : 8;
  if (fchmod (fd, 0644) != 0 || !write_all (fd, header, total) || !write_values (fd, data, (size_t) numel, es)
      || fsync (fd) != 0)
    st = dn_set_error (DN_ERROR_IO, "%s: write failed: %s", path, strerror (errno));
  if (close (fd) != 0 && st == DN_OK)
    st = dn_set_error (DN_ERROR_IO, "%s: write failed: %s", path, strerror (errno));
  if (st == DN_OK && rename (tmp, path) != 0)
    st = dn_set_error (DN_ERROR_IO, "%s: cannot rename the temporary file into place: %s", path,
                       strerror (errno));
  if (st != DN_OK)
    unlink (tmp);
  else
    {
      /* make the rename durable */
      char *dir = strdup (path);
      if (dir)
        {
          int dfd = open (dirname (dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (dfd >= 0)
            {
              fsync (dfd);
              close (dfd);
            }
          free (dir);
        }
    }
  free (tmp);
  return st;
}
