#!/bin/sh
# check-symbols.sh - the dynamic symbol table of the built libcoco.so is
# exactly the public API: nothing but coco_* is exported, every exported
# function has a man page under man/, every function declared in
# include/coco.h is exported, and the soname follows the libtool version
# (libcoco.so.CURRENT-AGE).  A Windows build is checked the same way
# through the export table of its DLL, named libcoco-(CURRENT - AGE).dll.
#
# Environment: srcdir (set by automake), NM, OBJDUMP (for a DLL),
# COCO_LT_VERSION (CURRENT:REVISION:AGE).  Run from the build directory.
# Prints TAP.
#
# SPDX-License-Identifier: MIT

srcdir=${srcdir:-.}
NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}
lib=lib/.libs/libcoco.so
dll=
for f in lib/.libs/libcoco-*.dll; do
  if test -f "$f"; then dll=$f; lib=$f; break; fi
done
header=$srcdir/include/coco.h

if ! test -f "$lib"; then
  echo "1..1"
  echo "ok 1 # SKIP no $lib (shared library disabled or not ELF)"
  exit 0
fi

if test -n "$dll"; then
  # The names of the "[Ordinal/Name Pointer] Table" of objdump -p.
  exported=$($OBJDUMP -p "$lib" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' |
             awk '/^\t*\[/ && NF >= 2 && $1 != "[Ordinal/Name" { print $NF }' | sort -u)
else
  # "ADDRESS TYPE NAME" lines; undefined ones are left out by --defined-only.
  exported=$($NM -D --defined-only "$lib" | awk 'NF >= 3 { print $NF }' | sort -u)
fi
if test -z "$exported"; then
  echo "1..1"
  echo "not ok 1 - no symbol listed as exported by $lib"
  exit 1
fi

# Functions declared with COCO_API; a declaration may span lines.
declared=$(awk '
  /^[ \t]*COCO_API[ \t]/ { decl = ""; indecl = 1 }
  indecl { decl = decl " " $0
           if (index($0, ";")) {
             sub(/\(.*/, "", decl); n = split(decl, w, /[ \t*]+/)
             print w[n]; indecl = 0 } }' "$header" | sort -u)

# Functions declared only outside Windows (#ifndef _WIN32 ... #endif in
# coco.h): not in a DLL, nor expected there.
posix_only=$(awk '
  /^#[ \t]*if/ { depth++; if ($0 ~ /^#[ \t]*ifndef[ \t]+_WIN32/) posix[depth] = 1 }
  /^#[ \t]*endif/ { posix[depth] = 0; depth-- }
  /^[ \t]*COCO_API[ \t]/ { decl = ""; indecl = 1; inposix = 0
                            for (k = 1; k <= depth; k++) if (posix[k]) inposix = 1 }
  indecl { decl = decl " " $0
           if (index($0, ";")) {
             sub(/\(.*/, "", decl); n = split(decl, w, /[ \t*]+/)
             if (inposix) print w[n]
             indecl = 0 } }' "$header" | sort -u)
if test -n "$dll" && test -n "$posix_only"; then
  declared=$(echo "$declared" | grep -v -x -F "$posix_only" || true)
fi

api=$(echo "$exported" | grep '^coco_')
# Symbols some linkers define in every shared object; not part of the API.
stray=$(echo "$exported" | grep -v '^coco_' |
        grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start)

n=3
for s in $api; do n=$((n + 1)); done
for s in $declared; do n=$((n + 1)); done
echo "1..$n"

i=0 failed=0
ok() { i=$((i + 1)); echo "ok $i - $*"; }
fail() { i=$((i + 1)); failed=1; echo "not ok $i - $*"; }

if test -z "$stray"; then
  ok "only coco_* symbols are exported"
else
  fail "symbols outside the coco_* API are exported:"
  echo "$stray" | sed 's/^/#   /'
fi
# The soname, from the dynamic section; a DLL's is its file name.
if test -n "$dll"; then
  soname=$(basename "$dll")
else
  soname=$(LC_ALL=C readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
fi
if test -z "${COCO_LT_VERSION:-}"; then
  i=$((i + 1)); echo "ok $i # SKIP COCO_LT_VERSION not given"
elif test -z "$dll" && ! command -v readelf >/dev/null 2>&1; then
  i=$((i + 1)); echo "ok $i # SKIP readelf not found"
else
  IFS=: read -r current revision age <<EOV
$COCO_LT_VERSION
EOV
  want=libcoco.so.$((current - age))
  test -n "$dll" && want=libcoco-$((current - age)).dll
  if test "$soname" = "$want"; then
    ok "soname is $want (libtool version $COCO_LT_VERSION)"
  else
    fail "soname is '$soname', libtool version $COCO_LT_VERSION wants $want"
  fi
fi
# The Debian symbols file must track the API, or the package build fails.
symfile=$srcdir/packaging/debian/libcoco0.symbols
if test ! -f "$symfile"; then
  i=$((i + 1)); echo "ok $i # SKIP no $symfile"
else
  listed=$(sed -n 's/^ \(coco_[A-Za-z0-9_]*\)@Base .*/\1/p' "$symfile" | sort -u)
  if test -n "$dll" && test -n "$posix_only"; then
    listed=$(echo "$listed" | grep -v -x -F "$posix_only" || true)
  fi
  if test "$listed" = "$(echo "$api" | sort -u)"; then
    ok "packaging/debian/libcoco0.symbols lists exactly the exported API"
  else
    fail "packaging/debian/libcoco0.symbols differs from the exported API:"
    echo "$listed" > "${TMPDIR:-/tmp}/coco-sym.$$"
    echo "$api" | sort -u | diff "${TMPDIR:-/tmp}/coco-sym.$$" - | sed 's/^/#   /'
    rm -f "${TMPDIR:-/tmp}/coco-sym.$$"
  fi
fi
for s in $api; do
  if test -f "$srcdir/man/$s.3"; then
    ok "$s has a man page"
  else
    fail "$s is exported but has no man page man/$s.3"
  fi
done
for s in $declared; do
  if echo "$api" | grep -q -x "$s"; then
    ok "$s (declared in coco.h) is exported"
  else
    fail "$s is declared in coco.h but not exported by $lib"
  fi
done
exit $failed
