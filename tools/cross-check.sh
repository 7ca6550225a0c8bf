#!/bin/sh
# tools/cross-check.sh ARCH [DIR [CONFIGURE-OPTION...]] - cross-builds
# Coco for another CPU and runs the whole `make check` with every test
# program executed under qemu-user, then the README examples against their
# expected output.
#
#   ARCH   aarch64 or riscv64
#   DIR    build directory, relative to the source tree unless absolute
#          (default: build-ARCH)
#   CONFIGURE-OPTION  more options for configure, e.g. --disable-asm
#
# Installs what is missing first: the cross compiler and C library, qemu-user
# and the target's Check library.  Check comes from Debian's archive for the
# target architecture (multiarch) where Debian builds it; otherwise (riscv64
# on Debian 12) it is built from Debian's source package of Check into
# $COCO_CROSS_PREFIX/TRIPLET (default /opt/coco-cross), once.
#
# No binfmt_misc registration is needed: automake runs each test through a
# small runner in DIR (LOG_COMPILER), which starts target programs, libtool
# wrapper scripts included, under qemu.  Test scripts run on the host and
# find the runner in $COCO_TEST_EXEC for the target programs they start.
# The log is DIR/check.out; the automake summary is printed at the end.
#
# SPDX-License-Identifier: MIT
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

arch=${1:-}
case $arch in
    aarch64) triplet=aarch64-linux-gnu debarch=arm64 ;;
    riscv64) triplet=riscv64-linux-gnu debarch=riscv64 ;;
    *) echo "usage: tools/cross-check.sh aarch64|riscv64 [DIR [CONFIGURE-OPTION...]]" >&2; exit 2 ;;
