#!/bin/sh
# tools/deps.sh - installs what building, testing and benchmarking Coco
# needs on Debian or Ubuntu, when it is missing.  Safe to run again.
#
#   tools/deps.sh            what building needs
#   tools/deps.sh --test     also what the whole test suite needs (fuzzing too)
#   tools/deps.sh --bench    also the peers the benchmarks compare against
set -eu

build="build-essential autoconf automake libtool pkg-config check mandoc clang"
bench="libboost-context-dev libboost-fiber-dev golang-go wrk curl"
# libFuzzer and the sanitizer runtimes of clang, for tools/fuzz.sh
fuzz="libclang-rt-14-dev"
# Windows: the mingw-w64 cross compiler and wine run the suite (tools/wine-check.sh).
windows="gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64"
# macOS: llvm-nm, llvm-objdump and llvm-dwarfdump inspect the Mach-O objects
# clang assembles in tests/check-macho.sh (nothing can run them here).
macos="llvm"
cross="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross gcc-riscv64-linux-gnu g++-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user gdb wrk dpkg-dev valgrind lintian rpm debhelper ruby"

# libcoco-tls: OpenSSL to build against, and the openssl program its tests use.
tls="libssl-dev openssl"
want=$build
case "${1:-}" in
    --bench) want="$build $bench $tls" ;;
    --test)  want="$build $fuzz $cross $windows $macos $tls" ;;
esac
# Real client libraries and their servers, for the tests of the hook
# library against them (mk/hookreal.am) and bench/bench_hook_redis.
hookreal="redis-server libhiredis-dev postgresql libpq-dev libcurl4-openssl-dev libevent-dev"
case "${1:-}" in
    --test|--bench) want="$want $hookreal" ;;
esac

missing=
for p in $want; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "All the packages needed are installed."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/deps.sh: please install:$missing" >&2
    exit 1
fi
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo

# Another apt or dpkg run (unattended-upgrades, a package manager window)
# holds the dpkg lock: wait for it, telling so, for COCO_APT_WAIT seconds
# (default 600) before giving up.  apt-get waits for the dpkg lock itself
# with DPkg::Lock::Timeout; "apt-get update" has a lock of its own, so
# each command is also retried while it fails for a lock.
wait_s=${COCO_APT_WAIT:-600}
deadline=$(( $(date +%s) + wait_s ))
log=$(mktemp "${TMPDIR:-/tmp}/coco-deps.XXXXXX")
trap 'rm -f "$log" "$log.rc"' EXIT

# apt_run FILTER ARG...: runs apt-get ARG..., showing the lines of its
# output that match the extended regex FILTER as they come; retried while
# another process holds a lock.
apt_run() {
    filter=$1
    shift
    while :; do
        { DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout="$wait_s" \
              "$@" 2>&1; echo $? >"$log.rc"; } |
            tee "$log" | grep --line-buffered -E "$filter" | sed -u 's/^/    /' || :
        rc=$(cat "$log.rc")
        [ "$rc" -eq 0 ] && return 0
        if grep -q "Could not get lock\|Unable to acquire the dpkg frontend lock\|Unable to lock" "$log" &&
           [ "$(date +%s)" -lt "$deadline" ]; then
            echo "  another apt or dpkg process holds its lock; waiting (up to ${wait_s} s in all)..."
            sleep 5
            continue
        fi
        grep -E '^(E|W):' "$log" | sed 's/^/    /' >&2
        echo "tools/deps.sh: apt-get $* failed (status $rc)" >&2
        return "$rc"
    done
}

echo "Installing with apt-get:$missing"
echo "  updating the package lists..."
apt_run '^(Err|E:|Waiting for)' update
echo "  installing (each package is listed as it is set up)..."
apt_run '^(Setting up|Waiting for|E:)' install -y $missing
echo "  done"
