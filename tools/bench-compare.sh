#!/bin/sh
# tools/bench-compare.sh OLD_BUILD NEW_BUILD [ROUNDS] - single-thread
# regression check between two builds of Coco (build directories, each
# configured from its own source tree): the coco_yield() switch of
# bench_switch and the unbuffered ping-pong and select of bench_channel.
#
# The two builds run interleaved, ROUNDS times (default 5), the order
# swapped every round, so that a busy moment of a shared machine does not
# land on one build only.  Printed: each build's median per figure and
# new / old (above 1: the new build is slower).  The peers of the two
# programs are not run.  Both programs pin themselves to one CPU.
#
# Example: the tree as it was at some commit against the working tree:
#   git worktree add --detach ../coco-old COMMIT
#   (cd ../coco-old && tools/build.sh build)
#   tools/build.sh build
#   tools/bench-compare.sh ../coco-old/build build
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: tools/bench-compare.sh OLD_BUILD NEW_BUILD [ROUNDS]" >&2
    exit 2
fi
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
rounds=${3:-5}
case $rounds in
    '' | *[!0-9]*) echo "bench-compare: ROUNDS must be a number" >&2; exit 2 ;;
esac
for b in "$old" "$new"; do
    make -C "$b" bench/bench_switch bench/bench_channel >/dev/null ||
        { echo "bench-compare: cannot build the benchmarks in $b" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# One run of both programs of build $1 (old or new); appends
# "figure value" lines to $tmp/$1.
run() {
    dir=$old
    [ "$1" = new ] && dir=$new
    "$dir/bench/bench_switch" --quick --boost /nonexistent 2>/dev/null |
        awk '/^ *one-way switch/ { print "switch_ns", $3 }' >>"$tmp/$1"
    COCO_BENCH_PEERS=/nonexistent "$dir/bench/bench_channel" |
        awk '$1 == "coco" && $2 == "ping-pong" { print "pingpong_ns", $3 }
             $1 == "coco" && $2 == "select(4)" { print "select_ns", $3 }' >>"$tmp/$1"
}

echo "Single-thread regression check, median of $rounds interleaved rounds"
echo "  old: $old"
echo "  new: $new"
printf '  rounds:'
r=1
while [ "$r" -le "$rounds" ]; do
    printf ' %d' "$r"
    if [ $((r % 2)) -eq 1 ]; then run old; run new; else run new; run old; fi
    r=$((r + 1))
done
printf '\n\n'

# The median of figure $2 in file $1.
med() {
    awk -v f="$2" '$1 == f { print $2 }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

printf '  %-34s %9s %9s %9s\n' "ns per operation (lower is better)" old new "new/old"
for f in switch_ns pingpong_ns select_ns; do
    case $f in
        switch_ns) what="bench_switch one-way yield" ;;
        pingpong_ns) what="bench_channel ping-pong, per msg" ;;
        select_ns) what="bench_channel select(4)" ;;
    esac
    o=$(med "$tmp/old" $f)
    n=$(med "$tmp/new" $f)
    awk -v w="$what" -v o="$o" -v n="$n" 'BEGIN {
        if (o > 0 && n > 0) printf "  %-34s %9.1f %9.1f %9.3f\n", w, o, n, n / o
        else printf "  %-34s   missing (a run failed)\n", w }'
done
