/* io-craft.h: hand-made PyTorch checkpoints and .npy files for the io tests (no Python involved).
 *
 * A byte-level pickle emitter (the opcodes torch.save's protocol-2 pickler writes), a zip writer
 * (stored or deflate entries, optional ZIP64 records), the legacy checkpoint layout, and state-dict
 * pickles made from a table of tensors. Also the shared-folder helpers of the io tests.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- pickle opcodes ---- */
void pk_proto (GByteArray *b);                 /* PROTO 2 */
void pk_op (GByteArray *b, uint8_t op);        /* a bare opcode: '(' 't' 'R' 'Q' '.' ')' '}' 'u' ... */
void pk_str (GByteArray *b, const char *s);    /* BINUNICODE */
void pk_int (GByteArray *b, int64_t v);        /* BININT1 / BININT2 / BININT / LONG1 as torch would */
void pk_global (GByteArray *b, const char *module, const char *name); /* GLOBAL 'c' */
void pk_put (GByteArray *b, uint32_t idx);     /* BINPUT / LONG_BINPUT */
void pk_u32 (GByteArray *b, uint32_t v);       /* raw little-endian uint32 (operands) */
void pk_u64 (GByteArray *b, uint64_t v);       /* raw little-endian uint64 */

/* ---- state dicts ---- */
typedef struct
{
  const char *name;          /* state-dict key */
  const char *storage;       /* storage key */
  const char *storage_type;  /* "FloatStorage", "HalfStorage", ... */
  int64_t storage_numel;     /* elements of the storage */
  int64_t offset;            /* storage offset, elements */
  int ndim;
  int64_t shape[8];
  int64_t stride[8];
  bool parameter;            /* wrap in torch._utils._rebuild_parameter */
  const char *view_key;      /* legacy only: a storage view (NULL = none) */
  int64_t view_offset, view_numel;
} CraftTensor;

typedef struct
{
  const char *key;           /* storage key */
  const void *bytes;         /* storage contents */
  size_t nbytes;
} CraftStorage;

/* The object pickle of a state dict (an OrderedDict with _metadata via BUILD), bare or as
 * {wrapper: sd, 'epoch': 3}; persistent ids in the zip (5 fields) or legacy (6 fields) layout. */
GByteArray *craft_state_dict_pickle (const CraftTensor *t, size_t n, bool legacy, const char *wrapper);

typedef struct
{
  const char *name;
  const void *data;
  size_t size;
  bool deflate;
  bool has_crc;      /* crc is the CRC-32 of data (saves recomputing it) */
  uint32_t crc;
} CraftZipEntry;

/* A zip archive of @entries (ZIP64 end records and extra fields when @zip64). */
GByteArray *craft_zip (const CraftZipEntry *entries, size_t n, bool zip64);

/* A torch zip checkpoint: <prefix>/data.pkl, <prefix>/data/<key> for each storage, <prefix>/version,
 * and <prefix>/byteorder when @byteorder is not NULL. */
GByteArray *craft_torch_zip (const char *prefix, GByteArray *pickle, const CraftStorage *s, size_t ns,
                             bool deflate, bool zip64, const char *byteorder);
/* A legacy checkpoint: magic, protocol, sys_info, @pickle, the key list, then each storage
 * (int64 element count, bytes); @elsize gives the element size per storage. */
GByteArray *craft_torch_legacy (GByteArray *pickle, const CraftStorage *s, const size_t *elsize, size_t ns);

/* ---- shared folder ---- */
/* $DN_SHARED_DIR (or ../shared next to the source tree) joined with @rel; g_free. */
char *io_shared_path (const char *rel);
/* Reads a file in full; a missing or unreadable file FAILS the test (never a skip). */
GBytes *io_read_or_fail (const char *path);
