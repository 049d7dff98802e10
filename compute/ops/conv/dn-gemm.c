/* dn-gemm.c: the strided batched GEMM of the conv family (dn_gemm) and the ops built directly on it:
 * dn_matmul_forward/backward and dn_linear_forward/backward.
 *
 * CPU: cblas_sgemm (OpenBLAS, threaded by itself), called from the calling thread, once per batch
 * entry. Vulkan: shaders/conv/matmul.comp, 64×64 tiles with 4×4 register blocks, or 128×128 tiles with
 * 8×8 blocks for products big enough to fill a GPU with them.
 * References: dn_ref_matmul_forward/backward, dn_ref_linear_forward/backward (compute/ref/dn-ref-conv.c).
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>
#include <inttypes.h>
#include <string.h>

#include "dn-conv-private.h"
#include "dn-ops-conv.h"

DnStatus
dn_conv_check_device (const char *op, const DnTensor *ref, const DnTensor *t)
{
  if (!t)
    return DN_OK;
  return dn_check_same_device (op, ref, t);
}

/* dn_gemm --------------------------------------------------------------------------------------------- */

static int gemm_force_tile;            /* 0 auto, 64 or 128 (tests and benchmarks) */
static int64_t gemm_grid_limit = 65535; /* workgroups per grid dimension (tests lower it) */

/* Lowers the per-dimension workgroup count of one GEMM dispatch (0 restores 65535), so that tests can
 * exercise the splitting of big grids into several dispatches on small problems. */
void dn_gemm_debug_grid_limit (int64_t n);
void
dn_gemm_debug_grid_limit (int64_t n)
{
  gemm_grid_limit = n > 0 && n < 65535 ? n : 65535;
}

/* Forces the Vulkan GEMM tile size (64 or 128; 0 restores the automatic choice). For tests/benchmarks. */
void dn_gemm_force_tile (int tile);
void
dn_gemm_force_tile (int tile)
{
  gemm_force_tile = tile;
}

typedef struct
{
  float *c;
  const float *bias;
  const DnGemm *g;
} GemmPrep;

/* C = bias (when there is one) or beta·C, row by row; z·M rows in all. */
static void
gemm_prep_rows (void *ctx, int64_t b, int64_t e)
{
  GemmPrep *p = ctx;
  const DnGemm *g = p->g;
  for (int64_t r = b; r < e; r++)
    {
      int64_t z = r / g->M, m = r % g->M;
      float *row = p->c + z * g->sc + m * g->ldc;
      if (g->bias_mode == DN_GEMM_BIAS_COL)
        memcpy (row, p->bias, (size_t) g->N * sizeof (float));
      else if (g->bias_mode == DN_GEMM_BIAS_ROW)
        for (int64_t n = 0; n < g->N; n++)
          row[n] = p->bias[m];
      else if (g->beta == 0)
        memset (row, 0, (size_t) g->N * sizeof (float));
      else if (g->beta != 1)
        for (int64_t n = 0; n < g->N; n++)
          row[n] *= g->beta;
    }
}

static DnStatus
gemm_cpu (DnTensor *c, const DnTensor *a, const DnTensor *b, const DnTensor *bias, const DnGemm *g)
{
  float *C = dn_tensor_host (c);
  const float *A = dn_tensor_host (a), *B = dn_tensor_host (b);
  float beta = g->beta;
  if (g->bias_mode != DN_GEMM_BIAS_NONE || g->K == 0)
    {
      /* C starts as the bias (or beta·C), then the product is added */
      GemmPrep p = { C, bias ? dn_tensor_host (bias) : NULL, g };
      dn_cpu_parallel_for (c->dev, g->batch * g->M, 256, gemm_prep_rows, &p);
      beta = 1;
      if (g->K == 0)
        return DN_OK;
    }
  for (int64_t z = 0; z < g->batch; z++)
    dn_cpu_sgemm (c->dev, g->trans_a, g->trans_b, g->M, g->N, g->K, g->alpha, A + z * g->sa, g->lda, B + z * g->sb, g->ldb, beta, C + z * g->sc, g->ldc);
  return DN_OK;
}

