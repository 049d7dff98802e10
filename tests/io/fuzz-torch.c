/* fuzz-torch.c: mutation fuzzing of the checkpoint and .npy readers (the `io-fuzz` test).
 *
 * Seeds: the smallest real checkpoints (V1 member 1 in the zip format and its legacy twin), the V1
 * checkpoint's data.pkl re-packed into a fresh zip after each mutation (valid CRCs, so the mutations
 * reach the pickle VM instead of stopping at the CRC check), a small hand-made state dict (zip with
 * deflate and a wrapper, and legacy with a storage view; cheap, so many mutants), and the shared .npy
 * files. Mutations,
 * from a fixed seed: bit flips, random bytes, "interesting" integers (0, 0xff.., 0x7f.., 0x80..),
 * truncation, insertion, deletion and duplication of ranges. Every mutant lives in its own heap block
 * of exactly its size (so AddressSanitizer sees any overread) and every call must return - DN_OK, or an
 * error whose message names the input. Run time stays well under a minute (prints it).
 * DN_FUZZ_SCALE=N multiplies the number of mutants (default 1: 10,000 checkpoints + 4,500 .npy).
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-test.h"
#include "io-craft.h"
#include "io/dn-npy.h"
#include "io/dn-torch.h"
#include "io/dn-zip.h"

static GRand *rng;

static guint32
rnd (guint32 n)
{
  return n ? g_rand_int_range (rng, 0, (gint32) n) : 0;
}

/* one random mutation of @src into a new exact-size block */
static uint8_t *
mutate (const uint8_t *src, size_t size, size_t *out_size, size_t hot)
{
  GByteArray *b = g_byte_array_sized_new ((guint) size + 64);
  g_byte_array_append (b, src, (guint) size);
  int n_ops = 1 + (int) rnd (3);
  for (int op = 0; op < n_ops; op++)
    {
      size_t len = b->len;
      /* most mutations hit the first @hot bytes (headers and pickles), the rest anywhere */
      size_t pos = len == 0 ? 0 : (hot && rnd (4) != 0) ? rnd ((guint32) MIN (hot, len)) : rnd ((guint32) len);
      switch (rnd (8))
        {
        case 0: /* bit flips */
          for (int k = 0, m = 1 + (int) rnd (8); k < m && len; k++)
            b->data[(pos + rnd (64)) % len] ^= (uint8_t) (1u << rnd (8));
          break;
        case 1: /* random bytes */
          for (int k = 0, m = 1 + (int) rnd (4); k < m && pos + k < len; k++)
            b->data[pos + k] = (uint8_t) rnd (256);
          break;
        case 2: /* interesting integers */
          {
            static const uint8_t vals[][8] = {
              { 0, 0, 0, 0, 0, 0, 0, 0 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
              { 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0 }, { 0, 0, 0, 0x80, 0, 0, 0, 0 },
              { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, { 0x01, 0, 0, 0, 0, 0, 0, 0 },
            };
            size_t w = (size_t) 1 << rnd (4);
            const uint8_t *v = vals[rnd (G_N_ELEMENTS (vals))];
            for (size_t k = 0; k < w && pos + k < len; k++)
              b->data[pos + k] = v[k];
            break;
          }
        case 3: /* truncation */
          g_byte_array_set_size (b, (guint) pos);
          break;
        case 4: /* insertion of random bytes */
          {
            uint8_t ins[32];
            guint m = 1 + rnd (sizeof ins);
            for (guint k = 0; k < m; k++)
              ins[k] = (uint8_t) rnd (256);
            g_array_insert_vals ((GArray *) b, (guint) pos, ins, m);
            break;
          }
        case 5: /* deletion */
          {
            guint r = 1 + rnd (64), m = MIN ((guint) (len - pos), r);
            if (m)
              g_byte_array_remove_range (b, (guint) pos, m);
            break;
          }
        case 6: /* duplicate a range */
          {
            guint r = 1 + rnd (128), m = MIN ((guint) (len - pos), r);
            if (m)
              {
                uint8_t *tmp = g_memdup2 (b->data + pos, m);
                g_array_insert_vals ((GArray *) b, (guint) rnd ((guint32) len), tmp, m);
                g_free (tmp);
              }
            break;
          }
        default: /* overwrite one byte with a pickle opcode */
          {
            static const char ops[] = "().0123GJKMNQRTUXabcdehjlqrsu}])"
                                      "\x80\x85\x86\x87\x88\x89\x8a\x8b\x8c\x93\x94\x95";
            if (pos < len)
              b->data[pos] = (uint8_t) ops[rnd (sizeof ops - 1)];
            break;
          }
        }
    }
  *out_size = b->len;
  uint8_t *out = g_malloc (b->len ? b->len : 1);
  memcpy (out, b->data, b->len);
  g_byte_array_unref (b);
  return out;
}

typedef struct
{
  int ok, failed;
} Tally;

static void
run_torch (const uint8_t *data, size_t size, const char *name, Tally *t)
{
  DnTorchStateDict *sd = NULL;
  dn_clear_error ();
  DnStatus st = dn_torch_load_memory (data, size, name, &sd);
  if (st == DN_OK)
    {
      g_assert_nonnull (sd);
      for (size_t i = 0; i < dn_torch_state_dict_size (sd); i++)
        {
          const DnTorchTensor *x = dn_torch_state_dict_at (sd, i);
          volatile float acc = 0;
          for (int64_t k = 0; k < x->numel; k++)
            acc += x->data[k];
          (void) acc;
        }
      dn_torch_state_dict_free (sd);
      t->ok++;
      return;
    }
  g_assert_null (sd);
  if (!strstr (dn_last_error (), name))
    g_error ("%s: message does not name the input: %s", name, dn_last_error ());
  t->failed++;
}

static void
run_npy (const uint8_t *data, size_t size, const char *name, Tally *t)
{
  DnNpyArray *a = NULL;
  dn_clear_error ();
  DnStatus st = dn_npy_load_memory (data, size, name, t->ok % 2 ? DN_NPY_FLOAT64 : DN_NPY_FLOAT32, &a);
  if (st == DN_OK)
    {
      g_assert_nonnull (a);
      dn_npy_array_free (a);
      t->ok++;
      return;
    }
  g_assert_null (a);
  if (!strstr (dn_last_error (), name))
    g_error ("%s: message does not name the input: %s", name, dn_last_error ());
  t->failed++;
}

/* a zip checkpoint taken apart once, to be re-packed around mutated data.pkl bytes */
typedef struct
{
  DnZip *zip;
  CraftZipEntry *entries;
  void **owned;
  size_t n, pkl_index;
} Seed;

static void
seed_open (Seed *s, const uint8_t *zip_bytes, size_t zip_size)
{
  memset (s, 0, sizeof *s);
  DN_TEST_OK (dn_zip_open (zip_bytes, zip_size, "seed", &s->zip));
  s->n = dn_zip_n_entries (s->zip);
  s->entries = g_new0 (CraftZipEntry, s->n);
  s->owned = g_new0 (void *, s->n);
  s->pkl_index = s->n;
  for (size_t i = 0; i < s->n; i++)
    {
      const DnZipEntry *ze = dn_zip_entry (s->zip, i);
      const uint8_t *bytes;
      DN_TEST_OK (dn_zip_read (s->zip, ze, ze->usize, &bytes, &s->owned[i]));
      s->entries[i] = (CraftZipEntry){ ze->name, bytes, (size_t) ze->usize, false, true, ze->crc32 };
      if (g_str_has_suffix (ze->name, "/data.pkl"))
        s->pkl_index = i;
    }
  g_assert_cmpuint (s->pkl_index, <, s->n);
}

static void
seed_close (Seed *s)
{
  for (size_t i = 0; i < s->n; i++)
    g_free (s->owned[i]);
  g_free (s->owned);
  g_free (s->entries);
  dn_zip_free (s->zip);
}

static GByteArray *
seed_repack (Seed *s, const uint8_t *pkl, size_t pkl_size)
{
  CraftZipEntry keep = s->entries[s->pkl_index];
  s->entries[s->pkl_index] = (CraftZipEntry){ keep.name, pkl, pkl_size, false };
  GByteArray *out = craft_zip (s->entries, s->n, false);
  s->entries[s->pkl_index] = keep;
  return out;
}

/* a small hand-made state dict: several dtypes, a transposed view, a parameter, a scalar */
static GByteArray *
crafted_seed (bool legacy)
{
  static float f[24];
  static const uint16_t h[4] = { 0x3c00, 0xc100, 0x0001, 0x7c00 };
  static const int64_t l[1] = { 2500 };
  for (int i = 0; i < 24; i++)
    f[i] = (float) i - 7.5f;
  const CraftTensor t[5] = {
    { "a.weight", "0", "FloatStorage", 24, 0, 3, { 2, 3, 4 }, { 12, 4, 1 }, .parameter = true },
    { "a.t", "0", "FloatStorage", 24, 0, 2, { 4, 3 }, { 1, 4 } },
    { "a.off", "0", "FloatStorage", 24, 5, 1, { 6 }, { 3 }, .view_key = "v", .view_offset = 0, .view_numel = 24 },
    { "b.half", "1", "HalfStorage", 4, 0, 1, { 4 }, { 1 } },
    { "b.num_batches_tracked", "2", "LongStorage", 1, 0, 0, { 0 }, { 0 } },
  };
  const CraftStorage st[3] = { { "0", f, sizeof f }, { "1", h, sizeof h }, { "2", l, sizeof l } };
  const size_t es[3] = { 4, 2, 8 };
  GByteArray *pkl = craft_state_dict_pickle (t, 5, legacy, legacy ? NULL : "state_dict");
  GByteArray *out = legacy ? craft_torch_legacy (pkl, st, es, 3)
                           : craft_torch_zip ("archive", pkl, st, 3, true, false, NULL);
  g_byte_array_unref (pkl);
  return out;
}

static void
test_fuzz (void)
{
  int scale = 1;
  const char *env = g_getenv ("DN_FUZZ_SCALE");
  if (env)
    scale = MAX (1, atoi (env));
  rng = g_rand_new_with_seed (20240611);
  gint64 t0 = g_get_monotonic_time ();

  char *zip_path = io_shared_path ("dualneuron/V1GrayTaskDriven/v1_convnext_1.pth.tar");
  char *leg_path = io_shared_path ("fixtures/checkpoints/v1_convnext_1_legacy.pth.tar");
  GBytes *zip = io_read_or_fail (zip_path), *leg = io_read_or_fail (leg_path);
  gsize zsize, lsize;
  const uint8_t *zd = g_bytes_get_data (zip, &zsize), *ld = g_bytes_get_data (leg, &lsize);
  Seed seed;
  seed_open (&seed, zd, zsize);
  const uint8_t *pkl = seed.entries[seed.pkl_index].data;
  size_t pkl_size = seed.entries[seed.pkl_index].size;
  GByteArray *cz = crafted_seed (false), *cl = crafted_seed (true);

  /* the seeds load */
  Tally seeds = { 0 };
  run_torch (zd, zsize, zip_path, &seeds);
  run_torch (ld, lsize, leg_path, &seeds);
  run_torch (cz->data, cz->len, "crafted-zip", &seeds);
  run_torch (cl->data, cl->len, "crafted-legacy", &seeds);
  g_assert_cmpint (seeds.ok, ==, 4);

  Tally tz = { 0 }, tl = { 0 }, tp = { 0 }, tc = { 0 }, tn = { 0 };
  const int n_zip = 1500 * scale, n_leg = 2500 * scale, n_pkl = 1500 * scale, n_crafted = 2500 * scale,
            n_npy = 1500 * scale;
  for (int i = 0; i < n_zip; i++)
    {
      size_t size;
      /* zip: the interesting parts are the local headers (anywhere) and the central directory (end) */
      uint8_t *m = mutate (zd, zsize, &size, 0);
      if (rnd (2))
        {
          g_free (m);
          /* mutate the tail (central directory + end record) */
          size_t tail = MIN (zsize, (size_t) 6000);
          size_t ms;
          uint8_t *t = mutate (zd + zsize - tail, tail, &ms, 0);
          size = zsize - tail + ms;
          m = g_malloc (size);
          memcpy (m, zd, zsize - tail);
          memcpy (m + zsize - tail, t, ms);
          g_free (t);
        }
      run_torch (m, size, "fuzz-zip.pth", &tz);
      g_free (m);
    }
  gint64 t_zip = g_get_monotonic_time ();
  for (int i = 0; i < n_leg; i++)
    {
      size_t size;
      uint8_t *m = mutate (ld, lsize, &size, 20000); /* the pickles take the first ~16 KiB */
      run_torch (m, size, "fuzz-legacy.pth", &tl);
      g_free (m);
    }
  gint64 t_leg = g_get_monotonic_time ();
  for (int i = 0; i < n_pkl; i++)
    {
      size_t size;
      uint8_t *m = mutate (pkl, pkl_size, &size, 0);
      GByteArray *z = seed_repack (&seed, m, size);
      uint8_t *exact = g_memdup2 (z->data, z->len);
      run_torch (exact, z->len, "fuzz-pickle.pth", &tp);
      g_free (exact);
      g_byte_array_unref (z);
      g_free (m);
    }
  for (int i = 0; i < 2 * n_crafted; i++)
    {
      size_t size;
      GByteArray *c = i % 2 ? cl : cz;
      uint8_t *m = mutate (c->data, c->len, &size, 0);
      run_torch (m, size, i % 2 ? "fuzz-crafted-legacy.pth" : "fuzz-crafted-zip.pth", &tc);
      g_free (m);
    }
  gint64 t_pkl = g_get_monotonic_time ();
  static const char *const npys[] = { "dualneuron/V1GrayTaskDriven/mask.npy",
                                      "dualneuron/V1GrayTaskDriven/correlations.npy",
                                      "dualneuron/priors/natural_gray.npy" };
  for (size_t f = 0; f < G_N_ELEMENTS (npys); f++)
    {
      char *p = io_shared_path (npys[f]);
      GBytes *nb = io_read_or_fail (p);
      gsize ns;
      const uint8_t *nd = g_bytes_get_data (nb, &ns);
      for (int i = 0; i < n_npy; i++)
        {
          size_t size;
          uint8_t *m = mutate (nd, ns, &size, 128);
          run_npy (m, size, "fuzz.npy", &tn);
          g_free (m);
        }
      g_bytes_unref (nb);
      g_free (p);
    }

  double secs = (g_get_monotonic_time () - t0) / 1e6;
  int n_ckpt = n_zip + n_leg + n_pkl + 2 * n_crafted;
  printf ("# io-fuzz: %d checkpoint + %d npy mutants in %.1f s (real zip %.1f s, real legacy %.1f s, "
          "re-packed pickle + crafted %.1f s, npy %.1f s)\n", n_ckpt, 3 * n_npy, secs, (t_zip - t0) / 1e6,
          (t_leg - t_zip) / 1e6, (t_pkl - t_leg) / 1e6, (g_get_monotonic_time () - t_pkl) / 1e6);
  printf ("# loaded/refused: zip %d/%d, legacy %d/%d, pickle %d/%d, crafted %d/%d, npy %d/%d\n", tz.ok, tz.failed,
          tl.ok, tl.failed, tp.ok, tp.failed, tc.ok, tc.failed, tn.ok, tn.failed);
  g_assert_cmpint (tz.ok + tz.failed + tl.ok + tl.failed + tp.ok + tp.failed + tc.ok + tc.failed, >=, 10000);
  g_assert_cmpint (tc.failed, >, 0);
  /* the mutations must actually reach the parsers' error paths */
  g_assert_cmpint (tz.failed, >, 0);
  g_assert_cmpint (tl.failed, >, 0);
  g_assert_cmpint (tp.failed, >, 0);
  g_assert_cmpint (tn.failed, >, 0);

  seed_close (&seed);
  g_byte_array_unref (cz);
  g_byte_array_unref (cl);
  g_bytes_unref (zip);
  g_bytes_unref (leg);
  g_free (zip_path);
  g_free (leg_path);
  g_rand_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/io/fuzz/torch-and-npy", test_fuzz);
  return g_test_run ();
}
