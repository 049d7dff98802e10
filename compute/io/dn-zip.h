/* dn-zip.h: a read-only zip archive reader over bytes in memory, enough for PyTorch checkpoints.
 *
 * Owns the parsed central directory (entry names, sizes, offsets). Handles STORED and DEFLATE entries
 * (zlib), ZIP64 end records and extra fields, and checks every entry's CRC-32. Refuses encryption,
 * multi-disk archives, duplicate names and entries that reach outside the archive. The archive bytes
 * belong to the caller and must outlive the DnZip.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

typedef struct DnZip DnZip;

typedef struct
{
  const char *name;  /* entry name, NUL-terminated (owned by the DnZip) */
  uint64_t header;   /* offset of the local file header in the archive */
  uint64_t csize;    /* compressed bytes */
  uint64_t usize;    /* uncompressed bytes */
  uint32_t crc32;    /* of the uncompressed bytes */
  uint16_t method;   /* 0 = stored, 8 = deflate */
} DnZipEntry;

/**
 * dn_zip_open:
 * @data: the archive's bytes (kept by reference)
 * @size: their number
 * @name: the file name used in error messages
 * @out: (out) (transfer full): the archive, free with dn_zip_free()
 *
 * Returns: DN_OK, DN_ERROR_FORMAT (message names @name and the problem) or DN_ERROR_NO_MEMORY.
 */
DnStatus dn_zip_open (const uint8_t *data, size_t size, const char *name, DnZip **out);
void dn_zip_free (DnZip *zip);

size_t dn_zip_n_entries (const DnZip *zip);
/* The @i-th entry in central-directory order. */
const DnZipEntry *dn_zip_entry (const DnZip *zip, size_t i);
/* The entry named @name, or NULL. */
const DnZipEntry *dn_zip_find (const DnZip *zip, const char *name);

/**
 * dn_zip_read:
 * @zip: the archive
 * @e: one of its entries
 * @max_size: entries that inflate to more bytes than this are refused (DN_ERROR_FORMAT)
 * @bytes: (out): the entry's @e->usize uncompressed bytes
 * @owned: (out) (transfer full): NULL when @bytes points into the archive (stored entries), otherwise
 *   the heap block holding them, to free()
 *
 * Checks the local header and the CRC-32.
 */
DnStatus dn_zip_read (const DnZip *zip, const DnZipEntry *e, uint64_t max_size, const uint8_t **bytes,
                      void **owned);
