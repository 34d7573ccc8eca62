#!/bin/bash
# pam_nnp loaded into real libpam by pamtester: return codes, the NNP state a session's
# children inherit (pam_exec after pam_nnp), the notice, and the syslog lines.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
ns_syslog

write_config "notice = \"no_new_privs is on for this session\"
$EXEMPT_DAVE

$GROUP_RULE"
write_stack_probe nnptest

case_1() {
  run pamtester nnptest alice open_session close_session
  expect_rc 0
  expect_line "NoNewPrivs:	1"
  expect_line "no_new_privs is on for this session"
}
run_case "pamtester: matched user -> PAM_SUCCESS, child sees NoNewPrivs 1, notice shown" case_1

case_2() {
  run pamtester nnptest bob open_session close_session
  expect_rc 0
  expect_line "NoNewPrivs:	0"
  expect_no_line_matching "no_new_privs is on"
}
run_case "pamtester: control (unmatched user) -> NoNewPrivs 0, no notice" case_2

case_3() {
  run pamtester nnptest dave open_session
  expect_rc 0
  expect_line "NoNewPrivs:	0"
}
run_case "pamtester: exempt user -> NoNewPrivs 0" case_3

case_4() {
  run pamtester nnptest alice "open_session(PAM_SILENT)"
  expect_rc 0
  expect_line "NoNewPrivs:	1"
  expect_no_line_matching "no_new_privs is on"
}
run_case "pamtester: PAM_SILENT suppresses the notice" case_4

case_5() {
  run pamtester nnptest no-such-user-xyz open_session
  [ "$RC" != 0 ] || fail "open_session for an unknown user must fail"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR's message"
}
run_case "pamtester: unknown user -> session error" case_5

case_6() {
  write_config '[[rule]]
users = "alice"
nnp = true'
  run pamtester nnptest bob open_session
  [ "$RC" != 0 ] || fail "open_session must fail with an invalid config"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR's message"
}
run_case "pamtester: invalid config -> Cannot make/remove an entry for the specified session" case_6

case_7() {
  # Linux-PAM turns a phase in which every module returned PAM_IGNORE into "Permission denied".
  write_config "$GROUP_RULE"
  for t in auth account password session; do printf '%s required %s\n' "$t" "$MODULE"; done > /etc/pam.d/nnpalone
  for op in authenticate acct_mgmt setcred chauthtok close_session; do
    run pamtester nnpalone alice "$op"
    [ "$RC" != 0 ] || fail "$op: pam_nnp alone must not succeed"
    printf '%s' "$ERR" | grep -q "Permission denied" || fail "$op: expected PAM_PERM_DENIED (all modules ignored)"
  done
  # control: open_session for a matched user is decided by pam_nnp alone (PAM_SUCCESS), and
  # for an unmatched user it is ignored too
  run pamtester nnpalone alice open_session
  expect_rc 0
  run pamtester nnpalone bob open_session
  printf '%s' "$ERR" | grep -q "Permission denied" || fail "unmatched user: expected PAM_IGNORE -> Permission denied"
}
run_case "every hook but open_session returns PAM_IGNORE (a stack of pam_nnp alone fails for it)" case_7

case_8() {
  write_stack_probe nnptest debug
  write_config "$EXEMPT_DAVE

$GROUP_RULE"
  for u in alice bob dave 'evil
user'; do
    pamtester nnptest "$u" open_session >/dev/null 2>&1
  done
  wait_log 'pam_nnp\(' 4
  OUT=$(case_syslog); LAST_CMD="syslog capture"
  # <85> = authpriv(10)*8 + notice(5); <87> = debug; <83> = err
  expect_line_matching() { printf '%s\n' "$OUT" | grep -qE -- "$1" || fail "no log line matching: $1"; }
  expect_line_matching '^<85>.* pamtester(\[[0-9]+\])?: pam_nnp\(nnptest:session\): user alice \(uid 61001\): no_new_privs set by rule /etc/security/nnp.toml:5$'
  expect_line_matching '^<87>.*pam_nnp\(nnptest:session\): user bob \(uid 61002\): no rule matches; nothing done$'
  expect_line_matching '^<87>.*pam_nnp\(nnptest:session\): user dave \(uid 61004\): exempt \(nnp = false\) by rule /etc/security/nnp.toml:1$'
  expect_line_matching '^<83>.*pam_nnp\(nnptest:session\): user evil\\nuser: error: unknown user "evil\\nuser" \(not found through NSS\); session refused \(on_error=deny\)$'
  [ "$(printf '%s\n' "$OUT" | grep -c .)" = 4 ] || fail "expected exactly 4 log lines"
}
run_case "syslog: one authpriv line per decision, prefixed pam_nnp(SERVICE:session), naming user and rule" case_8

case_9() {
  write_stack_probe nnptest debug
  # a bwrap'd private /dev without a /dev/log
  run bwrap --dev-bind / / --dev /dev pamtester nnptest alice open_session
  expect_rc 0
  expect_line "NoNewPrivs:	1"
}
run_case "no syslog socket: decisions unchanged" case_9

finish
