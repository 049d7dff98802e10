/* dn-conv2d.c: dn_conv2d_forward/backward (PyTorch F.conv2d: NCHW, zero padding, strides, groups).
 *
 * CPU, grouped/dense convs: im2col of a chunk of samples into one (Cin·KH·KW, nb·Ho·Wo) matrix and one
 * cblas_sgemm per group (called from this thread; OpenBLAS threads itself), then a scatter into NCHW
 * with the bias. For large planes (Ho·Wo ≥ DIRECT_P) one sample at a time straight into the output,
 * and 1×1/s1/p0 convs skip im2col altogether. Backward: the same chunks; dweight += dY·colᵀ,
 * dcol = Wᵀ·dY then col2im adds into dinp.
 * CPU, one input channel per group (depthwise): a direct kernel over zero-padded planes, parallel over
 * planes (forward, dinp) and over output channels (dweight).
 * Vulkan: shaders/conv/conv2d_igemm.comp (implicit GEMM on the tiled matmul body) and, for one input
 * channel per group, shaders/conv/conv2d_dw.comp. dbias: dn_conv_bias_grad (dn-reduce.c).
 * Reference: dn_ref_conv2d_forward/backward (compute/ref/dn-ref-conv.c).
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dn-conv-private.h"
#include "dn-ops-conv.h"

#define DIRECT_P 2048                     /* planes at least this big run one sample per GEMM */
#define CHUNK_FLOATS ((int64_t) 8 << 20) /* at most 32 MB per im2col / scatter buffer */

typedef struct
{
  int64_t N, Cin, H, W, Cout, Ho, Wo, KH, KW, sh, sw, ph, pw, G, cig, cog;
  int64_t KK, Kg, P, HW; /* KH·KW, cig·KK, Ho·Wo, H·W */
} Geo;

int64_t
dn_conv2d_out_size (int64_t in, int64_t k, int64_t stride, int64_t pad)
{
  if (stride < 1)
    return 0;
  int64_t span = in + 2 * pad - k;
  return span < 0 ? 0 : span / stride + 1;
}

static DnStatus
params_geo (const char *op, const DnConv2dParams *p, Geo *g)
{
  DnConv2dParams d = p ? *p : (DnConv2dParams){ 0 };
  if (d.stride_h < 0 || d.stride_w < 0 || d.pad_h < 0 || d.pad_w < 0 || d.groups < 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: negative stride (%d,%d), padding (%d,%d) or groups %d", op,
                         d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.groups);
  g->sh = d.stride_h ? d.stride_h : 1;
  g->sw = d.stride_w ? d.stride_w : 1;
  g->ph = d.pad_h;
  g->pw = d.pad_w;
  g->G = d.groups ? d.groups : 1;
  return DN_OK;
}

static DnStatus
geo_error (const char *op, const char *what, const DnTensor *a, const DnTensor *b, const DnTensor *c, const Geo *g)
{
  char s1[96] = "-", s2[96] = "-", s3[96] = "-";
  if (a)
    dn_tensor_shape_str (a, s1, sizeof s1);
  if (b)
    dn_tensor_shape_str (b, s2, sizeof s2);
  if (c)
    dn_tensor_shape_str (c, s3, sizeof s3);
  return dn_set_error (DN_ERROR_SHAPE, "%s: %s: %s, %s, %s (stride %" PRId64 "×%" PRId64 ", pad %" PRId64 "×%" PRId64
                       ", groups %" PRId64 ")", op, what, s1, s2, s3, g->sh, g->sw, g->ph, g->pw, g->G);
}

/* Fills the geometry from the input shape @x (N,Cin,H,W), the weight and @y (N,Cout,Ho,Wo), checking
 * them against each other. */
static DnStatus
conv_geo (const char *op, const DnTensor *x, const DnTensor *w, const DnTensor *y, Geo *g)
{
  if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
    return geo_error (op, "input, weight and output must be 4-D (input, weight, output)", x, w, y, g);
  g->N = x->shape[0], g->Cin = x->shape[1], g->H = x->shape[2], g->W = x->shape[3];
  g->Cout = w->shape[0], g->KH = w->shape[2], g->KW = w->shape[3];
  if (g->Cin % g->G || g->Cout % g->G || w->shape[1] * g->G != g->Cin || g->KH < 1 || g->KW < 1)
    return geo_error (op, "the weight must be (Cout,Cin/groups,KH,KW) with Cin and Cout multiples of groups "
                      "(input, weight, output)", x, w, y, g);
  g->cig = g->Cin / g->G, g->cog = g->Cout / g->G;
  if (g->H + 2 * g->ph < g->KH || g->W + 2 * g->pw < g->KW)
    return geo_error (op, "the padded input is smaller than the kernel (input, weight, output)", x, w, y, g);
  g->Ho = dn_conv2d_out_size (g->H, g->KH, g->sh, g->ph);
  g->Wo = dn_conv2d_out_size (g->W, g->KW, g->sw, g->pw);
  if (y->shape[0] != g->N || y->shape[1] != g->Cout || y->shape[2] != g->Ho || y->shape[3] != g->Wo)
    {
      char want[128];
      snprintf (want, sizeof want, "the output must be (%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                ") (input, weight, output)", g->N, g->Cout, g->Ho, g->Wo);
      return geo_error (op, want, x, w, y, g);
    }
  g->KK = g->KH * g->KW, g->Kg = g->cig * g->KK, g->P = g->Ho * g->Wo, g->HW = g->H * g->W;
  if (dn_tensor_numel (x) > DN_CONV_MAX_ELEMS || dn_tensor_numel (y) > DN_CONV_MAX_ELEMS
      || dn_tensor_numel (w) > DN_CONV_MAX_ELEMS)
    return geo_error (op, "more than 2^31 elements (input, weight, output)", x, w, y, g);
  return DN_OK;
}

