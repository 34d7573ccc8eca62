#!/bin/bash
# tests/machine/image.sh — build (once) the Debian 12 disk image the machine suite boots, and
# print the directory that holds it: disk.img (raw ext4), vmlinuz, initrd.img, id_ed25519
# (root's ssh key, authorised in the image) and inputs (what the cache key was made of).
#
# The image is cached under target/machine/image-KEY/, KEY a hash of this script (package
# list, hooks, sizes) and of the mmdebstrap version, so a second run starts in seconds and a
# changed input builds a new one. Nothing on the host changes: mmdebstrap --mode=unshare
# builds in a user namespace, mke2fs -d fills the image from a directory with no mount.
# The nnp package is *not* in the image: the suite installs the project's .deb per run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bookworm
# What the scenarios need: systemd as PID 1 with logind and user managers (libpam-systemd,
# dbus-user-session for `systemd-run --user`), sshd, sudo, cron and at (jobs at boot), a
# directory (slapd + SSSD) for the LDAP scenario, and the .deb's own dependencies (libelf1,
# zlib1g, libpam-runtime) since the guest has no network to fetch them; node_exporter and
# curl for the metrics scenario (issue 23: nnp-metrics.service's file scraped in the guest).
PACKAGES=systemd-sysv,systemd-timesyncd,linux-image-amd64,openssh-server,sudo,iproute2,libpam-systemd,dbus,dbus-user-session,cron,at,slapd,ldap-utils,sssd-ldap,libnss-sss,libpam-sss,libelf1,zlib1g,libpam-runtime,procps,psmisc,prometheus-node-exporter,curl
SIZE=4G

command -v mmdebstrap >/dev/null || "$ROOT/scripts/install-deps.sh" mmdebstrap
KEY=$( { cat "$0"; mmdebstrap --version; } | sha256sum | cut -c1-16)
OUT=$ROOT/target/machine/image-$KEY
if [ -f "$OUT/done" ]; then echo "$OUT"; exit 0; fi

mkdir -p "$ROOT/target/machine"
W=$(mktemp -d "$ROOT/target/machine/build.XXXXXX")
chmod 755 "$W"   # the hooks run as mmdebstrap's namespaced root
exec 3>&1 4>&2 1>"$W/build.log" 2>&1   # the log; only the result goes to stdout
trap 'rc=$?; if [ $rc != 0 ]; then echo "image.sh: build failed; last lines of its log:" >&4; tail -n 40 "$W/build.log" >&4; fi; rm -rf --one-file-system "$W"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$W/id_ed25519" -C nnp-machine-test

# Hooks run on the finished tree ($1) in mmdebstrap's namespace.
cat > "$W/customize.sh" <<'HOOK'
#!/bin/sh
set -e
R=$1
echo nnp-machine > "$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nnp-machine\n' > "$R/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$R/etc/fstab"
# A fixed machine id: no "first boot" (systemd would run preset-all and change what is enabled).
echo 6e6e7000000000000000000000000021 > "$R/etc/machine-id"
# The virtio NIC gets 10.0.2.15 from qemu's built-in DHCP; restrict=on keeps every packet on
# the host, hostfwd brings 127.0.0.1:PORT to port 22.
mkdir -p "$R/etc/systemd/network"
printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' > "$R/etc/systemd/network/10-virtio.network"
chroot "$R" systemctl enable systemd-networkd.service
# Nothing that would try to reach the network or burn the two shared cores at boot.
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer man-db.timer \
  e2scrub_all.timer fstrim.timer systemd-timesyncd.service systemd-networkd-wait-online.service
# root logs in with the test key only
mkdir -p "$R/root/.ssh"; chmod 700 "$R/root/.ssh"
cp "$NNP_PUBKEY" "$R/root/.ssh/authorized_keys"; chmod 600 "$R/root/.ssh/authorized_keys"
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n' > "$R/etc/ssh/sshd_config.d/nnp-test.conf"
# slapd and sssd are configured by the LDAP scenario; until then they stay off.
chroot "$R" systemctl disable slapd.service sssd.service 2>/dev/null || true
# node_exporter too: the metrics scenario starts it (it would only cost CPU at every boot).
chroot "$R" systemctl disable prometheus-node-exporter.service 2>/dev/null || true
# The serial console is the only terminal; a short timeout on stop jobs keeps reboots short.
mkdir -p "$R/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=10s\n' > "$R/etc/systemd/system.conf.d/nnp-test.conf"
HOOK
chmod 755 "$W/customize.sh"

mmdebstrap --mode=unshare --variant=important \
  --include="$PACKAGES" \
  --aptopt='APT::Install-Recommends "false"' \
  --customize-hook="NNP_PUBKEY=$W/id_ed25519.pub $W/customize.sh \"\$1\"" \
  "$SUITE" "$W/root.tar"
mkdir "$W/root"
tar -C "$W/root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$W/root.tar"
rm -f "$W/root.tar"
truncate -s "$SIZE" "$W/disk.img"
mke2fs -q -t ext4 -L nnp-root -d "$W/root" "$W/disk.img"
cp "$W"/root/boot/vmlinuz-* "$W/vmlinuz"
cp "$W"/root/boot/initrd.img-* "$W/initrd.img"
rm -rf --one-file-system "$W/root"
{ echo "suite $SUITE"; echo "packages $PACKAGES"; mmdebstrap --version; date -u +%FT%TZ; } > "$W/inputs"
rm -rf "$OUT"; mkdir -p "$OUT"
mv "$W/disk.img" "$W/vmlinuz" "$W/initrd.img" "$W/id_ed25519" "$W/id_ed25519.pub" "$W/inputs" "$W/build.log" "$OUT/"
touch "$OUT/done"
# older images are garbage once a new one exists
for d in "$ROOT"/target/machine/image-*; do [ "$d" = "$OUT" ] || rm -rf --one-file-system "$d"; done
echo "$OUT" >&3
