/* test-op-reduce.c: dn_reduce_sum/mean_forward/backward against the float64 references
 * (dn_ref_reduce_*): every axis (incl. negative) and DN_AXIS_ALL, keepdim and squeezed outputs, short
 * sums of many outputs and long sums of few (the two Vulkan variants), 1e5-term sums at 1e-5; the
 * reference backward against finite differences; bad axes and shapes; zero sizes; NaN.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "dn-ops.h"
#include "dn-ref.h"
#include "dn-test.h"

/* out shape for (shape, axis): keepdim or squeezed */
static int
reduced_shape (int ndim, const int64_t *shape, int axis, bool keep, int64_t *out)
{
  if (axis == DN_AXIS_ALL)
    {
      out[0] = 1;
      return 1;
    }
  int ax = axis < 0 ? axis + ndim : axis, n = 0;
  for (int d = 0; d < ndim; d++)
    if (d != ax)
      out[n++] = shape[d];
    else if (keep)
      out[n++] = 1;
  if (n == 0)
    out[n++] = 1;
  return n;
}

static void
geometry (int ndim, const int64_t *shape, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
  *outer = *inner = 1;
  if (axis == DN_AXIS_ALL)
    {
      *len = 1;
      for (int d = 0; d < ndim; d++)
        *len *= shape[d];
      return;
    }
  int ax = axis < 0 ? axis + ndim : axis;
  for (int d = 0; d < ax; d++)
    *outer *= shape[d];
  for (int d = ax + 1; d < ndim; d++)
    *inner *= shape[d];
  *len = shape[ax];
}

static void
run_case (int ndim, const int64_t *shape, int axis, bool keep, bool mean, double tol, uint64_t seed, bool uniform)
{
  int64_t oshape[DN_MAX_DIMS], outer, len, inner;
  int ond = reduced_shape (ndim, shape, axis, keep, oshape);
  geometry (ndim, shape, axis, &outer, &len, &inner);
  int64_t n = outer * len * inner, no = outer * inner;
  double *x = uniform ? dn_test_uniform (n, 0.5, 1.5, seed) : dn_test_randn (n, seed);
  double *dy = dn_test_randn (no, seed + 1), *dx = dn_test_randn (n, seed + 2), *want = g_new (double, no);
  DnTensor *tx = dn_test_tensor (ndim, shape, x), *ty = dn_test_zeros (ond, oshape);
  DnTensor *tdy = dn_test_tensor (ond, oshape, dy), *tdx = dn_test_tensor (ndim, shape, dx);
  char what[128];
  g_snprintf (what, sizeof what, "reduce %s (%ld,%ld,%ld) axis %d keep %d", mean ? "mean" : "sum", (long) outer,
              (long) len, (long) inner, axis, keep);
  if (mean)
    {
      DN_TEST_OK (dn_reduce_mean_forward (ty, tx, axis));
      DN_TEST_OK (dn_reduce_mean_backward (tdx, tdy, axis));
      dn_ref_reduce_mean_forward (want, x, outer, len, inner);
      dn_ref_reduce_mean_backward (dx, dy, outer, len, inner);
    }
  else
    {
      DN_TEST_OK (dn_reduce_sum_forward (ty, tx, axis));
      DN_TEST_OK (dn_reduce_sum_backward (tdx, tdy, axis));
      dn_ref_reduce_sum_forward (want, x, outer, len, inner);
      dn_ref_reduce_sum_backward (dx, dy, outer, len, inner);
    }
  dn_test_check_tensor (what, ty, want, tol);
  dn_test_check_tensor ("  backward", tdx, dx, 1e-6); /* one float32 add each */
  dn_tensor_free (tx), dn_tensor_free (ty), dn_tensor_free (tdy), dn_tensor_free (tdx);
  g_free (x), g_free (dy), g_free (dx), g_free (want);
}

static void
test_axes (void)
{
  const int64_t s1[] = { 1 }, s7[] = { 7 }, s93[] = { 93 }, s3[] = { 3, 7, 13 }, s4[] = { 2, 1, 5, 3 };
  for (int mean = 0; mean < 2; mean++)
    {
      run_case (1, s1, 0, true, mean, 1e-5, 1, false);
      run_case (1, s7, -1, false, mean, 1e-5, 2, false);
      run_case (1, s93, DN_AXIS_ALL, false, mean, 1e-5, 3, false);
      for (int ax = -3; ax < 3; ax++)
        for (int keep = 0; keep < 2; keep++)
          run_case (3, s3, ax, keep, mean, 1e-5, 10 + ax * 2 + keep, false);
      run_case (3, s3, DN_AXIS_ALL, false, mean, 1e-5, 20, false);
      for (int ax = 0; ax < 4; ax++)
        run_case (4, s4, ax, true, mean, 1e-5, 30 + ax, false);
    }
}

static void
test_long_sums (void)
{
  /* 1e5-term sums must stay within 1e-5 of the float64 sum (Kahan + compensated tree on Vulkan);
   * positive data, where the relative error of a plain float32 loop would reach ~1e-3 */
  const int64_t all[] = { 100003 }, rows[] = { 2, 50001 }, cols[] = { 20011, 3 }, mid[] = { 2, 4099, 5 };
  run_case (1, all, DN_AXIS_ALL, false, false, 1e-5, 40, true);
  run_case (1, all, 0, false, true, 1e-5, 41, false);
  run_case (2, rows, 1, false, false, 1e-5, 42, true);
  run_case (2, cols, 0, true, true, 1e-5, 43, true);
  run_case (3, mid, 1, false, false, 1e-5, 44, false);
  /* many short sums (one invocation per output on Vulkan) */
  const int64_t many[] = { 3001, 7 };
  run_case (2, many, 1, false, false, 1e-5, 45, false);
}

