/* test-screen-datasets.c: datasets and bad files. A folder made in a temporary directory with class
 * sub-folders, every PNG/JPEG variant (16-bit, paletted with transparency, gray+alpha, 1-bit, interlaced,
 * RGBA 16-bit, a large JPEG) and bad files (zero-byte, truncated PNG and JPEG, garbage, text, a CRC error,
 * a header claiming 10^10 pixels, a dangling link): ids and labels, decoded pixels, and a screening run
 * that processes the good ones and reports, skips and counts the bad ones. Also .npy / HDF5 uint8 stacks
 * against the same images, malformed specs, and randomly mutated PNG/JPEG files.
 * SPDX-License-Identifier: MIT
 */
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dn-npy.h"
#include "dn-screen-h5.h"
#include "dn-twin-load.h"
#include "screen-test.h"

static void
write_png (const char *path, int w, int h, int color, int depth, const uint8_t *data, bool interlace,
           const png_color *palette, int n_palette, const uint8_t *trns, int n_trns)
{
  FILE *f = fopen (path, "wb");
  g_assert_nonnull (f);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  png_init_io (png, f);
  png_set_IHDR (png, info, (png_uint_32) w, (png_uint_32) h, depth, color,
                interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette)
    png_set_PLTE (png, info, palette, n_palette);
  if (trns)
    png_set_tRNS (png, info, trns, n_trns, NULL);
  png_write_info (png, info);
  size_t rowbytes = png_get_rowbytes (png, info);
  png_bytep *rows = g_new (png_bytep, h);
  for (int y = 0; y < h; y++)
    rows[y] = (png_bytep) data + (size_t) y * rowbytes;
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (f);
  g_free (rows);
}

