/* test-op-resize.c: bilinear (align_corners both ways), legacy nearest and antialiased bicubic resizes,
 * forward and backward, against the float64 reference (dn_ref_resize_*), against PyTorch
 * (tests/sample/data/sample_torch.h5), the nearest index tables of dual_tower.md, the identity of the
 * same-size antialiased resize, and the reference backward against finite differences.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "sample-test-util.h"

static const char *const mode_names[] = { "bilinear", "nearest", "bicubic_aa" };

typedef struct
{
  int N, C, H, W, Ho, Wo;
} RsShape;

static DnStatus
backend_forward (DnRefResizeMode mode, DnTensor *out, const DnTensor *inp, bool align)
{
  switch (mode)
    {
    case DN_REF_RESIZE_BILINEAR:
      return dn_resize_bilinear_forward (out, inp, align);
    case DN_REF_RESIZE_NEAREST:
      return dn_resize_nearest_forward (out, inp);
    default:
      return dn_resize_bicubic_aa_forward (out, inp);
    }
}

static DnStatus
backend_backward (DnRefResizeMode mode, DnTensor *dinp, const DnTensor *dout, bool align)
{
  switch (mode)
    {
    case DN_REF_RESIZE_BILINEAR:
      return dn_resize_bilinear_backward (dinp, dout, align);
    case DN_REF_RESIZE_NEAREST:
      return dn_resize_nearest_backward (dinp, dout);
    default:
      return dn_resize_bicubic_aa_backward (dinp, dout);
    }
}

/* Backend forward and backward (accumulating into a random initial gradient) against want_*. */
static void
check_backend (const char *what, DnRefResizeMode mode, bool align, const RsShape *s, const double *inp,
               const double *dout, const double *want_out, const double *want_dinp, double tol)
{
  char label[256];
  int64_t ni = (int64_t) s->N * s->C * s->H * s->W;
  DnTensor *ti = DN_TEST_TENSOR (inp, 4, s->N, s->C, s->H, s->W);
  DnTensor *to = DN_TEST_ZEROS (4, s->N, s->C, s->Ho, s->Wo);
  DN_TEST_OK (backend_forward (mode, to, ti, align));
  g_snprintf (label, sizeof label, "%s forward", what);
  dn_test_check_tensor (label, to, want_out, tol);
  double *d0 = dn_test_randn (ni, 99);
  double *wd = sample_dup (d0, ni);
  sample_add (wd, want_dinp, ni);
  DnTensor *tdo = DN_TEST_TENSOR (dout, 4, s->N, s->C, s->Ho, s->Wo);
  DnTensor *tdi = DN_TEST_TENSOR (d0, 4, s->N, s->C, s->H, s->W);
  DN_TEST_OK (backend_backward (mode, tdi, tdo, align));
  g_snprintf (label, sizeof label, "%s backward (+=)", what);
  dn_test_check_tensor (label, tdi, wd, tol);
  g_free (d0);
  g_free (wd);
  dn_tensor_free (ti);
  dn_tensor_free (to);
  dn_tensor_free (tdo);
  dn_tensor_free (tdi);
}

static void
run_case (DnRefResizeMode mode, bool align, RsShape s, uint64_t seed)
{
  int64_t ni = (int64_t) s.N * s.C * s.H * s.W, no = (int64_t) s.N * s.C * s.Ho * s.Wo;
  double *inp = dn_test_randn (ni, seed), *dout = dn_test_randn (no, seed + 1);
  double *out = g_new0 (double, no + 1), *dinp = g_new0 (double, ni + 1);
  dn_ref_resize_forward (out, inp, s.N, s.C, s.H, s.W, s.Ho, s.Wo, mode, align);
  dn_ref_resize_backward (dinp, dout, s.N, s.C, s.H, s.W, s.Ho, s.Wo, mode, align);
  char what[160];
  g_snprintf (what, sizeof what, "resize %s align=%d (%d,%d,%d,%d)->(%d,%d)", mode_names[mode], align, s.N, s.C,
              s.H, s.W, s.Ho, s.Wo);
  check_backend (what, mode, align, &s, inp, dout, out, dinp, 1e-5);
  g_free (inp);
  g_free (dout);
  g_free (out);
  g_free (dinp);
}

