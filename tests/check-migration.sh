#!/bin/sh
# check-migration.sh - the reason a started coroutine never moves to
# another thread, checked on the compilers at hand.  A coroutine that
# parks is, to the compiler, a function that called another one; it
# assumes the thread is the same when the call returns, so an optimising
# compiler may compute the address of a thread-local once and keep it in
# a register or stack slot across the call:
#   - errno is (*__errno_location ()), and glibc declares that function
#     const: gcc and clang at -O2 call it once for two reads of errno on
#     either side of a call;
#   - a __thread variable in code built for a shared library (-fPIC, the
#     general-dynamic model) is reached through __tls_get_addr, whose
#     result is reused the same way.
# After a move to another thread both addresses would be the old
# thread's.  Each case compiles a small function with `CC -O2`, reads its
# disassembly (objdump -dr) and asserts that the address is computed once
# for two uses around a call that stands for a park.  If a compiler stops
# doing so the case fails and says which; the rule is documented in the
# README (Threads) and coco_workers_create(3).
#
# Environment: OBJDUMP; MIGRATION_CCS (compilers, default "gcc clang");
# MIGRATION_OPT (default -O2: the optimisation the cases are about; -O0
# makes them fail); COCO_TEST_EXEC, build_alias/host (cross builds: the
# cases are skipped, the compilers by those names are the build
# machine's).  Prints TAP.
#
# SPDX-License-Identifier: MIT

OBJDUMP=${OBJDUMP:-objdump}
CCS=${MIGRATION_CCS:-gcc clang}
OPT=${MIGRATION_OPT:--O2}

if test -n "${COCO_TEST_EXEC:-}" ||
   { test -n "${COCO_BUILD:-}" && test "${COCO_BUILD}" != "${COCO_HOST:-}"; }; then
  echo "1..0 # SKIP cross build: the compilers here are not the target's"
  exit 0
fi
if ! command -v "$OBJDUMP" >/dev/null 2>&1; then
  echo "1..0 # SKIP $OBJDUMP not found"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-migration.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/errno.c" <<'EOF'
#include <errno.h>
/* Stands for a call that parks the coroutine. */
extern void coco_test_park(void);

int errno_around_park(void)
{
    int before = errno;
    coco_test_park();
    return before + errno;
}
EOF
cat >"$tmp/tls.c" <<'EOF'
extern void coco_test_park(void);
extern __thread int coco_test_tls;

void tls_around_park(void)
{
    coco_test_tls = 1;
    coco_test_park();
    coco_test_tls = 2;
}
EOF

# The body of one function in objdump -dr output.
body() { # body FILE FUNCTION
  awk -v f="<$2>:" '$2 == f { on = 1; next } on && NF == 0 { exit } on { print }' "$1"
}
# How many relocations of the body name SYMBOL (one per call site).
calls() { # calls BODY SYMBOL
  printf '%s\n' "$1" | grep -c "R_[A-Z0-9_]*[[:space:]]*$2\([-+]\|\$\)"
}

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
show() { printf '%s\n' "$1" | sed 's/^/#   /'; }

for cc in $CCS; do
  if ! command -v "$cc" >/dev/null 2>&1; then
    skip "$cc: not found"
    skip "$cc: not found"
    continue
  fi

  # errno
  what="$cc $OPT: errno read before and after a park"
  if ! "$cc" $OPT -c "$tmp/errno.c" -o "$tmp/errno.o" 2>"$tmp/err" ||
     ! "$OBJDUMP" -dr --no-show-raw-insn "$tmp/errno.o" >"$tmp/errno.dis" 2>>"$tmp/err"; then
    notok "$what: did not compile or disassemble"
    sed 's/^/#   /' "$tmp/err"
  else
    b=$(body "$tmp/errno.dis" errno_around_park)
    loc=$(calls "$b" __errno_location)
    park=$(calls "$b" coco_test_park)
    if test "$loc" -eq 0; then
      skip "$what: errno is not reached through __errno_location here"
    elif test "$park" -ne 1; then
      notok "$what: expected one call to coco_test_park, found $park"
      show "$b"
    elif test "$loc" -eq 1; then
      ok "$what: __errno_location called once, its result kept across the call"
      show "$b"
    else
      notok "$what: __errno_location called $loc times; this compiler no longer keeps errno's address across a call, so the reason given for never moving a started coroutine needs looking at again"
      show "$b"
    fi
  fi

  # __thread
  what="$cc $OPT -fPIC: a __thread variable written before and after a park"
  if ! "$cc" $OPT -fPIC -c "$tmp/tls.c" -o "$tmp/tls.o" 2>"$tmp/err" ||
     ! "$OBJDUMP" -dr --no-show-raw-insn "$tmp/tls.o" >"$tmp/tls.dis" 2>>"$tmp/err"; then
    notok "$what: did not compile or disassemble"
    sed 's/^/#   /' "$tmp/err"
  else
    b=$(body "$tmp/tls.dis" tls_around_park)
    # x86: __tls_get_addr; AArch64 and others: a TLS descriptor call.
    get=$(printf '%s\n' "$b" | grep -c '__tls_get_addr\|TLSDESC_CALL')
    park=$(calls "$b" coco_test_park)
    if test "$get" -eq 0; then
      skip "$what: no __tls_get_addr or TLS descriptor call here"
    elif test "$park" -ne 1; then
      notok "$what: expected one call to coco_test_park, found $park"
      show "$b"
    elif test "$get" -eq 1; then
      ok "$what: its address computed once, kept across the call"
      show "$b"
    else
      notok "$what: its address computed $get times; this compiler no longer keeps a thread-local's address across a call, so the reason given for never moving a started coroutine needs looking at again"
      show "$b"
    fi
  fi
done
echo "1..$n"
exit $failed
