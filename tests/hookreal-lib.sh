# hookreal-lib.sh - sourced by the scripts that drive real client
# libraries under the hook library (tests/hookreal-*.sh).  They run from
# the build directory.  Each script starts its server in a directory of
# its own (mktemp -d) on 127.0.0.1 and a free port, and a trap stops the
# server and removes the directory on every way out.
#
# SPDX-License-Identifier: MIT

# The whole script does not apply here: one TAP skip line, exit 0.
skip_all() {
  echo "1..0 # SKIP $*"
  exit 0
}

n=0
fails=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# finish: the plan, and the exit status.
finish() {
  echo "1..$n"
  test $fails -eq 0
}

# hookreal_common PROGRAM: the skips every script shares.  Sets hook to
# the hook library to preload.
hookreal_common() {
  test "$(uname -s)" = Linux || skip_all "the hook library is for Linux"
  test -z "${COCO_TEST_EXEC:-}" || skip_all "cross build run under an emulator"
  test -z "${COCO_SANITIZERS:-}" ||
    skip_all "sanitizer build: the hook library cannot be preloaded before the sanitizer runtime"
  test -z "${COCO_TEST_UNDER_VALGRIND:-}" || skip_all "under valgrind"
  test -x "./tests/$1" || skip_all "tests/$1 is not built (its client library was not found by configure)"
  test -x ./tests/hookreal_port || skip_all "tests/hookreal_port is not built"
  hook=${COCO_HOOK_LIB:-}
  # Named by the build (configure built the library): it must be there.
  if test -n "$hook" && ! test -f "$hook"; then
    bad "the hook library $hook exists"
    finish
    exit 1
  fi
  if test -z "$hook"; then
    ! test -f lib/.libs/libcoco-hook.so || hook=$PWD/lib/.libs/libcoco-hook.so
  fi
  test -n "$hook" && test -f "$hook" || skip_all "the hook library is not built"
}

# run_hooked OUT PROGRAM ARG...: runs a test program (bounded by 60 s)
# with the hook library preloaded, its output in OUT; passes its TAP
# lines on, renumbered after the script's own, without its plan (the
# script prints the plan at its end, with finish).
run_hooked() {
  out=$1
  shift
  # Through env: the library is preloaded into the program, not timeout.
  timeout 60 env LD_PRELOAD="$hook${LD_PRELOAD:+ $LD_PRELOAD}" "$@" >"$out" 2>&1
  st=$?
  before=$fails
  relay "$out"
  test $st -eq 0 || test $fails -ne $before ||
    bad "$(basename "$1") exits with status 0 (status $st)"
}

# run_plain OUT PATTERN PROGRAM ARG...: runs the same program without the
# hook library: it must fail, on the check whose text matches PATTERN (an
# extended regular expression) -- the proof that the checks see the
# difference the hook makes.
run_plain() {
  out=$1 pattern=$2
  shift 2
  timeout 60 "$@" >"$out" 2>&1
  st=$?
  sed -n 's/^not ok [0-9]* - /#   without the hook: not ok - /p' "$out"
  if test $st -ne 0 && grep -Eq "^not ok [0-9]+ - ($pattern)" "$out"; then
    ok "without the hook library the same program fails: $pattern"
  else
    bad "without the hook library the same program fails: $pattern (status $st)"
  fi
}

# relay OUT: the TAP lines of OUT, renumbered; other lines as comments.
relay() {
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "${line#ok * - }" ;;
      "not ok "*) bad "${line#not ok * - }" ;;
      1..*) ;;
      "#"*) echo "$line" ;;
      *) echo "# $line" ;;
    esac
  done <"$1"
}

# wait_for SECONDS COMMAND...: true once COMMAND succeeds, polled every
# 0.1 s for at most SECONDS.
wait_for() {
  limit=$(($1 * 10))
  shift
  i=0
  while test $i -lt $limit; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}
