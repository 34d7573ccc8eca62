#!/bin/bash
# Print the path of a promtool, Prometheus' checker for the text exposition format: the
# one on PATH, else one extracted from Debian's `prometheus` package into target/tools/
# (apt-get download and dpkg-deb -x: nothing is installed, so no Prometheus server is set
# up on the host just to run a checker; the package is 96 MB installed with its web UI).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
TOOLS=${CARGO_TARGET_DIR:-$ROOT/target}/tools
if [ ! -x "$TOOLS/promtool" ]; then
  mkdir -p "$TOOLS"
  d=$(mktemp -d /tmp/nnp-promtool.XXXXXX); trap 'rm -rf "$d"' EXIT
  chmod 755 "$d"
  (cd "$d" && apt-get download -q prometheus >/dev/null 2>&1) ||
    { echo "promtool.sh: apt-get download prometheus failed" >&2; exit 1; }
  dpkg-deb --fsys-tarfile "$d"/prometheus_*.deb | tar -x -C "$d" ./usr/bin/promtool
  install -m 0755 "$d/usr/bin/promtool" "$TOOLS/promtool"
fi
echo "$TOOLS/promtool"