typedef struct
{
  uint32_t M, N, K, lda, ldb, ldc, sa, sb, sc, trans_a, trans_b;
  float alpha, beta;
  uint32_t bias_mode, z0, m0;
} MatmulPush;
_Static_assert (sizeof (MatmulPush) == 64, "mirror of matmul.comp's DN_PARAMS");

static DnStatus
gemm_vulkan (const char *op, DnTensor *c, const DnTensor *a, const DnTensor *b, const DnTensor *bias,
             const DnGemm *g)
{
  int64_t big_tiles = ((g->M + 127) / 128) * ((g->N + 127) / 128) * g->batch;
  bool big = gemm_force_tile ? gemm_force_tile == 128 : big_tiles >= 256;
  int64_t tile = big ? 128 : 64;
  int64_t gx = (g->N + tile - 1) / tile, gy = (g->M + tile - 1) / tile;
  if (gx > 65535)
    return dn_set_error (DN_ERROR_SHAPE, "%s: a %" PRId64 "×%" PRId64 " GEMM exceeds the 65535-workgroup grid", op,
                         g->M, g->N);
  MatmulPush pc = {
    .M = (uint32_t) g->M, .N = (uint32_t) g->N, .K = (uint32_t) g->K,
    .lda = (uint32_t) g->lda, .ldb = (uint32_t) g->ldb, .ldc = (uint32_t) g->ldc,
    .sa = (uint32_t) g->sa, .sb = (uint32_t) g->sb, .sc = (uint32_t) g->sc,
    .trans_a = g->trans_a, .trans_b = g->trans_b, .alpha = g->alpha, .beta = g->beta,
    .bias_mode = (uint32_t) g->bias_mode,
  };
  DnBinding bind[] = { DN_READ (a), DN_READ (b), g->beta != 0 ? DN_READ_WRITE (c) : DN_WRITE (c),
                       DN_READ (bias ? bias : a) };
  /* grids beyond 65535 row tiles or batch entries (the guaranteed minimum) take several dispatches */
  int64_t lim = gemm_grid_limit;
  for (int64_t z0 = 0; z0 < g->batch; z0 += lim)
    for (int64_t y0 = 0; y0 < gy; y0 += lim)
      {
        int64_t nz = g->batch - z0 < lim ? g->batch - z0 : lim, ny = gy - y0 < lim ? gy - y0 : lim;
        pc.z0 = (uint32_t) z0;
        pc.m0 = (uint32_t) (y0 * tile);
        DN_TRY (dn_vk_dispatch (c->dev, big ? DN_SHADER_MATMUL_BIG : DN_SHADER_MATMUL, bind, 4, &pc, sizeof pc,
                                (uint32_t) gx, (uint32_t) ny, (uint32_t) nz));
      }
  return DN_OK;
}

DnStatus
dn_gemm (const char *op, DnTensor *c, const DnTensor *a, const DnTensor *b, const DnTensor *bias, const DnGemm *g)
{
  if (g->batch == 0 || g->M == 0 || g->N == 0)
    return DN_OK;
  if (g->M * g->N > DN_CONV_MAX_ELEMS || g->M * g->K > DN_CONV_MAX_ELEMS || g->K * g->N > DN_CONV_MAX_ELEMS
      || dn_tensor_numel (c) > DN_CONV_MAX_ELEMS || dn_tensor_numel (a) > DN_CONV_MAX_ELEMS
      || dn_tensor_numel (b) > DN_CONV_MAX_ELEMS)
    return dn_set_error (DN_ERROR_SHAPE, "%s: a %" PRId64 "×%" PRId64 "×%" PRId64 " GEMM exceeds 2^31 elements",
                         op, g->M, g->N, g->K);
  if (dn_device_is_cpu (c->dev))
    return gemm_cpu (c, a, b, bias, g);
  return gemm_vulkan (op, c, a, b, bias, g);
}

/* Matmul ---------------------------------------------------------------------------------------------- */

