/* test-op-roi-align.c: torchvision roi_align forward and input backward, against the float64 reference
 * (dn_ref_roi_align_*), against torchvision (tests/sample/data/sample_torch.h5), against the V1 twin's
 * synthesis crops (shared fixture v1_fixture.h5: ops/create_crops, reflect pad (the elem family's
 * dn_reflect_pad2d_*) → roi_align → bicubic aa resize, forward and the chain's backward), and the
 * reference backward against finite differences.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "sample-test-util.h"

typedef struct
{
  int N, C, H, W, K, PH, PW;
  double spatial_scale;
  int sampling_ratio;
  bool aligned;
} RoiCase;

static int64_t
n_img (const RoiCase *c)
{
  return (int64_t) c->N * c->C * c->H * c->W;
}
static int64_t
n_out (const RoiCase *c)
{
  return (int64_t) c->K * c->C * c->PH * c->PW;
}

/* Backend forward and backward (accumulating into a random initial gradient) against want_*. */
static void
check_backend (const char *what, const RoiCase *c, const double *inp, const double *boxes, const double *dout,
               const double *want_out, const double *want_dinp, double tol)
{
  char label[256];
  DnTensor *ti = DN_TEST_TENSOR (inp, 4, c->N, c->C, c->H, c->W);
  DnTensor *tb = DN_TEST_TENSOR (boxes, 2, c->K, 5);
  DnTensor *to = DN_TEST_ZEROS (4, c->K, c->C, c->PH, c->PW);
  DN_TEST_OK (dn_roi_align_forward (to, ti, tb, (float) c->spatial_scale, c->sampling_ratio, c->aligned));
  g_snprintf (label, sizeof label, "%s forward", what);
  dn_test_check_tensor (label, to, want_out, tol);
  double *d0 = dn_test_randn (n_img (c), 55);
  double *wd = sample_dup (d0, n_img (c));
  sample_add (wd, want_dinp, n_img (c));
  DnTensor *tdo = DN_TEST_TENSOR (dout, 4, c->K, c->C, c->PH, c->PW);
  DnTensor *tdi = DN_TEST_TENSOR (d0, 4, c->N, c->C, c->H, c->W);
  DN_TEST_OK (dn_roi_align_backward (tdi, tdo, tb, (float) c->spatial_scale, c->sampling_ratio, c->aligned));
  g_snprintf (label, sizeof label, "%s backward (+=)", what);
  dn_test_check_tensor (label, tdi, wd, tol);
  g_free (d0);
  g_free (wd);
  dn_tensor_free (ti);
  dn_tensor_free (tb);
  dn_tensor_free (to);
  dn_tensor_free (tdo);
  dn_tensor_free (tdi);
}

/* Random boxes over [-0.3, 1.3] of the image (scaled to input coordinates), some of them outside, some
 * degenerate or flipped, some with an invalid batch index. */
static double *
random_boxes (const RoiCase *c, uint64_t seed)
{
  double *u = dn_test_uniform ((int64_t) c->K * 5, 0, 1, seed);
  double *b = g_new (double, (int64_t) c->K * 5);
  for (int k = 0; k < c->K; k++)
    {
      double *r = b + k * 5, *v = u + k * 5;
      r[0] = floor (v[0] * c->N);
      double sx = c->W / c->spatial_scale, sy = c->H / c->spatial_scale;
      double x1 = (-0.3 + 1.6 * v[1]) * sx, y1 = (-0.3 + 1.6 * v[2]) * sy;
      double x2 = x1 + (0.05 + 0.9 * v[3]) * sx, y2 = y1 + (0.05 + 0.9 * v[4]) * sy;
      r[1] = x1;
      r[2] = y1;
      r[3] = x2;
      r[4] = y2;
      if (k % 7 == 5)
        r[3] = x1 - 0.5 * (x2 - x1); /* flipped: empty for aligned, 1 pixel wide otherwise */
      if (k % 11 == 9)
        r[0] = c->N; /* invalid batch index: zeros */
    }
  dn_test_round_f32 (b, (int64_t) c->K * 5);
  g_free (u);
  return b;
}

