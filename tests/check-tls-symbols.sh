#!/bin/sh
# check-tls-symbols.sh - libcoco-tls.so exports exactly the functions
# include/coco_tls.h declares (nothing of OpenSSL's or of its own helpers),
# and each has a man page that is installed.
#
# Environment: srcdir (set by automake), NM, MAN_PAGES.  Run from the
# build directory.  Prints TAP.
#
# SPDX-License-Identifier: MIT

srcdir=${srcdir:-.}
NM=${NM:-nm}
lib=lib/.libs/libcoco-tls.so
if ! test -f "$lib"; then
  echo "1..0 # SKIP no $lib (shared library disabled or not ELF)"
  exit 0
fi
exported=$($NM -D --defined-only "$lib" | awk 'NF >= 3 { print $NF }' |
           grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start | sort -u)
declared=$(awk '
  /^[ \t]*COCO_API[ \t]/ { decl = ""; indecl = 1 }
  indecl { decl = decl " " $0
           if (index($0, ";")) {
             sub(/\(.*/, "", decl); n = split(decl, w, /[ \t*]+/)
             print w[n]; indecl = 0 } }' "$srcdir/include/coco_tls.h" | sort -u)

n=1
for s in $declared; do n=$((n + 1)); done
echo "1..$n"
i=0 failed=0
if test "$exported" = "$declared"; then
  i=$((i + 1)); echo "ok $i - libcoco-tls.so exports what coco_tls.h declares"
else
  i=$((i + 1)); failed=1; echo "not ok $i - libcoco-tls.so exports other than coco_tls.h declares"
  echo "# exported: $(echo $exported)"
  echo "# declared: $(echo $declared)"
fi
for s in $declared; do
  i=$((i + 1))
  found=
  for m in $MAN_PAGES; do
    test "$(basename "$m")" = "$s.3" && found=1
  done
  if test -n "$found" && test -f "$srcdir/man/$s.3"; then
    echo "ok $i - $s has an installed man page"
  else
    failed=1; echo "not ok $i - $s has no installed man page (man/$s.3 in dist_man3_MANS)"
  fi
done
exit $failed
