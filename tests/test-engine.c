/* test-engine.c: devices, tensors, views, arenas, fill/copy, transfers and bad-input handling.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "dn-test.h"

static void
test_roundtrip (void)
{
  int64_t n = 1 + 93 * 93 * 3;
  double *v = dn_test_randn (n, 1);
  DnTensor *t = DN_TEST_TENSOR (v, 2, 1, n);
  dn_test_check_tensor ("upload/download", t, v, 0);
  dn_tensor_free (t);
  g_free (v);
}

static void
test_fill_copy_views (void)
{
  /* views at odd element offsets must work on both backends */
  DnTensor *a = DN_TEST_ZEROS (1, 1000);
  DN_TEST_OK (dn_tensor_fill (a, 2.5f));
  DnStatus st;
  DnTensor *v1 = dn_tensor_view (a, 13, 2, (const int64_t[]){ 7, 13 }, &st);
  g_assert_nonnull (v1);
  DN_TEST_OK (dn_tensor_fill (v1, -1.0f));
  DnTensor *v2 = dn_tensor_view (a, 501, 1, (const int64_t[]){ 91 }, &st);
  DN_TEST_OK (dn_tensor_copy (v2, v1)); /* 91 = 7*13 */
  double want[1000];
  for (int i = 0; i < 1000; i++)
    want[i] = 2.5;
  for (int i = 13; i < 13 + 91; i++)
    want[i] = -1;
  for (int i = 501; i < 501 + 91; i++)
    want[i] = -1;
  dn_test_check_tensor ("fill+copy on views", a, want, 0);
  dn_tensor_free (v1);
  dn_tensor_free (a); /* the view keeps the storage alive */
  dn_test_check_tensor ("view outlives base", v2, want + 501, 0);
  dn_tensor_free (v2);
}

static void
test_many_dispatches (void)
{
  /* more dispatches than one descriptor pool holds, with dependencies between them */
  DnTensor *a = DN_TEST_ZEROS (1, 37);
  DnTensor *b = DN_TEST_ZEROS (1, 37);
  for (int i = 0; i < 3000; i++)
    {
      DN_TEST_OK (dn_tensor_fill (a, (float) i));
      DN_TEST_OK (dn_tensor_copy (b, a));
    }
  double want[37];
  for (int i = 0; i < 37; i++)
    want[i] = 2999;
  dn_test_check_tensor ("chained dispatches", b, want, 0);
  dn_tensor_free (a);
  dn_tensor_free (b);
}

static void
test_arena (void)
{
  DnDevice *dev = dn_test_device ();
  DnStatus st;
  DnArena *m = dn_arena_new (dev, 0, &st);
  const int64_t s1[] = { 3, 5 }, s2[] = { 17 };
  DnTensor *x = dn_arena_tensor (m, 2, s1, &st);
  DnTensor *y = dn_arena_tensor (m, 1, s2, &st);
  g_assert_null (x->buf);
  size_t bytes = dn_arena_bytes (m);
  g_assert_cmpuint (bytes, >=, (15 + 17) * 4);
  dn_tensor_free (x);
  dn_tensor_free (y);
  dn_arena_free (m);

  DnArena *a = dn_arena_new (dev, bytes, &st);
  g_assert_nonnull (a);
  x = dn_arena_tensor (a, 2, s1, &st);
  y = dn_arena_tensor (a, 1, s2, &st);
  g_assert_nonnull (x);
  g_assert_nonnull (y);
  DN_TEST_OK (dn_tensor_fill (x, 1));
  DN_TEST_OK (dn_tensor_fill (y, 2));
  double w1[15], w2[17];
  for (int i = 0; i < 15; i++)
    w1[i] = 1;
  for (int i = 0; i < 17; i++)
    w2[i] = 2;
  dn_test_check_tensor ("arena x", x, w1, 0);
  dn_test_check_tensor ("arena y", y, w2, 0);
  DnTensor *z = dn_arena_tensor (a, 1, s2, &st);
  g_assert_null (z);
  g_assert_cmpint (st, ==, DN_ERROR_NO_MEMORY);
  dn_tensor_free (x);
  dn_tensor_free (y);
  dn_arena_free (a);
}

static void
test_bad_input (void)
{
  DnDevice *dev = dn_test_device ();
  DnStatus st;
  g_assert_null (dn_tensor_new (dev, 2, (const int64_t[]){ 3, -1 }, &st));
  g_assert_cmpint (st, ==, DN_ERROR_SHAPE);
  g_assert_null (dn_tensor_new (dev, 9, (const int64_t[]){ 1, 1, 1, 1, 1, 1, 1, 1, 1 }, &st));
  g_assert_cmpint (st, ==, DN_ERROR_SHAPE);
  DnTensor *a = DN_TEST_ZEROS (1, 10);
  DnTensor *b = DN_TEST_ZEROS (1, 11);
  DN_TEST_FAILS (dn_tensor_copy (a, b), DN_ERROR_SHAPE);
  g_assert_null (dn_tensor_view (a, 5, 1, (const int64_t[]){ 6 }, &st));
  g_assert_cmpint (st, ==, DN_ERROR_SHAPE);
  float buf[11];
  DN_TEST_FAILS (dn_tensor_upload (a, buf, 11), DN_ERROR_SHAPE);
  DN_TEST_FAILS (dn_tensor_download (a, NULL, 10), DN_ERROR_INVALID_ARGUMENT);
  /* zero-size tensors are valid and every op on them is a no-op */
  DnTensor *z = DN_TEST_ZEROS (2, 0, 5);
  DN_TEST_OK (dn_tensor_fill (z, 1));
  DN_TEST_OK (dn_tensor_upload (z, buf, 0));
  dn_tensor_free (z);
  /* an absurd allocation fails cleanly */
  DnTensor *huge = dn_tensor_new (dev, 2, (const int64_t[]){ 1 << 20, 1 << 19 }, &st);
  g_assert_null (huge);
  g_assert_cmpint (st, ==, DN_ERROR_NO_MEMORY);
  dn_tensor_free (a);
  dn_tensor_free (b);
}

