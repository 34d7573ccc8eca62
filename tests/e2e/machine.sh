#!/bin/bash
# A real machine: Debian 12 booted under qemu (TCG) with systemd as PID 1, journald, sshd,
# cron, at, slapd + SSSD, Debian's own kernel — nnp installed from the project's .deb as an
# administrator installs it, through boots, upgrades and removal (issue 21); and what a fleet
# reads from it (issue 23): the packaged metrics service scraped by node_exporter, the
# guard's journal entries by their fields and catalog, every --json document validated on
# the host against docs/schema/.
#
# The image is built once with mmdebstrap and cached under target/machine/ (see
# tests/machine/image.sh); every run boots a copy-on-write overlay of it, installs the .deb
# (NNP_DEB, else the newest nnp_*.deb in the repo root, else `make deb`) and keeps the one
# machine for all cases: a case brings the machine into the state it needs (installed,
# configured, booted with or without bpf in lsm=) and reboots only when it is about boot, so
# every case also runs alone: tests/run.sh machine CASE (see docs/TESTING.md).
#
# The guest's only network is qemu's user stack with restrict=on and one forward from
# 127.0.0.1; qemu is killed by its pid on exit; nothing on the host changes.
. "$(dirname "$0")/../lib.sh"
. "$NNP_ROOT/tests/machine/vm.sh"
set -uo pipefail
START=$SECONDS

machine_deps qemu-system-x86_64 qemu-img mmdebstrap
machine_deb
vm_init
echo "# image: $VM_IMG ($(tail -n1 "$VM_IMG/inputs"))"

SUID=/usr/local/bin/suid-id          # a setuid-root copy of id in the guest
# the journal's MESSAGE_IDs (nnpctl/src/journal.rs): the guard's refusal, and all of them
MSG_REFUSED=e280426ffb4e420f9cbec18477842fd0
MSG_IDS=$(grep -o '"[0-9a-f]\{32\}"' "$NNP_ROOT/nnpctl/src/journal.rs" | tr -d '"' | sort -u)
[ "$(wc -w <<< "$MSG_IDS")" -ge 5 ] && grep -q "$MSG_REFUSED" <<< "$MSG_IDS" || { echo "Bail out! cannot read the MESSAGE_IDs from nnpctl/src/journal.rs"; exit 1; }
CONFIG_GROUP='[[rule]]
groups = ["restricted"]
nnp = true'
CONFIG_SSHD='[[rule]]
groups = ["restricted"]
services = ["sshd"]
nnp = true'

# case_end prints how long the case took first (the file's budget is 10 minutes). Still
# named case_end: tests/lib.sh's case selection lets only that name through a skipped case.
LAST_END=$SECONDS
eval "_lib_case_end() $(declare -f case_end | tail -n +2)"
case_end() { [ "$SKIPPING" = 1 ] || echo "# $((SECONDS - LAST_END)) s"; LAST_END=$SECONDS; _lib_case_end; }

# ---- the machine's states; each ensure_* is idempotent ----

# prepare_guest — users (alice, carol: group restricted; bob: the control), their ssh keys,
# sudo for all three, the setuid probe. Once per run (the overlay keeps it across boots).
PREPARED=0
prepare_guest() {
  [ "$PREPARED" = 1 ] && return 0
  guest_users "restricted:1100" "alice:1001:restricted bob:1002: carol:1003:restricted" "$SUID" || return 1
  PREPARED=1
}

# ensure_installed — the .deb installed (dpkg -i, as the README says)
ensure_installed() {
  vm_ensure "${1:-$LSM_BPF}" || return 1
  prepare_guest || return 1
  g 'dpkg-query -W -f "\${Status}" nnp 2>/dev/null | grep -q "install ok installed"' && return 0
  gput "$DEB" /root/nnp.deb || return 1
  # The package registers its profile (Default: no) and touches no stack: the PAM stacks
  # are byte for byte what they were until the administrator runs pam-auth-update --enable.
  g 'sha256sum /etc/pam.d/* | sort' ; local before=$OUT
  gq 'dpkg -i /root/nnp.deb' || return 1
  g 'sha256sum /etc/pam.d/* | sort; grep -l pam_nnp /etc/pam.d/*'
  [ "$OUT" = "$before" ] || { fail "dpkg -i changed the PAM stacks (before the administrator enabled anything)"; return 1; }
  g 'test -f /usr/share/pam-configs/nnp'; [ "$RC" = 0 ] || { fail "dpkg -i did not install the pam-auth-update profile"; return 1; }
}

# set_config TEXT — /etc/security/nnp.toml (root's, 0644), checked by nnpctl check
set_config() {
  printf '%s\n' "$1" > "$T/nnp.toml"
  gput "$T/nnp.toml" /etc/security/nnp.toml && gq 'chown root:root /etc/security/nnp.toml; chmod 644 /etc/security/nnp.toml; nnpctl check'
}

# ensure_pam — the module in the stacks through the package's pam-auth-update profile
ensure_pam() {
  g 'grep -q pam_nnp.so /etc/pam.d/common-session' || gq 'pam-auth-update --enable nnp'
}

# guard_off — no guard loaded and none at boot (the cases about the module alone)
guard_off() {
  g 'systemctl disable --now nnp-guard-watch.service nnp-guard-reload.path nnp-guard.service 2>/dev/null; [ -d /sys/fs/bpf/nnp ] && nnpctl guard unload; true'
}

# guard_enable — the units enabled as the README says, the guard loaded now
guard_enable() {
  gq 'systemctl enable nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path && systemctl start nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path'
}

# probe_as USER — a fresh ssh login as USER: prints "NNP=<bit> EUID=<euid of the setuid probe>"
probe_as() {
  gssh "$1" "echo NNP=\$(awk '/^NoNewPrivs:/{print \$2}' /proc/self/status) EUID=\$($SUID -u 2>&1)"
}

# unit_as USER CMD — CMD run by systemd as USER with no PAM session (systemd-run --uid=)
unit_as() { g "systemd-run --quiet --uid=$1 --wait --pipe --collect /bin/sh -c $(printf %q "$2")"; }

# uid_of USER
uid_of() { g "id -u $1" && echo "$OUT"; }

