#!/bin/bash
# The exec guard's LSM mode on Debian's own kernel, booted under qemu (TCG) with a small
# initramfs: busybox-static, static test helpers, nnpctl and the libraries it needs. The
# kernel package is resolved at run time and fetched with apt-get download; nothing is
# installed on the host. The guest prints one RESULT line per check.
. "$(dirname "$0")/../lib.sh"
set -uo pipefail
T=$(mktemp -d /tmp/nnp-qemu.XXXXXX); chmod 755 "$T"
trap 'rm -rf --one-file-system "$T"' EXIT
COUNT=0; FAILS=0
KDIR="$NNP_ROOT/target/test-debs/kernel"
mkdir -p "$KDIR"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$pkg" ]; then apt-get update -qq >/dev/null 2>&1; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); fi
[ -n "$pkg" ] || { echo "Bail out! cannot resolve Debian's kernel package"; exit 1; }
if ! ls "$KDIR/${pkg}"_*.deb >/dev/null 2>&1; then
  (cd "$KDIR" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "Bail out! cannot download $pkg"; exit 1; }
fi
deb=$(ls "$KDIR/${pkg}"_*.deb | head -n1)
mkdir -p "$T/k"; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$T/k" ./boot
VMLINUZ=$(ls "$T"/k/boot/vmlinuz-* | head -n1)
echo "# kernel: $(basename "$VMLINUZ")"

# ---- the initramfs ----
R="$T/root"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,run,t,etc/security,lib64,usr/sbin}
cp /bin/busybox "$R/bin/busybox"
for c in runas marker userns_exec setfcap; do
  gcc -static -O1 -Wall -o "$R/bin/$c" "$NNP_ROOT/tests/c/$c.c" || exit 1
done
cp "$NNPCTL" "$R/usr/sbin/nnpctl"
for lib in $(ldd "$NNPCTL" | grep -oE '/[^ ]+'); do mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; done
printf 'root:x:0:0:root:/:/bin/sh\nalice:x:1001:1001::/:/bin/sh\nbob:x:1002:1002::/:/bin/sh\ndave:x:1004:1004::/:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nrestricted:x:1100:alice,dave\n' > "$R/etc/group"
printf 'passwd: files\ngroup: files\n' > "$R/etc/nsswitch.conf"
cat > "$R/etc/security/nnp.toml" <<'EOF2'
guard_allow = ["/t/allowed-marker"]

[[rule]]
users = ["dave"]
nnp = false

[[rule]]
groups = ["restricted"]
nnp = true
EOF2
cat > "$R/init" <<'EOF2'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t securityfs securityfs /sys/kernel/security; mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs -o mode=755 run /run; mount -t tmpfs -o mode=755 t /t
echo "LSM $(cat /sys/kernel/security/lsm)"
cp /bin/marker /t/suid-marker; chmod 4755 /t/suid-marker
cp /bin/marker /t/sgid-marker; chmod 2755 /t/sgid-marker
cp /bin/marker /t/cap-marker; /bin/setfcap /t/cap-marker
cp /bin/marker /t/allowed-marker; chmod 4755 /t/allowed-marker
cp /bin/marker /t/ns-marker; chown 200000:200000 /t/ns-marker; chmod 4755 /t/ns-marker
mkdir -m 1777 /t/pub
res() { echo "RESULT $1 $2"; }
# refused: exit 127 from runas with EPERM, and no marker
refused() {
  name=$1; shift; rm -f /t/pub/m
  out=$("$@" /t/pub/m 2>&1); rc=$?
  if [ $rc = 127 ] && echo "$out" | grep -q "Operation not permitted" && [ ! -e /t/pub/m ]; then res "$name" ok; else res "$name" "FAIL(rc=$rc out=$out)"; fi
}
allowed() {  # expect euid
  name=$1; want=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ $rc = 0 ] && [ "$(echo "$out" | head -n1 | cut -d' ' -f1)" = "$want" ]; then res "$name" ok; else res "$name" "FAIL(rc=$rc out=$out)"; fi
}
out=$(nnpctl guard load 2>&1); echo "$out"
echo "$out" | grep -q "mode lsm" && res load-lsm ok || res load-lsm "FAIL($out)"
refused setuid-supplementary /bin/runas 1001 1001 1100 -- /t/suid-marker
refused setgid /bin/runas 1001 1001 1100 -- /t/sgid-marker
refused filecap /bin/runas 1001 1001 1100 -- /t/cap-marker
refused primary-gid /bin/runas 1002 1100 - -- /t/suid-marker
allowed exempt-first-rule 0 /bin/runas 1004 1004 1100 -- /t/suid-marker /t/pub/x
allowed control-uid 0 /bin/runas 1002 1002 - -- /t/suid-marker /t/pub/x
allowed root 0 /t/suid-marker /t/pub/x
allowed plain-exec 1001 /bin/runas 1001 1001 1100 -- /bin/marker
allowed guard-allow 0 /bin/runas 1001 1001 1100 -- /t/allowed-marker
allowed userns 1 /bin/userns_exec 1001 /t/ns-marker
out=$(nnpctl guard status 2>&1)
echo "$out" | grep -q "mode lsm" && res status ok || res status "FAIL($out)"
nnpctl guard unload >/dev/null 2>&1
allowed unloaded 0 /bin/runas 1001 1001 1100 -- /t/suid-marker /t/pub/x
echo "QEMU-DONE"
poweroff -f
EOF2
chmod 755 "$R/init"
chmod -R go-w "$R"
(cd "$R" && find . | cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 > "$T/initrd.gz")

LAST=$(date +%s)
timeout 300 qemu-system-x86_64 -accel tcg -nographic -no-reboot -m 512 -smp 2 \
  -kernel "$VMLINUZ" -initrd "$T/initrd.gz" \
  -append "console=ttyS0 lsm=lockdown,capability,landlock,yama,apparmor,bpf panic=-1 quiet" \
  < /dev/null > "$T/console.log" 2>&1
echo "# qemu: $(( $(date +%s) - LAST )) s"
tr -d '\r' < "$T/console.log" > "$T/console.txt"
if ! grep -q "^QEMU-DONE" "$T/console.txt"; then
  echo "Bail out! the guest did not finish; console:"; tail -n 40 "$T/console.txt" | sed 's/^/#   /'; exit 1
fi
grep "^LSM " "$T/console.txt" | sed 's/^/# /'
for name in load-lsm setuid-supplementary setgid filecap primary-gid exempt-first-rule control-uid root plain-exec guard-allow userns status unloaded; do
  COUNT=$((COUNT + 1))
  line=$(grep "^RESULT $name " "$T/console.txt" | head -n1)
  if [ "$line" = "RESULT $name ok" ]; then echo "ok $COUNT - LSM mode on Debian's kernel: $name"
  else echo "not ok $COUNT - LSM mode on Debian's kernel: $name"; echo "# ${line:-no result}"; FAILS=$((FAILS + 1)); fi
done
echo "1..$COUNT"
[ "$FAILS" = 0 ]
