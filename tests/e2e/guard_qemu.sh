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
copy_libs "$R" "$NNPCTL"
printf 'root:x:0:0:root:/:/bin/sh\nalice:x:1001:1001::/:/bin/sh\nbob:x:1002:1002::/:/bin/sh\ncarol:x:1003:1003::/:/bin/sh\ndave:x:1004:1004::/:/bin/sh\n' > "$R/etc/passwd"
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

[[rule]]
uids = ["1003"]
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
if grep -q nnp_case=nobpf /proc/cmdline; then
  # Booted without bpf in lsm=: an LSM program would attach and never run (issue 19).
  out=$(nnpctl guard load 2>&1); rc=$?; echo "$out"
  if [ $rc = 3 ] && echo "$out" | grep -q "lsm=.*,bpf" && [ ! -e /sys/fs/bpf/nnp/link ]; then res nobpf-load-fails ok; else res nobpf-load-fails "FAIL(rc=$rc $out)"; fi
  out=$(nnpctl guard load --mode lsm 2>&1); rc=$?
  [ $rc = 3 ] && [ ! -e /sys/fs/bpf/nnp/link ] && res nobpf-lsm-fails ok || res nobpf-lsm-fails "FAIL(rc=$rc $out)"
  # without securityfs the loader cannot read the LSM list: only its exec counter tells
  umount /sys/kernel/security
  out=$(nnpctl guard load --mode lsm 2>&1); rc=$?
  if [ $rc = 3 ] && echo "$out" | grep -q "attached but never ran" && [ ! -e /sys/fs/bpf/nnp/link ]; then res nobpf-counter ok; else res nobpf-counter "FAIL(rc=$rc $out)"; fi
  mount -t securityfs securityfs /sys/kernel/security
  out=$(nnpctl guard status 2>&1); rc=$?
  [ $rc = 1 ] && res nobpf-status ok || res nobpf-status "FAIL(rc=$rc $out)"
  out=$(nnpctl doctor 2>&1)
  if echo "$out" | grep -q "LSM programs load but the kernel does not run them" && ! echo "$out" | grep -q "exec guard: in force"; then res nobpf-doctor ok; else res nobpf-doctor "FAIL($out)"; fi
  /bin/runas 1001 1001 1100 -- /bin/sleep 60 & S=$!
  sleep 0.2
  out=$(nnpctl audit 2>&1); rc=$?
  if [ $rc = 1 ] && ! echo "$out" | grep -q "protected by the guard"; then res nobpf-audit ok; else res nobpf-audit "FAIL(rc=$rc $out)"; fi
  kill $S
  /bin/runas 1001 1001 1100 -- /t/suid-marker /t/pub/x > /t/o 2>&1
  [ "$(cat /t/o)" = 0 ] && res nobpf-control-raises ok || res nobpf-control-raises "FAIL($(cat /t/o))"
else
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
  # a namespace mapping host ids onto themselves is guarded (carol: by uid)
  out=$(cd /t/pub && /bin/userns_exec 1003 /t/suid-marker identity 2>&1); rc=$?
  if [ $rc = 127 ] && echo "$out" | grep -q "Operation not permitted"; then res identity-userns-refused ok; else res identity-userns-refused "FAIL(rc=$rc $out)"; fi
  allowed identity-userns-control 0 /bin/userns_exec 1002 /t/suid-marker identity
  out=$(nnpctl guard status 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q "guard: in force, mode lsm"; then res status ok; else res status "FAIL(rc=$rc $out)"; fi
  # audit reads the tasks with the kernel's task iterator on Debian's kernel too, and a
  # restricted process without NNP is protected by the guard in force (not a finding)
  /bin/runas 1001 1001 1100 -- /bin/sleep 60 & S=$!
  sleep 0.2
  out=$(nnpctl audit --json 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q '"source": "kernel"' && echo "$out" | grep -A3 '"protected_by_guard"' | grep -q "\"pid\": $S,"; then res audit-kernel-guarded ok; else res audit-kernel-guarded "FAIL(rc=$rc $out)"; fi
  kill $S
  nnpctl guard unload >/dev/null 2>&1
  allowed unloaded 0 /bin/runas 1001 1001 1100 -- /t/suid-marker /t/pub/x
fi
echo "QEMU-DONE"
poweroff -f
EOF2
chmod 755 "$R/init"
chmod -R go-w "$R"
(cd "$R" && find . | cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 > "$T/initrd.gz")

qemu_boot bpf "$VMLINUZ" lockdown,capability,landlock,yama,apparmor,bpf
qemu_check bpf "LSM mode on Debian's kernel" load-lsm setuid-supplementary setgid filecap primary-gid exempt-first-rule control-uid root plain-exec guard-allow userns identity-userns-refused identity-userns-control status audit-kernel-guarded unloaded
# Issue 19: the same kernel booted without bpf in lsm= (Ubuntu's default): the LSM program
# attached, never ran, and every tool called the guard in force.
qemu_boot nobpf "$VMLINUZ" lockdown,capability,landlock,yama,apparmor nnp_case=nobpf
qemu_check nobpf "Debian's kernel without bpf in lsm=" nobpf-load-fails nobpf-lsm-fails nobpf-counter nobpf-status nobpf-doctor nobpf-audit nobpf-control-raises
echo "1..$COUNT"
[ "$FAILS" = 0 ]