static void
run_case (RoiCase c, uint64_t seed)
{
  double *inp = dn_test_randn (n_img (&c), seed);
  double *boxes = random_boxes (&c, seed + 1);
  double *dout = dn_test_randn (n_out (&c), seed + 2);
  double *out = g_new0 (double, n_out (&c) + 1), *dinp = g_new0 (double, n_img (&c) + 1);
  dn_ref_roi_align_forward (out, inp, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, c.spatial_scale,
                            c.sampling_ratio, c.aligned);
  dn_ref_roi_align_backward (dinp, dout, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, c.spatial_scale,
                             c.sampling_ratio, c.aligned);
  char what[160];
  g_snprintf (what, sizeof what, "roi_align (%d,%d,%d,%d) K=%d ->(%d,%d) scale=%g sr=%d aligned=%d", c.N, c.C, c.H,
              c.W, c.K, c.PH, c.PW, c.spatial_scale, c.sampling_ratio, c.aligned);
  check_backend (what, &c, inp, boxes, dout, out, dinp, 1e-5);
  g_free (inp);
  g_free (boxes);
  g_free (dout);
  g_free (out);
  g_free (dinp);
}

static void
test_forward_backward (void)
{
  run_case ((RoiCase){ 1, 1, 1, 1, 1, 1, 1, 1.0, -1, true }, 1);
  run_case ((RoiCase){ 2, 3, 7, 13, 13, 3, 7, 1.0, -1, true }, 2);
  run_case ((RoiCase){ 2, 3, 7, 13, 13, 3, 7, 1.0, -1, false }, 3);
  run_case ((RoiCase){ 1, 3, 13, 7, 7, 5, 5, 0.5, 2, true }, 4);
  run_case ((RoiCase){ 3, 2, 13, 13, 12, 7, 1, 0.25, 3, false }, 5);
  run_case ((RoiCase){ 1, 1, 93, 93, 4, 13, 13, 1.0, -1, true }, 6);  /* adaptive grids of 2..7 */
  run_case ((RoiCase){ 1, 3, 101, 101, 4, 93, 93, 1.0, -1, true }, 7); /* the synthesis crop shape */
}

typedef struct
{
  RoiCase c;
  const double *boxes;
} RoiCtx;

static void
roi_fn (void *ctx, const double *x, double *y)
{
  const RoiCtx *r = ctx;
  const RoiCase *c = &r->c;
  dn_ref_roi_align_forward (y, x, r->boxes, c->N, c->C, c->H, c->W, c->K, c->PH, c->PW, c->spatial_scale,
                            c->sampling_ratio, c->aligned);
}

static void
test_gradcheck (void)
{
  const RoiCase cs[] = { { 2, 2, 5, 7, 6, 3, 2, 1.0, -1, true }, { 1, 2, 6, 5, 5, 2, 3, 0.5, 2, false } };
  for (size_t k = 0; k < G_N_ELEMENTS (cs); k++)
    {
      RoiCtx ctx = { cs[k], NULL };
      double *boxes = random_boxes (&ctx.c, 60 + k);
      ctx.boxes = boxes;
      double *x = dn_test_randn (n_img (&ctx.c), 62 + k), *dy = dn_test_randn (n_out (&ctx.c), 64 + k);
      double *an = g_new0 (double, n_img (&ctx.c));
      const RoiCase *c = &ctx.c;
      dn_ref_roi_align_backward (an, dy, boxes, c->N, c->C, c->H, c->W, c->K, c->PH, c->PW, c->spatial_scale,
                                 c->sampling_ratio, c->aligned);
      dn_test_gradcheck (k ? "roi_align aligned=False" : "roi_align aligned=True", roi_fn, &ctx, x, n_img (c),
                         n_out (c), dy, an, 1e-6, 1e-6);
      g_free (boxes);
      g_free (x);
      g_free (dy);
      g_free (an);
    }
}

