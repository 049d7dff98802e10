/* dn-zip.c: zip central-directory parsing, stored/deflate reads and CRC checks (see dn-zip.h).
 *
 * Layout (APPNOTE 6.3): [local header + data]* [central directory] [zip64 end record + locator]?
 * [end of central directory]. Sizes and offsets are taken from the central directory (local headers may
 * defer them to a data descriptor); the local header only tells where the data starts.
 * SPDX-License-Identifier: MIT
 */
#include "dn-zip.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dn-io-private.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

/* deflate cannot expand data by more than about 1032:1, so a larger claimed ratio is a lie */
#define MAX_DEFLATE_RATIO 1032u

struct DnZip
{
  const uint8_t *data;
  size_t size;
  char *name;           /* for messages */
  DnZipEntry *entries;  /* central-directory order */
  size_t n;
  char *names;          /* one block holding every entry name */
  DnStrMap index;       /* name -> entry index */
};

static DnStatus
bad (const DnZip *z, const char *what)
{
  return dn_set_error (DN_ERROR_FORMAT, "%s: not a valid zip archive: %s", z->name, what);
}

/* Finds the end-of-central-directory record: the last signature whose comment fits the file. */
static bool
find_eocd (const uint8_t *d, size_t size, size_t *pos)
{
  if (size < 22)
    return false;
  size_t lo = size - 22 > 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lo;)
    if (dn_io_le32 (d + p) == SIG_EOCD && p + 22 + dn_io_le16 (d + p + 20) <= size)
      {
        *pos = p;
        return true;
      }
  return false;
}