static DnStatus
shape_error (const char *op, const char *what, const DnTensor *t1, const DnTensor *t2, const DnTensor *t3)
{
  char s1[96] = "-", s2[96] = "-", s3[96] = "-";
  if (t1)
    dn_tensor_shape_str (t1, s1, sizeof s1);
  if (t2)
    dn_tensor_shape_str (t2, s2, sizeof s2);
  if (t3)
    dn_tensor_shape_str (t3, s3, sizeof s3);
  return dn_set_error (DN_ERROR_SHAPE, "%s: %s: %s, %s, %s", op, what, s1, s2, s3);
}

/* Reads (batch, rows, cols) of a 2-D or 3-D tensor. */
static void
mat_dims (const DnTensor *t, int64_t *batch, int64_t *rows, int64_t *cols)
{
  *batch = t->ndim == 3 ? t->shape[0] : 1;
  *rows = t->shape[t->ndim - 2];
  *cols = t->shape[t->ndim - 1];
}

/* Checks out/a/b of a matmul and returns B, M, N, K. */
static DnStatus
matmul_dims (const char *op, const DnTensor *out, const DnTensor *a, const DnTensor *b, bool ta, bool tb, int64_t *B,
             int64_t *M, int64_t *N, int64_t *K)
{
  if (!out || !a || !b)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, a);
  DN_CHECK_SAME_DEVICE (op, out, b);
  if ((out->ndim != 2 && out->ndim != 3) || a->ndim != out->ndim || b->ndim != out->ndim)
    return shape_error (op, "out, a and b must all be 2-D or all 3-D (out, a, b)", out, a, b);
  int64_t ob, ab, bb, ar, ac, br, bc;
  mat_dims (out, &ob, M, N);
  mat_dims (a, &ab, &ar, &ac);
  mat_dims (b, &bb, &br, &bc);
  int64_t am = ta ? ac : ar, ak = ta ? ar : ac;
  int64_t bk = tb ? bc : br, bn = tb ? br : bc;
  if (ab != ob || bb != ob || am != *M || bn != *N || ak != bk)
    return shape_error (op, ta || tb ? "shapes do not fit (out, a, b; a or b transposed)" : "shapes do not fit (out, a, b)",
                        out, a, b);
  *B = ob;
  *K = ak;
  return DN_OK;
}

DnStatus
dn_matmul_forward (DnTensor *out, const DnTensor *a, const DnTensor *b, bool trans_a, bool trans_b, float alpha)
{
  int64_t B, M, N, K;
  DN_TRY (matmul_dims ("matmul_forward", out, a, b, trans_a, trans_b, &B, &M, &N, &K));
  DnGemm g = {
    .batch = B, .M = M, .N = N, .K = K,
    .lda = a->shape[a->ndim - 1], .ldb = b->shape[b->ndim - 1], .ldc = N,
    .sa = M * K, .sb = K * N, .sc = M * N,
    .trans_a = trans_a, .trans_b = trans_b, .alpha = alpha, .beta = 0,
  };
  return dn_gemm ("matmul_forward", out, a, b, NULL, &g);
}

