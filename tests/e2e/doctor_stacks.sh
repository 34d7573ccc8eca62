#!/bin/bash
# nnpctl doctor reads a PAM stack as libpam does (issue 20, items 1-4): a differential test.
# Every case writes one stack for the service nnpdiff, asks real libpam what it does with it
# (pamtester opens and closes a session for alice, who is restricted; pam_exec after pam_nnp
# prints the NoNewPrivs bit the session's children inherit), asks doctor, and requires:
#
#   doctor reports a problem for the stack  <=>  alice does not get NoNewPrivs 1
#                                                or the session fails (the service is locked out)
#
# and doctor's exit status says the same (sshd's stack here is fine, so nothing else is a
# problem). The expected libpam outcome is in the table too, so a case cannot pass vacuously.
# Each case can run alone: tests/run.sh doctor_stacks CASE.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
write_config "$GROUP_RULE"
write_stack sshd
# The user manager's stack loads pam_nnp too: the host's /usr/lib/pam.d/systemd-user does
# not, and doctor reports that for every stack with pam_nnp and pam_systemd (issue 21); the
# cases here are about the service nnpdiff alone.
write_stack systemd-user
SVC=nnpdiff
PROBE="session optional pam_exec.so stdout /bin/grep NoNewPrivs /proc/self/status"
# libpam's module directory (DEFAULT_MODULE_PATH): where pam_permit.so is
MODDIR=""
for d in /lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security /lib64/security /usr/lib64/security /lib/security; do
  [ -f "$d/pam_permit.so" ] && { MODDIR=$d; break; }
done
[ -n "$MODDIR" ] || { echo "Bail out! cannot find libpam's module directory"; exit 1; }

# fresh — the case's directory for stack files outside /etc/pam.d (each case runs in its
# own environment: no stack file of another case is there)
fresh() {
  mkdir -p "$T/static"
}

# stack TEXT [FILE] — write FILE (default: the service's stack) in /etc/pam.d
stack() { printf '%s\n' "$1" > "/etc/pam.d/${2:-$SVC}"; }

# differential EXPECTED — EXPECTED is what libpam does: "nnp" (alice gets NoNewPrivs 1 and
# the session opens) or "hole" (she does not, or the session fails). Doctor must report a
# problem for the stack exactly in the second case.
differential() {
  local expected=$1 libpam doctor pam_log
  run pamtester "$SVC" alice open_session close_session
  pam_log="pamtester: exit $RC; $(printf '%s' "$OUT $ERR" | tr '\n\t' '  ')"
  if [ "$RC" = 0 ] && printf '%s\n' "$OUT" | grep -q "^NoNewPrivs:[[:space:]]*1$"; then
    libpam=nnp
  else
    libpam=hole
  fi
  [ "$libpam" = "$expected" ] || fail "libpam: expected '$expected', got '$libpam' ($pam_log)"
  run "$NNPCTL" doctor
  if printf '%s\n' "$OUT" | grep -qE "^problem: (.*\(stack $SVC\)|PAM stack $SVC:)"; then
    doctor=problem
  else
    doctor=ok
  fi
  case "$libpam:$doctor" in
    nnp:ok) expect_rc 0 ;;
    hole:problem) expect_rc 1 ;;
    nnp:problem) fail "doctor reports a problem, but libpam gives alice NoNewPrivs 1 ($pam_log)" ;;
    hole:ok) fail "doctor reports no problem, but libpam leaves a hole ($pam_log)" ;;
  esac
}

# expect_doctor_line REGEX — doctor's last output has a line matching REGEX (the reason)
expect_doctor_line() {
  printf '%s\n' "$OUT" | grep -qE -- "$1" || fail "doctor should say: $1"
}

case_1() {
  fresh
  run "$NNPCTL" doctor
  expect_rc 0
}
run_case "baseline: only sshd loads pam_nnp, doctor exit 0" case_1

case_2() {
  fresh
  stack "@include common-auth
@include common-account
session required pam_loginuid.so
@include common-session
session required $MODULE
$PROBE
@include common-password"
  differential nnp
  expect_doctor_line "^ok: /etc/pam.d/$SVC:5 \(stack $SVC\): session required $MODULE \(session module [0-9]+ of [0-9]+\)$"
}
run_case "debian: @include common-session, then pam_nnp (ok, NNP 1)" case_2

