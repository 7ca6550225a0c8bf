#!/bin/sh
# bench_tls.sh - TLS echo servers compared in one run: examples/tls_echo
# (Coco and libcoco-tls, one thread) and a Go crypto/tls server
# (bench/peers/tls_go.go, GOMAXPROCS=1, built here), on the same ECDSA
# P-256 certificate, with TLS 1.3 and TLS_AES_128_GCM_SHA256 (the only
# suite bench/bench_tls_client offers).  Each server runs on CPU 0 and the
# client on CPU 1 (when taskset is there).
#
# Figures per server: full handshakes per second and per server
# CPU-second (16 clients handshaking in a loop), and bulk echo bytes per
# second and per server CPU-second (4 connections echoing 64 KiB chunks).
# Server CPU time is utime + stime from /proc/PID/stat over the measured
# window.  Each figure is the median of BENCH_TLS_ROUNDS rounds (default
# 3), every other round running the servers in the other order.  Then
# Coco's ratio to Go (above 1: Coco is ahead).  The CPU-second figures are
# the ones to compare: the rates per second depend on how fast an idle CPU
# wakes up (Go's runtime spins before it sleeps; a virtual machine's idle
# CPUs can take milliseconds).
#
# Run from the build directory (make bench does).  BENCH_TLS_SECONDS sets
# each window (default 3).
#
# SPDX-License-Identifier: MIT
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_TLS_SECONDS:-3}
client=./bench/bench_tls_client
server=./examples/tls_echo
for f in "$client" "$server"; do
  if ! test -x "$f"; then echo "bench_tls: $f not built; skipped"; exit 0; fi
done
if ! command -v openssl >/dev/null 2>&1; then
  echo "bench_tls: no openssl program; skipped"; exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-bench-tls.XXXXXX") || exit 1
pid=
cleanup() { test -n "$pid" && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 || exit 1

go_peer=
if command -v go >/dev/null 2>&1; then
  if GOCACHE="$tmp/cache" GOPATH="$tmp/gopath" GOFLAGS= \
     go build -o "$tmp/tls_go" "$srcdir/bench/peers/tls_go.go" 2>"$tmp/go.err"; then
    go_peer=$tmp/tls_go
  else
    echo "bench_tls: the Go peer did not build; skipped"; cat "$tmp/go.err"
  fi
else
  echo "bench_tls: no go command; the Go peer is skipped"
fi

pin_server= pin_client=
if command -v taskset >/dev/null 2>&1 && test "$(nproc)" -ge 2; then
  pin_server="taskset -c 0" pin_client="taskset -c 1"
fi
tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start NAME CMD...: starts a server; sets pid and port.
start() {
  name=$1; shift
  # The last round's output would give its port away.
  rm -f "$tmp/$name.out"
  $pin_server "$@" >"$tmp/$name.out" 2>&1 &
  pid=$!
  port= i=0
  while test $i -lt 100 && test -z "$port"; do
    port=$(sed -n 's/^Listening on port \([0-9]*\)$/\1/p' "$tmp/$name.out" 2>/dev/null)
    test -n "$port" || sleep 0.05
    i=$((i + 1))
  done
  test -n "$port"
}

# measure MODE CONNS: runs the client for $secs; prints "count cpu_seconds".
measure() {
  c0=$(cpu_ticks "$pid")
  out=$($pin_client "$client" "$tmp/cert.pem" "$port" "$1" "$secs" "$2")
  c1=$(cpu_ticks "$pid")
  set -- $out
  test "${2:-1}" = 0 || echo "bench_tls: $2 failures" >&2
  echo "$1 $(echo "$c0 $c1 $tck" | awk '{ printf "%.3f", ($2 - $1) / $3 }')"
}

# run NAME: both loads against the running server, then stops it;
# appends "NAME handshakes hs_cpu_s bytes bulk_cpu_s" to $tmp/figures.
run() {
  $pin_client "$client" "$tmp/cert.pem" "$port" hs 0.3 4 >/dev/null  # warm-up
  set -- $(measure hs 16)
  hs=$1 hs_cpu=$2
  set -- $(measure bulk 4)
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  echo "$name $hs $hs_cpu $1 $2" >>"$tmp/figures"
  sleep 0.2 # the stopped server's sockets close
}

# report NAME: the medians of NAME's rounds; sets NAME_hs_per_cpu and
# NAME_bytes_per_cpu.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
report() {
  hs=$(awk -v n="$1" -v s="$secs" '$1 == n { print $2 / s }' "$tmp/figures" | median)
  hsc=$(awk -v n="$1" '$1 == n && $3 > 0 { print $2 / $3 }' "$tmp/figures" | median)
  bw=$(awk -v n="$1" -v s="$secs" '$1 == n { print $4 / s / 1e6 }' "$tmp/figures" | median)
  bwc=$(awk -v n="$1" '$1 == n && $5 > 0 { print $4 / $5 / 1e6 }' "$tmp/figures" | median)
  printf "%-5s handshakes: %6.0f/s %7.0f per server CPU-s   bulk: %7.1f MB/s %7.1f MB per server CPU-s\n" \
    "$1" "$hs" "$hsc" "$bw" "$bwc"
  eval "${1}_hsc=\$hsc ${1}_bwc=\$bwc"
}

rounds=${BENCH_TLS_ROUNDS:-3}
echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs;" \
  "OpenSSL $(openssl version | cut -d' ' -f2); $(command -v go >/dev/null && go version | cut -d' ' -f3)"
echo "TLS 1.3, TLS_AES_128_GCM_SHA256, ECDSA P-256; ${secs} s per figure, median of $rounds rounds"
: >"$tmp/figures"
r=0
while test $r -lt "$rounds"; do
  # Each round in the other order, so that neither server always runs first.
  if test $((r % 2)) -eq 0; then order="coco go"; else order="go coco"; fi
  for name in $order; do
    case $name in
      coco) start coco "$server" server "$tmp/cert.pem" "$tmp/key.pem" 0 &&
              run || { echo "bench_tls: tls_echo did not start"; exit 1; } ;;
      go) test -z "$go_peer" && continue
          if start go env GOMAXPROCS=1 "$go_peer" "$tmp/cert.pem" "$tmp/key.pem" 0; then
            run
          else
            echo "bench_tls: the Go peer did not start; skipped"; go_peer=
          fi ;;
    esac
  done
  r=$((r + 1))
done
report coco
if test -n "$go_peer"; then
  report go
  awk -v a="$coco_hsc" -v b="$go_hsc" -v c="$coco_bwc" -v d="$go_bwc" 'BEGIN {
    printf "coco/go per server CPU-second: handshakes %.2f, bulk bytes %.2f\n", a / b, c / d }'
fi
