/* test-io-npy.c: the .npy reader against the shared mask/correlation/prior files (checked against the
 * figures of docs/twins.md §7), hand-made files (versions 1.0/2.0/3.0, every accepted dtype, big-endian,
 * Fortran order, header spellings), hostile headers, and write -> read round trips of the atomic writer.
 * Missing shared files FAIL the test. No device is needed.
 * SPDX-License-Identifier: MIT
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "dn-test.h"
#include "io-craft.h"
#include "io/dn-npy.h"

static DnNpyArray *
load_shared (const char *rel, DnNpyDtype want)
{
  char *path = io_shared_path (rel);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("required test file missing: %s", path);
  DnNpyArray *a = NULL;
  DN_TEST_OK (dn_npy_load (path, want, &a));
  g_free (path);
  return a;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
check_mask (const char *rel, int64_t side, double crow, double ccol, int distinct)
{
  DnNpyArray *m = load_shared (rel, DN_NPY_FLOAT64);
  g_assert_cmpint (m->ndim, ==, 2);
  g_assert_cmpint (m->shape[0], ==, side);
  g_assert_cmpint (m->shape[1], ==, side);
  g_assert_cmpint (m->src_dtype, ==, DN_NPY_FLOAT64);
  g_assert_false (m->src_fortran_order);
  const double *v = m->data;
  double sum = 0, sr = 0, sc = 0;
  int ones = 0;
  for (int64_t r = 0; r < side; r++)
    for (int64_t c = 0; c < side; c++)
      {
        double x = v[r * side + c];
        g_assert_cmpfloat (x, >=, 0);
        g_assert_cmpfloat (x, <=, 1);
        sum += x;
        sr += x * (double) r;
        sc += x * (double) c;
        ones += x == 1.0;
      }
  g_test_message ("%s: centroid (%.2f, %.2f), %d px at 1.0", rel, sr / sum, sc / sum, ones);
  g_assert_cmpfloat (fabs (sr / sum - crow), <, 0.06);
  g_assert_cmpfloat (fabs (sc / sum - ccol), <, 0.06);
  if (distinct > 0)
    {
      double *s = g_memdup2 (v, (gsize) m->numel * sizeof *s);
      qsort (s, (size_t) m->numel, sizeof *s, cmp_double);
      int n = 1;
      for (int64_t i = 1; i < m->numel; i++)
        n += s[i] != s[i - 1];
      g_assert_cmpint (n, ==, distinct);
      g_assert_cmpint (abs (ones - 1526), <=, 15);
      g_free (s);
    }
  /* float32 is the same values rounded */
  DnNpyArray *f = load_shared (rel, DN_NPY_FLOAT32);
  for (int64_t i = 0; i < m->numel; i++)
    g_assert_true (((float *) f->data)[i] == (float) v[i]);
  dn_npy_array_free (f);
  dn_npy_array_free (m);
}

static void
check_correlations (const char *rel, int64_t n, double lo, double hi, double mean)
{
  DnNpyArray *a = load_shared (rel, DN_NPY_FLOAT64);
  g_assert_cmpint (a->ndim, ==, 1);
  g_assert_cmpint (a->shape[0], ==, n);
  const double *v = a->data;
  double mn = INFINITY, mx = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; i++)
    {
      mn = fmin (mn, v[i]);
      mx = fmax (mx, v[i]);
      s += v[i];
    }
  g_test_message ("%s: min %.4f max %.4f mean %.4f", rel, mn, mx, s / (double) n);
  g_assert_cmpfloat (fabs (mn - lo), <, 6e-4);
  g_assert_cmpfloat (fabs (mx - hi), <, 6e-4);
  g_assert_cmpfloat (fabs (s / (double) n - mean), <, 6e-4);
  dn_npy_array_free (a);
}

