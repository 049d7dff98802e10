#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for DualNeuron (Debian packages via tools/setup-debian.sh), builds
# into ./build and starts the program on the built-in default model. Re-running it only rebuilds.
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
# Until the GTK application lands (issue #6), the command-line front end checks every backend.
exec build/app/dualneuron-cli selftest "$@"
