#!/bin/sh
# hookreal-redis.sh - hiredis' synchronous API in coroutines under the
# hook library, against a redis-server started here (tests/hookreal_redis.c
# says what is checked); then the same program without the hook library,
# which must fail.  Prints TAP.
#
# SPDX-License-Identifier: MIT
. "${srcdir:-.}/tests/hookreal-lib.sh"

hookreal_common hookreal_redis
server=$(command -v redis-server) || skip_all "redis-server not found (Debian: redis-server)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-redis.XXXXXX") || exit 1
rpid=
cleanup() {
  test -n "$rpid" || rpid=$(cat "$tmp/redis.pid" 2>/dev/null)
  if test -n "$rpid"; then
    kill "$rpid" 2>/dev/null
    wait_for 5 not_running "$rpid"
  fi
  rm -rf "$tmp"
}
not_running() { ! kill -0 "$1" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A free port; another one if the server could not take it.
started=no
for attempt in 1 2 3; do
  port=$(./tests/hookreal_port) || break
  "$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$tmp" --daemonize yes --pidfile "$tmp/redis.pid" \
    --logfile "$tmp/redis.log" >/dev/null 2>&1 &&
  wait_for 10 test -s "$tmp/redis.pid" &&
  wait_for 10 grep -q "Ready to accept connections" "$tmp/redis.log" &&
  { rpid=$(cat "$tmp/redis.pid"); started=yes; break; }
done
if test $started != yes; then
  sed 's/^/# /' "$tmp/redis.log" 2>/dev/null
  bad "redis-server starts on 127.0.0.1"
  finish
  exit
fi

run_hooked "$tmp/hooked.out" ./tests/hookreal_redis "$port"
run_plain "$tmp/plain.out" "the round trips ran while BLPOP was blocked" \
  ./tests/hookreal_redis "$port"
finish
