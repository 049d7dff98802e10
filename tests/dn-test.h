/* dn-test.h: what every engine test shares.
 *
 * The backend comes from the environment: DN_TEST_BACKEND=cpu|vulkan (meson sets it per suite). For
 * vulkan the test prefers a software device (lavapipe) unless DN_TEST_DEVICE=N names one, runs with the
 * Khronos validation layer, and fails if any validation message was seen (dn_test_device_free). With no
 * Vulkan device the test exits 77 (meson's SKIP) unless DN_TEST_REQUIRE_VULKAN=1 (CI), where it fails.
 *
 * Errors are measured as ||got - want||_inf / max(||want||_inf, floor): the "relative error" of the
 * issue's thresholds (1e-5 for f32 against the float64 reference).
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <glib.h>
#include <stdint.h>

#include "dn-device.h"

/* The device for this process (created on first call, shared by all tests of the binary). */
DnDevice *dn_test_device (void);
/* Frees it and asserts that no validation message was seen. Call once at the end of main(). */
void dn_test_device_free (void);
/* Runs the registered GLib tests and then dn_test_device_free(). Use as `return dn_test_run ();`. */
int dn_test_run (void);
const char *dn_test_backend_name (void);

/* Deterministic pseudo-random data (splitmix64 + Box-Muller). Caller frees with g_free. */
double *dn_test_randn (int64_t n, uint64_t seed);
double *dn_test_uniform (int64_t n, double lo, double hi, uint64_t seed);

/* A tensor on the test device holding @vals (float64 rounded to float32). Asserts on failure. */
DnTensor *dn_test_tensor (int ndim, const int64_t *shape, const double *vals);
#define DN_TEST_TENSOR(vals, ndim, ...) dn_test_tensor ((ndim), (const int64_t[]){ __VA_ARGS__ }, (vals))
/* A zero tensor on the test device. */
DnTensor *dn_test_zeros (int ndim, const int64_t *shape);
#define DN_TEST_ZEROS(ndim, ...) dn_test_zeros ((ndim), (const int64_t[]){ __VA_ARGS__ })
/* Downloads a tensor into a new float64 array (g_free). */
double *dn_test_download (const DnTensor *t);
/* Rounds float64 values through float32 in place (so a reference sees exactly the engine's inputs). */
void dn_test_round_f32 (double *v, int64_t n);

double dn_test_rel_err (const double *got, const double *want, int64_t n);
/* Asserts dn_test_rel_err (download (t), want) <= tol, printing what/where on failure. */
void dn_test_check_tensor (const char *what, const DnTensor *t, const double *want, double tol);
void dn_test_check_close (const char *what, const double *got, const double *want, int64_t n, double tol);

/* Asserts an engine call succeeded, printing dn_last_error() otherwise. */
#define DN_TEST_OK(expr)                                                                                \
  do                                                                                                   \
    {                                                                                                  \
      DnStatus dn_test_st_ = (expr);                                                                   \
      if (dn_test_st_ != DN_OK)                                                                        \
        g_error ("%s failed: %s: %s", #expr, dn_status_to_string (dn_test_st_), dn_last_error ());     \
    }                                                                                                  \
  while (0)
/* Asserts an engine call failed with @status and a non-empty message. */
#define DN_TEST_FAILS(expr, status)                                                                    \
  do                                                                                                   \
    {                                                                                                  \
      dn_clear_error ();                                                                               \
      DnStatus dn_test_st_ = (expr);                                                                   \
      if (dn_test_st_ != (status))                                                                     \
        g_error ("%s returned %s, expected %s (%s)", #expr, dn_status_to_string (dn_test_st_),         \
                 dn_status_to_string (status), dn_last_error ());                                      \
      g_assert_cmpstr (dn_last_error (), !=, "");                                                      \
    }                                                                                                  \
  while (0)

/* Central finite differences of a float64 function f: R^nx -> R^ny, contracted with dy:
 * numeric[i] = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), L(x) = sum_j dy[j] f(x)[j].
 * Writes numeric[nx]. x is restored on return. */
typedef void (*DnTestFn) (void *ctx, const double *x, double *y);
void dn_test_numeric_grad (DnTestFn f, void *ctx, double *x, int64_t nx, int64_t ny, const double *dy,
                           double eps, double *numeric);
/* Asserts that @analytic matches the finite-difference gradient of f at x (rel err <= tol). */
void dn_test_gradcheck (const char *what, DnTestFn f, void *ctx, double *x, int64_t nx, int64_t ny,
                        const double *dy, const double *analytic, double eps, double tol);