static DnStatus
check_bias (const char *op, const DnTensor *ref, const DnTensor *bias, int64_t C)
{
  DN_CHECK_SAME_DEVICE (op, ref, bias);
  if (bias->ndim != 1 || bias->shape[0] != C)
    {
      char s[96];
      return dn_set_error (DN_ERROR_SHAPE, "%s: bias %s must be (%" PRId64 ")", op, dn_tensor_shape_str (bias, s, sizeof s),
                           C);
    }
  return DN_OK;
}

static bool
is_pointwise (const Geo *g)
{
  return g->KK == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* CPU: im2col, scatter, gather, col2im ----------------------------------------------------------------- */

typedef struct
{
  const Geo *g;
  const float *x;    /* inp (N,Cin,H,W) */
  float *y;          /* out or dinp */
  const float *bias; /* or NULL */
  float *col;        /* (Cin·KK, ld) */
  float *buf;        /* (Cout, ld) */
  int64_t n0, nb, ld;
} ColArgs;

/* one task per (sample, input channel): its KK rows of the column matrix */
static void
im2col_range (void *ctx, int64_t b, int64_t e)
{
  ColArgs *a = ctx;
  const Geo *g = a->g;
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cin, ci = t % g->Cin;
      const float *x = a->x + ((a->n0 + s) * g->Cin + ci) * g->HW;
      for (int64_t kh = 0; kh < g->KH; kh++)
        for (int64_t kw = 0; kw < g->KW; kw++)
          {
            float *dst = a->col + (ci * g->KK + kh * g->KW + kw) * a->ld + s * g->P;
            /* the wo range whose w = wo·sw − pw + kw lies inside [0, W) */
            int64_t wlo = g->pw - kw > 0 ? (g->pw - kw + g->sw - 1) / g->sw : 0;
            int64_t whi = g->W + g->pw - kw > 0 ? (g->W + g->pw - kw + g->sw - 1) / g->sw : 0;
            if (whi > g->Wo)
              whi = g->Wo;
            if (wlo > whi)
              wlo = whi;
            for (int64_t ho = 0; ho < g->Ho; ho++, dst += g->Wo)
              {
                int64_t h = ho * g->sh - g->ph + kh;
                if (h < 0 || h >= g->H)
                  {
                    memset (dst, 0, (size_t) g->Wo * sizeof (float));
                    continue;
                  }
                const float *xr = x + h * g->W - g->pw + kw;
                for (int64_t wo = 0; wo < wlo; wo++)
                  dst[wo] = 0;
                if (g->sw == 1)
                  memcpy (dst + wlo, xr + wlo, (size_t) (whi - wlo) * sizeof (float));
                else
                  for (int64_t wo = wlo; wo < whi; wo++)
                    dst[wo] = xr[wo * g->sw];
                for (int64_t wo = whi; wo < g->Wo; wo++)
                  dst[wo] = 0;
              }
          }
    }
}

/* one task per (sample, output channel): out[n0+s][co] = buf[co][s·P ...] + bias[co] */
static void
scatter_range (void *ctx, int64_t b, int64_t e)
{
  ColArgs *a = ctx;
  const Geo *g = a->g;
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cout, co = t % g->Cout;
      float *dst = a->y + ((a->n0 + s) * g->Cout + co) * g->P;
      const float *src = a->buf + co * a->ld + s * g->P;
      float bv = a->bias ? a->bias[co] : 0;
      for (int64_t p = 0; p < g->P; p++)
        dst[p] = src[p] + bv;
    }
}

/* one task per (sample, output channel): buf[co][s·P ...] = dout[n0+s][co] */
static void
gather_range (void *ctx, int64_t b, int64_t e)
{
  ColArgs *a = ctx;
  const Geo *g = a->g;
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cout, co = t % g->Cout;
      memcpy (a->buf + co * a->ld + s * g->P, a->x + ((a->n0 + s) * g->Cout + co) * g->P,
              (size_t) g->P * sizeof (float));
    }
}

