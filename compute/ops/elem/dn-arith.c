/* dn-arith.c: elementwise add/sub/mul/div with a broadcast second operand, affine and axpy, forward and
 * backward, on both backends. Vulkan: shaders/elem/elem_binary.comp (forward and elementwise backward),
 * elem_binary_db.comp (reduction of a broadcast b's gradient), elem_affine.comp. References:
 * dn_ref_binary_forward/backward (compute/ref/dn-ref-elem.c).
 * SPDX-License-Identifier: MIT
 */
#include "dn-elem-private.h"

typedef enum
{
  BIN_ADD,
  BIN_SUB,
  BIN_MUL,
  BIN_DIV,
} BinOp;

static const struct
{
  const char *fwd_name, *bwd_name;
  DnShaderId fwd, bwd, db;
} bin_info[] = {
  [BIN_ADD] = { "add_forward", "add_backward", DN_SHADER_ELEM_ADD_FWD, DN_SHADER_ELEM_ADD_BWD, DN_SHADER_ELEM_ADD_DB },
  [BIN_SUB] = { "sub_forward", "sub_backward", DN_SHADER_ELEM_SUB_FWD, DN_SHADER_ELEM_SUB_BWD, DN_SHADER_ELEM_SUB_DB },
  [BIN_MUL] = { "mul_forward", "mul_backward", DN_SHADER_ELEM_MUL_FWD, DN_SHADER_ELEM_MUL_BWD, DN_SHADER_ELEM_MUL_DB },
  [BIN_DIV] = { "div_forward", "div_backward", DN_SHADER_ELEM_DIV_FWD, DN_SHADER_ELEM_DIV_BWD, DN_SHADER_ELEM_DIV_DB },
};

typedef struct
{
  uint32_t n, nb, inner, has_da, has_db;
} BinParams; /* mirrors DN_PARAMS of elem_binary.comp */
_Static_assert (sizeof (BinParams) == 20, "BinParams must match elem_binary.comp");

typedef struct
{
  uint32_t nb, inner, count;
} DbParams; /* mirrors DN_PARAMS of elem_binary_db.comp */
_Static_assert (sizeof (DbParams) == 12, "DbParams must match elem_binary_db.comp");

typedef struct
{
  uint32_t n;
  float scale, shift;
} AffineParams; /* mirrors DN_PARAMS of elem_affine.comp */
_Static_assert (sizeof (AffineParams) == 12, "AffineParams must match elem_affine.comp");

/* Resolves how b broadcasts against a's shape (see dn-ops-elem.h): element i of a uses
 * b[(i / inner) % nb]. Fails with DN_ERROR_SHAPE naming the op and both shapes. */
static DnStatus
broadcast_layout (const char *op, const DnTensor *a, const DnTensor *b, int64_t *nb, int64_t *inner)
{
  char sa[128], sb[128];
  if (dn_tensor_same_shape (a, b))
    {
      *nb = dn_tensor_numel (a);
      *inner = 1;
      return DN_OK;
    }
  int off = a->ndim - b->ndim; /* b's dim d aligns with a's dim d + off */
  int lo = -1, hi = -1;        /* block of a's dims that b matches */
  bool ok = true;
  for (int d = 0; d < b->ndim && ok; d++)
    {
      int64_t bd = b->shape[d];
      if (d + off < 0)
        {
          ok = bd == 1; /* extra leading dims of b must be 1 */
          continue;
        }
      int64_t ad = a->shape[d + off];
      if (bd == ad && ad != 1)
        {
          if (lo < 0)
            lo = d + off;
          else if (hi != d + off - 1)
            {
              /* a gap: allowed only if every dim in between is 1 in a */
              for (int e = hi + 1; e < d + off; e++)
                if (a->shape[e] != 1)
                  ok = false;
            }
          hi = d + off;
        }
      else if (bd != 1)
        ok = false;
    }
  if (!ok)
    return dn_set_error (DN_ERROR_SHAPE, "%s: b %s does not broadcast to a %s (numpy rules, one block of dims)", op,
                         dn_tensor_shape_str (b, sb, sizeof sb), dn_tensor_shape_str (a, sa, sizeof sa));
  *nb = 1;
  *inner = 1;
  if (lo >= 0)
    {
      for (int d = lo; d <= hi; d++)
        *nb *= a->shape[d];
      for (int d = hi + 1; d < a->ndim; d++)
        *inner *= a->shape[d];
    }
  return DN_OK;
}

