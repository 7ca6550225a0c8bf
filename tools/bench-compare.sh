#!/bin/sh
# tools/bench-compare.sh [--callgrind] OLD_BUILD NEW_BUILD [ROUNDS] -
# single-thread regression check between two builds of Coco (build
# directories, each configured from its own source tree): the coco_yield()
# switch of bench_switch and the unbuffered ping-pong and select of
# bench_channel.
#
# The two builds run interleaved, ROUNDS times (default 5), the order
# swapped every round, so that a busy moment of a shared machine does not
# land on one build only.  Printed: each build's median per figure and
# new / old (above 1: the new build is slower).  The peers of the two
# programs are not run.  Both programs pin themselves to one CPU.
#
# --callgrind counts instructions instead, which a busy machine does not
# disturb: bench/hotpath.c, linked with each build's static library, runs
# each load at two sizes under valgrind --tool=callgrind, and the
# difference of the totals over the difference of the sizes is the cost
# of one operation, without the start and the end.
#
# Example: the tree as it was at some commit against the working tree:
#   git worktree add --detach ../coco-old COMMIT
#   (cd ../coco-old && tools/build.sh build)
#   tools/build.sh build
#   tools/bench-compare.sh ../coco-old/build build
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
grind=
if [ "${1:-}" = --callgrind ]; then
    grind=1
    shift
fi
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: tools/bench-compare.sh [--callgrind] OLD_BUILD NEW_BUILD [ROUNDS]" >&2
    exit 2
fi
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
rounds=${3:-5}
case $rounds in
    '' | *[!0-9]*) echo "bench-compare: ROUNDS must be a number" >&2; exit 2 ;;
esac

if [ -n "$grind" ]; then
    command -v valgrind >/dev/null 2>&1 ||
        { echo "bench-compare: --callgrind needs valgrind" >&2; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT INT TERM
    small=20000
    big=40000
    for b in old new; do
        dir=$old
        [ $b = new ] && dir=$new
        make -C "$dir" lib/libcoco.la >/dev/null ||
            { echo "bench-compare: cannot build the library in $dir" >&2; exit 1; }
        src=$(sed -n 's/^abs_top_srcdir = //p' "$dir/Makefile")
        ${CC:-cc} -O2 -I"$src/include" -o "$tmp/hotpath-$b" "$top/bench/hotpath.c" \
            "$dir/lib/.libs/libcoco.a" -pthread ||
            { echo "bench-compare: cannot build bench/hotpath.c against $dir" >&2; exit 1; }
    done
    # Instructions of one run: build $1, load $2, size $3.
    count() {
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
            "$tmp/hotpath-$1" "$2" "$3" >/dev/null 2>&1 ||
            { echo "bench-compare: hotpath $2 $3 failed under valgrind" >&2; exit 1; }
        sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$tmp/cg.out" |
            head -n 1
    }
    echo "Single-thread regression check, instructions per operation (callgrind)"
    echo "  old: $old"
    echo "  new: $new"
    printf '\n  %-34s %9s %9s %9s\n' "instructions per operation" old new "new/old"
    for load in yield pingpong select; do
        case $load in
            yield) what="coco_yield(), per switch" ;;
            pingpong) what="ping-pong, per round trip" ;;
            select) what="select(4), per receive" ;;
        esac
        o1=$(count old $load $small); o2=$(count old $load $big)
        n1=$(count new $load $small); n2=$(count new $load $big)
        awk -v w="$what" -v o1="$o1" -v o2="$o2" -v n1="$n1" -v n2="$n2" \
            -v d=$((big - small)) 'BEGIN {
            o = (o2 - o1) / d; n = (n2 - n1) / d
            printf "  %-34s %9.1f %9.1f %9.3f\n", w, o, n, (o > 0 ? n / o : 0) }'
    done
    exit 0
fi
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