/* one task per (sample, input channel): dinp[n0+s][ci] += the KK rows of dcol that came from it */
static void
col2im_range (void *ctx, int64_t b, int64_t e)
{
  ColArgs *a = ctx;
  const Geo *g = a->g;
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cin, ci = t % g->Cin;
      float *y = a->y + ((a->n0 + s) * g->Cin + ci) * g->HW;
      for (int64_t kh = 0; kh < g->KH; kh++)
        for (int64_t kw = 0; kw < g->KW; kw++)
          {
            const float *src = a->col + (ci * g->KK + kh * g->KW + kw) * a->ld + s * g->P;
            int64_t wlo = g->pw - kw > 0 ? (g->pw - kw + g->sw - 1) / g->sw : 0;
            int64_t whi = g->W + g->pw - kw > 0 ? (g->W + g->pw - kw + g->sw - 1) / g->sw : 0;
            if (whi > g->Wo)
              whi = g->Wo;
            for (int64_t ho = 0; ho < g->Ho; ho++, src += g->Wo)
              {
                int64_t h = ho * g->sh - g->ph + kh;
                if (h < 0 || h >= g->H)
                  continue;
                float *yr = y + h * g->W - g->pw + kw;
                if (g->sw == 1)
                  for (int64_t wo = wlo; wo < whi; wo++)
                    yr[wo] += src[wo];
                else
                  for (int64_t wo = wlo; wo < whi; wo++)
                    yr[wo * g->sw] += src[wo];
              }
          }
    }
}

typedef struct
{
  float *y;
  const float *bias;
  int64_t C, P;
} FillArgs;

static void
bias_fill_range (void *ctx, int64_t b, int64_t e)
{
  FillArgs *a = ctx;
  for (int64_t t = b; t < e; t++)
    {
      float v = a->bias ? a->bias[t % a->C] : 0;
      float *y = a->y + t * a->P;
      for (int64_t p = 0; p < a->P; p++)
        y[p] = v;
    }
}

/* samples per chunk: one when planes are big, else as many as the buffers allow */
static int64_t
chunk_samples (const Geo *g)
{
  if (g->P >= DIRECT_P)
    return 1;
  int64_t rows = g->Cin * g->KK > g->Cout ? g->Cin * g->KK : g->Cout;
  int64_t nb = CHUNK_FLOATS / (rows * g->P > 0 ? rows * g->P : 1);
  if (nb < 1)
    nb = 1;
  return nb < g->N ? nb : g->N;
}

static DnStatus
conv_forward_cpu (DnDevice *dev, float *out, const float *x, const float *w, const float *bias, const Geo *g)
{
  int64_t nbmax = chunk_samples (g);
  bool direct = nbmax == 1;
  bool pw = is_pointwise (g);
  float *col = NULL, *buf = NULL;
  if (!(direct && pw))
    col = malloc ((size_t) (g->Cin * g->KK * nbmax * g->P) * sizeof (float));
  if (!direct)
    buf = malloc ((size_t) (g->Cout * nbmax * g->P) * sizeof (float));
  if ((!(direct && pw) && !col) || (!direct && !buf))
    {
      free (col);
      free (buf);
      return dn_set_error (DN_ERROR_NO_MEMORY, "conv2d_forward: cannot allocate the im2col buffers");
    }
  if (direct)
    {
      /* the output starts as the bias; each GEMM adds into it */
      FillArgs f = { out, bias, g->Cout, g->P };
      dn_cpu_parallel_for (dev, g->N * g->Cout, 16, bias_fill_range, &f);
    }
  for (int64_t n0 = 0; n0 < g->N; n0 += nbmax)
    {
      int64_t nb = g->N - n0 < nbmax ? g->N - n0 : nbmax, ld = nb * g->P;
      ColArgs a = { .g = g, .x = x, .y = out, .bias = bias, .col = col, .buf = buf, .n0 = n0, .nb = nb, .ld = ld };
      const float *B = col;
      if (direct && pw)
        B = x + n0 * g->Cin * g->HW;
      else
        dn_cpu_parallel_for (dev, nb * g->Cin, 1, im2col_range, &a);
      for (int64_t gi = 0; gi < g->G; gi++)
        {
          float *C = direct ? out + (n0 * g->Cout + gi * g->cog) * g->P : buf + gi * g->cog * ld;
          dn_cpu_sgemm (dev, false, false, g->cog, ld, g->Kg, 1.0f, w + gi * g->cog * g->Kg, g->Kg, B + gi * g->Kg * ld, ld, direct ? 1.0f : 0.0f, C, ld);
        }
      if (!direct)
        dn_cpu_parallel_for (dev, nb * g->Cout, 4, scatter_range, &a);
    }
  free (col);
  free (buf);
  return DN_OK;
}

