#!/bin/bash
# nnpctl against fixtures in a private mount namespace with fake users and groups.
# Fixture: the standard users, a config (dave exempt, the group rule), a drop-in for carol,
# and PAM stacks of its own (doctor reads every stack in /etc/pam.d and /usr/lib/pam.d: none
# is the host's).
# Each case runs in its own environment (run_case): what it writes is gone after it.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
find /etc/pam.d -mindepth 1 -delete
for s in login sshd other; do write_plain_stack "$s"; done
[ -d /usr/lib/pam.d ] && mount -t tmpfs -o mode=755 nnp-no-vendor-stacks /usr/lib/pam.d
A=$((UID_BASE + 1)); B=$((UID_BASE + 2))
C=/etc/security/nnp.toml

write_config "$EXEMPT_DAVE

$GROUP_RULE"
mkdir -p /etc/security/nnp.d
printf '[[rule]]\nusers = ["carol"]\nservices = ["login"]\nnnp = true\nshell = "/bin/dash"\n' > /etc/security/nnp.d/20-login.toml

# json FIELD... — print fields of the JSON in $OUT, one per line
# (defined before the cases: a case's function calls it)
json() { printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d[k] for k in sys.argv[1:]]))' "$@"; }

case_1() {
  run "$NNPCTL" check
  expect_rc 0
  expect_line "ok: 3 rules from 2 files"
}
run_case "check: valid config -> ok: N rules from M files, exit 0" case_1

case_2() {
  printf 'mode = "enforcing"\n[[rule]]\ngrups = ["x"]\nnnp = true\n' > /etc/security/nnp.d/30-bad.toml
  printf '[[rule]]\nuids = ["9-1"]\n' > /etc/security/nnp.d/40-bad.toml
  run "$NNPCTL" check
  expect_rc 1
  expect_line '/etc/security/nnp.d/30-bad.toml:1:8: unknown mode "enforcing" (expected "enforce" or "audit")'
  expect_line '/etc/security/nnp.d/30-bad.toml:3:1: unknown key "grups" (expected one of users, groups, uids, services, nnp, mode, shell)'
  expect_line '/etc/security/nnp.d/40-bad.toml:2:9: uid range "9-1" is reversed: 9 is greater than 1 (write "1-9")'
  expect_line '/etc/security/nnp.d/40-bad.toml:1:1: rule has no "nnp" key: add nnp = true (restrict) or nnp = false (exempt)'
  expect_line "5 errors"
}
run_case "check: several errors at once, each as FILE:LINE:COL, exit 1" case_2

case_3() {
  chmod 664 /etc/security/nnp.d/20-login.toml
  run "$NNPCTL" check
  expect_rc 1
  expect_line "/etc/security/nnp.d/20-login.toml: untrusted file: writable by group (mode 0664)"
  chmod 644 /etc/security/nnp.d/20-login.toml
  chown bob $C
  run "$NNPCTL" check
  expect_rc 1
  expect_line "$C: untrusted file: owned by uid $B, not root"
}
run_case "check: untrusted files are errors naming the path and why" case_3

case_4() {
  printf '[[rule]]\ngroups = ["restricted"]\nusers = ["alice"]\nnnp = false\n\n[[rule]]\nusers = ["nosuchuser"]\ngroups = ["nosuchgroup"]\nservices = ["ssh", "sshd"]\nnnp = false\n' > /etc/security/nnp.d/50-warn.toml
  write_plain_stack sshd
  run "$NNPCTL" check
  expect_rc 0
  expect_line "warning: /etc/security/nnp.d/50-warn.toml:1: rule 4 can never match: rule 2 at $C:5 already matches everyone it would"
  expect_line 'warning: /etc/security/nnp.d/50-warn.toml:6: user "nosuchuser" is not known to NSS'
  expect_line 'warning: /etc/security/nnp.d/50-warn.toml:6: group "nosuchgroup" is not known to NSS (in an nnp = false rule it never matches)'
  expect_line 'warning: /etc/security/nnp.d/50-warn.toml:6: service "ssh" has no PAM stack /etc/pam.d/ssh (a typo? no login program uses it here)'
  printf '%s\n' "$OUT" | grep -q 'service "sshd"' && fail "sshd has a stack: no warning"
  expect_line "ok: 5 rules from 3 files"
}
run_case "check: warnings for shadowed rules and unknown names do not fail" case_4


