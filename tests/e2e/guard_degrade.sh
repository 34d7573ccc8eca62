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
printf 'root:x:0:0:root:/:/bin/sh\nalice:x:1001:1001::/:/bin/sh\nbob:x:1002:1002::/:/bin/sh\ncarol:x:1003:1003::/:/bin/sh\ndave:x:1004:1004::/:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nrestricted:x:1100:alice,dave\n' > "$R/etc/group"
printf 'passwd: files\ngroup: files\n' > "$R/etc/nsswitch.conf"
# guard_action is not set: "degrade" is the default. carol is guarded by her uid: userns_exec
# drops supplementary groups, so a group rule would not follow her into a user namespace
# (tests/e2e/guard.sh says the same).
cat > "$R/etc/security/nnp.toml" <<'EOF2'
guard_allow = ["/t/allowed-probe"]

[[rule]]
users = ["dave"]
nnp = false

[[rule]]
uids = ["1003"]
nnp = true

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
# held NAME UIDLINE RUNAS...: run /t/suid-probe held open on a FIFO (its open blocks until
# a reader comes) and read that process's own /proc/PID/status: the Uid line must be
# UIDLINE (tabs as spaces) and NoNewPrivs 0
held() {
  name=$1; want=$2; shift 2
  rm -f /t/pub/fifo; mkfifo -m 666 /t/pub/fifo
  "$@" /t/suid-probe /t/pub/fifo >/dev/null 2>&1 & pid=$!
  i=0; while [ $i -lt 300 ] && [ "$(cut -d' ' -f1 /proc/$pid/syscall 2>/dev/null)" != 257 ]; do sleep 0.1; i=$((i+1)); done
  st=$(tr '\t' ' ' < /proc/$pid/status 2>&1)
  cat /t/pub/fifo >/dev/null; wait $pid
  if echo "$st" | grep -qx "Uid: $want" && echo "$st" | grep -qx "NoNewPrivs: 0"; then res "$name" ok; else res "$name" "FAIL(want Uid: $want, NoNewPrivs: 0; $(echo "$st" | grep -E '^(Name|Uid|NoNewPrivs)' | tr '\n' ' '))"; fi
}
# doc NAME CMD...: CMD's JSON on one line, for the host's tests/validate_json.py
doc() { name=$1; shift; echo "DOC $name $("$@" 2>/dev/null | tr -d '\n')"; }
# met NAME: nnpctl metrics, each line prefixed, for the host's promtool
met() { nnpctl metrics 2>/dev/null | sed "s/^/MET $1 /"; }
ALICE="/bin/runas 1001 1001 1100 --"
if grep -q nnp_case=patched /proc/cmdline; then
  # the series' own selftest, before nnp's guard is loaded
  out=$(/bin/bprm_no_new_privs 2>&1); rc=$?
  echo "$out" | sed 's/^/selftest: /'
  if [ $rc = 0 ] && echo "$out" | grep -q "^# Totals: pass:5 fail:0"; then res selftest ok; else res selftest "FAIL(rc=$rc)"; fi
  # no guard loaded yet: explain says what a load would attach on this kernel
  has explain-unloaded "(not loaded; if loaded): run privilege-raising exec with the caller's privileges" "$(nnpctl explain alice 2>&1)"
  out=$(nnpctl guard load 2>&1); echo "$out"
  has load-lsm "mode lsm" "$out"
  out=$(nnpctl guard status 2>&1); rc=$?; echo "$out"
  if [ $rc = 0 ] && echo "$out" | grep -q "^action: degrade"; then res status-degrade ok; else res status-degrade "FAIL(rc=$rc $out)"; fi
  has status-json '"action": "degrade"' "$(nnpctl guard status --json 2>&1)"
  # the exec runs, with the caller's ids and no capability; the task's NNP bit stays clear
  expect setuid-degraded "1001 1001 0 0" $ALICE /t/suid-probe
  expect setgid-degraded "1001 1001 0 0" $ALICE /t/sgid-probe
  expect setgid-control "1002 0 0 0" /bin/runas 1002 1002 - -- /t/sgid-probe
  expect filecap-degraded "1001 1001 0 0" $ALICE /t/cap-probe
  # the degraded process itself, read from outside while it runs: euid 1001, no NNP bit;
  # the control (bob, unguarded) shows the same read seeing the raise
  held nnp-bit-clear-degraded "1001 1001 1001 1001" $ALICE
  held nnp-bit-clear-control "1002 0 0 0" /bin/runas 1002 1002 - --
  expect plain-exec "1001 1001 0 0" $ALICE /bin/idprobe
  # a script whose interpreter is setuid: the hook saw the script, the bit holds for the
  # interpreter the kernel switches to (credentials come from it)
  printf '#!/t/suid-probe\n' > /t/script; chmod 755 /t/script
  expect script-interpreter-degraded "1001 1001 0 0" $ALICE /t/script
  # what the guard never touches: a rootless user namespace, an exempt user, an
  # unrestricted user (the control), guard_allow, root
  first userns-raises 1 /bin/userns_exec 1003 /t/ns-probe
  # the negative: an identity-mapped namespace is no rootless container, carol is degraded
  expect identity-userns-degraded "1003 1003 0 0" /bin/userns_exec 1003 /t/suid-probe identity
  first identity-userns-control 0 /bin/userns_exec 1002 /t/suid-probe identity
  first control-raises 0 /bin/runas 1002 1002 - -- /t/suid-probe
  first exempt-raises 0 /bin/runas 1004 1004 1100 -- /t/suid-probe
  first guard-allow-raises 0 $ALICE /t/allowed-probe
  first root 0 /t/suid-probe
  # counted: the six execs above that ran without their raise (setuid, setgid, file
  # capabilities, the held one, the script's interpreter, the identity-mapped namespace);
  # none refused; the controls, the rootless namespace and guard_allow are not counted
  has counted-degraded "^counters: .* 0 refused, 0 audited, 6 run with the caller's privileges (degrade)$" "$(nnpctl guard status 2>&1)"
  has counted-degraded-json '"degraded_execs": 6' "$(nnpctl guard status --json 2>&1)"
  has counted-degraded-metrics "^nnp_guard_degraded_execs_total 6$" "$(nnpctl metrics 2>&1)"
  has explain-degrade "with the caller's privileges" "$(nnpctl explain alice 2>&1)"
  out=$(nnpctl doctor 2>&1)
  has doctor-hook "has the bprm_no_new_privs hook" "$out"
  has doctor-action "action degrade" "$out"
  has report-degrade "action degrade: guarded privilege-raising execs run" "$(nnpctl guard report 2>&1)"
  has metrics-degrade 'nnp_guard_action_info{action="degrade"} 1' "$(nnpctl metrics 2>&1)"
  doc status-patched nnpctl guard status --json
  doc explain-patched nnpctl explain alice --json
  doc report-patched nnpctl guard report --json
  met patched
  ndeg=6   # execs run with the caller's privileges so far (the bench's guarded-setuid loop adds 2,000)
  if [ "$(cat /etc/nnp-bench)" = 1 ]; then
    ndeg=$((ndeg + 2000))
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
  has refuse-counted "^counters: .* 2 refused, 0 audited, $ndeg run with the caller's privileges (degrade)$" "$(nnpctl guard status 2>&1)"
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
  has fallback-explain-unloaded "(not loaded; if loaded): refuse privilege-raising exec" "$(nnpctl explain alice 2>&1)"
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
  has fallback-counted "^counters: .* 1 refused, 0 audited, 0 run with the caller's privileges (degrade)$" "$(nnpctl guard status 2>&1)"
  has fallback-report "action refuse" "$(nnpctl guard report 2>&1)"
  doc status-debian nnpctl guard status --json
  doc explain-debian nnpctl explain alice --json
  doc report-debian nnpctl guard report --json
  met debian
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
qemu_check patched "degrade on the patched kernel" selftest explain-unloaded load-lsm status-degrade status-json \
  setuid-degraded setgid-degraded setgid-control filecap-degraded nnp-bit-clear-degraded \
  nnp-bit-clear-control plain-exec script-interpreter-degraded \
  userns-raises identity-userns-degraded identity-userns-control control-raises exempt-raises guard-allow-raises root \
  counted-degraded counted-degraded-json counted-degraded-metrics explain-degrade \
  doctor-hook doctor-action report-degrade metrics-degrade status-refuse refuse-setuid refuse-filecap refuse-control \
  refuse-counted explain-refuse degrade-again unloaded-raises
