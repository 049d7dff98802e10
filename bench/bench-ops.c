/* bench-ops.c: throughput of the conv family's heavy ops (GEMM and conv2d, forward and backward) on one
 * backend, in GFLOP/s, printed as a table. The CPU backend's GEMM is shown beside a raw cblas_sgemm of
 * the same shape (the ceiling it should reach).
 *
 *   bench-ops [--backend cpu|vulkan] [--device N] [--threads N] [--quick] [--min-time S]
 *
 * Shapes: GEMM 512³ and 1024³, the V1 pointwise conv as a GEMM (rows N·23·23, K 40, N 160); conv2d: the
 * V1 7×7 depthwise conv on (128,40,23,23), the V1 patch conv 3→40 k4 s4 on (128,3,93,93), a ResNet
 * 3×3 conv (32,128,13,13)→128. --quick divides the batches by 8 and the GEMMs by 2–4 so that a run on
 * lavapipe stays under two minutes. Backward = the input and weight gradients (2× the forward's FLOPs).
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-ops.h"

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static double min_time = 0.3;

static void
die (const char *what, DnStatus st)
{
  fprintf (stderr, "bench-ops: %s: %s: %s\n", what, dn_status_to_string (st), dn_last_error ());
  exit (1);
}

#define CHECK(expr)                                                                                    \
  do                                                                                                   \
    {                                                                                                  \
      DnStatus st_ = (expr);                                                                           \
      if (st_ != DN_OK)                                                                                \
        die (#expr, st_);                                                                              \
    }                                                                                                  \
  while (0)

static DnTensor *
tensor (DnDevice *dev, int ndim, const int64_t *shape, float value)
{
  DnStatus st;
  DnTensor *t = dn_tensor_new (dev, ndim, shape, &st);
  if (!t)
    die ("dn_tensor_new", st);
  /* small pseudo-random values (no denormals, no overflow) */
  int64_t n = dn_tensor_numel (t);
  float *h = malloc ((size_t) n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    h[i] = value * (float) ((i * 2654435761u) % 1000) / 1000.0f - value / 2;
  CHECK (dn_tensor_upload (t, h, n));
  free (h);
  return t;
}
#define T(dev, v, ndim, ...) tensor ((dev), (ndim), (const int64_t[]){ __VA_ARGS__ }, (v))

typedef void (*RunFn) (void *ctx);

/* Seconds per call of fn (after one warm-up call), timing repeated calls for at least min_time. */
static double
time_it (DnDevice *dev, RunFn fn, void *ctx)
{
  fn (ctx);
  CHECK (dn_device_sync (dev));
  int reps = 0;
  double t0 = now (), t;
  do
    {
      fn (ctx);
      reps++;
      CHECK (dn_device_sync (dev));
      t = now () - t0;
    }
  while (t < min_time && reps < 1000);
  return t / reps;
}

/* GEMM ------------------------------------------------------------------------------------------- */

typedef struct
{
  DnTensor *a, *b, *c, *dc, *da, *db;
  float *ha, *hb, *hc;
  int64_t M, N, K;
  bool linear; /* as dn_linear (weight (N,K)) rather than dn_matmul */
} GemmCtx;

static void
gemm_fwd (void *ctx)
{
  GemmCtx *g = ctx;
  if (g->linear)
    CHECK (dn_linear_forward (g->c, g->a, g->b, NULL));
  else
    CHECK (dn_matmul_forward (g->c, g->a, g->b, false, false, 1));
}

static void
gemm_bwd (void *ctx)
{
  GemmCtx *g = ctx;
  if (g->linear)
    CHECK (dn_linear_backward (g->da, g->db, NULL, g->dc, g->a, g->b));
  else
    CHECK (dn_matmul_backward (g->da, g->db, g->dc, g->a, g->b, false, false, 1));
}

static void
gemm_raw (void *ctx)
{
  GemmCtx *g = ctx;
  cblas_sgemm (CblasRowMajor, CblasNoTrans, g->linear ? CblasTrans : CblasNoTrans, (int) g->M, (int) g->N,
               (int) g->K, 1.0f, g->ha, (int) g->K, g->hb, g->linear ? (int) g->K : (int) g->N, 0.0f, g->hc,
               (int) g->N);
}

