#!/bin/bash
# nnpctl audit and doctor cannot be fooled (issue: an auditor and a doctor that cannot be
# fooled): threads, PID namespaces, NSS failures, closed pipes, stacks that switch the module
# off. Each case has its control.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1)); B=$((UID_BASE + 2))
gcc -O1 -Wall -pthread -o "$T/bin/thread_nnp" "$NNP_ROOT/tests/c/thread_nnp.c" || exit 1
gcc -O1 -Wall -o "$T/bin/forker" "$NNP_ROOT/tests/c/forker.c" || exit 1
gcc -O1 -Wall -pthread -o "$T/bin/zombie_leader" "$NNP_ROOT/tests/c/zombie_leader.c" || exit 1
mkdir -p "$T/lib"
gcc -O1 -Wall -shared -fPIC -o "$T/lib/libnss_nnpfail.so.2" "$NNP_ROOT/tests/c/libnss_nnpfail.c" || exit 1
write_config "$EXEMPT_DAVE

$GROUP_RULE"
write_stack sshd

# start_as UID ARGS... — run ARGS as UID (no PAM, no NNP unless asked) in the background,
# its stdout in $T/bg.out; BG is its pid
start_as() {
  local uid=$1; shift
  setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" > "$T/bg.out" 2>&1 &
  BG=$!
}
wait_ready() { local i; for i in $(seq 50); do grep -q "^ready" "$T/bg.out" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

case_1() {
  start_as $A "$T/bin/thread_nnp"
  wait_ready || fail "helper did not start"
  TID=$(awk '/^ready/ {print $2}' "$T/bg.out")
  for i in $(seq 50); do grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$BG/status && break; sleep 0.1; done
  run "$NNPCTL" audit
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qE "^ *$BG +$TID +alice " || fail "thread $TID of pid $BG must be listed"
  printf '%s\n' "$OUT" | grep -qE "^ *$BG +$BG " && fail "the main thread has NNP and must not be listed"
  kill $BG; wait $BG 2>/dev/null
  # the exploit this finding stands for: that thread's exec of a setuid-root binary gets euid 0
  start_as $A "$T/bin/thread_nnp" exec "$T/bin/suid-id"
  for i in $(seq 50); do grep -qx "0" "$T/bg.out" && break; sleep 0.1; done
  grep -qx "0" "$T/bg.out" || { OUT=$(cat "$T/bg.out"); fail "the thread without NNP should reach euid 0 (that is the hole)"; }
  wait $BG 2>/dev/null
  # control: NNP set before the thread starts (inherited by it): no finding
  start_as $A "$T/bin/thread_nnp" both
  wait_ready
  run "$NNPCTL" audit
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q "^ok: no thread of a restricted user lacks no_new_privs" || fail "control: expected ok"
  kill $BG; wait $BG 2>/dev/null
}
run_case "audit: a thread without NNP in a process whose main thread has it is a finding (pid and tid)" case_1

case_2() {
  LAST_CMD="unshare -pf --mount-proc: restricted sleep as pid 2, then nnpctl audit"
  OUT=$(unshare -pf --mount-proc sh -c "setpriv --reuid=$A --regid=$A --clear-groups sleep 60 & sleep 0.3; $NNPCTL audit; echo RC=\$?; kill \$!" 2>&1)
  printf '%s\n' "$OUT" | grep -qE "^ +2 +2 +alice .*sleep 60$" || fail "pid 2 in the namespace must be listed"
  printf '%s\n' "$OUT" | grep -qx "RC=1" || fail "exit 1 expected"
  # control: the same with NNP is fine
  OUT=$(unshare -pf --mount-proc sh -c "setpriv --reuid=$A --regid=$A --clear-groups --no-new-privs sleep 60 & sleep 0.3; $NNPCTL audit; echo RC=\$?; kill \$!" 2>&1)
  printf '%s\n' "$OUT" | grep -qx "RC=0" || fail "control: exit 0 expected"
}
run_case "audit inside a PID namespace: the restricted shell is pid 2 and still audited" case_2

case_3() {
  start_as $A sleep 304
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  sed -E 's/^group:.*/group: nnpfail/' /etc/nsswitch.conf > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
  run env LD_LIBRARY_PATH="$T/lib" "$NNPCTL" audit
  expect_rc 3
  printf '%s\n' "$OUT" | grep -qE "^undecidable: pid $BG \(uid $A\) sleep 304: .*failed" || fail "the process must be listed as undecidable with the cause"
  run env LD_LIBRARY_PATH="$T/lib" "$NNPCTL" audit --json
  expect_rc 3
  got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], int(sys.argv[1]) in [u["pid"] for u in d["undecidable"]])' "$BG")
  [ "$got" = "incomplete True" ] || fail "json: $got"
  umount /etc/nsswitch.conf
  # control: with NSS working the same process is a finding
  run "$NNPCTL" audit
  expect_rc 1
  kill $BG; wait $BG 2>/dev/null
}
run_case "audit with the group source failing: the process is undecidable (exit 3), never ok" case_3