esac
dir=${2:-build-$arch}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
case $dir in
    /*) build=$dir ;;
    *)  build=$top/$dir ;;
esac
qemu=qemu-$arch
prefix=${COCO_CROSS_PREFIX:-/opt/coco-cross}/$triplet
jobs=$(nproc 2>/dev/null || echo 2)

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
apt_install() {
    echo "Installing: $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# ------------------------------------------------------------ toolchain
updated=no
missing=
for p in "gcc-$triplet" "g++-$triplet" "libc6-dev-$debarch-cross" qemu-user pkg-config \
         make autoconf automake libtool dpkg-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $sudo apt-get update -qq
    updated=yes
    # shellcheck disable=SC2086
    apt_install $missing
fi

# ------------------------------------------------- the target's Check
# Debian 12 builds Check for arm64; riscv64 is an official architecture
# only from Debian 13 on.
debian_builds_arch() {
    case $1 in
        riscv64)
            ver=$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-0}")
            [ "${ver%%.*}" -ge 13 ] 2>/dev/null ;;
        *) true ;;
    esac
}

# Check from Debian's source package, built the way debian/rules builds
# its libcheck_pic.a (static, position independent, here without subunit).
check_from_source() {
    [ -f "$prefix/lib/pkgconfig/check.pc" ] && return 0
    echo "Building Check for $triplet from Debian's source package into $prefix"
    work=$(mktemp -d "${TMPDIR:-/tmp}/coco-check-src.XXXXXX")
    # A private apt state with the deb-src line: the system's sources stay
    # as they are.
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
        echo "cross-check: cannot fetch Debian's source package of Check" >&2
        exit 1
    }
    src=$(find "$work" -maxdepth 1 -type d -name 'check-*' | head -n 1)
    mkdir -p "$work/build"
    (cd "$work/build" &&
        "$src/configure" -q --host="$triplet" --prefix="$prefix" \
            --disable-shared --enable-subunit=no --disable-build-docs \
            CFLAGS="-O2 -fPIC" &&
        make -j"$jobs" &&
        $sudo make install &&
        $sudo cp "$prefix/lib/libcheck.a" "$prefix/lib/libcheck_pic.a") \
        >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        echo "cross-check: building Check for $triplet failed" >&2
        exit 1
    }
    rm -rf "$work"
}

if [ -f "/usr/lib/$triplet/pkgconfig/check.pc" ]; then
    check_pc=/usr/lib/$triplet/pkgconfig
elif [ -z "${COCO_CHECK_FROM_SOURCE:-}" ] && debian_builds_arch "$arch"; then
    if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
        $sudo dpkg --add-architecture "$debarch"
        updated=no
    fi
    [ $updated = yes ] || $sudo apt-get update -qq
    apt_install "check:$debarch"
    check_pc=/usr/lib/$triplet/pkgconfig
else
    check_from_source
    check_pc=$prefix/lib/pkgconfig
fi

# --------------------------------------------------------------- build
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
cd "$build"
args="--host=$triplet --enable-werror PKG_CONFIG=pkg-config PKG_CONFIG_LIBDIR=$check_pc $*"
if [ ! -f Makefile ] || [ "$args" != "$(cat .configure-args 2>/dev/null)" ]; then
    # shellcheck disable=SC2086
    "$top/configure" -q $args
    printf '%s' "$args" >.configure-args
fi
echo "== $arch: cross build in $build"
make -j"$jobs" >build.out 2>&1 || { tail -n 40 build.out >&2; exit 1; }

# The runner: target programs (and libtool's wrapper scripts around them)
# under qemu, test scripts on the host.  The timeouts of the Check suites
# stretch because every instruction is emulated.  The target's C library is
# the multiarch one when Debian's libc6:$debarch is installed (check:$debarch
# brings it), else the cross one; never a mix of both, since the dynamic
# loader must come from the same build as libc.so.6.
ldprefix=/usr/$triplet
[ -f "/lib/$triplet/libc.so.6" ] && ldprefix=/
cat >cross-run <<EOF
#!/bin/sh
# Written by tools/cross-check.sh: runs one test of this $triplet build.
QEMU_LD_PREFIX=$ldprefix
COCO_TEST_EXEC=$build/cross-run
CK_TIMEOUT_MULTIPLIER=\${CK_TIMEOUT_MULTIPLIER:-4}
export QEMU_LD_PREFIX COCO_TEST_EXEC CK_TIMEOUT_MULTIPLIER
case \$(od -An -tx1 -N4 "\$1" 2>/dev/null | tr -d ' \\n') in
    7f454c46) exec $qemu "\$@" ;;
esac
if sed -n 1,5p "\$1" 2>/dev/null | grep -q 'Generated by libtool'; then
    exec "$build/libtool" --mode=execute $qemu "\$@"
fi
[ -x "\$1" ] && exec "\$@"
exec /bin/sh "\$@"
EOF
chmod +x cross-run

echo "== $arch: make check under $qemu"
status=0
COCO_TEST_EXEC=$build/cross-run make -j"$jobs" check LOG_COMPILER="$build/cross-run" \
    >check.out 2>&1 || status=$?
grep -E '^(FAIL|ERROR|XPASS|SKIP)' check.out || true
if [ $status -ne 0 ]; then
    for log in $(sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\).*/\2.log/p' check.out | sort -u); do
        echo "--- $log"
        grep -v '^ok ' "$log" 2>/dev/null | tail -n 40 || true
    done
    grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' check.out || tail -n 30 check.out
    echo "cross-check: make check failed for $arch (log: $build/check.out)" >&2
    exit 1
fi

# The README examples print exactly what tests/expected/ holds.
: >examples.out
for exp in "$top"/tests/expected/*.out; do
    name=$(basename "$exp" .out)
    [ -e "examples/$name" ] || continue
    if ./cross-run "examples/$name" 2>&1 | cmp -s "$exp" -; then
        echo "PASS: examples/$name" >>examples.out
    else
        echo "FAIL: examples/$name differs from tests/expected/$name.out" >>examples.out
    fi
done
cat examples.out
if grep -q '^FAIL' examples.out; then
    echo "cross-check: an example printed the wrong output under $qemu" >&2
    exit 1
fi

echo "== $arch: $($qemu --version | head -n 1)"
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' check.out
echo "# examples: $(grep -c '^PASS' examples.out) passed"
