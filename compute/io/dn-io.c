/* dn-io.c: file reading, the string hash map and half-precision conversion for compute/io/.
 * SPDX-License-Identifier: MIT
 */
#include "dn-io-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Non-regular files (pipes, /dev/stdin) are read in chunks up to this many bytes. */
#define DN_IO_MAX_STREAM_BYTES ((size_t) 1 << 36)

static DnStatus
read_stream (int fd, const char *path, DnIoFile *out)
{
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc (cap);
  if (!buf)
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory reading the file", path);
  for (;;)
    {
      if (n == cap)
        {
          if (cap >= DN_IO_MAX_STREAM_BYTES)
            {
              free (buf);
              return dn_set_error (DN_ERROR_IO, "%s: file too large", path);
            }
          uint8_t *nb = realloc (buf, cap * 2);
          if (!nb)
            {
              free (buf);
              return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory reading the file", path);
            }
          buf = nb;
          cap *= 2;
        }
      ssize_t r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int e = errno;
          free (buf);
          return dn_set_error (DN_ERROR_IO, "%s: read failed: %s", path, strerror (e));
        }
      if (r == 0)
        break;
      n += (size_t) r;
    }
  out->heap = buf;
  out->data = buf;
  out->size = n;
  return DN_OK;
}

DnStatus
dn_io_file_read (const char *path, DnIoFile *out)
{
  memset (out, 0, sizeof *out);
  if (!path)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dn_io_file_read: path is NULL");
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dn_set_error (DN_ERROR_IO, "%s: cannot open: %s", path, strerror (errno));

  DnStatus st = DN_OK;
  struct stat sb;
  if (fstat (fd, &sb) != 0)
    {
      st = dn_set_error (DN_ERROR_IO, "%s: cannot stat: %s", path, strerror (errno));
      goto out;
    }
  if (S_ISDIR (sb.st_mode))
    {
      st = dn_set_error (DN_ERROR_IO, "%s: is a directory", path);
      goto out;
    }
  if (S_ISREG (sb.st_mode) && sb.st_size > 0)
    {
      void *m = mmap (NULL, (size_t) sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED)
        {
          out->map = m;
          out->data = m;
          out->size = (size_t) sb.st_size;
          goto out;
        }
    }
  st = read_stream (fd, path, out);
out:
  close (fd);
  return st;
}

void
dn_io_file_release (DnIoFile *f)
{
  if (!f)
    return;
  if (f->map)
    munmap (f->map, f->size);
  free (f->heap);
  memset (f, 0, sizeof *f);
}

float
dn_io_half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f)
    u = sign | 0x7f800000u | man << 13; /* inf / NaN (payload kept) */
  else if (exp != 0)
    u = sign | (exp + 112) << 23 | man << 13;
  else if (man == 0)
    u = sign; /* signed zero */
  else
    {
      /* subnormal: normalise the mantissa */
      int e = -1;
      do
        {
          man <<= 1;
          e++;
        }
      while (!(man & 0x400));
      u = sign | (uint32_t) (112 - e) << 23 | (man & 0x3ff) << 13;
    }
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* FNV-1a */
static uint64_t
hash_bytes (const char *s, size_t len)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    {
      h ^= (uint8_t) s[i];
      h *= 1099511628211ull;
    }
  return h;
}

static size_t
find_slot (const DnStrMap *m, const char *key, size_t len)
{
  size_t mask = m->cap - 1;
  size_t i = (size_t) hash_bytes (key, len) & mask;
  while (m->keys[i] && !(m->lens[i] == len && memcmp (m->keys[i], key, len) == 0))
    i = (i + 1) & mask;
  return i;
}

int64_t
dn_str_map_get (const DnStrMap *m, const char *key, size_t len)
{
  if (m->cap == 0)
    return -1;
  size_t i = find_slot (m, key, len);
  return m->keys[i] ? m->values[i] : -1;
}

static bool
grow (DnStrMap *m)
{
  DnStrMap g = { 0 };
  g.cap = m->cap ? m->cap * 2 : 16;
  g.keys = calloc (g.cap, sizeof *g.keys);
  g.lens = calloc (g.cap, sizeof *g.lens);
  g.values = calloc (g.cap, sizeof *g.values);
  if (!g.keys || !g.lens || !g.values)
    {
      dn_str_map_clear (&g);
      return false;
    }
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i])
      {
        size_t j = find_slot (&g, m->keys[i], m->lens[i]);
        g.keys[j] = m->keys[i];
        g.lens[j] = m->lens[i];
        g.values[j] = m->values[i];
      }
  g.n = m->n;
  dn_str_map_clear (m);
  *m = g;
  return true;
}

bool
dn_str_map_put (DnStrMap *m, const char *key, size_t len, int64_t value)
{
  if ((m->n + 1) * 2 > m->cap && !grow (m))
    return false;
  size_t i = find_slot (m, key, len);
  if (!m->keys[i])
    {
      m->keys[i] = key;
      m->lens[i] = len;
      m->n++;
    }
  m->values[i] = value;
  return true;
}

void
dn_str_map_clear (DnStrMap *m)
{
  free (m->keys);
  free (m->lens);
  free (m->values);
  memset (m, 0, sizeof *m);
}
