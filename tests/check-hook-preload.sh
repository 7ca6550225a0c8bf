#!/bin/sh
# check-hook-preload.sh - libcoco-hook preloaded into a program that does
# not know it (tests/hook_plain, linked with libcoco only): its coroutines'
# plain usleep, nanosleep, poll, read and write park only themselves.  The
# same program without the library must fail, which shows that the test
# can.  Also: no static archive, and the library exports exactly the
# symbols its Debian symbols file lists.  Skipped where preloading cannot work: under an emulator
# (COCO_TEST_EXEC) and with sanitizers (their runtime must come first).
# Prints TAP.
#
# SPDX-License-Identifier: MIT

hook=lib/.libs/libcoco-hook.so
prog=./tests/hook_plain

echo "1..5"
why=
if test -n "${COCO_TEST_EXEC:-}"; then
  why="cross-built: no preloading under an emulator"
elif test -n "${COCO_SANITIZERS:-}"; then
  why="sanitizers: their runtime must be the first library, not libcoco-hook"
elif ! test -f "$hook"; then
  why="no $hook"
fi
if ! test -f "$hook"; then
  for i in 1 2 3 4 5; do echo "ok $i # SKIP $why"; done
  exit 0
fi

if test -n "$why"; then
  for i in 1 2 3; do echo "ok $i # SKIP $why"; done
elif LD_PRELOAD=$PWD/$hook $prog all; then
  echo "ok 1 - preloaded: sleeps, poll, read and write park only their coroutine"
else
  echo "not ok 1 - preloaded: sleeps, poll, read and write park only their coroutine"
fi
if test -n "$why"; then :
elif $prog sleep 2>/dev/null; then
  echo "not ok 2 - without the library the sleeps block the thread (the test can fail)"
else
  echo "ok 2 - without the library the sleeps block the thread (the test can fail)"
fi
# A process that never creates a scheduler does not notice the library.
if test -n "$why"; then :
elif test "$(echo hello | LD_PRELOAD=$PWD/$hook sh -c 'read x; sleep 0; echo "$x"' 2>&1)" = hello; then
  echo "ok 3 - a shell with the library preloaded works as without"
else
  echo "not ok 3 - a shell with the library preloaded works as without"
fi
# Static programs cannot have it: no archive is made to link them with.
if test -f lib/.libs/libcoco-hook.a; then
  echo "not ok 4 - no static archive of the library is built"
else
  echo "ok 4 - no static archive of the library is built"
fi
# What the library exports: the calls it hooks, nothing of its own.
symbols=${srcdir:-.}/packaging/debian/libcoco-hook0.symbols
nm_cmd=${NM:-nm}
set -- $nm_cmd
if ! command -v "$1" >/dev/null 2>&1; then
  echo "ok 5 # SKIP no nm"
else
  got=$($nm_cmd -D --defined-only "$hook" | awk 'NF >= 3 { print $NF }' | sort)
  want=$(sed -n 's/^ \([^@]*\)@Base.*/\1/p' "$symbols" | sort)
  if test "$got" = "$want"; then
    echo "ok 5 - the exported symbols are those of $symbols"
  else
    echo "not ok 5 - the exported symbols are those of $symbols"
    echo "$got" > hook-symbols.got
    echo "$want" | diff - hook-symbols.got | sed 's/^/# /'
    rm -f hook-symbols.got
  fi
fi
