#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for DualNeuron (Debian packages via tools/setup-debian.sh), builds
# into ./build and starts the program on the built-in default model. Re-running it only rebuilds.
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
# The desktop app on the built-in twin (runs from the build tree; `ninja -C build install` installs it).
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "start.sh: no display (DISPLAY/WAYLAND_DISPLAY unset): DualNeuron is a desktop app. Run this from a" >&2
  echo "desktop session. Meanwhile, the command-line front end checks every compute backend:" >&2
  exec build/app/dualneuron-cli selftest
fi
exec build/app/dualneuron builtin:gabor-v1 "$@"