static DnStatus
conv_backward_cpu (DnDevice *dev, float *dinp, float *dw, const float *dout, const float *x, const float *w,
                   const Geo *g)
{
  int64_t nbmax = chunk_samples (g);
  bool direct = nbmax == 1;
  bool pw = is_pointwise (g);
  float *col = NULL, *buf = NULL;
  if (!(direct && pw))
    col = malloc ((size_t) (g->Cin * g->KK * nbmax * g->P) * sizeof (float));
  if (!direct)
    buf = malloc ((size_t) (g->Cout * nbmax * g->P) * sizeof (float));
  if ((!(direct && pw) && !col) || (!direct && !buf))
    {
      free (col);
      free (buf);
      return dn_set_error (DN_ERROR_NO_MEMORY, "conv2d_backward: cannot allocate the im2col buffers");
    }
  for (int64_t n0 = 0; n0 < g->N; n0 += nbmax)
    {
      int64_t nb = g->N - n0 < nbmax ? g->N - n0 : nbmax, ld = nb * g->P;
      ColArgs a = { .g = g, .x = dout, .y = dinp, .col = col, .buf = buf, .n0 = n0, .nb = nb, .ld = ld };
      /* dY of the chunk as (Cout, nb·P) */
      const float *dy = buf;
      if (direct)
        dy = dout + n0 * g->Cout * g->P;
      else
        dn_cpu_parallel_for (dev, nb * g->Cout, 4, gather_range, &a);
      if (dw)
        {
          /* pass 1: dweight_g += dY_g · col_gᵀ */
          const float *B = col;
          if (direct && pw)
            B = x + n0 * g->Cin * g->HW;
          else
            {
              ColArgs c = a;
              c.x = x;
              dn_cpu_parallel_for (dev, nb * g->Cin, 1, im2col_range, &c);
            }
          for (int64_t gi = 0; gi < g->G; gi++)
            dn_cpu_sgemm (dev, false, true, g->cog, g->Kg, ld, 1.0f, dy + gi * g->cog * ld, ld, B + gi * g->Kg * ld, ld, 1.0f, dw + gi * g->cog * g->Kg, g->Kg);
        }
      if (dinp)
        {
          /* pass 2: dcol_g = W_gᵀ · dY_g, then col2im adds it into dinp (1×1/s1/p0: straight into dinp) */
          for (int64_t gi = 0; gi < g->G; gi++)
            {
              float *C = direct && pw ? dinp + (n0 * g->Cin + gi * g->cig) * g->HW : col + gi * g->Kg * ld;
              dn_cpu_sgemm (dev, true, false, g->Kg, ld, g->cog, 1.0f, w + gi * g->cog * g->Kg, g->Kg, dy + gi * g->cog * ld, ld, direct && pw ? 1.0f : 0.0f, C, ld);
            }
          if (!(direct && pw))
            dn_cpu_parallel_for (dev, nb * g->Cin, 1, col2im_range, &a);
        }
    }
  free (col);
  free (buf);
  return DN_OK;
}

/* CPU: depthwise (one input channel per group) ----------------------------------------------------------- */

/* Stride 1 (ConvNeXt's 7×7 dwconv and everything with one input channel per group at stride 1) runs on
 * 8-float vectors (GCC vector extensions: SSE by default, AVX2 in a clone chosen at load time on x86-64 CPUs that have it):
 * the forward and the input gradient as correlations of zero-padded planes (the input gradient is a
 * correlation of the padded output gradient with the flipped kernel), the weight gradient as dot
 * products. Other strides use plain loops. */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define DN_SIMD_CLONES __attribute__ ((target_clones ("avx2", "default")))
#else
#define DN_SIMD_CLONES
#endif

typedef float v8f __attribute__ ((vector_size (32)));

