#!/bin/sh
# check-valgrind.sh SUITE... - runs each Check suite under valgrind memcheck
# and says how it went; the caller (make check-valgrind) passes VALGRIND,
# VALGRIND_FLAGS and LIBTOOL.  A suite passes when every test in it passes
# and valgrind found no error and no leak of the kinds VALGRIND_FLAGS
# counts.  Each suite's whole output stays in SUITE.vg.log.
#
# The suites run in-process (CK_FORK=no): in the forked mode every test
# runs in a child that valgrind follows only with --trace-children, and a
# leak in a child would pass unseen.  Their results come as TAP.
# COCO_TEST_UNDER_VALGRIND lets a suite leave out a test that cannot work
# under valgrind (each says why); such a test is not counted.
#
# VALGRIND_JOBS suites run at a time (default: the number of CPUs); one
# that hangs is stopped after VALGRIND_TIMEOUT seconds (default 600).
: "${VALGRIND:=valgrind}" "${LIBTOOL:=libtool}" "${VALGRIND_TIMEOUT:=600}"
: "${VALGRIND_JOBS:=$(nproc 2>/dev/null || echo 2)}"
CK_FORK=no
COCO_TEST_UNDER_VALGRIND=1
CK_TAP_LOG_FILE_NAME=-
CK_VERBOSITY=silent
export CK_FORK CK_TAP_LOG_FILE_NAME CK_VERBOSITY COCO_TEST_UNDER_VALGRIND

# Runs one suite; its exit status goes to SUITE.vg.rc, its time to .vg.secs.
run_one() {
    t0=$(date +%s)
    # shellcheck disable=SC2086 # VALGRIND_FLAGS is a list of options
    timeout "$VALGRIND_TIMEOUT" \
        $LIBTOOL --mode=execute "$VALGRIND" $VALGRIND_FLAGS ./"$1" >"$1.vg.log" 2>&1
    echo $? >"$1.vg.rc"
    echo $(($(date +%s) - t0)) >"$1.vg.secs"
}

running=0
for suite in "$@"; do
    run_one "$suite" &
    running=$((running + 1))
    if [ "$running" -ge "$VALGRIND_JOBS" ]; then
        wait
        running=0
    fi
done
wait

suites=0 failed=0 tests=0
for suite in "$@"; do
    log=$suite.vg.log
    rc=$(cat "$suite.vg.rc")
    secs=$(cat "$suite.vg.secs")
    rm -f "$suite.vg.rc" "$suite.vg.secs"
    ok=$(grep -c '^ok ' "$log")
    bad=$(grep -c '^not ok ' "$log")
    suites=$((suites + 1))
    tests=$((tests + ok))
    if [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$ok" -gt 0 ]; then
        echo "PASS: $suite under valgrind ($ok tests, ${secs}s)"
    else
        failed=$((failed + 1))
        echo "FAIL: $suite under valgrind (exit $rc, $ok passed, $bad failed; see $log)"
        grep -E '^(not ok|==[0-9]+==)' "$log" | head -n 40
    fi
done
echo "check-valgrind: $suites suites, $tests tests passed, $failed suites failed"
[ "$failed" -eq 0 ]
