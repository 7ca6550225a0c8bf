#!/bin/sh
# hookreal-curl.sh - libcurl's easy API in coroutines under the hook
# library, against examples/http_hello started here, which the test
# program stops for a moment so that every transfer has to wait
# (tests/hookreal_curl.c says what is checked); then the same program
# without the hook library, which must fail.  Prints TAP.
#
# SPDX-License-Identifier: MIT
. "${srcdir:-.}/tests/hookreal-lib.sh"

hookreal_common hookreal_curl
test -x ./examples/http_hello || skip_all "examples/http_hello is not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-curl.XXXXXX") || exit 1
pid=
cleanup() {
  if test -n "$pid"; then
    # The test stops the server for a while: a stopped process takes
    # SIGTERM only once it goes on.
    kill -CONT "$pid" 2>/dev/null
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Port 0: the server takes a free port and prints it.
./examples/http_hello -a 127.0.0.1 0 >"$tmp/server.out" 2>&1 &
pid=$!
port_of() {
  port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/server.out")
  test -n "$port"
}
if ! wait_for 10 port_of; then
  sed 's/^/# /' "$tmp/server.out"
  bad "examples/http_hello starts on 127.0.0.1"
  finish
  exit
fi
port_of

run_hooked "$tmp/hooked.out" ./tests/hookreal_curl "$port" "$pid"
run_plain "$tmp/plain.out" "the transfers waited for the stopped server together" \
  ./tests/hookreal_curl "$port" "$pid"
finish
