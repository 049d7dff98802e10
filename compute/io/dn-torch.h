/* dn-torch.h: PyTorch checkpoint (state dict) reader, without Python.
 *
 * Reads what torch.save() writes for a state dict:
 *   - the zip format (torch >= 1.6): `<prefix>/data.pkl` (a pickle whose persistent ids name storages)
 *     plus one `<prefix>/data/<key>` entry of raw bytes per storage, and `<prefix>/byteorder` when the
 *     saver was not little-endian-by-default; entries stored or deflated, ZIP64 or not;
 *   - the legacy format (torch < 1.6): consecutive pickles (magic number, protocol 1001, sys_info, the
 *     object with persistent ids, the list of storage keys), then for each key an int64 little-endian
 *     element count followed by the storage's bytes.
 * The object is a dict of tensors (an OrderedDict, usually with `_metadata`), bare or wrapped in a dict
 * under "state_dict" or "model_state_dict". The pickle runs in dn-pickle's safe VM with an allow-list
 * (collections.OrderedDict, torch._utils._rebuild_tensor{,_v2,_v3}, torch._utils._rebuild_parameter
 * {,_with_state}, torch.*Storage, torch.<dtype>); any other global (os.system, builtins.eval, ...) is
 * refused with an error naming the file and the global. Nothing is imported or executed.
 *
 * Every tensor is converted to contiguous (C order) float32 on load, whatever its dtype (float32/64/16,
 * bfloat16, int64/32/16/8, uint8, bool), storage offset and strides; its original dtype is kept. All
 * values live in one block owned by the DnTorchStateDict. Nothing here touches a device.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

#define DN_TORCH_MAX_DIMS 8

typedef enum
{
  DN_TORCH_FLOAT32 = 0,
  DN_TORCH_FLOAT64,
  DN_TORCH_FLOAT16,
  DN_TORCH_BFLOAT16,
  DN_TORCH_INT64,
  DN_TORCH_INT32,
  DN_TORCH_INT16,
  DN_TORCH_INT8,
  DN_TORCH_UINT8,
  DN_TORCH_BOOL,
} DnTorchDtype;

typedef enum
{
  DN_TORCH_FORMAT_ZIP = 0, /* torch >= 1.6 default */
  DN_TORCH_FORMAT_LEGACY,  /* _use_new_zipfile_serialization=False, or torch < 1.6 */
} DnTorchFormat;

/* One state-dict entry. Read-only for callers; owned by its DnTorchStateDict. */
typedef struct
{
  const char *name;                  /* the state-dict key, NUL-terminated */
  int ndim;                          /* 0 (a scalar, e.g. num_batches_tracked) .. DN_TORCH_MAX_DIMS */
  int64_t shape[DN_TORCH_MAX_DIMS];  /* sizes; entries past ndim are 0 */
  int64_t numel;                     /* product of shape (1 for a scalar) */
  float *data;                       /* numel values, contiguous, C order, converted to float32
                                      * (int64 exact up to 2^24); 64-byte aligned */
  DnTorchDtype src_dtype;            /* the dtype in the file */
} DnTorchTensor;

typedef struct DnTorchStateDict DnTorchStateDict;

/**
 * dn_torch_load:
 * @path: a checkpoint file (.pth, .pth.tar, .pt)
 * @out: (out) (transfer full): the state dict, free with dn_torch_state_dict_free()
 *
 * Returns: DN_OK; DN_ERROR_IO when the file cannot be read; DN_ERROR_FORMAT when it is not a supported
 * checkpoint, is corrupt or truncated, or names a global outside the allow-list; DN_ERROR_UNSUPPORTED for
 * valid checkpoints this reader does not handle (TorchScript archives, old tar format, complex dtypes);
 * DN_ERROR_NO_MEMORY. The message (dn_last_error) starts with @path and names the problem.
 */
DnStatus dn_torch_load (const char *path, DnTorchStateDict **out);

/**
 * dn_torch_load_memory:
 * @data: the checkpoint's bytes (only read during the call)
 * @size: their number
 * @name: what error messages call the data (a file name), or NULL for "(memory)"
 * @out: (out) (transfer full): the state dict
 *
 * As dn_torch_load() on bytes already in memory (fuzzing, embedded checkpoints).
 */
DnStatus dn_torch_load_memory (const void *data, size_t size, const char *name, DnTorchStateDict **out);

/* Frees the state dict and every tensor in it. NULL is a no-op. */
void dn_torch_state_dict_free (DnTorchStateDict *sd);

/* Number of entries. */
size_t dn_torch_state_dict_size (const DnTorchStateDict *sd);
/* The @i-th entry in file order (the order of the pickled dict), or NULL when @i is out of range. */
const DnTorchTensor *dn_torch_state_dict_at (const DnTorchStateDict *sd, size_t i);
/* The entry named @name, or NULL. */
const DnTorchTensor *dn_torch_state_dict_get (const DnTorchStateDict *sd, const char *name);

DnTorchFormat dn_torch_state_dict_format (const DnTorchStateDict *sd);
/* The zip archive's top folder (e.g. "archive" or "<name>.pth"), or NULL for the legacy format. */
const char *dn_torch_state_dict_archive_prefix (const DnTorchStateDict *sd);
/* The key of the outer dict the state dict was found under ("state_dict", "model_state_dict"), or NULL
 * when the file holds a bare state dict. */
const char *dn_torch_state_dict_wrapper_key (const DnTorchStateDict *sd);
/* Total float32 values over all entries. */
int64_t dn_torch_state_dict_numel (const DnTorchStateDict *sd);

/* "float32", "float64", ... */
const char *dn_torch_dtype_name (DnTorchDtype dtype);