static void
test_shared_files (void)
{
  /* twins.md §7 */
  check_mask ("dualneuron/V1GrayTaskDriven/mask.npy", 93, 44.9, 45.3, 111);
  check_mask ("dualneuron/V4ColorTaskDriven/mask.npy", 100, 51.0, 51.0, 0);
  check_correlations ("dualneuron/V1GrayTaskDriven/correlations.npy", 458, 0.127, 0.963, 0.737);
  check_correlations ("dualneuron/V4ColorTaskDriven/correlations.npy", 394, -0.066, 0.927, 0.407);

  static const struct
  {
    const char *rel;
    int64_t c, side;
  } priors[] = { { "dualneuron/priors/natural_gray.npy", 1, 93 }, { "dualneuron/priors/natural_rgb.npy", 3, 100 } };
  for (int i = 0; i < 2; i++)
    {
      char *path = io_shared_path (priors[i].rel);
      GBytes *bytes = io_read_or_fail (path);
      gsize size;
      const uint8_t *raw = g_bytes_get_data (bytes, &size);
      DnNpyArray *f = load_shared (priors[i].rel, DN_NPY_FLOAT32);
      g_assert_cmpint (f->ndim, ==, 3);
      g_assert_cmpint (f->shape[0], ==, priors[i].c);
      g_assert_cmpint (f->shape[1], ==, priors[i].side);
      g_assert_cmpint (f->shape[2], ==, priors[i].side);
      g_assert_cmpint (f->src_dtype, ==, DN_NPY_FLOAT32);
      /* float32 data: the values are the file's last numel*4 bytes, verbatim */
      gsize nb = (gsize) f->numel * 4;
      g_assert_true (memcmp (f->data, raw + size - nb, nb) == 0);
      DnNpyArray *d = load_shared (priors[i].rel, DN_NPY_FLOAT64);
      for (int64_t k = 0; k < f->numel; k++)
        g_assert_true (((double *) d->data)[k] == (double) ((float *) f->data)[k]);
      dn_npy_array_free (d);
      dn_npy_array_free (f);
      g_bytes_unref (bytes);
      g_free (path);
    }
}

/* ---- crafted files ---- */

static GByteArray *
make_npy (int major, const char *header, const void *data, size_t nbytes)
{
  GByteArray *b = g_byte_array_new ();
  size_t pre = major == 1 ? 10 : 12;
  size_t hl = strlen (header) + 1;
  size_t total = (pre + hl + 63) & ~(size_t) 63;
  hl = total - pre;
  g_byte_array_append (b, (const guint8 *) "\x93NUMPY", 6);
  uint8_t ver[2] = { (uint8_t) major, 0 };
  g_byte_array_append (b, ver, 2);
  if (major == 1)
    {
      uint8_t l[2] = { (uint8_t) hl, (uint8_t) (hl >> 8) };
      g_byte_array_append (b, l, 2);
    }
  else
    pk_u32 (b, (uint32_t) hl);
  g_byte_array_append (b, (const guint8 *) header, (guint) strlen (header));
  for (size_t i = strlen (header); i + 1 < hl; i++)
    g_byte_array_append (b, (const guint8 *) " ", 1);
  g_byte_array_append (b, (const guint8 *) "\n", 1);
  g_byte_array_append (b, data, (guint) nbytes);
  return b;
}

static DnNpyArray *
load_crafted (GByteArray *b, DnNpyDtype want)
{
  DnNpyArray *a = NULL;
  DN_TEST_OK (dn_npy_load_memory (b->data, b->len, "crafted.npy", want, &a));
  return a;
}

static void
expect_values (GByteArray *b, const double *want, int64_t n)
{
  DnNpyArray *d = load_crafted (b, DN_NPY_FLOAT64), *f = load_crafted (b, DN_NPY_FLOAT32);
  g_assert_cmpint (d->numel, ==, n);
  for (int64_t i = 0; i < n; i++)
    {
      if (((double *) d->data)[i] != want[i])
        g_error ("value %lld: %.17g, expected %.17g", (long long) i, ((double *) d->data)[i], want[i]);
      g_assert_true (((float *) f->data)[i] == (float) want[i]);
    }
  dn_npy_array_free (d);
  dn_npy_array_free (f);
}

