/* test-io-torch.c: the PyTorch checkpoint reader against the real and fixture checkpoints, hand-made
 * checkpoints with known values (every dtype, strides, offsets, views, deflate, ZIP64, big-endian), and
 * hostile or corrupt inputs (refused globals, truncation, bit flips, giant lengths, deep nesting).
 *
 * References: the key/shape layout of docs/twins.md §2.1 (V1) and §3.1 (V4), fixtures/checkpoints/
 * manifest.json (formats, archive prefixes, key counts, sizes, md5, which legacy file mirrors which zip
 * member), and values computed here for the crafted files. Missing shared files FAIL the test.
 * No device is needed.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dn-test.h"
#include "io-craft.h"
#include "io/dn-torch.h"

/* ---- helpers ---- */

static DnTorchStateDict *
load_ok (const char *path)
{
  DnTorchStateDict *sd = NULL;
  DN_TEST_OK (dn_torch_load (path, &sd));
  g_assert_nonnull (sd);
  return sd;
}

static DnTorchStateDict *
load_mem_ok (const GByteArray *b, const char *name)
{
  DnTorchStateDict *sd = NULL;
  DN_TEST_OK (dn_torch_load_memory (b->data, b->len, name, &sd));
  return sd;
}

/* Loads a private copy of data[0..len) (so that ASan sees any overread) and asserts failure with a
 * message naming @name. Returns the status. */
static DnStatus
expect_fail (const void *data, size_t len, const char *name)
{
  void *copy = g_malloc (len ? len : 1);
  if (len)
    memcpy (copy, data, len);
  DnTorchStateDict *sd = (DnTorchStateDict *) 0x1;
  dn_clear_error ();
  DnStatus st = dn_torch_load_memory (copy, len, name, &sd);
  g_free (copy);
  if (st == DN_OK)
    g_error ("%s (%zu bytes) loaded, but should have failed", name, len);
  g_assert_null (sd);
  if (!strstr (dn_last_error (), name))
    g_error ("error message does not name the file '%s': %s", name, dn_last_error ());
  return st;
}

/* Loads a copy; failure is fine, but it must be reported properly. Returns true when it loaded. */
static bool
load_any (const void *data, size_t len, const char *name)
{
  void *copy = g_malloc (len ? len : 1);
  if (len)
    memcpy (copy, data, len);
  DnTorchStateDict *sd = NULL;
  dn_clear_error ();
  DnStatus st = dn_torch_load_memory (copy, len, name, &sd);
  g_free (copy);
  if (st == DN_OK)
    {
      g_assert_nonnull (sd);
      /* touch every value */
      for (size_t i = 0; i < dn_torch_state_dict_size (sd); i++)
        {
          const DnTorchTensor *t = dn_torch_state_dict_at (sd, i);
          volatile float acc = 0;
          for (int64_t k = 0; k < t->numel; k++)
            acc += t->data[k];
          (void) acc;
        }
      dn_torch_state_dict_free (sd);
      return true;
    }
  g_assert_null (sd);
  if (!strstr (dn_last_error (), name))
    g_error ("error message does not name the file '%s': %s", name, dn_last_error ());
  return false;
}

typedef struct
{
  char name[160];
  int ndim;
  int64_t shape[4];
} Expect;

static void
add (GArray *a, const char *name, int ndim, int64_t s0, int64_t s1, int64_t s2, int64_t s3)
{
  Expect e = { .ndim = ndim, .shape = { s0, s1, s2, s3 } };
  g_snprintf (e.name, sizeof e.name, "%s", name);
  g_array_append_val (a, e);
}

static void
add_bn (GArray *a, const char *prefix, int64_t c)
{
  static const char *const f[] = { "weight", "bias", "running_mean", "running_var" };
  for (int i = 0; i < 4; i++)
    {
      char *n = g_strdup_printf ("%s.%s", prefix, f[i]);
      add (a, n, 1, c, 0, 0, 0);
      g_free (n);
    }
  char *n = g_strdup_printf ("%s.num_batches_tracked", prefix);
  add (a, n, 0, 0, 0, 0, 0);
  g_free (n);
}

/* twins.md §2.1 */
static GArray *
v1_layout (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Expect));
  const char *p = "core.features.backbone.model.";
  char n[200];
#define P(s) (g_snprintf (n, sizeof n, "%s%s", p, s), n)
  add (a, P ("embeddings.patch_embeddings.weight"), 4, 40, 3, 4, 4);
  add (a, P ("embeddings.patch_embeddings.bias"), 1, 40, 0, 0, 0);
  add (a, P ("embeddings.layernorm.weight"), 1, 40, 0, 0, 0);
  add (a, P ("embeddings.layernorm.bias"), 1, 40, 0, 0, 0);
  for (int j = 0; j < 2; j++)
    {
      char q[120];
#define Q(s) (g_snprintf (q, sizeof q, "encoder.stages.0.layers.%d.%s", j, s), P (q))
      add (a, Q ("dwconv.weight"), 4, 40, 1, 7, 7);
      add (a, Q ("dwconv.bias"), 1, 40, 0, 0, 0);
      add (a, Q ("layernorm.weight"), 1, 40, 0, 0, 0);
      add (a, Q ("layernorm.bias"), 1, 40, 0, 0, 0);
      add (a, Q ("pwconv1.weight"), 2, 160, 40, 0, 0);
      add (a, Q ("pwconv1.bias"), 1, 160, 0, 0, 0);
      add (a, Q ("grn.weight"), 4, 1, 1, 1, 160);
      add (a, Q ("grn.bias"), 4, 1, 1, 1, 160);
      add (a, Q ("pwconv2.weight"), 2, 40, 160, 0, 0);
      add (a, Q ("pwconv2.bias"), 1, 40, 0, 0, 0);
#undef Q
    }
  add (a, P ("encoder.stages.1.downsampling_layer.0.weight"), 1, 40, 0, 0, 0);
  add (a, P ("encoder.stages.1.downsampling_layer.0.bias"), 1, 40, 0, 0, 0);
  add (a, P ("encoder.stages.1.downsampling_layer.1.weight"), 4, 80, 40, 2, 2);
  add (a, P ("encoder.stages.1.downsampling_layer.1.bias"), 1, 80, 0, 0, 0);
#undef P
  add_bn (a, "core.features.OutBatchNorm", 80);
  add (a, "readout.all_sessions._mu", 4, 1, 458, 1, 2);
  add (a, "readout.all_sessions.sigma", 4, 1, 458, 1, 1);
  add (a, "readout.all_sessions._features", 4, 1, 80, 1, 458);
  add (a, "readout.all_sessions.bias", 1, 458, 0, 0, 0);
  return a;
}

static void
add_bottleneck (GArray *a, const char *prefix, int64_t cin, int64_t width, int64_t cout, bool downsample)
{
  char n[200];
  g_snprintf (n, sizeof n, "%s.conv1.weight", prefix);
  add (a, n, 4, width, cin, 1, 1);
  g_snprintf (n, sizeof n, "%s.bn1", prefix);
  add_bn (a, n, width);
  g_snprintf (n, sizeof n, "%s.conv2.weight", prefix);
  add (a, n, 4, width, width, 3, 3);
  g_snprintf (n, sizeof n, "%s.bn2", prefix);
  add_bn (a, n, width);
  g_snprintf (n, sizeof n, "%s.conv3.weight", prefix);
  add (a, n, 4, cout, width, 1, 1);
  g_snprintf (n, sizeof n, "%s.bn3", prefix);
  add_bn (a, n, cout);
  if (downsample)
    {
      g_snprintf (n, sizeof n, "%s.downsample.0.weight", prefix);
      add (a, n, 4, cout, cin, 1, 1);
      g_snprintf (n, sizeof n, "%s.downsample.1", prefix);
      add_bn (a, n, cout);
    }
}

