#!/bin/sh
# Checks an app icon: well-formed XML (xmllint), an <svg> root with viewBox "0 0 SIZE SIZE", rendered by
# librsvg through gdk-pixbuf (gdk-pixbuf-thumbnailer); with "symbolic", also that every colour in it is
# #2e3436 and that it draws with fills only (GTK recolours the fills of symbolic icons).
#   check-icon.sh ICON.svg SIZE [symbolic]
# SPDX-License-Identifier: MIT
set -eu
icon=$1 size=$2 kind=${3:-}
fail() { echo "check-icon: $icon: $*" >&2; exit 1; }

[ -s "$icon" ] || fail "missing or empty"
xmllint --noout "$icon" || fail "not well-formed XML"
root=$(xmllint --xpath 'local-name(/*)' "$icon")
[ "$root" = svg ] || fail "root element is <$root>, not <svg>"
ns=$(xmllint --xpath 'namespace-uri(/*)' "$icon")
[ "$ns" = http://www.w3.org/2000/svg ] || fail "root element is not in the SVG namespace ($ns)"
vb=$(xmllint --xpath 'string(/*/@viewBox)' "$icon")
[ "$vb" = "0 0 $size $size" ] || fail "viewBox is '$vb', not '0 0 $size $size'"

if [ "$kind" = symbolic ]; then
  colours=$(grep -o -i '#[0-9a-f]\{3,8\}\b' "$icon" | tr 'A-F' 'a-f' | sort -u)
  [ "$colours" = '#2e3436' ] || fail "colours other than #2e3436: $(echo $colours)"
  if grep -q -E 'stroke=|stroke:|<(image|text)\b|url\(#' "$icon"; then
    fail "uses strokes, text, images or paint servers (a symbolic icon draws with plain fills)"
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gdk-pixbuf-thumbnailer -s "$size" "$icon" "$tmp/icon.png" || fail "librsvg could not render it"
[ -s "$tmp/icon.png" ] || fail "rendering gave no image"
echo "check-icon: $icon: ok"
