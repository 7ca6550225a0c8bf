#!/bin/sh
# hookreal-dns.sh - getaddrinfo() in a coroutine under the hook library,
# while the resolver takes DELAY_MS to answer (tests/hookreal_dns.c says
# what is checked); then the same program without the hook library, which
# must fail.  Prints TAP.
#
# glibc's resolver asks the servers of /etc/resolv.conf, on port 53.  The
# real /etc is left alone: the script runs itself again in new user, mount
# and network namespaces (unshare -rmn), where loopback is private, a
# resolv.conf naming 127.0.0.1 is mounted over /etc/resolv.conf, and
# tests/dns_responder answers on 127.0.0.1:53.  Where namespaces cannot be
# made, the test is skipped.
#
# SPDX-License-Identifier: MIT
. "${srcdir:-.}/tests/hookreal-lib.sh"

# Not in /etc/hosts (the "files" source is asked first).
name=coco-hookreal.test
addr=192.0.2.53
delay_ms=300

if test "${1:-}" = --inside; then
  # In the namespaces: $2 is the directory of the outer run.
  tmp=$2
  hook=$3
  rpid=
  cleanup_inside() {
    test -n "$rpid" && kill "$rpid" 2>/dev/null
  }
  trap cleanup_inside EXIT
  trap 'exit 1' INT TERM HUP
  echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
  if ! mount --bind "$tmp/resolv.conf" /etc/resolv.conf 2>"$tmp/mount.err"; then
    skip_all "cannot mount over /etc/resolv.conf in a mount namespace: $(head -n 1 "$tmp/mount.err")"
  fi
  ./tests/dns_responder -l -d $delay_ms -t 30 "$name" "$addr" >"$tmp/responder.out" 2>&1 &
  rpid=$!
  if ! wait_for 10 grep -q '^ready$' "$tmp/responder.out"; then
    sed 's/^/# /' "$tmp/responder.out"
    bad "tests/dns_responder listens on 127.0.0.1:53"
    finish
    exit
  fi
  run_hooked "$tmp/hooked.out" ./tests/hookreal_dns "$name" "$addr" $delay_ms
  run_plain "$tmp/plain.out" "another coroutine kept running during the lookup" \
    ./tests/hookreal_dns "$name" "$addr" $delay_ms
  finish
  exit
fi

hookreal_common hookreal_dns
test -x ./tests/dns_responder || skip_all "tests/dns_responder is not built"
command -v unshare >/dev/null 2>&1 || skip_all "no unshare command (Debian: util-linux)"
command -v mount >/dev/null 2>&1 || skip_all "no mount command (Debian: mount)"
hosts=$(sed -n 's/^hosts:[[:space:]]*//p' /etc/nsswitch.conf 2>/dev/null)
case " $hosts " in
  *" dns "*|*" dns["*) ;;
  *) skip_all "/etc/nsswitch.conf does not ask DNS for host names (hosts: $hosts)" ;;
esac
grep -qi "[[:space:]]$name\([[:space:]]\|\$\)" /etc/hosts 2>/dev/null &&
  skip_all "$name is in /etc/hosts"
unshare -rmn true 2>/dev/null ||
  skip_all "cannot make user, mount and network namespaces (unshare -rmn)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-dns.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
timeout 120 unshare -rmn sh "$0" --inside "$tmp" "$hook"
