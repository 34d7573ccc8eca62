#!/bin/bash
# pam_nnp through a real sshd on loopback: what each session actually got.
# Fixture: the standard users, pam_nnp in sshd's session stack, the group rule, one sshd.
# Each case runs in its own environment (run_case): what it writes is gone after it.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1)); B=$((UID_BASE + 2)); C=$((UID_BASE + 500)); D=$((UID_BASE + 4))

write_stack sshd
write_config "$GROUP_RULE"
start_sshd || exit 1

group_member() {
  expect_probe alice 1 $A
}
run_case "group member gets NoNewPrivs 1 and setuid id keeps her euid" group_member

control_user() {
  expect_probe bob 0 0
}
run_case "control: unmatched user gets 0 and the setuid id gives euid 0" control_user

pty_session() {
  ssh_as alice -tt -- "$T/bin/probe"
  expect_line "NNP=1 EUID=$A"
  ssh_as bob -tt -- "$T/bin/probe"
  expect_line "NNP=0 EUID=0"
}
run_case "a pty session (ssh -tt) gets NNP too" pty_session

sftp_session() {
  expect_sftp_nnp alice 1
  expect_sftp_nnp bob 0
}
run_case "sftp session: the sftp-server process has NNP" sftp_session

sudo_in_session() {
  # the case's own sudoers: gone with the case
  echo "alice ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers
  echo "bob ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers
  # alice's session must run (a refused session prints no 0 either, and would pass) and her
  # sudo must fail.
  ssh_as alice -- "echo SESSION-RAN; sudo -n id -u; echo SUDO-EXIT=\$?"
  expect_rc 0
  expect_line SESSION-RAN
  expect_no_line_matching '^0$|^SUDO-EXIT=0$'
  clean_out | grep -qE '^SUDO-EXIT=[1-9]' || fail "alice's sudo did not run to a failure"
  ssh_as bob -- "sudo -n id -u"
  expect_line 0
}
run_case "sudo in a restricted session cannot become root" sudo_in_session

exemption() {
  write_config "$EXEMPT_DAVE

$GROUP_RULE"
  expect_probe dave 0 0
  expect_probe alice 1 $A
}
run_case "exemption: nnp = false before the group rule" exemption

uid_range() {
  write_config '[[rule]]
uids = ["'$((UID_BASE + 500))-$((UID_BASE + 599))'"]
nnp = true'
  expect_probe carol 1 $C
  expect_probe alice 0 0
}
run_case "uid range selects carol only" uid_range

services_exclude_sshd() {
  write_config '[[rule]]
groups = ["restricted"]
services = ["login", "su"]
nnp = true'
  expect_probe alice 0 0
  write_config '[[rule]]
groups = ["restricted"]
services = ["sshd"]
nnp = true'
  expect_probe alice 1 $A
}
run_case "services that exclude sshd: no NNP over ssh" services_exclude_sshd

drop_in() {
  write_config '# no rules here'
  mkdir -p /etc/security/nnp.d
  printf '[[rule]]\nusers = ["carol"]\nnnp = true\n' > /etc/security/nnp.d/10-carol.toml
  expect_probe carol 1 $C
  expect_probe alice 0 0
}
run_case "drop-in rule in nnp.d/ applies" drop_in

top_level_audit() {
  write_config 'mode = "audit"
'"$GROUP_RULE"
  expect_probe alice 0 0
}
run_case "top-level audit mode: nothing set" top_level_audit

per_rule_audit() {
  write_config '[[rule]]
users = ["alice"]
nnp = true
mode = "audit"

'"$GROUP_RULE"
  expect_probe alice 0 0
  expect_probe dave 1 $D
}
run_case "per-rule audit mode overrides enforce" per_rule_audit

config_argument() {
  write_config '# main file: no rules'
  mkdir -p /etc/security/alt
  printf '[[rule]]\nusers = ["bob"]\nnnp = true\n' > /etc/security/alt/jump.toml
  write_stack sshd config=/etc/security/alt/jump.toml
  expect_probe bob 1 $B
  expect_probe alice 0 0
}
run_case "config= argument points at another file" config_argument

invalid_config() {
  write_config '[[rule]]
grups = ["restricted"]
nnp = true'
  expect_refused alice
  expect_refused bob
}
run_case "invalid config: session refused (on_error=deny default)" invalid_config

world_writable_config() {
  chmod 666 /etc/security/nnp.toml
  expect_refused bob
}
run_case "world-writable config: session refused" world_writable_config

user_owned_config() {
  chown bob /etc/security/nnp.toml
  expect_refused bob
}
run_case "config owned by a user: session refused" user_owned_config

unknown_argument() {
  write_stack sshd debgu
  expect_refused bob
}
run_case "unknown module argument: session refused" unknown_argument

on_error_allow() {
  write_stack sshd on_error=allow
  write_config 'this is not toml'
  expect_probe alice 0 0
}
run_case "on_error=allow: invalid config lets the login proceed without NNP" on_error_allow

missing_config() {
  rm -f /etc/security/nnp.toml
  expect_probe alice 0 0
  expect_probe bob 0 0
}
run_case "missing config: logins unaffected" missing_config

background_process() {
  local who pid
  for who in alice:1 bob:0; do
    ssh_as "${who%:*}" -- "nohup sleep 60 >/dev/null 2>&1 & echo PID=\$!"
    pid=$(printf '%s\n' "$OUT" | sed -n 's/^PID=//p')
    wait_for test -e "/proc/${pid:-0}/status"
    expect_pid_nnp "$pid" "${who#*:}" "background sleep of ${who%:*} after logout"
  done
}
run_case "background process started in the session keeps NNP after logout (control: bob's has 0)" background_process

finish