case_5() {
  run "$NNPCTL" explain alice
  expect_rc 0
  expect_line "rule:     #2 at $C:5"
  expect_line "matched:  group \"restricted\" (gid $((UID_BASE + 100)))"
  expect_line "decision: pam_nnp sets no_new_privs"
  run "$NNPCTL" explain alice --service sshd --json
  expect_rc 0
  got=$(json user service nnp mode rule shell)
  [ "$got" = "[\"alice\", \"sshd\", true, \"enforce\", {\"file\": \"$C\", \"line\": 5, \"index\": 2}, \"/bin/sh\"]" ] || fail "json: $got"
}
run_case "explain: matched user (text and JSON)" case_5

case_6() {
  run "$NNPCTL" explain dave --json
  got=$(json nnp rule)
  [ "$got" = "[false, {\"file\": \"$C\", \"line\": 1, \"index\": 1}]" ] || fail "json: $got"
  run "$NNPCTL" explain dave
  expect_line "decision: nothing is done (exempt: nnp = false)"
}
run_case "explain: exempted user" case_6

case_7() {
  run "$NNPCTL" explain bob --json
  got=$(json user service nnp mode rule shell)
  [ "$got" = '["bob", null, false, "enforce", null, "/bin/sh"]' ] || fail "json: $got"
}
run_case "explain: unmatched user" case_7

case_8() {
  run "$NNPCTL" explain carol --json
  got=$(json nnp rule shell)
  [ "$got" = '[false, null, "/bin/dash"]' ] || fail "json without service: $got"
  run "$NNPCTL" explain carol --service login --json
  got=$(json nnp rule)
  [ "$got" = '[true, {"file": "/etc/security/nnp.d/20-login.toml", "line": 1, "index": 3}]' ] || fail "json with --service login: $got"
  # Issue 21: systemd's user manager is decided across every service, as pam_nnp decides it
  # (explain said "no rule matches" while the module set no_new_privs)
  run "$NNPCTL" explain carol --service systemd-user --json
  expect_rc 0
  got=$(json service nnp rule)
  [ "$got" = '["systemd-user", true, {"file": "/etc/security/nnp.d/20-login.toml", "line": 1, "index": 3}]' ] || fail "json with --service systemd-user: $got"
  run "$NNPCTL" explain carol --service systemd-user
  expect_rc 0
  expect_line "decision: pam_nnp sets no_new_privs"
  printf '%s\n' "$OUT" | grep -q "^service:  systemd-user (systemd's user manager: decided across every service" || fail "the service line must say how the user manager is decided"
  expect_line "  pam_nnp, service systemd-user: enforce by rule #3 at /etc/security/nnp.d/20-login.toml:1"
  # control: a service the rule does not name
  run "$NNPCTL" explain carol --service cron --json
  got=$(json service nnp rule)
  [ "$got" = '["cron", false, null]' ] || fail "json with --service cron: $got"
}
run_case "explain: service-narrowed rule (no service vs --service login; systemd-user, decided across services, vs cron); shell ignores services" case_8

case_9() {
  run "$NNPCTL" explain no-such-user-xyz
  expect_rc 3
  printf '%s' "$OUT" | grep -q '^error:    unknown user "no-such-user-xyz"' || fail "expected an unknown-user error"
}
run_case "explain: unknown user is an error" case_9