static const RsShape shapes[] = {
  { 1, 1, 1, 1, 1, 1 },   { 1, 1, 1, 1, 3, 7 },  { 2, 3, 7, 13, 7, 13 }, { 2, 3, 7, 13, 3, 29 },
  { 1, 2, 13, 7, 93, 1 }, { 1, 1, 93, 93, 13, 7 }, { 1, 2, 93, 7, 31, 93 }, { 1, 1, 101, 101, 93, 93 },
  { 1, 3, 13, 13, 93, 93 }, { 3, 1, 3, 1, 1, 3 },
};

static void
test_forward_backward (gconstpointer data)
{
  DnRefResizeMode mode = (DnRefResizeMode) GPOINTER_TO_INT (data);
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    for (int align = 0; align < (mode == DN_REF_RESIZE_BILINEAR ? 2 : 1); align++)
      run_case (mode, align, shapes[i], 100 + 7 * i);
}

typedef struct
{
  RsShape s;
  DnRefResizeMode mode;
  bool align;
} RsCtx;

static void
rs_fn (void *ctx, const double *x, double *y)
{
  const RsCtx *c = ctx;
  dn_ref_resize_forward (y, x, c->s.N, c->s.C, c->s.H, c->s.W, c->s.Ho, c->s.Wo, c->mode, c->align);
}

static void
test_gradcheck (void)
{
  const RsShape gs[] = { { 1, 2, 5, 7, 3, 11 }, { 1, 1, 9, 4, 4, 9 } };
  for (int mode = 0; mode < 3; mode++)
    for (int align = 0; align < (mode == DN_REF_RESIZE_BILINEAR ? 2 : 1); align++)
      for (size_t k = 0; k < G_N_ELEMENTS (gs); k++)
        {
          RsCtx ctx = { gs[k], (DnRefResizeMode) mode, align };
          int64_t ni = (int64_t) ctx.s.N * ctx.s.C * ctx.s.H * ctx.s.W;
          int64_t no = (int64_t) ctx.s.N * ctx.s.C * ctx.s.Ho * ctx.s.Wo;
          double *x = dn_test_randn (ni, 30 + k), *dy = dn_test_randn (no, 40 + k);
          double *an = g_new0 (double, ni);
          dn_ref_resize_backward (an, dy, ctx.s.N, ctx.s.C, ctx.s.H, ctx.s.W, ctx.s.Ho, ctx.s.Wo, ctx.mode, align);
          char what[96];
          g_snprintf (what, sizeof what, "resize %s align=%d case %zu", mode_names[mode], align, k);
          dn_test_gradcheck (what, rs_fn, &ctx, x, ni, no, dy, an, 1e-6, 1e-6);
          g_free (x);
          g_free (dy);
          g_free (an);
        }
}

/* Nearest index tables from dual_tower.md (the DS-Net stages at 68x270), through the backend. */
static void
check_nearest (int in, int out, const int *want)
{
  double *v = g_new (double, in);
  for (int i = 0; i < in; i++)
    v[i] = i;
  DnTensor *ti = DN_TEST_TENSOR (v, 4, 1, 1, 1, in);
  DnTensor *to = DN_TEST_ZEROS (4, 1, 1, 1, out);
  DN_TEST_OK (dn_resize_nearest_forward (to, ti));
  double *got = dn_test_download (to);
  for (int o = 0; o < out; o++)
    if (got[o] != want[o])
      g_error ("nearest %d->%d: index %d is %g, want %d", in, out, o, got[o], want[o]);
  /* the same along the rows */
  DnTensor *ti2 = DN_TEST_TENSOR (v, 4, 1, 1, in, 1);
  DnTensor *to2 = DN_TEST_ZEROS (4, 1, 1, out, 1);
  DN_TEST_OK (dn_resize_nearest_forward (to2, ti2));
  double *got2 = dn_test_download (to2);
  for (int o = 0; o < out; o++)
    g_assert_cmpfloat (got2[o], ==, want[o]);
  g_free (v);
  g_free (got);
  g_free (got2);
  dn_tensor_free (ti);
  dn_tensor_free (to);
  dn_tensor_free (ti2);
  dn_tensor_free (to2);
}

/* Expected indices for blocks of equal indices (block b repeats index b). */
static int *
blocks (const int *counts, int n_blocks, int total)
{
  int *w = g_new (int, total);
  int k = 0;
  for (int b = 0; b < n_blocks; b++)
    for (int j = 0; j < counts[b]; j++)
      w[k++] = b;
  g_assert_cmpint (k, ==, total);
  return w;
}

