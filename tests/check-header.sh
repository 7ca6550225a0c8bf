#!/bin/sh
# check-header.sh - coco.h as users get it: alone in an include directory,
# it compiles without a warning as C99, C11 and C++, and C++ code links
# to the functions by their C names (extern "C").
#
# Environment: srcdir (set by automake), CC, CXX, NM.  Prints TAP.
#
# SPDX-License-Identifier: MIT

srcdir=${srcdir:-.}
CC=${CC:-cc}
CXX=${CXX:-c++}
NM=${NM:-nm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-header.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/include"
cp "$srcdir/include/coco.h" "$tmp/include/coco.h"

# Uses the types, constants and a few functions; includes the header twice
# to check its guard.
cat > "$tmp/use.c" <<'SRC'
#include <coco.h>
#include <coco.h>

static void entry(void *arg) { (void)arg; }

int use_header(void);
int use_header(void)
{
    coco_sched_t *s = coco_sched_create();
    coco_coro_t *c = coco_create(s, entry, NULL, COCO_DEFAULT_STACK_SIZE);
    coco_state_t st = coco_get_state(c);
    uint64_t t = COCO_INFINITE;
    int rc = coco_sched_run(s);
    coco_sched_destroy(s);
    return rc + (int)st + (int)(t & 1) + COCO_MAX_COROUTINES +
           (coco_version() >= (unsigned)COCO_VERSION_HEX);
}
SRC
cp "$tmp/use.c" "$tmp/use.cc"

warn="-Wall -Wextra -Werror -pedantic-errors"
have_cxx=yes
command -v ${CXX%% *} >/dev/null 2>&1 || have_cxx=no

echo "1..4"
i=0 failed=0
try() {
  what=$1; shift
  i=$((i + 1))
  if out=$("$@" 2>&1); then
    echo "ok $i - $what"
  else
    failed=1
    echo "not ok $i - $what"
    echo "$out" | sed 's/^/# /'
  fi
}

try "compiles as C99" $CC -std=c99 $warn -I"$tmp/include" -c "$tmp/use.c" -o "$tmp/c99.o"
try "compiles as C11" $CC -std=c11 $warn -I"$tmp/include" -c "$tmp/use.c" -o "$tmp/c11.o"
if test $have_cxx = yes; then
  try "compiles as C++11" $CXX -std=c++11 $warn -I"$tmp/include" -c "$tmp/use.cc" -o "$tmp/cxx.o"
  i=$((i + 1))
  if test -f "$tmp/cxx.o" &&
     $NM -u "$tmp/cxx.o" | awk '{ print $NF }' | grep -q -x coco_sched_create; then
    echo "ok $i - C++ refers to the C names (extern \"C\")"
  else
    failed=1
    echo "not ok $i - C++ does not refer to coco_sched_create by its C name"
  fi
else
  echo "ok 3 # SKIP no C++ compiler ($CXX)"
  echo "ok 4 # SKIP no C++ compiler ($CXX)"
fi
exit $failed