static inline v8f
v8_load (const float *p)
{
  v8f v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline int64_t
round_up (int64_t x, int64_t m)
{
  return (x + m - 1) / m * m;
}

/* buf (Hb,Wb) = zeros with the plane src (R,C) placed with its (0,0) at (oh,ow) of buf; what falls
 * outside buf is cropped. */
static void
place_plane (float *buf, int64_t Hb, int64_t Wb, const float *src, int64_t R, int64_t C, int64_t oh, int64_t ow)
{
  memset (buf, 0, (size_t) (Hb * Wb) * sizeof (float));
  int64_t c0 = ow < 0 ? -ow : 0, c1 = C < Wb - ow ? C : Wb - ow;
  if (c1 <= c0)
    return;
  for (int64_t r = oh < 0 ? -oh : 0; r < R && r + oh < Hb; r++)
    memcpy (buf + (r + oh) * Wb + ow + c0, src + r * C + c0, (size_t) (c1 - c0) * sizeof (float));
}

/* y (Hy,Wy) (=|+=) bias + Σ_{kh,kw} wk[kh,kw] · buf[r + kh][c + kw], 4 rows × 8 columns at a time.
 * buf has round_up (Hy, 4) + KH − 1 rows of Wb ≥ round_up (Wy, 8) + KW − 1 floats, zero off the plane. */
DN_SIMD_CLONES static void
corr_s1 (const float *buf, int64_t Wb, const float *wk, int64_t KH, int64_t KW, float *y, int64_t Hy, int64_t Wy,
         float bias, bool accumulate)
{
  for (int64_t r = 0; r < Hy; r += 4)
    for (int64_t c = 0; c < Wy; c += 8)
      {
        v8f a0 = (v8f){ 0 } + bias, a1 = a0, a2 = a0, a3 = a0;
        const float *p = buf + r * Wb + c;
        for (int64_t kh = 0; kh < KH; kh++, p += Wb)
          {
            const float *wr = wk + kh * KW;
            for (int64_t kw = 0; kw < KW; kw++)
              {
                float w = wr[kw];
                a0 += w * v8_load (p + kw);
                a1 += w * v8_load (p + Wb + kw);
                a2 += w * v8_load (p + 2 * Wb + kw);
                a3 += w * v8_load (p + 3 * Wb + kw);
              }
          }
        float t[4][8];
        memcpy (t[0], &a0, sizeof a0);
        memcpy (t[1], &a1, sizeof a1);
        memcpy (t[2], &a2, sizeof a2);
        memcpy (t[3], &a3, sizeof a3);
        int64_t nr = Hy - r < 4 ? Hy - r : 4, nc = Wy - c < 8 ? Wy - c : 8;
        for (int64_t j = 0; j < nr; j++)
          {
            float *yr = y + (r + j) * Wy + c;
            if (accumulate)
              for (int64_t k = 0; k < nc; k++)
                yr[k] += t[j][k];
            else
              for (int64_t k = 0; k < nc; k++)
                yr[k] = t[j][k];
          }
      }
}

/* acc[kh,kw] += Σ_{r<Hy, c<Wy8} dyb[r][c] · xb[r + kh][c + kw]; dyb (Hy,Wy8) is zero beyond the plane's
 * width, xb has Hy + KH − 1 rows of Wb ≥ Wy8 + KW − 1 floats. */
DN_SIMD_CLONES static void
wgrad_s1 (const float *dyb, int64_t Wy8, const float *xb, int64_t Wb, int64_t KH, int64_t KW, int64_t Hy, double *acc)
{
  for (int64_t kh = 0; kh < KH; kh++)
    for (int64_t kw = 0; kw < KW; kw++)
      {
        v8f s0 = { 0 }, s1 = { 0 };
        for (int64_t r = 0; r < Hy; r++)
          {
            const float *d = dyb + r * Wy8, *x = xb + (r + kh) * Wb + kw;
            int64_t c = 0;
            for (; c + 16 <= Wy8; c += 16)
              {
                s0 += v8_load (d + c) * v8_load (x + c);
                s1 += v8_load (d + c + 8) * v8_load (x + c + 8);
              }
            for (; c < Wy8; c += 8)
              s0 += v8_load (d + c) * v8_load (x + c);
          }
        s0 += s1;
        float t[8];
        memcpy (t, &s0, sizeof t);
        acc[kh * KW + kw] += ((double) t[0] + t[1] + t[2] + t[3]) + ((double) t[4] + t[5] + t[6] + t[7]);
      }
}

typedef struct
{
  const Geo *g;
  const float *x, *w, *bias, *dy;
  float *y, *dx, *dw;
  bool s1;           /* stride 1: the vector kernels */
  int64_t Hb, Wb;    /* the padded plane buffer of each kernel */
  int64_t Hp, Wp;    /* other strides: the padded region a plane's outputs read, (Ho−1)·sh + KH, (Wo−1)·sw + KW */
  atomic_bool failed; /* a worker could not allocate its buffer */
} DwArgs;

static float *
dw_buffer (DwArgs *a, int64_t n)
{
  float *b = malloc ((size_t) n * sizeof (float));
  if (!b)
    atomic_store (&a->failed, true);
  return b;
}

/* one task per (sample, out channel) plane */
static void
dw_forward_range (void *ctx, int64_t b, int64_t e)
{
  DwArgs *a = ctx;
  const Geo *g = a->g;
  float *pad = dw_buffer (a, a->s1 ? a->Hb * a->Wb : a->Hp * a->Wp);
  if (!pad)
    return;
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cout, co = t % g->Cout, ci = co / g->cog;
      const float *x = a->x + (s * g->Cin + ci) * g->HW, *wk = a->w + co * g->KK;
      float bv = a->bias ? a->bias[co] : 0;
      float *y = a->y + t * g->P;
      if (a->s1)
        {
          place_plane (pad, a->Hb, a->Wb, x, g->H, g->W, g->ph, g->pw);
          corr_s1 (pad, a->Wb, wk, g->KH, g->KW, y, g->Ho, g->Wo, bv, false);
          continue;
        }
      place_plane (pad, a->Hp, a->Wp, x, g->H, g->W, g->ph, g->pw);
      for (int64_t ho = 0; ho < g->Ho; ho++)
        {
          float *yr = y + ho * g->Wo;
          for (int64_t wo = 0; wo < g->Wo; wo++)
            yr[wo] = bv;
          for (int64_t kh = 0; kh < g->KH; kh++)
            {
              const float *pr = pad + (ho * g->sh + kh) * a->Wp;
              for (int64_t kw = 0; kw < g->KW; kw++)
                {
                  float wv = wk[kh * g->KW + kw];
                  for (int64_t wo = 0; wo < g->Wo; wo++)
                    yr[wo] += wv * pr[wo * g->sw + kw];
                }
            }
        }
    }
  free (pad);
}