/* twins.md §3.1 */
static GArray *
v4_layout (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Expect));
  const char *p = "core.features.TaskDriven";
  char n[200];
  g_snprintf (n, sizeof n, "%s.conv1.weight", p);
  add (a, n, 4, 64, 3, 7, 7);
  g_snprintf (n, sizeof n, "%s.bn1", p);
  add_bn (a, n, 64);
  for (int b = 0; b < 3; b++)
    {
      g_snprintf (n, sizeof n, "%s.layer1.%d", p, b);
      add_bottleneck (a, n, b == 0 ? 64 : 256, 64, 256, b == 0);
    }
  for (int b = 0; b < 4; b++)
    {
      g_snprintf (n, sizeof n, "%s.layer2.%d", p, b);
      add_bottleneck (a, n, b == 0 ? 256 : 512, 128, 512, b == 0);
    }
  g_snprintf (n, sizeof n, "%s.0", p);
  add_bottleneck (a, n, 512, 256, 1024, true);
  add_bn (a, "core.features.OutBatchNorm", 1024);
  add (a, "readout.all_sessions._mu", 4, 1, 394, 1, 2);
  add (a, "readout.all_sessions.sigma", 4, 1, 394, 1, 1);
  add (a, "readout.all_sessions._features", 4, 1, 1024, 1, 394);
  add (a, "readout.all_sessions.bias", 1, 394, 0, 0, 0);
  return a;
}

/* Keys in file order, shapes, dtypes (float32 except int64 num_batches_tracked, unless @float_dtype),
 * finite values, and lookup by name. */
static void
check_layout (const char *what, const DnTorchStateDict *sd, GArray *want, DnTorchDtype float_dtype)
{
  if (dn_torch_state_dict_size (sd) != want->len)
    g_error ("%s: %zu entries, expected %u", what, dn_torch_state_dict_size (sd), want->len);
  int64_t total = 0;
  for (guint i = 0; i < want->len; i++)
    {
      const Expect *e = &g_array_index (want, Expect, i);
      const DnTorchTensor *t = dn_torch_state_dict_at (sd, i);
      if (strcmp (t->name, e->name) != 0)
        g_error ("%s: entry %u is '%s', expected '%s'", what, i, t->name, e->name);
      g_assert_cmpint (t->ndim, ==, e->ndim);
      int64_t numel = 1;
      for (int d = 0; d < e->ndim; d++)
        {
          if (t->shape[d] != e->shape[d])
            g_error ("%s: %s dim %d is %lld, expected %lld", what, e->name, d, (long long) t->shape[d],
                     (long long) e->shape[d]);
          numel *= e->shape[d];
        }
      g_assert_cmpint (t->numel, ==, numel);
      bool nbt = g_str_has_suffix (e->name, "num_batches_tracked");
      g_assert_cmpint (t->src_dtype, ==, nbt ? DN_TORCH_INT64 : float_dtype);
      g_assert_true (((uintptr_t) t->data & 63) == 0);
      for (int64_t k = 0; k < t->numel; k++)
        if (!isfinite (t->data[k]))
          g_error ("%s: %s[%lld] is not finite", what, e->name, (long long) k);
      g_assert_true (dn_torch_state_dict_get (sd, e->name) == t);
      total += numel;
    }
  g_assert_cmpint (dn_torch_state_dict_numel (sd), ==, total);
  g_assert_null (dn_torch_state_dict_at (sd, want->len));
  g_assert_null (dn_torch_state_dict_get (sd, "no.such.key"));
}

static void
assert_same (const char *what, const DnTorchStateDict *a, const DnTorchStateDict *b)
{
  g_assert_cmpuint (dn_torch_state_dict_size (a), ==, dn_torch_state_dict_size (b));
  for (size_t i = 0; i < dn_torch_state_dict_size (a); i++)
    {
      const DnTorchTensor *x = dn_torch_state_dict_at (a, i), *y = dn_torch_state_dict_at (b, i);
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpint (x->ndim, ==, y->ndim);
      g_assert_true (memcmp (x->shape, y->shape, sizeof x->shape) == 0);
      g_assert_cmpint (x->numel, ==, y->numel);
      if (memcmp (x->data, y->data, (size_t) x->numel * sizeof (float)) != 0)
        g_error ("%s: values of '%s' differ", what, x->name);
    }
}

static const DnTorchTensor *
get (const DnTorchStateDict *sd, const char *name)
{
  const DnTorchTensor *t = dn_torch_state_dict_get (sd, name);
  if (!t)
    g_error ("missing key %s", name);
  return t;
}

/* ---- manifest.json (just enough JSON for its flat file objects) ---- */

typedef struct
{
  char *path, *format, *prefix, *md5, *source;
  int member, n_keys;
  int64_t bytes;
} ManifestFile;

static char *
json_field (const char *obj, const char *key)
{
  char *pat = g_strdup_printf ("\"%s\":", key);
  const char *p = strstr (obj, pat);
  g_free (pat);
  if (!p)
    return NULL;
  p = strchr (p, ':') + 1;
  while (*p == ' ')
    p++;
  if (*p == '"')
    {
      const char *e = strchr (p + 1, '"');
      return g_strndup (p + 1, (gsize) (e - p - 1));
    }
  const char *e = p;
  while (*e && *e != ',' && *e != '\n' && *e != '}')
    e++;
  return g_strndup (p, (gsize) (e - p));
}

static GPtrArray *
read_manifest (void)
{
  char *path = io_shared_path ("fixtures/checkpoints/manifest.json");
  GBytes *bytes = io_read_or_fail (path);
  char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  GPtrArray *files = g_ptr_array_new ();
  const char *p = strstr (text, "\"files\"");
  g_assert_nonnull (p);
  /* walk objects of the files array, skipping braces inside strings */
  int depth = 0;
  const char *start = NULL;
  for (; *p; p++)
    {
      if (*p == '"')
        {
          for (p++; *p && *p != '"'; p++)
            if (*p == '\\')
              p++;
          continue;
        }
      if (*p == '{' && depth++ == 0)
        start = p;
      else if (*p == '}' && --depth == 0)
        {
          char *obj = g_strndup (start, (gsize) (p - start + 1));
          ManifestFile *f = g_new0 (ManifestFile, 1);
          f->path = json_field (obj, "path");
          f->format = json_field (obj, "format");
          f->prefix = json_field (obj, "archive_prefix");
          f->md5 = json_field (obj, "md5");
          f->source = json_field (obj, "source");
          char *s;
          f->member = (s = json_field (obj, "member")) ? atoi (s) : 0;
          g_free (s);
          f->n_keys = (s = json_field (obj, "n_keys")) ? atoi (s) : 0;
          g_free (s);
          f->bytes = (s = json_field (obj, "bytes")) ? g_ascii_strtoll (s, NULL, 10) : 0;
          g_free (s);
          g_assert_nonnull (f->path);
          g_assert_nonnull (f->format);
          g_ptr_array_add (files, f);
          g_free (obj);
        }
      else if (*p == ']' && depth == 0)
        break;
    }
  g_assert_cmpuint (files->len, >=, 10);
  g_free (text);
  g_bytes_unref (bytes);
  g_free (path);
  return files;
}

static void
manifest_free (GPtrArray *files)
{
  for (guint i = 0; i < files->len; i++)
    {
      ManifestFile *f = files->pdata[i];
      g_free (f->path);
      g_free (f->format);
      g_free (f->prefix);
      g_free (f->md5);
      g_free (f->source);
      g_free (f);
    }
  g_ptr_array_free (files, TRUE);
}