DnStatus
dn_matmul_backward (DnTensor *da, DnTensor *db, const DnTensor *dout, const DnTensor *a, const DnTensor *b,
                    bool trans_a, bool trans_b, float alpha)
{
  const char *op = "matmul_backward";
  int64_t B, M, N, K;
  DN_TRY (matmul_dims (op, dout, a, b, trans_a, trans_b, &B, &M, &N, &K));
  if (da)
    {
      DN_CHECK_SAME_DEVICE (op, dout, da);
      if (!dn_tensor_same_shape (da, a))
        return shape_error (op, "da must have a's shape (da, a, dout)", da, a, dout);
    }
  if (db)
    {
      DN_CHECK_SAME_DEVICE (op, dout, db);
      if (!dn_tensor_same_shape (db, b))
        return shape_error (op, "db must have b's shape (db, b, dout)", db, b, dout);
    }
  int64_t lda = a->shape[a->ndim - 1], ldb = b->shape[b->ndim - 1];
  if (da)
    {
      /* op(a) = dout·op(b)ᵀ; for trans_a the stored a is its transpose: da = op(b)·doutᵀ */
      DnGemm g = { .batch = B, .sa = trans_a ? K * N : M * N, .sb = trans_a ? M * N : K * N, .sc = M * K,
                   .alpha = alpha, .beta = 1, .ldc = lda };
      if (!trans_a)
        {
          g.M = M, g.N = K, g.K = N;
          g.lda = N, g.trans_a = false;     /* dout (M,N) */
          g.ldb = ldb, g.trans_b = !trans_b; /* op(b)ᵀ (N,K) from b */
          DN_TRY (dn_gemm (op, da, dout, b, NULL, &g));
        }
      else
        {
          g.M = K, g.N = M, g.K = N;
          g.lda = ldb, g.trans_a = trans_b; /* op(b) (K,N) from b */
          g.ldb = N, g.trans_b = true;      /* doutᵀ (N,M) */
          DN_TRY (dn_gemm (op, da, b, dout, NULL, &g));
        }
    }
  if (db)
    {
      DnGemm g = { .batch = B, .sc = K * N, .alpha = alpha, .beta = 1, .ldc = ldb };
      if (!trans_b)
        {
          g.M = K, g.N = N, g.K = M;
          g.sa = M * K, g.lda = lda, g.trans_a = !trans_a; /* op(a)ᵀ (K,M) from a */
          g.sb = M * N, g.ldb = N, g.trans_b = false;      /* dout (M,N) */
          DN_TRY (dn_gemm (op, db, a, dout, NULL, &g));
        }
      else
        {
          g.M = N, g.N = K, g.K = M;
          g.sa = M * N, g.lda = N, g.trans_a = true;        /* doutᵀ (N,M) */
          g.sb = M * K, g.ldb = lda, g.trans_b = trans_a;   /* op(a) (M,K) from a */
          DN_TRY (dn_gemm (op, db, dout, a, NULL, &g));
        }
    }
  return DN_OK;
}

/* Linear ---------------------------------------------------------------------------------------------- */

/* The product of every dim but the last. */
static int64_t
lead_rows (const DnTensor *t)
{
  int64_t r = 1;
  for (int d = 0; d < t->ndim - 1; d++)
    r *= t->shape[d];
  return r;
}

/* Checks that @x is (…,cols) with the same leading dims as @ref (…,*) and returns the row count. */
static DnStatus
linear_rows (const char *op, const char *what, const DnTensor *x, const DnTensor *ref, int64_t cols, int64_t *rows)
{
  bool ok = x->ndim >= 1 && x->ndim == ref->ndim && x->shape[x->ndim - 1] == cols;
  for (int d = 0; ok && d < x->ndim - 1; d++)
    ok = x->shape[d] == ref->shape[d];
  if (!ok)
    {
      char s1[96], s2[96];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s does not fit (…,%" PRId64 ") with the leading dims of %s", op,
                           what, dn_tensor_shape_str (x, s1, sizeof s1), cols, dn_tensor_shape_str (ref, s2, sizeof s2));
    }
  *rows = lead_rows (x);
  return DN_OK;
}

static DnStatus
linear_weight (const char *op, const DnTensor *w, const DnTensor *ref, int64_t *nout, int64_t *nin)
{
  if (!w || w->ndim != 2)
    {
      char s[96] = "NULL";
      if (w)
        dn_tensor_shape_str (w, s, sizeof s);
      return dn_set_error (w ? DN_ERROR_SHAPE : DN_ERROR_INVALID_ARGUMENT, "%s: weight %s must be (Nout,Nin)", op, s);
    }
  DN_CHECK_SAME_DEVICE (op, ref, w);
  *nout = w->shape[0];
  *nin = w->shape[1];
  return DN_OK;
}

static DnStatus
check_vec (const char *op, const char *what, const DnTensor *ref, const DnTensor *v, int64_t n)
{
  DN_CHECK_SAME_DEVICE (op, ref, v);
  if (v->ndim != 1 || v->shape[0] != n)
    {
      char s[96];
      return dn_set_error (DN_ERROR_SHAPE, "%s: %s %s must be (%" PRId64 ")", op, what, dn_tensor_shape_str (v, s, sizeof s),
                           n);
    }
  return DN_OK;
}

