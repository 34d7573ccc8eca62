#!/bin/bash
# guard_action = "degrade" (issue 24): on a kernel built from Debian's linux-source-6.1 with
# nnp's patch series (kernel/: the bprm_no_new_privs hook), a guarded user's privilege-raising
# exec runs with the caller's privileges instead of failing; on Debian's own kernel (no hook)
# the same config falls back to refuse and every tool says so. Both kernels boot under qemu
# (TCG) with one busybox initramfs, as in guard_qemu.sh. The patched kernel is built by
# kernel/build.sh into a cache outside the clone (only a cold cache pays the build).
#
#   guard_degrade.sh            the test (TAP)
#   guard_degrade.sh --bench    also measure the hook's programs per exec (BPF statistics):
#                               make bench (scripts/bench_degrade.sh)
. "$(dirname "$0")/../lib.sh"
set -uo pipefail
BENCH=0; [ "${1:-}" = --bench ] && BENCH=1
T=$(mktemp -d /tmp/nnp-degrade.XXXXXX); chmod 755 "$T"
trap 'rm -rf --one-file-system "$T"' EXIT
COUNT=0; FAILS=0

# ---- the patched kernel (cached) ----
t0=$(date +%s)
# NNP_KERNEL_DIR: a directory with bzImage and bprm_no_new_privs built some other way
KOUT=${NNP_KERNEL_DIR:-$("$NNP_ROOT/kernel/build.sh")} || { echo "Bail out! kernel/build.sh failed"; exit 1; }
echo "# patched kernel: $KOUT ($(( $(date +%s) - t0 )) s here; built in $(cat "$KOUT/build-seconds" 2>/dev/null || echo '?') s)"

# ---- Debian's kernel, as guard_qemu.sh fetches it (nothing installed) ----
DDIR="$NNP_ROOT/target/test-debs/kernel"
mkdir -p "$DDIR"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$pkg" ]; then apt-get update -qq >/dev/null 2>&1; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); fi
[ -n "$pkg" ] || { echo "Bail out! cannot resolve Debian's kernel package"; exit 1; }
if ! ls "$DDIR/${pkg}"_*.deb >/dev/null 2>&1; then
  (cd "$DDIR" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "Bail out! cannot download $pkg"; exit 1; }
fi
mkdir -p "$T/k"; dpkg-deb --fsys-tarfile "$(ls "$DDIR/${pkg}"_*.deb | head -n1)" | tar -x -C "$T/k" ./boot
DEBIAN_VMLINUZ=$(ls "$T"/k/boot/vmlinuz-* | head -n1)

# ---- the initramfs ----
R="$T/root"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,run,t,etc/security,lib64,usr/sbin}
cp /bin/busybox "$R/bin/busybox"
for c in runas userns_exec setfcap idprobe; do
  gcc -static -O1 -Wall -o "$R/bin/$c" "$NNP_ROOT/tests/c/$c.c" || exit 1
done
cp "$KOUT/bprm_no_new_privs" "$R/bin/"
cp "$NNPCTL" "$R/usr/sbin/nnpctl"
BPFTOOL=$(command -v bpftool || echo /usr/sbin/bpftool)
cp "$BPFTOOL" "$R/usr/sbin/bpftool"
copy_libs "$R" "$NNPCTL" "$BPFTOOL"
printf 'root:x:0:0:root:/:/bin/sh\nalice:x:1001:1001::/:/bin/sh\nbob:x:1002:1002::/:/bin/sh\ndave:x:1004:1004::/:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nrestricted:x:1100:alice,dave\n' > "$R/etc/group"
printf 'passwd: files\ngroup: files\n' > "$R/etc/nsswitch.conf"
# guard_action is not set: "degrade" is the default
cat > "$R/etc/security/nnp.toml" <<'EOF2'
guard_allow = ["/t/allowed-probe"]

[[rule]]
users = ["dave"]
nnp = false

