#!/bin/bash
# make rpm: build nnp-<version>-1.<arch>.rpm with rpmbuild from packaging/rpm/nnp.spec.
# On Debian (package `rpm`) the BuildRequires are not in an RPM database, so --nodeps.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./scripts/install-deps.sh rpm
VERSION=$(sed -n 's/^Version: *//p' packaging/rpm/nnp.spec)
B=$ROOT/packaging/build/rpm
rm -rf "$B"; mkdir -p "$B"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
tar -C "$ROOT" --exclude=./target --exclude=./packaging/build --exclude=./.git --exclude='./*.deb' --exclude='./*.rpm' \
    --transform "s,^\.,nnp-$VERSION," -czf "$B/SOURCES/nnp-$VERSION.tar.gz" .
cp packaging/rpm/nnp.spec "$B/SPECS/"
CARGO_TARGET_DIR="$ROOT/target" rpmbuild --define "_topdir $B" --nodeps -bb "$B/SPECS/nnp.spec"
find "$B/RPMS" -name '*.rpm' -exec mv {} "$ROOT/" \;
ls -1 "$ROOT"/nnp-"$VERSION"-*.rpm
