/* dn-cli-twin.c: the twin commands of dualneuron-cli: info, predict, gradient, import.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-bundle.h"
#include "dn-cli.h"
#include "dn-gabor.h"
#include "dn-h5.h"
#include "dn-npy.h"
#include "dn-twin-load.h"

/* Reads IN: a .npy file or an HDF5 dataset "file.h5:/path", as float32 (N,C,H,W). */
static DnStatus
read_input (const char *spec, float **data, int64_t shape[4])
{
  const char *colon = strstr (spec, ".h5:");
  if (!colon)
    colon = strstr (spec, ".hdf5:");
  int nd = 0;
  int64_t sh[8];
  if (colon)
    {
      const char *sep = strchr (colon, ':');
      char *file = strndup (spec, (size_t) (sep - spec));
      DnStatus st;
      DnH5 *h = file ? dn_h5_open (file, false, &st) : NULL;
      if (!h)
        {
          free (file);
          return file ? st : dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
        }
      st = dn_h5_read_f32 (h, sep + 1, data, &nd, sh);
      dn_h5_close (h);
      free (file);
      if (st != DN_OK)
        return st;
    }
  else
    {
      DnNpyArray *a = NULL;
      DnStatus st = dn_npy_load (spec, DN_NPY_FLOAT32, &a);
      if (st != DN_OK)
        return st;
      nd = a->ndim;
      for (int i = 0; i < nd; i++)
        sh[i] = a->shape[i];
      *data = malloc ((size_t) (a->numel ? a->numel : 1) * sizeof (float));
      if (*data)
        memcpy (*data, a->data, (size_t) a->numel * sizeof (float));
      dn_npy_array_free (a);
      if (!*data)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", spec);
    }
  if (nd != 4)
    {
      free (*data);
      *data = NULL;
      return dn_set_error (DN_ERROR_SHAPE, "%s: input has %d dimensions; expected (N,C,H,W)", spec, nd);
    }
  for (int i = 0; i < 4; i++)
    shape[i] = sh[i];
  return DN_OK;
}

static DnStatus
check_finite_host (const float *x, int64_t n, const char *what)
{
  for (int64_t i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return dn_set_error (DN_ERROR_NON_FINITE, "%s: value %lld is %s", what, (long long) i, isnan (x[i]) ? "NaN" : "infinite");
  return DN_OK;
}

static DnStatus
parse_members (const char *s, DnTwin *twin)
{
  int n = dn_twin_info (twin)->n_members;
  bool *use = calloc ((size_t) n, sizeof *use);
  if (!use)
    return dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
  const char *p = s;
  while (*p)
    {
      char *end;
      long v = strtol (p, &end, 10);
      if (end == p || v < 1 || v > n)
        {
          free (use);
          return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "--members %s: members are numbered 1 to %d", s, n);
        }
      use[v - 1] = true;
      p = *end == ',' ? end + 1 : end;
      if (*end && *end != ',')
        {
          free (use);
          return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "--members %s: expected a list like 1,3", s);
        }
    }
  DnStatus st = dn_twin_set_members (twin, use);
  free (use);
  return st;
}

typedef struct
{
  const char *model, *input, *output, *members;
  bool trained;
  int batch;
  long neuron;
} TwinArgs;

static int
parse_twin_args (int argc, char **argv, int i, TwinArgs *a, CliCommon *c)
{
  memset (a, 0, sizeof *a);
  a->batch = 64;
  a->neuron = -1;
  for (; i < argc; i++)
    {
      int j = dn_cli_parse_common (argc, argv, i, c);
      if (j < 0)
        return -1;
      if (j > i)
        {
          i = j - 1;
          continue;
        }
      const char *o = argv[i];
      bool has = i + 1 < argc;
      if (strcmp (o, "--model") == 0 && has)
        a->model = argv[++i];
      else if (strcmp (o, "--input") == 0 && has)
        a->input = argv[++i];
      else if (strcmp (o, "--output") == 0 && has)
        a->output = argv[++i];
      else if (strcmp (o, "--members") == 0 && has)
        a->members = argv[++i];
      else if (strcmp (o, "--batch") == 0 && has)
        a->batch = atoi (argv[++i]);
      else if (strcmp (o, "--neuron") == 0 && has)
        a->neuron = strtol (argv[++i], NULL, 10);
      else if (strcmp (o, "--trained-positions") == 0)
        a->trained = true;
      else
        {
          fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", o);
          return -1;
        }
    }
  if (a->batch < 1)
    {
      fprintf (stderr, "dualneuron-cli: --batch must be at least 1\n");
      return -1;
    }
  return i;
}

