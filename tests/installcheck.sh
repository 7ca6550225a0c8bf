#!/bin/sh
# installcheck.sh - the installed library works for its users: the
# examples build through `pkg-config coco` and run, linked to the shared
# library and statically, and the man pages are where man(1) finds them.
# An example's output must be tests/expected/NAME.out exactly, or contain
# every line of tests/expected/NAME.grep.
#
# Usage: installcheck.sh SRCDIR EXAMPLE...
# Environment (from `make installcheck`): CC, CFLAGS, PKG_CONFIG, libdir,
# pkgconfigdir, mandir, man3dir, MAN_PAGES.
#
# SPDX-License-Identifier: MIT

srcdir=$1
shift
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
PKG_CONFIG_PATH=$pkgconfigdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-installcheck.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

failed=0
pass() { echo "PASS: installcheck: $*"; }
fail() { echo "FAIL: installcheck: $*"; failed=1; }
skip() { echo "SKIP: installcheck: $*"; }

if ! cflags=$($PKG_CONFIG --cflags coco) ||
   ! libs=$($PKG_CONFIG --libs coco) ||
   ! static_libs=$($PKG_CONFIG --static --libs coco); then
  fail "pkg-config finds no coco.pc in $pkgconfigdir"
  exit 1
fi

# Links to libcoco.so?  Unknown (and not checked) without readelf.
needs_shared() {
  command -v readelf >/dev/null 2>&1 || return 2
  readelf -d "$1" | grep -q 'NEEDED.*libcoco'
}

# run NAME BINARY: runs it, compares with the expected output if any.
run() {
  name=$1 bin=$2 what=$3
  if ! LD_LIBRARY_PATH=$libdir "$bin" > "$tmp/$name.out" 2> "$tmp/$name.err"; then
    fail "$name ($what) exited with status $?"; sed 's/^/  /' "$tmp/$name.err"
    return
  fi
  expected=$srcdir/tests/expected/$name.out
  if test -f "$expected" && ! cmp -s "$expected" "$tmp/$name.out"; then
    fail "$name ($what) printed something else:"
    diff "$expected" "$tmp/$name.out" | sed 's/^/  /'
    return
  fi
  # NAME.grep: lines the output must contain, in any order.
  if test -f "$srcdir/tests/expected/$name.grep"; then
    while IFS= read -r line; do
      if ! grep -q -x -F -e "$line" "$tmp/$name.out"; then
        fail "$name ($what) did not print '$line'"
        return
      fi
    done < "$srcdir/tests/expected/$name.grep"
  fi
  pass "$name ($what)"
}

for name in "$@"; do
  src=$srcdir/examples/$name.c
  # Shared: the pkg-config flags as they are.
  if $CC $CFLAGS $cflags "$src" -o "$tmp/$name" $libs 2> "$tmp/cc.err"; then
    needs_shared "$tmp/$name"
    case $? in
      1) fail "$name (shared) is not linked to libcoco.so" ;;
      *) run "$name" "$tmp/$name" shared ;;
    esac
  else
    fail "$name (shared) does not build:"; sed 's/^/  /' "$tmp/cc.err"
  fi

  # Static: fully static if the C library allows it, else libcoco.a alone.
  if ! test -f "$libdir/libcoco.a"; then
    skip "$name (static): no libcoco.a installed"
    continue
  fi
  if ! $CC $CFLAGS $cflags "$src" -o "$tmp/$name-static" -static $static_libs \
        2> "$tmp/cc.err"; then
    archive_libs=$(echo " $static_libs " | sed "s| -lcoco | $libdir/libcoco.a |")
    if ! $CC $CFLAGS $cflags "$src" -o "$tmp/$name-static" $archive_libs \
          2> "$tmp/cc.err"; then
      fail "$name (static) does not build:"; sed 's/^/  /' "$tmp/cc.err"
      continue
    fi
  fi
  needs_shared "$tmp/$name-static"
  case $? in
    0) fail "$name (static) is linked to libcoco.so" ;;
    *) run "$name" "$tmp/$name-static" static ;;
  esac
done

# Man pages: every page of the tree is installed, and man(1) finds them.
missing=
for m in $MAN_PAGES; do
  test -f "$man3dir/$(basename "$m")" || missing="$missing $(basename "$m")"
done
if test -n "$missing"; then
  fail "man pages not installed in $man3dir:$missing"
else
  pass "man pages installed in $man3dir"
fi
if command -v man >/dev/null 2>&1; then
  for page in coco coco_create; do
    if man -M "$mandir" -w 3 "$page" > /dev/null 2>&1; then
      pass "man -M $mandir 3 $page"
    else
      fail "man -M $mandir 3 $page finds no page"
    fi
  done
else
  skip "man(1) is not installed"
fi
exit $failed
