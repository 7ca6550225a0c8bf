#!/bin/sh
# check-gdb.sh - gdb can print the backtrace of the running coroutine and,
# through coco__ctx_resume, of a parked one; both end cleanly at the
# coroutine's first frame.  Prints TAP.
prog=${1:-tests/gdb_park}
echo "1..2"
if ! command -v gdb >/dev/null 2>&1; then
    echo "ok 1 # SKIP gdb is not installed"
    echo "ok 2 # SKIP gdb is not installed"
    exit 0
fi
out=$(gdb -nx -batch \
    -ex 'set debuginfod enabled off' \
    -ex 'break stop_here' -ex run \
    -ex 'echo ==running\n' -ex bt \
    -ex 'set $sp = ((struct coco_co *)parked)->ctx.sp' \
    -ex 'set $pc = (void *)&coco__ctx_resume' \
    -ex 'echo ==parked\n' -ex bt \
    -ex kill "$prog" 2>&1)
running=$(printf '%s\n' "$out" | sed -n '/^==running/,/^==parked/p')
parked=$(printf '%s\n' "$out" | sed -n '/^==parked/,$p')

check() { # n, what, text, pattern...
    n=$1 what=$2 text=$3
    shift 3
    for pat in "$@"; do
        if ! printf '%s\n' "$text" | grep -q -- "$pat"; then
            echo "not ok $n - $what: no '$pat' in the backtrace"
            printf '%s\n' "$out" | sed 's/^/# /'
            return
        fi
    done
    if printf '%s\n' "$text" | grep -q 'Backtrace stopped'; then
        echo "not ok $n - $what: the unwinder gave up"
        printf '%s\n' "$out" | sed 's/^/# /'
        return
    fi
    echo "ok $n - $what"
}
# gdb may print the entry symbol as coco.ctx_start for clang builds.
start='coco[._]*ctx_start'
check 1 "backtrace of the running coroutine" "$running" stop_here stopper "$start"
check 2 "backtrace of a parked coroutine" "$parked" park_here parker "$start"