typedef struct
{
  BinOp op;
  const float *a, *b, *dy;
  float *y, *da, *db;
  int64_t nb, inner, count;
} BinArgs;

static void
bin_forward_range (void *ctx, int64_t s, int64_t e)
{
  const BinArgs *p = ctx;
  const float *a = p->a, *b = p->b;
  float *y = p->y;
  int64_t inner = p->inner, nb = p->nb;
  for (int64_t i = s; i < e;)
    {
      /* runs of equal j: [i, end) */
      int64_t j = (i / inner) % nb;
      int64_t end = (i / inner + 1) * inner;
      if (end > e)
        end = e;
      float z = b[j];
      switch (p->op)
        {
        case BIN_ADD: for (; i < end; i++) y[i] = a[i] + z; break;
        case BIN_SUB: for (; i < end; i++) y[i] = a[i] - z; break;
        case BIN_MUL: for (; i < end; i++) y[i] = a[i] * z; break;
        case BIN_DIV: for (; i < end; i++) y[i] = a[i] / z; break;
        }
    }
}

/* da (and db when not broadcast, nb == n) elementwise, in runs of equal j like the forward */
static void
bin_backward_range (void *ctx, int64_t s, int64_t e)
{
  const BinArgs *p = ctx;
  const float *a = p->a, *b = p->b, *g = p->dy;
  float *da = p->da, *db = p->db;
  int64_t inner = p->inner, nb = p->nb;
  for (int64_t i = s; i < e;)
    {
      int64_t j = (i / inner) % nb;
      int64_t end = (i / inner + 1) * inner;
      if (end > e)
        end = e;
      for (; i < end; i++)
        {
          float ga = 0, gb = 0;
          switch (p->op)
            {
            case BIN_ADD: ga = g[i]; gb = g[i]; break;
            case BIN_SUB: ga = g[i]; gb = -g[i]; break;
            case BIN_MUL: ga = g[i] * b[j]; gb = g[i] * a[i]; break;
            case BIN_DIV: ga = g[i] / b[j]; gb = -g[i] * a[i] / (b[j] * b[j]); break;
            }
          if (da)
            da[i] += ga;
          if (db)
            db[i] += gb;
        }
    }
}

/* db[j] += Σ over the positions using b[j] (broadcast b), in double */
static void
db_reduce_range (void *ctx, int64_t s, int64_t e)
{
  const BinArgs *p = ctx;
  const float *a = p->a, *b = p->b, *g = p->dy;
  int64_t nb = p->nb, inner = p->inner, outer = p->count / inner;
  for (int64_t j = s; j < e; j++)
    {
      double sum = 0;
      for (int64_t o = 0; o < outer; o++)
        {
          int64_t base = (o * nb + j) * inner;
          switch (p->op)
            {
            case BIN_ADD:
            case BIN_SUB:
              for (int64_t k = 0; k < inner; k++)
                sum += g[base + k];
              break;
            case BIN_MUL:
            case BIN_DIV:
              for (int64_t k = 0; k < inner; k++)
                sum += (double) g[base + k] * a[base + k];
              break;
            }
        }
      if (p->op == BIN_SUB)
        sum = -sum;
      else if (p->op == BIN_DIV)
        sum = -sum / ((double) b[j] * b[j]);
      p->db[j] += (float) sum;
    }
}

static DnStatus
bin_forward (BinOp op, DnTensor *out, const DnTensor *a, const DnTensor *b)
{
  const char *name = bin_info[op].fwd_name;
  DN_TRY (elem_check_nonnull (name, "out", out));
  DN_TRY (elem_check_nonnull (name, "a", a));
  DN_TRY (elem_check_nonnull (name, "b", b));
  DN_CHECK_SAME_DEVICE (name, out, a);
  DN_CHECK_SAME_DEVICE (name, out, b);
  DN_CHECK_SAME_SHAPE (name, out, a);
  DN_TRY (elem_check_numel (name, a));
  int64_t nb, inner;
  DN_TRY (broadcast_layout (name, a, b, &nb, &inner));
  int64_t n = dn_tensor_numel (a);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (out->dev))
    {
      BinArgs p = { .op = op, .a = dn_tensor_host (a), .b = dn_tensor_host (b), .y = dn_tensor_host (out), .nb = nb,
                    .inner = inner };
      dn_cpu_parallel_for (out->dev, n, 1 << 14, bin_forward_range, &p);
      return DN_OK;
    }
  BinParams pc = { (uint32_t) n, (uint32_t) nb, (uint32_t) inner, 0, 0 };
  DnBinding bd[] = { DN_READ (a), DN_READ (b), DN_WRITE (out) };
  return dn_vk_dispatch_1d (out->dev, bin_info[op].fwd, bd, 3, &pc, sizeof pc, n);
}