static DnTwin *
open_twin (DnDevice *dev, const TwinArgs *a)
{
  DnStatus st;
  DnTwin *twin = dn_twin_open (dev, a->model, &st);
  if (!twin)
    return NULL;
  dn_twin_set_centered (twin, !a->trained);
  if (a->members && parse_members (a->members, twin) != DN_OK)
    {
      dn_twin_free (twin);
      return NULL;
    }
  return twin;
}

/* Runs the model over the input in batches: predict (dx == NULL) writes responses (N,K); gradient writes
 * ∂r_neuron/∂x (N,C,H,W). */
static int
run_batches (DnDevice *dev, DnTwin *twin, const TwinArgs *a, bool gradient)
{
  const DnTwinInfo *info = dn_twin_info (twin);
  float *x = NULL;
  int64_t sh[4];
  DnStatus st = read_input (a->input, &x, sh);
  if (st != DN_OK)
    return dn_cli_fail ("reading the input");
  if ((sh[1] != info->in_channels && sh[1] != 3) || sh[2] != info->in_h || sh[3] != info->in_w)
    {
      free (x);
      dn_set_error (DN_ERROR_SHAPE, "%s: input is (%lld,%lld,%lld,%lld); %s takes (N,%d,%d,%d)", a->input,
                    (long long) sh[0], (long long) sh[1], (long long) sh[2], (long long) sh[3], dn_twin_name (twin),
                    info->in_channels, info->in_h, info->in_w);
      return dn_cli_fail ("checking the input");
    }
  int64_t N = sh[0], K = info->n_neurons, per = sh[1] * sh[2] * sh[3];
  if (gradient && (a->neuron < 0 || a->neuron >= K))
    {
      free (x);
      dn_set_error (DN_ERROR_INVALID_ARGUMENT, "--neuron %ld: the model has neurons 0 to %lld", a->neuron,
                    (long long) K - 1);
      return dn_cli_fail ("gradient");
    }
  size_t out_n = (size_t) (gradient ? N * per : N * K);
  float *out = malloc ((out_n ? out_n : 1) * sizeof *out);
  float *onehot = gradient ? calloc ((size_t) (a->batch * K), sizeof *onehot) : NULL;
  if (!out || (gradient && !onehot))
    {
      free (x);
      free (out);
      free (onehot);
      dn_set_error (DN_ERROR_NO_MEMORY, "out of memory");
      return dn_cli_fail ("allocating");
    }
  for (int64_t b = 0; b < a->batch && gradient; b++)
    onehot[b * K + a->neuron] = 1;
  if ((st = check_finite_host (x, N * per, a->input)) != DN_OK)
    goto out;
  for (int64_t s = 0; s < N && st == DN_OK; s += a->batch)
    {
      int64_t n = N - s < a->batch ? N - s : a->batch;
      DnTensor *tx = dn_tensor_new4 (dev, n, sh[1], sh[2], sh[3], &st);
      DnTensor *ty = tx ? dn_tensor_new2 (dev, n, K, &st) : NULL;
      DnTensor *tdx = ty && gradient ? dn_tensor_new4 (dev, n, sh[1], sh[2], sh[3], &st) : NULL;
      DnTensor *tdo = tdx ? dn_tensor_new2 (dev, n, K, &st) : NULL;
      if (ty && (!gradient || tdo))
        {
          st = dn_tensor_upload (tx, x + s * per, n * per);
          if (st == DN_OK && gradient)
            st = dn_tensor_upload (tdo, onehot, n * K);
          if (st == DN_OK)
            st = gradient ? dn_twin_forward_backward (twin, ty, tdx, tx, tdo) : dn_twin_forward (twin, ty, tx);
          if (st == DN_OK)
            st = gradient ? dn_tensor_download (tdx, out + s * per, n * per) : dn_tensor_download (ty, out + s * K, n * K);
        }
      dn_tensor_free (tx);
      dn_tensor_free (ty);
      dn_tensor_free (tdx);
      dn_tensor_free (tdo);
    }
  if (st == DN_OK)
    {
      int64_t oshape[4] = { N, gradient ? sh[1] : K, sh[2], sh[3] };
      st = dn_npy_save (a->output, DN_NPY_FLOAT32, gradient ? 4 : 2, oshape, out);
    }
out:
  free (x);
  free (out);
  free (onehot);
  if (st != DN_OK)
    return dn_cli_fail (gradient ? "gradient" : "predict");
  printf ("%s: %lld × %s written to %s\n", gradient ? "gradient" : "predict", (long long) N,
          gradient ? "image gradient" : "responses", a->output);
  return 0;
}

