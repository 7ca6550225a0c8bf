#!/bin/sh
# ci-packages.sh - builds the Debian and RPM packages from a fresh release
# tarball and checks the Debian ones with lintian.  Builds in
# ${BUILD_DIR:-build-packages} under the top of the source tree.
#
# Needs (Debian): build-essential autoconf automake libtool pkgconf check
# mandoc debhelper dpkg-dev lintian rpm, and ruby to check the Homebrew
# formula's syntax.
#
# SPDX-License-Identifier: MIT
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if command -v ruby >/dev/null 2>&1; then
  ruby -c packaging/homebrew/coco.rb
else
  echo "ci-packages.sh: ruby not found, Homebrew formula not checked" >&2
fi
build=${BUILD_DIR:-build-packages}
test -x "$top/configure" || (cd "$top" && autoreconf -f -i)
rm -rf "$build"
mkdir -p "$build"
cd "$build"
"$top/configure" -q
make deb
make rpm
# Errors fail the build; warnings are printed for whoever reads the log.
lintian --fail-on error packages/*.changes
echo "ci-packages.sh: packages built in $build/packages:"
ls packages
