#!/bin/bash
# nnp-shell as the passwd shell, through a real sshd on loopback with NO pam_nnp in any
# stack: the shell alone must set NNP and then become the real shell.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
nnp_shell_cast
grep -q pam_nnp /etc/pam.d/* && { echo "Bail out! pam_nnp is in a stack"; exit 1; }
write_config 'shell = "/bin/bash"
[[rule]]
groups = ["restricted"]
nnp = true'
start_sshd || exit 1

# which shell runs a -c command: "; true" stops bash/dash from exec'ing the last command
WHICH='readlink /proc/$$/exe; true'

case_1() {
  expect_probe sam 1 $S
}
run_case "nnp-shell user: NoNewPrivs 1 and setuid id keeps the euid" case_1

case_2() {
  expect_probe bob 0 0
}
run_case "control: bash user in the same sshd gets euid 0" case_2

case_3() {
  ssh_as sam -- 'echo hello; exit 3'
  expect_rc 3
  [ "$OUT" = "hello" ] || fail "stdout must be exactly 'hello'"
  [ -z "$ERR" ] || fail "stderr must be empty"
}
run_case "ssh 'echo hello; exit 3' prints exactly hello and exits 3" case_3

case_4() {
  LAST_CMD="ssh -tt sam (stdin: shopt login_shell; echo \$0; exit)"
  ssh_opts
  OUT=$( (sleep 1; printf 'shopt login_shell; echo ZERO=$0; exit\n') | timeout 20 ssh "${SSH_OPTS[@]}" -tt sam@127.0.0.1 2>&1); RC=$?
  printf '%s\n' "$OUT" | tr -d '\r' | grep -qE 'login_shell[[:space:]]+on$' || fail "not a login shell"
  printf '%s\n' "$OUT" | tr -d '\r' | grep -qx 'ZERO=-bash' || fail "argv[0] should be -bash"
}
run_case "interactive ssh -tt login is a login shell of the real shell" case_4

case_5() {
  printf 'put %s/bin/probe up.txt\nget up.txt %s/down.txt\n' "$T" "$T" > "$T/sftp-batch"
  ssh_opts
  run sftp "${SSH_OPTS[@]/-p/-P}" -b "$T/sftp-batch" sam@127.0.0.1
  expect_rc 0
  cmp -s "$T/bin/probe" "$T/down.txt" || fail "sftp round trip differs"
}
run_case "sftp works" case_5

case_6() {
  rm -f "$T/down.txt"
  ssh_opts
  run scp "${SSH_OPTS[@]/-p/-P}" -O "$T/bin/probe" sam@127.0.0.1:scp.txt
  expect_rc 0
  run scp "${SSH_OPTS[@]/-p/-P}" -O sam@127.0.0.1:scp.txt "$T/down.txt"
  expect_rc 0
  cmp -s "$T/bin/probe" "$T/down.txt" || fail "scp round trip differs"
}
run_case "scp -O (legacy protocol) works" case_6

case_7() {
  rm -f "$T/down.txt"
  ssh_opts
  run rsync -e "ssh ${SSH_OPTS[*]}" "$T/bin/probe" sam@127.0.0.1:rsync.txt
  expect_rc 0
  run rsync -e "ssh ${SSH_OPTS[*]}" sam@127.0.0.1:rsync.txt "$T/down.txt"
  expect_rc 0
  cmp -s "$T/bin/probe" "$T/down.txt" || fail "rsync round trip differs"
}
run_case "rsync over ssh works" case_7

case_8() {
  ssh_as sam -- "$WHICH"
  expect_line /usr/bin/bash
}
run_case "top-level shell is used when the matching rule names none" case_8

case_9() {
  write_config 'shell = "/bin/bash"
[[rule]]
groups = ["restricted"]
nnp = true
shell = "/bin/dash"'
  ssh_as sam -- "$WHICH"
  expect_line /usr/bin/dash
}
run_case "the matching rule's shell wins over the top-level one" case_9

case_10() {
  write_config 'shell = "/bin/bash"
[[rule]]
users = ["somebody-else"]
nnp = true'
  ssh_as sam -- "$WHICH; $T/bin/probe"
  expect_line /usr/bin/bash
  expect_line "NNP=1 EUID=$S"
}
run_case "no rule matches: the top-level shell, still with NNP" case_10

# Each bad case: /bin/sh (dash here), NNP set, one warning on stderr, stdout untouched.
expect_fallback() {
  ssh_as sam -- "$WHICH; $T/bin/probe"
  expect_rc 0
  [ "$OUT" = "/usr/bin/dash
NNP=1 EUID=$S" ] || fail "stdout must be exactly the shell and the probe line"
  printf '%s' "$ERR" | grep -q "^nnp-shell: warning: .*$1.*; using /bin/sh$" || fail "expected a warning matching '$1'"
  [ "$(printf '%s\n' "$ERR" | grep -c .)" = 1 ] || fail "expected exactly one line on stderr"
}

case_11() {
  write_config 'shell = "/bin/bash"
[[rule]]
grups = ["restricted"]
nnp = true'
  expect_fallback 'unknown key .grups.'
}
run_case "invalid config falls back to /bin/sh with a warning" case_11

case_12() {
  write_config 'shell = "/bin/bash"'
  chmod 666 /etc/security/nnp.toml
  expect_fallback 'untrusted file: writable by group and others'
}
run_case "untrusted (world-writable) config falls back to /bin/sh" case_12

case_13() {
  write_config 'shell = "bash"'
  expect_fallback 'is not an absolute path'
}
run_case "relative shell falls back to /bin/sh" case_13

case_14() {
  write_config 'shell = "/etc/passwd"'
  expect_fallback 'is not an executable file'
}
run_case "non-executable shell falls back to /bin/sh" case_14

case_15() {
  ln -sf "$T/bin/nnp-shell" "$T/bin/sneaky"
  write_config "shell = \"$T/bin/sneaky\""
  expect_fallback 'is nnp-shell itself'
}
run_case "shell that is nnp-shell itself falls back to /bin/sh (no loop)" case_15

case_16() {
  # Run as sam directly (sshd would not pass these variables on): plausible names of a
  # config override all point at a config naming dash; the compiled-in one names bash.
  write_config 'shell = "/bin/bash"'
  printf 'shell = "/bin/dash"\n' > "$T/evil.toml"
  run setpriv --reuid=$S --regid=$S --init-groups env NNP_CONFIG="$T/evil.toml" \
    NNP_CONF="$T/evil.toml" NNP_SHELL_CONFIG="$T/evil.toml" CONFIG="$T/evil.toml" \
    "$T/bin/nnp-shell" -c "$WHICH; $T/bin/probe"
  expect_rc 0
  expect_line /usr/bin/bash
  expect_line "NNP=1 EUID=$S"
  # control: the same invocation with the config naming dash does run dash
  write_config 'shell = "/bin/dash"'
  run setpriv --reuid=$S --regid=$S --init-groups "$T/bin/nnp-shell" -c "$WHICH"
  expect_line /usr/bin/dash
}
run_case "no environment variable can redirect the config" case_16

case_17() {
  gcc -O1 -Wall -o "$T/deny_nnp" "$NNP_ROOT/tests/c/deny_nnp.c" || fail "build deny_nnp"
  run "$T/deny_nnp" "$T/bin/nnp-shell" -c 'echo SHOULD-NOT-RUN'
  expect_rc 126
  [ -z "$OUT" ] || fail "stdout must be empty"
  [ "$ERR" = "nnp-shell: cannot set no_new_privs: prctl(PR_SET_NO_NEW_PRIVS) failed: Operation not permitted (errno 1); not starting a shell" ] || fail "unexpected stderr"
  # control: the same wrapper around a plain shell does run it
  run "$T/deny_nnp" /bin/sh -c 'echo RAN'
  expect_line RAN
}
run_case "prctl fails: one line on stderr, exit 126, nothing exec'd, nothing on stdout" case_17

finish
