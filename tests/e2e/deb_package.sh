#!/bin/bash
# The .deb: contents, conffiles, scriptlets, lintian; then a real `dpkg -i` inside a private
# mount namespace where /etc, /usr and /var are overlays on a throwaway tmpfs upper layer,
# so the host's package database and files are never touched.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
export DEBIAN_FRONTEND=noninteractive
DEB=$(ls -1t "$NNP_ROOT"/nnp_*.deb 2>/dev/null | head -n1)
if [ -z "$DEB" ]; then echo "Bail out! no .deb: run make deb first"; exit 1; fi

T=$(mktemp -d /tmp/nnp-deb.XXXXXX); chmod 755 "$T"
trap cleanup EXIT
LAST_CMD=""

case_begin "package contents: module, shell, tool, config, pam-configs profile, gzip'd man pages"
run dpkg-deb -c "$DEB"
for f in ./usr/lib/x86_64-linux-gnu/security/pam_nnp.so ./usr/bin/nnp-shell ./usr/sbin/nnpctl \
         ./usr/lib/nnp/nnp-shell-helper ./etc/security/nnp.toml ./etc/security/nnp.d/ ./usr/share/pam-configs/nnp \
         ./usr/share/man/man8/pam_nnp.8.gz ./usr/share/man/man8/nnp-shell.8.gz \
         ./usr/share/man/man8/nnpctl.8.gz ./usr/share/man/man5/nnp.toml.5.gz \
         ./usr/share/doc/nnp/copyright ./usr/lib/systemd/system/nnp-guard.service \
         ./usr/lib/systemd/system/nnp-guard-watch.service ./usr/lib/systemd/system/nnp-guard-reload.path \
         ./usr/lib/systemd/system/nnp-guard-reload.service ./usr/lib/systemd/system/nnp-metrics.service \
         ./usr/lib/systemd/system/nnp-metrics.timer ./usr/lib/systemd/catalog/nnp.catalog \
         ./usr/share/nnp/prometheus/nnp.rules.yml \
         ./var/lib/prometheus/node-exporter/; do
  printf '%s\n' "$OUT" | awk '{print $6}' | grep -qxF "$f" || fail "missing $f"
done
case_end

case_begin "conffiles and scriptlets"
mkdir -p "$T/ctrl"; dpkg-deb -e "$DEB" "$T/ctrl"
[ "$(cat "$T/ctrl/conffiles")" = "/etc/security/nnp.toml" ] || fail "conffiles: $(cat "$T/ctrl/conffiles")"
grep -q "add-shell /usr/bin/nnp-shell" "$T/ctrl/postinst" || fail "postinst must add-shell"
grep -q "remove-shell /usr/bin/nnp-shell" "$T/ctrl/postrm" || fail "postrm must remove-shell"
grep -q "pam-auth-update --package --remove nnp" "$T/ctrl/prerm" || fail "prerm must remove the PAM profile"
mkdir -p "$T/data"; dpkg-deb -x "$DEB" "$T/data"
file "$T/data/usr/sbin/nnpctl" | grep -q "stripped" && ! file "$T/data/usr/sbin/nnpctl" | grep -q "not stripped" || fail "binaries must be stripped"
grep -q "^Default: no" "$T/data/usr/share/pam-configs/nnp" || fail "profile must be Default: no"
case_end

case_begin "lintian: no errors or warnings"
# lintian leaves its Berkeley DB caches (mldbm-elf-*) in TMPDIR: in the test's own directory
run env TMPDIR="$T" lintian -E "$DEB"
expect_rc 0
printf '%s\n' "$OUT" | grep -qE '^[EW]:' && fail "lintian errors/warnings"
case_end

# ---- install for real, on overlays ----
overlay_system
case_begin "dpkg -i installs; nnp-shell in /etc/shells; no PAM stack changed (Default: no)"
run dpkg -i "$DEB"
expect_rc 0
grep -qx /usr/bin/nnp-shell /etc/shells || fail "/etc/shells lacks nnp-shell"
grep -q pam_nnp /etc/pam.d/common-session && fail "installation alone must not change common-session"
[ "$(dpkg-query -W -f='${Status}' nnp)" = "install ok installed" ] || fail "dpkg status"
case_end