# closed_pipe CMD... — run CMD with stdout a pipe whose read end is already closed
closed_pipe() {
  LAST_CMD="$* > (closed pipe)"
  python3 - "$@" > "$T/cp.out" 2>&1 <<'PY'
import os, subprocess, sys
r, w = os.pipe(); os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
sys.stdout.write(p.stderr.decode(errors="replace")); print(f"RC={p.returncode}")
PY
  OUT=$(cat "$T/cp.out"); RC=$(sed -n 's/^RC=//p' "$T/cp.out"); ERR=$(grep -v '^RC=' "$T/cp.out")
}

case_4() {
  closed_pipe "$NNPCTL" status 1 1 1
  expect_rc 0; [ -z "$ERR" ] || fail "no message expected"
  closed_pipe "$NNPCTL" doctor
  [ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "doctor must end with 0 or 1, got $RC"; [ -z "$ERR" ] || fail "no message expected"
  start_as $A sleep 305
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  closed_pipe "$NNPCTL" audit
  expect_rc 1; [ -z "$ERR" ] || fail "no 'Broken pipe' message expected"
  closed_pipe "$NNPCTL" explain alice --json
  expect_rc 0; [ -z "$ERR" ] || fail "no message expected"
  kill $BG; wait $BG 2>/dev/null
  # control: with an open pipe the same commands print
  run sh -c "$NNPCTL status 1 | head -1"
  expect_line "    PID  NoNewPrivs Seccomp     UID   EUID  COMMAND"
}
run_case "closed output pipe: status, doctor, audit, explain end quietly with their own status" case_4

case_5() {
  write_stack sshd config=/etc/security/nnp.tmol
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: /etc/pam.d/sshd:5 (stack sshd): config: /etc/security/nnp.tmol: cannot read file: No such file or directory" || fail "the missing config= file must be a problem"
  run "$NNPCTL" doctor --json
  expect_rc 1
  printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"] == "problem"' || fail "json status"
  # control
  write_stack sshd config=/etc/security/nnp.toml
  run "$NNPCTL" doctor
  expect_rc 0
}
run_case "doctor: config= naming a missing file (a typo) is a problem" case_5

case_6() {
  printf 'session required pam_permit.so\nsession optional %s\n' "$MODULE" > /etc/pam.d/sshd
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q '^problem: /etc/pam.d/sshd:2 (stack sshd): control "optional"' || fail "optional must be a problem"
  write_stack sshd
  run "$NNPCTL" doctor
  expect_rc 0
}
run_case "doctor: optional control is a problem (a refused session would be a silent success)" case_6

case_7() {
  write_stack sshd on_error=allow
  run "$NNPCTL" doctor
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q '^warning: /etc/pam.d/sshd:5 (stack sshd): on_error=allow: .*WITHOUT no_new_privs' || fail "on_error=allow warning"
  write_stack sshd on_eror=deny
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q '^problem: /etc/pam.d/sshd:5 (stack sshd): unknown module argument "on_eror=deny"' || fail "unknown argument"
}
run_case "doctor: on_error=allow is a warning that says what it means; unknown arguments a problem" case_7

case_8() {
  write_plain_stack sshd
  printf 'session required pam_permit.so\n' > /etc/pam.d/nnp-inc
  printf 'session required %s config=/etc/security/nnp-missing.toml\n' "$MODULE" >> /etc/pam.d/nnp-inc
  printf 'auth required pam_permit.so\n@include nnp-inc\n' > /etc/pam.d/nnpsvc
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q '^problem: /etc/pam.d/nnp-inc:2 (stack nnp-inc): config: /etc/security/nnp-missing.toml' || fail "the included line must be checked"
  printf '%s\n' "$OUT" | grep -q '^problem: /etc/pam.d/nnp-inc:2 (stack nnpsvc): config:' || fail "the line must be checked for the including stack"
}
run_case "doctor: a line reached through @include with a broken config= is found" case_8

case_9() {
  write_stack sshd
  printf 'auth required pam_permit.so\n@include nnp-missing-include\n' > /etc/pam.d/nnpsvc2
  run "$NNPCTL" doctor
  expect_rc 3
  printf '%s\n' "$OUT" | grep -q '^unchecked: PAM stack nnpsvc2: cannot read /etc/pam.d/nnp-missing-include: ' || fail "the unreadable include must be named"
  # control: the include exists
  printf 'session required pam_permit.so\n' > /etc/pam.d/nnp-missing-include
  run "$NNPCTL" doctor
  expect_rc 0
}
run_case "doctor: an @include it cannot read is reported (exit 3), never skipped as if empty" case_9

case_10() {
  # Issue 20 item 5: a new pid every ~0.2 ms; audit read /proc once and skipped the pids that
  # had vanished: listed in 0 of 20 runs while it kept running setuid binaries as root.
  add_user fk $((UID_BASE + 40)) restricted
  FK=$((UID_BASE + 40))
  rm -f "$T/forker.stop"
  start_as $FK "$T/bin/forker" "$T/forker.stop"
  wait_ready || fail "forker did not start"
  wait_for grep -q "^reaped" "$T/bg.out" || fail "the chain must come and go (1,000 processes reaped)"
  # the kernel's task iterator read the tasks (a fallback to /proc would be a weaker audit)
  run "$NNPCTL" audit --json
  grep -q '"source": "kernel"' <<< "$OUT" || fail "audit must read the tasks with the kernel's task iterator here: $(grep -A1 '"source"' <<< "$OUT")"
  # under CPU load (four busy loops on this machine's cores): the scan is preempted, the chain is not
  for i in 1 2 3 4; do timeout 120 sh -c 'while :; do :; done' & done
  found=0
  for i in $(seq 20); do
    run "$NNPCTL" audit
    # (a here-string, not a pipe: grep -q closing a pipe early fails the pipeline under pipefail)
    if [ "$RC" = 1 ] && grep -qE "^ *[0-9]+ +[0-9]+ +fk .*forker" <<< "$OUT"; then found=$((found + 1)); fi
  done
  pkill -f "while :; do :; done"
  [ "$found" = 20 ] || fail "the forking process was found in $found of 20 runs"
  touch "$T/forker.stop"; wait_gone_uid $FK || pkill -KILL -U $FK
  wait $BG 2>/dev/null
  # control: the same forker with NNP is never a finding
  rm -f "$T/forker.stop"
  setpriv --reuid=$FK --regid=$FK --clear-groups --no-new-privs "$T/bin/forker" "$T/forker.stop" > "$T/bg.out" 2>&1 &
  wait_ready || fail "forker did not start"
  for i in $(seq 5); do
    run "$NNPCTL" audit
    expect_rc 0
  done
  touch "$T/forker.stop"; wait_gone_uid $FK || pkill -KILL -U $FK
  wait
}
run_case "audit: a restricted process that forks and exits in a loop is found in 20 of 20 runs" case_10

case_11() {
  # Issue 20: every process of a rootless container (subordinate ids, no passwd entry) made
  # audit exit 3 ("unknown user"). Now decided as the guard decides: by uid, gid and groups.
  SUB=165536
  TEST_UID[sub0]=$SUB; TEST_UID[sub1]=$((SUB + 1))
  setpriv --reuid=$SUB --regid=$SUB --clear-groups sleep 306 > /dev/null 2>&1 &
  S0=$!
  for i in $(seq 50); do tr '\0' ' ' < /proc/$S0/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" audit
  expect_rc 0
  printf '%s\n' "$OUT" | grep -q "^undecidable" && fail "a container process must not be undecidable"
  # in the restricted group by its kernel groups: a finding, shown by uid
  setpriv --reuid=$((SUB + 1)) --regid=$((SUB + 1)) --groups=$((UID_BASE + 100)) sleep 307 > /dev/null 2>&1 &
  S1=$!
  for i in $(seq 50); do tr '\0' ' ' < /proc/$S1/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" audit
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qE "^ *$S1 +$S1 +#$((SUB + 1)) .*sleep 307$" || fail "the restricted-gid process must be listed"
  printf '%s\n' "$OUT" | grep -qE "^ *$S0 " && fail "the unrestricted container process must not be listed"
  # control: with NSS failing for groups, the group rule cannot be decided: exit 3 (doubt)
  sed -E 's/^group:.*/group: nnpfail/' /etc/nsswitch.conf > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
  run env LD_LIBRARY_PATH="$T/lib" "$NNPCTL" audit
  expect_rc 3
  umount /etc/nsswitch.conf
  kill $S0 $S1; wait $S0 $S1 2>/dev/null
}
run_case "audit: a uid without a passwd entry is decided from its kernel credentials, never undecidable" case_11

case_12() {
  # Issue 20 item 9: U+202E and U+2028 from a user's command line reached the terminal raw.
  start_as $A bash -c "exec -a \"$(printf 'evil\342\200\256gnp.sh\342\200\250x')\" sleep 308"
  for i in $(seq 50); do grep -q '^Name:.*sleep' /proc/$BG/status 2>/dev/null && break; sleep 0.1; done
  sleep 0.2
  run "$NNPCTL" audit
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qF 'evil\u{202e}gnp.sh\u{2028}x' || fail "the override must be escaped"
  RLO=$(printf '\342\200\256'); LSEP=$(printf '\342\200\250')
  printf '%s' "$OUT" | grep -qF -e "$RLO" -e "$LSEP" && fail "no raw override or separator may reach the terminal"
  run "$NNPCTL" audit --json
  printf '%s' "$OUT" | grep -qF 'evil\\u{202e}gnp.sh' || fail "json: the override must be escaped"
  printf '%s' "$OUT" | grep -qF -e "$RLO" -e "$LSEP" && fail "json: no raw override or separator"
  kill $BG; wait $BG 2>/dev/null
  # control: a plain command line is shown as is
  start_as $A sleep 309
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" audit
  printf '%s\n' "$OUT" | grep -qE "alice .*sleep 309$" || fail "control: the plain command"
  kill $BG; wait $BG 2>/dev/null
}
run_case "audit: a command line with a right-to-left override or line separator is shown escaped" case_12

case_13() {
  write_config '# no rules'
  run "$NNPCTL" explain no-such-user-xyz
  expect_rc 0
  expect_line "decision: nothing is done (no rules: nothing looked up)"
  run "$NNPCTL" explain no-such-user-xyz --json
  expect_rc 0
  printf '%s' "$OUT" | grep -q '"verdict": "no-match"' || fail "json verdict"
}
run_case "explain with no rules: nothing looked up (as the module), even for an unknown user" case_13

case_14() {
  # Issue 21: the README's by-hand line in sshd's own file never reaches the stack of the user
  # manager that sshd's pam_systemd starts (PAM service systemd-user): a restricted user's
  # systemd-run --user ran without no_new_privs, and doctor said ok.
  write_stack sshd
  echo "session  optional pam_systemd.so" >> /etc/pam.d/sshd
  write_plain_stack systemd-user
  run "$NNPCTL" doctor
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "^problem: PAM stack systemd-user (systemd's user manager, .*) does not load pam_nnp.so, while the stack(s) of sshd load it and start the user manager (pam_systemd): .*pam-auth-update --enable nnp.*/etc/pam.d/systemd-user" || fail "a user manager without pam_nnp must be a problem naming the fix"
  # control: the manager's stack loads pam_nnp too
  write_stack systemd-user
  run "$NNPCTL" doctor
  expect_rc 0
  expect_line "ok: PAM stack systemd-user (systemd's user manager) loads pam_nnp.so"
  # control: the fix doctor names first — the line in common-session-noninteractive (where
  # pam-auth-update puts it), which the manager's stack includes
  printf 'account  required pam_permit.so\n@include common-session-noninteractive\nsession  optional pam_systemd.so\n' > /etc/pam.d/systemd-user
  echo "session  required $MODULE" >> /etc/pam.d/common-session-noninteractive
  run "$NNPCTL" doctor
  expect_rc 0
  expect_line "ok: PAM stack systemd-user (systemd's user manager) loads pam_nnp.so"
}
run_case "doctor: sessions get pam_nnp but the user manager's stack (systemd-user) does not: a problem naming the fix (control: its own line; the line in common-session-noninteractive)" case_14

case_15() {
  # Where the kernel's task iterator cannot run (here: a pid namespace of its own), audit reads
  # /proc, where a process that forks and exits in a loop can escape every pass. It must say
  # so (a note, source "proc"), and find the chain or call what came and went undecidable.
  add_user fk2 $((UID_BASE + 41)) restricted
  FK=$((UID_BASE + 41))
  rm -f "$T/forker.stop"
  cat > "$T/in-pidns.sh" <<EOF
setpriv --reuid=$FK --regid=$FK --clear-groups "$T/bin/forker" "$T/forker.stop" > "$T/ns-bg.out" 2>&1 &
for i in \$(seq 50); do grep -q '^reaped' "$T/ns-bg.out" && break; sleep 0.1; done
"$NNPCTL" audit > "$T/ns-chain.out" 2>&1; echo "rc=\$?" >> "$T/ns-chain.out"
"$NNPCTL" audit --json > "$T/ns-chain.json" 2>&1
touch "$T/forker.stop"; wait
"$NNPCTL" audit > "$T/ns-quiet.out" 2>&1; echo "rc=\$?" >> "$T/ns-quiet.out"
EOF
  timeout 60 unshare -p -f --mount-proc bash "$T/in-pidns.sh"
  OUT=$(cat "$T/ns-chain.out")
  grep -q "^note: read from /proc (the kernel's task iterator cannot run: not in the initial pid namespace" <<< "$OUT" || fail "audit must say it read /proc and why: $OUT"
  # found (exit 1), or, when /proc was still changing as the rescans ended, the processes that
  # came and went are undecidable (exit 3): never a silent pass
  if grep -q "^rc=1$" <<< "$OUT"; then
    grep -qE "^ *[0-9]+ +[0-9]+ +fk2 .*forker" <<< "$OUT" || fail "exit 1 must list the chain: $OUT"
  else
    grep -q "^rc=3$" <<< "$OUT" || fail "exit 1 (the chain found) or 3 (undecidable), never 0: $OUT"
    grep -q "^undecidable: pid 0 \[processes that came and went\]: .* exited before /proc could read" <<< "$OUT" || fail "the processes that came and went must be undecidable: $OUT"
  fi
  expect_valid_json "$T/ns-chain.json"
  grep -q '"source": "proc"' "$T/ns-chain.json" || fail "the JSON must say source proc"
  # control: the same namespace without the chain: /proc was quiet, nothing undecidable
  OUT=$(cat "$T/ns-quiet.out")
  grep -q "^undecidable" <<< "$OUT" && fail "a quiet /proc must not be undecidable: $OUT"
  grep -q "^rc=0$" <<< "$OUT" || fail "a quiet namespace is ok: $OUT"
  wait_gone_uid $FK || pkill -KILL -U $FK
}
run_case "audit without the kernel's task iterator (a pid namespace): it says so, and the chain is found or what came and went is undecidable, never passed (control: a quiet namespace is ok)" case_15

case_16() {
  # F6: the /proc fallback listed zombies. A restricted user's process that has exited, left
  # unreaped by its parent, runs nothing (exec included), yet audit listed it and exited 1 on a
  # host that was fine. F1 stays closed: a process whose leader has exited while another thread
  # runs (its status says State: Z too) is alive and listed by that thread.
  add_user zb $((UID_BASE + 42)) restricted
  ZB=$((UID_BASE + 42))
  cat > "$T/in-pidns-z.sh" <<EOF
# the zombie: zb's sleep 0.5, whose parent (root's sleep 600, which it becomes before the
# child exits, and is not restricted) never reaps it
bash -c 'setpriv --reuid=$ZB --regid=$ZB --clear-groups sleep 0.5 & echo \$! > "$T/z.pid"; exec sleep 600' &
# controls: a live restricted process, and zb's process whose leader exited while a thread runs
setpriv --reuid=$A --regid=$A --clear-groups sleep 316 &
echo \$! > "$T/live.pid"
setpriv --reuid=$ZB --regid=$ZB --clear-groups "$T/bin/zombie_leader" > "$T/zl.out" 2>&1 &
echo \$! > "$T/zl.pid"
for i in \$(seq 50); do
  Z=\$(cat "$T/z.pid" 2>/dev/null)
  [ -n "\$Z" ] && grep -q '^State:[[:space:]]*Z' /proc/\$Z/status 2>/dev/null &&
    tr '\0' ' ' < /proc/\$(cat "$T/live.pid")/cmdline | grep -q '^sleep 316' &&
    grep -q '^ready' "$T/zl.out" && grep -q '^State:[[:space:]]*Z' /proc/\$(cat "$T/zl.pid")/status && break
  sleep 0.1
done
cat /proc/\$Z/status > "$T/z.status"
"$NNPCTL" audit > "$T/z-mixed.out" 2>&1; echo "rc=\$?" >> "$T/z-mixed.out"
"$NNPCTL" audit --json > "$T/z-mixed.json" 2>&1
kill \$(cat "$T/live.pid") \$(cat "$T/zl.pid"); wait \$(cat "$T/live.pid") \$(cat "$T/zl.pid")
"$NNPCTL" audit > "$T/z-alone.out" 2>&1; echo "rc=\$?" >> "$T/z-alone.out"
"$NNPCTL" audit --json > "$T/z-alone.json" 2>&1
cat /proc/\$Z/status > "$T/z.status.after"
EOF
  timeout 60 unshare -p -f --mount-proc bash "$T/in-pidns-z.sh"
  Z=$(cat "$T/z.pid"); LIVE=$(cat "$T/live.pid"); ZL=$(cat "$T/zl.pid")
  ZT=$(awk '/^ready/ {print $2}' "$T/zl.out")
  for f in z.status z.status.after; do
    grep -q "^State:[[:space:]]*Z" "$T/$f" && grep -qE "^Uid:[[:space:]]+$ZB[[:space:]]" "$T/$f" ||
      fail "pid $Z must be a zombie of zb while audit runs ($f): $(cat "$T/$f")"
  done
  OUT=$(cat "$T/z-mixed.out")
  grep -q "^note: read from /proc (the kernel's task iterator cannot run" <<< "$OUT" || fail "audit must read /proc here: $OUT"
  expect_valid_json "$T/z-mixed.json"
  grep -q '"source": "proc"' "$T/z-mixed.json" || fail "the JSON must say source proc"
  grep -qE "^ *$Z " <<< "$OUT" && fail "the zombie (pid $Z) must not be listed: $OUT"
  grep -qE "\"pid\": $Z," "$T/z-mixed.json" && fail "json: the zombie (pid $Z) must not be listed"
  # controls: the live restricted process, and the thread running after its leader exited
  grep -q "^rc=1$" <<< "$OUT" || fail "the live restricted processes are findings (exit 1): $OUT"
  grep -qE "^ *$LIVE +$LIVE +alice .*sleep 316$" <<< "$OUT" || fail "control: the live restricted process must be listed: $OUT"
  [ -n "$ZT" ] && grep -qE "^ *$ZL +$ZT +zb " <<< "$OUT" || fail "control: the thread ($ZT) still running after its leader (pid $ZL) exited must be listed: $OUT"
  grep -qE "^ *$ZL +$ZL " <<< "$OUT" && fail "the exited leader itself runs nothing and must not be listed: $OUT"
  # the zombie alone: the host is fine
  OUT=$(cat "$T/z-alone.out")
  expect_valid_json "$T/z-alone.json"
  grep -q '"source": "proc"' "$T/z-alone.json" || fail "the JSON must say source proc"
  grep -q "^rc=0$" <<< "$OUT" || fail "a zombie alone is no finding (exit 0): $OUT"
  grep -q "^ok: no thread of a restricted user lacks no_new_privs" <<< "$OUT" || fail "expected ok: $OUT"
}
run_case "audit without the kernel's task iterator (a pid namespace): a restricted user's zombie is not listed, exit 0 (controls: a live restricted process, and a thread running after its leader exited, are listed)" case_16

finish
