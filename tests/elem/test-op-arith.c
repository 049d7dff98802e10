/* test-op-arith.c: add/sub/mul/div with every supported broadcast of b (same shape, per channel, per
 * sample, per pixel, a block of middle dims, scalar), affine and axpy, on the test backend against the
 * float64 references (dn_ref_binary_*), the references' backward against finite differences, bad shapes
 * and zero-size tensors.
 * SPDX-License-Identifier: MIT
 */
#include "elem-test.h"

typedef DnStatus (*FwdFn) (DnTensor *, const DnTensor *, const DnTensor *);

static const char *op_names[] = { "add", "sub", "mul", "div" };
static const FwdFn fwd_fns[] = { dn_add_forward, dn_sub_forward, dn_mul_forward, dn_div_forward };

static DnStatus
run_backward (DnRefBinaryOp op, DnTensor *da, DnTensor *db, const DnTensor *a, const DnTensor *b,
              const DnTensor *dout)
{
  switch (op)
    {
    case DN_REF_ADD: return dn_add_backward (da, db, dout);
    case DN_REF_SUB: return dn_sub_backward (da, db, dout);
    case DN_REF_MUL: return dn_mul_backward (da, db, a, b, dout);
    default: return dn_div_backward (da, db, a, b, dout);
    }
}

typedef struct
{
  const char *name;
  int bdim;
  int64_t bshape[4];
  int64_t nb, inner; /* expected layout for a (3,7,13,5) */
} Bcast;

/* a is (3,7,13,5) */
static const int64_t ashape[4] = { 3, 7, 13, 5 };
static const Bcast bcasts[] = {
  { "same shape", 4, { 3, 7, 13, 5 }, 3 * 7 * 13 * 5, 1 },
  { "per channel (C,1,1)", 3, { 7, 1, 1 }, 7, 13 * 5 },
  { "per channel (1,C,1,1)", 4, { 1, 7, 1, 1 }, 7, 13 * 5 },
  { "per sample (N,1,1,1)", 4, { 3, 1, 1, 1 }, 3, 7 * 13 * 5 },
  { "per pixel (H,W)", 2, { 13, 5 }, 13 * 5, 1 },
  { "block (C,H,1)", 3, { 7, 13, 1 }, 7 * 13, 5 },
  { "scalar (1)", 1, { 1 }, 1, 1 },
  { "last dim (W)", 1, { 5 }, 5, 1 },
};

