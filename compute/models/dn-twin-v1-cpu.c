/* dn-twin-v1-cpu.c: the fused forward of one V1GrayTaskDriven member (dn-twin-v1.c, twins.md §2.1) on
 * the CPU backend, for inference, and the fused forward + input-gradient backward that synthesis uses.
 *
 * The op-by-op forward streams a (N,160,23,23) tensor through memory for every op. Here each image goes
 * through the whole member in one thread, its working set (the (529,40) residual stream and LN output,
 * the (529,160) hidden layer, the member's repacked weights: about 0.7 MB) stays in the core's caches,
 * and the threads of the device's pool take images one at a time. Per image, pixel-major (NHWC):
 *   patch conv (im2col + GEMM) + bias → LN over C                                      "stem"   r (529,40)
 *   2 × [ dwconv 7×7 + bias → LN → pw1 GEMM + bias → GELU (and Σ_hw g² per channel)
 *         → GRN folded into pw2: pw2(γ·g·Nx + β + g) = (W2·diag(1 + γ·Nx))·g + (b2 + W2·β)
 *         → pw2 GEMM + residual ]                                                    "stage0" r (529,40)
 *   LN over C → 2×2 s2 conv (im2col + GEMM) + bias → BN (running stats) → GELU → readout y (K)
 * With the readout centred (mu = 0, the default) only feature pixel (5,5) is read, so stage 1 and the
 * last block's pw2 run on the 4 pixels under it; with trained positions, or when the intermediates are
 * asked for (tests), everything is computed. GELU is the op path's expression with dn_elem_erff, so it
 * rounds the same way.
 * Forward+backward (centred readout only): the forward keeps per image what the backward needs (the LN
 * inputs and statistics, GELU outputs and GELU' — gelu_grad, one exp for both — and the GRN norms), then
 * the backward runs in the same thread: readout and elu' → GELU, BN, 2×2 conv at the read pixel → LN on
 * the 4 pixels under it → the last block from those 4 rows (its GRN spreads the gradient to every pixel
 * through the norms) → block 0 → stem LN → patch conv, added to dx. Transposed GEMMs use the weights as
 * stored, the transposed depthwise conv is the conv with the flipped kernel.
 * With AVX2+FMA (chosen at run time by CPU features) the GEMMs are 6×16 micro-kernels and the depthwise
 * conv and LN use intrinsics; otherwise OpenBLAS and plain C. Where the CPU has AVX-512 the GEMMs take
 * 6×32 tiles in 512-bit registers, and the same body is compiled a third time, so that the compiler's
 * loops (GELU, GRN, the elementwise backward) take 16 lanes.
 * This file is compiled with FMA contraction (compute/models/meson.build). The results agree with the op
 * path to float32 rounding (tests/twin/test-twin-v1.c compares them, and DN_CPU_NO_AVX2 /
 * DN_CPU_NO_AVX512 select the other compilations).
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define V1_X86 1
#endif

#include <cblas.h>

#include "dn-device-private.h"
#include "dn-twin-private.h"
#include "elem/dn-elem-private.h"

#define C0 40
#define C1 80
#define HID 160
#define S 23                 /* side of the stage-0 maps */
#define NP (S * S)           /* 529 pixels */
#define NPP 534              /* NP rounded up to the GEMM's 6 rows */
#define SP (S + 6)           /* side of the zero-padded copy for the 7×7 depthwise conv */
#define SO 11                /* side of the stage-1 map */
#define NO (SO * SO)         /* 121 */
#define NOP 126              /* NO rounded up to 6 */
#define CENTER (5 * SO + 5) /* the stage-1 pixel the centred readout reads */

typedef struct
{
  float dw[49 * C0];    /* [tap][c] */
  float dw_b[C0], ln_w[C0], ln_b[C0];
  float w1t[C0 * HID];  /* [k][o]: pwconv1.weight transposed */
  float b1[HID], gamma[HID];
  float w2t[HID * C0];  /* [c][o]: pwconv2.weight transposed */
  float b2eff[C0];      /* b2 + W2·β */
  /* for the input-gradient backward */
  float dwf[49 * C0];   /* [tap][c], the kernel flipped (the transposed depthwise conv is a conv) */
  float w1n[HID * C0];  /* pwconv1.weight as stored, [o][k] */
  float w2n[C0 * HID];  /* pwconv2.weight as stored, [o][c] */
} V1CpuBlock;

typedef struct
{
  int x0, y0;
  float wx, wy;
  bool in00, in01, in10, in11; /* which bilinear corners lie on the map */
} V1CpuPos;

struct DnTwinV1Cpu
{
  float pw1[16 * C0], pw3[48 * C0]; /* patch weights [(ci,ky,kx)][o] for 1 and 3 input channels */
  float pwn1[C0 * 16], pwn3[C0 * 48]; /* the same as stored, [o][(ci,ky,kx)] (backward) */
  float patch_b[C0], stem_w[C0], stem_b[C0];
  V1CpuBlock blk[2];
  float ds_ln_w[C0], ds_ln_b[C0];
  float dsw[4 * C0 * C1]; /* [(ky,kx,c)][o] */
  float ds_b[C1], bn_m[C1], bn_r[C1], bn_w[C1], bn_b[C1];
  int K;
  float *F;       /* (C1,K) readout features */
  float *FT;      /* (K,C1) the same, transposed (trained positions) */
  float *bias;    /* (K) */
  V1CpuPos *pos;  /* (K) trained readout positions */
};

/* One thread's buffers (zeroed once: the padding rows and the conv border stay 0). */
typedef struct
{
  float xs[NPP * 48];     /* patch im2col, row stride 48 */
  float r[NPP * C0];      /* residual stream (NHWC) */
  float pad[SP * SP * C0];
  float a[NPP * C0];      /* LN outputs */
  float g[NPP * HID];     /* GELU (pw1) */
  float w2[HID * C0];     /* this image's pw2 weights with the GRN folded in, [c][o] */
  float t6[6 * HID];      /* gathered rows (sparse pw2) */
  float h6[6 * C1];       /* GEMM output rows */
  float dsin[NOP * 4 * C0];
  float ds[NOP * C1];
  float act[NO * C1];
  double ss[HID];
} V1CpuScratch;

/* What the forward of a forward+backward keeps of one block, per image. */
typedef struct
{
  float d[NP * C0];    /* dwconv + bias, the LN's input */
  float mean[NP], rstd[NP];
  float g[NPP * HID];  /* GELU output (the GRN's input) */
  float gp[NPP * HID]; /* GELU'(pw1 output) */
  float gx[HID], nx[HID];
} V1CpuBlockSave;

