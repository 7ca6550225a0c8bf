#!/bin/sh
# check-gdb.sh - gdb can print the backtrace of the running coroutine and,
# through coco__ctx_resume, of a parked one; both end cleanly at the
# coroutine's first frame.  Then the same through the commands of
# lib/debug/libcoco-gdb.py: info coroutines, coroutine ID bt.  Prints TAP.
prog=${1:-tests/gdb_park}
srcdir=${srcdir:-.}
script=$srcdir/lib/debug/libcoco-gdb.py
echo "1..6"
if ! command -v gdb >/dev/null 2>&1; then
    for n in 1 2 3 4 5 6; do echo "ok $n # SKIP gdb is not installed"; done
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

# The extension: gdb without Python cannot load it.
if ! gdb -nx -batch -ex 'python print("py")' 2>/dev/null | grep -q '^py$'; then
    for n in 3 4 5 6; do echo "ok $n # SKIP this gdb has no Python"; done
    exit 0
fi
out=$(gdb -nx -batch \
    -ex 'set debuginfod enabled off' \
    -ex "source $script" \
    -ex "set environment ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    -ex 'break stop_here' -ex run \
    -ex 'echo ==info\n' -ex 'info coroutines' \
    -ex 'echo ==bt1\n' -ex 'coroutine 1 bt' \
    -ex 'echo ==bt2\n' -ex 'coroutine 2 bt' \
    -ex 'echo ==after\n' -ex bt -ex continue "$prog" 2>&1)
info=$(printf '%s\n' "$out" | sed -n '/^==info/,/^==bt1/p')
bt1=$(printf '%s\n' "$out" | sed -n '/^==bt1/,/^==bt2/p')
bt2=$(printf '%s\n' "$out" | sed -n '/^==bt2/,/^==after/p')
after=$(printf '%s\n' "$out" | sed -n '/^==after/,$p')
check 3 "info coroutines" "$info" \
    '^coco: scheduler 0x[0-9a-f]* (thread 1): 3 alive, 1 ready, 0 timers armed, 0 waiting for I/O$' \
    '^coroutine 1 ready; created at 0x[0-9a-f]* <main+[0-9]*>; stack [0-9]*, in use [0-9]*$' \
    '^coroutine 2 waiting: channel 0x[0-9a-f]* recv (capacity 0, length 0); created at' \
    '^coroutine 3 running; created at'
check 4 "coroutine ID bt of parked coroutines" "$bt1$bt2" \
    park_here parker waiter wait_one "$start"
# The registers are back: the running coroutine unwinds as before and the
# program runs to its end (LeakSanitizer, which cannot work under a
# debugger, is told to stay out).
check 5 "registers restored after coroutine ID bt" "$after" \
    stop_here stopper "$start" 'exited normally'

# Installed, the script is named after the library file so that gdb
# auto-loads it for every program linked to libcoco.so.  Here the built
# library stands in for the installed one, and a scratch directory for
# gdb's auto-load directory.
so=
for f in lib/.libs/libcoco.so.*.*.*; do test -f "$f" && so=$f; done
if test -z "$so" || ! test -x ./libtool || ! test -f examples/deadlock; then
    echo "ok 6 # SKIP no shared library built"
    exit 0
fi
name=$(basename "$so")
if ! test -f "lib/debug/$name-gdb.py"; then
    echo "not ok 6 - the gdb script is not named after $name"
    ls lib/debug | sed 's/^/# /'
    exit 0
fi
real=$(cd "$(dirname "$so")" && pwd -P)/$name
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir$(dirname "$real")"
cp "lib/debug/$name-gdb.py" "$dir$real-gdb.py"
out=$(./libtool --mode=execute gdb -nx -batch \
    -iex 'set debuginfod enabled off' \
    -iex "add-auto-load-scripts-directory $dir" \
    -iex "set auto-load safe-path $dir" \
    -ex "set environment ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    -ex 'break coco_strerror' -ex run \
    -ex 'info coroutines' -ex kill examples/deadlock 2>&1)
check 6 "gdb auto-loads the script for libcoco.so" "$out" \
    '^coroutine 2 waiting: channel 0x[0-9a-f]* recv' \
    '^coroutine 3 waiting: mutex 0x[0-9a-f]* (held by coroutine 2)'