case_10() {
  setpriv --reuid=$A --regid=$A --clear-groups sleep 300 & BAD=$!
  setpriv --reuid=$A --regid=$A --clear-groups --no-new-privs sleep 301 & GOOD=$!
  setpriv --reuid=$B --regid=$B --clear-groups sleep 302 & CTRL=$!
  for i in $(seq 50); do   # until all three have exec'd sleep
    n=0; for p in $BAD $GOOD $CTRL; do tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q '^sleep' && n=$((n + 1)); done
    [ "$n" = 3 ] && break; sleep 0.1
  done
  run "$NNPCTL" audit
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qE "^ *$BAD +$BAD +alice +[0-9T:Z-]+ +sleep 300$" || fail "pid $BAD (sleep 300) should be listed"
  printf '%s\n' "$OUT" | grep -qE "^ *$GOOD " && fail "pid $GOOD has NNP and must not be listed"
  printf '%s\n' "$OUT" | grep -qE "^ *$CTRL " && fail "pid $CTRL belongs to an unrestricted user"
  run "$NNPCTL" audit --json
  expect_rc 1
  got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(sorted((f["pid"], f["user"], f["command"]) for f in json.load(sys.stdin)["findings"]))')
  [ "$got" = "[($BAD, 'alice', 'sleep 300')]" ] || fail "json: $got"
  kill $BAD; wait $BAD 2>/dev/null
  run "$NNPCTL" audit
  expect_rc 0
  printf '%s' "$OUT" | grep -q "^ok: no thread of a restricted user lacks no_new_privs" || fail "expected ok"
  kill $GOOD $CTRL; wait 2>/dev/null
}
run_case "audit: restricted user's process without NNP is listed, with NNP is not; control user not listed" case_10

case_11() {
  setpriv --reuid=$A --regid=$A --clear-groups --no-new-privs sleep 301 & GOOD=$!
  setpriv --reuid=$B --regid=$B --clear-groups sleep 302 & CTRL=$!
  for i in $(seq 50); do   # until both have exec'd sleep
    n=0; for p in $GOOD $CTRL; do tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q '^sleep' && n=$((n + 1)); done
    [ "$n" = 2 ] && break; sleep 0.1
  done
  run "$NNPCTL" status $GOOD $CTRL
  expect_rc 0
  printf '%s\n' "$OUT" | grep -qE "^ *$GOOD +1 +0 \(off\) +$A +$A +sleep 301$" || fail "status of $GOOD"
  printf '%s\n' "$OUT" | grep -qE "^ *$CTRL +0 +0 \(off\) +$B +$B +sleep 302$" || fail "status of $CTRL"
  run setpriv --no-new-privs "$NNPCTL" status
  printf '%s\n' "$OUT" | grep -qE "^ *[0-9]+ +1 " || fail "status of the caller (under setpriv --no-new-privs)"
  run "$NNPCTL" status notapid
  expect_rc 2
  run "$NNPCTL" status 999999999
  expect_rc 1
  kill $GOOD $CTRL; wait 2>/dev/null
}
run_case "status: NoNewPrivs, Seccomp, uid/euid of given pids" case_11

case_12() {
  run "$NNPCTL" frobnicate
  expect_rc 2
  run "$NNPCTL" explain
  expect_rc 2
  run "$NNPCTL" --help
  expect_rc 0
}
run_case "usage errors exit 2; --help exits 0" case_12

case_13() {
  write_stack sshd
  run "$NNPCTL" doctor
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q "^ok: /etc/pam.d/sshd:5 (stack sshd): session required $MODULE (session module 2 of 2)$" || fail "sshd stack finding"
  printf '%s\n' "$OUT" | grep -q "^ok: config $C: 3 rules from 2 files$" || fail "config finding"
}
run_case "doctor: pam_nnp in the sshd stack, valid config -> exit 0" case_13

# login_stacks — the case's own login and common-session (Debian's shape), with no
# pam_nnp: the host's login may have no pam_selinux line (RPM distributions, minimal
# images) and its common-session other modules.
login_stacks() {
  cat > /etc/pam.d/login <<'STACK'
auth     required pam_permit.so
account  required pam_permit.so
password required pam_permit.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open
@include common-session
STACK
  cat > /etc/pam.d/common-session <<'STACK'
session [default=1] pam_permit.so
session requisite   pam_deny.so
session required    pam_permit.so
session required    pam_unix.so
STACK
}