/* One thread's buffers for forward+backward (about 2.3 MB; zeroed once: padding rows and borders stay 0). */
typedef struct
{
  float sv[NP * C0];   /* patch conv + bias, the stem LN's input */
  float s_mean[NP], s_rstd[NP];
  V1CpuBlockSave b[2];
  float dsx[4 * C0];   /* the stage-0 output under the read pixel, the downsampling LN's input */
  float ds_mean[4], ds_rstd[4];
  float gp_act[C1];    /* GELU' at the read pixel's BN output */
  float dq[NPP * HID]; /* ∂/∂ GRN output, then ∂/∂ pw1 output */
  float da[NPP * C0];  /* ∂/∂ LN output (blocks), ∂/∂ patch conv output (stem) */
  float dr[NPP * C0];  /* ∂/∂ residual stream */
  float padg[SP * SP * C0];
  float dcols[NPP * 48];
  float q6[6 * HID];
  float t6[6 * C0];
} V1CpuGrad;

struct DnTwinV1CpuWork
{
  int n_slots;
  V1CpuScratch **slots;
  V1CpuGrad **grads; /* made on the first forward+backward */
};

/* Preparing a member ---------------------------------------------------------------------------------- */

void
dn_twin_v1_cpu_free (DnTwinV1Cpu *m)
{
  if (!m)
    return;
  free (m->F);
  free (m->FT);
  free (m->bias);
  free (m->pos);
  free (m);
}

/* The readout position of neuron k, as readout_pos in compute/ops/model/dn-model.c. */
static V1CpuPos
readout_pos (const float *mu, int k)
{
  V1CpuPos p;
  float gx = mu[2 * k], gy = mu[2 * k + 1];
  gx = gx < -1.0f ? -1.0f : gx > 1.0f ? 1.0f : gx;
  gy = gy < -1.0f ? -1.0f : gy > 1.0f ? 1.0f : gy;
  float ix = ((gx + 1.0f) / 2.0f) * (float) (SO - 1);
  float iy = ((gy + 1.0f) / 2.0f) * (float) (SO - 1);
  float fx = floorf (ix), fy = floorf (iy);
  p.x0 = (int) fx;
  p.y0 = (int) fy;
  p.wx = ix - fx;
  p.wy = iy - fy;
  bool x0in = p.x0 >= 0 && p.x0 < SO, x1in = p.x0 + 1 >= 0 && p.x0 + 1 < SO;
  bool y0in = p.y0 >= 0 && p.y0 < SO, y1in = p.y0 + 1 >= 0 && p.y0 + 1 < SO;
  p.in00 = y0in && x0in;
  p.in01 = y0in && x1in;
  p.in10 = y1in && x0in;
  p.in11 = y1in && x1in;
  return p;
}

DnTwinV1Cpu *
dn_twin_v1_cpu_new (const DnTwinV1Params *w, DnStatus *status)
{
  DnTwinV1Cpu *m = aligned_alloc (64, (sizeof (DnTwinV1Cpu) + 63) & ~(size_t) 63);
  if (!m)
    goto oom;
  memset (m, 0, sizeof *m);
  const int K = w->K;
  m->K = K;
  m->F = malloc ((size_t) K * C1 * sizeof (float));
  m->FT = malloc ((size_t) K * C1 * sizeof (float));
  m->bias = malloc ((size_t) K * sizeof (float));
  m->pos = malloc ((size_t) K * sizeof (V1CpuPos));
  if (!m->F || !m->FT || !m->bias || !m->pos)
    goto oom;
  for (int o = 0; o < C0; o++)
    for (int t = 0; t < 16; t++)
      {
        m->pw1[t * C0 + o] = w->patch_w1[o * 16 + t];
        for (int ci = 0; ci < 3; ci++)
          m->pw3[(ci * 16 + t) * C0 + o] = w->patch_w3[(o * 3 + ci) * 16 + t];
      }
  memcpy (m->pwn1, w->patch_w1, sizeof m->pwn1);
  memcpy (m->pwn3, w->patch_w3, sizeof m->pwn3);
  memcpy (m->patch_b, w->patch_b, sizeof m->patch_b);
  memcpy (m->stem_w, w->stem_w, sizeof m->stem_w);
  memcpy (m->stem_b, w->stem_b, sizeof m->stem_b);
  for (int j = 0; j < 2; j++)
    {
      V1CpuBlock *b = &m->blk[j];
      const DnTwinV1BlockParams *s = &w->blk[j];
      for (int c = 0; c < C0; c++)
        for (int t = 0; t < 49; t++)
          {
            b->dw[t * C0 + c] = s->dw_w[c * 49 + t];
            b->dwf[(48 - t) * C0 + c] = s->dw_w[c * 49 + t];
          }
      memcpy (b->w1n, s->pw1_w, sizeof b->w1n);
      memcpy (b->w2n, s->pw2_w, sizeof b->w2n);
      memcpy (b->dw_b, s->dw_b, sizeof b->dw_b);
      memcpy (b->ln_w, s->ln_w, sizeof b->ln_w);
      memcpy (b->ln_b, s->ln_b, sizeof b->ln_b);
      for (int o = 0; o < HID; o++)
        for (int k = 0; k < C0; k++)
          b->w1t[k * HID + o] = s->pw1_w[o * C0 + k];
      memcpy (b->b1, s->pw1_b, sizeof b->b1);
      memcpy (b->gamma, s->grn_g, sizeof b->gamma);
      for (int o = 0; o < C0; o++)
        {
          double acc = s->pw2_b[o];
          for (int c = 0; c < HID; c++)
            {
              b->w2t[c * C0 + o] = s->pw2_w[o * HID + c];
              acc += (double) s->pw2_w[o * HID + c] * s->grn_b[c];
            }
          b->b2eff[o] = (float) acc;
        }
    }
  memcpy (m->ds_ln_w, w->ds_ln_w, sizeof m->ds_ln_w);
  memcpy (m->ds_ln_b, w->ds_ln_b, sizeof m->ds_ln_b);
  for (int o = 0; o < C1; o++)
    for (int c = 0; c < C0; c++)
      for (int t = 0; t < 4; t++)
        m->dsw[(t * C0 + c) * C1 + o] = w->ds_w[(o * C0 + c) * 4 + t];
  memcpy (m->ds_b, w->ds_b, sizeof m->ds_b);
  for (int c = 0; c < C1; c++)
    {
      /* as bn_eval_forward_range in compute/ops/norm/dn-batchnorm.c */
      m->bn_m[c] = w->bn_rm[c];
      m->bn_r[c] = (float) (1.0 / sqrt ((double) w->bn_rv[c] + 1e-5f));
      m->bn_w[c] = w->bn_w[c];
      m->bn_b[c] = w->bn_b[c];
    }
  memcpy (m->F, w->features, (size_t) K * C1 * sizeof (float));
  for (int c = 0; c < C1; c++)
    for (int k = 0; k < K; k++)
      m->FT[k * C1 + c] = w->features[c * K + k];
  memcpy (m->bias, w->bias, (size_t) K * sizeof (float));
  for (int k = 0; k < K; k++)
    m->pos[k] = readout_pos (w->mu, k);
  *status = DN_OK;
  return m;
oom:
  dn_twin_v1_cpu_free (m);
  *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
  return NULL;
}