static uint32_t
crc32_bytes (const uint8_t *p, size_t n)
{
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
  return c ^ 0xFFFFFFFFu;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

/* A PNG of just a header: 100000 × 100000 RGB, an empty IDAT. */
static void
write_huge_header (const char *path)
{
  uint8_t b[8 + 25 + 12 + 12] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  uint8_t *c = b + 8;
  put32 (c, 13);
  memcpy (c + 4, "IHDR", 4);
  put32 (c + 8, 100000);
  put32 (c + 12, 100000);
  c[16] = 8;
  c[17] = 2;
  put32 (c + 21, crc32_bytes (c + 4, 17));
  c += 25;
  put32 (c, 0);
  memcpy (c + 4, "IDAT", 4);
  put32 (c + 8, crc32_bytes (c + 4, 4));
  c += 12;
  put32 (c, 0);
  memcpy (c + 4, "IEND", 4);
  put32 (c + 8, crc32_bytes (c + 4, 4));
  g_assert_true (g_file_set_contents (path, (const char *) b, sizeof b, NULL));
}

static void
write_prefix (const char *src, const char *dst, double fraction, int flip_at)
{
  char *data;
  gsize n;
  g_assert_true (g_file_get_contents (src, &data, &n, NULL));
  if (flip_at >= 0)
    data[flip_at] ^= 0x55;
  g_assert_true (g_file_set_contents (dst, data, (gssize) (n * fraction), NULL));
  g_free (data);
}

static uint8_t *
pattern (int w, int h, int c, int seed)
{
  uint8_t *p = g_malloc ((size_t) w * h * c);
  for (int i = 0; i < w * h * c; i++)
    p[i] = (uint8_t) ((i * 37 + seed * 101 + (i / (w * c)) * 11) & 0xff);
  return p;
}

static DnImage
u8_image (int w, int h, int c, uint8_t *pixels)
{
  DnImage im = { w, h, c, DN_PIXEL_U8, pixels };
  return im;
}

typedef struct
{
  GPtrArray *ids, *reasons;
} Failures;

static void
on_failure (int64_t index, const char *id, const char *reason, void *p)
{
  Failures *f = p;
  g_ptr_array_add (f->ids, g_strdup (id));
  g_ptr_array_add (f->reasons, g_strdup (reason));
}

static const char *
failure_of (Failures *f, const char *id)
{
  for (guint i = 0; i < f->ids->len; i++)
    if (strcmp (g_ptr_array_index (f->ids, i), id) == 0)
      return g_ptr_array_index (f->reasons, i);
  return NULL;
}

static void
test_folder (void)
{
  char *dir = screen_tmpdir ();
  const char *subs[] = { "cats", "dogs", "bad", "big" };
  for (size_t i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      char *p = g_build_filename (dir, subs[i], NULL);
      g_mkdir (p, 0755);
      g_free (p);
    }
#define P(rel) g_build_filename (dir, rel, NULL)
  char *path;
  /* good files */
  uint8_t *rgb = pattern (40, 30, 3, 1);
  DnImage im = u8_image (40, 30, 3, rgb);
  DN_TEST_OK (dn_image_save_png (&im, path = P ("cats/a.png")));
  g_free (path);
  uint8_t *rgb2 = pattern (64, 48, 3, 2);
  DnImage im2 = u8_image (64, 48, 3, rgb2);
  DN_TEST_OK (dn_image_save_jpeg (&im2, path = P ("cats/b.jpg"), 92));
  g_free (path);
  DN_TEST_OK (dn_image_save_png (&im, path = P ("top.png")));
  g_free (path);
  uint8_t g16[20 * 10 * 2];
  for (int i = 0; i < 200; i++)
    {
      g16[2 * i] = (uint8_t) (i + 3);     /* high byte */
      g16[2 * i + 1] = (uint8_t) (i * 7); /* low byte */
    }
  write_png (path = P ("dogs/gray16.png"), 20, 10, PNG_COLOR_TYPE_GRAY, 16, g16, false, NULL, 0, NULL, 0);
  g_free (path);
  png_color pal[16];
  uint8_t trns[16];
  for (int i = 0; i < 16; i++)
    {
      pal[i] = (png_color){ (png_byte) (i * 16), (png_byte) (255 - i * 9), (png_byte) (i * i) };
      trns[i] = (uint8_t) (i * 17);
    }
  uint8_t idx4[12 * 9 / 2 + 9];
  for (size_t i = 0; i < sizeof idx4; i++)
    idx4[i] = (uint8_t) ((i * 7) & 0xff);
  /* 12 pixels of 4 bits = 6 bytes a row */
  write_png (path = P ("dogs/palette.png"), 12, 9, PNG_COLOR_TYPE_PALETTE, 4, idx4, false, pal, 16, trns, 16);
  g_free (path);
  uint8_t *ga = pattern (25, 17, 2, 3);
  write_png (path = P ("dogs/gray_alpha.png"), 25, 17, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, false, NULL, 0, NULL, 0);
  g_free (path);
  uint8_t *rgba16 = pattern (11, 13, 8, 4);
  write_png (path = P ("dogs/rgba16.png"), 11, 13, PNG_COLOR_TYPE_RGB_ALPHA, 16, rgba16, false, NULL, 0, NULL, 0);
  g_free (path);
  write_png (path = P ("dogs/interlaced.png"), 40, 30, PNG_COLOR_TYPE_RGB, 8, rgb, true, NULL, 0, NULL, 0);
  g_free (path);
  uint8_t bits[3 * 16];
  for (size_t i = 0; i < sizeof bits; i++)
    bits[i] = (uint8_t) (0xA5 ^ i);
  write_png (path = P ("dogs/gray1.png"), 20, 16, PNG_COLOR_TYPE_GRAY, 1, bits, false, NULL, 0, NULL, 0);
  g_free (path);
  uint8_t *big = pattern (3000, 2000, 3, 5);
  DnImage imb = u8_image (3000, 2000, 3, big);
  DN_TEST_OK (dn_image_save_jpeg (&imb, path = P ("big/large.JPEG"), 75));
  g_free (path);
  /* bad files */
  char *a_png = P ("cats/a.png"), *b_jpg = P ("cats/b.jpg");
  g_assert_true (g_file_set_contents (path = P ("bad/zero.png"), "", 0, NULL));
  g_free (path);
  write_prefix (b_jpg, path = P ("bad/truncated.jpg"), 0.6, -1);
  g_free (path);
  write_prefix (a_png, path = P ("bad/truncated.png"), 0.6, -1);
  g_free (path);
  write_prefix (a_png, path = P ("bad/crc.png"), 1.0, 60);
  g_free (path);
  g_assert_true (g_file_set_contents (path = P ("bad/garbage.jpg"), "\xff\xd8\xff\xe0 this is not a JPEG at all", -1, NULL));
  g_free (path);
  g_assert_true (g_file_set_contents (path = P ("bad/text.png"), "hello", -1, NULL));
  g_free (path);
  write_huge_header (path = P ("bad/huge.png"));
  g_free (path);
  g_assert_cmpint (symlink ("/nonexistent/file.jpg", path = P ("bad/dangling.jpg")), ==, 0);
  g_free (path);
  /* ignored: not images, hidden */
  g_assert_true (g_file_set_contents (path = P ("notes.txt"), "x", -1, NULL));
  g_free (path);
  DN_TEST_OK (dn_image_save_png (&im, path = P (".hidden.png")));
  g_free (path);

  DnStatus st;
  DnDataset *ds = dn_dataset_open (dir, NULL, &st);
  g_assert_nonnull (ds);
  const char *want[] = { "bad/crc.png",      "bad/dangling.jpg",   "bad/garbage.jpg",  "bad/huge.png",
                         "bad/text.png",     "bad/truncated.jpg",  "bad/truncated.png", "bad/zero.png",
                         "big/large.JPEG",   "cats/a.png",         "cats/b.jpg",       "dogs/gray1.png",
                         "dogs/gray16.png",  "dogs/gray_alpha.png", "dogs/interlaced.png", "dogs/palette.png",
                         "dogs/rgba16.png",  "top.png" };
  g_assert_cmpint (dn_dataset_count (ds), ==, G_N_ELEMENTS (want));
  g_assert_cmpint (dn_dataset_n_labels (ds), ==, 4);
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    {
      char id[256];
      g_assert_cmpstr (dn_dataset_item_id (ds, (int64_t) i, id, sizeof id), ==, want[i]);
      int label = dn_dataset_item_label (ds, (int64_t) i);
      if (strchr (want[i], '/'))
        g_assert_cmpint (strncmp (dn_dataset_label_name (ds, label), want[i], strlen (dn_dataset_label_name (ds, label))), ==, 0);
      else
        g_assert_cmpint (label, ==, -1);
    }
  g_assert_cmpstr (dn_dataset_label_name (ds, 2), ==, "cats");
  DnDataset *again = dn_dataset_open (dir, NULL, &st);
  g_assert_cmpstr (dn_dataset_hash (ds), ==, dn_dataset_hash (again));
  dn_dataset_free (again);

  /* decoded pixels */
  DnImage d;
  DN_TEST_OK (dn_dataset_load (ds, 12, &d)); /* gray16: the high byte */
  g_assert_cmpint (d.channels, ==, 1);
  for (int i = 0; i < 200; i++)
    g_assert_cmpint (((uint8_t *) d.pixels)[i], ==, g16[2 * i]);
  dn_image_clear (&d);
  DN_TEST_OK (dn_dataset_load (ds, 15, &d)); /* palette: RGB, transparency dropped */
  g_assert_cmpint (d.channels, ==, 3);
  for (int y = 0; y < 9; y++)
    for (int x = 0; x < 12; x++)
      {
        int b = idx4[y * 6 + x / 2], v = x % 2 ? b & 15 : b >> 4;
        const uint8_t *px = (uint8_t *) d.pixels + (y * 12 + x) * 3;
        g_assert_cmpint (px[0], ==, pal[v].red);
        g_assert_cmpint (px[1], ==, pal[v].green);
        g_assert_cmpint (px[2], ==, pal[v].blue);
      }
  dn_image_clear (&d);
  DN_TEST_OK (dn_dataset_load (ds, 13, &d)); /* gray + alpha: gray */
  g_assert_cmpint (d.channels, ==, 1);
  for (int i = 0; i < 25 * 17; i++)
    g_assert_cmpint (((uint8_t *) d.pixels)[i], ==, ga[2 * i]);
  dn_image_clear (&d);
  DN_TEST_OK (dn_dataset_load (ds, 16, &d)); /* RGBA 16: high bytes of R, G, B */
  for (int i = 0; i < 11 * 13; i++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpint (((uint8_t *) d.pixels)[3 * i + c], ==, rgba16[8 * i + 2 * c]);
  dn_image_clear (&d);
  DN_TEST_OK (dn_dataset_load (ds, 14, &d)); /* interlaced = the plain image */
  g_assert_cmpint (memcmp (d.pixels, rgb, 40 * 30 * 3), ==, 0);
  dn_image_clear (&d);
  DN_TEST_OK (dn_dataset_load (ds, 11, &d)); /* 1-bit: 0 or 255 */
  for (int i = 0; i < 20 * 16; i++)
    {
      int x = i % 20, bit = (bits[(i / 20) * 3 + x / 8] >> (7 - x % 8)) & 1;
      g_assert_cmpint (((uint8_t *) d.pixels)[i], ==, bit * 255);
    }
  dn_image_clear (&d);

  /* the same folder with a 1-megapixel limit: the large JPEG is refused, not decoded */
  DnDatasetOptions dopt;
  dn_dataset_options_init (&dopt);
  dopt.max_pixels = 1000000;
  DnDataset *small = dn_dataset_open (dir, &dopt, &st);
  DN_TEST_FAILS (dn_dataset_load (small, 8, &d), DN_ERROR_FORMAT);
  g_assert_nonnull (strstr (dn_last_error (), "too large"));
  dn_dataset_free (small);

  /* screening: the good files are processed, the bad ones reported, skipped and counted */
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  char *out = g_build_filename (dir, "screen.h5", NULL);
  Failures f = { g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free) };
  DnScreenOptions o;
  screen_test_options (&o);
  o.batch = 32;
  o.failure = on_failure;
  o.user = &f;
  o.keep_responses = true;
  DN_TEST_OK (dn_screen_run (twin, ds, out, &o));
  const struct
  {
    const char *id, *reason;
  } bad[] = {
    { "bad/crc.png", "corrupt PNG" },      { "bad/dangling.jpg", "No such file" },
    { "bad/garbage.jpg", "corrupt JPEG" }, { "bad/huge.png", "too large" },
    { "bad/text.png", "neither a PNG" },   { "bad/truncated.jpg", "truncated" },
    { "bad/truncated.png", "PNG" },        { "bad/zero.png", "empty file" },
  };
  g_assert_cmpint (f.ids->len, ==, G_N_ELEMENTS (bad));
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *r = failure_of (&f, bad[i].id);
      if (!r || !strstr (r, bad[i].reason))
        g_error ("%s: reported as '%s', expected a reason with '%s'", bad[i].id, r ? r : "(not reported)", bad[i].reason);
      if (g_test_verbose ())
        g_printerr ("  %-20s %s\n", bad[i].id, r);
    }
  DnScreenResult *r;
  DN_TEST_OK (dn_screen_result_load (out, &r));
  g_assert_cmpint (r->n_failed, ==, 8);
  g_assert_cmpint (r->n_valid, ==, 10);
  /* the failed items appear in no list */
  for (int64_t j = 0; j < (int64_t) r->n_neurons * r->top_k; j++)
    g_assert_true (r->top_index[j] >= 8 || r->top_index[j] == -1);
  DnH5 *h = dn_h5_open (out, false, &st);
  int64_t n;
  double *resp = twin_read (h, "/responses", &n, NULL), *valid = twin_read (h, "/items/valid", NULL, NULL);
  for (int64_t i = 0; i < 18; i++)
    {
      g_assert_cmpint ((int) valid[i], ==, i >= 8);
      g_assert_cmpint (isnan (resp[i * 120]), ==, i < 8);
    }
  free (resp);
  free (valid);
  dn_h5_close (h);
  g_printerr ("# folder of 18 files: 10 screened, 8 bad ones reported and skipped\n");

  dn_screen_result_free (r);
  g_ptr_array_free (f.ids, TRUE);
  g_ptr_array_free (f.reasons, TRUE);
  dn_twin_free (twin);
  dn_dataset_free (ds);
  g_free (out);
  g_free (a_png);
  g_free (b_jpg);
  g_free (rgb);
  g_free (rgb2);
  g_free (ga);
  g_free (rgba16);
  g_free (big);
  screen_rmtree (dir);
  g_free (dir);
#undef P
}

