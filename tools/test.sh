#!/bin/sh
# tools/test.sh - the whole test suite: installs what is missing, then
# builds and runs `make check` in every configuration the project
# supports on this machine:
#   build/            default (assembly switch, best poller), gcc
#   build-clang/      clang, warnings as errors
#   build-ucontext/   the portable ucontext switch (--disable-asm)
#   build-aarch64/    cross-built for AArch64; the examples run under qemu
# It stops at the first failure; logs stay in each build directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh" --test

run() {
    dir=$1
    shift
    echo "== make check in $dir ($*)"
    "$top/tools/build.sh" "$dir" "$@"
    if ! make -C "$top/$dir" -j2 check >"$top/$dir/check.out" 2>&1; then
        grep -E '^(FAIL|ERROR|XPASS)' "$top/$dir/check.out" || true
        cat "$top/$dir"/tests/*.log 2>/dev/null | grep -v '^ok ' | tail -n 60 || true
        echo "make check failed in $dir" >&2
        exit 1
    fi
    grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$top/$dir/check.out"
    passed=$((passed + $(sed -n 's/^# PASS: *//p' "$top/$dir/check.out")))
    skipped=$((skipped + $(sed -n 's/^# SKIP: *//p' "$top/$dir/check.out")))
}
passed=0
skipped=0

run build --enable-werror
run build-clang --enable-werror CC=clang
run build-ucontext --enable-werror --disable-asm
# AArch64: the assembly switch must build, and the examples must run.
echo "== AArch64 cross build, examples under qemu-aarch64"
"$top/tools/build.sh" build-aarch64 --host=aarch64-linux-gnu --enable-werror
for ex in basic join_exit; do
    out=$(QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
          LD_LIBRARY_PATH="$top/build-aarch64/lib/.libs" \
          qemu-aarch64 "$top/build-aarch64/examples/.libs/$ex" 2>&1) || {
        echo "examples/$ex failed under qemu-aarch64: $out" >&2
        exit 1
    }
    expected=$("$top/build/examples/$ex")
    if [ "$out" != "$expected" ]; then
        echo "examples/$ex under qemu-aarch64 printed '$out', expected '$expected'" >&2
        exit 1
    fi
    echo "ok: examples/$ex"
    passed=$((passed + 1))
done

echo "All configurations passed."
echo "tests: $passed passed, 0 failed, $skipped skipped"