case_begin "dpkg -i: the packaged nnp-shell is static and picks a rule's shell through the packaged helper (control: no rule)"
readelf -lW /usr/bin/nnp-shell | grep -q INTERP && fail "the packaged nnp-shell has a program interpreter"
install_probe
add_group restricted $((UID_BASE + 100)) 2>/dev/null
grep -q "^alice:" /etc/passwd || add_user alice $((UID_BASE + 1)) restricted
printf '%s\n' "$GROUP_RULE" 'shell = "/bin/bash"' > /etc/security/nnp.d/10-test.toml
run setpriv --reuid=$((UID_BASE + 1)) --regid=$((UID_BASE + 1)) --clear-groups /usr/bin/nnp-shell -c "readlink /proc/\$\$/exe; $T/bin/probe"
expect_rc 0
expect_line /usr/bin/bash
expect_line "NNP=1 EUID=$((UID_BASE + 1))"
[ -z "$ERR" ] || fail "no warning expected"
rm /etc/security/nnp.d/10-test.toml
run setpriv --reuid=$((UID_BASE + 1)) --regid=$((UID_BASE + 1)) --clear-groups /usr/bin/nnp-shell -c "readlink /proc/\$\$/exe; true"
expect_line /usr/bin/dash
case_end

case_begin "nnpctl check passes on the shipped config"
run nnpctl check
expect_rc 0
expect_line "ok: 0 rules from 1 file"
case_end

case_begin "pam-auth-update --enable nnp puts the line in common-session, after pam_systemd"
run pam-auth-update --enable nnp
expect_rc 0
grep -qE '^session[[:space:]]+required[[:space:]]+pam_nnp.so' /etc/pam.d/common-session || fail "common-session lacks pam_nnp"
grep -qE '^session[[:space:]]+required[[:space:]]+pam_nnp.so' /etc/pam.d/common-session-noninteractive || fail "common-session-noninteractive lacks pam_nnp"
if grep -q pam_systemd /etc/pam.d/common-session; then
  sd=$(grep -n pam_systemd /etc/pam.d/common-session | cut -d: -f1)
  nn=$(grep -n pam_nnp /etc/pam.d/common-session | cut -d: -f1)
  [ "$nn" -gt "$sd" ] || fail "pam_nnp (line $nn) must come after pam_systemd (line $sd)"
fi
case_end

case_begin "the packaged module sets NNP through su for a matched user (control: unmatched)"
install_probe
add_group restricted $((UID_BASE + 100))
add_user alice $((UID_BASE + 1)) restricted   # /etc is an overlay here: written for real
add_user bob $((UID_BASE + 2))
printf '%s\n' "$GROUP_RULE" > /etc/security/nnp.d/10-test.toml
run su alice -c "$T/bin/probe"
expect_line "NNP=1 EUID=$((UID_BASE + 1))"
run su bob -c "$T/bin/probe"
expect_line "NNP=0 EUID=0"
rm /etc/security/nnp.d/10-test.toml
case_end

