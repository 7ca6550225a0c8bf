#!/bin/sh
# check-codegen.sh - the built library still holds the instructions its
# fast paths were written for, where a compiler could silently drop them:
#   - the stack prefetches of the scheduler: in the event loop's wake-up
#     (io_wake, inlined into coco__io_ready in optimised builds) and in the
#     direct hand-over (switch_away, inlined into coco__park and
#     coco__park_leave).  A prefetch has no visible
#     effect, so GCC deletes a call to a helper made only of them unless
#     the helper is inlined first; the loss shows only as a slower server.
#
# Environment (set by the Makefile): OBJDUMP, host_cpu.  Run from the
# build directory; the tools are the target's, so this works when
# cross-compiling.  Prints TAP.
#
# SPDX-License-Identifier: MIT

OBJDUMP=${OBJDUMP:-objdump}

lib=
for f in lib/.libs/libcoco.a lib/.libs/libcoco.so; do
  if test -f "$f"; then lib=$f; break; fi
done
if test -z "$lib"; then
  echo "1..0 # SKIP the library is not built"
  exit 0
fi
if grep -q '^#define COCO_USE_UCONTEXT 1' config.h 2>/dev/null; then
  echo "1..0 # SKIP ucontext switch: no saved stack pointer to prefetch"
  exit 0
fi
case ${host_cpu:-unknown} in
  x86_64|i?86) insn=prefetch ;;
  aarch64) insn=prfm ;;
  *) echo "1..0 # SKIP no prefetch instruction expected on ${host_cpu:-unknown}"
     exit 0 ;;
esac
if ! dis=$("$OBJDUMP" -d --no-show-raw-insn "$lib" 2>/dev/null); then
  echo "1..0 # SKIP $OBJDUMP cannot read $lib"
  exit 0
fi

n=0
failed=0
# The body of one function, as objdump prints it.
body() {
  printf '%s\n' "$dis" | awk -v f="<$1>:" '
    $2 == f { on = 1; next }
    on && NF == 0 { exit }
    on { print }'
}
check_fn() { # check_fn FUNCTION WHAT
  n=$((n + 1))
  b=$(body "$1")
  # Not inlined (sanitizer builds): look in the helper itself.
  for h in io_wake switch_away; do
    if printf '%s\n' "$b" | grep -q "<$h>"; then
      b=$(body "$h")
    fi
  done
  if test -z "$b"; then
    failed=1
    echo "not ok $n - $1: $2 (function not found in $lib)"
  elif printf '%s\n' "$b" | grep -q "$insn"; then
    echo "ok $n - $1: $2"
  else
    failed=1
    echo "not ok $n - $1: $2 (no $insn instruction)"
  fi
}

check_fn coco__io_ready "prefetches the stack of the coroutine it wakes"
check_fn coco__park "prefetches the stack of the coroutine after the next"
check_fn coco__park_leave "prefetches the stack of the coroutine after the next (channels and sync objects)"
echo "1..$n"
exit $failed