DnTwinV1CpuWork *
dn_twin_v1_cpu_work_new (int n_threads, DnStatus *status)
{
  DnTwinV1CpuWork *w = calloc (1, sizeof *w);
  int n = n_threads > 0 ? n_threads : 1;
  if (!w || !(w->slots = calloc ((size_t) n, sizeof *w->slots)))
    goto oom;
  w->n_slots = n;
  for (int i = 0; i < n; i++)
    {
      if (!(w->slots[i] = aligned_alloc (64, (sizeof (V1CpuScratch) + 63) & ~(size_t) 63)))
        goto oom;
      memset (w->slots[i], 0, sizeof (V1CpuScratch));
    }
  *status = DN_OK;
  return w;
oom:
  dn_twin_v1_cpu_work_free (w);
  *status = dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
  return NULL;
}

void
dn_twin_v1_cpu_work_free (DnTwinV1CpuWork *w)
{
  if (!w)
    return;
  for (int i = 0; w->slots && i < w->n_slots; i++)
    free (w->slots[i]);
  for (int i = 0; w->grads && i < w->n_slots; i++)
    free (w->grads[i]);
  free (w->slots);
  free (w->grads);
  free (w);
}

/* Kernels --------------------------------------------------------------------------------------------- */

/* Row y of the depthwise 7×7 conv (+ bias) of the zero-padded map (SP,SP,C0): out (S,C0). */
static inline __attribute__ ((always_inline)) void
dwconv_row_generic (const float *pad, const float *w, const float *bias, int y, float *out)
{
  for (int x = 0; x < S; x++)
    {
      float *o = out + x * C0;
      for (int c = 0; c < C0; c++)
        o[c] = bias[c];
      for (int ky = 0; ky < 7; ky++)
        for (int kx = 0; kx < 7; kx++)
          {
            const float *src = pad + ((y + ky) * SP + x + kx) * C0, *wt = w + (ky * 7 + kx) * C0;
            for (int c = 0; c < C0; c++)
              o[c] += src[c] * wt[c];
          }
    }
}

#ifdef V1_X86
#define V1_AVX2 __attribute__ ((target ("avx2,fma")))

/* C (6,N) = A (6,K) · B (K,N), N a multiple of 8; row strides lda, ldb, ldc. Register tiles of 6×16
 * and 6×8: 12 (6) accumulators, B rows loaded once per k. */
#define ROW2(i)                                                                                       \
  {                                                                                                   \
    __m256 t = _mm256_broadcast_ss (A + (i) * lda + k);                                              \
    c##i##0 = _mm256_fmadd_ps (t, b0, c##i##0);                                                       \
    c##i##1 = _mm256_fmadd_ps (t, b1, c##i##1);                                                       \
  }
#define ROW1(i)                                                                                       \
  {                                                                                                   \
    __m256 t = _mm256_broadcast_ss (A + (i) * lda + k);                                              \
    c##i##0 = _mm256_fmadd_ps (t, b0, c##i##0);                                                       \
  }

V1_AVX2 static void
gemm6_avx2 (int K, const float *A, int lda, const float *B, int ldb, int N, float *C, int ldc)
{
  int j = 0;
  for (; j + 16 <= N; j += 16)
    {
      __m256 c00 = _mm256_setzero_ps (), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
      __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
      for (int k = 0; k < K; k++)
        {
          __m256 b0 = _mm256_loadu_ps (B + k * ldb + j), b1 = _mm256_loadu_ps (B + k * ldb + j + 8);
          ROW2 (0) ROW2 (1) ROW2 (2) ROW2 (3) ROW2 (4) ROW2 (5)
        }
      _mm256_storeu_ps (C + 0 * ldc + j, c00);
      _mm256_storeu_ps (C + 0 * ldc + j + 8, c01);
      _mm256_storeu_ps (C + 1 * ldc + j, c10);
      _mm256_storeu_ps (C + 1 * ldc + j + 8, c11);
      _mm256_storeu_ps (C + 2 * ldc + j, c20);
      _mm256_storeu_ps (C + 2 * ldc + j + 8, c21);
      _mm256_storeu_ps (C + 3 * ldc + j, c30);
      _mm256_storeu_ps (C + 3 * ldc + j + 8, c31);
      _mm256_storeu_ps (C + 4 * ldc + j, c40);
      _mm256_storeu_ps (C + 4 * ldc + j + 8, c41);
      _mm256_storeu_ps (C + 5 * ldc + j, c50);
      _mm256_storeu_ps (C + 5 * ldc + j + 8, c51);
    }
  for (; j < N; j += 8)
    {
      __m256 c00 = _mm256_setzero_ps (), c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00;
      for (int k = 0; k < K; k++)
        {
          __m256 b0 = _mm256_loadu_ps (B + k * ldb + j);
          ROW1 (0) ROW1 (1) ROW1 (2) ROW1 (3) ROW1 (4) ROW1 (5)
        }
      _mm256_storeu_ps (C + 0 * ldc + j, c00);
      _mm256_storeu_ps (C + 1 * ldc + j, c10);
      _mm256_storeu_ps (C + 2 * ldc + j, c20);
      _mm256_storeu_ps (C + 3 * ldc + j, c30);
      _mm256_storeu_ps (C + 4 * ldc + j, c40);
      _mm256_storeu_ps (C + 5 * ldc + j, c50);
    }
}
#undef ROW1
#undef ROW2

/* gemm6_avx2 with 512-bit registers where the CPU has AVX-512, N a multiple of 32: tiles of 6×32 (12
 * accumulators). Half the loads and instructions per FMA: the fused V1 paths run 25–30% faster with it
 * on a Zen 4 EPYC. */
#define ROWZ(i)                                                                                       \
  {                                                                                                   \
    __m512 t = _mm512_set1_ps (A[(i) * lda + k]);                                                     \
    c##i##0 = _mm512_fmadd_ps (t, b0, c##i##0);                                                       \
    c##i##1 = _mm512_fmadd_ps (t, b1, c##i##1);                                                       \
  }