static int
predict_or_gradient (int argc, char **argv, bool gradient)
{
  TwinArgs a;
  CliCommon c;
  dn_cli_common_init (&c);
  if (parse_twin_args (argc, argv, 2, &a, &c) < 0)
    return 2;
  if (!a.model || !a.input || !a.output || (gradient && a.neuron < 0))
    {
      fprintf (stderr, "usage: dualneuron-cli %s --model MODEL --input IN.npy|FILE.h5:/path --output OUT.npy%s "
                       "[--backend cpu|vulkan] [--members 1,3] [--trained-positions] [--batch N]\n",
               gradient ? "gradient" : "predict", gradient ? " --neuron K" : "");
      return 2;
    }
  DnDevice *dev = dn_cli_device (&c);
  if (!dev)
    return 1;
  DnTwin *twin = open_twin (dev, &a);
  int rc = twin ? run_batches (dev, twin, &a, gradient) : dn_cli_fail ("opening the model");
  dn_twin_free (twin);
  dn_device_free (dev);
  return rc;
}

int
dn_cli_predict (int argc, char **argv)
{
  return predict_or_gradient (argc, argv, false);
}

int
dn_cli_gradient (int argc, char **argv)
{
  return predict_or_gradient (argc, argv, true);
}

static void
print_layers (const DnTwinInfo *info)
{
  printf ("layers:\n");
  if (info->arch == DN_ARCH_V1_CONVNEXT)
    printf ("  input                      (N,1,93,93)   a 1-channel image counts as 3 equal channels\n"
            "  patch embedding 4×4 s4     (N,40,23,23)  conv 3→40 (+ bias)\n"
            "  stem LayerNorm             (N,40,23,23)  channels-first, eps 1e-6\n"
            "  stage 0, blocks 0–1        (N,40,23,23)  dwconv 7×7 → LN → linear 40→160 → GELU → GRN → linear 160→40 (+ residual)\n"
            "  stage 1 downsampling       (N,80,11,11)  LN → conv 2×2 s2 40→80\n"
            "  BatchNorm + GELU           (N,80,11,11)  eval, eps 1e-5; exact GELU\n"
            "  Gaussian readout           (N,%d)       bilinear at mu (centered: 0,0), weights (80,%d) + bias\n"
            "  output                     (N,%d)       elu(y − 1) + 1; ensemble = mean of members\n",
            info->n_neurons, info->n_neurons, info->n_neurons);
  else if (info->arch == DN_ARCH_V4_RESNET)
    printf ("  input                      (N,%d,100,100)\n"
            "  conv1 7×7 s2 + BN + ReLU   (N,64,50,50)\n"
            "  maxpool 3 s2 p1            (N,64,25,25)\n"
            "  layer1 (3 bottlenecks)     (N,256,25,25)\n"
            "  layer2 (4 bottlenecks)     (N,512,13,13)\n"
            "  layer3.0                   (N,1024,7,7)\n"
            "  OutBatchNorm + ReLU        (N,1024,7,7)\n"
            "  Gaussian readout           (N,%d)\n"
            "  output                     (N,%d)       elu(y − 1) + 1; ensemble = mean of members\n",
            info->in_channels, info->n_neurons, info->n_neurons);
  else
    printf ("  input                      (N,1,93,93)\n"
            "  Gabor filters              (N,168)       96 simple-cell filters + 24 quadrature pairs\n"
            "  simple: f/3, complex: (f0² + f90²)/24    (N,%d)\n"
            "  output                     (N,%d)       elu(y − 1) + 1\n",
            info->n_neurons, info->n_neurons);
}

