#!/bin/bash
# Hostile PAM_USER values, long-lived and multithreaded callers (valgrind, 8 threads),
# an unreachable group database, a full syslog, and an injected panic.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1))
gcc -O1 -Wall -o "$T/mt_pam" "$NNP_ROOT/tests/c/mt_pam.c" -lpam -lpthread || exit 1
mkdir -p "$T/lib"
gcc -O1 -Wall -shared -fPIC -o "$T/lib/libnss_nnpfail.so.2" "$NNP_ROOT/tests/c/libnss_nnpfail.c" || exit 1

write_config "$GROUP_RULE"
write_stack_probe nnptest
ns_syslog

case_1() {
  long=$(printf 'u%.0s' $(seq 5000))
  for u in no-such-user '../../etc/passwd' "$(printf 'evil\nJan  1 00:00:00 host sshd[1]: forged')" "$long" "$(printf 'caf\xe9')" ""; do
    run pamtester nnptest "$u" open_session
    [ "$RC" != 0 ] || fail "user '$(printf %q "$u")' must be refused"
    printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR for '$(printf %q "$u")'"
  done
  wait_log 'pam_nnp\(' 6
  OUT=$(case_syslog | grep -a 'pam_nnp('); LAST_CMD="syslog"
  [ "$(printf '%s\n' "$OUT" | grep -c .)" = 6 ] || fail "expected 6 log lines, one per attempt"
  printf '%s\n' "$OUT" | grep -q 'user \.\./\.\./etc/passwd: error: unknown user' || fail "path-like name"
  printf '%s\n' "$OUT" | grep -qF 'user evil\nJan  1 00:00:00 host sshd[1]: forged: error' || fail "newline must be escaped"
  printf '%s\n' "$OUT" | grep -q '^Jan  1 00:00:00 host sshd' && fail "a log line was forged"
  printf '%s\n' "$OUT" | grep -qF 'user caf\xe9: error' || fail "non-UTF-8 byte must be escaped"
  printf '%s\n' "$OUT" | grep -qE 'user u{256}\.\.\.: error' || fail "5,000-byte name must be truncated"
  printf '%s\n' "$OUT" | grep -qF 'user : error: unknown user ""' || fail "empty name"
  case_syslog | awk 'length > 1100 { exit 1 }' || fail "a log line exceeds the bound"
}
run_case "odd PAM_USER values are refused (PAM_SESSION_ERR) and logged escaped" case_1

case_2() {
  args10=(); for i in $(seq 10); do args10+=(open_session close_session); done
  args300=(); for i in $(seq 300); do args300+=(open_session close_session); done
  LAST_CMD="valgrind pamtester nnptest alice (300 cycles)"
  valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    pamtester nnptest alice "${args300[@]}" > "$T/vg.out" 2> "$T/vg300.err"; RC=$?
  valgrind --leak-check=full pamtester nnptest alice "${args10[@]}" > /dev/null 2> "$T/vg10.err"
  OUT=$(grep -E "ERROR SUMMARY|definitely lost|in use at exit" "$T/vg300.err"); ERR=$(tail -n 30 "$T/vg300.err")
  expect_rc 0
  grep -q "ERROR SUMMARY: 0 errors" "$T/vg300.err" || fail "valgrind reported errors"
  grep -qE "definitely lost: [1-9]" "$T/vg300.err" && fail "definite leak"
  # pam_exec runs at open and at close: 600 lines, all 1
  [ "$(grep -c 'NoNewPrivs:	1' "$T/vg.out")" = 600 ] && ! grep -q 'NoNewPrivs:	0' "$T/vg.out" || fail "every cycle must decide the same"
  in10=$(sed -n 's/.*in use at exit: \([0-9,]*\) bytes.*/\1/p' "$T/vg10.err" | tr -d ,)
  in300=$(sed -n 's/.*in use at exit: \([0-9,]*\) bytes.*/\1/p' "$T/vg300.err" | tr -d ,)
  [ -n "$in10" ] && [ "$in300" -le $((in10 + 1024)) ] || fail "heap in use at exit grows with cycles: 10 cycles $in10 B, 300 cycles $in300 B"
}
run_case "300 open/close cycles under valgrind: no invalid access, no definite leak, no growth" case_2