# ---------------------------------------------------------------------------------------
case_begin "scenario 1 (install): dpkg -i, a group rule, pam-auth-update --enable nnp; ssh, sudo and their control; the journal line; doctor on the real system and on injected misconfigurations"
ensure_installed || fail "the machine or the package did not come up"
guard_off
set_config "$CONFIG_GROUP" || fail "nnpctl check refused the config"
expect_out_match '^ok: 1 rules? from 1 file'
ensure_pam || fail "pam-auth-update --enable nnp failed"
g 'grep -H pam_nnp.so /etc/pam.d/common-session /etc/pam.d/common-session-noninteractive'
[ "$(printf '%s\n' "$OUT" | grep -c pam_nnp.so)" = 2 ] || fail "pam-auth-update did not add pam_nnp to both common-session stacks"
probe_as alice; expect_out_line "NNP=1 EUID=1001"
gssh alice 'sudo -n id -u'
[ "$RC" = 1 ] || fail "sudo under NNP should exit 1"
expect_out_match 'The "no new privileges" flag is set'
probe_as bob; expect_out_line "NNP=0 EUID=0"           # control: setuid works for bob
gssh bob 'sudo -n id -u'; expect_out_line 0
# The module's line, through pam_syslog into the journal (facility authpriv = 10).
g_wait 10 "journalctl -q -t sshd SYSLOG_FACILITY=10 -o cat | grep -E '^pam_nnp\\(sshd:session\\): user alice \\(uid 1001\\): no_new_privs set by rule /etc/security/nnp.toml:1\$'" ||
  fail "no pam_nnp line for alice in the journal (journalctl -t sshd SYSLOG_FACILITY=10)"
g 'journalctl -q -t sshd -o cat | grep -c "pam_nnp(sshd:session): user bob"'
[ "$OUT" = 0 ] || fail "the control user bob should have no pam_nnp line (no rule matches, no debug)"
g 'nnpctl doctor'
[ "$RC" = 0 ] || fail "nnpctl doctor should exit 0 on this installation"
# Injected misconfigurations, each undone before the next: doctor exits 1 and names it.
g 'cp /etc/security/nnp.toml /root/nnp.toml.good; printf "[[rule]]\ngrups = [\"restricted\"]\nnnp = true\n" > /etc/security/nnp.toml; nnpctl doctor; rc=$?; cp /root/nnp.toml.good /etc/security/nnp.toml; exit $rc'
expect_rc 1; expect_out_match '/etc/security/nnp.toml:2:1: unknown key "grups"'
g 'chmod 666 /etc/security/nnp.toml; nnpctl doctor; rc=$?; chmod 644 /etc/security/nnp.toml; exit $rc'
expect_rc 1; expect_out_match 'nnp.toml.*(writable|untrusted)'
g 'echo "UsePAM no" > /etc/ssh/sshd_config.d/00-nopam.conf; nnpctl doctor; rc=$?; rm /etc/ssh/sshd_config.d/00-nopam.conf; exit $rc'
expect_rc 1; expect_out_match '^problem: sshd runs with UsePAM no'
g 'cp /etc/pam.d/common-session /root/cs.good; sed -i "/pam_nnp.so/i session sufficient pam_permit.so" /etc/pam.d/common-session; nnpctl doctor; rc=$?; cp /root/cs.good /etc/pam.d/common-session; exit $rc'
expect_rc 1; expect_out_match 'sufficient'
g 'nnpctl doctor'; [ "$RC" = 0 ] || fail "doctor should be back to exit 0 once the injections are undone"
case_end

# ---------------------------------------------------------------------------------------
case_begin "scenario 5 (user-manager): services = [\"sshd\"]: the user manager of a restricted ssh login, and of a lingering restricted user, has NNP; the control's systemd-run --user reaches euid 0"
ensure_installed || fail "no machine"
guard_off
ensure_pam
set_config "$CONFIG_SSHD" || fail "nnpctl check refused the config"
# Fresh user managers: they must be started under this config.
g 'loginctl disable-linger alice bob carol; systemctl stop user@1001.service user@1002.service user@1003.service; true'
gssh alice "systemd-run --user --quiet --wait --pipe /bin/sh -c 'grep NoNewPrivs /proc/self/status; $SUID -u'"
expect_out_match '^NoNewPrivs:[[:space:]]+1$'; expect_out_line 1001
g 'grep NoNewPrivs /proc/$(pgrep -u alice -x systemd)/status'
expect_out_match '^NoNewPrivs:[[:space:]]+1$'
g_wait 10 "journalctl -q -o cat | grep -F 'pam_nnp(systemd-user:session): user alice (uid 1001): no_new_privs set by rule /etc/security/nnp.toml:1'" ||
  fail "no pam_nnp line for alice's user manager (service systemd-user) in the journal"
# a lingering user's manager starts at once, with no login at all
g 'loginctl enable-linger carol'
g_wait 30 'systemctl is-active user@1003.service' || fail "carol's lingering user manager did not start"
g "systemd-run --user --machine=carol@.host --quiet --wait --pipe /bin/sh -c 'grep NoNewPrivs /proc/self/status; $SUID -u'"
expect_out_match '^NoNewPrivs:[[:space:]]+1$'; expect_out_line 1003
# control: bob's user manager, by ssh and lingering, runs setuid with euid 0
gssh bob "systemd-run --user --quiet --wait --pipe /bin/sh -c 'grep NoNewPrivs /proc/self/status; $SUID -u'"
expect_out_match '^NoNewPrivs:[[:space:]]+0$'; expect_out_line 0
g 'loginctl enable-linger bob'
g_wait 30 'systemctl is-active user@1002.service' || fail "bob's lingering user manager did not start"
g "systemd-run --user --machine=bob@.host --quiet --wait --pipe $SUID -u"; expect_out_line 0
g 'loginctl disable-linger carol bob'
# explain gives the module's decision for the user manager (decided across every service)
g 'nnpctl explain alice --service systemd-user'; expect_out_line 'decision: pam_nnp sets no_new_privs'; expect_no_out_match 'no rule matches'
# the issue's setup the other way around: the module only in /etc/pam.d/sshd, by hand: the
# user manager gets no NNP, and doctor must say so (exit 1, naming systemd-user); control:
# the line in /etc/pam.d/systemd-user too, and doctor no longer names it
# (Debian 12's systemd-user stack is /usr/lib/pam.d/systemd-user; a file of that name in
# /etc/pam.d takes its place)
g 'cp /etc/pam.d/sshd /root/sshd.pam && pam-auth-update --disable nnp &&
   echo "session required pam_nnp.so" >> /etc/pam.d/sshd && nnpctl doctor'
