#!/bin/sh
# build-rpm.sh - builds the RPM packages from a release tarball with
# rpmbuild, the spec's %check running `make check`.
#
# Usage: build-rpm.sh coco-VERSION.tar.gz SPEC OUTDIR
# The binary and source RPMs end up in OUTDIR.  The spec's Version is set
# from the tarball.  Build dependencies are not checked against the RPM
# database (--nodeps), which is empty when rpmbuild runs on Debian; they
# must be installed as system packages.  RPMBUILD_FLAGS adds options
# (for example --nocheck).
#
# SPDX-License-Identifier: MIT
set -eu

tarball=$1 spec=$2 out=$3
base=$(basename "$tarball" .tar.gz)
version=${base##*-}

mkdir -p "$out"
top=$(cd "$out" && pwd)/rpm-build
rm -rf "$top"
mkdir -p "$top/SOURCES" "$top/SPECS"
cp "$tarball" "$top/SOURCES/"
sed "s/^Version:.*/Version:        $version/" "$spec" > "$top/SPECS/coco.spec"
# shellcheck disable=SC2086
rpmbuild --nodeps ${RPMBUILD_FLAGS:-} --define "_topdir $top" \
  --define "debug_package %{nil}" \
  -ba "$top/SPECS/coco.spec"
find "$top/RPMS" "$top/SRPMS" -name '*.rpm' -exec mv {} "$out"/ \;
rm -rf "$top"
ls -l "$out"/*.rpm
