/* dn-preprocess.h: DualNeuron's screening transforms (twins.md §8), reproduced on the host so that
 * 8-bit images give the same tensors as PIL + torchvision:
 *
 *   Resize(short side → resize_short)    PIL bilinear with its antialiasing support, 8-bit fixed point
 *   CenterCrop(crop)                     torchvision: zero padding when the image is smaller, offsets
 *                                        round((H − crop)/2) with Python's round-half-to-even
 *   Resize((out_h, out_w))               PIL bilinear again
 *   Grayscale (1-channel models)         PIL "L": (19595 R + 38470 G + 7471 B + 2^15) >> 16
 *   ToTensor                             v / 255 in float32
 *   Normalize(mean, std)                 (x − mean) / std in float32 (ImageNet; gray 0.449 / 0.226)
 *   aperture mask                        x · mask (background 0)
 *   norm rescale                         x · norm / (‖x‖₂ + 1e-8)
 *
 * Presets per architecture: V1 (DualNeuron v1): 256 → crop 167 → 93×93 gray, the twin's mask, norm 12;
 * V4: 256 → crop 236 → 100×100 RGB, the twin's mask, norm 40. builtin:gabor-v1: short side → 93,
 * crop 93, gray, ImageNet gray normalization, no mask, norm 12 (the whole image, undistorted, at the
 * model's resolution; a 93×93 image passes unchanged to the normalization).
 * Images already at the model's input size and in model space (built-in sets) skip the short-side
 * resize and the crop (DN_GEOMETRY_AUTO).
 *
 * Float images (float HDF5/.npy stacks, built-in sets) take the same steps with PIL's float ("F")
 * resampling (no rounding), gray = 0.299 R + 0.587 G + 0.114 B unrounded, and no division by 255.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "dn-dataset.h"
#include "dn-twin.h"

typedef enum
{
  DN_GEOMETRY_AUTO = 0, /* the preset's, except for model-space datasets: no short-side resize, no crop */
  DN_GEOMETRY_IMAGENET, /* short side to resize_short, centre crop, resize to the model (the preset) */
  DN_GEOMETRY_CROP,     /* centre crop, resize (DualNeuron's "rendered" images: no base transform) */
  DN_GEOMETRY_MODEL,    /* resize straight to the model's input size */
} DnGeometry;

typedef enum
{
  DN_MASK_MODEL = 0, /* the twin's own mask (none for builtin:gabor-v1) */
  DN_MASK_NONE,
  DN_MASK_FILE,      /* a .npy mask, resized as the original does (cv2 INTER_LINEAR, then min-max) */
} DnMaskMode;

typedef struct
{
  DnGeometry geometry;
  DnMaskMode mask;
  const char *mask_path; /* DN_MASK_FILE: e.g. .../V4ColorTaskDriven/mask.npy reproduces DualNeuron's
                            use of the V4 mask for every model */
} DnPreprocessOptions;

typedef struct
{
  int resize_short;   /* short side → this before cropping; 0 = skip */
  int crop;           /* centre crop side; 0 = none */
  int out_h, out_w;   /* the model's input */
  int out_channels;   /* 1 = gray, 3 = RGB */
  float mean[3], std[3];
  float norm;         /* L2 norm of each image after masking; 0 = no rescale */
  float *mask;        /* (out_h, out_w) or NULL; owned (dn_preprocess_clear) */
  char mask_source[512]; /* "model", "none" or the .npy path */
  char preset[32];       /* "v1", "v4", "gabor-v1" */
} DnPreprocess;

void dn_preprocess_options_init (DnPreprocessOptions *opts);
/* Fills @pp with the twin's preset and the options (geometry is applied by dn_preprocess_geometry). */
DnStatus dn_preprocess_init (DnPreprocess *pp, const DnTwin *twin, const DnPreprocessOptions *opts);
/* Applies a geometry choice for a dataset (AUTO: model-space datasets skip resize_short and crop). */
void dn_preprocess_geometry (DnPreprocess *pp, DnGeometry geometry, bool model_space);
void dn_preprocess_clear (DnPreprocess *pp);

/* out (out_channels, out_h, out_w) = the transforms above applied to @img. */
DnStatus dn_preprocess_image (const DnPreprocess *pp, const DnImage *img, float *out);

/* The geometric steps alone (for tests and exports): short-side resize, crop and resize to the model's
 * size, on an 8-bit or float image; the result has the input's channels and type. */
DnStatus dn_preprocess_geometry_only (const DnPreprocess *pp, const DnImage *img, DnImage *out);

/* PIL's Image.resize(size, BILINEAR) (PIL's resampling with antialiasing support) on an 8-bit or float
 * image with 1 or 3 channels. */
DnStatus dn_pil_resize_bilinear (const DnImage *in, int out_w, int out_h, DnImage *out);
/* cv2.resize(src, (out_w, out_h), INTER_LINEAR) of a float (h, w) map, in double. */
void dn_cv2_resize_linear (const double *src, int h, int w, double *dst, int out_h, int out_w);
