#!/bin/sh
# Checks the compiled settings schema org.dualneuron.DualNeuron (GSETTINGS_SCHEMA_DIR = the build's
# data/): it has exactly the keys the app reads, each with its default and range or choices.
# Summaries and descriptions are not in gschemas.compiled: GLib reads them from the *.gschema.xml beside
# it, so SCHEMA_DIR must hold a copy of the XML too.
#   check-schema.sh SCHEMA_DIR
# SPDX-License-Identifier: MIT
set -eu
export GSETTINGS_SCHEMA_DIR=$1
export GSETTINGS_BACKEND=memory
schema=org.dualneuron.DualNeuron
[ -f "$GSETTINGS_SCHEMA_DIR/gschemas.compiled" ] || { echo "check-schema: no $GSETTINGS_SCHEMA_DIR/gschemas.compiled" >&2; exit 1; }

status=0
expected='cache-limit-mb demo-interval device-index export-boost export-size gallery-mode last-model recent-models screen-top-k show-alpha synth-preset synth-seeds synth-steps threads window-height window-maximized window-width'
keys=$(gsettings list-keys "$schema" | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$keys" != "$expected" ]; then
  echo "check-schema: keys are  '$keys'" >&2
  echo "check-schema: expected  '$expected'" >&2
  status=1
fi

# key, default as gsettings prints it, range as gsettings prints it (lines joined by '|')
while IFS=';' read -r key def range; do
  [ -n "$key" ] || continue
  got=$(gsettings get "$schema" "$key" 2>&1) || got="(error: $got)"
  if [ "$got" != "$def" ]; then echo "check-schema: $key: default $got, expected $def" >&2; status=1; fi
  got=$(gsettings range "$schema" "$key" 2>&1 | tr '\n' '|' | sed 's/|$//') || got="(error: $got)"
  if [ "$got" != "$range" ]; then echo "check-schema: $key: range $got, expected $range" >&2; status=1; fi
done <<'KEYS'
device-index;-2;range i -2 64
threads;0;range i 0 256
cache-limit-mb;256;range i 16 16384
last-model;'builtin:gabor-v1';type s
recent-models;@as [];type as
window-width;1280;range i 360 16384
window-height;800;range i 294 16384
window-maximized;false;type b
gallery-mode;'both';enum|'most'|'least'|'both'
show-alpha;false;type b
synth-preset;'v1-pixel';enum|'v1-pixel'|'gabor-pixel'|'v4-fourier'
synth-steps;128;range i 1 4096
synth-seeds;1;range i 1 100
screen-top-k;16;range i 1 1000
export-size;256;range i 16 4096
export-boost;1.0;range d 0.10000000000000001 10.0
demo-interval;20;range i 2 600
KEYS

# Every key has a summary and a description.
xml="$GSETTINGS_SCHEMA_DIR/$schema.gschema.xml"
if [ ! -f "$xml" ]; then
  echo "check-schema: no $xml beside gschemas.compiled" >&2; status=1
else
  bare=$(xmllint --xpath 'count(//key[not(normalize-space(summary)) or not(normalize-space(description))])' "$xml")
  [ "$bare" = 0 ] || { echo "check-schema: $bare keys without a summary or a description" >&2; status=1; }
  for key in $expected; do
    d=$(gsettings describe "$schema" "$key" 2>/dev/null) || d=
    case "$d" in ''|'(null)') echo "check-schema: $key: GLib finds no description" >&2; status=1 ;; esac
  done
fi
[ $status = 0 ] && echo "check-schema: $schema: ok"
exit $status