case_14() {
  write_plain_stack sshd
  login_stacks
  # by path: pam_nnp.so by name is not in libpam's module dir here, and doctor reports that
  # line as the lock-out it is ("Module is unknown"; tests/e2e/doctor_stacks.sh)
  echo "session required $MODULE debug" >> /etc/pam.d/common-session
  run "$NNPCTL" doctor
  printf '%s\n' "$OUT" | grep -qE "^ok: /etc/pam.d/common-session:[0-9]+ \(stack login\): session required $MODULE debug \(session module [0-9]+ of [0-9]+\)$" || fail "login stack via common-session"
  printf '%s\n' "$OUT" | grep -qE "^info: /etc/pam.d/common-session:[0-9]+ \(stack login\): after pam_selinux open" || fail "position relative to pam_selinux open"
  printf '%s\n' "$OUT" | grep -q "^warning: the sshd stack does not load pam_nnp.so" || fail "sshd warning"
}
run_case "doctor: pam_nnp via @include common-session is found, with its position" case_14

case_15() {
  write_plain_stack sshd
  login_stacks
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: no PAM stack in /etc/pam.d loads pam_nnp.so" || fail "expected the problem line"
}
run_case "doctor: no stack loads pam_nnp while rules exist -> problem, exit 1" case_15

case_16() {
  write_stack sshd
  install -m 0755 "$NNP_SHELL" "$T/bin/nnp-shell"
  USER_SHELL="$T/bin/nnp-shell" add_user sam $((UID_BASE + 10))
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: $T/bin/nnp-shell is not in /etc/shells" || fail "expected the /etc/shells problem"
  echo "$T/bin/nnp-shell" >> /etc/shells
  run "$NNPCTL" doctor
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q "^ok: $T/bin/nnp-shell is in /etc/shells" || fail "expected ok"
}
run_case "doctor: nnp-shell user whose shell is not in /etc/shells -> problem" case_16

case_17() {
  write_stack sshd
  # the first UsePAM line wins; the rest of the host's sshd_config follows (the case's copy)
  cp /etc/ssh/sshd_config "$T/sshd_config.host"
  { echo "UsePAM no"; cat "$T/sshd_config.host"; } > /etc/ssh/sshd_config
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: sshd runs with UsePAM no: it opens no PAM session" || fail "expected the UsePAM problem"
  { echo "UsePAM yes"; cat "$T/sshd_config.host"; } > /etc/ssh/sshd_config
  run "$NNPCTL" doctor
  printf '%s\n' "$OUT" | grep -q "^ok: sshd runs with UsePAM yes (sshd -T)" || fail "control: UsePAM yes"
}
run_case "doctor: sshd with UsePAM no while its stack loads pam_nnp -> problem" case_17

case_18() {
  mount -t tmpfs nnp-sysfs /sys/fs; mkdir -p /sys/fs/selinux; echo 1 > /sys/fs/selinux/enforce
  mount -t tmpfs nnp-sysmod /sys/module; mkdir -p /sys/module/apparmor/parameters; echo Y > /sys/module/apparmor/parameters/enabled
  run "$NNPCTL" doctor
  printf '%s\n' "$OUT" | grep -q "^warning: SELinux is enforcing: under no_new_privs an exec that changes domain is refused unless the policy allows nnp_transition" || fail "SELinux finding"
  printf '%s\n' "$OUT" | grep -q "^warning: AppArmor is enabled" || fail "AppArmor finding"
  umount /sys/fs /sys/module
  run "$NNPCTL" doctor
  printf '%s\n' "$OUT" | grep -q "^info: SELinux is not enabled" || fail "control: no SELinux"
}
run_case "doctor: SELinux enforcing and AppArmor enabled are reported with their consequence" case_18

case_19() {
  write_config 'nnp = true'
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: $C:1:1: unknown key \"nnp\"" || fail "expected the config problem"
}
run_case "doctor: invalid config is a problem" case_19

finish
