#!/bin/sh
# soak.sh - the soak test: examples/echo_server, examples/http_hello and
# examples/http_workers (on two worker threads)
# under load from well-behaved and misbehaving clients (tests/soak/
# soak_client, and wrk for HTTP when it is installed) for a bounded time,
# watching the server's resident memory and open descriptors once a
# second.  Run from the build directory; prints TAP.
#
# For each server it asserts:
#   - no reply lost or wrong among the clients that behave, no connection
#     refused, and every misbehaviour (reset mid-request, half-close,
#     silence past the idle timeout, a byte at a time, connect and close,
#     never reading the replies) handled as it should be; wrk, if present, sees no error at all
#     (its connections are its own, so none of our resets reach them);
#   - RSS flat after warm-up: the last sample under load is at most the
#     first one after warm-up plus max(10%, 512 KiB) (and, in runs under
#     30 s, 16 KiB per client connection: see below);
#   - open descriptors bounded under load, and back to the count before
#     the load once the clients are gone;
#   - the server alive afterwards: it answers a last request, and exits
#     with status 0 on SIGTERM.
#
# Environment:
#   SOAK_SECONDS  seconds of load per server after warm-up (default 3, the
#                 short form `make check` runs; `make soak` gives 60)
#   SOAK_WARMUP   seconds of warm-up (default 1; 10 from 30 s of load on)
#   SOAK_IDLE     the servers' idle timeout in seconds (default 1)
#   SOAK_GOOD, SOAK_BAD   well-behaved and misbehaving client threads
#                 (default 8 and 10)
#   SOAK_WRK_CONNS        wrk connections (default 16)
#   SOAK_ONLY     the servers to run, by name, separated by commas or
#                 spaces (default: all three)
#   COCO_TEST_EXEC        runs target programs of a cross build (qemu)
#
# SPDX-License-Identifier: MIT

secs=${SOAK_SECONDS:-3}
warm=${SOAK_WARMUP:-}
if test -z "$warm"; then
  if test "$secs" -ge 30; then warm=10; else warm=1; fi
fi
idle=${SOAK_IDLE:-1}
good=${SOAK_GOOD:-8}
bad=${SOAK_BAD:-10}
wrk_conns=${SOAK_WRK_CONNS:-16}
exec_=${COCO_TEST_EXEC:-}
# Emulated servers answer more slowly; give replies longer.
reply_ms=10000
test -n "$exec_" && reply_ms=60000

n=0
fails=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

tmp=${TMPDIR:-/tmp}/coco-soak.$$
mkdir -p "$tmp" || exit 1
spid= cpid= wpid=
cleanup() {
  for p in $cpid $wpid $spid; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------- helpers
rss_kib() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l | tr -d ' '; }
# "fd -> target" for each open descriptor, to name a leaked one.
fd_list() { ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\) -> /\1 -> /p' | sort -n; }

# Starts an example on a free port (the server picks it), with the options
# that follow its name; sets spid, port.
start_server() {
  name_=$1; shift
  $exec_ "./examples/$name_" "$@" 0 "$idle" >"$tmp/$name_.out" 2>&1 &
  spid=$!
  port=
  i=0
  while test $i -lt 200 && test -z "$port"; do
    port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/$name_.out")
    test -n "$port" || sleep 0.05
    i=$((i + 1))
  done
  test -n "$port"
}

# Stops the server with SIGTERM; true if it exits with status 0.
stop_server() {
  kill -TERM "$spid" 2>/dev/null
  case ",${COCO_SANITIZERS:-}," in
    *,thread,*)
      # ThreadSanitizer defers an asynchronous signal until the thread
      # next passes through one of its interceptors; an idle server sits
      # in epoll_wait until something happens.  One connection makes it
      # happen.
      sleep 0.2
      $exec_ ./tests/soak/soak_client -t 2000 "$proto" "$port" 0 >/dev/null 2>&1 ;;
  esac
  i=0
  while kill -0 "$spid" 2>/dev/null && test $i -lt 200; do sleep 0.05; i=$((i + 1)); done
  if kill -0 "$spid" 2>/dev/null; then
    kill -KILL "$spid" 2>/dev/null   # still running after 10 s: a failure
    wait "$spid"
    spid=
    return 1
  fi
  wait "$spid"
  st=$?
  spid=
  test $st -eq 0
}

# The value of KEY in soak_client's last line ("result: k=v ...").
result() { sed -n "s/^result:.* $1=\\([0-9]*\\).*/\\1/p" "$tmp/client.out"; }

# Sums the errors wrk reports: socket errors of every kind and non-2xx.
wrk_errors() {
  sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p;
          s/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$tmp/wrk.out" |
    awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }'
}

# The read, write and timeout errors wrk reports, summed.
wrk_late_errors() {
  sed -n 's/.*Socket errors: connect [0-9]*, read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3/p' \
    "$tmp/wrk.out" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }'
}