static void
test_versions_and_dtypes (void)
{
  const float f4[3] = { 1.5f, -2.25f, 1e-3f };
  const double f4w[3] = { 1.5, -2.25, (double) 1e-3f };
  for (int major = 1; major <= 3; major++)
    {
      GByteArray *b = make_npy (major, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4, sizeof f4);
      DnNpyArray *a = load_crafted (b, DN_NPY_FLOAT32);
      g_assert_cmpint (a->version, ==, major);
      dn_npy_array_free (a);
      expect_values (b, f4w, 3);
      g_byte_array_unref (b);
    }

  const uint16_t f2[3] = { 0x3c00, 0xc100, 0x7bff };
  const int64_t i8[2] = { -5, (int64_t) 1 << 40 };
  const int32_t i4[2] = { -7, 2000000000 };
  const int16_t i2[2] = { -300, 300 };
  const int8_t i1[2] = { -128, 127 };
  const uint8_t u1[2] = { 0, 255 };
  const uint16_t u2[2] = { 0, 65535 };
  const uint32_t u4[2] = { 1, 4000000000u };
  const uint64_t u8[2] = { 2, (uint64_t) 1 << 50 };
  const uint8_t b1[3] = { 0, 1, 1 };
  const uint8_t f8be[16] = { 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0 }; /* 1.5, -2 */
  const uint8_t i4be[8] = { 0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0 };                     /* -2, 256 */
  const struct
  {
    const char *descr;
    const void *data;
    size_t nbytes;
    int64_t n;
    double want[3];
    DnNpyDtype dtype;
  } cases[] = {
    { "<f2", f2, sizeof f2, 3, { 1.0, -2.5, 65504.0 }, DN_NPY_FLOAT16 },
    { "<i8", i8, sizeof i8, 2, { -5, 1099511627776.0 }, DN_NPY_INT64 },
    { "<i4", i4, sizeof i4, 2, { -7, 2000000000 }, DN_NPY_INT32 },
    { "<i2", i2, sizeof i2, 2, { -300, 300 }, DN_NPY_INT16 },
    { "|i1", i1, sizeof i1, 2, { -128, 127 }, DN_NPY_INT8 },
    { "|u1", u1, sizeof u1, 2, { 0, 255 }, DN_NPY_UINT8 },
    { "<u2", u2, sizeof u2, 2, { 0, 65535 }, DN_NPY_UINT16 },
    { "<u4", u4, sizeof u4, 2, { 1, 4000000000.0 }, DN_NPY_UINT32 },
    { "<u8", u8, sizeof u8, 2, { 2, 1125899906842624.0 }, DN_NPY_UINT64 },
    { "|b1", b1, sizeof b1, 3, { 0, 1, 1 }, DN_NPY_BOOL },
    { ">f8", f8be, sizeof f8be, 2, { 1.5, -2 }, DN_NPY_FLOAT64 },
    { ">i4", i4be, sizeof i4be, 2, { -2, 256 }, DN_NPY_INT32 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *h = g_strdup_printf ("{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }", cases[i].descr,
                                 (long long) cases[i].n);
      GByteArray *b = make_npy (1, h, cases[i].data, cases[i].nbytes);
      DnNpyArray *a = load_crafted (b, DN_NPY_FLOAT64);
      g_assert_cmpint (a->src_dtype, ==, cases[i].dtype);
      dn_npy_array_free (a);
      expect_values (b, cases[i].want, cases[i].n);
      g_byte_array_unref (b);
      g_free (h);
    }
}

static void
test_fortran_and_spellings (void)
{
  /* (2,3,4) in Fortran order: element (i,j,k) at i + 2j + 6k */
  double c[24], f[24];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++)
        {
          c[(i * 3 + j) * 4 + k] = i * 100 + j * 10 + k;
          f[i + 2 * j + 6 * k] = i * 100 + j * 10 + k;
        }
  GByteArray *b = make_npy (1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }", f, sizeof f);
  DnNpyArray *a = load_crafted (b, DN_NPY_FLOAT64);
  g_assert_true (a->src_fortran_order);
  g_assert_cmpint (a->ndim, ==, 3);
  dn_npy_array_free (a);
  expect_values (b, c, 24);
  g_byte_array_unref (b);
  /* 2-D */
  const float f2[6] = { 0, 3, 1, 4, 2, 5 }; /* (2,3) = [[0,1,2],[3,4,5]] */
  const double c2[6] = { 0, 1, 2, 3, 4, 5 };
  b = make_npy (1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f2, sizeof f2);
  expect_values (b, c2, 6);
  g_byte_array_unref (b);

  /* other spellings numpy (or Python 2's numpy) may write */
  static const char *const headers[] = {
    "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
    "{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<f4'}",
    "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
  };
  const float cf[6] = { 0, 1, 2, 3, 4, 5 };
  for (size_t i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      b = make_npy (1, headers[i], cf, sizeof cf);
      a = load_crafted (b, DN_NPY_FLOAT32);
      g_assert_cmpint (a->ndim, ==, 2);
      g_assert_cmpint (a->shape[1], ==, 3);
      g_assert_true (memcmp (a->data, cf, sizeof cf) == 0);
      dn_npy_array_free (a);
      g_byte_array_unref (b);
    }
  /* a scalar and an empty array */
  const double one = 42;
  b = make_npy (1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &one, 8);
  a = load_crafted (b, DN_NPY_FLOAT32);
  g_assert_cmpint (a->ndim, ==, 0);
  g_assert_cmpint (a->numel, ==, 1);
  g_assert_cmpfloat (((float *) a->data)[0], ==, 42);
  dn_npy_array_free (a);
  g_byte_array_unref (b);
  b = make_npy (1, "{'descr': '<f8', 'fortran_order': True, 'shape': (0, 7), }", NULL, 0);
  a = load_crafted (b, DN_NPY_FLOAT64);
  g_assert_cmpint (a->numel, ==, 0);
  dn_npy_array_free (a);
  g_byte_array_unref (b);
}