case_begin "the packaged nnpctl loads the guard (kill mode here) and it refuses; units not enabled; nnp-shell static"
file /usr/bin/nnp-shell | grep -q "static" || fail "the packaged nnp-shell must be statically linked"
ls /etc/systemd/system/*.wants/nnp-* >/dev/null 2>&1 && fail "the units must be disabled by default"
install_probe
add_group restricted $((UID_BASE + 100)) 2>/dev/null
grep -q "^alice:" /etc/passwd || add_user alice $((UID_BASE + 1)) restricted
printf '%s\n' "$GROUP_RULE" > /etc/security/nnp.d/10-test.toml
require_private_ns
mount -t bpf nnp-bpffs /sys/fs/bpf
mount -t tmpfs -o mode=755 nnp-deb-run /run   # the guard's lock and metadata stay in here
run /usr/sbin/nnpctl guard load
expect_rc 0
printf '%s\n' "$OUT" | grep -q "^guard loaded: mode kill" || fail "guard load"
run setpriv --reuid=$((UID_BASE + 1)) --regid=$((UID_BASE + 1)) --groups=$((UID_BASE + 100)) --inh-caps=-all --bounding-set=-all "$T/bin/suid-id" -u
[ "$RC" = 137 ] || fail "the packaged guard must kill alice's setuid exec (got $RC)"
run setpriv --reuid=$((UID_BASE + 2)) --regid=$((UID_BASE + 2)) --clear-groups --inh-caps=-all --bounding-set=-all "$T/bin/suid-id" -u
[ "$RC" = 0 ] && [ "$OUT" = 0 ] || fail "control: bob's setuid exec reaches euid 0 (got $RC: $OUT)"
run /usr/sbin/nnpctl guard unload
expect_rc 0
umount /run
umount /sys/fs/bpf
rm /etc/security/nnp.d/10-test.toml
case_end

case_begin "dpkg -r is refused while a pam_nnp line added by hand stays: outside pam-auth-update's block of common-session, or in sshd's own file (control: with the lines gone it removes, no pam_nnp line left)"
# Issue 21: prerm skipped every file holding pam-auth-update's marker, so a line added by hand
# to common-session outside the managed block stayed after the removal and every login
# through it (root's too) failed on the missing module.
MOD=/usr/lib/x86_64-linux-gnu/security/pam_nnp.so
held_msg="nnp: these PAM stacks require pam_nnp.so, and every login through them would fail once it is removed:"
grep -q '^# here are the per-package modules (the "Primary" block)' /etc/pam.d/common-session || fail "setup: common-session must be pam-auth-update's"
grep -qE '^session[[:space:]]+required[[:space:]]+pam_nnp.so' /etc/pam.d/common-session || fail "setup: the profile must be enabled (an earlier case)"
cp /etc/pam.d/common-session "$T/cs.orig"; cp /etc/pam.d/sshd "$T/sshd.orig"
# 1. common-session, after pam-auth-update's block
echo "session required pam_nnp.so" >> /etc/pam.d/common-session
run dpkg -r nnp
[ "$RC" != 0 ] || fail "dpkg -r must be refused while common-session holds a line added by hand"
printf '%s\n' "$ERR" | grep -qF "$held_msg /etc/pam.d/common-session" || fail "the refusal must name common-session"
[ -f "$MOD" ] || fail "the module must stay"
dpkg-query -W -f='${Status}' nnp | grep -q "install ok installed" || fail "the package must stay installed"
[ "$(grep -cE '^session[[:space:]]+required[[:space:]]+pam_nnp.so' /etc/pam.d/common-session)" = 2 ] || fail "the profile's own line must stay with the refused removal"
cat "$T/cs.orig" > /etc/pam.d/common-session
# 2. the README's by-hand line in sshd's own file
echo "session required pam_nnp.so" >> /etc/pam.d/sshd
run dpkg -r nnp
[ "$RC" != 0 ] || fail "dpkg -r must be refused while sshd's stack holds a line added by hand"
printf '%s\n' "$ERR" | grep -qF "$held_msg /etc/pam.d/sshd" || fail "the refusal must name sshd"
[ -f "$MOD" ] || fail "the module must stay (sshd)"
cat "$T/sshd.orig" > /etc/pam.d/sshd
# 3. the same line in other case (libpam reads types and controls case-insensitively; the
# lowercase-only pattern let the removal through: review)
echo "Session Required pam_nnp.so" >> /etc/pam.d/sshd
run dpkg -r nnp
[ "$RC" != 0 ] || fail "dpkg -r must be refused while sshd's stack holds 'Session Required pam_nnp.so'"
printf '%s\n' "$ERR" | grep -qF "$held_msg /etc/pam.d/sshd" || fail "the refusal must name sshd (uppercase)"
cat "$T/sshd.orig" > /etc/pam.d/sshd
# node_exporter's last nnp.prom would keep saying nnp_guard_in_force 1 after the removal
mkdir -p /var/lib/prometheus/node-exporter
echo "nnp_guard_in_force 1" > /var/lib/prometheus/node-exporter/nnp.prom
echo "other_metric 1" > /var/lib/prometheus/node-exporter/other.prom
# control: only the profile's lines: removed, and no stack names pam_nnp any more
run dpkg -r nnp
expect_rc 0
[ -e "$MOD" ] && fail "control: the module must be gone"
grep -l pam_nnp /etc/pam.d/* && fail "control: a stack still names pam_nnp"
[ -e /var/lib/prometheus/node-exporter/nnp.prom ] && fail "the removal must take nnp.prom with it"
[ -e /var/lib/prometheus/node-exporter/other.prom ] || fail "control: another collector's file stays"
rm -f /var/lib/prometheus/node-exporter/other.prom
# as the next case expects: installed, profile enabled
dpkg -i "$DEB" > /dev/null 2>&1 || fail "reinstall"
pam-auth-update --enable nnp > /dev/null 2>&1 || fail "re-enable"
case_end

case_begin "dpkg --purge removes everything"
run dpkg --purge nnp
expect_rc 0
for f in /usr/lib/x86_64-linux-gnu/security/pam_nnp.so /usr/bin/nnp-shell /usr/sbin/nnpctl \
         /usr/lib/nnp/nnp-shell-helper /etc/security/nnp.toml /etc/security/nnp.d /usr/share/pam-configs/nnp /usr/share/man/man8/nnpctl.8.gz; do
  [ -e "$f" ] && fail "$f is still there"
done
grep -q nnp-shell /etc/shells && fail "/etc/shells still lists nnp-shell"
grep -q pam_nnp /etc/pam.d/common-session /etc/pam.d/common-session-noninteractive && fail "PAM stacks still load pam_nnp"
dpkg-query -W -f='${Status}' nnp 2>/dev/null | grep -q installed && fail "still known to dpkg"
case_end

finish
