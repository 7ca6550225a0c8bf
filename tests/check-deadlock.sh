#!/bin/sh
# check-deadlock.sh - examples/deadlock, run with COCO_DEBUG=deadlock, ends
# in a deadlock and the dump names each coroutine's wait: the join, the
# channel and the mutex with its holder.  Without the variable it prints
# no dump.  Prints TAP.  COCO_TEST_EXEC runs the target program of a cross
# build (an emulator).
prog=${1:-examples/deadlock}
run=${COCO_TEST_EXEC:-}
echo "1..2"
out=$(COCO_DEBUG=deadlock $run "$prog" 2>&1)
ok=1
for pat in \
    '^coco: deadlock: every coroutine waits and nothing can wake one$' \
    '^coco: scheduler 0x[0-9a-f]*: 3 alive, 0 ready, 0 timers armed, 0 waiting for I/O$' \
    '^coroutine 1 waiting: join coroutine 2; created at 0x' \
    '^coroutine 2 waiting: channel 0x[0-9a-f]* recv (capacity 0, length 0); created at 0x' \
    '^coroutine 3 waiting: mutex 0x[0-9a-f]* (held by coroutine 2); created at 0x' \
    '^coco_sched_run: all coroutines are waiting'; do
    if ! printf '%s\n' "$out" | grep -q -- "$pat"; then
        echo "not ok 1 - dump on deadlock: no line matching '$pat'"
        printf '%s\n' "$out" | sed 's/^/# /'
        ok=0
        break
    fi
done
test $ok = 1 && echo "ok 1 - dump on deadlock names every wait"
out=$(env -u COCO_DEBUG $run "$prog" 2>&1)
if ! printf '%s\n' "$out" | grep -q '^coco_sched_run: all coroutines are waiting'; then
    echo "not ok 2 - a dump without COCO_DEBUG=deadlock: the program did not run to its deadlock"
    printf '%s\n' "$out" | sed 's/^/# /'
elif printf '%s\n' "$out" | grep -q '^coroutine '; then
    echo "not ok 2 - a dump without COCO_DEBUG=deadlock"
    printf '%s\n' "$out" | sed 's/^/# /'
else
    echo "ok 2 - no dump without COCO_DEBUG"
fi