static DnStatus
expect_fail (const void *data, size_t len, const char *name)
{
  void *copy = g_malloc (len ? len : 1);
  if (len)
    memcpy (copy, data, len);
  DnNpyArray *a = (DnNpyArray *) 0x1;
  dn_clear_error ();
  DnStatus st = dn_npy_load_memory (copy, len, name, DN_NPY_FLOAT32, &a);
  g_free (copy);
  if (st == DN_OK)
    g_error ("%s (%zu bytes) loaded, but should have failed", name, len);
  g_assert_null (a);
  if (!strstr (dn_last_error (), name))
    g_error ("error message does not name '%s': %s", name, dn_last_error ());
  return st;
}

static void
test_hostile (void)
{
  const float v[4] = { 1, 2, 3, 4 };
  static const struct
  {
    const char *header;
    DnStatus st;
  } bad[] = {
    { "{'descr': '|O', 'fortran_order': False, 'shape': (4,), }", DN_ERROR_UNSUPPORTED },
    { "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", DN_ERROR_UNSUPPORTED },
    { "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", DN_ERROR_UNSUPPORTED },
    { "{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", DN_ERROR_UNSUPPORTED },
    { "{'descr': '<f3', 'fortran_order': False, 'shape': (4,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,4), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'shape': (4,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'evil': __import__('os'), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4,), }", DN_ERROR_FORMAT },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", DN_ERROR_FORMAT },
    { "", DN_ERROR_FORMAT },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GByteArray *b = make_npy (1, bad[i].header, v, sizeof v);
      DnStatus st = expect_fail (b->data, b->len, "bad.npy");
      if (st != bad[i].st)
        g_error ("%s: %s, expected %s (%s)", bad[i].header, dn_status_to_string (st),
                 dn_status_to_string (bad[i].st), dn_last_error ());
      g_byte_array_unref (b);
    }
  /* bad magic, unknown version, header longer than the file, giant v2 header length */
  GByteArray *b = make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, sizeof v);
  b->data[1] = 'M';
  expect_fail (b->data, b->len, "magic.npy");
  b->data[1] = 'N';
  b->data[6] = 4;
  g_assert_cmpint (expect_fail (b->data, b->len, "v4.npy"), ==, DN_ERROR_UNSUPPORTED);
  b->data[6] = 1;
  b->data[9] = 0x7f;
  expect_fail (b->data, b->len, "hlen.npy");
  g_byte_array_unref (b);
  b = make_npy (2, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, sizeof v);
  memcpy (b->data + 8, "\xff\xff\xff\xff", 4);
  expect_fail (b->data, b->len, "hlen2.npy");
  g_byte_array_unref (b);

  /* every prefix of a real file fails cleanly */
  char *path = io_shared_path ("dualneuron/V1GrayTaskDriven/correlations.npy");
  GBytes *bytes = io_read_or_fail (path);
  gsize size;
  const uint8_t *d = g_bytes_get_data (bytes, &size);
  for (gsize len = 0; len < size; len++)
    expect_fail (d, len, path);
  g_bytes_unref (bytes);
  g_free (path);

  DnNpyArray *a = NULL;
  DN_TEST_FAILS (dn_npy_load ("/nonexistent/x.npy", DN_NPY_FLOAT32, &a), DN_ERROR_IO);
  g_assert_nonnull (strstr (dn_last_error (), "/nonexistent/x.npy"));
  DN_TEST_FAILS (dn_npy_load_memory (v, sizeof v, "x.npy", DN_NPY_INT32, &a), DN_ERROR_INVALID_ARGUMENT);
  dn_npy_array_free (NULL);
}

/* ---- writer ---- */

