#!/bin/sh
# tools/fuzz.sh [DIR] - builds the operations fuzzer (tests/fuzz/fuzz_ops.c)
# with clang, libFuzzer, AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer, and runs it for FUZZ_SECONDS (default 60),
# starting from the seed corpus.  Exits non-zero when it finds a crash,
# an invariant violation, a leak or undefined behaviour; the input that
# did it is saved in DIR as crash-*, leak-* or timeout-*.
#
#   DIR             work directory, relative to the source tree unless
#                   absolute (default: build-fuzz).  The library is
#                   configured and built in DIR/lib-build; inputs the fuzzer
#                   finds go to DIR/corpus (the seed corpus stays as it is).
#   FUZZ_SECONDS    how long to fuzz
#   FUZZ_JOBS       parallel fuzzing processes (default 1)
#   FUZZ_ARGS       more libFuzzer options, e.g. -seed=1
#   CLANG           the compiler (default: clang)
#
# A reproducer replays with DIR/fuzz_ops FILE, or without libFuzzer with
# the replay program that `make check` builds: tests/fuzz/replay FILE
# (COCO_FUZZ_TRACE=1 prints each operation).  `make fuzz` runs this script.
#
# SPDX-License-Identifier: MIT
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build-fuzz}
case $dir in
    /*) ;;
    *) dir=$top/$dir ;;
esac
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
cc=${CLANG:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer $san"

mkdir -p "$dir/lib-build" "$dir/corpus"

# libFuzzer ships with clang's runtime (Debian: libclang-rt-NN-dev).
probe=$dir/probe.c
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n & 0; }' >"$probe"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe" -o "$dir/probe" 2>"$dir/probe.log"; then
    cat "$dir/probe.log" >&2
    echo "tools/fuzz.sh: $cc cannot link -fsanitize=fuzzer (Debian: apt-get install clang libclang-rt-dev)" >&2
    exit 1
fi
rm -f "$probe" "$dir/probe" "$dir/probe.log"

# The library, instrumented for the sanitizers and for coverage.
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
cd "$dir/lib-build"
args="CC=$cc CFLAGS=$cflags -fsanitize=fuzzer-no-link"
if [ ! -f Makefile ] || [ "$args" != "$(cat .configure-args 2>/dev/null)" ]; then
    "$top/configure" -q --disable-shared --enable-werror CC="$cc" \
        CFLAGS="$cflags -fsanitize=fuzzer-no-link"
    printf '%s' "$args" >.configure-args
fi
make -j2 lib/libcoco.la >build.log 2>&1 || { tail -n 30 build.log >&2; exit 1; }

# The harness, linked with libFuzzer's main.
cd "$dir"
# shellcheck disable=SC2086
"$cc" $cflags -fsanitize=fuzzer -Wall -Wextra -Werror \
    -I"$top/include" -I"$dir/lib-build" \
    "$top/tests/fuzz/fuzz_ops.c" "$top/tests/fuzz/fuzz_sync.c" "$top/tests/fuzz/fuzz_model.c" \
    "$dir/lib-build/lib/.libs/libcoco.a" -o fuzz_ops

# Coroutine stacks are switched by hand: the fake stacks ASan keeps for
# detect_stack_use_after_return cannot follow them.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS
echo "== fuzzing for ${seconds}s ($jobs job(s)) in $dir"
parallel=
[ "$jobs" -gt 1 ] && parallel="-jobs=$jobs -workers=$jobs"
rm -f fuzz-*.log
status=0
# shellcheck disable=SC2086
./fuzz_ops -max_total_time="$seconds" -timeout=10 -max_len=1024 -print_final_stats=1 \
    -artifact_prefix="$dir/" $parallel ${FUZZ_ARGS:-} \
    "$dir/corpus" "$top/tests/fuzz/corpus" >fuzz.log 2>&1 || status=$?
cat fuzz-*.log >>fuzz.log 2>/dev/null || true
grep -E '^#[0-9]+.*(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' fuzz.log || true
if [ $status -ne 0 ]; then
    grep -E -A 30 'ERROR|fuzz invariant|runtime error|SUMMARY' fuzz.log | head -n 60 >&2
    ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* 2>/dev/null >&2 || true
    echo "tools/fuzz.sh: the fuzzer found a problem (log: $dir/fuzz.log)" >&2
    exit 1
fi
echo "tools/fuzz.sh: no problem found in ${seconds}s"