/* ---- real checkpoints ---- */

static void
test_v1_members (void)
{
  char *dir = io_shared_path ("dualneuron/V1GrayTaskDriven");
  GArray *want = v1_layout ();
  g_assert_cmpuint (want->len, ==, 37);
  int found = 0;
  GDir *d = g_dir_open (dir, 0, NULL);
  if (!d)
    g_error ("required folder missing: %s", dir);
  const char *entry;
  while ((entry = g_dir_read_name (d)))
    {
      if (!g_str_has_suffix (entry, ".pth.tar"))
        continue;
      char *path = g_build_filename (dir, entry, NULL);
      gint64 t0 = g_get_monotonic_time ();
      DnTorchStateDict *sd = load_ok (path);
      g_test_message ("%s: %.1f ms", entry, (g_get_monotonic_time () - t0) / 1000.0);
      check_layout (path, sd, want, DN_TORCH_FLOAT32);
      g_assert_cmpint (dn_torch_state_dict_format (sd), ==, DN_TORCH_FORMAT_ZIP);
      g_assert_null (dn_torch_state_dict_wrapper_key (sd));
      g_assert_true (g_str_has_suffix (dn_torch_state_dict_archive_prefix (sd), ".pth"));
      /* values in the ranges twins.md §2.1 reports */
      const DnTorchTensor *mu = get (sd, "readout.all_sessions._mu");
      float lo = 1, hi = -1;
      for (int64_t k = 0; k < mu->numel; k++)
        {
          lo = fminf (lo, mu->data[k]);
          hi = fmaxf (hi, mu->data[k]);
        }
      g_assert_cmpfloat (lo, >, -0.5f);
      g_assert_cmpfloat (hi, <, 0.6f);
      g_assert_cmpfloat (hi - lo, >, 0.5f);
      float nbt = get (sd, "core.features.OutBatchNorm.num_batches_tracked")->data[0];
      g_assert_cmpfloat (nbt, >=, 2000);
      g_assert_cmpfloat (nbt, <=, 4000);
      g_assert_cmpfloat (nbt, ==, floorf (nbt));
      const DnTorchTensor *rv = get (sd, "core.features.OutBatchNorm.running_var");
      for (int64_t k = 0; k < rv->numel; k++)
        g_assert_cmpfloat (rv->data[k], >, 0);
      dn_torch_state_dict_free (sd);
      g_free (path);
      found++;
    }
  g_dir_close (d);
  g_assert_cmpint (found, ==, 5);
  g_array_unref (want);
  g_free (dir);
}

static void
test_manifest_files (void)
{
  GPtrArray *files = read_manifest ();
  GArray *v1 = v1_layout (), *v4 = v4_layout ();
  g_assert_cmpuint (v4->len, ==, 177);
  for (guint i = 0; i < files->len; i++)
    {
      ManifestFile *f = files->pdata[i];
      char *rel = g_build_filename ("fixtures/checkpoints", f->path, NULL);
      char *path = io_shared_path (rel);
      GBytes *bytes = io_read_or_fail (path);
      g_assert_cmpint ((int64_t) g_bytes_get_size (bytes), ==, f->bytes);
      char *md5 = g_compute_checksum_for_bytes (G_CHECKSUM_MD5, bytes);
      if (f->md5 && strcmp (md5, f->md5) != 0)
        g_error ("%s: md5 %s, manifest says %s", path, md5, f->md5);
      g_free (md5);

      gint64 t0 = g_get_monotonic_time ();
      DnTorchStateDict *sd = load_ok (path);
      g_test_message ("%s: %.1f ms", f->path, (g_get_monotonic_time () - t0) / 1000.0);
      g_assert_cmpint ((int) dn_torch_state_dict_size (sd), ==, f->n_keys);
      bool legacy = strcmp (f->format, "legacy") == 0;
      g_assert_cmpint (dn_torch_state_dict_format (sd), ==, legacy ? DN_TORCH_FORMAT_LEGACY : DN_TORCH_FORMAT_ZIP);
      if (legacy)
        g_assert_null (dn_torch_state_dict_archive_prefix (sd));
      else
        g_assert_cmpstr (dn_torch_state_dict_archive_prefix (sd), ==, f->prefix);
      bool is_f64 = strstr (f->path, "_f64") != NULL;
      check_layout (path, sd, f->n_keys == 177 ? v4 : v1, is_f64 ? DN_TORCH_FLOAT64 : DN_TORCH_FLOAT32);
      if (f->n_keys == 177)
        {
          /* §10.1: one num_batches_tracked per member, U{20000..59999}, shared by all 29 BNs */
          int n_bn = 0;
          float nbt = -1;
          for (size_t k = 0; k < dn_torch_state_dict_size (sd); k++)
            {
              const DnTorchTensor *t = dn_torch_state_dict_at (sd, k);
              if (!g_str_has_suffix (t->name, "num_batches_tracked"))
                continue;
              if (nbt < 0)
                nbt = t->data[0];
              g_assert_cmpfloat (t->data[0], ==, nbt);
              n_bn++;
            }
          g_assert_cmpint (n_bn, ==, 29);
          g_assert_cmpfloat (nbt, >=, 20000);
          g_assert_cmpfloat (nbt, <=, 59999);
          /* §3.1: 3,381,736 float32 values per member, plus the 29 int64 counters */
          g_assert_cmpint (dn_torch_state_dict_numel (sd), ==, 3381736 + 29);
        }
      if (strstr (f->path, "wrapped"))
        g_assert_cmpstr (dn_torch_state_dict_wrapper_key (sd), ==, "model_state_dict");
      else
        g_assert_null (dn_torch_state_dict_wrapper_key (sd));
      dn_torch_state_dict_free (sd);
      g_bytes_unref (bytes);
      g_free (path);
      g_free (rel);
    }
  g_array_unref (v1);
  g_array_unref (v4);
  manifest_free (files);
}