static void
check_case (DnRefBinaryOp op, const Bcast *bc, uint64_t seed)
{
  int64_t n = elem_prod (4, ashape), nbv = elem_prod (bc->bdim, bc->bshape);
  g_assert_cmpint (nbv, ==, bc->nb);
  char what[200];
  double *av = elem_randn (n, seed, 1.0, 0.0);
  double *bv = elem_randn (nbv, seed + 1, 1.0, 0.0);
  if (op == DN_REF_DIV) /* keep b away from 0 */
    for (int64_t j = 0; j < nbv; j++)
      bv[j] = (bv[j] < 0 ? -1 : 1) * (0.5 + fabs (bv[j]));
  dn_test_round_f32 (bv, nbv);
  DnTensor *a = elem_tensor (4, ashape, av);
  DnTensor *b = elem_tensor (bc->bdim, bc->bshape, bv);
  DnTensor *out = dn_test_zeros (4, ashape);
  DN_TEST_OK (fwd_fns[op](out, a, b));
  double *want = g_new (double, n);
  dn_ref_binary_forward (op, want, av, bv, n, bc->nb, bc->inner);
  g_snprintf (what, sizeof what, "%s forward, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, out, want, 1e-5);

  /* backward into non-zero gradients (accumulation), then with one side NULL */
  double *dy = elem_randn (n, seed + 2, 1.0, 0.0);
  double *ga0 = elem_randn (n, seed + 3, 0.5, 0.0), *gb0 = elem_randn (nbv, seed + 4, 0.5, 0.0);
  DnTensor *dout = elem_tensor (4, ashape, dy);
  DnTensor *da = elem_tensor (4, ashape, ga0), *db = elem_tensor (bc->bdim, bc->bshape, gb0);
  DN_TEST_OK (run_backward (op, da, db, a, b, dout));
  double *gaw = elem_copy (ga0, n), *gbw = elem_copy (gb0, nbv);
  dn_ref_binary_backward (op, gaw, gbw, av, bv, dy, n, bc->nb, bc->inner);
  g_snprintf (what, sizeof what, "%s backward da, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, da, gaw, 1e-5);
  g_snprintf (what, sizeof what, "%s backward db, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, db, gbw, 1e-5);

  DN_TEST_OK (run_backward (op, NULL, db, a, b, dout)); /* db only: a second accumulation */
  dn_ref_binary_backward (op, NULL, gbw, av, bv, dy, n, bc->nb, bc->inner);
  g_snprintf (what, sizeof what, "%s backward db only, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, db, gbw, 1e-5);
  DN_TEST_OK (run_backward (op, da, NULL, a, b, dout));
  dn_ref_binary_backward (op, gaw, NULL, av, bv, dy, n, bc->nb, bc->inner);
  g_snprintf (what, sizeof what, "%s backward da only, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, da, gaw, 1e-5);

  /* in place: out == a */
  DN_TEST_OK (fwd_fns[op](a, a, b));
  g_snprintf (what, sizeof what, "%s forward in place, b %s", op_names[op], bc->name);
  dn_test_check_tensor (what, a, want, 1e-5);

  g_free (av);
  g_free (bv);
  g_free (want);
  g_free (dy);
  g_free (ga0);
  g_free (gb0);
  g_free (gaw);
  g_free (gbw);
  dn_tensor_free (a);
  dn_tensor_free (b);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (da);
  dn_tensor_free (db);
}

static void
test_binary (void)
{
  for (int op = 0; op < 4; op++)
    for (size_t k = 0; k < G_N_ELEMENTS (bcasts); k++)
      check_case (op, &bcasts[k], 100 * op + 7 * k + 1);
}

/* one bigger case: a (1,3,93,93) with a per-channel b, the layout of a V4 image */
static void
test_binary_big (void)
{
  const int64_t as[4] = { 1, 3, 93, 93 }, bs[3] = { 3, 1, 1 };
  int64_t n = elem_prod (4, as);
  double *av = elem_randn (n, 900, 1.0, 0.0), *bv = elem_randn (3, 901, 1.0, 2.0), *dy = elem_randn (n, 902, 1.0, 0.0);
  DnTensor *a = elem_tensor (4, as, av), *b = elem_tensor (3, bs, bv), *out = dn_test_zeros (4, as);
  DnTensor *dout = elem_tensor (4, as, dy), *da = dn_test_zeros (4, as), *db = dn_test_zeros (3, bs);
  DN_TEST_OK (dn_div_forward (out, a, b));
  double *want = g_new (double, n), *gaw = g_new0 (double, n), gbw[3] = { 0 };
  dn_ref_binary_forward (DN_REF_DIV, want, av, bv, n, 3, 93 * 93);
  dn_test_check_tensor ("div forward (1,3,93,93) / (3,1,1)", out, want, 1e-5);
  DN_TEST_OK (dn_div_backward (da, db, a, b, dout));
  dn_ref_binary_backward (DN_REF_DIV, gaw, gbw, av, bv, dy, n, 3, 93 * 93);
  dn_test_check_tensor ("div backward da (1,3,93,93)", da, gaw, 1e-5);
  /* db sums 8649 products per channel: float32 against float64 over a sum with cancellation */
  dn_test_check_tensor ("div backward db (3,1,1)", db, gbw, 1e-5);
  g_free (av);
  g_free (bv);
  g_free (dy);
  g_free (want);
  g_free (gaw);
  dn_tensor_free (a);
  dn_tensor_free (b);
  dn_tensor_free (out);
  dn_tensor_free (dout);
  dn_tensor_free (da);
  dn_tensor_free (db);
}

/* finite differences of the float64 references, for mul and div with a broadcast b */
typedef struct
{
  DnRefBinaryOp op;
  int64_t n, nb, inner;
} GradCtx;

static void
grad_f (void *ctx, const double *x, double *y)
{
  GradCtx *c = ctx;
  dn_ref_binary_forward (c->op, y, x, x + c->n, c->n, c->nb, c->inner);
}

static void
test_gradcheck (void)
{
  for (int op = 0; op < 4; op++)
    {
      GradCtx c = { op, 3 * 7 * 5, 7, 5 }; /* a (3,7,5), b (7,1) */
      int64_t nx = c.n + c.nb;
      double *x = elem_randn (nx, 300 + op, 1.0, 0.0);
      for (int64_t j = c.n; j < nx; j++)
        x[j] = (x[j] < 0 ? -1 : 1) * (0.5 + fabs (x[j]));
      double *dy = elem_randn (c.n, 310 + op, 1.0, 0.0);
      double *an = g_new0 (double, nx);
      dn_ref_binary_backward (op, an, an + c.n, x, x + c.n, dy, c.n, c.nb, c.inner);
      dn_test_gradcheck (op_names[op], grad_f, &c, x, nx, c.n, dy, an, 1e-6, 1e-6);
      g_free (x);
      g_free (dy);
      g_free (an);
    }
}

static void
test_affine_axpy (void)
{
  const int64_t shapes[][3] = { { 1, 1, 1 }, { 3, 7, 13 }, { 1, 93, 93 } };
  for (size_t k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      gsize n = (gsize) elem_prod (3, shapes[k]);
      double *xv = elem_randn (n, 400 + k, 1.0, 0.0), *yv = elem_randn (n, 410 + k, 1.0, 0.0);
      DnTensor *x = elem_tensor (3, shapes[k], xv), *y = elem_tensor (3, shapes[k], yv);
      double *want = g_new (double, n);
      const float s = -1.75f, t = 0.3f;
      DN_TEST_OK (dn_affine_forward (y, x, s, t));
      for (gsize i = 0; i < n; i++)
        want[i] = (double) s * xv[i] + (double) t;
      dn_test_check_tensor ("affine forward", y, want, 1e-6);
      DN_TEST_OK (dn_affine_backward (y, x, s)); /* y += s·x */
      for (gsize i = 0; i < n; i++)
        want[i] += (double) s * xv[i];
      dn_test_check_tensor ("affine backward", y, want, 1e-6);
      DN_TEST_OK (dn_axpy (y, x, 0.5f));
      for (gsize i = 0; i < n; i++)
        want[i] += 0.5 * xv[i];
      dn_test_check_tensor ("axpy", y, want, 1e-6);
      DN_TEST_OK (dn_affine_forward (x, x, 2.0f, -1.0f)); /* in place */
      for (gsize i = 0; i < n; i++)
        want[i] = 2.0 * xv[i] - 1.0;
      dn_test_check_tensor ("affine in place", x, want, 1e-6);
      g_free (xv);
      g_free (yv);
      g_free (want);
      dn_tensor_free (x);
      dn_tensor_free (y);
    }
}

static void
test_bad_input (void)
{
  DnTensor *a = DN_TEST_ZEROS (4, 3, 7, 13, 5);
  DnTensor *out = DN_TEST_ZEROS (4, 3, 7, 13, 5);
  DnTensor *bad[] = {
    DN_TEST_ZEROS (1, 7),           /* aligns with W = 5 */
    DN_TEST_ZEROS (2, 5, 7),        /* wrong order */
    DN_TEST_ZEROS (4, 3, 1, 13, 1), /* two blocks with a broadcast dim between them */
    DN_TEST_ZEROS (5, 2, 3, 7, 13, 5),
    DN_TEST_ZEROS (4, 3, 7, 13, 6),
  };
  for (size_t k = 0; k < G_N_ELEMENTS (bad); k++)
    for (int op = 0; op < 4; op++)
      {
        DN_TEST_FAILS (fwd_fns[op](out, a, bad[k]), DN_ERROR_SHAPE);
        DN_TEST_FAILS (run_backward (op, out, bad[k], a, bad[k], out), DN_ERROR_SHAPE);
      }
  DnTensor *o2 = DN_TEST_ZEROS (3, 3, 7, 65);
  DnTensor *b = DN_TEST_ZEROS (1, 5);
  DN_TEST_FAILS (dn_add_forward (o2, a, b), DN_ERROR_SHAPE); /* out must have a's shape */
  DN_TEST_FAILS (dn_add_backward (o2, NULL, out), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_affine_forward (o2, a, 1, 0), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_axpy (o2, a, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_mul_backward (out, NULL, NULL, b, out), DN_ERROR_INVALID_ARGUMENT);
  for (size_t k = 0; k < G_N_ELEMENTS (bad); k++)
    dn_tensor_free (bad[k]);
  dn_tensor_free (o2);
  dn_tensor_free (b);
  dn_tensor_free (a);
  dn_tensor_free (out);

  /* zero-size: a no-op, also with a broadcast b */
  DnTensor *z = DN_TEST_ZEROS (3, 0, 3, 5), *zb = DN_TEST_ZEROS (2, 3, 1), *zo = DN_TEST_ZEROS (3, 0, 3, 5);
  for (int op = 0; op < 4; op++)
    {
      DN_TEST_OK (fwd_fns[op](zo, z, zb));
      DN_TEST_OK (run_backward (op, zo, zb, z, zb, z));
    }
  DN_TEST_OK (dn_axpy (zo, z, 1));
  DN_TEST_OK (dn_affine_forward (zo, z, 1, 2));
  double zeros[3] = { 0 };
  dn_test_check_tensor ("zero-size backward leaves db alone", zb, zeros, 0);
  dn_tensor_free (z);
  dn_tensor_free (zb);
  dn_tensor_free (zo);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/ops/arith/binary", test_binary);
  g_test_add_func ("/ops/arith/binary-big", test_binary_big);
  g_test_add_func ("/ops/arith/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/arith/affine-axpy", test_affine_axpy);
  g_test_add_func ("/ops/arith/bad-input", test_bad_input);
  return dn_test_run ();
}
