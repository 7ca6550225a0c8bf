#!/bin/sh
# tools/showcase.sh - from a fresh checkout: installs what is missing,
# builds Coco, runs the examples and prints a benchmark summary.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh" --bench
"$top/tools/build.sh" build
cd "$top/build"

for ex in basic join_exit; do
    echo "== examples/$ex"
    "./examples/$ex"
done
echo "== examples/pipeline (last lines)"
./examples/pipeline | tail -n 8

echo
echo "== benchmark summary (short runs; \`make -C build bench\` for the full set)"
make -j2 bench BENCH_RUN= >/dev/null
bench/bench_switch --quick
bench/bench_channel
bench/bench_io http