int
dn_cli_info (int argc, char **argv)
{
  CliCommon c;
  dn_cli_common_init (&c);
  const char *model = NULL;
  for (int i = 2; i < argc; i++)
    {
      int j = dn_cli_parse_common (argc, argv, i, &c);
      if (j < 0)
        return 2;
      if (j > i)
        {
          i = j - 1;
          continue;
        }
      if (!model && argv[i][0] != '-')
        model = argv[i];
      else
        {
          fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", argv[i]);
          return 2;
        }
    }
  if (!model)
    {
      fprintf (stderr, "usage: dualneuron-cli info MODEL   (builtin:gabor-v1, a bundle, a checkpoint or a folder)\n");
      return 2;
    }
  if (c.dev.backend == DN_BACKEND_AUTO)
    c.dev.backend = DN_BACKEND_CPU; /* nothing is computed */
  DnDevice *dev = dn_cli_device (&c);
  if (!dev)
    return 1;
  DnStatus st;
  DnTwin *twin = dn_twin_open (dev, model, &st);
  if (!twin)
    {
      dn_device_free (dev);
      return dn_cli_fail ("opening the model");
    }
  const DnTwinInfo *info = dn_twin_info (twin);
  int64_t mh, mw, nc;
  const float *mask = dn_twin_mask (twin, &mh, &mw);
  const float *corr = dn_twin_correlations (twin, &nc);
  printf ("model:        %s\n", model);
  printf ("name:         %s\n", dn_twin_name (twin));
  printf ("architecture: %s\n", info->arch_name);
  printf ("members:      %d\n", info->n_members);
  printf ("neurons:      %d\n", info->n_neurons);
  printf ("parameters:   %lld per member\n", (long long) info->n_parameters);
  printf ("input:        (N,%d,%d,%d), L2 norm %g\n", info->in_channels, info->in_h, info->in_w, dn_twin_input_norm (twin));
  if (mask)
    printf ("mask:         %lld×%lld\n", (long long) mh, (long long) mw);
  if (corr)
    {
      double s = 0;
      for (int64_t i = 0; i < nc; i++)
        s += corr[i];
      printf ("correlations: %lld values, mean %.3f\n", (long long) nc, nc ? s / (double) nc : 0.0);
    }
  if (info->arch == DN_ARCH_GABOR)
    printf ("ground truth: %d simple and %d complex cells (dualneuron-cli info shows the layers; the app shows each RF)\n",
            96, info->n_neurons - 96);
  print_layers (info);
  dn_twin_free (twin);
  dn_device_free (dev);
  return 0;
}

int
dn_cli_import (int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: dualneuron-cli import FOLDER|CHECKPOINT OUT.h5\n"
                       "  FOLDER: a DualNeuron twins/<Model>/ folder (member checkpoints, mask.npy, correlations.npy)\n");
      return 2;
    }
  DnTwinSource src;
  DnStatus st = dn_twin_source_from_path (argv[2], &src);
  if (st != DN_OK)
    return dn_cli_fail ("import");
  /* validate by building the twin on the CPU before writing anything */
  DnDeviceOptions o;
  dn_device_options_init (&o);
  o.backend = DN_BACKEND_CPU;
  o.n_threads = 1;
  DnDevice *dev = dn_device_new (&o, &st);
  DnTwin *twin = dev ? dn_twin_new_from_source (dev, &src, &st) : NULL;
  if (twin)
    st = dn_bundle_write (argv[3], &src);
  int rc = 0;
  if (!twin || st != DN_OK)
    rc = dn_cli_fail ("import");
  else
    printf ("imported %s: %d member(s), %d neurons%s%s → %s\n", dn_twin_name (twin), src.n_members,
            dn_twin_info (twin)->n_neurons, src.mask ? ", mask" : "", src.correlations ? ", correlations" : "", argv[3]);
  dn_twin_free (twin);
  dn_device_free (dev);
  dn_twin_source_clear (&src);
  return rc;
}