/* a and b may be NULL for add/sub (their values are not needed); their shapes then come from da/db. */
static DnStatus
bin_backward (BinOp op, DnTensor *da, DnTensor *db, const DnTensor *a, const DnTensor *b, const DnTensor *dout)
{
  const char *name = bin_info[op].bwd_name;
  bool need_values = op == BIN_MUL || op == BIN_DIV;
  DN_TRY (elem_check_nonnull (name, "dout", dout));
  if (need_values)
    {
      DN_TRY (elem_check_nonnull (name, "a", a));
      DN_TRY (elem_check_nonnull (name, "b", b));
      DN_CHECK_SAME_DEVICE (name, dout, a);
      DN_CHECK_SAME_DEVICE (name, dout, b);
      DN_CHECK_SAME_SHAPE (name, dout, a);
    }
  if (da)
    {
      DN_CHECK_SAME_DEVICE (name, dout, da);
      DN_CHECK_SAME_SHAPE (name, da, dout);
    }
  if (db)
    {
      DN_CHECK_SAME_DEVICE (name, dout, db);
      if (b)
        DN_CHECK_SAME_SHAPE (name, db, b);
    }
  DN_TRY (elem_check_numel (name, dout));
  /* the broadcast layout of b (or of db, which has b's shape) against dout (a's shape) */
  const DnTensor *bshape = b ? b : db;
  int64_t nb = 1, inner = 1;
  if (bshape)
    DN_TRY (broadcast_layout (name, dout, bshape, &nb, &inner));
  int64_t n = dn_tensor_numel (dout);
  if (n == 0 || (!da && !db))
    return DN_OK;
  bool db_elementwise = db && nb == n;
  DnDevice *dev = dout->dev;
  if (dn_device_is_cpu (dev))
    {
      BinArgs p = { .op = op,
                    .a = a ? dn_tensor_host (a) : NULL,
                    .b = b ? dn_tensor_host (b) : NULL,
                    .dy = dn_tensor_host (dout),
                    .da = da ? dn_tensor_host (da) : NULL,
                    .db = db_elementwise ? dn_tensor_host (db) : NULL,
                    .nb = nb,
                    .inner = inner,
                    .count = n / nb };
      if (da || db_elementwise)
        dn_cpu_parallel_for (dev, n, 1 << 14, bin_backward_range, &p);
      if (db && !db_elementwise)
        {
          p.db = dn_tensor_host (db);
          dn_cpu_parallel_for (dev, nb, 1, db_reduce_range, &p);
        }
      return DN_OK;
    }
  /* Unused slots are bound to dout (never accessed by the shader in that configuration). */
  const DnTensor *ta = a ? a : dout, *tb = b ? b : dout;
  if (da || db_elementwise)
    {
      BinParams pc = { (uint32_t) n, (uint32_t) nb, (uint32_t) inner, da != NULL, db_elementwise };
      DnBinding bd[] = { DN_READ (ta), DN_READ (tb), DN_READ (dout), da ? DN_READ_WRITE (da) : DN_READ (dout),
                         db_elementwise ? DN_READ_WRITE (db) : DN_READ (dout) };
      DN_TRY (dn_vk_dispatch_1d (dev, bin_info[op].bwd, bd, 5, &pc, sizeof pc, n));
    }
  if (db && !db_elementwise)
    {
      DbParams pc = { (uint32_t) nb, (uint32_t) inner, (uint32_t) (n / nb) };
      DnBinding bd[] = { DN_READ (ta), DN_READ (tb), DN_READ (dout), DN_READ_WRITE (db) };
      uint32_t gx = nb > 65535 ? 65535 : (uint32_t) nb;
      DN_TRY (dn_vk_dispatch (dev, bin_info[op].db, bd, 4, &pc, sizeof pc, gx, dn_div_up (nb, gx), 1));
    }
  return DN_OK;
}

