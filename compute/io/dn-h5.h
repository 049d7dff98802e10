/* dn-h5.h: the few HDF5 operations the engine needs (fixtures, twin bundles, result files), with
 * DnStatus errors that name the file and the object, and no HDF5 error spew on stderr. All calls are
 * serialized by one lock (Debian's libhdf5 is not thread-safe).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dn-status.h"

#define DN_H5_MAX_DIMS 8

typedef struct DnH5 DnH5;

/* Opens an existing file read-only (@write false) or read-write. */
DnH5 *dn_h5_open (const char *path, bool write, DnStatus *status);
/* Creates (truncates) a file. */
DnH5 *dn_h5_create (const char *path, DnStatus *status);
DnStatus dn_h5_close (DnH5 *h);
const char *dn_h5_path (const DnH5 *h);

bool dn_h5_exists (DnH5 *h, const char *path);
/* Reads a numeric dataset converted to float32 (malloc'd, free()), with its shape. */
DnStatus dn_h5_read_f32 (DnH5 *h, const char *path, float **data, int *ndim, int64_t *shape);
/* Same, float64. */
DnStatus dn_h5_read_f64 (DnH5 *h, const char *path, double **data, int *ndim, int64_t *shape);
/* Reads a numeric scalar attribute of object @obj ("/" for the file). */
DnStatus dn_h5_read_attr_f64 (DnH5 *h, const char *obj, const char *name, double *value);
/* Reads a string attribute (malloc'd). */
DnStatus dn_h5_read_attr_str (DnH5 *h, const char *obj, const char *name, char **value);

/* Names of the links in group @path, in creation order if tracked, else by name (malloc'd array of
 * malloc'd strings; returns the count, -1 on error). */
int dn_h5_list (DnH5 *h, const char *path, char ***names, DnStatus *status);

/* Writes a float32 dataset (creating intermediate groups); @chunked + gzip level 4 when @compress. */
DnStatus dn_h5_write_f32 (DnH5 *h, const char *path, const float *data, int ndim, const int64_t *shape, bool compress);
DnStatus dn_h5_write_f64 (DnH5 *h, const char *path, const double *data, int ndim, const int64_t *shape, bool compress);
DnStatus dn_h5_write_i64 (DnH5 *h, const char *path, const int64_t *data, int ndim, const int64_t *shape, bool compress);
DnStatus dn_h5_read_i64 (DnH5 *h, const char *path, int64_t **data, int *ndim, int64_t *shape);
DnStatus dn_h5_write_attr_f64 (DnH5 *h, const char *obj, const char *name, double value);
DnStatus dn_h5_write_attr_str (DnH5 *h, const char *obj, const char *name, const char *value);
DnStatus dn_h5_create_group (DnH5 *h, const char *path);
DnStatus dn_h5_flush (DnH5 *h);