# How long wrk says it ran, in milliseconds ("... requests in 4.01s, ..."),
# empty if it does not say.
wrk_run_ms() {
  sed -n 's/^ *[0-9][0-9]* requests in \([0-9.]*\)\([a-z]*\),.*/\1 \2/p' "$tmp/wrk.out" |
    awk 'BEGIN { u["us"] = 0.001; u["ms"] = 1; u["s"] = 1000; u["m"] = 60000; u["h"] = 3600000 }
         $2 in u { printf "%d\n", $1 * u[$2] }'
}

# --------------------------------------------------------------- soak
# soak NAME PROTO [OPTION...]: one server through warm-up, load, and the
# checks.
soak() {
  name=$1 proto=$2
  shift 2
  count=7     # checks for this server, wrk's included
  test "$proto" = http && count=8
  if ! start_server "$name" "$@"; then
    bad "$name: starts (the server printed no port)"
    i=1
    while test $i -lt $count; do bad "$name: not run"; i=$((i + 1)); done
    return
  fi
  have_proc=no
  test -r "/proc/$spid/status" && have_proc=yes
  # The baseline is taken once the server has served one request: its
  # poller is made on its first wait, which under an emulator can come
  # well after it printed its port.  Then the count must hold still.
  $exec_ ./tests/soak/soak_client -t "$reply_ms" "$proto" "$port" 0 >/dev/null 2>&1
  base_fds=$(fd_count "$spid")
  i=0
  while test $i -lt 50; do
    sleep 0.1
    now_fds=$(fd_count "$spid")
    test "$now_fds" = "$base_fds" && break
    base_fds=$now_fds
    i=$((i + 1))
  done
  fd_list "$spid" >"$tmp/fds.before"
  base_rss=$(rss_kib "$spid")
  total=$((warm + secs))

  $exec_ ./tests/soak/soak_client -c "$good" -m "$bad" -i $((idle * 1000)) -t "$reply_ms" \
    "$proto" "$port" "$total" >"$tmp/client.out" 2>&1 &
  cpid=$!
  wrk_ran=no
  if test "$proto" = http && command -v wrk >/dev/null 2>&1; then
    wrk -t1 -c"$wrk_conns" -d"${total}s" --timeout 10s "http://127.0.0.1:$port/" \
      >"$tmp/wrk.out" 2>&1 &
    wpid=$!
    wrk_ran=yes
  fi

  # One sample a second: "second rss fds".
  : >"$tmp/samples"
  t=0
  while test $t -lt $total && kill -0 "$spid" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    echo "$t $(rss_kib "$spid") $(fd_count "$spid")" >>"$tmp/samples"
  done
  wait "$cpid"
  cst=$?
  cpid=
  if test $wrk_ran = yes; then wait "$wpid"; wpid=; fi
  cat "$tmp/client.out" | sed 's/^/# /'

  alive=yes
  kill -0 "$spid" 2>/dev/null || alive=no
  # Once the clients are gone every connection must be closed; the
  # server may take a moment to notice the last ones.
  end_fds=$(fd_count "$spid")
  i=0
  while test "$alive" = yes && test "$end_fds" != "$base_fds" && test $i -lt $(((idle + 10) * 5)); do
    sleep 0.2
    end_fds=$(fd_count "$spid")
    i=$((i + 1))
  done
  after_rss=$(rss_kib "$spid")
  if test "$end_fds" != "$base_fds"; then
    fd_list "$spid" >"$tmp/fds.after"
    echo "# $name: descriptors before the load and now:"
    diff "$tmp/fds.before" "$tmp/fds.after" | sed 's/^/#   /'
  fi

  replies=$(result replies) wrong=$(result wrong) lost=$(result lost) refused=$(result refused)
  check "$name: no reply lost or wrong among well-behaved clients (${replies:-?} replies, ${wrong:-?} wrong, ${lost:-?} lost, ${refused:-?} refused)" \
    'test -n "$replies" && test "$replies" -gt 0 && test "$wrong" = 0 && test "$lost" = 0 && test "$refused" = 0'
  unhandled=$(result unhandled) misb=$(result misbehaviours)
  check "$name: every misbehaving client handled (${misb:-?} misbehaviours, ${unhandled:-?} not handled)" \
    'test $cst -eq 0 && test -n "$misb" && test "$misb" -gt 0 && test "$unhandled" = 0'

  wrk_reqs=0
  if test "$proto" = http; then
    if test $wrk_ran = yes; then
      sed 's/^/# wrk: /' "$tmp/wrk.out"
      wrk_reqs=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$tmp/wrk.out")
      werr=$(wrk_errors)
      # wrk ends its run within a tenth of a second of its duration,
      # whatever the server does: a request never answered is not even
      # counted (it counts a timeout only when a response comes, later
      # than --timeout after the request, by the wall clock).  So a run
      # that took seconds longer means wrk itself did not run for that
      # long (a stalled machine, or a step of the wall clock), and then
      # what it counts measures the stall: every response it was owed
      # looks late, and the connections it left idle past the server's
      # idle timeout were closed under it (read and write errors).
      # Those are not counted; lost replies are soak_client's to find.
      wrk_ms=$(wrk_run_ms)
      wrk_stall=
      if test -n "$wrk_ms" && test "$wrk_ms" -gt $(((total + 2) * 1000)); then
        late=$(wrk_late_errors)
        werr=$((werr - late))
        wrk_stall="; wrk ran $wrk_ms ms for a $total s run: stalled"
        test "$late" -gt 0 && wrk_stall="$wrk_stall, its $late read, write and timeout errors not counted"
      fi
      check "$name: wrk saw no error (${wrk_reqs:-?} requests, $werr errors$wrk_stall)" \
        'test -n "$wrk_reqs" && test "$wrk_reqs" -gt 0 && test "$werr" -eq 0'
    else
      skip "$name: wrk not found (Debian: apt-get install wrk)"
    fi
  fi

  if test $have_proc = yes; then
    start_rss=$(awk -v w="$warm" '$1 == w { print $2 }' "$tmp/samples")
    last_rss=$(awk 'END { print $2 }' "$tmp/samples")
    max_rss=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$tmp/samples")
    max_fds=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$tmp/samples")
    start_fds=$(awk -v w="$warm" '$1 == w { print $3 }' "$tmp/samples")
    last_fds=$(awk 'END { print $3 }' "$tmp/samples")
    echo "# $name RSS KiB each second: $(awk '{ printf "%s ", $2 }' "$tmp/samples")"
    echo "# $name open fds each second: $(awk '{ printf "%s ", $3 }' "$tmp/samples")"
    slack=$(( ${start_rss:-0} / 10 ))
    test $slack -lt 512 && slack=512
    # A warm-up of a second or two does not reach the peak number of
    # connections open at once, and each new peak brings one more pooled
    # stack (some 16 KiB of touched pages) into use: the short form allows
    # for that, the long one (30 s and more) does not.
    test "$secs" -lt 30 && slack=$((slack + 16 * (good + bad + wrk_conns)))
    if test -n "${COCO_SANITIZERS:-}"; then
      # The sanitizer runtimes keep memory of their own that grows with
      # the traffic (shadow, fake stacks, race history): not ours to judge.
      skip "$name: RSS flat after warm-up: built with sanitizers ($COCO_SANITIZERS)"
    else
      check "$name: RSS flat after warm-up (before load $base_rss KiB; after warm-up ${start_rss:-?} KiB, at the end ${last_rss:-?} KiB, max $max_rss KiB; allowed +$slack KiB)" \
        'test -n "$start_rss" && test -n "$last_rss" && test "$last_rss" -le $((start_rss + slack))'
    fi
    # A misbehaving client moves on while the server still holds its last
    # connection until the idle timeout closes it, so a slow (loaded)
    # machine holds a few per client; the real leak check is the next one.
    conns=$((good + bad + wrk_conns))
    check "$name: open fds bounded under load (before load $base_fds; after warm-up ${start_fds:-?}, at the end ${last_fds:-?}, max $max_fds; allowed $((base_fds + 4 * conns + 16)))" \
      'test "$max_fds" -le $((base_fds + 4 * conns + 16))'
    check "$name: open fds back to $base_fds once the clients left (now $end_fds; RSS $after_rss KiB)" \
      'test "$end_fds" = "$base_fds"'
  else
    for t in "RSS flat" "fds bounded" "fds back to baseline"; do
      skip "$name: $t: no /proc/PID/status here"
    done
  fi

  if test $alive = yes; then
    $exec_ ./tests/soak/soak_client -t "$reply_ms" "$proto" "$port" 0 >"$tmp/probe.out" 2>&1
    pst=$?
    check "$name: still answers after the soak" 'test $pst -eq 0'
  else
    bad "$name: still answers after the soak (the server died: $(tail -n 3 "$tmp/$name.out"))"
  fi
  check "$name: exits cleanly on SIGTERM" stop_server
  echo "# $name: $((${replies:-0} + ${wrk_reqs:-0})) requests served (${replies:-0} checked by soak_client, ${wrk_reqs:-0} by wrk) in ${total} s"
}

# Whether SOAK_ONLY lets server $1 run.
wanted() {
  test -z "${SOAK_ONLY:-}" && return 0
  case " $(echo "$SOAK_ONLY" | tr ',' ' ') " in
    *" $1 "*) return 0 ;;
  esac
  return 1
}

plan=0
wanted echo_server && plan=$((plan + 7))
wanted http_hello && plan=$((plan + 8))
wanted http_workers && plan=$((plan + 8))
echo "1..$plan"
echo "# $secs s of load per server after $warm s of warm-up; idle timeout $idle s;" \
     "$good well-behaved and $bad misbehaving client threads"
wanted echo_server && soak echo_server echo
wanted http_hello && soak http_hello http
# The same server on a worker group of two threads.
wanted http_workers && soak http_workers http -w 2
test $fails -eq 0