static void
bench_gemm (DnDevice *dev, const char *name, int64_t M, int64_t N, int64_t K, bool linear)
{
  GemmCtx g = { .M = M, .N = N, .K = K, .linear = linear };
  g.a = T (dev, 1, 2, M, K);
  g.b = linear ? T (dev, 1, 2, N, K) : T (dev, 1, 2, K, N);
  g.c = T (dev, 0, 2, M, N);
  g.dc = T (dev, 1, 2, M, N);
  g.da = T (dev, 0, 2, M, K);
  g.db = linear ? T (dev, 0, 2, N, K) : T (dev, 0, 2, K, N);
  double flops = 2.0 * (double) M * (double) N * (double) K;
  double tf = time_it (dev, gemm_fwd, &g), tb = time_it (dev, gemm_bwd, &g);
  char raw[32] = "";
  if (dn_device_is_cpu (dev))
    {
      g.ha = malloc ((size_t) (M * K) * sizeof (float));
      g.hb = malloc ((size_t) (K * N) * sizeof (float));
      g.hc = malloc ((size_t) (M * N) * sizeof (float));
      for (int64_t i = 0; i < M * K; i++)
        g.ha[i] = (float) (i % 7) * 0.1f;
      for (int64_t i = 0; i < K * N; i++)
        g.hb[i] = (float) (i % 5) * 0.1f;
      double tr = time_it (dev, gemm_raw, &g);
      snprintf (raw, sizeof raw, "%9.1f", flops / tr * 1e-9);
      free (g.ha), free (g.hb), free (g.hc);
    }
  printf ("%-34s %9.3f %9.1f %9.3f %9.1f %s\n", name, tf * 1e3, flops / tf * 1e-9, tb * 1e3, 2 * flops / tb * 1e-9,
          raw);
  dn_tensor_free (g.a), dn_tensor_free (g.b), dn_tensor_free (g.c), dn_tensor_free (g.dc), dn_tensor_free (g.da),
    dn_tensor_free (g.db);
}

/* Conv2d ----------------------------------------------------------------------------------------- */

typedef struct
{
  DnTensor *x, *w, *b, *y, *dy, *dx, *dw;
  DnConv2dParams p;
} ConvCtx;

static void
conv_fwd (void *ctx)
{
  ConvCtx *c = ctx;
  CHECK (dn_conv2d_forward (c->y, c->x, c->w, c->b, &c->p));
}

static void
conv_bwd (void *ctx)
{
  ConvCtx *c = ctx;
  CHECK (dn_conv2d_backward (c->dx, c->dw, NULL, c->dy, c->x, c->w, &c->p));
}

static void
conv_dinp (void *ctx)
{
  ConvCtx *c = ctx;
  CHECK (dn_conv2d_backward (c->dx, NULL, NULL, c->dy, c->x, c->w, &c->p));
}

static void
bench_conv (DnDevice *dev, const char *name, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t K,
            int s, int pad, int groups)
{
  ConvCtx c = { .p = { s, s, pad, pad, groups } };
  int64_t Ho = dn_conv2d_out_size (H, K, s, pad), Wo = dn_conv2d_out_size (W, K, s, pad);
  c.x = T (dev, 1, 4, N, Cin, H, W);
  c.w = T (dev, 0.2f, 4, Cout, Cin / groups, K, K);
  c.b = T (dev, 1, 1, Cout);
  c.y = T (dev, 0, 4, N, Cout, Ho, Wo);
  c.dy = T (dev, 1, 4, N, Cout, Ho, Wo);
  c.dx = T (dev, 0, 4, N, Cin, H, W);
  c.dw = T (dev, 0, 4, Cout, Cin / groups, K, K);
  double flops = 2.0 * (double) (N * Cout * Ho * Wo) * (double) (Cin / groups * K * K);
  double tf = time_it (dev, conv_fwd, &c), tb = time_it (dev, conv_bwd, &c), ti = time_it (dev, conv_dinp, &c);
  printf ("%-34s %9.3f %9.1f %9.3f %9.1f %9.1f\n", name, tf * 1e3, flops / tf * 1e-9, tb * 1e3, 2 * flops / tb * 1e-9,
          flops / ti * 1e-9);
  dn_tensor_free (c.x), dn_tensor_free (c.w), dn_tensor_free (c.b), dn_tensor_free (c.y), dn_tensor_free (c.dy),
    dn_tensor_free (c.dx), dn_tensor_free (c.dw);
}

