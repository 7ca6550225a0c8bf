#!/bin/sh
# tools/test.sh - the whole test suite: installs what is missing, then
# builds and runs `make check` in every configuration the project
# supports on this machine:
#   build/            default (assembly switch, best poller), gcc
#   build-clang/      clang, warnings as errors
#   build-ucontext/   the portable ucontext switch (--disable-asm)
# It stops at the first failure; logs stay in each build directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"

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
echo "All configurations passed."
echo "tests: $passed passed, 0 failed, $skipped skipped"
