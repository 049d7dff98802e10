/* io-craft.c: checkpoint and archive writers for the io tests (see io-craft.h).
 * SPDX-License-Identifier: MIT
 */
#include "io-craft.h"

#include <string.h>
#include <zlib.h>

void
pk_proto (GByteArray *b)
{
  g_byte_array_append (b, (const guint8 *) "\x80\x02", 2);
}

void
pk_op (GByteArray *b, uint8_t op)
{
  g_byte_array_append (b, &op, 1);
}

void
pk_u32 (GByteArray *b, uint32_t v)
{
  uint8_t x[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
  g_byte_array_append (b, x, 4);
}

void
pk_u64 (GByteArray *b, uint64_t v)
{
  pk_u32 (b, (uint32_t) v);
  pk_u32 (b, (uint32_t) (v >> 32));
}

void
pk_str (GByteArray *b, const char *s)
{
  pk_op (b, 'X');
  pk_u32 (b, (uint32_t) strlen (s));
  g_byte_array_append (b, (const guint8 *) s, (guint) strlen (s));
}

void
pk_int (GByteArray *b, int64_t v)
{
  if (v >= 0 && v < 256)
    {
      pk_op (b, 'K');
      pk_op (b, (uint8_t) v);
    }
  else if (v >= 0 && v < 65536)
    {
      pk_op (b, 'M');
      pk_op (b, (uint8_t) v);
      pk_op (b, (uint8_t) (v >> 8));
    }
  else if (v >= INT32_MIN && v <= INT32_MAX)
    {
      pk_op (b, 'J');
      pk_u32 (b, (uint32_t) (int32_t) v);
    }
  else
    {
      pk_op (b, 0x8a);
      pk_op (b, 8);
      pk_u64 (b, (uint64_t) v);
    }
}

void
pk_global (GByteArray *b, const char *module, const char *name)
{
  pk_op (b, 'c');
  g_byte_array_append (b, (const guint8 *) module, (guint) strlen (module));
  pk_op (b, '\n');
  g_byte_array_append (b, (const guint8 *) name, (guint) strlen (name));
  pk_op (b, '\n');
}

void
pk_put (GByteArray *b, uint32_t idx)
{
  if (idx < 256)
    {
      pk_op (b, 'q');
      pk_op (b, (uint8_t) idx);
    }
  else
    {
      pk_op (b, 'r');
      pk_u32 (b, idx);
    }
}

static void
int_tuple (GByteArray *b, int n, const int64_t *v)
{
  if (n == 0)
    {
      pk_op (b, ')');
      return;
    }
  pk_op (b, '(');
  for (int i = 0; i < n; i++)
    pk_int (b, v[i]);
  pk_op (b, 't');
}

GByteArray *
craft_state_dict_pickle (const CraftTensor *t, size_t n, bool legacy, const char *wrapper)
{
  GByteArray *b = g_byte_array_new ();
  uint32_t memo = 0;
  pk_proto (b);
  if (wrapper)
    {
      pk_op (b, '}');
      pk_put (b, memo++);
      pk_op (b, '(');
      pk_str (b, wrapper);
    }
  pk_global (b, "collections", "OrderedDict");
  uint32_t od = memo;
  pk_put (b, memo++);
  pk_op (b, ')');
  pk_op (b, 'R');
  pk_put (b, memo++);
  pk_op (b, '(');
  for (size_t i = 0; i < n; i++)
    {
      const CraftTensor *x = &t[i];
      pk_str (b, x->name);
      if (x->parameter)
        pk_global (b, "torch._utils", "_rebuild_parameter");
      pk_global (b, "torch._utils", "_rebuild_tensor_v2");
      pk_op (b, '(');
      /* persistent id */
      pk_op (b, '(');
      pk_str (b, "storage");
      pk_global (b, "torch", x->storage_type);
      pk_str (b, x->storage);
      pk_str (b, "cpu");
      pk_int (b, x->storage_numel);
      if (legacy)
        {
          if (x->view_key)
            {
              pk_op (b, '(');
              pk_str (b, x->view_key);
              pk_int (b, x->view_offset);
              pk_int (b, x->view_numel);
              pk_op (b, 't');
            }
          else
            pk_op (b, 'N');
        }
      pk_op (b, 't');
      pk_op (b, 'Q');
      pk_int (b, x->offset);
      int_tuple (b, x->ndim, x->shape);
      int_tuple (b, x->ndim, x->stride);
      pk_op (b, 0x89); /* requires_grad False */
      pk_op (b, 'h');  /* backward_hooks = OrderedDict() via BINGET */
      pk_op (b, (uint8_t) od);
      pk_op (b, ')');
      pk_op (b, 'R');
      pk_op (b, 't');
      pk_op (b, 'R');
      if (x->parameter)
        {
          /* _rebuild_parameter (tensor, requires_grad, backward_hooks) */
          pk_op (b, 0x88);
          pk_op (b, 'h');
          pk_op (b, (uint8_t) od);
          pk_op (b, ')');
          pk_op (b, 'R');
          pk_op (b, 0x87); /* TUPLE3 */
          pk_op (b, 'R');
        }
    }
  pk_op (b, 'u');
  /* BUILD {'_metadata': {'': {'version': 1}}} */
  pk_op (b, '}');
  pk_str (b, "_metadata");
  pk_op (b, '}');
  pk_str (b, "");
  pk_op (b, '}');
  pk_str (b, "version");
  pk_int (b, 1);
  pk_op (b, 's');
  pk_op (b, 's');
  pk_op (b, 's');
  pk_op (b, 'b');
  if (wrapper)
    {
      pk_str (b, "epoch");
      pk_int (b, 3);
      pk_op (b, 'u');
    }
  pk_op (b, '.');
  return b;
}

static void
le16 (GByteArray *b, uint16_t v)
{
  uint8_t x[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
  g_byte_array_append (b, x, 2);
}

static GByteArray *
deflate_raw (const void *data, size_t size)
{
  z_stream s;
  memset (&s, 0, sizeof s);
  g_assert_cmpint (deflateInit2 (&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
  uLong bound = deflateBound (&s, (uLong) size);
  GByteArray *out = g_byte_array_sized_new ((guint) bound);
  g_byte_array_set_size (out, (guint) bound);
  s.next_in = (Bytef *) data;
  s.avail_in = (uInt) size;
  s.next_out = out->data;
  s.avail_out = (uInt) bound;
  g_assert_cmpint (deflate (&s, Z_FINISH), ==, Z_STREAM_END);
  g_byte_array_set_size (out, (guint) s.total_out);
  deflateEnd (&s);
  return out;
}

GByteArray *
craft_zip (const CraftZipEntry *entries, size_t n, bool zip64)
{
  GByteArray *b = g_byte_array_new ();
  GByteArray *cd = g_byte_array_new ();
  for (size_t i = 0; i < n; i++)
    {
      const CraftZipEntry *e = &entries[i];
      uint32_t crc = e->has_crc ? e->crc : (uint32_t) crc32 (crc32 (0, Z_NULL, 0), e->data, (uInt) e->size);
      GByteArray *comp = e->deflate ? deflate_raw (e->data, e->size) : NULL;
      const void *payload = comp ? comp->data : e->data;
      size_t csize = comp ? comp->len : e->size;
      uint64_t lho = b->len;
      uint16_t nlen = (uint16_t) strlen (e->name);
      /* local header */
      pk_u32 (b, 0x04034b50);
      le16 (b, zip64 ? 45 : 20);
      le16 (b, 0);
      le16 (b, e->deflate ? 8 : 0);
      le16 (b, 0);
      le16 (b, 0x21);
      pk_u32 (b, crc);
      pk_u32 (b, zip64 ? 0xffffffffu : (uint32_t) csize);
      pk_u32 (b, zip64 ? 0xffffffffu : (uint32_t) e->size);
      le16 (b, nlen);
      le16 (b, zip64 ? 20 : 0);
      g_byte_array_append (b, (const guint8 *) e->name, nlen);
      if (zip64)
        {
          le16 (b, 1);
          le16 (b, 16);
          pk_u64 (b, e->size);
          pk_u64 (b, csize);
        }
      g_byte_array_append (b, payload, (guint) csize);
      /* central entry */
      pk_u32 (cd, 0x02014b50);
      le16 (cd, zip64 ? 45 : 20);
      le16 (cd, zip64 ? 45 : 20);
      le16 (cd, 0);
      le16 (cd, e->deflate ? 8 : 0);
      le16 (cd, 0);
      le16 (cd, 0x21);
      pk_u32 (cd, crc);
      pk_u32 (cd, zip64 ? 0xffffffffu : (uint32_t) csize);
      pk_u32 (cd, zip64 ? 0xffffffffu : (uint32_t) e->size);
      le16 (cd, nlen);
      le16 (cd, zip64 ? 28 : 0);
      le16 (cd, 0);
      le16 (cd, 0);
      le16 (cd, 0);
      pk_u32 (cd, 0);
      pk_u32 (cd, zip64 ? 0xffffffffu : (uint32_t) lho);
      g_byte_array_append (cd, (const guint8 *) e->name, nlen);
      if (zip64)
        {
          le16 (cd, 1);
          le16 (cd, 24);
          pk_u64 (cd, e->size);
          pk_u64 (cd, csize);
          pk_u64 (cd, lho);
        }
      if (comp)
        g_byte_array_unref (comp);
    }
  uint64_t cd_off = b->len, cd_size = cd->len;
  g_byte_array_append (b, cd->data, cd->len);
  g_byte_array_unref (cd);
  if (zip64)
    {
      uint64_t rec = b->len;
      pk_u32 (b, 0x06064b50);
      pk_u64 (b, 44);
      le16 (b, 45);
      le16 (b, 45);
      pk_u32 (b, 0);
      pk_u32 (b, 0);
      pk_u64 (b, n);
      pk_u64 (b, n);
      pk_u64 (b, cd_size);
      pk_u64 (b, cd_off);
      pk_u32 (b, 0x07064b50);
      pk_u32 (b, 0);
      pk_u64 (b, rec);
      pk_u32 (b, 1);
    }
  pk_u32 (b, 0x06054b50);
  le16 (b, 0);
  le16 (b, 0);
  le16 (b, zip64 ? 0xffff : (uint16_t) n);
  le16 (b, zip64 ? 0xffff : (uint16_t) n);
  pk_u32 (b, zip64 ? 0xffffffffu : (uint32_t) cd_size);
  pk_u32 (b, zip64 ? 0xffffffffu : (uint32_t) cd_off);
  le16 (b, 0);
  return b;
}

GByteArray *
craft_torch_zip (const char *prefix, GByteArray *pickle, const CraftStorage *s, size_t ns, bool deflate,
                 bool zip64, const char *byteorder)
{
  size_t n = 0;
  CraftZipEntry *e = g_new0 (CraftZipEntry, ns + 3);
  char **names = g_new0 (char *, ns + 4);
  names[n] = g_strdup_printf ("%s/data.pkl", prefix);
  e[n] = (CraftZipEntry){ names[n], pickle->data, pickle->len, deflate };
  n++;
  if (byteorder)
    {
      names[n] = g_strdup_printf ("%s/byteorder", prefix);
      e[n] = (CraftZipEntry){ names[n], byteorder, strlen (byteorder), false };
      n++;
    }
  for (size_t i = 0; i < ns; i++)
    {
      names[n] = g_strdup_printf ("%s/data/%s", prefix, s[i].key);
      e[n] = (CraftZipEntry){ names[n], s[i].bytes, s[i].nbytes, deflate };
      n++;
    }
  names[n] = g_strdup_printf ("%s/version", prefix);
  e[n] = (CraftZipEntry){ names[n], "3\n", 2, false };
  n++;
  GByteArray *z = craft_zip (e, n, zip64);
  g_strfreev (names);
  g_free (e);
  return z;
}

GByteArray *
craft_torch_legacy (GByteArray *pickle, const CraftStorage *s, const size_t *elsize, size_t ns)
{
  static const uint8_t magic[] = { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
                                   0x50, 0x19, '.' };
  static const uint8_t proto[] = { 0x80, 0x02, 'M', 0xe9, 0x03, '.' };
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, magic, sizeof magic);
  g_byte_array_append (b, proto, sizeof proto);
  /* sys_info */
  pk_proto (b);
  pk_op (b, '}');
  pk_op (b, '(');
  pk_str (b, "protocol_version");
  pk_int (b, 1001);
  pk_str (b, "little_endian");
  pk_op (b, 0x88);
  pk_str (b, "type_sizes");
  pk_op (b, '}');
  pk_op (b, '(');
  pk_str (b, "short");
  pk_int (b, 2);
  pk_str (b, "int");
  pk_int (b, 4);
  pk_str (b, "long");
  pk_int (b, 4);
  pk_op (b, 'u');
  pk_op (b, 'u');
  pk_op (b, '.');
  g_byte_array_append (b, pickle->data, pickle->len);
  /* storage keys */
  pk_proto (b);
  pk_op (b, ']');
  pk_op (b, '(');
  for (size_t i = 0; i < ns; i++)
    pk_str (b, s[i].key);
  pk_op (b, 'e');
  pk_op (b, '.');
  for (size_t i = 0; i < ns; i++)
    {
      pk_u64 (b, s[i].nbytes / elsize[i]);
      g_byte_array_append (b, s[i].bytes, (guint) s[i].nbytes);
    }
  return b;
}

char *
io_shared_path (const char *rel)
{
  const char *dir = g_getenv ("DN_SHARED_DIR");
  if (!dir || !*dir)
    dir = "../shared";
  return g_build_filename (dir, rel, NULL);
}

GBytes *
io_read_or_fail (const char *path)
{
  char *data = NULL;
  gsize len = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &data, &len, &error))
    g_error ("required test file missing or unreadable: %s", error->message);
  return g_bytes_new_take (data, len);
}