grep "^BENCH " "$T/console-patched.txt" | sed 's/^/# /'
grep "^BENCH " "$T/console-patched.txt" > "$T/bench.txt"
if [ -n "${NNP_BENCH_OUT:-}" ]; then cp "$T/bench.txt" "$NNP_BENCH_OUT"; fi
qemu_boot debian "$DEBIAN_VMLINUZ" lockdown,capability,landlock,yama,apparmor,bpf nnp_case=debian
qemu_check debian "degrade falls back on Debian's kernel" fallback-selftest-skips fallback-explain-unloaded fallback-load-lsm \
  fallback-status fallback-status-json fallback-doctor fallback-doctor-action fallback-explain fallback-metrics \
  fallback-setuid-refused fallback-counted fallback-report fallback-control
# the guest's JSON against docs/schema, its metrics through promtool
PROMTOOL=$("$NNP_ROOT/scripts/promtool.sh") || { echo "Bail out! no promtool (scripts/promtool.sh)"; exit 1; }
for k in patched debian; do
  for d in status explain report; do
    COUNT=$((COUNT + 1))
    sed -n "s/^DOC $d-$k //p" "$T/console-$k.txt" | head -n1 > "$T/$d-$k.json"
    if [ -s "$T/$d-$k.json" ] && why=$(python3 "$NNP_ROOT/tests/validate_json.py" "$T/$d-$k.json" 2>&1); then
      echo "ok $COUNT - $k kernel: $d JSON valid against docs/schema"
    else echo "not ok $COUNT - $k kernel: $d JSON valid against docs/schema"; echo "$why" | sed 's/^/# /'; FAILS=$((FAILS + 1)); fi
  done
  COUNT=$((COUNT + 1))
  sed -n "s/^MET $k //p" "$T/console-$k.txt" > "$T/metrics-$k.prom"
  if [ -s "$T/metrics-$k.prom" ] && why=$("$PROMTOOL" check metrics < "$T/metrics-$k.prom" 2>&1); then
    echo "ok $COUNT - $k kernel: nnpctl metrics pass promtool check metrics"
  else echo "not ok $COUNT - $k kernel: nnpctl metrics pass promtool check metrics"; echo "$why" | sed 's/^/# /'; FAILS=$((FAILS + 1)); fi
done
echo "1..$COUNT"
[ "$FAILS" = 0 ]