# item 1: line continuations
case_3() {
  fresh
  stack "session required pam_permit.so \\
session required $MODULE
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): pam_nnp.so is never loaded: a .* joins it to line 1"
}
run_case "continuation: a trailing backslash joins the pam_nnp line to the one before (hole)" case_3

case_4() {
  fresh
  stack "session required pam_permit.so \\
# a comment does not end the continuation

session required $MODULE
$PROBE"
  differential hole
}
run_case "continuation across a comment and a blank line still joins (hole)" case_4

case_5() {
  fresh
  stack "session required pam_permit.so # see below \\
session required $MODULE
$PROBE"
  differential nnp
}
run_case "continuation control: a # comment ends the line before the backslash (NNP 1)" case_5

case_6() {
  fresh
  stack "session required pam_permit.so
$PROBE
session required $MODULE \\"
  differential hole
  expect_doctor_line "^problem: PAM stack $SVC: .*no line follows it.*Initialization failure"
}
run_case "continuation on the last line: libpam cannot read the stack at all (locked out)" case_6

# item 2: controls, jumps, sufficient, substacks
case_7() {
  fresh
  stack "session required pam_permit.so
session [success=1 default=ignore] pam_succeed_if.so service in $SVC:su quiet
session required $MODULE
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:3 \(stack $SVC\): /etc/pam.d/$SVC:2: .*jumps over 1 module"
}
run_case "rhel: [success=1 default=ignore] pam_succeed_if.so jumps over pam_nnp (hole)" case_7

case_8() {
  fresh
  stack "session required pam_permit.so
session required $MODULE
session [success=1 default=ignore] pam_succeed_if.so service in $SVC:su quiet
session required pam_permit.so
$PROBE"
  differential nnp
}
run_case "rhel control: pam_nnp before the jump (NNP 1)" case_8

case_9() {
  fresh
  stack "session required pam_permit.so
session sufficient pam_permit.so
session required $MODULE
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:3 \(stack $SVC\): /etc/pam.d/$SVC:2: .*ends the stack when its module returns success"
}
run_case "sufficient pam_permit before pam_nnp ends the stack (hole)" case_9

case_10() {
  fresh
  stack "session required pam_permit.so
session [success=done default=ignore] pam_permit.so
session required $MODULE
$PROBE"
  differential hole
}
run_case "[success=done] before pam_nnp ends the stack (hole)" case_10

case_11() {
  fresh
  stack "session required pam_permit.so
session required $MODULE
$PROBE
session sufficient pam_permit.so"
  differential nnp
}
run_case "sufficient control: after pam_nnp it ends nothing that matters (NNP 1)" case_11

case_12() {
  fresh
  stack "session sufficient pam_permit.so
session required $MODULE" "$SVC-sub"
  stack "session required pam_permit.so
session substack $SVC-sub
$PROBE"
  differential hole
}
run_case "substack: sufficient inside it skips pam_nnp after it in the substack (hole)" case_12

case_13() {
  fresh
  stack "session sufficient pam_permit.so" "$SVC-sub"
  stack "session required pam_permit.so
session substack $SVC-sub
session required $MODULE
$PROBE"
  differential nnp
}
run_case "substack control: sufficient inside it ends only the substack (NNP 1)" case_13

case_14() {
  fresh
  stack "session sufficient pam_permit.so" "$SVC-inc"
  stack "session required pam_permit.so
session include $SVC-inc
session required $MODULE
$PROBE"
  differential hole
}
run_case "include: sufficient in an included file ends the whole stack (hole)" case_14

# item 3: symlinked stack files (the target outside /etc/pam.d, as NixOS and managed trees)
case_15() {
  fresh
  printf '%s\n' "session required pam_permit.so
session optional $MODULE config=/etc/security/nnp-missing.toml
$PROBE" > "$T/static/$SVC"
  ln -s "$T/static/$SVC" /etc/pam.d/$SVC
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): control \"optional\""
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): config: /etc/security/nnp-missing.toml"
}
run_case "symlinked stack: an optional pam_nnp with a broken config there is found (hole)" case_15

