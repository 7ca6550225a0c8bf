#!/bin/sh
# bench-hook-redis.sh - starts a redis-server on 127.0.0.1 (a free port, a
# directory of its own, on the first CPU when taskset is there) and runs
# bench/bench_hook_redis against it; stops the server and removes the
# directory on every way out.  Run from the build directory (make bench).
# Without redis-server, the hook library or the bench program, says so and
# skips.
#
# SPDX-License-Identifier: MIT
bench=./bench/bench_hook_redis
if ! test -x "$bench"; then
  echo "bench_hook_redis: not built (needs hiredis and libevent); skipped"
  exit 0
fi
server=$(command -v redis-server) || {
  echo "bench_hook_redis: redis-server not found (Debian: redis-server); skipped"
  exit 0
}
hook=${COCO_HOOK_LIB:-}
if test -z "$hook"; then
  ! test -f lib/.libs/libcoco-hook.so || hook=$PWD/lib/.libs/libcoco-hook.so
fi
if test -z "$hook"; then
  echo "bench_hook_redis: the hook library is not built; skipped"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-bench-redis.XXXXXX") || exit 1
rpid=
cleanup() {
  test -n "$rpid" || rpid=$(cat "$tmp/redis.pid" 2>/dev/null)
  if test -n "$rpid"; then
    kill "$rpid" 2>/dev/null
    i=0
    while kill -0 "$rpid" 2>/dev/null && test $i -lt 50; do
      sleep 0.1; i=$((i + 1))
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pin=
command -v taskset >/dev/null 2>&1 && test "$(nproc)" -gt 1 && pin="taskset -c 0"
started=no
for attempt in 1 2 3; do
  port=$(./tests/hookreal_port 2>/dev/null) || port=$((20000 + $$ % 20000 + attempt))
  $pin "$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$tmp" --daemonize yes --pidfile "$tmp/redis.pid" \
    --logfile "$tmp/redis.log" >/dev/null 2>&1 || continue
  i=0
  while test $i -lt 100; do
    if grep -q "Ready to accept connections" "$tmp/redis.log" 2>/dev/null &&
       test -s "$tmp/redis.pid"; then
      rpid=$(cat "$tmp/redis.pid")
      started=yes
      break
    fi
    sleep 0.1
    i=$((i + 1))
  done
  test $started = yes && break
done
if test $started != yes; then
  echo "bench_hook_redis: redis-server did not start" >&2
  cat "$tmp/redis.log" >&2 2>/dev/null
  exit 1
fi
grep -m1 'model name' /proc/cpuinfo 2>/dev/null
"$bench" -p "$port" -H "$hook"
