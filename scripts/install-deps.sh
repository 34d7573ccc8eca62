#!/bin/bash
# Install what building, testing and the demo need (Debian 12). Idempotent: only missing
# packages are installed, and `apt-get update` runs at most once.
set -euo pipefail
PKGS=(gcc make libpam0g-dev libpam-modules libpam-runtime pamtester openssh-server
      openssh-client sudo bubblewrap util-linux iproute2 procps python3 login bsdutils
      rsync tmux screen dropbear-bin valgrind file strace
      debhelper dpkg-dev fakeroot lintian rpm
      clang libelf-dev zlib1g-dev pkg-config bpftool libcap2-bin
      qemu-system-x86 qemu-utils busybox-static cpio mmdebstrap
      btrfs-progs xfsprogs e2fsprogs
      python3-jsonschema
      ansible-core ansible-lint
      dwarves bc flex bison libssl-dev)
PKGS+=("$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# promtool (checks `nnpctl metrics`): on PATH, or extracted from Debian's prometheus package
# into target/tools without installing it (see scripts/promtool.sh)
"$(dirname "$0")/promtool.sh" >/dev/null || echo "install-deps: warning: no promtool: the metrics tests will fail" >&2
command -v cargo >/dev/null || { echo "install-deps: cargo not found (install Rust with rustup)" >&2; exit 1; }