case_3() {
  write_stack nnpmt
  run "$T/mt_pam" nnpmt alice bob 8 200
  expect_rc 0
  expect_line "mismatches=0 failures=0"
}
run_case "8 threads, same and different users: per-thread decisions all correct" case_3

case_4() {
  sed -E 's/^group:.*/group: nnpfail/' /etc/nsswitch.conf > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
  run env LD_LIBRARY_PATH="$T/lib" pamtester nnptest alice open_session
  [ "$RC" != 0 ] || fail "with the group database down, alice's session must be refused"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry" || fail "expected PAM_SESSION_ERR"
  write_stack_probe nnptest on_error=allow
  run env LD_LIBRARY_PATH="$T/lib" pamtester nnptest alice open_session
  expect_rc 0
  wait_log 'group lookup for .* failed: Input/output error' 2
  case_syslog | grep -a 'pam_nnp(' | tail -n 2 | grep -q 'group lookup for .* failed: Input/output error' || fail "the NSS error and its cause must be logged"
}
run_case "unreachable group database: on_error=deny refuses, on_error=allow proceeds; never a silent allow" case_4

case_5() {
  CARGO_TARGET_DIR="$NNP_ROOT/target/fault-injection" cargo build --release --locked -p pam_nnp --features fault-injection -q 2>"$T/build.err" || { ERR=$(cat "$T/build.err"); fail "build"; }
  FAULTY="$NNP_ROOT/target/fault-injection/release/libpam_nnp.so"
  add_user nnp-fault-injection-panic $((UID_BASE + 666)) restricted
  printf 'session required pam_permit.so\nsession required %s\n' "$FAULTY" > /etc/pam.d/nnpfault
  run pamtester nnpfault nnp-fault-injection-panic open_session
  [ "$RC" = 1 ] || fail "deny: pamtester must fail normally (exit 1), not abort (got $RC)"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry" || fail "deny: expected PAM_SESSION_ERR"
  printf '%s' "$ERR" | grep -q "panicked" && fail "the module must not print the panic (it goes to the log)"
  wait_log 'pam_nnp\(nnpfault:session\)'
  case_syslog | grep -a 'pam_nnp(nnpfault:session)' | grep -q 'error: internal error in pam_nnp (panic: injected fault at pam_nnp/src/lib.rs:[0-9]*); session refused' || fail "the panic must be logged with its message"
  printf 'session required pam_permit.so\nsession required %s on_error=allow\n' "$FAULTY" > /etc/pam.d/nnpfault
  run pamtester nnpfault nnp-fault-injection-panic open_session
  expect_rc 0
  # control: the same faulty build decides normally for other users
  printf 'session required pam_permit.so\nsession required %s\nsession optional pam_exec.so stdout /bin/grep NoNewPrivs /proc/self/status\n' "$FAULTY" > /etc/pam.d/nnpfault
  run pamtester nnpfault alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	1"
}
run_case "a panic inside the module becomes the on_error result, never an abort" case_5

case_6() {
  # pam_syslog goes through glibc's syslog(3): with no listener it drops the message. (A syslog
  # daemon that is alive but never reads blocks syslog(3) in pam_unix and every other module
  # alike: see docs/SECURITY.md.)
  # the case's own stale socket over /dev/log (the fixture's listener keeps running)
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$T/stale.sock"
  mount --bind "$T/stale.sock" /dev/log
  [ -S /dev/log ] || fail "the stale socket should still be there"
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect(sys.argv[1])' /dev/log 2>/dev/null &&
    fail "the stale socket must have no listener"
  LAST_CMD="pamtester nnptest alice/bob with a dead /dev/log (10 s limit)"
  OUT=$(timeout 10 pamtester nnptest alice open_session close_session 2>&1); RC=$?
  expect_rc 0; expect_line "NoNewPrivs:	1"
  OUT=$(timeout 10 pamtester nnptest bob open_session close_session 2>&1); RC=$?
  expect_rc 0; expect_line "NoNewPrivs:	0"
}
run_case "dead syslog (stale /dev/log, nobody listening): decisions unchanged, login not blocked" case_6

finish