typedef struct
{
  int64_t outer, len, inner;
  bool mean;
} GradCtx;

static void
fwd_fn (void *ctx, const double *x, double *y)
{
  GradCtx *g = ctx;
  if (g->mean)
    dn_ref_reduce_mean_forward (y, x, g->outer, g->len, g->inner);
  else
    dn_ref_reduce_sum_forward (y, x, g->outer, g->len, g->inner);
}

static void
test_gradcheck (void)
{
  for (int mean = 0; mean < 2; mean++)
    {
      GradCtx g = { 3, 4, 5, mean };
      int64_t n = 60, no = 15;
      double *x = dn_test_randn (n, 1), *dy = dn_test_randn (no, 2), *dx = g_new0 (double, n);
      if (mean)
        dn_ref_reduce_mean_backward (dx, dy, 3, 4, 5);
      else
        dn_ref_reduce_sum_backward (dx, dy, 3, 4, 5);
      dn_test_gradcheck (mean ? "reduce mean" : "reduce sum", fwd_fn, &g, x, n, no, dy, dx, 1e-6, 1e-6);
      g_free (x), g_free (dy), g_free (dx);
    }
}

static void
test_bad_shapes (void)
{
  DnTensor *x = DN_TEST_ZEROS (3, 3, 4, 5), *y1 = DN_TEST_ZEROS (3, 3, 1, 5), *y2 = DN_TEST_ZEROS (2, 3, 5);
  DnTensor *y3 = DN_TEST_ZEROS (2, 3, 4), *y4 = DN_TEST_ZEROS (2, 5, 3), *s = DN_TEST_ZEROS (1, 1);
  DN_TEST_OK (dn_reduce_sum_forward (y1, x, 1));
  DN_TEST_OK (dn_reduce_sum_forward (y2, x, -2));
  DN_TEST_OK (dn_reduce_mean_forward (y3, x, -1));
  DN_TEST_OK (dn_reduce_mean_forward (s, x, DN_AXIS_ALL));
  DN_TEST_FAILS (dn_reduce_sum_forward (y4, x, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_reduce_sum_forward (y2, x, 0), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_reduce_sum_forward (y2, x, DN_AXIS_ALL), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_reduce_sum_forward (y2, x, 3), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_reduce_mean_forward (y2, x, -4), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_reduce_sum_backward (x, y4, 1), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_reduce_mean_backward (x, y2, 2), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_reduce_sum_forward (NULL, x, 0), DN_ERROR_INVALID_ARGUMENT);
  DnTensor *ts[] = { x, y1, y2, y3, y4, s };
  for (int i = 0; i < 6; i++)
    dn_tensor_free (ts[i]);
}

static void
test_zero_size (void)
{
  /* an empty input with outputs: the sum over nothing is 0, the mean NaN (as in PyTorch) */
  DnTensor *x = DN_TEST_ZEROS (2, 3, 0), *y = DN_TEST_ZEROS (1, 3), *e = DN_TEST_ZEROS (2, 0, 4);
  DnTensor *ey = DN_TEST_ZEROS (1, 4);
  DN_TEST_OK (dn_tensor_fill (y, 5));
  DN_TEST_OK (dn_reduce_sum_forward (y, x, 1));
  double zeros[4] = { 0 };
  dn_test_check_tensor ("sum over nothing", y, zeros, 0);
  DN_TEST_OK (dn_reduce_mean_forward (y, x, 1));
  double *got = dn_test_download (y);
  g_assert_true (isnan (got[0]) && isnan (got[2]));
  g_free (got);
  DN_TEST_OK (dn_reduce_sum_backward (x, y, 1));
  DN_TEST_OK (dn_reduce_sum_forward (ey, e, 0)); /* zero outputs... of a (0,4) input over axis 0: 4 zeros */
  dn_test_check_tensor ("sum of (0,4) over axis 0", ey, zeros, 0);
  DnTensor *ez = DN_TEST_ZEROS (1, 0);
  DN_TEST_OK (dn_reduce_mean_forward (ez, e, 1)); /* no outputs at all */
  DN_TEST_OK (dn_reduce_mean_backward (e, ez, 1));
  DnTensor *ts[] = { x, y, e, ey, ez };
  for (int i = 0; i < 5; i++)
    dn_tensor_free (ts[i]);
}

static void
test_nan (void)
{
  double v[5] = { 1, 2, NAN, 4, 5 }, w[4] = { 1, INFINITY, 2, 3 };
  DnTensor *x = DN_TEST_TENSOR (v, 1, 5), *y = DN_TEST_ZEROS (1, 1), *xi = DN_TEST_TENSOR (w, 1, 4);
  DN_TEST_OK (dn_reduce_sum_forward (y, x, DN_AXIS_ALL));
  double *got = dn_test_download (y);
  g_assert_true (isnan (got[0]));
  g_free (got);
  DN_TEST_OK (dn_reduce_sum_forward (y, xi, 0)); /* an infinite term gives an infinite sum, not NaN */
  got = dn_test_download (y);
  g_assert_true (isinf (got[0]) && got[0] > 0);
  g_free (got);
  dn_tensor_free (x), dn_tensor_free (y), dn_tensor_free (xi);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/reduce/axes", test_axes);
  g_test_add_func ("/ops/reduce/long-sums", test_long_sums);
  g_test_add_func ("/ops/reduce/gradcheck", test_gradcheck);
  g_test_add_func ("/ops/reduce/bad-shapes", test_bad_shapes);
  g_test_add_func ("/ops/reduce/zero-size", test_zero_size);
  g_test_add_func ("/ops/reduce/nan", test_nan);
  return dn_test_run ();
}