/* one task per (sample, in channel) plane: dinp += the gradients through its cog output channels */
static void
dw_dinp_range (void *ctx, int64_t b, int64_t e)
{
  DwArgs *a = ctx;
  const Geo *g = a->g;
  float *pad = dw_buffer (a, (a->s1 ? a->Hb * a->Wb : a->Hp * a->Wp) + g->KK);
  if (!pad)
    return;
  float *flip = pad + (a->s1 ? a->Hb * a->Wb : a->Hp * a->Wp);
  for (int64_t t = b; t < e; t++)
    {
      int64_t s = t / g->Cin, ci = t % g->Cin;
      float *dx = a->dx + t * g->HW;
      if (a->s1)
        {
          /* dx += dY padded by (K − 1 − pad) correlated with the flipped kernel */
          for (int64_t m = 0; m < g->cog; m++)
            {
              int64_t co = ci * g->cog + m;
              const float *wk = a->w + co * g->KK;
              for (int64_t k = 0; k < g->KK; k++)
                flip[k] = wk[g->KK - 1 - k];
              place_plane (pad, a->Hb, a->Wb, a->dy + (s * g->Cout + co) * g->P, g->Ho, g->Wo, g->KH - 1 - g->ph,
                           g->KW - 1 - g->pw);
              corr_s1 (pad, a->Wb, flip, g->KH, g->KW, dx, g->H, g->W, 0, true);
            }
          continue;
        }
      /* other strides: scatter into a padded gradient plane, then add its interior */
      memset (pad, 0, (size_t) (a->Hp * a->Wp) * sizeof (float));
      for (int64_t m = 0; m < g->cog; m++)
        {
          int64_t co = ci * g->cog + m;
          const float *wk = a->w + co * g->KK, *dy = a->dy + (s * g->Cout + co) * g->P;
          for (int64_t ho = 0; ho < g->Ho; ho++)
            for (int64_t kh = 0; kh < g->KH; kh++)
              {
                float *pr = pad + (ho * g->sh + kh) * a->Wp;
                for (int64_t kw = 0; kw < g->KW; kw++)
                  {
                    float wv = wk[kh * g->KW + kw];
                    for (int64_t wo = 0; wo < g->Wo; wo++)
                      pr[wo * g->sw + kw] += wv * dy[ho * g->Wo + wo];
                  }
              }
        }
      int64_t c1 = g->W < a->Wp - g->pw ? g->W : a->Wp - g->pw;
      for (int64_t h = 0; h < g->H && h + g->ph < a->Hp; h++)
        {
          const float *pr = pad + (h + g->ph) * a->Wp + g->pw;
          for (int64_t w = 0; w < c1; w++)
            dx[h * g->W + w] += pr[w];
        }
    }
  free (pad);
}

/* one task per output channel: dweight[co] += Σ_n dY[n,co] ⋆ padded x[n,ci] (float64 across samples) */
static void
dw_dweight_range (void *ctx, int64_t b, int64_t e)
{
  DwArgs *a = ctx;
  const Geo *g = a->g;
  int64_t Wy8 = round_up (g->Wo, 8);
  int64_t nbuf = a->s1 ? a->Hb * a->Wb + g->Ho * Wy8 : a->Hp * a->Wp;
  float *pad = dw_buffer (a, nbuf);
  double *acc = malloc ((size_t) g->KK * sizeof (double));
  if (!pad || !acc)
    {
      atomic_store (&a->failed, true);
      free (pad);
      free (acc);
      return;
    }
  float *dyb = a->s1 ? pad + a->Hb * a->Wb : NULL;
  for (int64_t co = b; co < e; co++)
    {
      int64_t ci = co / g->cog;
      for (int64_t k = 0; k < g->KK; k++)
        acc[k] = 0;
      for (int64_t s = 0; s < g->N; s++)
        {
          const float *x = a->x + (s * g->Cin + ci) * g->HW, *dy = a->dy + (s * g->Cout + co) * g->P;
          if (a->s1)
            {
              place_plane (pad, a->Hb, a->Wb, x, g->H, g->W, g->ph, g->pw);
              place_plane (dyb, g->Ho, Wy8, dy, g->Ho, g->Wo, 0, 0);
              wgrad_s1 (dyb, Wy8, pad, a->Wb, g->KH, g->KW, g->Ho, acc);
              continue;
            }
          place_plane (pad, a->Hp, a->Wp, x, g->H, g->W, g->ph, g->pw);
          for (int64_t kh = 0; kh < g->KH; kh++)
            for (int64_t kw = 0; kw < g->KW; kw++)
              {
                float sum = 0;
                for (int64_t ho = 0; ho < g->Ho; ho++)
                  for (int64_t wo = 0; wo < g->Wo; wo++)
                    sum += dy[ho * g->Wo + wo] * pad[(ho * g->sh + kh) * a->Wp + wo * g->sw + kw];
                acc[kh * g->KW + kw] += sum;
              }
        }
      for (int64_t k = 0; k < g->KK; k++)
        a->dw[co * g->KK + k] += (float) acc[k];
    }
  free (pad);
  free (acc);
}

/* which: 0 forward, 1 dinp (its buffer holds a padded dY plane of the input's size), 2 dweight */
static void
dw_args (const Geo *g, int which, DwArgs *a)
{
  a->g = g;
  a->s1 = g->sh == 1 && g->sw == 1;
  a->Hp = (g->Ho - 1) * g->sh + g->KH;
  a->Wp = (g->Wo - 1) * g->sw + g->KW;
  int64_t Hy = which == 1 ? g->H : g->Ho, Wy = which == 1 ? g->W : g->Wo;
  a->Hb = (which == 2 ? Hy : round_up (Hy, 4)) + g->KH - 1;
  a->Wb = round_up (Wy, 8) + g->KW - 1;
  atomic_init (&a->failed, false);
}

static DnStatus
dw_run (DnDevice *dev, const char *op, int which, int64_t n, DnRangeFn fn, DwArgs *a)
{
  dw_args (a->g, which, a);
  dn_cpu_parallel_for (dev, n, 1, fn, a);
  if (atomic_load (&a->failed))
    return dn_set_error (DN_ERROR_NO_MEMORY, "%s: cannot allocate a padded plane", op);
  return DN_OK;
}

/* Vulkan ------------------------------------------------------------------------------------------------ */