static void
test_check_finite (void)
{
  double v[301];
  for (int i = 0; i < 301; i++)
    v[i] = i * 0.5 - 7;
  DnTensor *t = DN_TEST_TENSOR (v, 1, 301);
  DN_TEST_OK (dn_tensor_check_finite (t, "input"));
  v[300] = NAN;
  DnTensor *u = DN_TEST_TENSOR (v, 1, 301);
  DN_TEST_FAILS (dn_tensor_check_finite (u, "input"), DN_ERROR_NON_FINITE);
  g_assert_nonnull (strstr (dn_last_error (), "input"));
  v[300] = 1;
  v[17] = INFINITY;
  DnTensor *w = DN_TEST_TENSOR (v, 1, 301);
  DN_TEST_FAILS (dn_tensor_check_finite (w, "input"), DN_ERROR_NON_FINITE);
  dn_tensor_free (t);
  dn_tensor_free (u);
  dn_tensor_free (w);
}

/* Every allocation on the way fails once: the calls report out-of-memory and leak nothing (the ASan
 * run checks the leaks). */
static void
test_allocation_failures (void)
{
  DnDevice *dev = dn_test_device ();
  for (long k = 1; k < 12; k++)
    {
      DnStatus st = DN_OK;
      dn_debug_fail_allocation_after (k);
      DnTensor *a = dn_tensor_new2 (dev, 3, 5, &st);
      DnTensor *v = a ? dn_tensor_view (a, 1, 1, (const int64_t[]){ 4 }, &st) : NULL;
      DnArena *ar = v ? dn_arena_new (dev, 4096, &st) : NULL;
      DnTensor *x = ar ? dn_arena_tensor (ar, 1, (const int64_t[]){ 9 }, &st) : NULL;
      if (!x)
        g_assert_cmpint (st, ==, DN_ERROR_NO_MEMORY);
      dn_debug_fail_allocation_after (0);
      dn_tensor_free (x);
      dn_arena_free (ar);
      dn_tensor_free (v);
      dn_tensor_free (a);
    }
}

static void
test_profile (void)
{
  if (strcmp (dn_test_backend_name (), "vulkan") != 0)
    return;
  DnDeviceOptions opts;
  dn_device_options_init (&opts);
  opts.backend = DN_BACKEND_VULKAN;
  opts.prefer_software = true;
  opts.validation = true;
  opts.profile = true;
  DnStatus st;
  DnDevice *dev = dn_device_new (&opts, &st);
  g_assert_nonnull (dev);
  DnTensor *t = dn_tensor_new1 (dev, 1000, &st);
  for (int i = 0; i < 5; i++)
    DN_TEST_OK (dn_tensor_fill (t, 1));
  DN_TEST_OK (dn_device_sync (dev));
  char report[1024];
  dn_device_profile_report (dev, report, sizeof report);
  g_assert_nonnull (strstr (report, "fill:"));
  g_assert_nonnull (strstr (report, "(5)"));
  dn_tensor_free (t);
  g_assert_cmpint (dn_device_validation_messages (dev), ==, 0);
  dn_device_free (dev);
}

static void
test_enumerate (void)
{
  /* On the CPU suite this stays off Vulkan: the ASan run checks leaks there, and Mesa's driver leaks
   * small allocations of its own when it is unloaded. */
  if (strcmp (dn_test_backend_name (), "cpu") == 0)
    {
      g_assert_cmpint (dn_device_backend (dn_test_device ()), ==, DN_BACKEND_CPU);
      return;
    }
  DnDeviceInfo infos[8];
  int n = dn_device_enumerate (infos, 8);
  g_assert_cmpint (n, >=, 1);
  g_assert_cmpint (infos[0].backend, ==, DN_BACKEND_CPU);
  const DnDeviceInfo *info = dn_device_info (dn_test_device ());
  g_assert_cmpstr (info->name, !=, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dn_test_device ();
  g_test_add_func ("/engine/enumerate", test_enumerate);
  g_test_add_func ("/engine/roundtrip", test_roundtrip);
  g_test_add_func ("/engine/fill-copy-views", test_fill_copy_views);
  g_test_add_func ("/engine/many-dispatches", test_many_dispatches);
  g_test_add_func ("/engine/arena", test_arena);
  g_test_add_func ("/engine/bad-input", test_bad_input);
  g_test_add_func ("/engine/check-finite", test_check_finite);
  g_test_add_func ("/engine/allocation-failures", test_allocation_failures);
  g_test_add_func ("/engine/profile", test_profile);
  return dn_test_run ();
}