static void
test_nearest_tables (void)
{
  check_nearest (17, 2, (const int[]){ 0, 8 });
  check_nearest (67, 8, (const int[]){ 0, 8, 16, 25, 33, 41, 50, 58 });
  int *w = blocks ((const int[]){ 9, 8 }, 2, 17);
  check_nearest (2, 17, w);
  g_free (w);
  w = blocks ((const int[]){ 9, 8, 9, 8, 8, 9, 8, 8 }, 8, 67);
  check_nearest (8, 67, w);
  g_free (w);
  check_nearest (8, 2, (const int[]){ 0, 4 });
  check_nearest (33, 8, (const int[]){ 0, 4, 8, 12, 16, 20, 24, 28 });
  check_nearest (2, 8, (const int[]){ 0, 0, 0, 0, 1, 1, 1, 1 });
  w = blocks ((const int[]){ 5, 4, 4, 4, 4, 4, 4, 4 }, 8, 33);
  check_nearest (8, 33, w);
  g_free (w);
  check_nearest (4, 2, (const int[]){ 0, 2 });
  check_nearest (16, 8, (const int[]){ 0, 2, 4, 6, 8, 10, 12, 14 });
  check_nearest (8, 16, (const int[]){ 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7 });
  check_nearest (2, 1, (const int[]){ 0 });
  check_nearest (8, 4, (const int[]){ 0, 2, 4, 6 });
  /* the float32 rule: 2 -> 82 maps output 41 to 0 (41·(2/82)f floors to 0; exactly it is 1) */
  int w82[82];
  for (int o = 0; o < 82; o++)
    w82[o] = o <= 41 ? 0 : 1;
  check_nearest (2, 82, w82);
}

/* Same-size antialiased bicubic is exactly the identity (forward and backward), as in PyTorch. */
static void
test_aa_identity (void)
{
  int64_t n = 2 * 3 * 93 * 93;
  double *v = dn_test_randn (n, 5);
  DnTensor *ti = DN_TEST_TENSOR (v, 4, 2, 3, 93, 93);
  DnTensor *to = DN_TEST_ZEROS (4, 2, 3, 93, 93);
  DN_TEST_OK (dn_resize_bicubic_aa_forward (to, ti));
  dn_test_check_tensor ("bicubic aa 93->93 is the identity", to, v, 0);
  DnTensor *td = DN_TEST_ZEROS (4, 2, 3, 93, 93);
  DN_TEST_OK (dn_resize_bicubic_aa_backward (td, ti));
  dn_test_check_tensor ("bicubic aa 93->93 backward is the identity", td, v, 0);
  g_free (v);
  dn_tensor_free (ti);
  dn_tensor_free (to);
  dn_tensor_free (td);
}

static void
test_torch (void)
{
  hid_t f = sample_h5_open_own ();
  for (int mode = 0; mode < 3; mode++)
    {
      int i = 0;
      for (;; i++)
        {
          char grp[96], name[128];
          g_snprintf (grp, sizeof grp, "/resize/%s/case%d", mode_names[mode], i);
          if (H5Lexists (f, grp, H5P_DEFAULT) <= 0)
            break;
          int64_t di[4] = { -1, -1, -1, -1 }, dout_dims[4] = { -1, -1, -1, -1 };
          g_snprintf (name, sizeof name, "%s/inp", grp);
          double *inp = sample_h5_read (f, name, 4, di);
          g_snprintf (name, sizeof name, "%s/out", grp);
          double *out = sample_h5_read (f, name, 4, dout_dims);
          g_snprintf (name, sizeof name, "%s/dout", grp);
          double *dout = sample_h5_read (f, name, 4, dout_dims);
          g_snprintf (name, sizeof name, "%s/dinp", grp);
          double *dinp = sample_h5_read (f, name, 4, di);
          bool align = sample_h5_attr_int (f, grp, "align_corners") != 0;
          RsShape s = { (int) di[0], (int) di[1], (int) di[2], (int) di[3], (int) dout_dims[2], (int) dout_dims[3] };
          int64_t ni = sample_numel (4, di), no = sample_numel (4, dout_dims);
          double *ro = g_new0 (double, no), *rd = g_new0 (double, ni);
          dn_ref_resize_forward (ro, inp, s.N, s.C, s.H, s.W, s.Ho, s.Wo, mode, align);
          dn_ref_resize_backward (rd, dout, s.N, s.C, s.H, s.W, s.Ho, s.Wo, mode, align);
          /* 1e-5: PyTorch's own float32 coordinates differ by up to ~4e-6 (relative) from a strict
           * float32 evaluation, since ATen's AVX2 kernels fuse scale·o − i0 into an FMA */
          char what[160];
          g_snprintf (what, sizeof what, "torch %s (%d,%d,%d,%d)->(%d,%d) align=%d: reference out", grp, s.N, s.C,
                      s.H, s.W, s.Ho, s.Wo, align);
          dn_test_check_close (what, ro, out, no, 1e-5);
          g_snprintf (what, sizeof what, "torch %s: reference dinp", grp);
          dn_test_check_close (what, rd, dinp, ni, 1e-5);
          g_snprintf (what, sizeof what, "torch %s", grp);
          check_backend (what, mode, align, &s, inp, dout, out, dinp, 1e-5);
          g_free (ro);
          g_free (rd);
          g_free (inp);
          g_free (out);
          g_free (dout);
          g_free (dinp);
        }
      g_assert_cmpint (i, >=, 6);
    }
  H5Fclose (f);
}

