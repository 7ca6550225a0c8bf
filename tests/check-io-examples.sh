#!/bin/sh
# check-io-examples.sh - drives the example servers over loopback TCP:
# examples/http_hello with curl (plain, keep-alive, Connection: close,
# pipelined requests, shutdown on SIGTERM) and examples/echo_server.
# Tests needing curl, or bash for raw sockets, are skipped (visibly) when
# the tool is missing.  Prints TAP.
#
# SPDX-License-Identifier: MIT

n=0
fails=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

tmp=${TMPDIR:-/tmp}/coco-io-ex.$$
mkdir -p "$tmp" || exit 1
pid=
cleanup() { test -n "$pid" && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

# Starts an example on a free port; sets pid and port.
start() {
  # COCO_TEST_EXEC runs target programs of a cross build (an emulator).
  ${COCO_TEST_EXEC:-} "./examples/$1" 0 >"$tmp/$1.out" 2>&1 &
  pid=$!
  port=
  i=0
  while test $i -lt 100 && test -z "$port"; do
    port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/$1.out")
    test -n "$port" || sleep 0.05
    i=$((i + 1))
  done
  test -n "$port"
}

# Stops the running example with SIGTERM; true if it exits with status 0.
stop() {
  kill -TERM "$pid"
  case ",${COCO_SANITIZERS:-}," in
    *,thread,*)
      # ThreadSanitizer defers an asynchronous signal until the thread
      # next passes through one of its interceptors; an idle server sits
      # in epoll_wait until something happens.  One connection does it.
      sleep 0.2
      if command -v curl >/dev/null 2>&1; then
        curl -s --max-time 2 "http://127.0.0.1:$port/" >/dev/null 2>&1
      fi ;;
  esac
  i=0
  while kill -0 "$pid" 2>/dev/null && test $i -lt 100; do sleep 0.05; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null   # still running after 5 s: a failure
    wait "$pid"
    pid=
    return 1
  fi
  wait "$pid"
  st=$?
  pid=
  test $st -eq 0
}

echo "1..10"

# ---------------------------------------------------------------- http
if ! start http_hello; then
  bad "http_hello starts"; exit 1
fi
url=http://127.0.0.1:$port/
if command -v curl >/dev/null 2>&1; then
  body=$(curl -s --max-time 10 "$url")
  check "http_hello answers curl" 'test "$body" = "Hello, World!"'
  curl -sv --max-time 10 "$url" "$url" >"$tmp/two.out" 2>"$tmp/two.err"
  check "two requests share one keep-alive connection" \
    'test "$(cat "$tmp/two.out")" = "Hello, World!Hello, World!" &&
     grep -qi "re-using existing connection" "$tmp/two.err"'
  curl -si --max-time 10 -H "Connection: close" "$url" >"$tmp/close.out"
  check "Connection: close is honoured" \
    'grep -qi "^Connection: close" "$tmp/close.out" && grep -q "Hello, World!" "$tmp/close.out"'
  body=$(curl -s --max-time 10 -X POST --data "some body to skip" "$url")
  check "a request body is skipped" 'test "$body" = "Hello, World!"'
else
  for t in "curl request" "keep-alive" "Connection: close" "request body"; do
    skip "$t: curl not found (Debian: apt-get install curl)"
  done
fi
if command -v bash >/dev/null 2>&1; then
  bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
    printf "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3
    timeout 10 cat <&3' >"$tmp/pipe.out" 2>/dev/null
  check "three pipelined requests get three responses, then close" \
    'test "$(grep -c "Hello, World!" "$tmp/pipe.out")" = 3 ||
     test "$(grep -o "Hello, World!" "$tmp/pipe.out" | wc -l)" -eq 3'
else
  skip "pipelining: bash not found"
fi
# Connection: close with a body larger than one read: the server answers
# after the headers, and must read the rest of the body before it closes,
# or the kernel resets the connection and the response can be lost.
if command -v bash >/dev/null 2>&1; then
  bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
    printf "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" >&3
    head -c 100000 /dev/zero >&3 || exit 1
    timeout 10 cat <&3' >"$tmp/post.out" 2>/dev/null
  st=$?
  check "Connection: close after a large body: response, then a clean close" \
    'test $st -eq 0 && grep -q "Hello, World!" "$tmp/post.out"'
else
  skip "large body before close: bash not found"
fi
check "http_hello exits cleanly on SIGTERM" stop

# ---------------------------------------------------------------- echo
if ! start echo_server; then
  bad "echo_server starts"; exit 1
fi
check "echo_server starts" true
if command -v bash >/dev/null 2>&1; then
  reply=$(bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
    printf "hello coco\n" >&3
    read -r -t 10 line <&3 && printf "%s" "$line"' 2>/dev/null)
  check "echo_server echoes a line" 'test "$reply" = "hello coco"'
else
  skip "echo: bash not found"
fi
check "echo_server exits cleanly on SIGTERM" stop

test $fails -eq 0