static void
test_fixture_tree (void)
{
  /* every *.pth.tar under fixtures/checkpoints loads (a file added later is covered too) */
  char *root = io_shared_path ("fixtures/checkpoints");
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (dirs, g_strdup (root));
  int n = 0;
  for (guint i = 0; i < dirs->len; i++)
    {
      GDir *d = g_dir_open (dirs->pdata[i], 0, NULL);
      if (!d)
        g_error ("required folder missing: %s", (char *) dirs->pdata[i]);
      const char *e;
      while ((e = g_dir_read_name (d)))
        {
          char *p = g_build_filename (dirs->pdata[i], e, NULL);
          if (g_file_test (p, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (dirs, p);
          else
            {
              if (g_str_has_suffix (e, ".pth.tar") || g_str_has_suffix (e, ".pth") || g_str_has_suffix (e, ".pt"))
                {
                  DnTorchStateDict *sd = load_ok (p);
                  g_assert_cmpuint (dn_torch_state_dict_size (sd), >, 0);
                  dn_torch_state_dict_free (sd);
                  n++;
                }
              g_free (p);
            }
        }
      g_dir_close (d);
    }
  g_assert_cmpint (n, >=, 10);
  g_ptr_array_unref (dirs);
  g_free (root);
}

static void
test_v1_variants (void)
{
  char *orig_path = io_shared_path ("dualneuron/V1GrayTaskDriven/v1_convnext_1.pth.tar");
  DnTorchStateDict *orig = load_ok (orig_path);
  static const char *const variants[] = { "v1_convnext_1_legacy.pth.tar", "v1_convnext_1_f64.pth.tar",
                                          "v1_convnext_1_wrapped.pth.tar" };
  for (int i = 0; i < 3; i++)
    {
      char *rel = g_build_filename ("fixtures/checkpoints", variants[i], NULL);
      char *path = io_shared_path (rel);
      DnTorchStateDict *v = load_ok (path);
      assert_same (path, orig, v);
      dn_torch_state_dict_free (v);
      g_free (path);
      g_free (rel);
    }
  dn_torch_state_dict_free (orig);
  g_free (orig_path);
}

static void
test_v4_legacy_equals_zip (void)
{
  GPtrArray *files = read_manifest ();
  int pairs = 0;
  for (guint i = 0; i < files->len; i++)
    {
      ManifestFile *l = files->pdata[i];
      if (strcmp (l->format, "legacy") != 0 || l->member == 0)
        continue;
      for (guint j = 0; j < files->len; j++)
        {
          ManifestFile *z = files->pdata[j];
          if (strcmp (z->format, "zip") != 0 || z->member != l->member)
            continue;
          char *rl = g_build_filename ("fixtures/checkpoints", l->path, NULL);
          char *rz = g_build_filename ("fixtures/checkpoints", z->path, NULL);
          char *pl = io_shared_path (rl), *pz = io_shared_path (rz);
          DnTorchStateDict *a = load_ok (pl), *b = load_ok (pz);
          assert_same (pl, a, b);
          dn_torch_state_dict_free (a);
          dn_torch_state_dict_free (b);
          g_free (pl);
          g_free (pz);
          g_free (rl);
          g_free (rz);
          pairs++;
        }
    }
  g_assert_cmpint (pairs, ==, 2);
  manifest_free (files);
}

/* ---- crafted checkpoints with known values ---- */

static float A[24];
static uint16_t H[9] = { 0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00 };
static uint16_t BF[3] = { 0x3f80, 0xc0a0, 0x4049 };
static double D[4] = { 1.5, -1e-3, 1e30, 3.141592653589793 };
static int64_t L64[4] = { 0, -1, 123456789, (int64_t) 1 << 40 };
static int32_t I32[2] = { 7, -8 };
static int16_t I16[2] = { -300, 300 };
static int8_t I8[2] = { -128, 127 };
static uint8_t U8[2] = { 0, 255 };
static uint8_t B8[3] = { 0, 1, 1 };

static const CraftStorage storages[] = {
  { "0", A, sizeof A }, { "1", H, sizeof H },     { "2", BF, sizeof BF }, { "3", D, sizeof D },
  { "4", L64, sizeof L64 }, { "5", I32, sizeof I32 }, { "6", I16, sizeof I16 }, { "7", I8, sizeof I8 },
  { "8", U8, sizeof U8 }, { "9", B8, sizeof B8 },
};
static const size_t storage_elsize[] = { 4, 2, 2, 8, 8, 4, 2, 1, 1, 1 };

#define T1(n, key, type, numel, len) { n, key, type, numel, 0, 1, { len }, { 1 } }
static const CraftTensor tensors[] = {
  { "contig", "0", "FloatStorage", 24, 0, 3, { 2, 3, 4 }, { 12, 4, 1 } },
  { "transposed", "0", "FloatStorage", 24, 0, 2, { 4, 3 }, { 1, 4 } },
  { "offset", "0", "FloatStorage", 24, 7, 1, { 5 }, { 2 } },
  { "bcast", "0", "FloatStorage", 24, 4, 2, { 3, 4 }, { 0, 1 } },
  { "scalar", "0", "FloatStorage", 24, 23, 0, { 0 }, { 0 } },
  { "empty", "0", "FloatStorage", 24, 0, 2, { 0, 5 }, { 5, 1 } },
  { "param", "0", "FloatStorage", 24, 0, 1, { 24 }, { 1 }, .parameter = true },
  T1 ("half", "1", "HalfStorage", 9, 9),
  T1 ("bf16", "2", "BFloat16Storage", 3, 3),
  T1 ("f64", "3", "DoubleStorage", 4, 4),
  T1 ("i64", "4", "LongStorage", 4, 4),
  T1 ("i32", "5", "IntStorage", 2, 2),
  T1 ("i16", "6", "ShortStorage", 2, 2),
  T1 ("i8", "7", "CharStorage", 2, 2),
  T1 ("u8", "8", "ByteStorage", 2, 2),
  T1 ("bool", "9", "BoolStorage", 3, 3),
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])
#define N_STORAGES (sizeof storages / sizeof storages[0])

static void
init_values (void)
{
  for (int i = 0; i < 24; i++)
    A[i] = (float) i * 0.5f - 3.0f;
}

static void
check_values (const char *what, const float *got, const float *want, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      bool same = (isnan (want[i]) && isnan (got[i])) || (got[i] == want[i] && signbit (got[i]) == signbit (want[i]));
      if (!same)
        g_error ("%s[%lld] = %.9g, expected %.9g", what, (long long) i, got[i], want[i]);
    }
}

static void
check_crafted (const char *what, const DnTorchStateDict *sd)
{
  g_assert_cmpuint (dn_torch_state_dict_size (sd), ==, N_TENSORS);
  for (size_t i = 0; i < N_TENSORS; i++)
    g_assert_cmpstr (dn_torch_state_dict_at (sd, i)->name, ==, tensors[i].name);
  float w[32];
  const DnTorchTensor *t = get (sd, "contig");
  g_assert_cmpint (t->ndim, ==, 3);
  g_assert_cmpint (t->shape[0], ==, 2);
  g_assert_cmpint (t->shape[2], ==, 4);
  check_values ("contig", t->data, A, 24);
  t = get (sd, "transposed");
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      w[i * 3 + j] = A[i + 4 * j];
  check_values ("transposed", t->data, w, 12);
  t = get (sd, "offset");
  for (int i = 0; i < 5; i++)
    w[i] = A[7 + 2 * i];
  check_values ("offset", t->data, w, 5);
  t = get (sd, "bcast");
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      w[i * 4 + j] = A[4 + j];
  check_values ("bcast", t->data, w, 12);
  t = get (sd, "scalar");
  g_assert_cmpint (t->ndim, ==, 0);
  g_assert_cmpint (t->numel, ==, 1);
  g_assert_cmpfloat (t->data[0], ==, A[23]);
  t = get (sd, "empty");
  g_assert_cmpint (t->numel, ==, 0);
  g_assert_cmpint (t->shape[1], ==, 5);
  t = get (sd, "param");
  check_values ("param", t->data, A, 24);
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_FLOAT32);

  const float half_want[9] = { 1.0f, -2.5f, 65504.0f, ldexpf (1, -24), ldexpf (1023, -24), -0.0f, INFINITY,
                               -INFINITY, NAN };
  t = get (sd, "half");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_FLOAT16);
  check_values ("half", t->data, half_want, 9);
  const float bf_want[3] = { 1.0f, -5.0f, 3.140625f };
  t = get (sd, "bf16");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_BFLOAT16);
  check_values ("bf16", t->data, bf_want, 3);
  const float d_want[4] = { (float) D[0], (float) D[1], (float) D[2], (float) D[3] };
  t = get (sd, "f64");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_FLOAT64);
  check_values ("f64", t->data, d_want, 4);
  const float l_want[4] = { 0, -1, (float) 123456789, (float) ((int64_t) 1 << 40) };
  t = get (sd, "i64");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_INT64);
  check_values ("i64", t->data, l_want, 4);
  const float i32_want[2] = { 7, -8 }, i16_want[2] = { -300, 300 }, i8_want[2] = { -128, 127 },
              u8_want[2] = { 0, 255 }, b_want[3] = { 0, 1, 1 };
  t = get (sd, "i32");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_INT32);
  check_values ("i32", t->data, i32_want, 2);
  t = get (sd, "i16");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_INT16);
  check_values ("i16", t->data, i16_want, 2);
  t = get (sd, "i8");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_INT8);
  check_values ("i8", t->data, i8_want, 2);
  t = get (sd, "u8");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_UINT8);
  check_values ("u8", t->data, u8_want, 2);
  t = get (sd, "bool");
  g_assert_cmpint (t->src_dtype, ==, DN_TORCH_BOOL);
  check_values ("bool", t->data, b_want, 3);
  g_test_message ("%s: ok", what);
}

