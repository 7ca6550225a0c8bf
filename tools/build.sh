#!/bin/sh
# tools/build.sh DIR [configure options] - configures Coco in DIR (created
# if needed, relative to the source tree) and builds it.  Used by the other
# scripts; regenerates configure first in a fresh git checkout.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$top/$dir"
cd "$top/$dir"
if [ ! -f Makefile ] || [ "$*" != "$(cat .configure-args 2>/dev/null)" ]; then
    "$top/configure" -q "$@"
    printf '%s' "$*" > .configure-args
fi
make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
