#!/usr/bin/env bash
# DualNeuron set-up for a fresh Debian 12 machine: installs every Debian package that the build,
# the tests and the benchmarks need. Run as root or with sudo available.
# SPDX-License-Identifier: MIT
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config meson ninja-build gettext appstream desktop-file-utils
  libglib2.0-dev libglib2.0-bin libgtk-4-dev libadwaita-1-dev
  # the desktop app at run time (the GNOME icons and font; a session bus for the UI tests)
  adwaita-icon-theme fonts-cantarell dbus-daemon
  # compute
  libvulkan-dev vulkan-tools mesa-vulkan-drivers vulkan-validationlayers glslc glslang-dev glslang-tools spirv-tools libvkfft-dev
  libopenblas-dev libfftw3-dev
  # files
  libhdf5-dev hdf5-tools libpng-dev libjpeg62-turbo-dev libmatio-dev zlib1g-dev
  # tests (headless UI, sanitizers)
  xvfb xauth libclang-rt-14-dev libxml2-utils libgdk-pixbuf2.0-bin librsvg2-common
)
# Benchmarks and fixture generators use PyTorch from Debian (never the app or its tests).
if [ "${DN_WITH_TORCH:-0}" = 1 ]; then
  PACKAGES+=(python3-torch python3-torchvision python3-pil python3-numpy python3-h5py)
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