int
main (int argc, char **argv)
{
  DnDeviceOptions opts;
  dn_device_options_init (&opts);
  opts.backend = DN_BACKEND_CPU;
  bool quick = false;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--backend") == 0 && i + 1 < argc)
        {
          i++;
          opts.backend = strcmp (argv[i], "vulkan") == 0 ? DN_BACKEND_VULKAN : DN_BACKEND_CPU;
          if (strcmp (argv[i], "vulkan") != 0 && strcmp (argv[i], "cpu") != 0)
            {
              fprintf (stderr, "bench-ops: --backend cpu|vulkan\n");
              return 2;
            }
        }
      else if (strcmp (argv[i], "--device") == 0 && i + 1 < argc)
        opts.device_index = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        opts.n_threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--min-time") == 0 && i + 1 < argc)
        min_time = atof (argv[++i]);
      else if (strcmp (argv[i], "--quick") == 0)
        quick = true;
      else
        {
          fprintf (stderr, "usage: bench-ops [--backend cpu|vulkan] [--device N] [--threads N] [--quick] "
                           "[--min-time S]\n");
          return 2;
        }
    }
  if (quick && min_time > 0.1)
    min_time = 0.1;
  DnStatus st;
  DnDevice *dev = dn_device_new (&opts, &st);
  if (!dev)
    die ("dn_device_new", st);
  const DnDeviceInfo *info = dn_device_info (dev);
  printf ("device: %s (%s%s), %d threads%s\n", info->name, dn_device_is_cpu (dev) ? "CPU backend" : "Vulkan",
          info->is_software ? ", software" : "", dn_device_n_threads (dev), quick ? ", --quick sizes" : "");
  int64_t nb = quick ? 16 : 128, rb = quick ? 4 : 32, g1 = quick ? 256 : 512, g2 = quick ? 384 : 1024;

  printf ("\n%-34s %9s %9s %9s %9s %9s\n", "GEMM", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s",
          dn_device_is_cpu (dev) ? "cblas" : "");
  char name[96];
  snprintf (name, sizeof name, "matmul %ld³", (long) g1);
  bench_gemm (dev, name, g1, g1, g1, false);
  snprintf (name, sizeof name, "matmul %ld³", (long) g2);
  bench_gemm (dev, name, g2, g2, g2, false);
  snprintf (name, sizeof name, "linear V1 pwconv %ld×40→160", (long) (nb * 23 * 23));
  bench_gemm (dev, name, nb * 23 * 23, 160, 40, true);
  snprintf (name, sizeof name, "linear V1 pwconv %ld×160→40", (long) (nb * 23 * 23));
  bench_gemm (dev, name, nb * 23 * 23, 40, 160, true);

  printf ("\n%-34s %9s %9s %9s %9s %9s\n", "conv2d", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s", "dinp");
  snprintf (name, sizeof name, "V1 dwconv 7×7 (%ld,40,23,23)", (long) nb);
  bench_conv (dev, name, nb, 40, 23, 23, 40, 7, 1, 3, 40);
  snprintf (name, sizeof name, "V1 patch k4s4 (%ld,3,93,93)→40", (long) nb);
  bench_conv (dev, name, nb, 3, 93, 93, 40, 4, 4, 0, 1);
  snprintf (name, sizeof name, "V1 down 2×2s2 (%ld,40,23,23)→80", (long) nb);
  bench_conv (dev, name, nb, 40, 23, 23, 80, 2, 2, 0, 1);
  snprintf (name, sizeof name, "ResNet 3×3 (%ld,128,13,13)→128", (long) rb);
  bench_conv (dev, name, rb, 128, 13, 13, 128, 3, 1, 1, 1);
  snprintf (name, sizeof name, "ResNet 1×1 (%ld,256,13,13)→64", (long) rb);
  bench_conv (dev, name, rb, 256, 13, 13, 64, 1, 1, 0, 1);
  snprintf (name, sizeof name, "ResNet stem 7×7s2 (%ld,3,100,100)", (long) (rb / 4 > 0 ? rb / 4 : 1));
  bench_conv (dev, name, rb / 4 > 0 ? rb / 4 : 1, 3, 100, 100, 64, 7, 2, 3, 1);
  dn_device_free (dev);
  return 0;
}
