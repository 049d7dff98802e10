/* test-screen-gratings.c: builtin:gabor-v1 screened on builtin:gratings (the acceptance test of issue #5):
 * every simple cell's most activating grating has the cell's true orientation within one grid step and
 * its spatial frequency within one step of the grid. The CPU suite screens the full grid (3456 gratings);
 * the Vulkan suite a coarser one (4 phases, full contrast: 576 gratings).
 * SPDX-License-Identifier: MIT
 */
#include "dn-gabor.h"
#include "dn-twin-load.h"
#include "screen-test.h"

static void
test_gratings (void)
{
  bool cpu = dn_device_is_cpu (dn_test_device ());
  const char *spec = cpu ? "builtin:gratings" : "builtin:gratings:n_phase=4,n_contrast=1";
  DnStatus st;
  DnTwin *twin = dn_twin_open (dn_test_device (), "builtin:gabor-v1", &st);
  DnDataset *ds = dn_dataset_open (spec, NULL, &st);
  g_assert_nonnull (twin);
  g_assert_nonnull (ds);
  g_assert_cmpint (dn_dataset_count (ds), ==, cpu ? 16 * 9 * 8 * 3 : 16 * 9 * 4);
  g_assert_true (dn_dataset_is_model_space (ds));
  g_assert_cmpstr (dn_dataset_param_name (ds, 0), ==, "ori_deg");
  g_assert_cmpstr (dn_dataset_param_name (ds, 1), ==, "wavelength_px");

  char *dir = screen_tmpdir (), *out = g_build_filename (dir, "gratings.h5", NULL);
  DnScreenOptions o;
  screen_test_options (&o);
  o.top_k = 5;
  o.batch = 64;
  DN_TEST_OK (dn_screen_run (twin, ds, out, &o));
  DnScreenResult *r;
  DN_TEST_OK (dn_screen_result_load (out, &r));
  g_assert_cmpint (r->n_neurons, ==, 120);
  g_assert_cmpint (r->n_failed, ==, 0);
  g_assert_cmpint (r->n_valid, ==, dn_dataset_count (ds));

  const double ori_step = 180.0 / 16;
  int simple = 0, ori_exact = 0, sf_exact = 0, complex_ok = 0, complex_n = 0;
  for (int k = 0; k < r->n_neurons; k++)
    {
      const DnGaborCell *c = dn_twin_gabor_cell (twin, k);
      int64_t best = r->top_index[(size_t) k * r->top_k];
      g_assert_cmpint (best, >=, 0);
      double p[4];
      dn_dataset_item_params (ds, best, p);
      double dori = fabs (fmod (p[0] - c->orientation_deg + 270.0, 180.0) - 90.0);
      /* the grid index of the top grating's wavelength against the grid index nearest the cell's */
      double j_top = 2 * log2 (p[1] / 4), j_cell = round (2 * log2 (c->wavelength / 4));
      double dsf = fabs (j_top - j_cell);
      bool ok = dori <= ori_step + 1e-9 && dsf <= 1 + 1e-9;
      if (c->type == DN_GABOR_SIMPLE)
        {
          simple++;
          ori_exact += dori < 1e-9;
          sf_exact += dsf < 1e-9;
          if (!ok)
            g_error ("cell %d (ori %.2f°, λ %.1f px): top grating %s has ori %.2f°, λ %.2f px", k, c->orientation_deg,
                     c->wavelength, dn_screen_result_item_id (r, best), p[0], p[1]);
        }
      else
        {
          complex_n++;
          complex_ok += ok;
        }
      /* the top list is sorted */
      for (int j = 1; j < r->top_k; j++)
        g_assert_cmpfloat (r->top_value[(size_t) k * r->top_k + j], <=, r->top_value[(size_t) k * r->top_k + j - 1]);
    }
  g_printerr ("# gratings (%s, %lld items): %d/%d simple cells within one step (orientation exact %d, SF grid step "
              "exact %d); complex cells within one step %d/%d\n",
              spec, (long long) dn_dataset_count (ds), simple, simple, ori_exact, sf_exact, complex_ok, complex_n);
  g_assert_cmpint (simple, ==, 96);
  dn_screen_result_free (r);
  dn_dataset_free (ds);
  dn_twin_free (twin);
  screen_rmtree (dir);
  g_free (dir);
  g_free (out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen/gratings/gabor-v1", test_gratings);
  return dn_test_run ();
}
