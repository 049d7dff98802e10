/* dualneuron-cli.c: the batch front end of DualNeuron.
 *
 *   dualneuron-cli devices                 list the compute devices (CPU + every Vulkan device)
 *   dualneuron-cli selftest [--backend B]  run a small forward/backward on each backend and compare the
 *                                          backends with each other
 * Options common to compute commands: --backend auto|cpu|vulkan, --device N (Vulkan device index, see
 * `devices`), --software (choose the software Vulkan device, lavapipe), --threads N.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dn-cli.h"
#include "dn-device.h"
#include "dn-ops.h"
#include "dn-twin-load.h"

static void
usage (FILE *f)
{
  fprintf (f, "usage: dualneuron-cli COMMAND [options]\n"
              "commands:\n"
              "  devices                 list compute devices\n"
              "  selftest                the built-in twin forward + input gradient on every device, compared\n"
              "  info MODEL              neurons, members, parameters, input, layers\n"
              "  predict --model MODEL --input IN --output OUT.npy [--members 1,3] [--trained-positions] [--batch N]\n"
              "  gradient --model MODEL --input IN --neuron K --output OUT.npy\n"
              "  import FOLDER OUT.h5    a DualNeuron twins/<Model>/ folder into one twin bundle\n"
              "  screen --model MODEL --dataset DATASET --output OUT.h5 [--top K] [--keep-responses] [--batch N]\n"
              "         [--shard i/N]   most/least activating items + population statistics per neuron\n"
              "  synth --model MODEL --neurons 0-9,100 --seeds 5 --output OUT.h5 …  most/least exciting inputs (synth --help)\n"
              "  stats SCREEN.h5         the per-neuron table of a screening\n"
              "  merge OUT.h5 SHARD.h5…  combine the shard files of a screening\n"
              "MODEL: builtin:gabor-v1, a twin bundle (.h5), a checkpoint, or a folder of checkpoints\n"
              "IN: a .npy float32 (N,C,H,W) in model-input space, or an HDF5 dataset FILE.h5:/path\n"
              "options:\n"
              "  --backend auto|cpu|vulkan   compute backend (default auto: a GPU if present, else CPU)\n"
              "  --device N                  Vulkan device index (see `devices`)\n"
              "  --software                  use the software Vulkan device (lavapipe)\n"
              "  --threads N                 CPU backend threads (default: all cores)\n"
              "  --validation                enable the Vulkan validation layer\n");
}

void
dn_cli_common_init (CliCommon *c)
{
  dn_device_options_init (&c->dev);
}

int
dn_cli_parse_common (int argc, char **argv, int i, CliCommon *c)
{
  const char *a = argv[i];
  bool has = i + 1 < argc;
  if (strcmp (a, "--backend") == 0 && has)
    {
      const char *b = argv[i + 1];
      if (strcmp (b, "cpu") == 0)
        c->dev.backend = DN_BACKEND_CPU;
      else if (strcmp (b, "vulkan") == 0)
        c->dev.backend = DN_BACKEND_VULKAN;
      else if (strcmp (b, "auto") == 0)
        c->dev.backend = DN_BACKEND_AUTO;
      else
        {
          fprintf (stderr, "dualneuron-cli: unknown backend '%s' (cpu, vulkan or auto)\n", b);
          return -1;
        }
      return i + 2;
    }
  if (strcmp (a, "--device") == 0 && has)
    {
      c->dev.device_index = atoi (argv[i + 1]);
      return i + 2;
    }
  if (strcmp (a, "--threads") == 0 && has)
    {
      c->dev.n_threads = atoi (argv[i + 1]);
      return i + 2;
    }
  if (strcmp (a, "--software") == 0)
    {
      c->dev.prefer_software = true;
      return i + 1;
    }
  if (strcmp (a, "--validation") == 0)
    {
      c->dev.validation = true;
      return i + 1;
    }
  return i;
}

DnDevice *
dn_cli_device (const CliCommon *c)
{
  DnStatus st;
  DnDevice *dev = dn_device_new (&c->dev, &st);
  if (!dev)
    dn_cli_fail ("opening the compute device");
  return dev;
}

int
dn_cli_fail (const char *what)
{
  fprintf (stderr, "dualneuron-cli: %s: %s\n", what, dn_last_error ());
  return 1;
}

static int
cmd_devices (void)
{
  DnDeviceInfo infos[32];
  int n = dn_device_enumerate (infos, 32);
  printf ("%-6s %-8s %-10s %-12s %s\n", "index", "backend", "kind", "memory", "name");
  for (int i = 0; i < n && i < 32; i++)
    {
      char idx[16];
      snprintf (idx, sizeof idx, infos[i].index < 0 ? "cpu" : "%d", infos[i].index);
      const char *kind = infos[i].backend == DN_BACKEND_CPU ? "cpu"
                         : infos[i].is_software            ? "software"
                         : infos[i].is_discrete            ? "discrete"
                                                           : "gpu";
      printf ("%-6s %-8s %-10s %8.1f GiB %s\n", idx, infos[i].backend == DN_BACKEND_CPU ? "cpu" : "vulkan", kind,
              (double) infos[i].memory_bytes / (1 << 30), infos[i].name);
    }
  if (n == 1)
    printf ("(no Vulkan device: install a GPU driver, or mesa-vulkan-drivers for the software device)\n");
  return 0;
}

/* The self-check: the built-in twin's forward and input gradient on a fixed image, on one device. The
 * checksums of all devices must agree. */
