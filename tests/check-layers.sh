#!/bin/sh
# check-layers.sh - the built library keeps its layering: no object of one
# layer refers to a symbol defined by an object of a layer above it.
#
# An object's layer is the folder of its source under lib/; the layers,
# bottom up, are those of lib/coco_internal.h.  The symbols are read from
# the objects themselves with nm, so the check sees what the compiler
# really emitted for this configuration (OS, CPU, poller, sanitizers).
#
# Environment: NM (as configure found it: the cross tools' nm in a cross
# build), COCO_LAYER_OBJECTS (the library's libtool objects, *.lo,
# relative to the build directory).  Run from the build directory.  Prints
# TAP.
#
# SPDX-License-Identifier: MIT

NM=${NM:-nm}
layers="arch mem core signal timer sync io debug loop mt"

# Calls up that the design asks for, each with its reason:
#   arch coco__co_return  the first frame of a new context ends a coroutine
#                         whose function returns there (the core's exit)
allowed="arch:coco__co_return"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-layers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

rank() {
  r=0
  for l in $layers; do
    if test "$l" = "$1"; then echo $r; return; fi
    r=$((r + 1))
  done
  echo -1
}

if test -z "$COCO_LAYER_OBJECTS"; then
  echo "1..1"
  echo "not ok 1 - COCO_LAYER_OBJECTS names no object"
  exit 1
fi

# One line per object: "RANK LAYER OBJECT".
: > "$tmp/objects"
for lo in $COCO_LAYER_OBJECTS; do
  dir=$(dirname "$lo")
  layer=$(echo "$lo" | sed -n 's|^lib/\([^/]*\)/.*|\1|p')
  r=$(rank "$layer")
  obj=$(sed -n "s/^pic_object='\(.*\)'$/\1/p" "$lo" 2>/dev/null)
  if test -z "$obj" || test "$obj" = none; then
    obj=$(sed -n "s/^non_pic_object='\(.*\)'$/\1/p" "$lo" 2>/dev/null)
  fi
  echo "$r $layer $dir/$obj" >> "$tmp/objects"
done

# "RANK SYMBOL" for every global symbol an object defines, and
# "RANK LAYER OBJECT SYMBOL" for every one it leaves undefined.
: > "$tmp/defined"
: > "$tmp/undefined"
status=0
while read -r r layer obj; do
  if ! $NM "$obj" > "$tmp/nm" 2>"$tmp/nm.err"; then
    echo "# $NM $obj: $(cat "$tmp/nm.err")"
    status=1
    continue
  fi
  awk -v r="$r" -v layer="$layer" -v obj="$obj" \
      -v def="$tmp/defined" -v undef="$tmp/undefined" '
    NF == 2 && $1 == "U" { print r, layer, obj, $2 >> undef; next }
    NF == 3 && $2 ~ /^[A-TV-Z]$/ { print r, $3 >> def }' "$tmp/nm"
done < "$tmp/objects"

# Each use of a symbol defined in a higher layer, as "LAYER OBJECT SYMBOL
# DEFINING-LAYER", unless allowed.
awk -v layers="$layers" -v allowed="$allowed" '
  BEGIN { n = split(layers, name, " ")
          m = split(allowed, a, " "); for (i = 1; i <= m; i++) ok[a[i]] = 1 }
  FILENAME == ARGV[1] { if (!($2 in at) || $1 > at[$2]) at[$2] = $1; next }
  ($4 in at) && at[$4] > $1 && !(($2 ":" $4) in ok) {
    print $2, $3, $4, name[at[$4] + 1] }' "$tmp/defined" "$tmp/undefined" \
  > "$tmp/violations"

nobj=$(wc -l < "$tmp/objects")
echo "1..$((nobj + 1))"
n=1
if test "$status" = 0 && test -s "$tmp/defined"; then
  echo "ok $n - nm read every object ($nobj)"
else
  echo "not ok $n - nm could not read the objects"
  status=1
fi
while read -r r layer obj; do
  n=$((n + 1))
  if test "$r" -lt 0; then
    echo "not ok $n - $obj: lib/$layer is not a layer of lib/coco_internal.h"
    status=1
    continue
  fi
  bad=$(awk -v o="$obj" '$2 == o' "$tmp/violations")
  if test -z "$bad"; then
    echo "ok $n - $obj ($layer) uses nothing above its layer"
  else
    echo "not ok $n - $obj ($layer) uses symbols of a layer above it"
    echo "$bad" | while read -r l o sym up; do
      echo "#   $sym (defined in lib/$up)"
    done
    status=1
  fi
done < "$tmp/objects"
exit $status
