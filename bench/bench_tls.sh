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
# window.  Then Coco's ratio to Go (above 1: Coco is ahead).
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

# run NAME: both loads against the running server; sets NAME_* figures.
run() {
  $pin_client "$client" "$tmp/cert.pem" "$port" hs 0.3 4 >/dev/null  # warm-up
  set -- $(measure hs 16)
  hs=$1 hs_cpu=$2
  set -- $(measure bulk 4)
  bytes=$1 bulk_cpu=$2
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  awk -v n="$name" -v hs="$hs" -v hc="$hs_cpu" -v b="$bytes" -v bc="$bulk_cpu" -v s="$secs" 'BEGIN {
    printf "%-6s handshakes: %8.0f/s %9.0f per server CPU-s (cpu %.2f s)   bulk: %8.1f MB/s %8.1f MB per server CPU-s (cpu %.2f s)\n",
      n, hs / s, (hc > 0 ? hs / hc : 0), hc, b / s / 1e6, (bc > 0 ? b / bc / 1e6 : 0), bc }'
  eval "${name}_hs=\$hs ${name}_hsc=\$hs_cpu ${name}_b=\$bytes ${name}_bc=\$bulk_cpu"
}

echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs;" \
  "OpenSSL $(openssl version | cut -d' ' -f2); $(command -v go >/dev/null && go version | cut -d' ' -f3)"
echo "TLS 1.3, TLS_AES_128_GCM_SHA256, ECDSA P-256; ${secs} s per figure"
name=coco
start coco "$server" server "$tmp/cert.pem" "$tmp/key.pem" 0 || { echo "bench_tls: tls_echo did not start"; exit 1; }
run
if test -n "$go_peer"; then
  name=go
  if start go env GOMAXPROCS=1 "$go_peer" "$tmp/cert.pem" "$tmp/key.pem" 0; then
    run
    awk -v a="$coco_hs" -v ac="$coco_hsc" -v b="$go_hs" -v bc="$go_hsc" \
        -v c="$coco_b" -v cc="$coco_bc" -v d="$go_b" -v dc="$go_bc" 'BEGIN {
      printf "coco/go handshakes per server CPU-s: %.2f   bulk bytes per server CPU-s: %.2f\n",
        (a / ac) / (b / bc), (c / cc) / (d / dc) }'
  else
    echo "bench_tls: the Go peer did not start; skipped"
  fi
fi