#define STZ(i)                                                                                        \
  _mm512_storeu_ps (C + (i) * ldc + j, c##i##0);                                                      \
  _mm512_storeu_ps (C + (i) * ldc + j + 16, c##i##1);
__attribute__ ((target ("avx512f,avx512vl,avx2,fma"))) static void
gemm6_avx512 (int K, const float *A, int lda, const float *B, int ldb, int N, float *C, int ldc)
{
  for (int j = 0; j + 32 <= N; j += 32)
    {
      __m512 c00 = _mm512_setzero_ps (), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
      __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
      for (int k = 0; k < K; k++)
        {
          __m512 b0 = _mm512_loadu_ps (B + k * ldb + j), b1 = _mm512_loadu_ps (B + k * ldb + j + 16);
          ROWZ (0) ROWZ (1) ROWZ (2) ROWZ (3) ROWZ (4) ROWZ (5)
        }
      STZ (0) STZ (1) STZ (2) STZ (3) STZ (4) STZ (5)
    }
}
#undef STZ
#undef ROWZ

/* Whether gemm () takes gemm6_avx512 for the first N & ~31 columns: set from dn_cpu_have_avx512 () by
 * the dispatch (v1_job_range) before any image is computed. */
static atomic_bool gemm_use_avx512;

/* Row y of the depthwise 7×7 conv (+ bias): out (S,C0). Per 8 channels, 8 neighbouring pixels at a
 * time (8 independent accumulators hide the FMA latency) share each weight load; the last block
 * overlaps the one before (x = 15..22). */
V1_AVX2 static void
dwconv_row_avx2 (const float *pad, const float *w, const float *bias, int y, float *out)
{
  for (int cv = 0; cv < C0; cv += 8)
    {
      const __m256 bv = _mm256_loadu_ps (bias + cv);
      for (int xb = 0; xb < 3; xb++)
        {
          int x0 = xb < 2 ? 8 * xb : S - 8;
          __m256 a0 = bv, a1 = bv, a2 = bv, a3 = bv, a4 = bv, a5 = bv, a6 = bv, a7 = bv;
          for (int ky = 0; ky < 7; ky++)
            {
              const float *src = pad + ((y + ky) * SP + x0) * C0 + cv, *wt = w + ky * 7 * C0 + cv;
#pragma GCC unroll 7
              for (int kx = 0; kx < 7; kx++)
                {
                  const __m256 wv = _mm256_loadu_ps (wt + kx * C0);
                  const float *sk = src + kx * C0;
                  a0 = _mm256_fmadd_ps (_mm256_loadu_ps (sk), wv, a0);
                  a1 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 1 * C0), wv, a1);
                  a2 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 2 * C0), wv, a2);
                  a3 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 3 * C0), wv, a3);
                  a4 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 4 * C0), wv, a4);
                  a5 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 5 * C0), wv, a5);
                  a6 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 6 * C0), wv, a6);
                  a7 = _mm256_fmadd_ps (_mm256_loadu_ps (sk + 7 * C0), wv, a7);
                }
            }
          float *o = out + x0 * C0 + cv;
          _mm256_storeu_ps (o, a0);
          _mm256_storeu_ps (o + 1 * C0, a1);
          _mm256_storeu_ps (o + 2 * C0, a2);
          _mm256_storeu_ps (o + 3 * C0, a3);
          _mm256_storeu_ps (o + 4 * C0, a4);
          _mm256_storeu_ps (o + 5 * C0, a5);
          _mm256_storeu_ps (o + 6 * C0, a6);
          _mm256_storeu_ps (o + 7 * C0, a7);
        }
    }
}

