#!/bin/sh
# make-corpus.sh [DIR] - writes the seed corpus of the operations fuzzer
# (default: tests/fuzz/corpus next to this script).  Each seed is a small
# program in the format fuzz_ops.c describes, written here as decimal
# bytes; together they reach every operation, so that fuzzing starts from
# inputs that already do something.  The output is committed; run this
# again after changing the format or the seeds.
#
# SPDX-License-Identifier: MIT
set -eu
dir=${1:-$(dirname "$0")/corpus}
mkdir -p "$dir"

# Opcodes, in the order of fuzz_ops.c.
YIELD=0 SLEEP=1 CHAN_NEW=2 SEND=3 RECV=4 CLOSE=5 CHAN_FREE=6 SELECT=7
SPAWN=8 JOIN=9 DESTROY=10 DETACH=11 EXIT=12 TIMER=13 TIMER_CANCEL=14
MUTEX=15 SEM=16 WG=17 SELF=18
END=255 # separates the outside segment and the scripts

# seed NAME BYTE... - writes the bytes to DIR/NAME.
seed() {
    name=$1
    shift
    : >"$dir/$name"
    for b in "$@"; do
        # shellcheck disable=SC2059
        printf "\\$(printf '%03o' "$b")" >>"$dir/$name"
    done
}

# An unbuffered channel: one sender closes after three values, one
# receiver drains it.  Run ends by closing and running again (mode 0).
seed pingpong 0 \
    $CHAN_NEW 0 $SPAWN 0 $SPAWN 1 $END \
    $SEND 0 $SEND 0 $SEND 0 $CLOSE 0 $END \
    $RECV 0 $RECV 0 $RECV 0 $RECV 0

# A buffered channel (slot 1, capacity 2) with try and timed sends and
# receives (mode bits 3-4 of the argument: 1 try, 2 timeout 0, 3 a
# timeout, whose length bits 5-7 pick).
seed buffered 1 \
    $CHAN_NEW 17 $SEND 9 $SPAWN 0 $SPAWN 1 $END \
    $SEND 1 $SEND 1 $SEND 9 $SEND 17 $SEND 25 $YIELD 0 $CHAN_FREE 1 $END \
    $RECV 9 $YIELD 0 $RECV 1 $RECV 17 $RECV 25

# select: one coroutine receives from two channels, two senders feed
# them, a third select sends with a 1 ms timeout.
seed select 0 \
    $CHAN_NEW 0 $CHAN_NEW 1 $SPAWN 0 $SPAWN 1 $SPAWN 2 $END \
    $SELECT 1 0 1 $SELECT 1 0 1 $SELECT 4 0 1 $SELECT 13 8 1 $END \
    $SEND 0 $RECV 1 $END \
    $SEND 1 $SELECT 2 8 9 17

# Coroutine life: exit with a result, join, detach yourself, destroy
# another, destroy yourself, and the identity checks.
seed lifecycle 1 \
    $SPAWN 0 $SPAWN 1 $SPAWN 2 $SPAWN 3 $END \
    $SELF 0 $YIELD 0 $EXIT 0 $END \
    $JOIN 0 $SELF 0 $DESTROY 0 $END \
    $DETACH 64 $YIELD 0 $SLEEP 0 $END \
    $JOIN 2 $DESTROY 64

# Timers: one sends on a channel when it fires, one is cancelled, one
# spawns a coroutine, and a 1 ms sleep.
seed timers 0 \
    $CHAN_NEW 8 $TIMER 0 5 $TIMER 1 1 $TIMER_CANCEL 1 $TIMER 0 3 $SPAWN 0 $END \
    $RECV 0 $SLEEP 1 $TIMER_CANCEL 0 $TIMER_CANCEL 1

# Mutex, semaphore (semaphore 0 starts with one unit) and wait group.
seed sync 4 \
    $WG 0 $WG 0 $SPAWN 0 $SPAWN 1 $SPAWN 2 $END \
    $MUTEX 0 $YIELD 0 $SEM 0 $YIELD 0 $SEM 4 $MUTEX 6 $WG 2 $END \
    $MUTEX 0 $MUTEX 2 $SEM 0 $SEM 4 $MUTEX 6 $WG 2 $END \
    $WG 4 $SEM 2 $MUTEX 4 $WG 6