typedef struct
{
  uint32_t nb, n0, Cin, H, W, Cout, Ho, Wo, KH, KW, sh, sw, ph, pw, cig, cog, has_bias;
} ConvPush;
_Static_assert (sizeof (ConvPush) == 68, "mirror of conv2d_igemm.comp's and conv2d_dw.comp's DN_PARAMS");

static ConvPush
conv_push (const Geo *g)
{
  return (ConvPush){ .nb = (uint32_t) g->N, .Cin = (uint32_t) g->Cin, .H = (uint32_t) g->H, .W = (uint32_t) g->W,
                     .Cout = (uint32_t) g->Cout, .Ho = (uint32_t) g->Ho, .Wo = (uint32_t) g->Wo,
                     .KH = (uint32_t) g->KH, .KW = (uint32_t) g->KW, .sh = (uint32_t) g->sh, .sw = (uint32_t) g->sw,
                     .ph = (uint32_t) g->ph, .pw = (uint32_t) g->pw, .cig = (uint32_t) g->cig,
                     .cog = (uint32_t) g->cog };
}

/* the implicit-GEMM shaders over samples [0, N) in dispatches whose N-side grid fits 65535 tiles */
static DnStatus
igemm_dispatch (DnDevice *dev, DnShaderId shader, DnBinding *bind, const Geo *g, bool has_bias, int64_t cols_per_sample,
                int64_t m, int64_t fixed_cols)
{
  ConvPush pc = conv_push (g);
  pc.has_bias = has_bias;
  if (g->G > 65535)
    return dn_set_error (DN_ERROR_SHAPE, "conv2d: %" PRId64 " groups exceed the 65535-workgroup grid", g->G);
  int64_t per = cols_per_sample > 0 ? (65535 * 64) / cols_per_sample : g->N;
  if (per < 1)
    return dn_set_error (DN_ERROR_SHAPE, "conv2d: a plane of %" PRId64 " exceeds the workgroup grid", cols_per_sample);
  for (int64_t n0 = 0; n0 < g->N; n0 += per)
    {
      int64_t nb = g->N - n0 < per ? g->N - n0 : per;
      pc.n0 = (uint32_t) n0;
      pc.nb = (uint32_t) nb;
      int64_t cols = cols_per_sample > 0 ? nb * cols_per_sample : fixed_cols;
      DN_TRY (dn_vk_dispatch (dev, shader, bind, 4, &pc, sizeof pc, dn_div_up (cols, 64), dn_div_up (m, 64),
                              (uint32_t) g->G));
    }
  return DN_OK;
}

/* Entry points ----------------------------------------------------------------------------------------- */

DnStatus
dn_conv2d_forward (DnTensor *out, const DnTensor *inp, const DnTensor *weight, const DnTensor *bias,
                   const DnConv2dParams *p)
{
  const char *op = "conv2d_forward";
  if (!out || !inp || !weight)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, inp);
  DN_CHECK_SAME_DEVICE (op, out, weight);
  Geo g;
  DN_TRY (params_geo (op, p, &g));
  DN_TRY (conv_geo (op, inp, weight, out, &g));
  if (bias)
    DN_TRY (check_bias (op, out, bias, g.Cout));
  if (dn_tensor_numel (out) == 0)
    return DN_OK;
  if (g.Kg == 0)
    {
      /* no input channels: every output is an empty sum (plus the bias) */
      DN_TRY (dn_tensor_fill (out, 0));
      return bias ? dn_bias_add_forward (out, out, bias) : DN_OK;
    }
  DnDevice *dev = out->dev;
  if (dn_device_is_cpu (dev))
    {
      const float *bh = bias ? dn_tensor_host (bias) : NULL;
      if (g.cig == 1)
        {
          DwArgs a = { .g = &g, .x = dn_tensor_host (inp), .w = dn_tensor_host (weight), .bias = bh,
                       .y = dn_tensor_host (out) };
          return dw_run (dev, op, 0, g.N * g.Cout, dw_forward_range, &a);
        }
      return conv_forward_cpu (dev, dn_tensor_host (out), dn_tensor_host (inp), dn_tensor_host (weight), bh, &g);
    }
  DnBinding bind[] = { DN_READ (inp), DN_READ (weight), DN_WRITE (out), DN_READ (bias ? bias : weight) };
  if (g.cig == 1)
    {
      ConvPush pc = conv_push (&g);
      pc.has_bias = bias != NULL;
      struct
      {
        ConvPush c;
        uint32_t use_shared;
      } dpc = { pc, 7 * g.sh + g.KH <= 40 && 7 * g.sw + g.KW <= 40 && g.KK <= 1024 };
      _Static_assert (sizeof dpc == 72, "mirror of conv2d_dw.comp's DN_PARAMS");
      /* here nb is N and n0 the first plane (sample·Cout + co) of the dispatch */
      int64_t planes = g.N * g.Cout;
      for (int64_t z0 = 0; z0 < planes; z0 += 65535)
        {
          int64_t nz = planes - z0 < 65535 ? planes - z0 : 65535;
          dpc.c.n0 = (uint32_t) z0;
          DN_TRY (dn_vk_dispatch (dev, DN_SHADER_CONV2D_DW_FWD, bind, 4, &dpc, sizeof dpc, dn_div_up (g.Wo, 8),
                                  dn_div_up (g.Ho, 8), (uint32_t) nz));
        }
      return DN_OK;
    }
  return igemm_dispatch (dev, DN_SHADER_CONV2D_FWD, bind, &g, bias != NULL, g.P, g.cog, 0);
}