[[rule]]
groups = ["restricted"]
nnp = true
EOF2
echo "$BENCH" > "$R/etc/nnp-bench"
cat > "$R/init" <<'EOF2'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t securityfs securityfs /sys/kernel/security; mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs -o mode=755 run /run; mount -t tmpfs -o mode=755 t /t
echo "LSM $(cat /sys/kernel/security/lsm)"
for f in suid sgid cap allowed ns; do cp /bin/idprobe /t/$f-probe; done
chmod 4755 /t/suid-probe /t/allowed-probe; chmod 2755 /t/sgid-probe
/bin/setfcap /t/cap-probe
chown 200000:200000 /t/ns-probe; chmod 4755 /t/ns-probe
mkdir -m 1777 /t/pub
res() { echo "RESULT $1 $2"; }
# expect NAME WANT CMD...: the probe's line (EUID EGID CAPEFF NNP) is WANT
expect() {
  name=$1; want=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ $rc = 0 ] && [ "$(echo "$out" | head -n1)" = "$want" ]; then res "$name" ok; else res "$name" "FAIL(rc=$rc want=$want out=$out)"; fi
}
# first NAME EUID CMD...: only the probe's euid is checked
first() {
  name=$1; want=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ $rc = 0 ] && [ "$(echo "$out" | head -n1 | cut -d' ' -f1)" = "$want" ]; then res "$name" ok; else res "$name" "FAIL(rc=$rc want=$want out=$out)"; fi
}
refused() {
  name=$1; shift; rm -f /t/pub/m
  out=$("$@" /t/pub/m 2>&1); rc=$?
  if [ $rc = 127 ] && echo "$out" | grep -q "Operation not permitted" && [ ! -e /t/pub/m ]; then res "$name" ok; else res "$name" "FAIL(rc=$rc out=$out)"; fi
}
has() {  # has NAME PATTERN TEXT
  if echo "$3" | grep -q -- "$2"; then res "$1" ok; else res "$1" "FAIL(no '$2' in: $3)"; fi
}
ALICE="/bin/runas 1001 1001 1100 --"
if grep -q nnp_case=patched /proc/cmdline; then
  # the series' own selftest, before nnp's guard is loaded
  out=$(/bin/bprm_no_new_privs 2>&1); rc=$?
  echo "$out" | sed 's/^/selftest: /'
  if [ $rc = 0 ] && echo "$out" | grep -q "^# Totals: pass:5 fail:0"; then res selftest ok; else res selftest "FAIL(rc=$rc)"; fi
  out=$(nnpctl guard load 2>&1); echo "$out"
  has load-lsm "mode lsm" "$out"
  out=$(nnpctl guard status 2>&1); rc=$?; echo "$out"
  if [ $rc = 0 ] && echo "$out" | grep -q "^action: degrade"; then res status-degrade ok; else res status-degrade "FAIL(rc=$rc $out)"; fi
  has status-json '"action": "degrade"' "$(nnpctl guard status --json 2>&1)"
  # the exec runs, with the caller's ids and no capability; the task's NNP bit stays clear
  expect setuid-degraded "1001 1001 0 0" $ALICE /t/suid-probe
  expect setgid-degraded "1001 1001 0 0" $ALICE /t/sgid-probe
  expect filecap-degraded "1001 1001 0 0" $ALICE /t/cap-probe
  out=$($ALICE /bin/sh -c '/t/suid-probe >/dev/null; grep NoNewPrivs /proc/self/status' 2>&1)
  has nnp-bit-clear-after "NoNewPrivs:.0" "$out"
  expect plain-exec "1001 1001 0 0" $ALICE /bin/idprobe
  # a script whose interpreter is setuid: the hook saw the script, the bit holds for the
  # interpreter the kernel switches to (credentials come from it)
  printf '#!/t/suid-probe\n' > /t/script; chmod 755 /t/script
  expect script-interpreter-degraded "1001 1001 0 0" $ALICE /t/script
  # what the guard never touches: a rootless user namespace, an exempt user, an
  # unrestricted user (the control), guard_allow, root
  first userns-raises 1 /bin/userns_exec 1001 /t/ns-probe
  first control-raises 0 /bin/runas 1002 1002 - -- /t/suid-probe
  first exempt-raises 0 /bin/runas 1004 1004 1100 -- /t/suid-probe
  first guard-allow-raises 0 $ALICE /t/allowed-probe
  first root 0 /t/suid-probe
  has explain-degrade "with the caller's privileges" "$(nnpctl explain alice 2>&1)"
  out=$(nnpctl doctor 2>&1)
  has doctor-hook "has the bprm_no_new_privs hook" "$out"
  has doctor-action "action degrade" "$out"
  has report-degrade "action degrade: guarded privilege-raising execs run" "$(nnpctl guard report 2>&1)"
  has metrics-degrade 'nnp_guard_action_info{action="degrade"} 1' "$(nnpctl metrics 2>&1)"
  if [ "$(cat /etc/nnp-bench)" = 1 ]; then
    # the hook's cost per exec: the kernel's BPF statistics (run_time_ns / run_cnt)
    echo 1 > /proc/sys/kernel/bpf_stats_enabled
    stats() { bpftool prog show | awk '/name nnp_/{t=0; c=0; for(i=1;i<=NF;i++){if($i=="run_time_ns")t=$(i+1); if($i=="run_cnt")c=$(i+1)}; print $4, t, c}'; }
    for who in guarded-setuid guarded-plain control-setuid; do
      case $who in
        guarded-setuid) cmd="$ALICE /bin/sh -c"; f=/t/suid-probe;;
        guarded-plain) cmd="$ALICE /bin/sh -c"; f=/bin/idprobe;;
        control-setuid) cmd="/bin/runas 1002 1002 - -- /bin/sh -c"; f=/t/suid-probe;;
      esac
      before=$(stats)
      s0=$(cut -d' ' -f1 /proc/uptime)
      $cmd "i=0; while [ \$i -lt 2000 ]; do $f >/dev/null; i=\$((i+1)); done"
      s1=$(cut -d' ' -f1 /proc/uptime)
      after=$(stats)
      echo "$before" > /tmp/b; echo "$after" > /tmp/a
      awk -v who=$who 'NR==FNR{t[$1]=$2;c[$1]=$3;next}{dc=$3-c[$1]; if(dc>0) printf "BENCH %s %s runs=%d ns_per_run=%.0f\n", who, $1, dc, ($2-t[$1])/dc}' /tmp/b /tmp/a
      awk -v a="$s0" -v b="$s1" -v who=$who 'BEGIN{printf "BENCH %s wall_us_per_exec=%.0f\n", who, (b-a)*1000000/2000}'
    done
    echo 0 > /proc/sys/kernel/bpf_stats_enabled
  fi
  # guard_action = "refuse": today's behaviour, switched by reload
  sed 's/^guard_allow/guard_action = "refuse"\nguard_allow/' /etc/security/nnp.toml > /tmp/n && cat /tmp/n > /etc/security/nnp.toml
  out=$(nnpctl guard reload 2>&1); echo "$out"
  out=$(nnpctl guard status 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q "^action: refuse" && ! echo "$out" | grep -q "falls back"; then res status-refuse ok; else res status-refuse "FAIL(rc=$rc $out)"; fi
  refused refuse-setuid $ALICE /t/suid-probe
  refused refuse-filecap $ALICE /t/cap-probe
  first refuse-control 0 /bin/runas 1002 1002 - -- /t/suid-probe
  has explain-refuse "refuse privilege-raising exec" "$(nnpctl explain alice 2>&1)"
  # and back
  sed '/^guard_action/d' /etc/security/nnp.toml > /tmp/n && cat /tmp/n > /etc/security/nnp.toml
  nnpctl guard reload >/dev/null 2>&1
  expect degrade-again "1001 1001 0 0" $ALICE /t/suid-probe
  nnpctl guard unload >/dev/null 2>&1
  first unloaded-raises 0 $ALICE /t/suid-probe
  if [ "$(cat /etc/nnp-bench)" = 1 ]; then  # the same loop with no guard loaded
    s0=$(cut -d' ' -f1 /proc/uptime)
    $ALICE /bin/sh -c "i=0; while [ \$i -lt 2000 ]; do /t/suid-probe >/dev/null; i=\$((i+1)); done"
    s1=$(cut -d' ' -f1 /proc/uptime)
    awk -v a="$s0" -v b="$s1" 'BEGIN{printf "BENCH no-guard wall_us_per_exec=%.0f\n", (b-a)*1000000/2000}'
  fi
else
  # Debian's kernel: no hook
  out=$(/bin/bprm_no_new_privs 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q "^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:5"; then res fallback-selftest-skips ok; else res fallback-selftest-skips "FAIL(rc=$rc $out)"; fi
  out=$(nnpctl guard load 2>&1); echo "$out"
  has fallback-load-lsm "mode lsm" "$out"
  out=$(nnpctl guard status 2>&1); rc=$?; echo "$out"
  if [ $rc = 0 ] && echo "$out" | grep -q "^action: refuse" && echo "$out" | grep -q 'guard_action = "degrade" falls back to refuse: this kernel lacks the bprm_no_new_privs hook'; then res fallback-status ok; else res fallback-status "FAIL(rc=$rc $out)"; fi
  out=$(nnpctl guard status --json 2>&1)
  if echo "$out" | grep -q '"action": "refuse"' && echo "$out" | grep -q '"action_requested": "degrade"' && echo "$out" | grep -q '"degrade_hook": false'; then res fallback-status-json ok; else res fallback-status-json "FAIL($out)"; fi
  out=$(nnpctl doctor 2>&1)
  has fallback-doctor "lacks the bprm_no_new_privs hook" "$out"
  has fallback-doctor-action "action refuse" "$out"
  has fallback-explain "refuse privilege-raising exec" "$(nnpctl explain alice 2>&1)"
  has fallback-metrics 'nnp_guard_action_info{action="refuse"} 1' "$(nnpctl metrics 2>&1)"
  refused fallback-setuid-refused $ALICE /t/suid-probe
  first fallback-control 0 /bin/runas 1002 1002 - -- /t/suid-probe
  nnpctl guard unload >/dev/null 2>&1
fi
echo "QEMU-DONE"
reboot -f
EOF2
chmod 755 "$R/init"
chmod -R go-w "$R"
(cd "$R" && find . | cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 > "$T/initrd.gz")

qemu_boot patched "$KOUT/bzImage" capability,bpf nnp_case=patched
qemu_check patched "degrade on the patched kernel" selftest load-lsm status-degrade status-json \
  setuid-degraded setgid-degraded filecap-degraded nnp-bit-clear-after plain-exec \
  script-interpreter-degraded \
  userns-raises control-raises exempt-raises guard-allow-raises root explain-degrade \
  doctor-hook doctor-action report-degrade metrics-degrade status-refuse refuse-setuid refuse-filecap refuse-control \
  explain-refuse degrade-again unloaded-raises
grep "^BENCH " "$T/console-patched.txt" | sed 's/^/# /'
grep "^BENCH " "$T/console-patched.txt" > "$T/bench.txt"
if [ -n "${NNP_BENCH_OUT:-}" ]; then cp "$T/bench.txt" "$NNP_BENCH_OUT"; fi
qemu_boot debian "$DEBIAN_VMLINUZ" lockdown,capability,landlock,yama,apparmor,bpf nnp_case=debian
qemu_check debian "degrade falls back on Debian's kernel" fallback-selftest-skips fallback-load-lsm \
  fallback-status fallback-status-json fallback-doctor fallback-doctor-action fallback-explain fallback-metrics \
  fallback-setuid-refused fallback-control
echo "1..$COUNT"
[ "$FAILS" = 0 ]