DnStatus
dn_linear_forward (DnTensor *out, const DnTensor *inp, const DnTensor *weight, const DnTensor *bias)
{
  const char *op = "linear_forward";
  if (!out || !inp)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  DN_CHECK_SAME_DEVICE (op, out, inp);
  int64_t nout, nin, rows, rows2;
  DN_TRY (linear_weight (op, weight, out, &nout, &nin));
  DN_TRY (linear_rows (op, "inp", inp, out, nin, &rows));
  DN_TRY (linear_rows (op, "out", out, inp, nout, &rows2));
  if (bias)
    DN_TRY (check_vec (op, "bias", out, bias, nout));
  DnGemm g = {
    .batch = 1, .M = rows, .N = nout, .K = nin, .lda = nin, .ldb = nin, .ldc = nout,
    .trans_b = true, .alpha = 1, .beta = 0, .bias_mode = bias ? DN_GEMM_BIAS_COL : DN_GEMM_BIAS_NONE,
  };
  return dn_gemm (op, out, inp, weight, bias, &g);
}

DnStatus
dn_linear_backward (DnTensor *dinp, DnTensor *dweight, DnTensor *dbias, const DnTensor *dout, const DnTensor *inp,
                    const DnTensor *weight)
{
  const char *op = "linear_backward";
  if (!dout)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: NULL dout", op);
  if (dout->ndim < 1)
    return shape_error (op, "dout must be (…,Nout)", dout, NULL, NULL);
  int64_t nout = dout->shape[dout->ndim - 1], nin = 0, rows = lead_rows (dout), r2;
  if (dinp)
    {
      DN_CHECK_SAME_DEVICE (op, dout, dinp);
      int64_t wo;
      DN_TRY (linear_weight (op, weight, dout, &wo, &nin));
      if (wo != nout)
        return shape_error (op, "weight must be (Nout,Nin) (weight, dout)", weight, dout, NULL);
      DN_TRY (linear_rows (op, "dinp", dinp, dout, nin, &r2));
    }
  if (dweight)
    {
      DN_CHECK_SAME_DEVICE (op, dout, dweight);
      if (!inp)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: dweight needs inp", op);
      DN_CHECK_SAME_DEVICE (op, dout, inp);
      int64_t ni = inp->ndim >= 1 ? inp->shape[inp->ndim - 1] : 0;
      DN_TRY (linear_rows (op, "inp", inp, dout, ni, &r2));
      if (dweight->ndim != 2 || dweight->shape[0] != nout || dweight->shape[1] != ni)
        return shape_error (op, "dweight must be (Nout,Nin) (dweight, dout, inp)", dweight, dout, inp);
    }
  if (dbias)
    DN_TRY (check_vec (op, "dbias", dout, dbias, nout));

  if (dinp)
    {
      DnGemm g = { .batch = 1, .M = rows, .N = nin, .K = nout, .lda = nout, .ldb = nin, .ldc = nin,
                   .alpha = 1, .beta = 1 };
      DN_TRY (dn_gemm (op, dinp, dout, weight, NULL, &g));
    }
  if (dweight)
    {
      int64_t ni = dweight->shape[1];
      DnGemm g = { .batch = 1, .M = nout, .N = ni, .K = rows, .lda = nout, .ldb = ni, .ldc = ni,
                   .trans_a = true, .alpha = 1, .beta = 1 };
      DN_TRY (dn_gemm (op, dweight, dout, inp, NULL, &g));
    }
  if (dbias && nout > 0)
    {
      DnReduce r = { .J = nout, .inner = nout, .s_outer = 0, .s_inner = 1, .R1 = 1, .s1 = 0, .R2 = rows,
                     .s2 = nout, .scale = 1, .accumulate = true };
      DN_TRY (dn_reduce_strided (op, dbias, dout, &r));
    }
  return DN_OK;
}