expect_rc 1; expect_out_match '^problem: PAM stack systemd-user .*does not load pam_nnp.so'
g 'rm -f /root/systemd-user.pam; [ -e /etc/pam.d/systemd-user ] && cp /etc/pam.d/systemd-user /root/systemd-user.pam
   { cat /etc/pam.d/systemd-user 2>/dev/null || cat /usr/lib/pam.d/systemd-user; echo "session required pam_nnp.so"; } > /root/su.new &&
   grep -q pam_systemd /root/su.new && cp /root/su.new /etc/pam.d/systemd-user && nnpctl doctor'
expect_no_out_match '^problem: PAM stack systemd-user'; expect_out_match 'PAM stack systemd-user .*loads pam_nnp.so'
g 'cp /root/sshd.pam /etc/pam.d/sshd; if [ -e /root/systemd-user.pam ]; then cp /root/systemd-user.pam /etc/pam.d/systemd-user; else rm -f /etc/pam.d/systemd-user; fi
   pam-auth-update --enable nnp && nnpctl doctor'
expect_rc 0
case_end

# ---------------------------------------------------------------------------------------
# Jobs armed before the boot that scenario 2 checks: an @reboot cron job, an at job, a unit
# with User=, for a restricted user and for the control. Each writes what a setuid exec gave.
# Each source execs its own setuid copy ($SUID-cron, -at, -unit; -run for systemd-run), so
# that the journal entry of each refusal names its source (NNP_FILE).
arm_boot_jobs() {
  local u
  gq "for k in cron at unit run; do cp -p $SUID $SUID-\$k; done" || return 1
  for u in alice bob; do
    gq "rm -f /home/$u/boot-*.txt
      echo '@reboot $SUID-cron -u > /home/$u/boot-cron.txt 2>&1; echo rc=\$? >> /home/$u/boot-cron.txt' | crontab -u $u -
      printf '[Unit]\nDescription=nnp test: a setuid exec at boot as $u\n[Service]\nType=oneshot\nUser=$u\nExecStart=/bin/sh -c \"$SUID-unit -u > /home/$u/boot-unit.txt 2>&1; echo rc=\$\$? >> /home/$u/boot-unit.txt\"\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/boot-probe-$u.service
      systemctl enable boot-probe-$u.service 2>/dev/null
      systemctl stop atd
      cd /home/$u   # at records the working directory; the job cds there as the user (not /root)
      echo '$SUID-at -u > /home/$u/boot-at.txt 2>&1; echo rc=\$? >> /home/$u/boot-at.txt' | setpriv --reuid=$u --regid=$u --init-groups at now + 1 minute" || return 1
  done
  gq 'atq' && echo "# at queue: $(printf '%s' "$OUT" | tr '\n' ' ')"
}
# boot_job USER KIND — the result file of that job (waits up to 90 s: the at job may be due
# only a minute after it was queued)
boot_job() { g_wait 90 "cat /home/$1/boot-$2.txt | grep -q rc=" ; g "cat /home/$1/boot-$2.txt"; }
# started_after_guard UNIT — UNIT's start came after nnp-guard.service was up (monotonic clock)
started_after_guard() {
  g "g=\$(systemctl show -P ActiveEnterTimestampMonotonic nnp-guard.service); u=\$(systemctl show -P InactiveExitTimestampMonotonic $1); echo guard=\$g $1=\$u; [ \"\$g\" -gt 0 ] && [ \"\$u\" -ge \"\$g\" ]"
}

GUARD_BOOT=0   # the boot that started with the guard enabled and the jobs armed
case_begin "scenario 2 (guard-at-boot): nnp-guard.service enabled, lsm= with bpf: in force (mode lsm) before cron, at, systemd units and sshd; each one's setuid exec refused, the control's not; watch logs each refusal to the journal with its fields, the catalog explains it; every --json document schema-valid"
ensure_installed "$LSM_BPF" || fail "no machine"
ensure_pam
# The rule names sshd only: cron's and atd's PAM sessions and units get no NNP from the
# module, so only the guard (which ignores services) stands between their jobs and euid 0.
set_config "$CONFIG_SSHD"
guard_off                      # at is setuid: the jobs are queued before the guard is on
arm_boot_jobs || fail "could not arm the boot jobs"
guard_enable || fail "could not enable the guard units"
vm_reboot "$LSM_BPF" || fail "the machine did not come back"
GUARD_BOOT=$VM_BOOTS
g 'systemctl is-active nnp-guard.service'; expect_out_line active
g 'nnpctl guard status'; expect_rc 0; expect_out_match 'mode lsm'
for unit in systemd-user-sessions.service ssh.service cron.service atd.service boot-probe-alice.service; do
  started_after_guard "$unit" || fail "$unit started before the guard was in force"