/* Writes a uint8 .npy of @shape by hand (dn_npy_save writes floats only). */
static void
write_npy_u8 (const char *path, const int64_t *shape, int nd, const uint8_t *data, size_t n, size_t keep)
{
  char dict[256];
  int len = snprintf (dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
  for (int i = 0; i < nd; i++)
    len += snprintf (dict + len, sizeof dict - (size_t) len, "%lld, ", (long long) shape[i]);
  len += snprintf (dict + len, sizeof dict - (size_t) len, "), }");
  int total = ((10 + len + 1 + 63) / 64) * 64;
  GString *s = g_string_new_len ("\x93NUMPY\x01\x00", 8);
  uint16_t hl = (uint16_t) (total - 10);
  g_string_append_c (s, (char) (hl & 0xff));
  g_string_append_c (s, (char) (hl >> 8));
  g_string_append (s, dict);
  while (s->len < (gsize) total - 1)
    g_string_append_c (s, ' ');
  g_string_append_c (s, '\n');
  g_string_append_len (s, (const char *) data, (gssize) n);
  g_assert_true (g_file_set_contents (path, s->str, (gssize) (keep ? (size_t) total + keep : s->len), NULL));
  g_string_free (s, TRUE);
}

/* uint8 stacks (.npy channels-last, HDF5 channels-first) give what the same images give as PNG files. */
static void
test_stacks (void)
{
  char *dir = screen_tmpdir ();
  enum { N = 3, H = 37, W = 52 };
  uint8_t hwc[N * H * W * 3], chw[N * 3 * H * W];
  for (int i = 0; i < N; i++)
    {
      uint8_t *p = pattern (W, H, 3, 10 + i);
      memcpy (hwc + (size_t) i * H * W * 3, p, H * W * 3);
      for (int c = 0; c < 3; c++)
        for (int q = 0; q < H * W; q++)
          chw[((size_t) i * 3 + c) * H * W + q] = p[q * 3 + c];
      DnImage im = u8_image (W, H, 3, p);
      char name[32];
      snprintf (name, sizeof name, "img%d.png", i);
      char *path = g_build_filename (dir, "png", NULL);
      g_mkdir (path, 0755);
      g_free (path);
      path = g_build_filename (dir, "png", name, NULL);
      DN_TEST_OK (dn_image_save_png (&im, path));
      g_free (path);
      g_free (p);
    }
  char *npy = g_build_filename (dir, "stack.npy", NULL), *h5 = g_build_filename (dir, "stack.h5", NULL);
  write_npy_u8 (npy, (const int64_t[]){ N, H, W, 3 }, 4, hwc, sizeof hwc, 0);
  DnStatus st;
  DnSh5 *f = dn_sh5_create (h5, &st);
  DN_TEST_OK (dn_sh5_write (f, "/images/u8", DN_SH5_U8, 4, (const int64_t[]){ N, 3, H, W }, chw, true));
  DN_TEST_OK (dn_sh5_close (f));
  char *h5spec = g_strdup_printf ("%s:/images/u8", h5), *pngdir = g_build_filename (dir, "png", NULL);
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  DnPreprocess pp;
  DN_TEST_OK (dn_preprocess_init (&pp, twin, NULL));
  const char *specs[] = { pngdir, npy, h5spec };
  static float x[3][N][93 * 93];
  for (int s = 0; s < 3; s++)
    {
      DnDataset *ds = dn_dataset_open (specs[s], NULL, &st);
      if (!ds)
        g_error ("%s: %s", specs[s], dn_last_error ());
      g_assert_cmpint (dn_dataset_count (ds), ==, N);
      for (int i = 0; i < N; i++)
        {
          DnImage im;
          DN_TEST_OK (dn_dataset_load (ds, i, &im));
          g_assert_cmpint (im.type, ==, DN_PIXEL_U8);
          DN_TEST_OK (dn_preprocess_image (&pp, &im, x[s][i]));
          dn_image_clear (&im);
        }
      dn_dataset_free (ds);
    }
  g_assert_cmpint (memcmp (x[0], x[1], sizeof x[0]), ==, 0);
  g_assert_cmpint (memcmp (x[0], x[2], sizeof x[0]), ==, 0);
  dn_preprocess_clear (&pp);
  dn_twin_free (twin);
  g_free (npy);
  g_free (h5);
  g_free (h5spec);
  g_free (pngdir);
  screen_rmtree (dir);
  g_free (dir);
}

static void
expect_open_fails (const char *spec, DnStatus want)
{
  DnStatus st = DN_OK;
  dn_clear_error ();
  DnDataset *ds = dn_dataset_open (spec, NULL, &st);
  if (ds || st != want)
    g_error ("%s: opened (%d), expected %s", spec, st, dn_status_to_string (want));
  g_assert_cmpstr (dn_last_error (), !=, "");
}

static void
test_bad_specs (void)
{
  char *dir = screen_tmpdir (), *npy = g_build_filename (dir, "t.npy", NULL), *txt = g_build_filename (dir, "t.h5", NULL);
  uint8_t px[2 * 5 * 6];
  memset (px, 7, sizeof px);
  write_npy_u8 (npy, (const int64_t[]){ 2, 5, 6 }, 3, px, sizeof px, 20);
  expect_open_fails (npy, DN_ERROR_FORMAT); /* truncated data */
  write_npy_u8 (npy, (const int64_t[]){ 2, 5, 6, 7 }, 4, px, sizeof px, 0);
  expect_open_fails (npy, DN_ERROR_SHAPE);
  g_assert_true (g_file_set_contents (txt, "not hdf5", -1, NULL));
  char *spec = g_strdup_printf ("%s:/x", txt);
  expect_open_fails (spec, DN_ERROR_FORMAT);
  expect_open_fails ("/nonexistent/folder", DN_ERROR_IO);
  expect_open_fails ("builtin:nothing", DN_ERROR_INVALID_ARGUMENT);
  expect_open_fails ("builtin:gratings:n_ori=0", DN_ERROR_INVALID_ARGUMENT);
  expect_open_fails ("builtin:gratings:wat=3", DN_ERROR_INVALID_ARGUMENT);
  expect_open_fails ("builtin:noise:n=abc", DN_ERROR_INVALID_ARGUMENT);
  DnStatus st;
  DnDataset *ds = dn_dataset_open ("builtin:noise:n=5,size=16,seed=3,alpha=1.5", NULL, &st);
  g_assert_nonnull (ds);
  g_assert_cmpint (dn_dataset_count (ds), ==, 5);
  char id[128];
  g_assert_cmpstr (dn_dataset_item_id (ds, 2, id, sizeof id), ==, "noise/seed=5,alpha=1.5");
  DnImage im;
  DN_TEST_OK (dn_dataset_load (ds, 2, &im));
  g_assert_cmpint (im.width, ==, 16);
  dn_image_clear (&im);
  dn_dataset_free (ds);
  g_free (spec);
  g_free (npy);
  g_free (txt);
  screen_rmtree (dir);
  g_free (dir);
}

/* Mutated copies of the fixture's PNG and JPEG files (flipped bytes, truncations, overwritten headers):
 * each decodes or fails with DN_ERROR_FORMAT, never anything worse (run under ASan in CI). */
static void
test_mutations (void)
{
  char *dir = screen_data_path ("images");
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  uint64_t seed = 12345;
  int decoded = 0, refused = 0;
  while ((name = g_dir_read_name (d)))
    {
      char *path = g_build_filename (dir, name, NULL), *data;
      gsize n;
      g_assert_true (g_file_get_contents (path, &data, &n, NULL));
      for (int k = 0; k < 40; k++)
        {
          uint8_t *m = g_memdup2 (data, n);
          size_t len = n;
          seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
          int kind = (int) (seed >> 60) % 3;
          if (kind == 0) /* a few flipped bytes, mostly in the headers */
            for (int f = 0; f < 4; f++)
              {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t at = (size_t) (seed >> 33) % (f < 2 && n > 400 ? 400 : n);
                m[at] ^= (uint8_t) (1 + (seed >> 20) % 255);
              }
          else if (kind == 1) /* truncated */
            len = (size_t) (seed >> 33) % n;
          else /* a run of garbage */
            {
              size_t at = (size_t) (seed >> 33) % n;
              for (size_t j = at; j < n && j < at + 64; j++)
                m[j] = (uint8_t) (j * 31 + (seed >> 7));
            }
          DnImage im;
          DnStatus st = dn_image_decode (m, len, name, 0, &im);
          g_assert_true (st == DN_OK || st == DN_ERROR_FORMAT);
          if (st == DN_OK)
            {
              g_assert_true (im.pixels && im.width > 0 && im.height > 0);
              decoded++;
            }
          else
            refused++;
          dn_image_clear (&im);
          g_free (m);
        }
      g_free (data);
      g_free (path);
    }
  g_dir_close (d);
  g_free (dir);
  g_printerr ("# mutated files: %d decoded, %d refused, no crash\n", decoded, refused);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen/datasets/folder", test_folder);
  g_test_add_func ("/screen/datasets/stacks", test_stacks);
  g_test_add_func ("/screen/datasets/bad-specs", test_bad_specs);
  g_test_add_func ("/screen/datasets/mutations", test_mutations);
  return dn_test_run ();
}
