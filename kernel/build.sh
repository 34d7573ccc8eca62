#!/bin/bash
# Build Debian 12's linux-source-6.1 with the patch series in this directory and the small
# config in config.fragment, for the qemu tests. The result is cached outside the clone,
# keyed by a hash of the patches, the fragment, this script and the source package's
# version, so only a cold cache pays the build (~6 min on 2 cores).
#
#   kernel/build.sh          build if needed; print the cache directory holding
#                            bzImage and bprm_no_new_privs (the series' selftest, static)
#
# Cache: $NNP_KERNEL_CACHE, else /var/cache/nnp-kernel as root, else ~/.cache/nnp-kernel.
# Nothing is installed on the host: the source package is fetched with apt-get download and
# unpacked under the cache. Needs: dwarves bc flex bison libssl-dev libelf-dev gcc make.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${NNP_KERNEL_CACHE:-}" ]; then CACHE=$NNP_KERNEL_CACHE
elif [ "$(id -u)" = 0 ]; then CACHE=/var/cache/nnp-kernel
else CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/nnp-kernel; fi
mkdir -p "$CACHE/src"
log() { echo "kernel/build.sh: $*" >&2; }

# The source package: the version apt knows now (fetched once per version).
ver=$(apt-cache show --no-all-versions linux-source-6.1 2>/dev/null | awk '/^Version:/{print $2; exit}')
if [ -z "$ver" ]; then apt-get update -qq >/dev/null 2>&1 || true
  ver=$(apt-cache show --no-all-versions linux-source-6.1 | awk '/^Version:/{print $2; exit}'); fi
[ -n "$ver" ] || { log "cannot resolve linux-source-6.1"; exit 1; }
key=$( { echo "$ver"; cat "$HERE"/0*.patch "$HERE/config.fragment" "$0"; } | sha256sum | cut -c1-16)
OUT="$CACHE/$key"
if [ -e "$OUT/bzImage" ] && [ -e "$OUT/bprm_no_new_privs" ]; then echo "$OUT"; exit 0; fi

# One builder at a time; a second caller waits and then finds the result.
exec 9>"$CACHE/lock"
flock 9
if [ -e "$OUT/bzImage" ] && [ -e "$OUT/bprm_no_new_privs" ]; then echo "$OUT"; exit 0; fi

deb=$(ls "$CACHE/src/linux-source-6.1_${ver}"_all.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  log "fetching linux-source-6.1 $ver"
  (cd "$CACHE/src" && apt-get download -q "linux-source-6.1=$ver" >/dev/null 2>&1) || { log "apt-get download failed"; exit 1; }
  deb=$(ls "$CACHE/src/linux-source-6.1_${ver}"_all.deb | head -n1)
fi
W="$CACHE/work-$key"
rm -rf --one-file-system "$CACHE"/work-*; mkdir -p "$W"  # what an interrupted build left
trap 'rm -rf --one-file-system "$W"' EXIT
t0=$(date +%s)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$W" --wildcards './usr/src/linux-source-6.1.tar.*'
tar -xaf "$W"/usr/src/linux-source-6.1.tar.* -C "$W"
S="$W/linux-source-6.1"
for p in "$HERE"/0[0-9][0-9][1-9]-*.patch; do
  patch -d "$S" -p1 --quiet --forward < "$p" || { log "$(basename "$p") does not apply"; exit 1; }
done
make -s -C "$S" tinyconfig >/dev/null
(cd "$S" && scripts/kconfig/merge_config.sh -m .config "$HERE/config.fragment" >/dev/null 2>&1)
make -s -C "$S" olddefconfig >/dev/null
# every option asked for must have survived olddefconfig (BPF_LSM silently drops out
# without BPF_JIT, which needs MODULES in 6.1)
missing=""
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) grep -qxF "$line" "$S/.config" || missing="$missing ${line%%=*}";; esac
done < "$HERE/config.fragment"
[ -z "$missing" ] || { log "options lost after olddefconfig:$missing"; exit 1; }
log "building (linux-source-6.1 $ver, key $key)"
make -s -C "$S" -j"$(nproc)" bzImage >"$W/build.log" 2>&1 || { tail -n 30 "$W/build.log" >&2; exit 1; }
gcc -static -O1 -Wall -D_GNU_SOURCE -I"$S/tools/testing/selftests" \
  -o "$W/bprm_no_new_privs" "$S/tools/testing/selftests/exec/bprm_no_new_privs.c"
mkdir -p "$OUT.new"
cp "$S/arch/x86/boot/bzImage" "$S/.config" "$W/bprm_no_new_privs" "$OUT.new/"
echo "linux-source-6.1 $ver + $(cd "$HERE" && ls 0[0-9][0-9][1-9]-*.patch | tr '\n' ' ')" > "$OUT.new/SOURCE"
echo "$(( $(date +%s) - t0 ))" > "$OUT.new/build-seconds"
rm -rf "$OUT"; mv "$OUT.new" "$OUT"
log "built in $(cat "$OUT/build-seconds") s"
echo "$OUT"