DnStatus
dn_add_forward (DnTensor *out, const DnTensor *a, const DnTensor *b)
{
  return bin_forward (BIN_ADD, out, a, b);
}

DnStatus
dn_add_backward (DnTensor *da, DnTensor *db, const DnTensor *dout)
{
  return bin_backward (BIN_ADD, da, db, NULL, NULL, dout);
}

DnStatus
dn_sub_forward (DnTensor *out, const DnTensor *a, const DnTensor *b)
{
  return bin_forward (BIN_SUB, out, a, b);
}

DnStatus
dn_sub_backward (DnTensor *da, DnTensor *db, const DnTensor *dout)
{
  return bin_backward (BIN_SUB, da, db, NULL, NULL, dout);
}

DnStatus
dn_mul_forward (DnTensor *out, const DnTensor *a, const DnTensor *b)
{
  return bin_forward (BIN_MUL, out, a, b);
}

DnStatus
dn_mul_backward (DnTensor *da, DnTensor *db, const DnTensor *a, const DnTensor *b, const DnTensor *dout)
{
  return bin_backward (BIN_MUL, da, db, a, b, dout);
}

DnStatus
dn_div_forward (DnTensor *out, const DnTensor *a, const DnTensor *b)
{
  return bin_forward (BIN_DIV, out, a, b);
}

DnStatus
dn_div_backward (DnTensor *da, DnTensor *db, const DnTensor *a, const DnTensor *b, const DnTensor *dout)
{
  return bin_backward (BIN_DIV, da, db, a, b, dout);
}

/* Affine and axpy -------------------------------------------------------------------------------------- */

typedef struct
{
  const float *x;
  float *y;
  float scale, shift;
} AffineArgs;

static void
affine_range (void *ctx, int64_t s, int64_t e)
{
  const AffineArgs *p = ctx;
  for (int64_t i = s; i < e; i++)
    p->y[i] = p->scale * p->x[i] + p->shift;
}

static void
axpy_range (void *ctx, int64_t s, int64_t e)
{
  const AffineArgs *p = ctx;
  for (int64_t i = s; i < e; i++)
    p->y[i] += p->scale * p->x[i];
}

static DnStatus
affine_common (const char *name, bool axpy, DnTensor *y, const DnTensor *x, float scale, float shift)
{
  DN_TRY (elem_check_nonnull (name, axpy ? "y" : "out", y));
  DN_TRY (elem_check_nonnull (name, axpy ? "x" : "inp", x));
  DN_CHECK_SAME_DEVICE (name, y, x);
  DN_CHECK_SAME_SHAPE (name, y, x);
  DN_TRY (elem_check_numel (name, x));
  int64_t n = dn_tensor_numel (x);
  if (n == 0)
    return DN_OK;
  if (dn_device_is_cpu (y->dev))
    {
      AffineArgs p = { dn_tensor_host (x), dn_tensor_host (y), scale, shift };
      dn_cpu_parallel_for (y->dev, n, 1 << 15, axpy ? axpy_range : affine_range, &p);
      return DN_OK;
    }
  AffineParams pc = { (uint32_t) n, scale, shift };
  DnBinding bd[] = { DN_READ (x), axpy ? DN_READ_WRITE (y) : DN_WRITE (y) };
  return dn_vk_dispatch_1d (y->dev, axpy ? DN_SHADER_ELEM_AXPY : DN_SHADER_ELEM_AFFINE, bd, 2, &pc, sizeof pc, n);
}

DnStatus
dn_affine_forward (DnTensor *out, const DnTensor *inp, float scale, float shift)
{
  return affine_common ("affine_forward", false, out, inp, scale, shift);
}

DnStatus
dn_affine_backward (DnTensor *dinp, const DnTensor *dout, float scale)
{
  return affine_common ("affine_backward", true, dinp, dout, scale, 0.0f);
}

DnStatus
dn_axpy (DnTensor *y, const DnTensor *x, float alpha)
{
  return affine_common ("axpy", true, y, x, alpha, 0.0f);
}
