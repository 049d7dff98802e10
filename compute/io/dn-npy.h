/* dn-npy.h: NumPy .npy files: a reader (versions 1.0, 2.0, 3.0) and an atomic writer.
 *
 * Reads the header (a Python dict literal: 'descr', 'fortran_order', 'shape') with a small literal
 * parser, accepts the dtypes <f4 <f8 <f2 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1 (also big-endian '>'),
 * and converts the values to float32 or float64 as the caller asks, in C order (Fortran-ordered files are
 * transposed). Object arrays (pickles), structured and complex dtypes are refused. Writes float32 or
 * float64 arrays atomically: a temporary file in the same folder, fsync, rename, fsync of the folder.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

#define DN_NPY_MAX_DIMS 16

typedef enum
{
  DN_NPY_FLOAT32 = 0,
  DN_NPY_FLOAT64,
  DN_NPY_FLOAT16,
  DN_NPY_INT64,
  DN_NPY_INT32,
  DN_NPY_INT16,
  DN_NPY_INT8,
  DN_NPY_UINT64,
  DN_NPY_UINT32,
  DN_NPY_UINT16,
  DN_NPY_UINT8,
  DN_NPY_BOOL,
} DnNpyDtype;

/* A loaded array. Read-only for callers; free with dn_npy_array_free(). */
typedef struct
{
  int ndim;                        /* 0 (a scalar) .. DN_NPY_MAX_DIMS */
  int64_t shape[DN_NPY_MAX_DIMS];  /* sizes; entries past ndim are 0 */
  int64_t numel;                   /* product of shape (1 for a scalar) */
  DnNpyDtype dtype;                /* of data: DN_NPY_FLOAT32 or DN_NPY_FLOAT64, as asked */
  DnNpyDtype src_dtype;            /* in the file */
  bool src_fortran_order;          /* the file was Fortran-ordered (data has been transposed) */
  int version;                     /* the file's format major version (1, 2 or 3) */
  void *data;                      /* numel float or double values, C order, 64-byte aligned */
} DnNpyArray;

/**
 * dn_npy_load:
 * @path: the .npy file
 * @want: DN_NPY_FLOAT32 or DN_NPY_FLOAT64: the type of the returned values
 * @out: (out) (transfer full): the array
 *
 * Returns: DN_OK; DN_ERROR_IO; DN_ERROR_FORMAT (bad magic/header, truncated data; the message starts
 * with @path); DN_ERROR_UNSUPPORTED (object, structured or complex dtypes); DN_ERROR_INVALID_ARGUMENT;
 * DN_ERROR_NO_MEMORY.
 */
DnStatus dn_npy_load (const char *path, DnNpyDtype want, DnNpyArray **out);
/* As dn_npy_load() on bytes in memory; @name is used in messages (NULL: "(memory)"). */
DnStatus dn_npy_load_memory (const void *data, size_t size, const char *name, DnNpyDtype want,
                             DnNpyArray **out);
/* NULL is a no-op. */
void dn_npy_array_free (DnNpyArray *a);

/**
 * dn_npy_save:
 * @path: where to write (replaced atomically; the folder must exist and be writable)
 * @dtype: DN_NPY_FLOAT32 or DN_NPY_FLOAT64: the type of @data, written as '<f4' / '<f8'
 * @ndim: 0 .. DN_NPY_MAX_DIMS
 * @shape: (array length=ndim): the sizes
 * @data: product(shape) values in C order
 *
 * Writes format version 1.0 (the header of a float array of <= DN_NPY_MAX_DIMS dimensions always fits).
 */
DnStatus dn_npy_save (const char *path, DnNpyDtype dtype, int ndim, const int64_t *shape, const void *data);

/* "float32", "int64", ... */
const char *dn_npy_dtype_name (DnNpyDtype dtype);
