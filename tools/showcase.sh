#!/bin/sh
# tools/showcase.sh - from a fresh checkout: installs what is missing,
# configures and builds Coco in build/, runs three examples and prints a
# benchmark summary, saying what each step does as it starts.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
# Every line as soon as it is written, also through a pipe (| tee).
lb=
command -v stdbuf >/dev/null 2>&1 && lb="stdbuf -oL"

step() { printf '\n== %s\n' "$*"; }

# Progress of a build: a dot for each file compiled or linked (60 to a
# line), then how many; any other line (a peer skipped) as it is.
dots() {
    awk -v what="$1" '
        /^ *(CC|CCLD|CXX|CXXLD) / {
            printf "%s", (n % 60 == 0 ? "  ." : "."); n++
            if (n % 60 == 0) printf "\n"
            fflush(); next }
        { if (n % 60 != 0) { printf "\n"; n += 60 - n % 60 }
          print "  " $0; fflush() }
        END { if (n % 60 != 0) printf "\n"; printf "  %s\n", what }'
}

echo "Coco showcase: installs what is missing, builds Coco, runs three examples and"
echo "compares Coco with Boost, Go and glibc in short benchmarks (a few minutes)."

step "1/5 Packages (build tools; Boost, Go and wrk for the benchmarks)"
"$top/tools/deps.sh" --bench

step "2/5 Configuring (full output: build/config.log)"
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$top/build"
cd "$top/build"
"$top/configure" >configure.out 2>&1 || { tail -n 20 configure.out; exit 1; }
printf '' >.configure-args    # tools/build.sh build: same options, no reconfiguring
# The summary configure prints last.
sed -n '/^configure: *$/,$p' configure.out | sed '1d'

step "3/5 Building the library and the examples"
{ make -j2 2>&1; echo $? >make.rc; } | grep --line-buffered -E '^ *(CC|CCLD) ' |
    dots "built (a dot per file compiled or linked)"
[ "$(cat make.rc)" -eq 0 ] || { echo "build failed: run make -C build for the errors" >&2; exit 1; }

step "4/5 Examples (sources in examples/, programs in build/examples/)"
echo "-- basic: a coroutine gets an argument, yields, and is resumed"
$lb ./examples/basic
echo "-- join_exit: a coroutine returns a result through coco_exit() and coco_join()"
$lb ./examples/join_exit
echo "-- pipeline: stages joined by channels, then a worker pool (last 8 lines)"
$lb ./examples/pipeline | tail -n 8

step "5/5 Benchmarks (short runs; make -C build bench runs them all)"
echo "  building them and their peers (C++ with Boost, Go)..."
{ make -j2 bench BENCH_RUN= 2>&1; echo $? >make.rc; } |
    grep --line-buffered -E '^ *(CC|CCLD|CXX|CXXLD) |skipped' | dots "built"
[ "$(cat make.rc)" -eq 0 ] || { echo "benchmark build failed: run make -C build bench" >&2; exit 1; }
rm -f make.rc
echo
echo "  Every ratio below is Coco's speed-up over a peer: the peer's time / Coco's"
echo "  (for rates, Coco's rate / the peer's).  Above 1, Coco is faster; below, slower."
export COCO_BENCH_NO_LEGEND=1
echo
echo "-- bench_switch: switching between coroutines, and creating them"
$lb bench/bench_switch --quick
echo
echo "-- bench_channel: sending through channels, against Go and Boost.Fiber"
$lb bench/bench_channel
echo
echo "-- bench_threads: two threads (worker groups, skynet), against Go with GOMAXPROCS=2"
$lb bench/bench_threads --quick
echo
echo "-- bench_io: HTTP servers under wrk, against a plain epoll loop and Go, on one"
echo "   thread and on two"
$lb bench/bench_io http

total=$(( $(date +%s) - start ))
cat <<EOF

== Next
  Examples:     examples/*.c (echo_server, http_hello and http_workers are
                network servers; run build/examples/echo_server --help)
  Manual:       man -l man/coco.3 now, or man coco after installing
  Install:      cd build && sudo make install   (then: sudo ldconfig)
  Tests:        make -C build check
  Benchmarks:   make -C build bench   (the full set, a few minutes)
Total time: $((total / 60)) min $((total % 60)) s
EOF
