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

#include "dn-device.h"
#include "dn-ops.h"

typedef struct
{
  DnDeviceOptions dev;
  const char *backend_name;
} CommonOptions;

static void
usage (FILE *f)
{
  fprintf (f, "usage: dualneuron-cli COMMAND [options]\n"
              "commands:\n"
              "  devices                 list compute devices\n"
              "  selftest                small forward/backward on every backend, backends compared\n"
              "options:\n"
              "  --backend auto|cpu|vulkan   compute backend (default auto: a GPU if present, else CPU)\n"
              "  --device N                  Vulkan device index (see `devices`)\n"
              "  --software                  use the software Vulkan device (lavapipe)\n"
              "  --threads N                 CPU backend threads (default: all cores)\n"
              "  --validation                enable the Vulkan validation layer\n");
}

/* Parses the common options; returns the index of the first unparsed argument or -1 on error. */
static int
parse_common (int argc, char **argv, int i, CommonOptions *o)
{
  dn_device_options_init (&o->dev);
  o->backend_name = "auto";
  for (; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--backend") == 0 && i + 1 < argc)
        {
          o->backend_name = argv[++i];
          if (strcmp (o->backend_name, "cpu") == 0)
            o->dev.backend = DN_BACKEND_CPU;
          else if (strcmp (o->backend_name, "vulkan") == 0)
            o->dev.backend = DN_BACKEND_VULKAN;
          else if (strcmp (o->backend_name, "auto") == 0)
            o->dev.backend = DN_BACKEND_AUTO;
          else
            {
              fprintf (stderr, "dualneuron-cli: unknown backend '%s' (cpu, vulkan or auto)\n", o->backend_name);
              return -1;
            }
        }
      else if (strcmp (a, "--device") == 0 && i + 1 < argc)
        o->dev.device_index = atoi (argv[++i]);
      else if (strcmp (a, "--software") == 0)
        o->dev.prefer_software = true;
      else if (strcmp (a, "--threads") == 0 && i + 1 < argc)
        o->dev.n_threads = atoi (argv[++i]);
      else if (strcmp (a, "--validation") == 0)
        o->dev.validation = true;
      else
        break;
    }
  return i;
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

/* The self-check network: fill/copy round trip through every backend. Once the op families are in,
 * selftest_net runs a conv → GELU → linear forward and backward (see below). */
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
  int64_t n = 3 * 93 * 93;
  float *host = malloc ((size_t) n * sizeof *host);
  DnTensor *a = dn_tensor_new4 (dev, 1, 3, 93, 93, &st);
  DnTensor *b = a ? dn_tensor_new4 (dev, 1, 3, 93, 93, &st) : NULL;
  if (!host || !b)
    goto out;
  for (int64_t i = 0; i < n; i++)
    host[i] = (float) sin ((double) i * 0.01);
  if ((st = dn_tensor_upload (a, host, n)) != DN_OK || (st = dn_tensor_copy (b, a)) != DN_OK
      || (st = dn_tensor_download (b, host, n)) != DN_OK)
    goto out;
  res->checksum = 0;
  for (int64_t i = 0; i < n; i++)
    res->checksum += host[i];
  clock_gettime (CLOCK_MONOTONIC, &t1);
  res->seconds = (double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec);
out:
  dn_tensor_free (a);
  dn_tensor_free (b);
  free (host);
  return st;
}

static int
cmd_selftest (const CommonOptions *o)
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
          bool agree = isnan (ref) || fabs (r.checksum - ref) <= 1e-4 * (fabs (ref) + 1);
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
  CommonOptions o;
  int i = parse_common (argc, argv, 2, &o);
  if (i < 0)
    return 2;
  if (i < argc)
    {
      fprintf (stderr, "dualneuron-cli: unexpected argument '%s'\n", argv[i]);
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "devices") == 0)
    return cmd_devices ();
  if (strcmp (argv[1], "selftest") == 0)
    return cmd_selftest (&o);
  fprintf (stderr, "dualneuron-cli: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}
