#!/bin/sh
# tools/test.sh - the whole test suite: installs what is missing, then
# builds and runs `make check` in every configuration the project
# supports on this machine:
#   build/            default (assembly switch, best poller), gcc
#   build-clang/      clang, warnings as errors, the trace hooks built in
#   build-ucontext/   the portable ucontext switch (--disable-asm)
#   build-fuzz/       the operations fuzzer, FUZZ_SECONDS (default 60)
#   build-aarch64/    cross-built for AArch64, make check under qemu-aarch64
#   build-riscv64/    cross-built for RISC-V 64, make check under qemu-riscv64
#   build-mingw/      cross-built for Windows x86-64, make check under wine
#   build-asan/       clang, AddressSanitizer + UndefinedBehaviorSanitizer,
#                     the trace hooks built in
#   build-tsan/       clang, ThreadSanitizer
#   build-valgrind/   --enable-valgrind: make check, then make check-valgrind
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
run build-clang --enable-werror --enable-trace CC=clang
run build-ucontext --enable-werror --disable-asm
# The operations fuzzer (clang, libFuzzer, ASan, UBSan) for a bounded time.
echo "== fuzzing in build-fuzz (${FUZZ_SECONDS:-60}s)"
"$top/tools/fuzz.sh" build-fuzz
# The sanitizers: the whole make check, with the options mk/sanitizers.am sets.
run build-asan --enable-werror --enable-trace --enable-sanitizers CC=clang CXX=clang++
run build-tsan --enable-werror --enable-sanitizers=thread CC=clang CXX=clang++
# Every Check suite under valgrind memcheck, after the ordinary make check.
run build-valgrind --enable-werror --enable-valgrind
if ! make -C "$top/build-valgrind" check-valgrind >"$top/build-valgrind/check-valgrind.out" 2>&1; then
    cat "$top/build-valgrind/check-valgrind.out"
    echo "make check-valgrind failed in build-valgrind" >&2
    exit 1
fi
grep '^check-valgrind:' "$top/build-valgrind/check-valgrind.out"
passed=$((passed + $(sed -n 's/^check-valgrind: [0-9]* suites, \([0-9]*\) tests passed.*/\1/p' \
    "$top/build-valgrind/check-valgrind.out")))
# AArch64 and RISC-V 64: cross-built, the whole make check under qemu-user.
cross() {
    "$top/tools/cross-check.sh" "$1" "build-$1" || exit 1
    out="$top/build-$1/check.out"
    passed=$((passed + $(sed -n 's/^# PASS: *//p' "$out")))
    skipped=$((skipped + $(sed -n 's/^# SKIP: *//p' "$out")))
    # The README examples, compared with tests/expected/ after make check.
    passed=$((passed + $(grep -c '^PASS: examples/' "$top/build-$1/examples.out")))
}
cross aarch64
cross riscv64
# Windows x86-64: cross-built with mingw-w64, the whole make check under wine.
"$top/tools/wine-check.sh" build-mingw || exit 1
passed=$((passed + $(sed -n 's/^# PASS: *//p' "$top/build-mingw/check.out")))
skipped=$((skipped + $(sed -n 's/^# SKIP: *//p' "$top/build-mingw/check.out")))
passed=$((passed + $(grep -c '^PASS: examples/' "$top/build-mingw/examples.out")))

echo "All configurations passed."
echo "tests: $passed passed, 0 failed, $skipped skipped"
