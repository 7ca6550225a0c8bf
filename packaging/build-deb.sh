#!/bin/sh
# build-deb.sh - builds the Debian packages from a release tarball the way
# a maintainer does: the tarball becomes the .orig.tar.gz, the debian/
# folder is added to its unpacked tree, and dpkg-buildpackage builds the
# binary packages (running `make check` on the way).
#
# Usage: build-deb.sh coco-VERSION.tar.gz DEBIAN-DIR OUTDIR
# The .deb, .changes and .buildinfo files end up in OUTDIR.
#
# SPDX-License-Identifier: MIT
set -eu

tarball=$1 debian=$2 out=$3
base=$(basename "$tarball" .tar.gz)          # coco-0.1.0
name=${base%-*} version=${base##*-}

changelog_version=$(dpkg-parsechangelog -l "$debian/changelog" -S Version)
if test "${changelog_version%-*}" != "$version"; then
  echo "build-deb.sh: debian/changelog is at $changelog_version, the tarball at $version;" >&2
  echo "build-deb.sh: add a changelog entry (dch -v $version-1) first" >&2
  exit 1
fi

mkdir -p "$out"
work=$(cd "$out" && pwd)/deb-build
rm -rf "$work"
mkdir -p "$work"
cp "$tarball" "$work/${name}_$version.orig.tar.gz"
tar -xzf "$tarball" -C "$work"
cp -R "$debian" "$work/$base/debian"
(cd "$work/$base" && dpkg-buildpackage -us -uc -b)
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
rm -rf "$work"
ls -l "$out"/*.deb