static void
test_torch (void)
{
  hid_t f = sample_h5_open_own ();
  int i = 0;
  for (;; i++)
    {
      char grp[64], name[96];
      g_snprintf (grp, sizeof grp, "/roi_align/case%d", i);
      if (H5Lexists (f, grp, H5P_DEFAULT) <= 0)
        break;
      int64_t di[4] = { -1, -1, -1, -1 }, db[2] = { -1, 5 }, dout_dims[4] = { -1, -1, -1, -1 };
      g_snprintf (name, sizeof name, "%s/inp", grp);
      double *inp = sample_h5_read (f, name, 4, di);
      g_snprintf (name, sizeof name, "%s/boxes", grp);
      double *boxes = sample_h5_read (f, name, 2, db);
      dout_dims[0] = db[0];
      dout_dims[1] = di[1];
      g_snprintf (name, sizeof name, "%s/out", grp);
      double *out = sample_h5_read (f, name, 4, dout_dims);
      g_snprintf (name, sizeof name, "%s/dout", grp);
      double *dout = sample_h5_read (f, name, 4, dout_dims);
      g_snprintf (name, sizeof name, "%s/dinp", grp);
      double *dinp = sample_h5_read (f, name, 4, di);
      RoiCase c = { (int) di[0], (int) di[1], (int) di[2], (int) di[3], (int) db[0], (int) dout_dims[2], (int) dout_dims[3],
                    sample_h5_attr_double (f, grp, "spatial_scale"), (int) sample_h5_attr_int (f, grp, "sampling_ratio"),
                    sample_h5_attr_int (f, grp, "aligned") != 0 };
      double *ro = g_new0 (double, n_out (&c)), *rd = g_new0 (double, n_img (&c));
      dn_ref_roi_align_forward (ro, inp, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, c.spatial_scale,
                                c.sampling_ratio, c.aligned);
      dn_ref_roi_align_backward (rd, dout, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, c.spatial_scale,
                                 c.sampling_ratio, c.aligned);
      char what[128];
      g_snprintf (what, sizeof what, "torchvision %s: reference out", grp);
      dn_test_check_close (what, ro, out, n_out (&c), 1e-5);
      g_snprintf (what, sizeof what, "torchvision %s: reference dinp", grp);
      dn_test_check_close (what, rd, dinp, n_img (&c), 1e-5);
      g_snprintf (what, sizeof what, "torchvision %s", grp);
      check_backend (what, &c, inp, boxes, dout, out, dinp, 1e-5);
      g_free (ro);
      g_free (rd);
      g_free (inp);
      g_free (boxes);
      g_free (out);
      g_free (dout);
      g_free (dinp);
    }
  g_assert_cmpint (i, >=, 4);
  H5Fclose (f);
}

/* F.pad (mode='reflect') on the host: the edge is not repeated. */
static double *
reflect_pad (const double *img, int C, int H, int W, int pad)
{
  int Hp = H + 2 * pad, Wp = W + 2 * pad;
  double *out = g_new (double, (int64_t) C * Hp * Wp);
  for (int c = 0; c < C; c++)
    for (int y = 0; y < Hp; y++)
      for (int x = 0; x < Wp; x++)
        {
          int sy = y - pad, sx = x - pad;
          sy = sy < 0 ? -sy : sy >= H ? 2 * (H - 1) - sy : sy;
          sx = sx < 0 ? -sx : sx >= W ? 2 * (W - 1) - sx : sx;
          out[((int64_t) c * Hp + y) * Wp + x] = img[((int64_t) c * H + sy) * W + sx];
        }
  return out;
}

/* twins.md §6.1 step 2 with the fixture's fixed draws: crops = bicubic_aa(roi_align(reflect_pad(image,
 * 4), boxes, (93,93), 1, -1, aligned)) to (93,93). */
