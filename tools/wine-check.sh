#!/bin/sh
# tools/wine-check.sh [DIR [CONFIGURE-OPTION...]] - cross-builds Coco for
# Windows x86-64 with mingw-w64 (a DLL and its import library) and runs the
# whole `make check` with every test program executed under wine, then the
# README examples against their expected output.
#
#   DIR    build directory, relative to the source tree unless absolute
#          (default: build-mingw)
#
# Installs what is missing first: the mingw-w64 cross compiler, wine, and
# Check for mingw, which Debian does not package: it is built from Debian's
# source package of Check into $COCO_CROSS_PREFIX/x86_64-w64-mingw32
# (default /opt/coco-cross), once.
#
# Automake runs each test through a small runner in DIR (LOG_COMPILER): a
# Windows program goes to wine, its DLLs found through WINEPATH, in a wine
# prefix of its own under DIR; test scripts run on the host.  Windows has
# no fork(), so Check runs the cases of a suite one after the other in one
# process (CK_FORK=no), and its per-case timeouts do not apply.
# The log is DIR/check.out; the automake summary is printed at the end.
#
# SPDX-License-Identifier: MIT
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

triplet=x86_64-w64-mingw32
dir=${1:-build-mingw}
if [ $# -ge 1 ]; then shift; fi
case $dir in
    /*) build=$dir ;;
    *)  build=$top/$dir ;;
esac
prefix=${COCO_CROSS_PREFIX:-/opt/coco-cross}/$triplet
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] || jobs=2

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
apt_install() {
    echo "Installing: $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# ------------------------------------------------------------ toolchain
missing=
for p in gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64 \
         wine wine64 pkg-config make autoconf automake libtool dpkg-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    apt_install $missing
fi

# ------------------------------------------------------ Check for mingw
# Built the way tools/cross-check.sh builds it for riscv64, with two
# changes for mingw: the C99 printf family (Check formats with %jd), and
# clock_gettime taken from winpthreads, which its configure misses; it
# would otherwise link a stand-in whose clock never moves into every test.
# Its header declares its message functions as printf-like, which gcc for
# mingw reads as msvcrt's printf (no %jd): the installed copy says
# gnu_printf.
check_from_source() {
    [ -f "$prefix/lib/pkgconfig/check.pc" ] && return 0
    echo "Building Check for $triplet from Debian's source package into $prefix"
    work=$(mktemp -d "${TMPDIR:-/tmp}/coco-check-src.XXXXXX")
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    mirror=$(sed -n 's,^URIs: *\(http[^ ]*/debian\)/*$,\1,p; s,^deb  *\(\[[^]]*\] *\)\{0,1\}\(http[^ ]*/debian\)/* .*,\2,p' \
                 /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                 /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
    mirror=${mirror:-http://deb.debian.org/debian}
    mkdir -p "$work/etc" "$work/lists/partial" "$work/cache/archives/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $codename main" \
        >"$work/etc/sources.list"
    aptsrc="-o Dir::Etc::SourceList=$work/etc/sources.list -o Dir::Etc::SourceParts=/nonexistent
            -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    (cd "$work" && apt-get $aptsrc -qq update && apt-get $aptsrc -qq source check) \
        >"$work/apt.log" 2>&1 || {
        cat "$work/apt.log" >&2
        echo "wine-check: cannot fetch Debian's source package of Check" >&2
        exit 1
    }
    src=$(find "$work" -maxdepth 1 -type d -name 'check-*' | head -n 1)
    mkdir -p "$work/build"
    (cd "$work/build" &&
        "$src/configure" -q --host="$triplet" --prefix="$prefix" \
            --disable-shared --enable-subunit=no --disable-build-docs \
            CFLAGS="-O2" CPPFLAGS="-D__USE_MINGW_ANSI_STDIO=1" LIBS="-lpthread" \
            ac_cv_func_clock_gettime=yes ac_cv_have_decl_clock_gettime=yes &&
        make -j"$jobs" &&
        $sudo make install &&
        $sudo sed -i 's/CK_ATTRIBUTE_FORMAT(printf,/CK_ATTRIBUTE_FORMAT(gnu_printf,/' \
            "$prefix/include/check.h" &&
        $sudo cp "$prefix/lib/libcheck.a" "$prefix/lib/libcheck_pic.a") \
        >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        echo "wine-check: building Check for $triplet failed" >&2
        exit 1
    }
    rm -rf "$work"
}
check_from_source

# --------------------------------------------------------------- build
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
cd "$build"
args="--host=$triplet --enable-werror PKG_CONFIG=pkg-config PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig $*"
if [ ! -f Makefile ] || [ "$args" != "$(cat .configure-args 2>/dev/null)" ]; then
    # shellcheck disable=SC2086
    "$top/configure" -q $args
    printf '%s' "$args" >.configure-args
fi
echo "== windows: cross build in $build"
make -j"$jobs" >build.out 2>&1 || { tail -n 40 build.out >&2; exit 1; }

# ---------------------------------------------------------------- wine
# A prefix of our own, created once (the first start takes a while); no
# Mono or Gecko installers.  A program that crashes (one test crashes a
# child on purpose) gets wine's debugger, which prints a backtrace to the
# test's log and ends it with the exception code as Windows would.
WINEPREFIX=$build/wineprefix
WINEDEBUG=-all
WINEDLLOVERRIDES="mscoree,mshtml="
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "== windows: creating the wine prefix"
    wineboot -i >/dev/null 2>&1 || true
fi
# One wine server for the whole run instead of one per program.
wineserver -p 2>/dev/null || true
trap 'wineserver -k 2>/dev/null || true' EXIT

gccdll=$(dirname "$($triplet-gcc -print-libgcc-file-name)")
cat >wine-run <<EOF
#!/bin/sh
# Written by tools/wine-check.sh: runs one test of this Windows build.
WINEPREFIX=$WINEPREFIX
WINEDEBUG=-all
WINEDLLOVERRIDES="mscoree,mshtml="
WINEPATH="$build/lib/.libs;/usr/$triplet/lib;$gccdll"
COCO_TEST_EXEC=$build/wine-run
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES WINEPATH COCO_TEST_EXEC
case \$1 in
    *.exe)
        # libtool's wrapper runs the program in .libs/ next to it.
        real=\$(dirname "\$1")/.libs/\$(basename "\$1")
        [ -f "\$real" ] || real=\$1
        shift
        exec wine "\$real" "\$@" ;;
esac
[ -x "\$1" ] && exec "\$@"
exec /bin/sh "\$@"
EOF
chmod +x wine-run

echo "== windows: make check under wine"
status=0
COCO_TEST_EXEC=$build/wine-run make -j"$jobs" check LOG_COMPILER="$build/wine-run" \
    >check.out 2>&1 || status=$?
grep -E '^(FAIL|ERROR|XPASS|SKIP)' check.out || true
if [ $status -ne 0 ]; then
    for log in $(sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\).*/\2/p' check.out | sort -u); do
        log=${log%.exe}.log
        echo "--- $log"
        grep -v '^ok ' "$log" 2>/dev/null | tail -n 40 || true
    done
    grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' check.out || tail -n 30 check.out
    echo "wine-check: make check failed (log: $build/check.out)" >&2
    exit 1
fi

# The README examples print exactly what tests/expected/ holds (wine's
# console turns newlines into CRLF).
: >examples.out
for exp in "$top"/tests/expected/*.out; do
    name=$(basename "$exp" .out)
    [ -e "examples/$name.exe" ] || continue
    if ./wine-run "examples/$name.exe" 2>&1 | tr -d '\r' | cmp -s "$exp" -; then
        echo "PASS: examples/$name" >>examples.out
    else
        echo "FAIL: examples/$name differs from tests/expected/$name.out" >>examples.out
    fi
done
cat examples.out
if grep -q '^FAIL' examples.out; then
    echo "wine-check: an example printed the wrong output under wine" >&2
    exit 1
fi

echo "== windows: $(wine --version)"
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' check.out
echo "# examples: $(grep -c '^PASS' examples.out) passed"