static GByteArray *
crafted_zip (bool deflate, bool zip64, const char *wrapper)
{
  GByteArray *pkl = craft_state_dict_pickle (tensors, N_TENSORS, false, wrapper);
  GByteArray *z = craft_torch_zip ("crafted", pkl, storages, N_STORAGES, deflate, zip64, NULL);
  g_byte_array_unref (pkl);
  return z;
}

static GByteArray *
crafted_legacy (void)
{
  GByteArray *pkl = craft_state_dict_pickle (tensors, N_TENSORS, true, NULL);
  GByteArray *b = craft_torch_legacy (pkl, storages, storage_elsize, N_STORAGES);
  g_byte_array_unref (pkl);
  return b;
}

static void
test_crafted_formats (void)
{
  init_values ();
  for (int v = 0; v < 4; v++)
    {
      bool deflate = v & 1, zip64 = v & 2;
      GByteArray *z = crafted_zip (deflate, zip64, NULL);
      char *name = g_strdup_printf ("crafted-%s%s.pth", deflate ? "deflate" : "stored", zip64 ? "-zip64" : "");
      DnTorchStateDict *sd = load_mem_ok (z, name);
      check_crafted (name, sd);
      g_assert_cmpstr (dn_torch_state_dict_archive_prefix (sd), ==, "crafted");
      dn_torch_state_dict_free (sd);
      g_free (name);
      g_byte_array_unref (z);
    }
  GByteArray *l = crafted_legacy ();
  DnTorchStateDict *sd = load_mem_ok (l, "crafted-legacy.pth");
  check_crafted ("legacy", sd);
  g_assert_cmpint (dn_torch_state_dict_format (sd), ==, DN_TORCH_FORMAT_LEGACY);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (l);

  /* wrapped under "state_dict" */
  GByteArray *w = crafted_zip (false, false, "state_dict");
  sd = load_mem_ok (w, "crafted-wrapped.pth");
  check_crafted ("wrapped", sd);
  g_assert_cmpstr (dn_torch_state_dict_wrapper_key (sd), ==, "state_dict");
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (w);

  /* and the same bytes through a file */
  char *dir = g_dir_make_tmp ("dn-io-XXXXXX", NULL);
  char *path = g_build_filename (dir, "crafted.pth", NULL);
  GByteArray *z = crafted_zip (true, false, NULL);
  g_assert_true (g_file_set_contents (path, (const char *) z->data, z->len, NULL));
  sd = load_ok (path);
  check_crafted (path, sd);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (z);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_crafted_legacy_views (void)
{
  init_values ();
  /* two tensors on views of one root storage, as pre-1.6 torch saved slices of a shared storage */
  CraftTensor t[2] = {
    { "v1", "root", "FloatStorage", 24, 2, 1, { 3 }, { 2 }, .view_key = "view_a", .view_offset = 8, .view_numel = 8 },
    { "v2", "root", "FloatStorage", 24, 0, 2, { 2, 2 }, { 1, 2 },
      .view_key = "view_b", .view_offset = 20, .view_numel = 4 },
  };
  CraftStorage s[1] = { { "root", A, sizeof A } };
  size_t es[1] = { 4 };
  GByteArray *pkl = craft_state_dict_pickle (t, 2, true, NULL);
  GByteArray *b = craft_torch_legacy (pkl, s, es, 1);
  DnTorchStateDict *sd = load_mem_ok (b, "views.pth");
  const float w1[3] = { A[10], A[12], A[14] }, w2[4] = { A[20], A[22], A[21], A[23] };
  check_values ("v1", get (sd, "v1")->data, w1, 3);
  check_values ("v2", get (sd, "v2")->data, w2, 4);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (b);
  g_byte_array_unref (pkl);

  /* a view reaching past its root, and a tensor past its view */
  t[0].view_offset = 20;
  pkl = craft_state_dict_pickle (t, 1, true, NULL);
  b = craft_torch_legacy (pkl, s, es, 1);
  g_assert_cmpint (expect_fail (b->data, b->len, "badview.pth"), ==, DN_ERROR_FORMAT);
  g_assert_nonnull (strstr (dn_last_error (), "outside"));
  g_byte_array_unref (b);
  g_byte_array_unref (pkl);
  t[0].view_offset = 8;
  t[0].shape[0] = 4; /* 2 + 2*3 = 8: one past the 8-element view */
  pkl = craft_state_dict_pickle (t, 1, true, NULL);
  b = craft_torch_legacy (pkl, s, es, 1);
  g_assert_cmpint (expect_fail (b->data, b->len, "pastview.pth"), ==, DN_ERROR_FORMAT);
  g_byte_array_unref (b);
  g_byte_array_unref (pkl);
}

static void
test_crafted_big_endian (void)
{
  /* torch >= 2.1 writes a byteorder record; "big" means every storage is big-endian */
  const float f[3] = { 1.0f, -2.0f, 0.15625f };
  uint8_t fbe[12];
  for (int i = 0; i < 3; i++)
    {
      uint32_t u;
      memcpy (&u, &f[i], 4);
      for (int k = 0; k < 4; k++)
        fbe[i * 4 + k] = (uint8_t) (u >> (24 - 8 * k));
    }
  const uint8_t hbe[4] = { 0x3c, 0x00, 0xc1, 0x00 }; /* 1.0, -2.5 */
  CraftStorage s[2] = { { "0", fbe, 12 }, { "1", hbe, 4 } };
  CraftTensor t[2] = { { "f", "0", "FloatStorage", 3, 0, 1, { 3 }, { 1 } },
                       { "h", "1", "HalfStorage", 2, 0, 1, { 2 }, { 1 } } };
  GByteArray *pkl = craft_state_dict_pickle (t, 2, false, NULL);
  GByteArray *z = craft_torch_zip ("be", pkl, s, 2, false, false, "big");
  DnTorchStateDict *sd = load_mem_ok (z, "big-endian.pth");
  check_values ("f", get (sd, "f")->data, f, 3);
  const float hw[2] = { 1.0f, -2.5f };
  check_values ("h", get (sd, "h")->data, hw, 2);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (z);
  z = craft_torch_zip ("be", pkl, s, 2, false, false, "middle");
  g_assert_cmpint (expect_fail (z->data, z->len, "byteorder.pth"), ==, DN_ERROR_FORMAT);
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
}

static void
test_crafted_v3_and_duplicates (void)
{
  /* _rebuild_tensor_v3: an untyped storage read as float16 (offset and size in float16 elements);
   * a key set twice keeps its first position and its last value, as in a Python dict */
  const uint16_t h[4] = { 0x3c00, 0xc100, 0x4000, 0x7bff }; /* 1, -2.5, 2, 65504 */
  GByteArray *b = g_byte_array_new ();
  pk_proto (b);
  pk_global (b, "collections", "OrderedDict");
  pk_op (b, ')');
  pk_op (b, 'R');
  pk_op (b, '(');
  const char *keys[3] = { "x", "y", "x" };
  const int64_t offs[3] = { 1, 0, 2 };
  for (int i = 0; i < 3; i++)
    {
      pk_str (b, keys[i]);
      pk_global (b, "torch._utils", "_rebuild_tensor_v3");
      pk_op (b, '(');
      pk_op (b, '(');
      pk_str (b, "storage");
      pk_global (b, "torch", "UntypedStorage");
      pk_str (b, "0");
      pk_str (b, "cpu");
      pk_int (b, 8);
      pk_op (b, 't');
      pk_op (b, 'Q');
      pk_int (b, offs[i]);
      pk_op (b, 'K');
      pk_op (b, 2);
      pk_op (b, 0x85);
      pk_op (b, 'K');
      pk_op (b, 1);
      pk_op (b, 0x85);
      pk_op (b, 0x89);
      pk_global (b, "collections", "OrderedDict");
      pk_op (b, ')');
      pk_op (b, 'R');
      pk_global (b, "torch", "float16");
      pk_op (b, 't');
      pk_op (b, 'R');
    }
  pk_op (b, 'u');
  pk_op (b, '.');
  CraftStorage s = { "0", h, sizeof h };
  GByteArray *z = craft_torch_zip ("v3", b, &s, 1, false, false, NULL);
  DnTorchStateDict *sd = load_mem_ok (z, "v3.pth");
  g_assert_cmpuint (dn_torch_state_dict_size (sd), ==, 2);
  g_assert_cmpstr (dn_torch_state_dict_at (sd, 0)->name, ==, "x");
  g_assert_cmpstr (dn_torch_state_dict_at (sd, 1)->name, ==, "y");
  const float xw[2] = { 2.0f, 65504.0f }, yw[2] = { 1.0f, -2.5f };
  g_assert_cmpint (get (sd, "x")->src_dtype, ==, DN_TORCH_FLOAT16);
  check_values ("x", get (sd, "x")->data, xw, 2);
  check_values ("y", get (sd, "y")->data, yw, 2);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (z);
  g_byte_array_unref (b);
}

/* ---- hostile inputs ---- */

static GByteArray *
bytes_of (const char *s, size_t n)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) s, (guint) n);
  return b;
}