DnStatus
dn_conv2d_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout, const DnTensor *inp,
                    const DnTensor *weight, const DnConv2dParams *p)
{
  const char *op = "conv2d_backward";
  if (!dout || !weight)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL dout or weight", op);
  if (dweight && !inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dweight needs inp", op);
  DN_CHECK_SAME_DEVICE (op, dout, weight);
  DN_TRY (dn_conv_check_device (op, dout, dinp));
  DN_TRY (dn_conv_check_device (op, dout, dweight));
  DN_TRY (dn_conv_check_device (op, dout, dbias));
  DN_TRY (dn_conv_check_device (op, dout, inp));
  Geo g;
  DN_TRY (params_geo (op, p, &g));
  if (dout->ndim != 4 || weight->ndim != 4 || dout->shape[1] != weight->shape[0])
    return geo_error (op, "dout must be (N,Cout,Ho,Wo) and the weight (Cout,Cin/groups,KH,KW) (dout, weight)", dout,
                      weight, NULL, &g);
  const DnTensor *xs = inp ? inp : dinp; /* the input's shape */
  if (dinp && inp && !dn_tensor_same_shape (dinp, inp))
    return geo_error (op, "dinp must have inp's shape (dinp, inp)", dinp, inp, NULL, &g);
  if (dweight && !dn_tensor_same_shape (dweight, weight))
    return geo_error (op, "dweight must have the weight's shape (dweight, weight)", dweight, weight, NULL, &g);
  if (xs)
    DN_TRY (conv_geo (op, xs, weight, dout, &g));
  if (dbias)
    {
      DN_TRY (check_bias (op, dout, dbias, dout->shape[1]));
      int64_t S = dout->shape[2] * dout->shape[3];
      DN_TRY (dn_conv_bias_grad (op, dbias, dout, dout->shape[0], dout->shape[1], S));
    }
  if ((!dinp && !dweight) || dn_tensor_numel (dout) == 0 || g.Kg == 0)
    return DN_OK;
  DnDevice *dev = dout->dev;
  if (dn_device_is_cpu (dev))
    {
      if (g.cig == 1)
        {
          DwArgs a = { .g = &g, .x = inp ? dn_tensor_host (inp) : NULL, .w = dn_tensor_host (weight),
                       .dy = dn_tensor_host (dout), .dx = dinp ? dn_tensor_host (dinp) : NULL,
                       .dw = dweight ? dn_tensor_host (dweight) : NULL };
          if (dinp)
            DN_TRY (dw_run (dev, op, 1, g.N * g.Cin, dw_dinp_range, &a));
          if (dweight)
            DN_TRY (dw_run (dev, op, 2, g.Cout, dw_dweight_range, &a));
          return DN_OK;
        }
      return conv_backward_cpu (dev, dinp ? dn_tensor_host (dinp) : NULL, dweight ? dn_tensor_host (dweight) : NULL,
                                dn_tensor_host (dout), inp ? dn_tensor_host (inp) : NULL, dn_tensor_host (weight), &g);
    }
  ConvPush pc = conv_push (&g);
  struct
  {
    ConvPush c;
    uint32_t use_shared;
  } dpc = { pc, 0 };
  if (dinp)
    {
      DnBinding bind[] = { DN_READ (dout), DN_READ (weight), DN_READ_WRITE (dinp), DN_READ (weight) };
      /* The GEMM form of dinp wastes the tile rows beyond Cin/G and, for strides, the K entries of taps that
       * reach no output (all but 1/(sh·sw)); the direct gather visits only the taps that exist. Use it
       * when the GEMM would be mostly empty (e.g. the image gradient through a 3-channel first conv). */
      int64_t used = g.cig < 64 ? g.cig : 64;
      if (used * 6 < 64 * g.sh * g.sw)
        DN_TRY (dn_vk_dispatch_1d (dev, DN_SHADER_CONV2D_DGRAD_DIRECT, bind, 4, &dpc, sizeof dpc, g.N * g.Cin * g.HW));
      else
        DN_TRY (igemm_dispatch (dev, DN_SHADER_CONV2D_DGRAD, bind, &g, false, g.HW, g.cig, 0));
    }
  if (g.cig == 1)
    {
      if (dweight)
        {
          DnBinding bind[] = { DN_READ (inp), DN_READ (dout), DN_READ_WRITE (dweight), DN_READ (weight) };
          int64_t J = g.Cout * g.KK;
          uint32_t gx = J > 65535 ? 65535 : (uint32_t) J;
          DN_TRY (dn_vk_dispatch (dev, DN_SHADER_CONV2D_DW_WGRAD, bind, 4, &dpc, sizeof dpc, gx, dn_div_up (J, gx), 1));
        }
      return DN_OK;
    }
  if (dweight)
    {
      DnBinding bind[] = { DN_READ (inp), DN_READ (dout), DN_READ_WRITE (dweight), DN_READ (weight) };
      DN_TRY (igemm_dispatch (dev, DN_SHADER_CONV2D_WGRAD, bind, &g, false, 0, g.cog, g.Kg));
    }
  return DN_OK;
}
