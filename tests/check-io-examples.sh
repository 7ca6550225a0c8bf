#!/bin/sh
# check-io-examples.sh - drives the example servers over loopback TCP:
# examples/http_hello with curl (plain, keep-alive, Connection: close,
# pipelined requests, shutdown on SIGTERM), its answers to malformed
# requests over raw sockets, examples/http_workers (the same server on a
# worker group: concurrent clients, shutdown with connections open), and
# examples/echo_server; and the servers' command lines (bad ports, --help,
# the listening address).
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

# start NAME [OPTION...]: starts an example on a free port; sets pid and port.
start() {
  ex=$1
  shift
  # An earlier run's output would give its port away before the new
  # program's redirection has emptied the file.
  rm -f "$tmp/$ex.out"
  # COCO_TEST_EXEC runs target programs of a cross build (an emulator).
  ${COCO_TEST_EXEC:-} "./examples/$ex" "$@" 0 >"$tmp/$ex.out" 2>&1 &
  pid=$!
  port=
  i=0
  while test $i -lt 100 && test -z "$port"; do
    port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/$ex.out" 2>/dev/null)
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

# raw NAME FORMAT [ADDR]: sends printf FORMAT to the server at ADDR
# (default 127.0.0.1) over a raw socket, then reads until the server
# closes (10 s at most) into $tmp/NAME.out; sets st to the exit status of
# that read (0: a clean end of file; not 0: a reset, or no close in time).
raw() {
  bash -c '
    exec 3<>/dev/tcp/'"${3:-127.0.0.1}/$port"' || exit 1
    printf "$1" >&3
    timeout 10 cat <&3' _ "$2" >"$tmp/$1.out" 2>"$tmp/$1.err"
  st=$?
}
# Answered with one 400 and nothing else, then a clean close.
only400() {
  test $st -eq 0 && grep -q "^HTTP/1.1 400 " "$tmp/$1.out" &&
    test "$(grep -o "HTTP/1.1 [0-9]" "$tmp/$1.out" | wc -l)" -eq 1
}

# usage_case NAME EXPECTED-STATUS ARG...: runs an example that must exit at once.
usage_case() {
  ex=$1 want=$2
  shift 2
  timeout 10 ${COCO_TEST_EXEC:-} "./examples/$ex" "$@" >"$tmp/usage.out" 2>"$tmp/usage.err"
  test $? -eq "$want"
}

echo "1..58"

# ------------------------------------------------------- command lines
for ex in http_hello http_workers echo_server; do
  for arg in 99999 65536 -1 notaport 80x ""; do
    check "$ex '$arg': usage on stderr, exit status 2" \
      'usage_case $ex 2 "$arg" && grep -q "^usage: " "$tmp/usage.err" && ! test -s "$tmp/usage.out"'
  done
  check "$ex --help: usage on stdout, exit status 0" \
    'usage_case $ex 0 --help && grep -q "^usage: " "$tmp/usage.out" && grep -q -- "-a ADDR" "$tmp/usage.out"'
  check "$ex -a with a bad address: exit status 2" \
    'usage_case $ex 2 -a 300.1.2.3 0 && grep -q "^usage: " "$tmp/usage.err"'
done
for arg in 1025 -1 x; do
  check "http_workers -w '$arg': usage on stderr, exit status 2" \
    'usage_case http_workers 2 -w "$arg" 0 && grep -q "^usage: " "$tmp/usage.err"'
done
# -a: listening on 127.0.0.2 only (all of 127/8 is loopback on Linux), so
# 127.0.0.1 is refused.
if command -v bash >/dev/null 2>&1 && test "$(uname -s)" = Linux && start echo_server -a 127.0.0.2; then
  reply=$(bash -c '
    exec 3<>/dev/tcp/127.0.0.2/'"$port"' || exit 1
    printf "on two\n" >&3
    read -r -t 10 line <&3 && printf "%s" "$line"' 2>/dev/null)
  bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port" 2>/dev/null
  other=$?
  check "echo_server -a 127.0.0.2 listens there, and only there" \
    'test "$reply" = "on two" && test $other -ne 0'
  stop
else
  skip "-a 127.0.0.2: needs bash, Linux and a server that starts"
fi

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
# Malformed requests: a 400, then a clean close (no reset that could
# destroy the 400 before the client reads it).
if command -v bash >/dev/null 2>&1; then
  raw lf 'GET / HTTP/1.1\nHost: x\n\nGET / HTTP/1.1\nHost: x\nConnection: close\n\n'
  check "requests whose lines end in a bare LF are answered" \
    'test $st -eq 0 && test "$(grep -o "Hello, World!" "$tmp/lf.out" | wc -l)" -eq 2'
  raw body 'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nConnection: close\r\n\r\n'
  check "a body announced by Content-Length is skipped before the next request" \
    'test $st -eq 0 && test "$(grep -o "HTTP/1.1 200 " "$tmp/body.out" | wc -l)" -eq 2'
  next='GET / HTTP/1.1\r\nHost: x\r\n\r\n'
  raw neg "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n$next"
  check "Content-Length: -1: 400 and close, the next request not taken as body" 'only400 neg'
  raw big "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n$next"
  check "an overflowing Content-Length: 400 and close" 'only400 big'
  raw junk "POST / HTTP/1.1\r\nContent-Length: 12ab\r\n\r\n$next"
  check "a Content-Length that is not a number: 400 and close" 'only400 junk'
  raw twolen "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!$next"
  check "two different Content-Length values: 400 and close" 'only400 twolen'
  raw te "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
  check "a Transfer-Encoding body (not supported): 400 and close" 'only400 te'
  raw empty '\r\n\r\n'
  check "an empty request: 400 and close" 'only400 empty'
  raw nuls '\0\0\0\r\n\r\n'
  check "NULs, then an empty line: 400 and close" 'only400 nuls'
  raw noversion 'GET /\r\n\r\n'
  check "a request line without a version: 400 and close" 'only400 noversion'
  raw nocolon 'GET / HTTP/1.1\r\nHost x\r\n\r\n'
  check "a header line without a colon: 400 and close" 'only400 nocolon'
  raw huge "GET / HTTP/1.1\r\nX: $(head -c 40000 /dev/zero | tr '\0' a)"
  check "an oversized header block: 400, then a clean close, not a reset" 'only400 huge'
else
  for t in lf body neg big junk twolen te empty nuls noversion nocolon huge; do
    skip "malformed request ($t): bash not found"
  done
fi
check "http_hello exits cleanly on SIGTERM" stop
check "http_hello says it is shutting down" 'grep -q "^Shutting down" "$tmp/http_hello.out"'


# ------------------------------------------------------- http_workers
if ! start http_workers -w 2; then
  bad "http_workers starts"; exit 1
fi
url=http://127.0.0.1:$port/
if command -v curl >/dev/null 2>&1; then
  curl -sv --max-time 10 "$url" "$url" >"$tmp/w2.out" 2>"$tmp/w2.err"
  check "http_workers answers two requests on one keep-alive connection" \
    'test "$(cat "$tmp/w2.out")" = "Hello, World!Hello, World!" &&
     grep -qi "re-using existing connection" "$tmp/w2.err"'
  # 16 clients at once, 5 keep-alive requests each: 80 answers.
  i=0 clients=
  while test $i -lt 16; do
    curl -s --max-time 20 "$url" "$url" "$url" "$url" "$url" >"$tmp/wc.$i" 2>/dev/null &
    clients="$clients $!"
    i=$((i + 1))
  done
  wait $clients
  check "http_workers answers 16 concurrent keep-alive clients (80 requests)" \
    'test "$(cat "$tmp"/wc.* | grep -o "Hello, World!" | wc -l)" -eq 80'
else
  skip "http_workers keep-alive: curl not found (Debian: apt-get install curl)"
  skip "http_workers concurrent clients: curl not found"
fi
if command -v bash >/dev/null 2>&1; then
  raw wpipe 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n'
  check "http_workers: three pipelined requests, three responses, a clean close" \
    'test $st -eq 0 && test "$(grep -o "Hello, World!" "$tmp/wpipe.out" | wc -l)" -eq 3'
  raw wbad 'GET /\r\n\r\n'
  check "http_workers: a malformed request gets a 400 and a close" 'only400 wbad'
  # A client that keeps its connection open and idle: the shutdown must
  # end it (the server then reads an end of file there and exits).
  bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1; timeout 10 cat <&3 >/dev/null' \
    2>/dev/null &
  idle_client=$!
  sleep 0.3
  check "http_workers exits cleanly on SIGTERM with an idle connection open" stop
  wait "$idle_client"
  check "http_workers shut the idle connection down (the client saw an end of file)" \
    'test $? -eq 0'
  check "http_workers says it is shutting down" 'grep -q "^Shutting down" "$tmp/http_workers.out"'
else
  for t in pipelined malformed shutdown eof message; do skip "http_workers $t: bash not found"; done
  stop
fi


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