DnStatus
dn_zip_open (const uint8_t *data, size_t size, const char *name, DnZip **out)
{
  *out = NULL;
  DnStatus st = DN_OK;
  DnZip *z = calloc (1, sizeof *z);
  if (!z || !(z->name = strdup (name ? name : "(memory)")))
    {
      free (z);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", name ? name : "(memory)");
    }
  z->data = data;
  z->size = size;

  size_t eocd;
  if (!data || !find_eocd (data, size, &eocd))
    {
      st = bad (z, "no end-of-central-directory record (truncated?)");
      goto out;
    }
  const uint8_t *e = data + eocd;
  uint64_t disk = dn_io_le16 (e + 4), cd_disk = dn_io_le16 (e + 6);
  uint64_t n_disk = dn_io_le16 (e + 8), n_total = dn_io_le16 (e + 10);
  uint64_t cd_size = dn_io_le32 (e + 12), cd_off = dn_io_le32 (e + 16);

  /* ZIP64: a locator right before the EOCD points at the zip64 end record */
  if (eocd >= 20 && dn_io_le32 (data + eocd - 20) == SIG_LOC64)
    {
      const uint8_t *loc = data + eocd - 20;
      uint64_t off64 = dn_io_le64 (loc + 8);
      if (off64 > size || size - off64 < 56 || dn_io_le32 (data + off64) != SIG_EOCD64)
        {
          st = bad (z, "bad ZIP64 end record");
          goto out;
        }
      const uint8_t *r = data + off64;
      disk = dn_io_le32 (r + 16);
      cd_disk = dn_io_le32 (r + 20);
      n_disk = dn_io_le64 (r + 24);
      n_total = dn_io_le64 (r + 32);
      cd_size = dn_io_le64 (r + 40);
      cd_off = dn_io_le64 (r + 48);
    }
  else if (n_total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
    {
      st = bad (z, "ZIP64 fields without a ZIP64 end record");
      goto out;
    }
  if (disk != 0 || cd_disk != 0 || n_disk != n_total)
    {
      st = bad (z, "multi-disk archives are not supported");
      goto out;
    }
  if (cd_off > eocd || cd_size > eocd - cd_off)
    {
      st = bad (z, "central directory outside the file (truncated?)");
      goto out;
    }
  if (n_total > cd_size / 46)
    {
      st = bad (z, "entry count does not fit the central directory");
      goto out;
    }

  z->n = (size_t) n_total;
  z->entries = calloc (z->n ? z->n : 1, sizeof *z->entries);
  z->names = malloc ((size_t) cd_size + 1); /* the names are shorter than their records */
  if (!z->entries || !z->names)
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory reading the zip directory", z->name);
      goto out;
    }

  const uint8_t *p = data + cd_off, *end = data + cd_off + cd_size;
  char *np = z->names;
  for (size_t i = 0; i < z->n; i++)
    {
      if (end - p < 46 || dn_io_le32 (p) != SIG_CENTRAL)
        {
          st = bad (z, "bad central directory entry");
          goto out;
        }
      uint16_t flags = dn_io_le16 (p + 8);
      DnZipEntry *en = &z->entries[i];
      en->method = dn_io_le16 (p + 10);
      en->crc32 = dn_io_le32 (p + 16);
      en->csize = dn_io_le32 (p + 20);
      en->usize = dn_io_le32 (p + 24);
      size_t nlen = dn_io_le16 (p + 28), xlen = dn_io_le16 (p + 30), clen = dn_io_le16 (p + 32);
      uint32_t dstart = dn_io_le16 (p + 34);
      en->header = dn_io_le32 (p + 42);
      if ((size_t) (end - p) - 46 < nlen + xlen + clen)
        {
          st = bad (z, "central directory entry overruns the directory");
          goto out;
        }
      if (flags & 1)
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: zip entry %zu is encrypted", z->name, i);
          goto out;
        }
      if (nlen == 0 || memchr (p + 46, 0, nlen))
        {
          st = bad (z, "empty or invalid entry name");
          goto out;
        }
      memcpy (np, p + 46, nlen);
      np[nlen] = '\0';
      en->name = np;
      np += nlen + 1;

      /* ZIP64 extended information: the 0xffffffff fields, in this order */
      const uint8_t *x = p + 46 + nlen, *xend = x + xlen;
      while (xend - x >= 4)
        {
          uint16_t id = dn_io_le16 (x), len = dn_io_le16 (x + 2);
          if ((size_t) (xend - x) - 4 < len)
            break;
          if (id == 0x0001)
            {
              const uint8_t *f = x + 4, *fend = f + len;
              uint64_t *fields[3] = { &en->usize, &en->csize, &en->header };
              for (int k = 0; k < 3; k++)
                if (*fields[k] == 0xffffffffu)
                  {
                    if (fend - f < 8)
                      {
                        st = bad (z, "short ZIP64 extra field");
                        goto out;
                      }
                    *fields[k] = dn_io_le64 (f);
                    f += 8;
                  }
              if (dstart == 0xffff)
                dstart = 0;
            }
          x += 4 + len;
        }
      if (dstart != 0)
        {
          st = bad (z, "multi-disk archives are not supported");
          goto out;
        }
      if (en->method != 0 && en->method != 8)
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s' uses compression method %u (only stored "
                             "and deflate are supported)", z->name, en->name, en->method);
          goto out;
        }
      if (en->header > cd_off || en->csize > cd_off - en->header)
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s' lies outside the archive (truncated?)",
                             z->name, en->name);
          goto out;
        }
      if (!dn_str_map_put (&z->index, en->name, nlen, (int64_t) i))
        {
          st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", z->name);
          goto out;
        }
      if (z->index.n != i + 1)
        {
          st = dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s' appears twice", z->name, en->name);
          goto out;
        }
      p += 46 + nlen + xlen + clen;
    }

out:
  if (st != DN_OK)
    {
      dn_zip_free (z);
      return st;
    }
  *out = z;
  return DN_OK;
}

void
dn_zip_free (DnZip *zip)
{
  if (!zip)
    return;
  dn_str_map_clear (&zip->index);
  free (zip->names);
  free (zip->entries);
  free (zip->name);
  free (zip);
}

size_t
dn_zip_n_entries (const DnZip *zip)
{
  return zip->n;
}

const DnZipEntry *
dn_zip_entry (const DnZip *zip, size_t i)
{
  return i < zip->n ? &zip->entries[i] : NULL;
}

