#!/bin/sh
# hookreal-pg.sh - libpq's synchronous API in coroutines under the hook
# library, against a PostgreSQL server made and started here
# (tests/hookreal_pg.c says what is checked); then the same program
# without the hook library, which must fail.  PostgreSQL refuses to run as
# root: as root, the server runs as the user "postgres" (the package
# creates it).  Prints TAP.
#
# SPDX-License-Identifier: MIT
. "${srcdir:-.}/tests/hookreal-lib.sh"

hookreal_common hookreal_pg
bindir=
for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
  if test -n "$d" && test -x "$d/initdb" && test -x "$d/pg_ctl"; then bindir=$d; fi
done
test -n "$bindir" || skip_all "PostgreSQL's initdb and pg_ctl not found (Debian: postgresql)"

as_pg=
if test "$(id -u)" -eq 0; then
  id postgres >/dev/null 2>&1 || skip_all "running as root and there is no user postgres to run the server"
  if command -v runuser >/dev/null 2>&1; then
    as_pg="runuser -u postgres --"
  elif command -v setpriv >/dev/null 2>&1; then
    as_pg="setpriv --reuid=postgres --regid=postgres --init-groups --"
  else
    skip_all "running as root without runuser or setpriv to run the server as postgres"
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-pg.XXXXXX") || exit 1
started=no
cleanup() {
  if test $started = yes; then
    $as_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate -t 20 stop >/dev/null 2>&1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if test -n "$as_pg"; then
  chown postgres "$tmp" || skip_all "cannot give $tmp to the user postgres"
  $as_pg test -w "$tmp" || skip_all "the user postgres cannot write $tmp (set TMPDIR elsewhere)"
fi
# No sync to disk, trust on loopback: a throwaway cluster.
if ! (cd "$tmp" && $as_pg "$bindir/initdb" -D "$tmp/data" -U coco --auth=trust --no-sync \
        --no-instructions >"$tmp/initdb.log" 2>&1); then
  sed 's/^/# /' "$tmp/initdb.log"
  bad "initdb makes a cluster"
  finish
  exit
fi

for attempt in 1 2 3; do
  port=$(./tests/hookreal_port) || break
  if (cd "$tmp" && $as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1); then
    started=yes
    break
  fi
done
if test $started != yes; then
  sed 's/^/# /' "$tmp/server.log" 2>/dev/null
  bad "PostgreSQL starts on 127.0.0.1"
  finish
  exit
fi

conninfo="host=127.0.0.1 port=$port user=coco dbname=postgres connect_timeout=10"
run_hooked "$tmp/hooked.out" ./tests/hookreal_pg "$conninfo"
run_plain "$tmp/plain.out" "10 concurrent pg_sleep" ./tests/hookreal_pg "$conninfo"
finish
