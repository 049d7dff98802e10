/* dn-screen-h5.h: the HDF5 operations screening needs beyond dn-h5.h (private to compute/screen/):
 * typed datasets (int64, uint32, float64, …) for exact indices, counts and moments, fixed-length string
 * lists, a chunked gzip float matrix written by row blocks and read by column blocks, partial reads
 * of image stacks, and int64 attributes.
 *
 * All calls are serialized by this module's lock (Debian's libhdf5 is not thread-safe). dn-h5.c has its
 * own lock, so while a screening run or a merge is in progress nothing else may call dn_h5_* from
 * another thread (screening itself never does).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

typedef enum
{
  DN_SH5_F32 = 0,
  DN_SH5_F64,
  DN_SH5_I64,
  DN_SH5_I32,
  DN_SH5_U32,
  DN_SH5_U8,
} DnSh5Type;

typedef struct DnSh5 DnSh5;

DnSh5 *dn_sh5_create (const char *path, DnStatus *status);
DnSh5 *dn_sh5_open (const char *path, bool write, DnStatus *status);
/* Closes (NULL is a no-op); DN_ERROR_IO if the data could not be written out. */
DnStatus dn_sh5_close (DnSh5 *f);
bool dn_sh5_exists (DnSh5 *f, const char *path);

/* A whole dataset (parents created); gzip-4 chunked when @compress and non-empty. */
DnStatus dn_sh5_write (DnSh5 *f, const char *path, DnSh5Type type, int ndim, const int64_t *shape, const void *data,
                       bool compress);
/* Reads a whole numeric dataset converted to @type (malloc'd; *data is non-NULL even when empty).
 * @shape has room for 8 dimensions. */
DnStatus dn_sh5_read (DnSh5 *f, const char *path, DnSh5Type type, int *ndim, int64_t *shape, void **data);
/* A dataset to be written by rows (chunked, gzip) with dn_sh5_write_rows: rows [row0, row0 + nrows)
 * along the first dimension, all of the others. */
DnStatus dn_sh5_dataset_create (DnSh5 *f, const char *path, DnSh5Type type, int ndim, const int64_t *shape);
DnStatus dn_sh5_write_rows (DnSh5 *f, const char *path, DnSh5Type type, int64_t row0, int64_t nrows, const void *data);
/* The same for @n fixed-length strings of @width bytes (terminator included): @buf holds nrows × width. */
DnStatus dn_sh5_strings_create (DnSh5 *f, const char *path, int64_t n, size_t width);
DnStatus dn_sh5_write_string_rows (DnSh5 *f, const char *path, int64_t row0, int64_t nrows, size_t width,
                                   const char *buf);
/* Fixed-length strings (gzip chunked). Reading gives a malloc'd array of malloc'd strings. */
DnStatus dn_sh5_write_strings (DnSh5 *f, const char *path, const char *const *strings, int64_t n);
DnStatus dn_sh5_read_strings (DnSh5 *f, const char *path, char ***strings, int64_t *n);
void dn_sh5_strings_free (char **strings, int64_t n);

/* Attributes of object @obj ("/" = the file). */
DnStatus dn_sh5_set_str (DnSh5 *f, const char *obj, const char *name, const char *value);
DnStatus dn_sh5_set_f64 (DnSh5 *f, const char *obj, const char *name, double value);
DnStatus dn_sh5_set_i64 (DnSh5 *f, const char *obj, const char *name, int64_t value);
DnStatus dn_sh5_get_str (DnSh5 *f, const char *obj, const char *name, char **value);
DnStatus dn_sh5_get_f64 (DnSh5 *f, const char *obj, const char *name, double *value);
DnStatus dn_sh5_get_i64 (DnSh5 *f, const char *obj, const char *name, int64_t *value);

/* A (rows, cols) float32 matrix, chunked (≤ 1024 rows × ≤ 64 columns), gzip 4, filled with NaN; written
 * by rows (dn_sh5_write_rows), read by blocks of rows and columns. */
DnStatus dn_sh5_matrix_create (DnSh5 *f, const char *path, int64_t rows, int64_t cols);
DnStatus dn_sh5_matrix_read (DnSh5 *f, const char *path, int64_t row0, int64_t nrows, int64_t col0, int64_t ncols,
                             float *data);

/* An image stack dataset read one item at a time. */
typedef struct DnSh5Stack DnSh5Stack;
/* Opens FILE's dataset @dset; gives its shape and whether it holds uint8 (else it is read as float). */
DnSh5Stack *dn_sh5_stack_open (const char *file, const char *dset, int *ndim, int64_t *shape, bool *is_u8,
                               DnStatus *status);
/* Reads item @i (all of dims 1..) as uint8 or float32 into @buf. */
DnStatus dn_sh5_stack_read (DnSh5Stack *s, int64_t i, void *buf);
void dn_sh5_stack_close (DnSh5Stack *s);