typedef struct
{
  double checksum;
  double seconds;
} SelftestResult;

static DnStatus
selftest_run (DnDevice *dev, SelftestResult *res)
{
  DnStatus st = DN_OK;
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  enum { N = 2, P = 93 * 93, K = 120 };
  float *x = malloc (N * P * sizeof *x), *g = malloc (N * P * sizeof *g), *dout = calloc (N * K, sizeof *dout);
  float r[N * K];
  DnTwin *twin = dn_twin_open (dev, "builtin:gabor-v1", &st);
  DnTensor *tx = NULL, *tg = NULL, *tr = NULL, *td = NULL;
  if (!twin || !x || !g || !dout)
    goto out;
  for (int i = 0; i < N * P; i++)
    x[i] = (float) (0.1 * sin ((double) i * 0.37) + 0.05 * cos ((double) i * 0.011));
  dout[7] = 1;
  dout[K + 100] = 1;
  if (!(tx = dn_tensor_new4 (dev, N, 1, 93, 93, &st)) || !(tg = dn_tensor_new4 (dev, N, 1, 93, 93, &st))
      || !(tr = dn_tensor_new2 (dev, N, K, &st)) || !(td = dn_tensor_new2 (dev, N, K, &st)))
    goto out;
  if ((st = dn_tensor_upload (tx, x, N * P)) || (st = dn_tensor_upload (td, dout, N * K))
      || (st = dn_twin_forward_backward (twin, tr, tg, tx, td)) || (st = dn_tensor_download (tr, r, N * K))
      || (st = dn_tensor_download (tg, g, N * P)))
    goto out;
  res->checksum = 0;
  for (int i = 0; i < N * K; i++)
    res->checksum += r[i];
  for (int i = 0; i < N * P; i++)
    res->checksum += 1e3 * fabs (g[i]);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  res->seconds = (double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec);
out:
  dn_tensor_free (tx);
  dn_tensor_free (tg);
  dn_tensor_free (tr);
  dn_tensor_free (td);
  dn_twin_free (twin);
  free (x);
  free (g);
  free (dout);
  return st;
}

static int
cmd_selftest (const CliCommon *o)
{
  DnDeviceInfo infos[32];
  int n = dn_device_enumerate (infos, 32);
  int failures = 0;
  double ref = NAN;
  for (int i = 0; i < n && i < 32; i++)
    {
      DnDeviceOptions opts = o->dev;
      opts.backend = infos[i].backend;
      opts.device_index = infos[i].index;
      if (o->dev.backend != DN_BACKEND_AUTO && o->dev.backend != opts.backend)
        continue;
      DnStatus st;
      DnDevice *dev = dn_device_new (&opts, &st);
      if (!dev)
        {
          printf ("FAIL  %-40s cannot open: %s\n", infos[i].name, dn_last_error ());
          failures++;
          continue;
        }
      SelftestResult r = { 0 };
      st = selftest_run (dev, &r);
      if (st == DN_OK && dn_device_validation_messages (dev) > 0)
        {
          st = DN_ERROR_VULKAN;
          dn_set_error (st, "%d validation messages", dn_device_validation_messages (dev));
        }
      if (st != DN_OK)
        {
          printf ("FAIL  %-40s %s\n", dn_device_info (dev)->name, dn_last_error ());
          failures++;
        }
      else
        {
          bool agree = isnan (ref) || fabs (r.checksum - ref) <= 1e-5 * (fabs (ref) + 1);
          if (isnan (ref))
            ref = r.checksum;
          printf ("%s  %-40s checksum %.6f  %.3f s\n", agree ? "ok  " : "FAIL", dn_device_info (dev)->name,
                  r.checksum, r.seconds);
          failures += !agree;
        }
      dn_device_free (dev);
    }
  printf (failures ? "selftest: %d failure(s)\n" : "selftest: all backends agree\n", failures);
  return failures ? 1 : 0;
}

int
main (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  const char *cmd = argv[1];
  if (strcmp (cmd, "info") == 0)
    return dn_cli_info (argc, argv);
  if (strcmp (cmd, "predict") == 0)
    return dn_cli_predict (argc, argv);
  if (strcmp (cmd, "gradient") == 0)
    return dn_cli_gradient (argc, argv);
  if (strcmp (cmd, "import") == 0)
    return dn_cli_import (argc, argv);
  if (strcmp (cmd, "screen") == 0)
    return dn_cli_screen (argc, argv);
  if (strcmp (cmd, "synth") == 0)
    return dn_cli_synth (argc, argv);
  if (strcmp (cmd, "stats") == 0)
    return dn_cli_stats (argc, argv);
  if (strcmp (cmd, "merge") == 0)
    return dn_cli_merge (argc, argv);
  CliCommon o;
  dn_cli_common_init (&o);
  int i = 2;
  while (i < argc)
    {
      int j = dn_cli_parse_common (argc, argv, i, &o);
      if (j < 0)
        return 2;
      if (j == i)
        {
          fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", argv[i]);
          usage (stderr);
          return 2;
        }
      i = j;
    }
  if (strcmp (cmd, "devices") == 0)
    return cmd_devices ();
  if (strcmp (cmd, "selftest") == 0)
    return cmd_selftest (&o);
  fprintf (stderr, "dualneuron-cli: unknown command '%s'\n", cmd);
  usage (stderr);
  return 2;
}
