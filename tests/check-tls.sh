#!/bin/sh
# check-tls.sh - drives examples/tls_echo over loopback TCP: with
# `openssl s_client` (echo, a certificate it does not trust), with its own
# client mode (a 300 kB body, a wrong host name), with a peer that goes
# away in the middle of its handshake, then stops it with SIGTERM.  The key and certificate are made with the openssl program in a
# fresh directory, removed at the end.  Skipped without the openssl
# program or timeout(1), and in cross builds (COCO_TEST_EXEC set).
# Prints TAP.
#
# SPDX-License-Identifier: MIT

OPENSSL=${OPENSSL_PROG:-openssl}
if test -n "${COCO_TEST_EXEC:-}"; then
  echo "1..0 # SKIP run under an emulator (COCO_TEST_EXEC)"; exit 0
fi
if ! command -v "$OPENSSL" >/dev/null 2>&1; then
  echo "1..0 # SKIP no openssl program (Debian: apt-get install openssl)"; exit 0
fi
if ! command -v timeout >/dev/null 2>&1; then
  echo "1..0 # SKIP no timeout program"; exit 0
fi

n=0
fails=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
bad()  { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-tls.XXXXXX") || exit 1
pid=
cleanup() {
  test -n "$pid" && kill -CONT "$pid" 2>/dev/null && kill "$pid" 2>/dev/null
  exec 3>&- 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# makecert NAME: NAME.pem and NAME.key, ECDSA P-256, for localhost.
makecert() {
  "$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/$1.key" -out "$tmp/$1.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
}
if ! makecert good || ! makecert other; then
  echo "1..0 # SKIP the openssl program could not make a certificate"; exit 0
fi

echo "1..10"

./examples/tls_echo server "$tmp/good.pem" "$tmp/good.key" 0 >"$tmp/server.out" 2>&1 &
pid=$!
port=
i=0
while test $i -lt 100 && test -z "$port"; do
  port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/server.out" 2>/dev/null)
  test -n "$port" || sleep 0.05
  i=$((i + 1))
done
check "the server starts and prints its port" 'test -n "$port"'

# s_client's input stays open (a fifo) until the echo has come back.
mkfifo "$tmp/in"
timeout 10 "$OPENSSL" s_client -quiet -no_ign_eof -connect "127.0.0.1:$port" -servername localhost \
  -CAfile "$tmp/good.pem" -verify_return_error -verify_hostname localhost \
  <"$tmp/in" >"$tmp/sc.out" 2>"$tmp/sc.err" &
scpid=$!
exec 3>"$tmp/in"
printf 'hello from s_client\n' >&3
i=0
while test $i -lt 100 && ! grep -q '^hello from s_client$' "$tmp/sc.out" 2>/dev/null; do
  sleep 0.1
  i=$((i + 1))
done
exec 3>&-
wait $scpid
check "openssl s_client gets its line echoed" \
  'test "$(cat "$tmp/sc.out")" = "hello from s_client"'

timeout 10 "$OPENSSL" s_client -quiet -no_ign_eof -connect "127.0.0.1:$port" -servername localhost \
  -CAfile "$tmp/other.pem" -verify_return_error </dev/null >/dev/null 2>"$tmp/sc2.err"
st=$?
check "openssl s_client refuses a certificate it does not trust" \
  'test $st -ne 0 && test $st -ne 124 && grep -q "verify error" "$tmp/sc2.err"'

head -c 300000 /dev/urandom >"$tmp/body"
timeout 20 ./examples/tls_echo client "$tmp/good.pem" localhost "$port" \
  <"$tmp/body" >"$tmp/body.echo" 2>"$tmp/client.err"
check "tls_echo client: a 300 kB body comes back unchanged" \
  'cmp -s "$tmp/body" "$tmp/body.echo"'

echo x | timeout 10 ./examples/tls_echo client "$tmp/good.pem" wrong.example "$port" \
  >/dev/null 2>"$tmp/wrong.err"
st=$?
check "tls_echo client refuses a wrong host name, saying why" \
  'test $st -eq 1 && grep -qi "hostname mismatch" "$tmp/wrong.err"'

# A peer that goes away in the middle of its handshake: with the server
# stopped, s_client sends its ClientHello and waits for an answer that
# cannot come; it is killed, then the server goes on and finds a
# connection with a ClientHello and nobody behind it.
failed_before=$(grep -c '^tls_echo:' "$tmp/server.out")
kill -STOP "$pid"
timeout -s KILL 1 "$OPENSSL" s_client -connect "127.0.0.1:$port" -servername localhost \
  </dev/null >/dev/null 2>&1
kill -CONT "$pid"
sleep 0.3
check "the server lives on after a peer that left in the middle of its handshake" \
  'kill -0 "$pid" 2>/dev/null'
check "... whose handshake it reports as failed" \
  'test "$(grep -c "^tls_echo:" "$tmp/server.out")" -gt "$failed_before"'
printf 'after the hang-up\n' | timeout 10 ./examples/tls_echo client "$tmp/good.pem" localhost \
  "$port" >"$tmp/after.out" 2>"$tmp/after.err"
check "... and serves the next client" 'test "$(cat "$tmp/after.out")" = "after the hang-up"'

timeout 5 ./examples/tls_echo >/dev/null 2>&1
st=$?
check "tls_echo without arguments: usage, status 2" 'test $st -eq 2'

kill -TERM "$pid"
i=0
while test $i -lt 100 && kill -0 "$pid" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
  bad "the server stops on SIGTERM"
else
  wait "$pid"
  st=$?
  pid=
  check "the server stops on SIGTERM with status 0" 'test $st -eq 0'
fi
test $fails -eq 0