static void
test_write_roundtrip (void)
{
  char *dir = g_dir_make_tmp ("dn-npy-XXXXXX", NULL);
  g_assert_nonnull (dir);
  char *path = g_build_filename (dir, "out.npy", NULL);
  static const struct
  {
    int ndim;
    int64_t shape[16];
    const char *shape_text;
  } shapes[] = {
    { 0, { 0 }, "()" },
    { 1, { 0 }, "(0,)" },
    { 1, { 5 }, "(5,)" },
    { 3, { 2, 3, 4 }, "(2, 3, 4)" },
    { 16, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3 }, "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3)" },
  };
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int dt = 0; dt < 2; dt++)
      {
        int64_t n = 1;
        for (int k = 0; k < shapes[s].ndim; k++)
          n *= shapes[s].shape[k];
        double *r = g_new (double, n ? n : 1);
        GRand *rng = g_rand_new_with_seed ((guint32) (100 + s));
        for (int64_t k = 0; k < n; k++)
          r[k] = g_rand_double_range (rng, -3, 3);
        g_rand_free (rng);
        float *f = g_new (float, n ? n : 1);
        for (int64_t k = 0; k < n; k++)
          f[k] = (float) r[k];
        DnNpyDtype dtype = dt ? DN_NPY_FLOAT64 : DN_NPY_FLOAT32;
        const void *data = dt ? (const void *) r : (const void *) f;
        DN_TEST_OK (dn_npy_save (path, dtype, shapes[s].ndim, shapes[s].shape, data));

        /* the header numpy itself would write, padded to 64 bytes */
        char *text;
        gsize len;
        g_assert_true (g_file_get_contents (path, &text, &len, NULL));
        g_assert_true (memcmp (text, "\x93NUMPY\x01\x00", 8) == 0);
        size_t hl = (uint8_t) text[8] | (size_t) (uint8_t) text[9] << 8;
        g_assert_cmpuint ((10 + hl) % 64, ==, 0);
        g_assert_cmpint (text[10 + hl - 1], ==, '\n');
        char *want = g_strdup_printf ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                      dt ? "<f8" : "<f4", shapes[s].shape_text);
        g_assert_true (strncmp (text + 10, want, strlen (want)) == 0);
        g_assert_cmpuint (len, ==, 10 + hl + (size_t) n * (dt ? 8 : 4));
        g_free (want);
        g_free (text);

        DnNpyArray *a = NULL;
        DN_TEST_OK (dn_npy_load (path, dtype, &a));
        g_assert_cmpint (a->ndim, ==, shapes[s].ndim);
        g_assert_cmpint (a->numel, ==, n);
        g_assert_true (memcmp (a->shape, shapes[s].shape, sizeof (int64_t) * (size_t) shapes[s].ndim) == 0);
        g_assert_true (memcmp (a->data, data, (size_t) n * (dt ? 8 : 4)) == 0);
        dn_npy_array_free (a);
        g_free (f);
        g_free (r);
      }
  /* the replace is atomic: no temporary file is left, only out.npy */
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *e;
  int count = 0;
  while ((e = g_dir_read_name (d)))
    {
      g_assert_cmpstr (e, ==, "out.npy");
      count++;
    }
  g_dir_close (d);
  g_assert_cmpint (count, ==, 1);

  /* failures: a missing folder (no leftovers), bad arguments */
  char *missing = g_build_filename (dir, "no-such-dir", "x.npy", NULL);
  const float one = 1;
  const int64_t shape1[1] = { 1 };
  DN_TEST_FAILS (dn_npy_save (missing, DN_NPY_FLOAT32, 1, shape1, &one), DN_ERROR_IO);
  g_assert_nonnull (strstr (dn_last_error (), missing));
  DN_TEST_FAILS (dn_npy_save (path, DN_NPY_INT32, 1, shape1, &one), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_npy_save (path, DN_NPY_FLOAT32, 17, shape1, &one), DN_ERROR_INVALID_ARGUMENT);
  const int64_t neg[1] = { -1 };
  DN_TEST_FAILS (dn_npy_save (path, DN_NPY_FLOAT32, 1, neg, &one), DN_ERROR_INVALID_ARGUMENT);
  DN_TEST_FAILS (dn_npy_save (path, DN_NPY_FLOAT32, 1, shape1, NULL), DN_ERROR_INVALID_ARGUMENT);
  g_free (missing);

  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/io/npy/shared-files", test_shared_files);
  g_test_add_func ("/io/npy/versions-and-dtypes", test_versions_and_dtypes);
  g_test_add_func ("/io/npy/fortran-and-spellings", test_fortran_and_spellings);
  g_test_add_func ("/io/npy/hostile", test_hostile);
  g_test_add_func ("/io/npy/write-roundtrip", test_write_roundtrip);
  return g_test_run ();
}