# Deadlocks: a receiver nobody sends to and a join cycle; the run ends by
# destroying them (mode 1).
seed deadlock 1 \
    $CHAN_NEW 0 $SPAWN 0 $SPAWN 1 $SPAWN 2 $END \
    $RECV 0 $END \
    $JOIN 2 $END \
    $JOIN 1

# The same left to coco_sched_destroy() (mode 2), with a full buffer and
# a parked sender behind it.
seed sched-destroy 2 \
    $CHAN_NEW 8 $SPAWN 0 $SPAWN 1 $END \
    $SEND 0 $SEND 0 $END \
    $MUTEX 0 $MUTEX 0

# Destroying a channel that has parked receivers and senders, and a
# coroutine destroyed while a value was being handed to it.
seed chan-destroy 0 \
    $CHAN_NEW 0 $CHAN_NEW 1 $SPAWN 0 $SPAWN 0 $SPAWN 1 $SPAWN 2 $END \
    $RECV 0 $SEND 1 $END \
    $YIELD 0 $CHAN_FREE 0 $CHAN_FREE 1 $END \
    $SEND 0 $DESTROY 1 $RECV 1

# Timed waits of every kind on things nobody provides, with lengths in a
# scrambled order (the argument bits that pick them, on the virtual clock:
# 0: 1 ms, 1: 2, 2: 5, 3: 64, 4: 255, 5: 256, 6: 1000, 7: 70000): each must
# run out exactly at its deadline, in deadline order.  Slot 0 is received
# from, slot 1 sent to, slot 2 selected on; semaphore 0 has no unit, wait
# group 0 a count of 1, and mutex 0 is held through a long sleep.
seed timed-waits 0 \
    $CHAN_NEW 0 $CHAN_NEW 1 $CHAN_NEW 2 $WG 0 $TIMER 9 0 $TIMER 13 0 \
    $SPAWN 0 $SPAWN 1 $SPAWN 2 $SPAWN 3 $SPAWN 4 $SPAWN 5 $END \
    $RECV 248 $SLEEP 7 $RECV 56 $END \
    $SEND 153 $SLEEP 15 $END \
    $MUTEX 0 $SLEEP 13 $MUTEX 6 $END \
    $MUTEX 44 $END \
    $SEM 38 $WG 38 $SELECT 60 2 $END \
    $SLEEP 11 $TIMER 1 0 $SLEEP 1

# The same on the real clock (bit 6 of byte 0): the first two waits last
# 1 ms, the others become 0.
seed timed-waits-real 64 \
    $CHAN_NEW 0 $CHAN_NEW 1 $CHAN_NEW 2 $WG 0 $TIMER 9 0 $TIMER 13 0 \
    $SPAWN 0 $SPAWN 1 $SPAWN 2 $SPAWN 3 $SPAWN 4 $SPAWN 5 $END \
    $RECV 248 $SLEEP 7 $RECV 56 $END \
    $SEND 153 $SLEEP 15 $END \
    $MUTEX 0 $SLEEP 13 $MUTEX 6 $END \
    $MUTEX 44 $END \
    $SEM 38 $WG 38 $SELECT 60 2 $END \
    $SLEEP 11 $TIMER 1 0 $SLEEP 1

# Deadlines that fall exactly where the timing wheel cascades a higher
# level (the virtual clock starts at 0, bit 7 of byte 0): sleeps and a
# timer of 256 ms must end right at their deadlines (and a 70 s receive
# timeout, across the second level, at its own).
seed wheel-boundary 128 \
    $CHAN_NEW 0 $TIMER 11 0 $SPAWN 0 $SPAWN 1 $END \
    $SLEEP 11 $SLEEP 11 $END \
    $SLEEP 1 $TIMER 11 0 $RECV 248