/* legacy container around @obj (a complete pickle) */
static GByteArray *
legacy_with (GByteArray *obj)
{
  return craft_torch_legacy (obj, NULL, NULL, 0);
}

static GByteArray *
zip_with (GByteArray *obj)
{
  return craft_torch_zip ("archive", obj, NULL, 0, false, false, NULL);
}

static void
expect_refused (GByteArray *pickle, const char *name, const char *global)
{
  GByteArray *l = legacy_with (pickle), *z = zip_with (pickle);
  GByteArray *forms[3] = { pickle, l, z };
  for (int i = 0; i < 3; i++)
    {
      char *n = g_strdup_printf ("%s.%s", name, i == 0 ? "raw" : i == 1 ? "legacy" : "zip");
      DnStatus st = expect_fail (forms[i]->data, forms[i]->len, n);
      if (global)
        {
          g_assert_cmpint (st, ==, DN_ERROR_FORMAT);
          if (!strstr (dn_last_error (), global) || !strstr (dn_last_error (), "refusing"))
            g_error ("%s: message does not name the refused global %s: %s", n, global, dn_last_error ());
        }
      g_free (n);
    }
  g_byte_array_unref (l);
  g_byte_array_unref (z);
}

static void
test_refused_globals (void)
{
  /* os.system("touch ...") */
  GByteArray *b = g_byte_array_new ();
  pk_proto (b);
  pk_global (b, "os", "system");
  pk_str (b, "touch /tmp/dn-io-pwned");
  pk_op (b, 0x85);
  pk_op (b, 'R');
  pk_op (b, '.');
  expect_refused (b, "os-system", "os.system");
  g_byte_array_unref (b);

  /* builtins.eval through STACK_GLOBAL (protocol 4) */
  static const char stack_global[] = "\x80\x04\x8c\x08" "builtins" "\x94\x8c\x04" "eval" "\x94\x93\x94";
  b = bytes_of (stack_global, sizeof stack_global - 1);
  pk_str (b, "__import__('os').system('id')");
  pk_op (b, 0x85);
  pk_op (b, 'R');
  pk_op (b, '.');
  expect_refused (b, "builtins-eval", "builtins.eval");
  g_byte_array_unref (b);

  /* refused globals hidden inside an otherwise valid state dict */
  static const char *const evil[][2] = {
    { "subprocess", "Popen" }, { "posix", "system" }, { "__builtin__", "eval" }, { "torch", "load" },
    { "torch._utils", "_rebuild_device_tensor_from_numpy" }, { "torch.nn.modules.conv", "Conv2d" },
    { "collections", "defaultdict" }, { "numpy.core.multiarray", "scalar" }, { "os", "FloatStorage" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (evil); i++)
    {
      b = g_byte_array_new ();
      pk_proto (b);
      pk_global (b, "collections", "OrderedDict");
      pk_op (b, ')');
      pk_op (b, 'R');
      pk_str (b, "layer.weight");
      pk_global (b, evil[i][0], evil[i][1]);
      pk_op (b, ')');
      pk_op (b, 'R');
      pk_op (b, 's');
      pk_op (b, '.');
      char *g = g_strdup_printf ("%s.%s", evil[i][0], evil[i][1]);
      expect_refused (b, "evil", g);
      g_free (g);
      g_byte_array_unref (b);
    }

  /* object-construction opcodes are refused outright */
  static const char inst[] = "\x80\x02(ios\nsystem\nX\x02\x00\x00\x00id.";
  b = bytes_of (inst, sizeof inst - 1);
  expect_refused (b, "inst", NULL);
  g_assert_nonnull (strstr (dn_last_error (), "refused"));
  g_byte_array_unref (b);
  static const char newobj[] = "\x80\x02\x63\x63ollections\nOrderedDict\n)\x81.";
  b = bytes_of (newobj, sizeof newobj - 1);
  expect_refused (b, "newobj", NULL);
  g_byte_array_unref (b);
  /* REDUCE on something that is not an allowed global */
  static const char red[] = "\x80\x02X\x02\x00\x00\x00id)R.";
  b = bytes_of (red, sizeof red - 1);
  expect_refused (b, "reduce-str", NULL);
  g_byte_array_unref (b);
  g_assert_false (g_file_test ("/tmp/dn-io-pwned", G_FILE_TEST_EXISTS));
}

static void
test_giant_lengths (void)
{
  static const struct
  {
    const char *name;
    const char *bytes;
    size_t len;
  } cases[] = {
#define C(n, s) { n, s, sizeof s - 1 }
    C ("binunicode", "\x80\x02X\xf0\xff\xff\xff" "abc."),
    C ("binunicode8", "\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x80" "abc."),
    C ("binbytes8", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff" "abc."),
    C ("binstring-neg", "\x80\x02T\xff\xff\xff\xff" "abc."),
    C ("long4", "\x80\x02\x8b\xff\xff\xff\x7f" "abc."),
    C ("long4-neg", "\x80\x02\x8b\xff\xff\xff\xff" "abc."),
    C ("long-binput", "\x80\x02N" "r\xff\xff\xff\xff."),
    C ("long-binget", "\x80\x02j\xff\xff\xff\xff."),
    C ("frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff" "N."),
    C ("global-noline", "\x80\x02" "cos"),
    C ("empty-stop", "\x80\x02."),
    C ("mark-stop", "\x80\x02(."),
    C ("appends-nomark", "\x80\x02]N" "e."),
    C ("setitem-list", "\x80\x02]NN" "s."),
    C ("build-list", "\x80\x02]}b."),
    C ("proto-99", "\x80\x63N."),
    C ("bad-opcode", "\x80\x02\xff."),
    C ("persid-nohook-type", "\x80\x02NQ."),
    C ("garbage", "hello world, not a checkpoint"),
    C ("empty", ""),
    C ("zip-eocd-only",
       "PK\x03\x04" "PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\xf0\xff\xff\xff\x00\x00\x00\x00\x00\x00"),
#undef C
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *n = g_strdup_printf ("giant-%s.pth", cases[i].name);
      expect_fail (cases[i].bytes, cases[i].len, n);
      g_test_message ("%s: %s", n, dn_last_error ());
      g_free (n);
    }

  init_values ();
  /* storage numel of 2^62 */
  CraftTensor t = { "w", "0", "FloatStorage", (int64_t) 1 << 62, 0, 1, { 4 }, { 1 } };
  CraftStorage s = { "0", A, 16 };
  size_t es = 4;
  GByteArray *pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  GByteArray *z = craft_torch_zip ("a", pkl, &s, 1, false, false, NULL);
  expect_fail (z->data, z->len, "numel-zip.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  pkl = craft_state_dict_pickle (&t, 1, true, NULL);
  z = craft_torch_legacy (pkl, &s, &es, 1);
  expect_fail (z->data, z->len, "numel-legacy.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);

  /* a broadcast tensor of 2^20 x 2^20 elements on a 4-element storage: implausible output size */
  t = (CraftTensor){ "w", "0", "FloatStorage", 4, 0, 2, { (int64_t) 1 << 20, (int64_t) 1 << 20 }, { 0, 0 } };
  pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", pkl, &s, 1, false, false, NULL);
  expect_fail (z->data, z->len, "broadcast.pth");
  g_assert_nonnull (strstr (dn_last_error (), "implausibl"));
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  /* 2^31 x 2^31 x 4 with stride 0: the product overflows int64 */
  t = (CraftTensor){ "w", "0", "FloatStorage", 4, 0, 3, { (int64_t) 1 << 31, (int64_t) 1 << 31, 4 }, { 0, 0, 1 } };
  pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", pkl, &s, 1, false, false, NULL);
  expect_fail (z->data, z->len, "overflow.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  /* a tensor one element past its storage, a negative stride, a missing storage entry */
  t = (CraftTensor){ "w", "0", "FloatStorage", 4, 1, 1, { 4 }, { 1 } };
  pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", pkl, &s, 1, false, false, NULL);
  expect_fail (z->data, z->len, "past-end.pth");
  g_assert_nonnull (strstr (dn_last_error (), "'w'"));
  g_byte_array_unref (z);
  z = craft_torch_zip ("a", pkl, NULL, 0, false, false, NULL);
  expect_fail (z->data, z->len, "no-storage.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  t = (CraftTensor){ "w", "0", "FloatStorage", 4, 3, 1, { 4 }, { -1 } };
  pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", pkl, &s, 1, false, false, NULL);
  expect_fail (z->data, z->len, "neg-stride.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  /* the legacy element count disagrees with the storage */
  t = (CraftTensor){ "w", "0", "FloatStorage", 4, 0, 1, { 4 }, { 1 } };
  pkl = craft_state_dict_pickle (&t, 1, true, NULL);
  z = craft_torch_legacy (pkl, &s, &es, 1);
  z->data[z->len - 16 - 8] ^= 0x40;
  expect_fail (z->data, z->len, "count.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
  /* a zip entry claiming a giant deflated size */
  pkl = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", pkl, &s, 1, true, false, NULL);
  guint8 *cd = NULL;
  for (guint k = 0; k + 4 <= z->len; k++)
    if (memcmp (z->data + k, "PK\x01\x02", 4) == 0)
      {
        cd = z->data + k;
        break;
      }
  g_assert_nonnull (cd);
  memcpy (cd + 24, "\xff\xff\xff\x7f", 4); /* usize of data.pkl */
  expect_fail (z->data, z->len, "zip-bomb.pth");
  g_byte_array_unref (z);
  g_byte_array_unref (pkl);
}

static void
test_deep_nesting (void)
{
  const size_t n = 200000;
  GByteArray *b = g_byte_array_new ();
  pk_proto (b);
  for (size_t i = 0; i < n; i++)
    pk_op (b, '(');
  pk_op (b, '.');
  expect_refused (b, "marks.pth", NULL);
  g_assert_nonnull (strstr (dn_last_error (), "MARK"));
  g_byte_array_unref (b);

  b = g_byte_array_new ();
  pk_proto (b);
  for (size_t i = 0; i < 2 * n; i++)
    pk_op (b, ']');
  for (size_t i = 0; i < 2 * n - 1; i++)
    pk_op (b, 'a');
  pk_op (b, '.');
  expect_refused (b, "lists.pth", NULL);
  g_byte_array_unref (b);

  b = g_byte_array_new ();
  pk_proto (b);
  pk_op (b, 'N');
  for (size_t i = 0; i < n; i++)
    pk_op (b, 0x85);
  pk_op (b, '.');
  expect_refused (b, "tuples.pth", NULL);
  g_byte_array_unref (b);

  b = g_byte_array_new ();
  pk_proto (b);
  for (size_t i = 0; i < 3 * 1024 * 1024; i++)
    pk_op (b, 'N');
  pk_op (b, '.');
  expect_refused (b, "stack.pth", NULL);
  g_assert_nonnull (strstr (dn_last_error (), "stack"));
  g_byte_array_unref (b);

  /* a dict that contains itself, a list that contains itself */
  static const char selfdict[] = "\x80\x02}q\x00X\x0a\x00\x00\x00state_dicth\x00s.";
  b = bytes_of (selfdict, sizeof selfdict - 1);
  expect_refused (b, "selfdict.pth", NULL);
  g_byte_array_unref (b);
  static const char selflist[] = "\x80\x02]q\x00h\x00" "a.";
  b = bytes_of (selflist, sizeof selflist - 1);
  expect_refused (b, "selflist.pth", NULL);
  g_byte_array_unref (b);
}

static void
test_truncation (void)
{
  init_values ();
  /* every prefix of small crafted checkpoints */
  GByteArray *forms[3] = { crafted_zip (false, false, NULL), crafted_zip (true, true, NULL), crafted_legacy () };
  for (int f = 0; f < 3; f++)
    {
      g_assert_true (load_any (forms[f]->data, forms[f]->len, "full.pth"));
      for (guint len = 0; len < forms[f]->len; len++)
        expect_fail (forms[f]->data, len, "prefix.pth");
      g_byte_array_unref (forms[f]);
    }
  /* a sample of prefixes of real checkpoints (zip and legacy) */
  static const char *const real[] = { "dualneuron/V1GrayTaskDriven/v1_convnext_2.pth.tar",
                                      "fixtures/checkpoints/v1_convnext_1_legacy.pth.tar" };
  GRand *r = g_rand_new_with_seed (11);
  for (int f = 0; f < 2; f++)
    {
      char *path = io_shared_path (real[f]);
      GBytes *bytes = io_read_or_fail (path);
      gsize size;
      const uint8_t *d = g_bytes_get_data (bytes, &size);
      for (int k = 0; k < 300; k++)
        {
          /* short prefixes, the last bytes, and random lengths */
          gsize len = k < 64    ? (gsize) k * 97 % size
                      : k < 128 ? size - 1 - (gsize) (k - 64)
                                : (gsize) g_rand_int_range (r, 0, (gint32) size);
          expect_fail (d, len, path);
        }
      g_bytes_unref (bytes);
      g_free (path);
    }
  g_rand_free (r);
}

static void
test_bit_flips (void)
{
  init_values ();
  GRand *r = g_rand_new_with_seed (12);
  GByteArray *forms[2] = { crafted_zip (true, false, NULL), crafted_legacy () };
  int loaded = 0, failed = 0;
  for (int f = 0; f < 2; f++)
    {
      GByteArray *b = forms[f];
      for (guint pos = 0; pos < b->len; pos++)
        {
          uint8_t mask = (uint8_t) (1u << g_rand_int_range (r, 0, 8));
          b->data[pos] ^= mask;
          if (load_any (b->data, b->len, "flipped.pth"))
            loaded++;
          else
            failed++;
          b->data[pos] ^= mask;
        }
      g_byte_array_unref (b);
    }
  /* the zip's CRCs catch every flip inside an entry; the legacy file's raw data has no checksum */
  g_test_message ("crafted bit flips: %d loaded, %d refused", loaded, failed);
  g_assert_cmpint (failed, >, 0);

  static const char *const real[] = { "dualneuron/V1GrayTaskDriven/v1_convnext_3.pth.tar",
                                      "fixtures/checkpoints/v1_convnext_1_legacy.pth.tar" };
  for (int f = 0; f < 2; f++)
    {
      char *path = io_shared_path (real[f]);
      GBytes *bytes = io_read_or_fail (path);
      gsize size;
      const uint8_t *d = g_bytes_get_data (bytes, &size);
      uint8_t *copy = g_memdup2 (d, size);
      for (int k = 0; k < 200; k++)
        {
          /* half of the flips land in the first 16 KiB (the pickle of the legacy file) */
          gsize pos = k % 2 ? (gsize) g_rand_int_range (r, 0, 16384) : (gsize) g_rand_int_range (r, 0, (gint32) size);
          uint8_t mask = (uint8_t) (1u << g_rand_int_range (r, 0, 8));
          copy[pos] ^= mask;
          bool ok = load_any (copy, size, path);
          if (f == 0 && ok)
            {
              /* a flip the zip format cannot see: only the unchecked parts of headers */
            }
          copy[pos] ^= mask;
        }
      g_free (copy);
      g_bytes_unref (bytes);
      g_free (path);
    }
  g_rand_free (r);
}

static void
test_unsupported_and_io (void)
{
  DnTorchStateDict *sd = (DnTorchStateDict *) 0x1;
  DN_TEST_FAILS (dn_torch_load ("/nonexistent/dir/model.pth", &sd), DN_ERROR_IO);
  g_assert_null (sd);
  g_assert_nonnull (strstr (dn_last_error (), "/nonexistent/dir/model.pth"));
  DN_TEST_FAILS (dn_torch_load ("/", &sd), DN_ERROR_IO);
  DN_TEST_FAILS (dn_torch_load_memory ("x", 1, "x", NULL), DN_ERROR_INVALID_ARGUMENT);

  /* TorchScript archives and old tar checkpoints are recognised */
  CraftZipEntry ts[2] = { { "m/constants.pkl", "\x80\x02)." , 4, false }, { "m/data.pkl", "\x80\x02}.", 4, false } };
  GByteArray *z = craft_zip (ts, 2, false);
  g_assert_cmpint (expect_fail (z->data, z->len, "script.pt"), ==, DN_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (dn_last_error (), "TorchScript"));
  g_byte_array_unref (z);
  uint8_t tar[1024] = { 0 };
  memcpy (tar, "storages", 8);
  memcpy (tar + 257, "ustar", 5);
  g_assert_cmpint (expect_fail (tar, sizeof tar, "old.tar"), ==, DN_ERROR_UNSUPPORTED);
  /* a zip that is not a checkpoint, a pickled module */
  CraftZipEntry other[1] = { { "readme.txt", "hi", 2, false } };
  z = craft_zip (other, 1, false);
  expect_fail (z->data, z->len, "other.zip");
  g_byte_array_unref (z);
  GByteArray *b = g_byte_array_new ();
  pk_proto (b);
  pk_op (b, '(');
  pk_str (b, "module");
  pk_global (b, "torch", "FloatStorage"); /* any allowed global as a placeholder class */
  pk_str (b, "src.py");
  pk_str (b, "class M: pass");
  pk_op (b, 't');
  pk_op (b, 'Q');
  pk_op (b, '.');
  GByteArray *l = legacy_with (b);
  g_assert_cmpint (expect_fail (l->data, l->len, "module.pth"), ==, DN_ERROR_UNSUPPORTED);
  g_byte_array_unref (l);
  g_byte_array_unref (b);
  /* complex tensors are valid but unsupported */
  CraftTensor t = { "c", "0", "ComplexFloatStorage", 2, 0, 1, { 2 }, { 1 } };
  CraftStorage s = { "0", A, 16 };
  b = craft_state_dict_pickle (&t, 1, false, NULL);
  z = craft_torch_zip ("a", b, &s, 1, false, false, NULL);
  g_assert_cmpint (expect_fail (z->data, z->len, "complex.pth"), ==, DN_ERROR_UNSUPPORTED);
  g_byte_array_unref (z);
  g_byte_array_unref (b);
  /* a dict with a non-tensor value and no wrapper key */
  b = g_byte_array_new ();
  pk_proto (b);
  pk_op (b, '}');
  pk_str (b, "epoch");
  pk_int (b, 3);
  pk_op (b, 's');
  pk_op (b, '.');
  z = zip_with (b);
  expect_fail (z->data, z->len, "nodict.pth");
  g_assert_nonnull (strstr (dn_last_error (), "state_dict"));
  g_byte_array_unref (z);
  g_byte_array_unref (b);
  /* an empty state dict is valid */
  b = g_byte_array_new ();
  pk_proto (b);
  pk_op (b, '}');
  pk_op (b, '.');
  z = zip_with (b);
  sd = load_mem_ok (z, "empty-sd.pth");
  g_assert_cmpuint (dn_torch_state_dict_size (sd), ==, 0);
  dn_torch_state_dict_free (sd);
  g_byte_array_unref (z);
  g_byte_array_unref (b);
  dn_torch_state_dict_free (NULL);
  g_assert_cmpstr (dn_torch_dtype_name (DN_TORCH_BFLOAT16), ==, "bfloat16");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/io/torch/v1-members", test_v1_members);
  g_test_add_func ("/io/torch/manifest-files", test_manifest_files);
  g_test_add_func ("/io/torch/fixture-tree", test_fixture_tree);
  g_test_add_func ("/io/torch/v1-variants", test_v1_variants);
  g_test_add_func ("/io/torch/v4-legacy-equals-zip", test_v4_legacy_equals_zip);
  g_test_add_func ("/io/torch/crafted-formats", test_crafted_formats);
  g_test_add_func ("/io/torch/crafted-legacy-views", test_crafted_legacy_views);
  g_test_add_func ("/io/torch/crafted-big-endian", test_crafted_big_endian);
  g_test_add_func ("/io/torch/crafted-v3-and-duplicates", test_crafted_v3_and_duplicates);
  g_test_add_func ("/io/torch/hostile/refused-globals", test_refused_globals);
  g_test_add_func ("/io/torch/hostile/giant-lengths", test_giant_lengths);
  g_test_add_func ("/io/torch/hostile/deep-nesting", test_deep_nesting);
  g_test_add_func ("/io/torch/hostile/truncation", test_truncation);
  g_test_add_func ("/io/torch/hostile/bit-flips", test_bit_flips);
  g_test_add_func ("/io/torch/unsupported-and-io", test_unsupported_and_io);
  /* no device is used: plain g_test_run (dn_test_run would only free the unused test device) */
  return g_test_run ();
}
