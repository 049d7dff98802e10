/* dn-dataset.h: image sets for screening: decoded images (PNG/JPEG as PIL decodes them), folders of
 * images, HDF5 and .npy image stacks, and built-in generated stimulus sets.
 *
 * A dataset is an ordered list of items, each with a stable id (the same string in every run over the
 * same data), an optional class label and, for built-in sets, named numeric parameters. Items are loaded
 * one at a time (thread-safe), so that a run's memory does not grow with the dataset. An item that cannot
 * be read fails alone, with a message naming it and the reason.
 *
 * Spec strings (dn_dataset_open):
 *   PATH                       a folder: *.png, *.jpg, *.jpeg (any case) found recursively, sorted by
 *                              their path relative to the folder (byte order, as Python's sorted());
 *                              the first sub-folder of each file is its class (ImageNet/ImageFolder
 *                              style: labels are the sorted class names; files at the top have none)
 *   FILE.h5:/dataset           an HDF5 stack (N,H,W) or (N,C,H,W) (also (N,H,W,C)), C = 1 or 3;
 *                              uint8 = 8-bit pixels, float = values in [0,1]
 *   FILE.npy                   the same as a .npy array (uint8, float32 or float64, C order)
 *   builtin:NAME[:k=v,...]     generated at the model's input size (see dn-dataset-builtin.c):
 *                              gratings, plaids, noise, shapes
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

/* Images ------------------------------------------------------------------------------------------- */

typedef enum
{
  DN_PIXEL_U8 = 0, /* 8-bit pixels, 0..255 */
  DN_PIXEL_F32,    /* float pixels, nominally in [0,1] */
} DnPixelType;

typedef struct
{
  int width, height;
  int channels;     /* 1 (gray) or 3 (RGB), interleaved (H,W,C) */
  DnPixelType type;
  void *pixels;     /* width·height·channels uint8_t or float, malloc'd; owned by the image */
} DnImage;

/* Images above this many pixels are refused (PIL's decompression-bomb threshold). */
#define DN_IMAGE_DEFAULT_MAX_PIXELS 89478485

/* Frees the pixels and zeroes the struct (a zeroed image is a no-op). */
void dn_image_clear (DnImage *img);
/* Allocates an image (pixels uninitialized). */
DnStatus dn_image_alloc (DnImage *img, int width, int height, int channels, DnPixelType type);

/* Decodes PNG or JPEG bytes (recognised by their signature) into 8-bit gray or RGB, as PIL's
 * Image.open followed by convert("RGB") gives (gray stays 1 channel: converting it to RGB and back is
 * exact). Alpha is dropped, palettes are expanded, 1/2/4-bit gray is scaled to 8 bits, 16-bit samples
 * keep their high byte (PIL does the same for 16-bit colour; it saturates 16-bit gray instead), CMYK
 * JPEGs are converted as PIL does (Adobe-inverted). Truncated or corrupt data, zero-byte files and
 * images above @max_pixels (0 = DN_IMAGE_DEFAULT_MAX_PIXELS) give DN_ERROR_FORMAT naming @name. */
DnStatus dn_image_decode (const uint8_t *data, size_t size, const char *name, int64_t max_pixels, DnImage *out);
/* Reads and decodes a file. */
DnStatus dn_image_load (const char *path, int64_t max_pixels, DnImage *out);
/* Writes an 8-bit image as PNG, or as baseline JPEG at @quality (1..100), for exports and tests. */
DnStatus dn_image_save_png (const DnImage *img, const char *path);
DnStatus dn_image_save_jpeg (const DnImage *img, const char *path, int quality);

/* Datasets ----------------------------------------------------------------------------------------- */

typedef enum
{
  DN_DATASET_FOLDER = 1,
  DN_DATASET_H5,
  DN_DATASET_NPY,
  DN_DATASET_BUILTIN,
} DnDatasetKind;

typedef struct
{
  int64_t max_pixels; /* larger images are reported and skipped; 0 = DN_IMAGE_DEFAULT_MAX_PIXELS */
  int builtin_size;   /* side of built-in images when the spec has no size=; 0 = 93 */
} DnDatasetOptions;

typedef struct DnDataset DnDataset;

void dn_dataset_options_init (DnDatasetOptions *opts);
/* Opens a dataset (see the spec strings above). A folder is listed at once; stacks read their shape;
 * built-in sets generate items on demand. NULL on failure (status + dn_last_error()). */
DnDataset *dn_dataset_open (const char *spec, const DnDatasetOptions *opts, DnStatus *status);
void dn_dataset_free (DnDataset *ds);

DnDatasetKind dn_dataset_kind (const DnDataset *ds);
const char *dn_dataset_kind_name (const DnDataset *ds); /* "folder", "hdf5", "npy", "builtin" */
const char *dn_dataset_spec (const DnDataset *ds);      /* as given to dn_dataset_open */
int64_t dn_dataset_count (const DnDataset *ds);
/* FNV-1a 64 over the item ids, each followed by '\n', as 16 hex digits (the dataset's identity). */
const char *dn_dataset_hash (const DnDataset *ds);
/* true for sets generated at the model's input size (built-ins): screening then skips the
 * short-side resize and the centre crop (DN_GEOMETRY_AUTO, dn-preprocess.h). */
bool dn_dataset_is_model_space (const DnDataset *ds);

/* Item @i's stable id: the relative path (folder), the index (stacks), or the generator parameters
 * (built-ins). Written into @buf (truncated to @size); returns @buf. */
const char *dn_dataset_item_id (const DnDataset *ds, int64_t i, char *buf, size_t size);
/* Class label of item @i, or -1. */
int dn_dataset_item_label (const DnDataset *ds, int64_t i);
int dn_dataset_n_labels (const DnDataset *ds);
const char *dn_dataset_label_name (const DnDataset *ds, int label);
/* Named parameters of built-in items (0 for other datasets). */
int dn_dataset_n_params (const DnDataset *ds);
const char *dn_dataset_param_name (const DnDataset *ds, int j);
void dn_dataset_item_params (const DnDataset *ds, int64_t i, double *params);

/* Loads item @i (thread-safe). On failure the message names the item and the reason. */
DnStatus dn_dataset_load (DnDataset *ds, int64_t i, DnImage *out);