/* ln40 with the channel sums in registers (the scalar chains of 40 dependent adds are latency-bound). */
V1_AVX2 static inline float
hsum8 (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

V1_AVX2 static inline void
ln40s_avx2 (const float *v, const float *w, const float *b, float *out, float *mean, float *rstd)
{
  __m256 x0 = _mm256_loadu_ps (v), x1 = _mm256_loadu_ps (v + 8), x2 = _mm256_loadu_ps (v + 16);
  __m256 x3 = _mm256_loadu_ps (v + 24), x4 = _mm256_loadu_ps (v + 32);
  float m = hsum8 (_mm256_add_ps (_mm256_add_ps (_mm256_add_ps (x0, x1), _mm256_add_ps (x2, x3)), x4)) / (float) C0;
  __m256 mv = _mm256_set1_ps (m);
  x0 = _mm256_sub_ps (x0, mv);
  x1 = _mm256_sub_ps (x1, mv);
  x2 = _mm256_sub_ps (x2, mv);
  x3 = _mm256_sub_ps (x3, mv);
  x4 = _mm256_sub_ps (x4, mv);
  __m256 q = _mm256_mul_ps (x4, x4);
  q = _mm256_fmadd_ps (x0, x0, q);
  q = _mm256_fmadd_ps (x1, x1, q);
  q = _mm256_fmadd_ps (x2, x2, q);
  q = _mm256_fmadd_ps (x3, x3, q);
  float r = 1.0f / sqrtf (hsum8 (q) / (float) C0 + 1e-6f);
  if (mean)
    {
      *mean = m;
      *rstd = r;
    }
  __m256 rs = _mm256_set1_ps (r);
#define LN_OUT(i)                                                                                     \
  _mm256_storeu_ps (out + 8 * (i), _mm256_add_ps (_mm256_mul_ps (_mm256_mul_ps (x##i, rs), _mm256_loadu_ps (w + 8 * (i))), \
                                                   _mm256_loadu_ps (b + 8 * (i))));
  LN_OUT (0) LN_OUT (1) LN_OUT (2) LN_OUT (3) LN_OUT (4)
#undef LN_OUT
}

/* The LN's input gradient for one pixel (as ln_backward_inp_range, with float sums): x the LN's input,
 * m and r its mean and 1/std, g ∂/∂out; dx = or += ∂/∂x. */
V1_AVX2 static inline void
ln40_bwd_avx2 (const float *x, float m, float r, const float *w, const float *g, float *dx, bool add)
{
  const __m256 mv = _mm256_set1_ps (m), rv = _mm256_set1_ps (r);
  __m256 dn[5], xh[5], s1 = _mm256_setzero_ps (), s2 = _mm256_setzero_ps ();
  for (int i = 0; i < 5; i++)
    {
      dn[i] = _mm256_mul_ps (_mm256_loadu_ps (w + 8 * i), _mm256_loadu_ps (g + 8 * i));
      xh[i] = _mm256_mul_ps (_mm256_sub_ps (_mm256_loadu_ps (x + 8 * i), mv), rv);
      s1 = _mm256_add_ps (s1, dn[i]);
      s2 = _mm256_fmadd_ps (dn[i], xh[i], s2);
    }
  const __m256 m1 = _mm256_set1_ps (hsum8 (s1) / (float) C0), m2 = _mm256_set1_ps (hsum8 (s2) / (float) C0);
  for (int i = 0; i < 5; i++)
    {
      __m256 v = _mm256_mul_ps (_mm256_sub_ps (_mm256_sub_ps (dn[i], m1), _mm256_mul_ps (xh[i], m2)), rv);
      if (add)
        v = _mm256_add_ps (v, _mm256_loadu_ps (dx + 8 * i));
      _mm256_storeu_ps (dx + 8 * i, v);
    }
}

#endif

/* The body, compiled twice (AVX2+FMA and generic): `avx2` is a constant in each copy. ----------------- */

#ifdef V1_X86
#define LN40S(...) (avx2 ? ln40s_avx2 (__VA_ARGS__) : ln40s (__VA_ARGS__))
#define LN40_BWD(...) (avx2 ? ln40_bwd_avx2 (__VA_ARGS__) : ln40_bwd (__VA_ARGS__))
#else
#define LN40S(...) ln40s (__VA_ARGS__)
#define LN40_BWD(...) ln40_bwd (__VA_ARGS__)
#endif
#define LN40(v, w, b, out) LN40S (v, w, b, out, NULL, NULL)

/* C (M,N) = A (M,K) · B (K,N), M a multiple of 6, N of 8: the micro-kernel, else one single-threaded
 * OpenBLAS call (OpenBLAS runs with 1 thread in this engine; dn_cpu_sgemm calls it from workers too). */
static inline __attribute__ ((always_inline)) void
gemm (const bool avx2, int M, int K, const float *A, int lda, const float *B, int ldb, int N, float *C, int ldc)
{
#ifdef V1_X86
  if (avx2)
    {
      int n32 = atomic_load_explicit (&gemm_use_avx512, memory_order_relaxed) ? N & ~31 : 0;
      for (int i = 0; i < M; i += 6)
        {
          if (n32)
            gemm6_avx512 (K, A + i * lda, lda, B, ldb, n32, C + i * ldc, ldc);
          if (N > n32)
            gemm6_avx2 (K, A + i * lda, lda, B + n32, ldb, N - n32, C + i * ldc + n32, ldc);
        }
      return;
    }
#endif
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}

/* out (C0) = LayerNorm of v (C0) over the channels (biased variance), as the op path's ln_forward_range;
 * mean, rstd: NULL or where to put the statistics. */
static inline __attribute__ ((always_inline)) void
ln40s (const float *v, const float *w, const float *b, float *out, float *mean, float *rstd)
{
  float m = 0.0f;
  for (int c = 0; c < C0; c++)
    m += v[c];
  m /= (float) C0;
  float var = 0.0f;
  for (int c = 0; c < C0; c++)
    {
      float d = v[c] - m;
      var += d * d;
    }
  float rs = (float) (1.0 / sqrt ((double) (var / (float) C0) + 1e-6));
  if (mean)
    {
      *mean = m;
      *rstd = rs;
    }
  for (int c = 0; c < C0; c++)
    out[c] = (v[c] - m) * rs * w[c] + b[c];
}

/* ln40_bwd_avx2 in plain C */
static inline __attribute__ ((always_inline)) void
ln40_bwd (const float *x, float m, float r, const float *w, const float *g, float *dx, bool add)
{
  float s1 = 0.0f, s2 = 0.0f;
  for (int c = 0; c < C0; c++)
    {
      float dn = w[c] * g[c];
      s1 += dn;
      s2 += dn * ((x[c] - m) * r);
    }
  float m1 = s1 / (float) C0, m2 = s2 / (float) C0;
  for (int c = 0; c < C0; c++)
    {
      float v = (w[c] * g[c] - m1 - (x[c] - m) * r * m2) * r;
      dx[c] = add ? dx[c] + v : v;
    }
}

/* GELU and its derivative with one exp (the forward of a forward+backward): erf as dn_elem_erff for
 * |x| < 1 and |x| ≥ 4 (x = u/√2), and for 1 ≤ |x| < 4 as 1 − exp(−x²)·R(v), R a fit of erfc(t)·exp(t²)
 * (tests/elem/gen-erf-coeffs.c, second form: 1.05 ulp), so the exp(−u²/2) of GELU' serves erf too.
 * Where 1 + erf rounds to 0 (u ≲ −5.5) the GELU is exactly 0, as in PyTorch (twins.md §2.2). */
static inline __attribute__ ((always_inline)) void
gelu_grad (float u, float *g, float *gp)
{
  float x = u * 0.70710678f, ax = __builtin_fabsf (x);
  float h = -0.5f * u * u;
  float e = dn_elem_expf_neg (h > -87.0f ? h : -87.0f);
  float small = dn_elem_erff_small (x);
  float cx = ax < 4.0f ? ax : 4.0f;
  float w = (cx - 2.5f) * 0.666666667f;
  float r = -3.56641794e-05f;
  r = r * w + 9.62912018e-05f;
  r = r * w + -0.00014741614f;
  r = r * w + 0.000368151086f;
  r = r * w + -0.00101366255f;
  r = r * w + 0.00242563896f;
  r = r * w + -0.00556883775f;
  r = r * w + 0.012484123f;
  r = r * w + -0.0270054583f;
  r = r * w + 0.0561109483f;
  r = r * w + -0.111521021f;
  r = r * w + 0.210806355f;
  float big = 1.0f - e * r;
  big = ax < 4.0f ? big : 1.0f;
  big = x < 0.0f ? -big : big;
  float cdf = 0.5f * (1.0f + (ax < 1.0f ? small : big));
  *g = u * cdf;
  *gp = cdf + u * (e * 0.39894228f);
}

static inline __attribute__ ((always_inline)) float
gelu (float x)
{
  /* GELU_FORWARD_BODY of compute/ops/elem/dn-activations.c */
  return x * 0.5f * (1.0f + dn_elem_erff (x * 0.70710678f));
}

typedef struct
{
  const DnTwinV1Cpu *m;
  V1CpuScratch **slots;
  float *y;        /* (N,K) */
  const float *x;  /* (N,cin,93,93) */
  int cin;
  int64_t N;
  bool centered;
  const DnTwinV1Keep *keep;
  /* forward+backward: dx (N,cin,93,93) += ∂/∂x Σ_k dout[n,k]·scale·(elu(y[n,k] − 1) + 1) */
  float *dx;
  const float *dout;
  float scale;
  V1CpuGrad **grads;
  atomic_llong next;
} V1Job;

/* One block on s->r (in place). rows: the pixels whose output is needed (NULL = all). sv: NULL, or where
 * to keep what the backward needs (then the GELU output goes to sv->g instead of s->g). */
static inline __attribute__ ((always_inline)) void
block_body (const bool avx2, const V1CpuBlock *b, V1CpuScratch *s, const int *rows, int n_rows, V1CpuBlockSave *sv)
{
  /* dwconv 7×7 + bias, then LN over C, per pixel */
  for (int y = 0; y < S; y++)
    memcpy (s->pad + ((y + 3) * SP + 3) * C0, s->r + y * S * C0, S * C0 * sizeof (float));
  for (int y = 0; y < S; y++)
    {
      float dloc[S * C0], *d = sv ? sv->d + y * S * C0 : dloc;
#ifdef V1_X86
      if (avx2)
        dwconv_row_avx2 (s->pad, b->dw, b->dw_b, y, d);
      else
#endif
        dwconv_row_generic (s->pad, b->dw, b->dw_b, y, d);
      for (int x = 0; x < S; x++)
        LN40S (d + x * C0, b->ln_w, b->ln_b, s->a + (y * S + x) * C0, sv ? &sv->mean[y * S + x] : NULL,
               sv ? &sv->rstd[y * S + x] : NULL);
    }
  /* pw1 + bias → GELU; Σ_hw g² per channel in double (as dn_grn_forward). With sv also GELU'
   * (gelu_grad). */
  float *gbuf = sv ? sv->g : s->g;
  gemm (avx2, NPP, C0, s->a, C0, b->w1t, HID, HID, gbuf, HID);
  for (int c = 0; c < HID; c++)
    s->ss[c] = 0.0;
  for (int p = 0; p < NP; p++)
    {
      float *g = gbuf + p * HID;
      if (sv)
        {
          float *gp = sv->gp + p * HID;
          for (int c = 0; c < HID; c++)
            {
              gelu_grad (g[c] + b->b1[c], &g[c], &gp[c]);
            }
        }
      else
        for (int c = 0; c < HID; c++)
          g[c] = gelu (g[c] + b->b1[c]);
      for (int c = 0; c < HID; c++)
        s->ss[c] += (double) g[c] * g[c];
    }
  /* GRN: Nx = ‖g‖ / (mean_c ‖g‖ + 1e-6), folded into pw2's weights: W2'[c][o] = W2[o][c]·(γ_c·Nx_c + 1) */
  float gx[HID];
  double msum = 0.0;
  for (int c = 0; c < HID; c++)
    {
      gx[c] = (float) sqrt (s->ss[c]);
      msum += gx[c];
    }
  float den = (float) (msum / (double) HID) + 1e-6f;
  for (int c = 0; c < HID; c++)
    {
      float nx = gx[c] / den;
      if (sv)
        {
          sv->gx[c] = gx[c];
          sv->nx[c] = nx;
        }
      float sc = b->gamma[c] * nx + 1.0f;
      for (int o = 0; o < C0; o++)
        s->w2[c * C0 + o] = b->w2t[c * C0 + o] * sc;
    }
  /* pw2 + b2eff + residual (the pw2 output goes to s->a, free by now) */
  if (!rows)
    {
      gemm (avx2, NPP, HID, gbuf, HID, s->w2, C0, C0, s->a, C0);
      for (int p = 0; p < NP; p++)
        for (int o = 0; o < C0; o++)
          s->r[p * C0 + o] += s->a[p * C0 + o] + b->b2eff[o];
    }
  else
    {
      for (int i = 0; i < n_rows; i++)
        memcpy (s->t6 + i * HID, gbuf + rows[i] * HID, HID * sizeof (float));
      gemm (avx2, 6, HID, s->t6, HID, s->w2, C0, C0, s->h6, C0);
      for (int i = 0; i < n_rows; i++)
        {
          float *r = s->r + rows[i] * C0;
          for (int o = 0; o < C0; o++)
            r[o] += s->h6[i * C0 + o] + b->b2eff[o];
        }
    }
}

/* The pixels of the stage-0 map under the centred readout's pixel (5,5) of the stage-1 map. */
static const int center_rows[4] = { 10 * S + 10, 10 * S + 11, 11 * S + 10, 11 * S + 11 };

/* One image's forward; gs: NULL, or where to keep what the backward needs (centred readout only). */
static inline __attribute__ ((always_inline)) void
image_body (const bool avx2, const V1Job *j, V1CpuScratch *s, V1CpuGrad *gs, int64_t n)
{
  const DnTwinV1Cpu *m = j->m;
  const DnTwinV1Keep *keep = j->keep;
  const bool full = !j->centered || keep;
  const int cin = j->cin, K = m->K;
  /* patch conv 4×4 s4: im2col (row stride 48, rows ≥ NP stay 0), GEMM, + bias, LN over C → r */
  const float *x = j->x + n * cin * 93 * 93;
  for (int i = 0; i < S; i++)
    for (int jj = 0; jj < S; jj++)
      {
        float *row = s->xs + (i * S + jj) * 48;
        for (int ci = 0; ci < cin; ci++)
          for (int ky = 0; ky < 4; ky++)
            for (int kx = 0; kx < 4; kx++)
              row[ci * 16 + ky * 4 + kx] = x[(ci * 93 + 4 * i + ky) * 93 + 4 * jj + kx];
      }
  const float *pw = cin == 1 ? m->pw1 : m->pw3;
  gemm (avx2, NPP, cin * 16, s->xs, 48, pw, C0, C0, s->a, C0);
  for (int p = 0; p < NP; p++)
    {
      float vloc[C0], *v = gs ? gs->sv + p * C0 : vloc;
      for (int c = 0; c < C0; c++)
        v[c] = s->a[p * C0 + c] + m->patch_b[c];
      LN40S (v, m->stem_w, m->stem_b, s->r + p * C0, gs ? &gs->s_mean[p] : NULL, gs ? &gs->s_rstd[p] : NULL);
    }
  if (keep)
    for (int p = 0; p < NP; p++)
      for (int c = 0; c < C0; c++)
        keep->stem[(n * C0 + c) * NP + p] = s->r[p * C0 + c];
  /* stage 0 */
  block_body (avx2, &m->blk[0], s, NULL, 0, gs ? &gs->b[0] : NULL);
  block_body (avx2, &m->blk[1], s, full ? NULL : center_rows, 4, gs ? &gs->b[1] : NULL);
  if (keep)
    for (int p = 0; p < NP; p++)
      for (int c = 0; c < C0; c++)
        keep->stage0[(n * C0 + c) * NP + p] = s->r[p * C0 + c];
  /* stage-1 downsampling: LN over C, 2×2 s2 conv (im2col row = (ky,kx,c)), + bias; BN; GELU */
  int n_out = full ? NO : 1;
  for (int q = 0; q < n_out; q++)
    {
      int oy = full ? q / SO : 5, ox = full ? q % SO : 5;
      for (int t = 0; t < 4; t++)
        {
          const float *in = s->r + ((2 * oy + t / 2) * S + 2 * ox + t % 2) * C0;
          if (gs)
            {
              memcpy (gs->dsx + t * C0, in, C0 * sizeof (float));
              in = gs->dsx + t * C0;
            }
          LN40S (in, m->ds_ln_w, m->ds_ln_b, s->dsin + (q * 4 + t) * C0, gs ? &gs->ds_mean[t] : NULL,
                 gs ? &gs->ds_rstd[t] : NULL);
        }
    }
  gemm (avx2, full ? NOP : 6, 4 * C0, s->dsin, 4 * C0, m->dsw, C1, C1, s->ds, C1);
  for (int q = 0; q < n_out; q++)
    {
      int qq = full ? q : CENTER;
      float *act = s->act + qq * C1;
      for (int o = 0; o < C1; o++)
        {
          float v = s->ds[q * C1 + o] + m->ds_b[o];
          if (keep)
            keep->ds[(n * C1 + o) * NO + qq] = v;
          float z = (v - m->bn_m[o]) * m->bn_r[o] * m->bn_w[o] + m->bn_b[o];
          act[o] = gelu (z);
          if (gs)
            {
              float gz;
              gelu_grad (z, &gz, &gs->gp_act[o]);
            }
          if (keep)
            keep->act[(n * C1 + o) * NO + qq] = act[o];
        }
    }
  /* Gaussian readout (eval: bilinear at mu, zeros outside), as readout_fwd_range */
  float *y = j->y + n * K;
  if (j->centered)
    {
      const float *a = s->act + CENTER * C1;
      for (int k = 0; k < K; k++)
        y[k] = 0.0f;
      for (int c = 0; c < C1; c++)
        {
          const float av = a[c], *F = m->F + c * K;
          for (int k = 0; k < K; k++)
            y[k] += av * F[k];
        }
      for (int k = 0; k < K; k++)
        y[k] += m->bias[k];
    }
  else
    {
      static const float zero[C1];
      for (int k = 0; k < K; k++)
        {
          const V1CpuPos *p = &m->pos[k];
          const float *f00 = p->in00 ? s->act + (p->y0 * SO + p->x0) * C1 : zero;
          const float *f01 = p->in01 ? s->act + (p->y0 * SO + p->x0 + 1) * C1 : zero;
          const float *f10 = p->in10 ? s->act + ((p->y0 + 1) * SO + p->x0) * C1 : zero;
          const float *f11 = p->in11 ? s->act + ((p->y0 + 1) * SO + p->x0 + 1) * C1 : zero;
          const float *FT = m->FT + k * C1;
          float acc = 0.0f;
          for (int c = 0; c < C1; c++)
            acc += ((1.0f - p->wy) * ((1.0f - p->wx) * f00[c] + p->wx * f01[c])
                    + p->wy * ((1.0f - p->wx) * f10[c] + p->wx * f11[c]))
                   * FT[c];
          y[k] = acc + m->bias[k];
        }
    }
}

/* The backward of one block: gs->dr holds ∂/∂ block output (only on `rows` when given: the centred last
 * block) and becomes ∂/∂ block input. As the op path's linear, grn, gelu, layernorm and conv2d backwards;
 * the GRN's zero-norm channels get no gradient through the norm (twins.md §2.2). */
static inline __attribute__ ((always_inline)) void
block_backward (const bool avx2, const V1CpuBlock *b, const V1CpuBlockSave *sv, V1CpuGrad *gs, const int *rows,
                int n_rows)
{
  double P[HID];
  for (int c = 0; c < HID; c++)
    P[c] = 0.0;
  /* ∂/∂ GRN output q = ∂out · W2; P_c = Σ_hw ∂q·g */
  if (!rows)
    {
      gemm (avx2, NPP, C0, gs->dr, C0, b->w2n, HID, HID, gs->dq, HID);
      for (int p = 0; p < NP; p++)
        {
          const float *q = gs->dq + p * HID, *g = sv->g + p * HID;
          for (int c = 0; c < HID; c++)
            P[c] += (double) q[c] * g[c];
        }
    }
  else
    {
      for (int i = 0; i < n_rows; i++)
        memcpy (gs->t6 + i * C0, gs->dr + rows[i] * C0, C0 * sizeof (float));
      gemm (avx2, 6, C0, gs->t6, C0, b->w2n, HID, HID, gs->q6, HID);
      for (int i = 0; i < n_rows; i++)
        {
          const float *q = gs->q6 + i * HID, *g = sv->g + rows[i] * HID;
          for (int c = 0; c < HID; c++)
            P[c] += (double) q[c] * g[c];
        }
    }
  /* GRN backward (as dn_grn_backward): ∂g = ∂q·(γ·Nx + 1) + kx·g */
  double msum = 0.0, Ssum = 0.0;
  for (int c = 0; c < HID; c++)
    {
      msum += sv->gx[c];
      Ssum += b->gamma[c] * P[c] * sv->gx[c];
    }
  double den = msum / (double) HID + 1e-6;
  float kx[HID], sc[HID];
  for (int c = 0; c < HID; c++)
    {
      double gxc = sv->gx[c];
      double dg = b->gamma[c] * P[c] / den - Ssum / ((double) HID * den * den);
      kx[c] = gxc > 0 ? (float) (dg / gxc) : 0.0f;
      sc[c] = b->gamma[c] * sv->nx[c] + 1.0f;
    }
  /* → GELU backward: ∂u = ∂g·GELU'(u), into gs->dq */
  if (!rows)
    for (int p = 0; p < NP; p++)
      {
        float *q = gs->dq + p * HID;
        const float *g = sv->g + p * HID, *gp = sv->gp + p * HID;
        for (int c = 0; c < HID; c++)
          q[c] = (q[c] * sc[c] + kx[c] * g[c]) * gp[c];
      }
  else
    {
      for (int p = 0; p < NP; p++)
        {
          float *q = gs->dq + p * HID;
          const float *g = sv->g + p * HID, *gp = sv->gp + p * HID;
          for (int c = 0; c < HID; c++)
            q[c] = (kx[c] * g[c]) * gp[c];
        }
      for (int i = 0; i < n_rows; i++)
        {
          float *q = gs->dq + rows[i] * HID;
          const float *q6 = gs->q6 + i * HID, *g = sv->g + rows[i] * HID, *gp = sv->gp + rows[i] * HID;
          for (int c = 0; c < HID; c++)
            q[c] = (q6[c] * sc[c] + kx[c] * g[c]) * gp[c];
        }
    }
  /* pw1 backward: ∂a = ∂u · W1; LN backward per pixel into the padded map */
  gemm (avx2, NPP, HID, gs->dq, HID, b->w1n, C0, C0, gs->da, C0);
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++)
      {
        int p = y * S + x;
        LN40_BWD (sv->d + p * C0, sv->mean[p], sv->rstd[p], b->ln_w, gs->da + p * C0,
                  gs->padg + ((y + 3) * SP + x + 3) * C0, false);
      }
  /* dwconv backward: the conv of ∂d with the flipped kernel, added to the residual's gradient */
  static const float zero_bias[C0];
  for (int y = 0; y < S; y++)
    {
      float t[S * C0];
#ifdef V1_X86
      if (avx2)
        dwconv_row_avx2 (gs->padg, b->dwf, zero_bias, y, t);
      else
#endif
        dwconv_row_generic (gs->padg, b->dwf, zero_bias, y, t);
      float *dr = gs->dr + y * S * C0;
      for (int i = 0; i < S * C0; i++)
        dr[i] += t[i];
    }
}

/* The backward of one image after image_body (centred readout) with gs: dx row += ∂/∂x. */
static inline __attribute__ ((always_inline)) void
image_backward (const bool avx2, const V1Job *j, V1CpuGrad *gs, int64_t n)
{
  const DnTwinV1Cpu *m = j->m;
  const int K = m->K, cin = j->cin;
  const float *y = j->y + n * K, *dout = j->dout + n * K;
  /* output nonlinearity (as dn_twin_forward_backward: dy = dout·scale·elu'(y − 1)) and readout */
  float da[C1];
  for (int c = 0; c < C1; c++)
    da[c] = 0.0f;
  for (int k = 0; k < K; k++)
    {
      if (dout[k] == 0.0f)
        continue;
      float dr = dout[k] * j->scale, ym1 = y[k] - 1.0f;
      float dy = ym1 > 0.0f ? dr : dr * expf (ym1);
      const float *FT = m->FT + k * C1;
      for (int c = 0; c < C1; c++)
        da[c] += dy * FT[c];
    }
  /* GELU, BN (eval), the 2×2 conv at the read pixel, the downsampling LN on the 4 pixels under it */
  float dv[C1], dsin[4 * C0];
  for (int o = 0; o < C1; o++)
    dv[o] = (m->bn_w[o] * m->bn_r[o]) * (da[o] * gs->gp_act[o]);
  for (int i = 0; i < 4 * C0; i++)
    {
      const float *w = m->dsw + i * C1;
      float acc = 0.0f;
      for (int o = 0; o < C1; o++)
        acc += w[o] * dv[o];
      dsin[i] = acc;
    }
  memset (gs->dr, 0, NP * C0 * sizeof (float));
  for (int t = 0; t < 4; t++)
    LN40_BWD (gs->dsx + t * C0, gs->ds_mean[t], gs->ds_rstd[t], m->ds_ln_w, dsin + t * C0,
              gs->dr + center_rows[t] * C0, false);
  /* the blocks, the last one from its 4 read pixels */
  block_backward (avx2, &m->blk[1], &gs->b[1], gs, center_rows, 4);
  block_backward (avx2, &m->blk[0], &gs->b[0], gs, NULL, 0);
  /* stem LN, then the patch conv: ∂cols = ∂patch · W, scattered back (stride = kernel: no overlap) */
  for (int p = 0; p < NP; p++)
    LN40_BWD (gs->sv + p * C0, gs->s_mean[p], gs->s_rstd[p], m->stem_w, gs->dr + p * C0, gs->da + p * C0, false);
  gemm (avx2, NPP, C0, gs->da, C0, cin == 1 ? m->pwn1 : m->pwn3, 16 * cin, 16 * cin, gs->dcols, 48);
  float *dx = j->dx + n * cin * 93 * 93;
  for (int i = 0; i < S; i++)
    for (int jj = 0; jj < S; jj++)
      {
        const float *row = gs->dcols + (i * S + jj) * 48;
        for (int ci = 0; ci < cin; ci++)
          for (int ky = 0; ky < 4; ky++)
            for (int kx = 0; kx < 4; kx++)
              dx[(ci * 93 + 4 * i + ky) * 93 + 4 * jj + kx] += row[ci * 16 + ky * 4 + kx];
      }
}

static void
image_generic (const V1Job *j, V1CpuScratch *s, V1CpuGrad *gs, int64_t n)
{
  image_body (false, j, s, gs, n);
  if (gs)
    image_backward (false, j, gs, n);
}

#ifdef V1_X86
V1_AVX2 static void
image_avx2 (const V1Job *j, V1CpuScratch *s, V1CpuGrad *gs, int64_t n)
{
  image_body (true, j, s, gs, n);
  if (gs)
    image_backward (true, j, gs, n);
}

/* The same body where the CPU has AVX-512 (F, VL): the compiler's own loops (GELU, GRN, the elementwise
 * backward) take 16 lanes; the hand-written kernels stay AVX2. */
#ifdef __clang__
#define V1_AVX512 __attribute__ ((target ("avx512f,avx512vl,avx2,fma")))
#else
#define V1_AVX512 __attribute__ ((target ("avx512f,avx512vl,avx2,fma,prefer-vector-width=512")))
#endif
V1_AVX512 static void
image_avx512 (const V1Job *j, V1CpuScratch *s, V1CpuGrad *gs, int64_t n)
{
  image_body (true, j, s, gs, n);
  if (gs)
    image_backward (true, j, gs, n);
}
#endif

/* Work items are the scratch slots; each takes images from the shared counter until none are left. */
static void
v1_job_range (void *ctx, int64_t b, int64_t e)
{
  V1Job *j = ctx;
#ifdef V1_X86
  bool avx2 = dn_cpu_have_avx2_fma ();
  bool avx512 = dn_cpu_have_avx512 ();
  atomic_store_explicit (&gemm_use_avx512, avx512, memory_order_relaxed);
#endif
  for (int64_t slot = b; slot < e; slot++)
    for (;;)
      {
        int64_t n = atomic_fetch_add (&j->next, 1);
        if (n >= j->N)
          break;
        V1CpuGrad *gs = j->grads ? j->grads[slot] : NULL;
#ifdef V1_X86
        if (avx512)
          image_avx512 (j, j->slots[slot], gs, n);
        else if (avx2)
          image_avx2 (j, j->slots[slot], gs, n);
        else
#endif
          image_generic (j, j->slots[slot], gs, n);
      }
}

void
dn_twin_v1_cpu_forward (DnDevice *dev, const DnTwinV1Cpu *m, DnTwinV1CpuWork *w, float *y, const float *x,
                        int64_t N, int cin, bool centered, const DnTwinV1Keep *keep)
{
  V1Job j = { .m = m, .slots = w->slots, .y = y, .x = x, .cin = cin, .N = N, .centered = centered, .keep = keep };
  atomic_init (&j.next, 0);
  dn_cpu_parallel_for (dev, w->n_slots, 1, v1_job_range, &j);
}

DnStatus
dn_twin_v1_cpu_forward_backward (DnDevice *dev, const DnTwinV1Cpu *m, DnTwinV1CpuWork *w, float *y, float *dx,
                                 const float *x, const float *dout, float scale, int64_t N, int cin)
{
  if (!w->grads)
    {
      if (!(w->grads = calloc ((size_t) w->n_slots, sizeof *w->grads)))
        return dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory");
      for (int i = 0; i < w->n_slots; i++)
        {
          if (!(w->grads[i] = aligned_alloc (64, (sizeof (V1CpuGrad) + 63) & ~(size_t) 63)))
            {
              for (int k = 0; k < i; k++)
                free (w->grads[k]);
              free (w->grads);
              w->grads = NULL;
              return dn_set_error (DN_ERROR_NO_MEMORY, "twin: out of memory for the backward's scratch");
            }
          memset (w->grads[i], 0, sizeof (V1CpuGrad));
        }
    }
  V1Job j = { .m = m, .slots = w->slots, .y = y, .x = x, .cin = cin, .N = N, .centered = true, .dx = dx,
              .dout = dout, .scale = scale, .grads = w->grads };
  atomic_init (&j.next, 0);
  dn_cpu_parallel_for (dev, w->n_slots, 1, v1_job_range, &j);
  return DN_OK;
}