case_16() {
  fresh
  printf '%s\n' "session required pam_permit.so
session required $MODULE
$PROBE" > "$T/static/$SVC"
  ln -s "$T/static/$SVC" /etc/pam.d/$SVC
  differential nnp
  expect_doctor_line "^ok: /etc/pam.d/$SVC:2 \(stack $SVC\): session required $MODULE"
}
run_case "symlinked stack control: required pam_nnp there (NNP 1), reported as ok" case_16

# item 4: module files that do not exist
case_17() {
  fresh
  stack "session required pam_permit.so
session required $T/nowhere/pam_nnp.so
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): module file $T/nowhere/pam_nnp.so does not exist: libpam answers \"Module is unknown\""
}
run_case "missing module, absolute path: Module is unknown, everyone locked out (hole)" case_17

case_18() {
  fresh
  stack "session required pam_permit.so
session required pam_nnp.so
$PROBE"
  if [ -e "$MODDIR/pam_nnp.so" ]; then
    fail "this case needs a module dir without pam_nnp.so ($MODDIR has one)"
  fi
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): module file $MODDIR/pam_nnp.so does not exist"
}
run_case "missing module, relative name resolved in libpam's module dir (hole)" case_18

case_19() {
  fresh
  # a private copy of the module dir with pam_nnp.so in it, mounted in this namespace only
  mkdir -p "$T/moddir"
  cp -a "$MODDIR/." "$T/moddir/"
  cp "$MODULE" "$T/moddir/pam_nnp.so"
  mount --bind "$T/moddir" "$MODDIR"
  stack "session required pam_permit.so
session required pam_nnp.so
$PROBE"
  differential nnp
  umount "$MODDIR"
}
run_case "relative name control: pam_nnp.so present in libpam's module dir (NNP 1)" case_19

case_20() {
  fresh
  stack "session required pam_permit.so
-session optional $T/nowhere/pam_nnp.so
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): module file .* does not exist: libpam cannot load it and, with control \"optional\", lets the session go on"
}
run_case "-session optional, module missing: libpam skips it silently (hole)" case_20

case_21() {
  fresh
  stack "session required pam_permit.so
-session required $T/nowhere/pam_nnp.so
$PROBE"
  differential hole
}
run_case "-session required, module missing: the dash only silences the log, locked out (hole)" case_21

case_22() {
  fresh
  stack "session required pam_permit.so
session required pam_nnp_test_no_such_module.so
session required $MODULE
$PROBE"
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:3 \(stack $SVC\): no outcome of the stack's modules lets a session of service $SVC succeed"
}
run_case "another required module missing before pam_nnp locks the service out (hole)" case_22

# the service's own pam_nnp line never becomes a session line, so libpam falls back to other
# (a session that succeeds and shows the NoNewPrivs bit): doctor must still report the line
other_probe() {
  stack "session required pam_permit.so
$PROBE" other
}

# expect_session_without_nnp — libpam opens the session, and alice's NoNewPrivs is 0
expect_session_without_nnp() {
  run pamtester "$SVC" alice open_session close_session
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q "^NoNewPrivs:[[:space:]]*0$" || fail "other's probe should show NoNewPrivs 0: $OUT"
}

case_23() {
  fresh
  other_probe
  stack "auth required pam_permit.so
account required pam_permit.so \\
session required $MODULE \\
$PROBE"
  expect_session_without_nnp
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:3 \(stack $SVC\): pam_nnp.so is never loaded: a .* joins it to line 2"
}
run_case "continuation onto an account line: no session line left, libpam uses other (hole)" case_23

case_24() {
  fresh
  other_probe
  stack "auth required pam_permit.so
account required pam_permit.so
session required $MODULE
$PROBE"
  differential nnp
  expect_doctor_line "^ok: /etc/pam.d/$SVC:3 \(stack $SVC\): session required $MODULE"
}
run_case "continuation control: the same stack without the backslashes (NNP 1, ok)" case_24