static void
test_bad_shapes (void)
{
  DnTensor *inp = DN_TEST_ZEROS (4, 2, 3, 5, 7);
  DnTensor *outn = DN_TEST_ZEROS (4, 1, 3, 4, 4);
  DnTensor *outc = DN_TEST_ZEROS (4, 2, 2, 4, 4);
  DnTensor *out3 = DN_TEST_ZEROS (3, 2, 3, 4);
  DnTensor *empty = DN_TEST_ZEROS (4, 2, 3, 0, 7);
  DnTensor *out = DN_TEST_ZEROS (4, 2, 3, 4, 4);
  for (int mode = 0; mode < 3; mode++)
    {
      DN_TEST_FAILS (backend_forward (mode, outn, inp, false), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_forward (mode, outc, inp, false), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_forward (mode, out3, inp, false), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_forward (mode, out, empty, false), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_backward (mode, inp, outn, false), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_backward (mode, inp, out3, true), DN_ERROR_SHAPE);
      DN_TEST_FAILS (backend_forward (mode, NULL, inp, false), DN_ERROR_INVALID_ARGUMENT);
    }
  dn_tensor_free (inp);
  dn_tensor_free (outn);
  dn_tensor_free (outc);
  dn_tensor_free (out3);
  dn_tensor_free (empty);
  dn_tensor_free (out);
}

static void
test_zero_size (void)
{
  const int64_t cases[][6] = { { 0, 3, 5, 7, 2, 2 }, { 2, 0, 5, 7, 3, 3 }, { 2, 3, 5, 7, 0, 4 }, { 1, 1, 5, 7, 3, 0 } };
  for (int mode = 0; mode < 3; mode++)
    for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
      {
        const int64_t *c = cases[k];
        DnTensor *inp = DN_TEST_ZEROS (4, c[0], c[1], c[2], c[3]);
        DnTensor *out = DN_TEST_ZEROS (4, c[0], c[1], c[4], c[5]);
        DN_TEST_OK (backend_forward (mode, out, inp, false));
        DN_TEST_OK (dn_tensor_fill (inp, 3.0f));
        DN_TEST_OK (backend_backward (mode, inp, out, false));
        int64_t n = dn_tensor_numel (inp);
        double *want = g_new (double, n + 1);
        for (int64_t i = 0; i < n; i++)
          want[i] = 3;
        dn_test_check_tensor ("resize zero-size backward leaves dinp", inp, want, 0);
        g_free (want);
        dn_tensor_free (inp);
        dn_tensor_free (out);
      }
  DN_TEST_OK (dn_resize_bilinear_backward (NULL, NULL, false));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/ops/resize/bilinear", GINT_TO_POINTER (DN_REF_RESIZE_BILINEAR), test_forward_backward);
  g_test_add_data_func ("/ops/resize/nearest", GINT_TO_POINTER (DN_REF_RESIZE_NEAREST), test_forward_backward);
  g_test_add_data_func ("/ops/resize/bicubic-aa", GINT_TO_POINTER (DN_REF_RESIZE_BICUBIC_AA), test_forward_backward);
  g_test_add_func ("/ops/resize/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/resize/nearest-tables", test_nearest_tables);
  g_test_add_func ("/ops/resize/bicubic-aa-identity", test_aa_identity);
  g_test_add_func ("/ops/resize/torch", test_torch);
  g_test_add_func ("/ops/resize/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/resize/zero-size", test_zero_size);
  return dn_test_run ();
}