done
boot_job alice cron; expect_out_match 'Operation not permitted'; expect_no_out_match '^0$'
boot_job alice unit; expect_out_match 'Operation not permitted'; expect_no_out_match '^0$'
boot_job alice at; expect_out_match 'Operation not permitted'; expect_no_out_match '^0$'
boot_job bob cron; expect_out_line 0
boot_job bob unit; expect_out_line 0
boot_job bob at; expect_out_line 0
unit_as alice "$SUID-run -u"; expect_out_match 'Operation not permitted'; expect_no_out_match '^0$'
unit_as bob "$SUID-run -u"; expect_out_line 0
probe_as alice; expect_out_line "NNP=1 EUID=1001"
probe_as bob; expect_out_line "NNP=0 EUID=0"
# The refusals of the boot (cron, at, unit) and of systemd-run, in the journal through watch,
# selected by the fields the issue names (MESSAGE_ID of "refused", issue 23): one entry per
# source, each naming alice, her uid, the deciding rule, the source's file and the action,
# sent by nnp-guard-watch.service under its identifier. Control: bob's execs of the same
# files (allowed) have no entry.
journal_refusals() {  # the refusal entries of this boot, one summary line each
  g "journalctl -q -b -o json MESSAGE_ID=$MSG_REFUSED"
  OUT=$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        e = json.loads(l)
        print(" ".join(str(e.get(k)) for k in ("NNP_USER", "NNP_UID", "NNP_RULE", "NNP_FILE", "NNP_ACTION", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT")))')
}
refused_line() { echo "alice 1001 /etc/security/nnp.toml:1 $SUID-$1 refused nnp-guard nnp-guard-watch.service"; }
for i in $(seq 20); do
  journal_refusals
  n=0; for k in cron at unit run; do grep -qxF "$(refused_line $k)" <<< "$OUT" && n=$((n + 1)); done
  [ "$n" = 4 ] && break; sleep 1
done
for k in cron at unit run; do expect_out_line "$(refused_line $k)"; done
expect_no_out_match '^bob |^[^ ]+ 1002 '
# the catalog entry the package ships, indexed by systemd's dpkg trigger: listed, and shown
# by journalctl -x with the entry's fields substituted
g "journalctl --list-catalog $MSG_REFUSED"; expect_out_match "^$MSG_REFUSED .*nnp exec guard refused a privilege-raising exec"
g "journalctl --list-catalog"
for id in $MSG_IDS; do grep -q "^$id " <<< "$OUT" || fail "the catalog entry $id (nnpctl/src/journal.rs) is not in journalctl --list-catalog"; done
g "journalctl -q -b -x -n 1 MESSAGE_ID=$MSG_REFUSED NNP_FILE=$SUID-run"
expect_out_match 'Subject: nnp exec guard refused a privilege-raising exec by alice$'
# guard watch --json for a moment (the service stopped meanwhile: the two would share the
# ring buffer): alice's refused exec is one nnp.watch/1 line, bob's allowed exec none
g "systemctl stop nnp-guard-watch.service; rm -f /root/watch.json
   timeout 8 nnpctl guard watch --json > /root/watch.json 2> /root/watch.err & w=\$!
   sleep 3; systemd-run --quiet --uid=alice --wait --pipe --collect $SUID-run -u; systemd-run --quiet --uid=bob --wait --pipe --collect $SUID-run -u
   wait \$w; systemctl start nnp-guard-watch.service"
gjson watch 'cat /root/watch.json'
OUT=$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        e = json.loads(l); print(e["user"], e["uid"], e["rule"], e["file"], e["action"])')
expect_out_line "alice 1001 /etc/security/nnp.toml:1 $SUID-run refused"
expect_no_out_match '^bob '
# every --json document of this machine, validated on the host against docs/schema/; and
# audit's positive control: alice's process without NNP (no PAM session) is reported as
# protected by the guard (scenario 3 requires the phrase absent when the guard is not live)
g 'systemd-run --quiet --uid=alice --unit=nnp-audit-probe --collect sleep 300'
gjson audit 'nnpctl audit --json'
g 'nnpctl audit'; expect_rc 0; expect_out_match 'protected by the guard: pid [0-9]+ tid [0-9]+ alice \(uid 1001\) (/usr/bin/)?sleep 300'
g 'systemctl stop nnp-audit-probe.service'
gjson doctor 'nnpctl doctor --json'; expect_rc 0
gjson status 'nnpctl guard status --json'; expect_rc 0
gjson explain-alice 'nnpctl explain --json alice'
gjson explain-bob 'nnpctl explain --json bob'
gjson report 'nnpctl guard report --json'
g 'nnpctl guard report'; expect_out_match "$SUID-run"
g 'systemctl disable boot-probe-alice.service boot-probe-bob.service; rm -f /etc/systemd/system/boot-probe-*.service; systemctl daemon-reload; crontab -u alice -r; crontab -u bob -r; true'
case_end

# ---------------------------------------------------------------------------------------
case_begin "scenario 8 (reboot): config, stacks and the guard survive a reboot with nothing run by hand"
ensure_installed "$LSM_BPF" || fail "no machine"
if [ "$GUARD_BOOT" = 0 ] || [ "$GUARD_BOOT" != "$VM_BOOTS" ]; then
  ensure_pam; set_config "$CONFIG_GROUP"; guard_enable
  vm_reboot "$LSM_BPF" || fail "the machine did not come back"
fi
g 'nnpctl check'; expect_rc 0
g 'grep -c pam_nnp.so /etc/pam.d/common-session /etc/pam.d/common-session-noninteractive'
expect_out_line /etc/pam.d/common-session:1; expect_out_line /etc/pam.d/common-session-noninteractive:1
g 'systemctl is-active nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path'
[ "$(printf '%s\n' "$OUT" | grep -c '^active$')" = 3 ] || fail "the guard units should all be active after the reboot"
g 'nnpctl guard status'; expect_rc 0
probe_as alice; expect_out_line "NNP=1 EUID=1001"
unit_as alice "$SUID -u"; expect_out_match 'Operation not permitted'
probe_as bob; expect_out_line "NNP=0 EUID=0"
g 'nnpctl doctor'; expect_rc 0
case_end

# ---------------------------------------------------------------------------------------
# metric NAME — the value of the series NAME (exactly as written, labels included) in OUT
metric() { printf '%s\n' "$OUT" | awk -v n="$1" '$1 == n { print $2 }'; }
# scrape — the packaged nnp-metrics.service run once by systemd (it must succeed), then
# node_exporter's page fetched inside the guest; OUT holds the page, $T/scrape-N.prom its
# nnp_ series (for promtool on the host)
SCRAPES=0
scrape() {
  g 'systemctl start nnp-metrics.service; systemctl show -P Result,ExecMainStatus nnp-metrics.service'
  [ "$OUT" = $'success\n0' ] || { g 'journalctl -q -b -u nnp-metrics.service -o cat | tail -n 10'; fail "nnp-metrics.service did not run to success"; }
  g 'curl -sf http://127.0.0.1:9100/metrics'
  [ "$RC" = 0 ] || fail "curl 127.0.0.1:9100/metrics in the guest failed"
  SCRAPES=$((SCRAPES + 1))
  printf '%s\n' "$OUT" | grep -E '^(# (HELP|TYPE) )?nnp_' > "$T/scrape-$SCRAPES.prom"
  local why
  why=$("$PROMTOOL" check metrics < "$T/scrape-$SCRAPES.prom" 2>&1) || fail "promtool check metrics on the scraped nnp_ series: $why"
}
case_begin "metrics (issue 23): with the guard in force, the packaged nnp-metrics.service (under systemd, its sandbox) writes node_exporter's textfile: scraped in the guest, in force 1, no scrape error, the rule's refusal counter rises with a refused exec; promtool accepts it; control: after guard unload, loaded 0"
ensure_installed "$LSM_BPF" || fail "no machine"
ensure_pam
g 'systemctl is-active nnp-guard.service' || { set_config "$CONFIG_GROUP"; guard_enable; }
g 'nnpctl guard status'; expect_rc 0
PROMTOOL=$("$NNP_ROOT/scripts/promtool.sh") || fail "no promtool (scripts/promtool.sh)"
g 'systemctl start prometheus-node-exporter.service' || fail "node_exporter did not start"
g_wait 30 'curl -sf -o /dev/null http://127.0.0.1:9100/metrics' || fail "node_exporter does not answer on 127.0.0.1:9100"
scrape
RULE='nnp_guard_refusals_total{rule="/etc/security/nnp.toml:1"}'
for m in nnp_config_valid nnp_guard_loaded nnp_guard_live nnp_guard_current nnp_guard_in_force 'nnp_guard_info{mode="lsm"}' node_textfile_scrape_error; do
  want=1; [ "$m" = node_textfile_scrape_error ] && want=0
  [ "$(metric "$m")" = "$want" ] || fail "expected $m $want in the scrape, got '$(metric "$m")'"
done
[ -n "$(metric 'node_textfile_mtime_seconds{file="/var/lib/prometheus/node-exporter/nnp.prom"}')" ] ||
  fail "node_exporter did not read /var/lib/prometheus/node-exporter/nnp.prom"
before=$(metric "$RULE")
[ -n "$before" ] || fail "no series $RULE in the scrape"
unit_as alice "$SUID -u"; expect_out_match 'Operation not permitted'
scrape
after=$(metric "$RULE")
[ -n "$before" ] && [ "$after" = $((before + 1)) ] || fail "$RULE should rise by one with one refused exec: $before, then '$after'"
[ "$(metric nnp_guard_in_force)" = 1 ] || fail "nnp_guard_in_force should still be 1"
# control: the guard unloaded, the same service and scrape say so
g 'systemctl stop nnp-guard-watch.service nnp-guard-reload.path nnp-guard.service; nnpctl guard unload 2>/dev/null; ls /sys/fs/bpf/nnp 2>&1'
scrape
[ "$(metric nnp_guard_loaded)" = 0 ] || fail "nnp_guard_loaded should be 0 once the guard is unloaded, got '$(metric nnp_guard_loaded)'"
[ "$(metric nnp_guard_in_force)" = 0 ] || fail "nnp_guard_in_force should be 0 once the guard is unloaded, got '$(metric nnp_guard_in_force)'"
[ "$(metric node_textfile_scrape_error)" = 0 ] || fail "node_textfile_scrape_error should stay 0"
g 'systemctl stop prometheus-node-exporter.service'
g 'systemctl start nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path && nnpctl guard status'; expect_rc 0
case_end

# ---------------------------------------------------------------------------------------
# upgrade_loop USER N — N setuid execs as USER (no PAM session), counted: "raised=R ran=N"
LOOP='n=0; r=0; for i in $(seq N); do o=$(SUID -u 2>/dev/null); n=$((n+1)); [ "$o" = 0 ] && r=$((r+1)); done; echo raised=$r ran=$n'
case_begin "scenario 6 (upgrade): nnp upgraded under a loaded guard: no setuid exec gets through meanwhile and the guard is current after; a guard_allow file follows its package's upgrade and no other file inherits it"
ensure_installed "$LSM_BPF" || fail "no machine"
ensure_pam; set_config "$CONFIG_GROUP"
g 'systemctl is-active nnp-guard.service' || guard_enable
g 'nnpctl guard status'; expect_rc 0
# A rebuilt package with a higher version: the same files, version +machine1.
gq 'set -e; rm -rf /root/up; dpkg-deb -R /root/nnp.deb /root/up
  v=$(sed -n "s/^Version: //p" /root/up/DEBIAN/control); sed -i "s/^Version: .*/Version: ${v}+machine1/" /root/up/DEBIAN/control
  dpkg-deb -b /root/up /root/nnp-up.deb >/dev/null' || fail "could not rebuild the package"
loop=${LOOP//SUID/$SUID}
# The loaded guard made to look like another version's program (as tests/e2e/guard.sh does):
# status says so (exit 1) until the upgrade really replaces it; the pinned link's inode and
# loaded_at must change too. (The rebuilt package carries the same binaries.)
g 'sed "s/^program .*/program 0000older/" /run/nnp/guard.meta > /root/meta.new && cat /root/meta.new > /run/nnp/guard.meta; nnpctl guard status'
expect_rc 1; expect_out_match "another version's"
g 'stat -c %i /sys/fs/bpf/nnp/link; sed -n "s/^loaded_at //p" /run/nnp/guard.meta'; link_before=$OUT
[ "$(printf '%s\n' "$OUT" | grep -c .)" = 2 ] || fail "cannot read the pinned link's inode and loaded_at"
# alice's loop runs (no PAM session, so no NNP: only the guard stands) while dpkg upgrades
# (one line per exec, "x0" when it raised: the unit is stopped mid-loop); it must still be
# running when dpkg returns, so the whole upgrade happened under it
g "systemd-run --quiet --uid=alice --unit=nnp-upgrade-loop --collect -p StandardOutput=file:/root/loop-alice.txt /bin/sh -c 'while :; do echo x\$($SUID -u 2>/dev/null); done'"
sleep 2
g 'dpkg -i /root/nnp-up.deb; rc=$?; echo loop=$(systemctl is-active nnp-upgrade-loop.service); exit $rc'
expect_rc 0; expect_out_line 'loop=active'
expect_no_out_match 'could not be replaced|nnp: warning'
g 'systemctl stop nnp-upgrade-loop.service; sleep 1; echo raised=$(grep -cx x0 /root/loop-alice.txt) ran=$(grep -c ^x /root/loop-alice.txt); dpkg-query -W nnp'
echo "# alice's execs during the upgrade: $OUT" | tr '\n' ' '; echo
expect_out_match '^raised=0 ran=[0-9]+$'
ran=$(printf '%s\n' "$OUT" | sed -n 's/^raised=0 ran=//p')
[ "${ran:-0}" -ge 100 ] || fail "alice's loop ran only ${ran:-0} execs across the upgrade (at least 100 expected)"
expect_out_match '\+machine1'
g 'nnpctl guard status'; expect_rc 0; expect_no_out_match "another version's"
g 'stat -c %i /sys/fs/bpf/nnp/link; sed -n "s/^loaded_at //p" /run/nnp/guard.meta'; link_after=$OUT
paste <(printf '%s\n' "$link_before") <(printf '%s\n' "$link_after") | awk '$1 == $2 { bad = 1 } END { exit bad }' ||
  fail "the upgrade left the pinned link or loaded_at as they were (before: $(echo $link_before), after: $(echo $link_after))"
g 'ls -d /sys/fs/bpf/nnp_next /sys/fs/bpf/nnp_old 2>&1'; expect_no_out_match '^/sys/fs/bpf/nnp_(next|old)$'
# a refusal after the upgrade reaches the journal through the watch (the new nnpctl's)
g "cp -p $SUID $SUID-upgraded"
unit_as alice "$SUID-upgraded -u"; expect_out_match 'Operation not permitted'
g_wait 20 "journalctl -q -b -o json MESSAGE_ID=$MSG_REFUSED NNP_FILE=$SUID-upgraded NNP_USER=alice NNP_ACTION=refused | grep -q ." ||
  { g 'systemctl status --no-pager nnp-guard-watch.service | head -n 5; journalctl -q -b -u nnp-guard-watch.service -o cat | tail -n 5'
    fail "alice's refusal after the upgrade did not reach the journal through nnp-guard-watch"; }
unit_as bob "${loop//N/20}"; expect_out_line "raised=20 ran=20"   # control
# guard_allow: /usr/bin/nnp-allowed from a local package, upgraded to a new file (new inode)
gq 'set -e; mk() { rm -rf /root/pa; mkdir -p /root/pa/DEBIAN /root/pa/usr/bin; cp /usr/bin/id /root/pa/usr/bin/nnp-allowed
    echo "# $1" >> /root/pa/usr/bin/nnp-allowed; chmod 4755 /root/pa/usr/bin/nnp-allowed
    printf "Package: nnp-allowtest\nVersion: $1\nArchitecture: amd64\nMaintainer: nnp tests <t@example.invalid>\nDescription: a guard_allow test package\n" > /root/pa/DEBIAN/control
    dpkg-deb --root-owner-group -b /root/pa /root/nnp-allowtest_$1.deb >/dev/null; }
  mk 1; mk 2; dpkg -i /root/nnp-allowtest_1.deb >/dev/null'
set_config "guard_allow = [\"/usr/bin/nnp-allowed\"]
$CONFIG_GROUP"
g_wait 20 'nnpctl guard status >/dev/null' || fail "the guard did not become current after the config change (nnp-guard-reload.path)"
g 'stat -c %i /usr/bin/nnp-allowed'; old_ino=$OUT
unit_as alice '/usr/bin/nnp-allowed -u'; expect_out_line 0
unit_as alice "$SUID -u"; expect_out_match 'Operation not permitted'
g 'dpkg -i /root/nnp-allowtest_2.deb >/dev/null; stat -c %i /usr/bin/nnp-allowed'; new_ino=$OUT
[ "$old_ino" != "$new_ino" ] || fail "the upgrade should have replaced the file (inode $old_ino)"
# the replaced allowed file is refused until the guard re-keys it: nnp-guard-watch does within 5 s
g_wait 30 'nnpctl guard status >/dev/null' || { g 'nnpctl guard status'; fail "the guard did not follow the upgraded guard_allow file"; }
unit_as alice '/usr/bin/nnp-allowed -u'; expect_out_line 0
# setuid files made after the upgrade beside it (ext4 gives a new file the lowest free inode
# of the directory's group), until one takes the old, allowed file's freed inode: it must be
# refused like every other (the allow entry is the file's identity, not its inode number)
g "for i in \$(seq 400); do cp $SUID /usr/bin/nnp-reuse-\$i; chmod 4755 /usr/bin/nnp-reuse-\$i; [ \$(stat -c %i /usr/bin/nnp-reuse-\$i) = $old_ino ] && { echo /usr/bin/nnp-reuse-\$i; break; }; done"
reused=$OUT
echo "# the file that took the old inode $old_ino: ${reused:-none}"
[ -n "$reused" ] || fail "no new file took the freed inode $old_ino (400 tried): the no-inheritance check would be vacuous"
[ -n "$reused" ] && { unit_as alice "$reused -u"; expect_out_match 'Operation not permitted'; }
unit_as alice "for f in /usr/bin/nnp-reuse-*; do \$f -u; done 2>&1 | grep -c '^0\$'"; expect_out_line 0
g 'nnpctl guard status'; expect_rc 0
g 'rm -f /usr/bin/nnp-reuse-*; dpkg -P nnp-allowtest >/dev/null'
set_config "$CONFIG_GROUP"
case_end

# ---------------------------------------------------------------------------------------
case_begin "scenario 3 (no-bpf-lsm): booted without bpf in lsm=: nnp-guard.service failed, doctor names the lsm= parameter, guard status non-zero, audit calls nobody protected by the guard"
ensure_installed "$LSM_NO_BPF" || fail "no machine"
ensure_pam; set_config "$CONFIG_GROUP"
g 'systemctl is-enabled nnp-guard.service' || guard_enable
vm_ensure "$LSM_NO_BPF" || fail "the machine did not come back"
g 'cat /sys/kernel/security/lsm'; expect_no_out_match 'bpf'
# (nnp-guard-watch.service requires the guard unit and may start it once more at boot: wait
# for that attempt to fail too)
g_wait 90 '[ "$(systemctl is-failed nnp-guard.service)" = failed ]'
g 'systemctl is-failed nnp-guard.service'; expect_out_line failed
g 'journalctl -q -b -u nnp-guard.service -o cat'; expect_out_match 'lsm='
g 'nnpctl guard status'; [ "$RC" != 0 ] || fail "guard status must not exit 0 when no mode is live"
g 'nnpctl doctor'; expect_rc 1; expect_out_match 'lsm=[^ ]*bpf'
# a process of alice without NNP (no PAM session): a finding, not "protected by the guard"
g 'systemd-run --quiet --uid=alice --unit=nnp-audit-probe --collect sleep 300'
g 'nnpctl audit'; expect_rc 1; expect_out_match 'sleep'; expect_no_out_match 'protected by the guard'
gjson audit-nobpf 'nnpctl audit --json'; expect_rc 1
gjson status-nobpf 'nnpctl guard status --json'; [ "$RC" != 0 ] || fail "guard status --json must not exit 0 either"
gjson doctor-nobpf 'nnpctl doctor --json'; expect_rc 1
g 'systemctl stop nnp-audit-probe.service'
case_end

# ---------------------------------------------------------------------------------------
# The directory in the guest: slapd on 127.0.0.1 (dc=nnp,dc=test) with ldapalice (in the
# directory group ldaprestricted) and ldapbob, SSSD as the NSS source, both enabled at boot.
# SSSD retries an offline directory every few seconds (offline_timeout), not every minute.
setup_directory() {
  g 'test -f /root/directory.done' && return 0
  gq 'set -e
    systemctl stop slapd sssd 2>/dev/null || true
    cat > /etc/ldap/slapd.conf <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile /run/slapd/slapd.pid
database mdb
maxsize 10485760
suffix "dc=nnp,dc=test"
rootdn "cn=admin,dc=nnp,dc=test"
rootpw secret
directory /var/lib/ldap
EOF
    u() { printf "dn: uid=%s,ou=people,dc=nnp,dc=test\nobjectClass: posixAccount\nobjectClass: account\nuid: %s\ncn: %s\nuidNumber: %s\ngidNumber: %s\nhomeDirectory: /home/%s\nloginShell: /bin/bash\n\n" $1 $1 $1 $2 $2 $1
          printf "dn: cn=%s,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: %s\ngidNumber: %s\n\n" $1 $1 $2; }
    { printf "dn: dc=nnp,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: nnp\no: nnp test\n\n"
      printf "dn: ou=people,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: people\n\n"
      printf "dn: ou=groups,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n"
      u ldapalice 62001; u ldapbob 62002
      printf "dn: cn=ldaprestricted,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: ldaprestricted\ngidNumber: 62100\nmemberUid: ldapalice\n\n"
    } > /root/directory.ldif
    rm -rf /etc/ldap/slapd.d /var/lib/ldap; install -d -o openldap -g openldap -m 700 /var/lib/ldap
    slapadd -f /etc/ldap/slapd.conf -l /root/directory.ldif
    chown -R openldap:openldap /var/lib/ldap; chmod 644 /etc/ldap/slapd.conf
    printf "SLAPD_CONF=/etc/ldap/slapd.conf\nSLAPD_USER=openldap\nSLAPD_GROUP=openldap\nSLAPD_SERVICES=\"ldap://127.0.0.1/\"\nSLAPD_OPTIONS=\"\"\n" > /etc/default/slapd
    install -d -m 711 /etc/sssd
    printf "[sssd]\nservices = nss\ndomains = LDAP\n[nss]\n[domain/LDAP]\nid_provider = ldap\nauth_provider = none\nldap_uri = ldap://127.0.0.1\nldap_search_base = dc=nnp,dc=test\nldap_schema = rfc2307\nldap_id_use_start_tls = false\nenumerate = false\ncache_credentials = false\nldap_network_timeout = 2\nldap_opt_timeout = 2\noffline_timeout = 2\noffline_timeout_max = 4\noffline_timeout_random_offset = 0\n" > /etc/sssd/sssd.conf
    chmod 600 /etc/sssd/sssd.conf
    grep -q "^passwd:.*sss" /etc/nsswitch.conf || sed -i -E "s/^(passwd|group):(.*)/\1:\2 sss/" /etc/nsswitch.conf
    systemctl enable slapd sssd 2>/dev/null; systemctl start slapd sssd
    for i in $(seq 30); do getent passwd ldapalice >/dev/null && break; sleep 1; done
    id ldapalice
    touch /root/directory.done' || return 1
}
# root exempted first, as the README advises for directory rules: with the directory down and
# a cold cache nobody can prove they are outside the group, so without it root's own ssh
# login (and user@0.service) would be refused too (on_error=deny)
CONFIG_LDAP='[[rule]]
users = ["root"]
nnp = false

[[rule]]
groups = ["ldaprestricted"]
nnp = true'

case_begin "scenario 4 (directory-at-boot): a rule by LDAP group (slapd + SSSD in the guest): in force at boot with the directory up and with it down (degraded, wider), narrowed by watch once slapd starts; ldapalice never gets a raising exec, the control ldapbob does once narrowed"
# (whatever the running boot's lsm=: the case boots twice by itself)
ensure_installed "${VM_PID:+$(vm_running_lsm)}" || fail "no machine"
setup_directory || fail "the directory did not come up"
set_config "$CONFIG_LDAP" || fail "nnpctl check refused the LDAP rule"
g 'systemctl is-enabled nnp-guard.service' || guard_enable
# boot 1: directory enabled; the guard loads before SSSD runs, so the name may be unknown
# at first: the guard must be in force either way and current once watch resolved it
vm_reboot "$LSM_BPF" || fail "the machine did not come back"
g 'journalctl -q -b -u nnp-guard.service -o cat | tail -n 5'; echo "# nnp-guard at boot (directory up): $(printf '%s' "$OUT" | tr '\n' ' ')"
# in force from boot either way: the unit active, the guard loaded and live (status exits 0,
# or 1 for degraded while SSSD had not answered yet — never 2 or 3, never "not loaded")
g 'systemctl is-active nnp-guard.service'; expect_out_line active
gjson status-ldap-boot 'nnpctl guard status --json'
[ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "guard status right after the boot should exit 0 or 1 (degraded), got $RC"
expect_out_match '"loaded": *true'; expect_out_match '"live": *true'
g_wait 120 'nnpctl guard status >/dev/null' || { g 'nnpctl guard status'; fail "the guard did not become complete and current with the directory up"; }
unit_as ldapalice "$SUID -u"; expect_out_match 'Operation not permitted'
unit_as ldapbob "$SUID -u"; expect_out_line 0      # control
unit_as bob "$SUID -u"; expect_out_line 0          # control (local)
# boot 2: slapd disabled and SSSD's cache cold: the group name is unknown at boot
g 'systemctl disable slapd 2>/dev/null; systemctl stop sssd; rm -rf /var/lib/sss/db/* /var/lib/sss/mc/*'
vm_reboot "$LSM_BPF" || fail "the machine did not come back"
g 'getent group ldaprestricted'; [ "$RC" != 0 ] || fail "ldaprestricted should be unknown with slapd down and a cold cache"
g 'nnpctl guard status'
[ "$RC" = 1 ] || fail "guard status should exit 1 (degraded) while the group is unknown"
expect_out_match 'degraded'
unit_as bob "$SUID -u"; expect_out_match 'Operation not permitted'   # wider: every non-root user
g "$SUID -u"; expect_out_line 0                                        # root is never guarded
# ldapalice's processes meanwhile, by number (her name does not resolve now, so systemd
# cannot start a User=62001 unit): her uid, primary gid and directory group, no PAM session
LDAPALICE="setpriv --reuid=62001 --regid=62001 --groups=62001,62100"
g "$LDAPALICE $SUID -u"; expect_out_match 'Operation not permitted'; expect_no_out_match '^0$'
# a counting loop of hers runs from now until well after the guard narrowed: never euid 0
g "systemd-run --quiet --unit=nnp-ldap-loop --collect -p StandardOutput=file:/root/loop-ldap.txt $LDAPALICE /bin/sh -c 'while :; do echo x\$($SUID -u 2>/dev/null); done'"
sleep 2
g 'systemctl start slapd'   # the directory comes up; nobody touches nnp or SSSD
g_wait 120 'nnpctl guard status >/dev/null' || { g 'nnpctl guard status; journalctl -q -b -u nnp-guard-watch.service -o cat | tail -n 10'; fail "watch did not narrow the guard once the directory was up (no admin action, SSSD not nudged)"; }
sleep 3
g 'echo loop=$(systemctl is-active nnp-ldap-loop.service); systemctl stop nnp-ldap-loop.service; sleep 1; echo raised=$(grep -cx x0 /root/loop-ldap.txt) ran=$(grep -c ^x /root/loop-ldap.txt)'
echo "# ldapalice's execs (uid 62001) across the narrowing: $(printf '%s' "$OUT" | tr '\n' ' ')"
expect_out_line 'loop=active'; expect_out_match '^raised=0 ran=[0-9]+$'
ran=$(printf '%s\n' "$OUT" | sed -n 's/^raised=0 ran=//p')
[ "${ran:-0}" -ge 50 ] || fail "ldapalice's loop ran only ${ran:-0} execs across the narrowing (at least 50 expected)"
g 'getent group ldaprestricted'; expect_rc 0                           # narrowed: the name known
unit_as ldapalice "$SUID -u"; expect_out_match 'Operation not permitted'
unit_as ldapbob "$SUID -u"; expect_out_line 0
unit_as bob "$SUID -u"; expect_out_line 0
g 'systemctl enable slapd 2>/dev/null'
set_config "$CONFIG_GROUP"
case_end

# ---------------------------------------------------------------------------------------
case_begin "scenario 7 (removal): dpkg -r refused while a stack requires pam_nnp by hand; then under a loaded guard it restores every PAM stack, unloads the guard, leaves no pin and no lock-out; dpkg -P removes the config"
ensure_installed "$LSM_BPF" || fail "no machine"
vm_ensure "$LSM_BPF" || fail "no machine"
ensure_pam; set_config "$CONFIG_GROUP"
g 'systemctl is-active nnp-guard.service' || guard_enable
# control: before removal the guard is in force and pinned, the stacks load the module
g 'ls /sys/fs/bpf/nnp'; [ -n "$OUT" ] || fail "the guard should be pinned before removal"
unit_as alice "$SUID -u"; expect_out_match 'Operation not permitted'
# A line added by hand (the README's by-hand path) would lock every ssh login out once the
# module is gone: prerm refuses the removal, and everything stays in place and working
# (and one added by hand to common-session, outside pam-auth-update's block, likewise)
g 'cp /etc/pam.d/sshd /root/sshd.pam; cp /etc/pam.d/common-session /root/common-session.pam
   echo "session required pam_nnp.so" >> /etc/pam.d/sshd; echo "session required pam_nnp.so" >> /etc/pam.d/common-session; dpkg -r nnp'
[ "$RC" != 0 ] || fail "dpkg -r should be refused while /etc/pam.d/sshd and common-session require pam_nnp.so by hand"
expect_out_match 'require pam_nnp.so, and every login.*/etc/pam.d/sshd'
expect_out_match 'require pam_nnp.so, and every login.*/etc/pam.d/common-session( |$)'
g 'dpkg-query -W -f "\${Status}" nnp; echo; ls /usr/lib/x86_64-linux-gnu/security/pam_nnp.so /lib/x86_64-linux-gnu/security/pam_nnp.so 2>/dev/null; grep -c pam_nnp.so /etc/pam.d/common-session'
expect_out_match '^(install|deinstall) ok installed$'; expect_out_match 'pam_nnp.so$'; expect_out_line 2
probe_as bob; expect_out_line "NNP=0 EUID=0"          # logins still work
g 'cp /root/sshd.pam /etc/pam.d/sshd; cp /root/common-session.pam /etc/pam.d/common-session'
g 'dpkg -r nnp'; expect_rc 0
g 'grep -rl pam_nnp /etc/pam.d; ls /usr/share/pam-configs/; ls -A /sys/fs/bpf/nnp 2>&1; ls -A /sys/fs/bpf'
expect_no_out_match 'pam_nnp|/etc/pam.d|^nnp(_next|_old)?$'
expect_out_match 'No such file or directory'
g 'systemctl is-active nnp-guard.service nnp-guard-watch.service'; expect_no_out_match '^active$'
unit_as alice "$SUID -u"; expect_out_line 0           # the guard is gone
probe_as alice; expect_out_line "NNP=0 EUID=0"        # logins work, the module is gone
probe_as bob; expect_out_line "NNP=0 EUID=0"
gssh alice 'sudo -n id -u'; expect_out_line 0
g 'test -f /etc/security/nnp.toml'; expect_rc 0       # remove keeps the conffile
g 'dpkg -P nnp'; expect_rc 0
g 'ls -d /etc/security/nnp.toml /etc/security/nnp.d 2>&1; grep -c nnp-shell /etc/shells'
expect_out_match 'nnp.toml.*No such file'; expect_out_match 'nnp.d.*No such file'; expect_out_line 0
g 'systemctl list-unit-files "nnp*" --no-legend | wc -l; ls /etc/systemd/system/*.wants/ | grep -c "^nnp"'
[ "$OUT" = $'0\n0' ] || fail "dpkg -P should leave no nnp unit file (first count) and no enablement link (second)"
case_end

vm_halt
echo "# machine: $VM_BOOTS boots, $((SECONDS - START)) s"
finish
