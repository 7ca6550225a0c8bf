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

want=$build
case "${1:-}" in
    --bench) want="$build $bench" ;;
    --test)  want="$build $fuzz $cross $windows $macos" ;;
esac

missing=
for p in $want; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/deps.sh: please install:$missing" >&2
    exit 1
fi
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "Installing:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