case_25() {
  fresh
  other_probe
  stack "auth required pam_permit.so
sesion required $MODULE
sesion${PROBE#session}"
  expect_session_without_nnp
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/$SVC:2 \(stack $SVC\): pam_nnp.so is never loaded: illegal module type \"sesion\""
}
run_case "misspelled type: libpam makes the lines auth entries and uses other (hole)" case_25

case_26() {
  fresh
  other_probe
  stack "auth required pam_permit.so
session required $MODULE
$PROBE"
  differential nnp
}
run_case "misspelled type control: the same stack spelled right (NNP 1)" case_26

# RHEL 9's ordinary stacks: password-auth and system-auth (authselect's sssd profile, its
# session block with the crond jump) and sshd's stack (here as the service nnpdiff), which
# includes password-auth and postlogin
RHEL_CROND_JUMP="session     [success=1 default=ignore] pam_succeed_if.so service in crond quiet use_uid"
# rhel_auth FILE [NNP_AFTER_JUMP] — write password-auth or system-auth; with a second
# argument pam_nnp comes right after the crond jump (the line it jumps over)
rhel_auth() {
  local nnp=""
  [ -n "${2:-}" ] && nnp="
session     required                   $MODULE"
  stack "auth        required                   pam_env.so
auth        required                   pam_faildelay.so delay=2000000
auth        sufficient                 pam_unix.so nullok
auth        required                   pam_deny.so

account     required                   pam_unix.so

password    requisite                  pam_pwquality.so local_users_only
password    sufficient                 pam_unix.so yescrypt shadow nullok use_authtok
password    required                   pam_deny.so

session     optional                   pam_keyinit.so revoke
session     required                   pam_limits.so
-session    optional                   pam_systemd.so
$RHEL_CROND_JUMP$nnp
session     required                   pam_unix.so" "$1"
}
rhel_postlogin() {
  stack "session     optional                   pam_umask.so silent
session     [success=1 default=ignore] pam_succeed_if.so service !~ gdm* service !~ su* quiet
session     [default=1]                pam_lastlog.so nowtmp showfailed
session     optional                   pam_lastlog.so silent noupdate showfailed" postlogin
}
# rhel_sshd [LINE] — RHEL 9's /etc/pam.d/sshd; LINE (pam_nnp) after the password-auth include
rhel_sshd() {
  local nnp=""
  [ -n "${1:-}" ] && nnp="
$1"
  stack "#%PAM-1.0
auth       substack     password-auth
auth       include      postlogin
account    required     pam_sepermit.so
account    required     pam_nologin.so
account    include      password-auth
password   include      password-auth
# pam_selinux.so close should be the first session rule
session    required     pam_selinux.so close
session    required     pam_loginuid.so
# pam_selinux.so open should only be followed by sessions to be executed in the user context
session    required     pam_selinux.so open env_params
session    required     pam_namespace.so
session    optional     pam_keyinit.so force revoke
session    optional     pam_motd.so
session    include      password-auth$nnp
$PROBE
session    include      postlogin"
}

case_27() {
  fresh
  rhel_auth password-auth
  rhel_auth system-auth
  rhel_postlogin
  rhel_sshd "session    required     $MODULE"
  differential nnp
  expect_doctor_line "^ok: /etc/pam.d/$SVC:17 \(stack $SVC\): session required $MODULE"
}
run_case "rhel 9: sshd includes password-auth, then pam_nnp (NNP 1, ok)" case_27

case_28() {
  fresh
  rhel_auth password-auth nnp
  rhel_auth system-auth
  rhel_postlogin
  rhel_sshd
  differential nnp
  expect_doctor_line "^ok: /etc/pam.d/password-auth:16 \(stack $SVC\): session required $MODULE"
}
run_case "rhel 9: pam_nnp right after password-auth's crond jump, which sshd never takes (NNP 1, ok)" case_28

case_29() {
  fresh
  rhel_auth password-auth nnp
  rhel_auth system-auth
  rhel_postlogin
  rhel_sshd
  # the condition names this service too (as it names crond): pam_succeed_if succeeds for
  # it and jumps over pam_nnp
  sed -i 's/service in crond quiet/service in crond:'"$SVC"' quiet/' /etc/pam.d/password-auth
  differential hole
  expect_doctor_line "^problem: /etc/pam.d/password-auth:16 \(stack $SVC\): /etc/pam.d/password-auth:15: .*jumps over 1 module"
}
run_case "rhel 9 control: the jump's condition names the service, so it skips pam_nnp (hole)" case_29

finish