const DnZipEntry *
dn_zip_find (const DnZip *zip, const char *name)
{
  int64_t i = dn_str_map_get (&zip->index, name, strlen (name));
  return i < 0 ? NULL : &zip->entries[i];
}

static uint32_t
crc_of (const uint8_t *p, uint64_t n)
{
  uLong c = crc32 (0, Z_NULL, 0);
  while (n > 0)
    {
      uInt k = n > (1u << 30) ? (1u << 30) : (uInt) n;
      c = crc32 (c, p, k);
      p += k;
      n -= k;
    }
  return (uint32_t) c;
}

static DnStatus
inflate_entry (const DnZip *z, const DnZipEntry *e, const uint8_t *src, uint8_t *dst)
{
  z_stream s;
  memset (&s, 0, sizeof s);
  if (inflateInit2 (&s, -MAX_WBITS) != Z_OK)
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: zlib initialisation failed", z->name);
  uint64_t in_left = e->csize, out_left = e->usize;
  s.next_in = (Bytef *) src;
  s.next_out = dst;
  int r = Z_OK;
  while (r == Z_OK)
    {
      if (s.avail_in == 0 && in_left > 0)
        {
          s.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt) in_left;
          in_left -= s.avail_in;
        }
      if (s.avail_out == 0 && out_left > 0)
        {
          s.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt) out_left;
          out_left -= s.avail_out;
        }
      uInt before_in = s.avail_in, before_out = s.avail_out;
      r = inflate (&s, Z_NO_FLUSH);
      if (r == Z_BUF_ERROR && before_in == s.avail_in && before_out == s.avail_out)
        break; /* no progress possible: input or output exhausted */
      if (r == Z_BUF_ERROR)
        r = Z_OK;
    }
  uint64_t produced = e->usize - out_left - s.avail_out;
  inflateEnd (&s);
  if (r != Z_STREAM_END || produced != e->usize)
    return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': corrupt deflate data", z->name, e->name);
  return DN_OK;
}

DnStatus
dn_zip_read (const DnZip *zip, const DnZipEntry *e, uint64_t max_size, const uint8_t **bytes, void **owned)
{
  *bytes = NULL;
  *owned = NULL;
  const uint8_t *h = zip->data + e->header;
  if (zip->size - e->header < 30 || dn_io_le32 (h) != SIG_LOCAL)
    return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': bad local header", zip->name, e->name);
  uint64_t start = e->header + 30 + dn_io_le16 (h + 26) + dn_io_le16 (h + 28);
  if (start > zip->size || e->csize > zip->size - start)
    return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': data outside the archive (truncated?)",
                         zip->name, e->name);
  if (e->usize > max_size)
    return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s' is too large (%llu bytes, at most %llu "
                         "expected)", zip->name, e->name, (unsigned long long) e->usize,
                         (unsigned long long) max_size);
  const uint8_t *src = zip->data + start;
  if (e->method == 0)
    {
      if (e->csize != e->usize)
        return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': stored sizes differ", zip->name, e->name);
      *bytes = src;
    }
  else
    {
      if (e->usize > e->csize * MAX_DEFLATE_RATIO + 1024)
        return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': implausible compression ratio",
                             zip->name, e->name);
      if (e->usize > SIZE_MAX - 1)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: zip entry '%s' too large", zip->name, e->name);
      uint8_t *dst = malloc ((size_t) e->usize + 1);
      if (!dst)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory inflating '%s'", zip->name, e->name);
      DnStatus st = inflate_entry (zip, e, src, dst);
      if (st != DN_OK)
        {
          free (dst);
          return st;
        }
      *bytes = dst;
      *owned = dst;
    }
  if (crc_of (*bytes, e->usize) != e->crc32)
    {
      free (*owned);
      *owned = NULL;
      *bytes = NULL;
      return dn_set_error (DN_ERROR_FORMAT, "%s: zip entry '%s': CRC-32 mismatch (corrupt file)", zip->name,
                           e->name);
    }
  return DN_OK;
}