static void
test_v1_crops (void)
{
  const char *dir = g_getenv ("DN_SHARED_DIR");
  if (!dir)
    g_error ("DN_SHARED_DIR is not set (meson test sets it)");
  char *path = g_build_filename (dir, "fixtures", "v1_fixture.h5", NULL);
  hid_t f = sample_h5_open (path);
  g_free (path);
  int64_t dimg[3] = { 1, -1, -1 }, db[2] = { -1, 5 }, dc[4] = { -1, 1, 93, 93 };
  double *image = sample_h5_read (f, "/ops/create_crops/image", 3, dimg);
  double *boxes = sample_h5_read (f, "/ops/create_crops/boxes", 2, db);
  dc[0] = db[0];
  double *crops = sample_h5_read (f, "/ops/create_crops/crops", 4, dc);
  H5Fclose (f);
  int H = (int) dimg[1], W = (int) dimg[2], K = (int) db[0];
  int pad = (int) (0.05 * (H < W ? H : W)); /* int(0.05·min(H,W)) = 4 */
  g_assert_cmpint (pad, ==, 4);
  double *padded = reflect_pad (image, 1, H, W, pad);
  RoiCase c = { 1, 1, H + 2 * pad, W + 2 * pad, K, 93, 93, 1.0, -1, true };
  int64_t no = n_out (&c);

  /* the reference, then its (identity) bicubic aa resize to 93x93 */
  double *ro = g_new0 (double, no), *rr = g_new0 (double, no);
  dn_ref_roi_align_forward (ro, padded, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, 1.0, -1, true);
  dn_ref_resize_forward (rr, ro, K, 1, 93, 93, 93, 93, DN_REF_RESIZE_BICUBIC_AA, false);
  dn_test_check_close ("v1 create_crops: reference vs fixture", rr, crops, no, 1e-5);

  /* the backend, with the elem family's reflect pad */
  DnTensor *timg = DN_TEST_TENSOR (image, 4, 1, 1, H, W);
  DnTensor *ti = DN_TEST_ZEROS (4, 1, 1, c.H, c.W);
  DN_TEST_OK (dn_reflect_pad2d_forward (ti, timg, pad, pad, pad, pad));
  dn_test_check_tensor ("v1 create_crops: reflect pad", ti, padded, 0);
  DnTensor *tb = DN_TEST_TENSOR (boxes, 2, K, 5);
  DnTensor *troi = DN_TEST_ZEROS (4, K, 1, 93, 93);
  DnTensor *tcrop = DN_TEST_ZEROS (4, K, 1, 93, 93);
  DN_TEST_OK (dn_roi_align_forward (troi, ti, tb, 1.0f, -1, true));
  DN_TEST_OK (dn_resize_bicubic_aa_forward (tcrop, troi));
  dn_test_check_tensor ("v1 create_crops: backend roi_align vs fixture", troi, crops, 1e-5);
  dn_test_check_tensor ("v1 create_crops: backend roi_align + bicubic aa vs fixture", tcrop, crops, 1e-5);

  /* and the chain's backward to the padded image against the reference, then through the pad */
  double *g = dn_test_randn (no, 8);
  double *rg = g_new0 (double, n_img (&c)), *rgr = g_new0 (double, no);
  dn_ref_resize_backward (rgr, g, K, 1, 93, 93, 93, 93, DN_REF_RESIZE_BICUBIC_AA, false);
  dn_ref_roi_align_backward (rg, rgr, boxes, c.N, c.C, c.H, c.W, c.K, c.PH, c.PW, 1.0, -1, true);
  DnTensor *tg = DN_TEST_TENSOR (g, 4, K, 1, 93, 93);
  DnTensor *tgr = DN_TEST_ZEROS (4, K, 1, 93, 93);
  DnTensor *tgi = DN_TEST_ZEROS (4, 1, 1, c.H, c.W);
  DN_TEST_OK (dn_resize_bicubic_aa_backward (tgr, tg));
  DN_TEST_OK (dn_roi_align_backward (tgi, tgr, tb, 1.0f, -1, true));
  dn_test_check_tensor ("v1 create_crops: backend backward to the padded image", tgi, rg, 1e-5);
  double *rimg = g_new0 (double, (int64_t) H * W); /* fold the padded gradient back (reflect pad's adjoint) */
  for (int y = 0; y < c.H; y++)
    for (int x = 0; x < c.W; x++)
      {
        int sy = y - pad, sx = x - pad;
        sy = sy < 0 ? -sy : sy >= H ? 2 * (H - 1) - sy : sy;
        sx = sx < 0 ? -sx : sx >= W ? 2 * (W - 1) - sx : sx;
        rimg[(int64_t) sy * W + sx] += rg[(int64_t) y * c.W + x];
      }
  DnTensor *tgimg = DN_TEST_ZEROS (4, 1, 1, H, W);
  DN_TEST_OK (dn_reflect_pad2d_backward (tgimg, tgi, pad, pad, pad, pad));
  dn_test_check_tensor ("v1 create_crops: backend backward to the image", tgimg, rimg, 1e-5);
  g_free (rimg);

  g_free (image);
  g_free (boxes);
  g_free (crops);
  g_free (padded);
  g_free (ro);
  g_free (rr);
  g_free (g);
  g_free (rg);
  g_free (rgr);
  DnTensor *all[] = { timg, ti, tb, troi, tcrop, tg, tgr, tgi, tgimg };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

static void
test_bad_shapes (void)
{
  DnTensor *inp = DN_TEST_ZEROS (4, 2, 3, 5, 7);
  DnTensor *boxes = DN_TEST_ZEROS (2, 4, 5);
  DnTensor *boxes4 = DN_TEST_ZEROS (2, 4, 4);
  DnTensor *out = DN_TEST_ZEROS (4, 4, 3, 2, 2);
  DnTensor *outk = DN_TEST_ZEROS (4, 3, 3, 2, 2);
  DnTensor *outc = DN_TEST_ZEROS (4, 4, 2, 2, 2);
  DnTensor *inp3 = DN_TEST_ZEROS (3, 3, 5, 7);
  DN_TEST_FAILS (dn_roi_align_forward (out, inp, boxes4, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_forward (outk, inp, boxes, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_forward (outc, inp, boxes, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_forward (out, inp3, boxes, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_backward (inp, outk, boxes, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_backward (inp3, out, boxes, 1, -1, true), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_roi_align_forward (NULL, inp, boxes, 1, -1, true), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *all[] = { inp, boxes, boxes4, out, outk, outc, inp3 };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dn_tensor_free (all[i]);
}

static void
test_zero_size (void)
{
  /* K = 0, C = 0, an empty output grid: no-ops */
  const int64_t cases[][7] = { { 2, 3, 5, 7, 0, 2, 2 }, { 2, 0, 5, 7, 3, 2, 2 }, { 1, 2, 5, 7, 3, 0, 4 } };
  for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const int64_t *c = cases[k];
      DnTensor *inp = DN_TEST_ZEROS (4, c[0], c[1], c[2], c[3]);
      DnTensor *boxes = DN_TEST_ZEROS (2, c[4], 5);
      DnTensor *out = DN_TEST_ZEROS (4, c[4], c[1], c[5], c[6]);
      DN_TEST_OK (dn_roi_align_forward (out, inp, boxes, 1, -1, true));
      DN_TEST_OK (dn_roi_align_backward (inp, out, boxes, 1, -1, true));
      double *z = g_new0 (double, dn_tensor_numel (inp) + 1);
      dn_test_check_tensor ("roi_align zero-size backward", inp, z, 0);
      g_free (z);
      dn_tensor_free (inp);
      dn_tensor_free (boxes);
      dn_tensor_free (out);
    }
  /* NaN boxes: zeros out (no sample), no crash */
  double img[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  double bx[10] = { 0, NAN, 0, 2, 2, NAN, 0, 0, 2, 2 };
  DnTensor *ti = DN_TEST_TENSOR (img, 4, 1, 1, 3, 4);
  DnTensor *tb = DN_TEST_TENSOR (bx, 2, 2, 5);
  DnTensor *to = DN_TEST_ZEROS (4, 2, 1, 2, 2);
  DN_TEST_OK (dn_roi_align_forward (to, ti, tb, 1, -1, true));
  DN_TEST_OK (dn_roi_align_backward (ti, to, tb, 1, -1, true));
  DN_TEST_OK (dn_device_sync (dn_test_device ()));
  dn_tensor_free (ti);
  dn_tensor_free (tb);
  dn_tensor_free (to);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/roi_align/forward-backward", test_forward_backward);
  g_test_add_func ("/ops/roi_align/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/roi_align/torchvision", test_torch);
  g_test_add_func ("/ops/roi_align/v1-create-crops", test_v1_crops);
  g_test_add_func ("/ops/roi_align/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/roi_align/zero-size", test_zero_size);
  return dn_test_run ();
}
