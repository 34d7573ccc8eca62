#!/bin/bash
# make deb: build nnp_<version>_<arch>.deb with debhelper (dpkg-buildpackage -b) from a copy
# of the source tree, reusing the workspace's cargo build; the .deb lands in the repo root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./scripts/install-deps.sh debhelper dpkg-dev fakeroot lintian
VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
B=$ROOT/packaging/build
rm -rf "$B"
mkdir -p "$B/nnp-$VERSION"
tar -C "$ROOT" --exclude=./target --exclude=./packaging/build --exclude=./.git --exclude='./*.deb' \
    -cf - . | tar -C "$B/nnp-$VERSION" -xf -
cp -r packaging/debian "$B/nnp-$VERSION/debian"
( cd "$B/nnp-$VERSION" && CARGO_TARGET_DIR="$ROOT/target" dpkg-buildpackage -b -us -uc )
mv "$B"/nnp_"$VERSION"_*.deb "$ROOT/"
ls -1 "$ROOT"/nnp_"$VERSION"_*.deb
