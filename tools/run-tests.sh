#!/usr/bin/env bash
# Runs DualNeuron's full test suite on a fresh Debian 12 machine: installs what is missing (apt-get),
# builds, runs the suites `cpu` and `vulkan` (Vulkan on Mesa's lavapipe when there is no GPU, with the
# Khronos validation layer), then the same suites again in an AddressSanitizer build, and prints
# `N passed, N failed` as its last line. Exit status 0 only if every test passed.
#   DN_SKIP_ASAN=1   skip the AddressSanitizer pass (local quick runs)
#   DN_SHARED_DIR    the shared weights/fixtures folder (default: ../shared beside the checkout)
# SPDX-License-Identifier: MIT
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${DN_SHARED_DIR:-$root/../shared}

bash tools/setup-debian.sh || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

export DN_TEST_REQUIRE_VULKAN=1   # no silent skip of the Vulkan suite
export MESON_TESTTHREADS=${MESON_TESTTHREADS:-$(nproc)}
jobs=$(nproc)

passed=0
failed=0
count() { # $1 = build dir: adds its meson test results to the totals
  local log="$1/meson-logs/testlog.json"
  if [ ! -f "$log" ]; then failed=$((failed + 1)); return; fi
  local p f
  p=$(grep -c '"result": "OK"' "$log")
  f=$(grep -c -E '"result": "(FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS|SKIP)"' "$log")
  passed=$((passed + p)); failed=$((failed + f))
}

run_build() { # $1 = build dir, rest = meson setup options; builds and runs the cpu and vulkan suites
  local dir=$1; shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" -Dshared_dir="$shared" "$@" || { failed=$((failed + 1)); return 1; }
  fi
  ninja -C "$dir" -j "$jobs" || { failed=$((failed + 1)); return 1; }
}
run_suite() { # $1 = build dir, $2 = suite, rest = more meson test options
  local dir=$1 suite=$2; shift 2
  meson test -C "$dir" --suite "$suite" "$@" --print-errorlogs --num-processes "$MESON_TESTTHREADS"
  count "$dir"
}

if run_build build-tests --buildtype=debugoptimized; then
  run_suite build-tests cpu
  run_suite build-tests vulkan
  run_suite build-tests data
  run_suite build-tests ui      # the real window under Xvfb (screenshots in build-tests/meson-logs/screenshots)
fi
if [ "${DN_SKIP_ASAN:-0}" != 1 ] && run_build build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false; then
  # The *-heavy suites (long real-model runs) are left out here; they ran in the plain build above.
  # Leak checking on the CPU suite; under Vulkan, Mesa and the validation layer are unloaded before
  # exit, so their allocations show as leaks of an "<unknown module>": there, leaks are not checked.
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=1 run_suite build-asan cpu --no-suite cpu-heavy
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=1 run_suite build-asan vulkan --no-suite vulkan-heavy
  # the app's code under the sanitizers too (GTK, fontconfig and Mesa keep caches to exit: no leak check)
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 run_suite build-asan ui
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" = 0 ]
