#!/bin/sh
# check-man.sh - the man pages: every page under man/ is clean under
# `mandoc -Tlint -W warning`, has its sections in the conventional order,
# is headed as a page of Coco, not of BSD (.Os Coco, and the volume name
# groff 1.22 would otherwise print as "BSD Library Functions Manual"), and
# is installed (listed in dist_man3_MANS).
#
# Alias pages (a single `.so man3/<page>.3` line) are not given to mandoc,
# which flags every .so request as fragile; their target must exist.
#
# Environment: srcdir (set by automake), MANDOC, MAN_PAGES (the value of
# dist_man3_MANS).  Prints TAP.
#
# SPDX-License-Identifier: MIT

srcdir=${srcdir:-.}
MANDOC=${MANDOC:-mandoc}
mandir=$srcdir/man

pages=$(cd "$mandir" 2>/dev/null && ls *.3 2>/dev/null)
if test -z "$pages"; then
  echo "1..1"
  echo "not ok 1 - no man pages found in $mandir"
  exit 1
fi
if ! command -v "$MANDOC" >/dev/null 2>&1; then
  echo "1..1"
  echo "ok 1 # SKIP mandoc not found (Debian: apt-get install mandoc)"
  exit 0
fi

# The sections every page has, in this order.
sections='NAME
LIBRARY
SYNOPSIS
DESCRIPTION
RETURN VALUES
EXAMPLES
ERRORS
SEE ALSO'

n=0
for p in $pages; do n=$((n + 2)); done
echo "1..$n"

i=0 failed=0
ok() { i=$((i + 1)); echo "ok $i - $*"; }
fail() { i=$((i + 1)); failed=1; echo "not ok $i - $*"; }

listed() {
  for m in $MAN_PAGES; do
    test "$(basename "$m")" = "$1" && return 0
  done
  return 1
}

for p in $pages; do
  f=$mandir/$p
  if grep -q '^\.so ' "$f"; then
    target=$(sed -n 's|^\.so man3/||p' "$f")
    if test "$(grep -c . "$f")" -eq 1 && test -n "$target" &&
       test -f "$mandir/$target" && ! grep -q '^\.so ' "$mandir/$target"; then
      ok "$p: alias of $target"
    else
      fail "$p: an alias page is one line '.so man3/<page>.3' naming an existing page"
    fi
  else
    out=$("$MANDOC" -Tlint -W warning "$f" 2>&1)
    status=$?
    got=$(sed -n 's/^\.Sh //p' "$f" | tr -d '"')
    if test $status -ne 0 || test -n "$out"; then
      fail "$p: mandoc -Tlint -W warning"
      echo "$out" | sed 's/^/# /'
    elif ! grep -q '^\.Os Coco$' "$f" ||
         ! grep -q '^\.ds doc-volume-operating-system Coco$' "$f"; then
      fail "$p: headed as a Coco page (.Os Coco, and the volume name groff 1.22 shows)"
    elif test "$got" != "$sections"; then
      fail "$p: sections are not NAME, LIBRARY, SYNOPSIS, DESCRIPTION, RETURN VALUES, EXAMPLES, ERRORS, SEE ALSO"
      echo "$got" | sed 's/^/#   found: /'
    else
      ok "$p: mandoc -Tlint clean, sections in order"
    fi
  fi
  if test -z "${MAN_PAGES+set}" || listed "$p"; then
    ok "$p is installed"
  else
    fail "$p is not listed in dist_man3_MANS, so it is not installed"
  fi
done
exit $failed
