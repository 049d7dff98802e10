/* dn-io-private.h: helpers shared by the file readers in compute/io/ (private to compute/).
 *
 * Owns: reading a whole file into memory read-only (DnIoFile: an mmap for regular files, a heap copy
 * otherwise), a string -> index hash map (DnStrMap: state-dict keys, storage keys, zip entry names;
 * keeps hostile inputs with many keys linear instead of quadratic), little-endian loads, and the
 * float16 / bfloat16 -> float32 conversions.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dn-status.h"

typedef struct
{
  const uint8_t *data; /* the file's bytes (NULL when size is 0) */
  size_t size;         /* in bytes */
  void *map;           /* mmap base, or NULL when data is a heap copy */
  void *heap;          /* heap copy (free()), or NULL when mapped */
} DnIoFile;

/* Maps (or reads) all of @path. On failure returns DN_ERROR_IO with "<path>: <strerror>" set. */
DnStatus dn_io_file_read (const char *path, DnIoFile *out);
/* Releases what dn_io_file_read() acquired; a zeroed DnIoFile is a no-op. */
void dn_io_file_release (DnIoFile *f);

static inline uint16_t
dn_io_le16 (const uint8_t *p)
{
  return (uint16_t) (p[0] | (uint16_t) p[1] << 8);
}

static inline uint32_t
dn_io_le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t
dn_io_le64 (const uint8_t *p)
{
  return (uint64_t) dn_io_le32 (p) | (uint64_t) dn_io_le32 (p + 4) << 32;
}

/* IEEE binary16 -> binary32, exact (subnormals, infinities and NaN payloads included). */
float dn_io_half_to_float (uint16_t h);

/* bfloat16 -> binary32, exact. */
static inline float
dn_io_bf16_to_float (uint16_t b)
{
  uint32_t u = (uint32_t) b << 16;
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* An open-addressing hash map from byte strings to int64 values. Keys are NOT copied: they must outlive
 * the map. A zeroed DnStrMap is an empty map. */
typedef struct
{
  const char **keys;  /* NULL = empty slot */
  size_t *lens;
  int64_t *values;
  size_t cap;         /* power of two, or 0 */
  size_t n;
} DnStrMap;

/* Returns the value stored under @key, or -1 when absent. */
int64_t dn_str_map_get (const DnStrMap *m, const char *key, size_t len);
/* Inserts or replaces @key. Returns false only when out of memory. */
bool dn_str_map_put (DnStrMap *m, const char *key, size_t len, int64_t value);
void dn_str_map_clear (DnStrMap *m);
