#!/bin/bash
# The harness itself (tests/lib.sh run_case): each case runs in its own environment over the
# file's fixture. The first case leaves every kind of state behind; the next sees none of it.
# Both go through the fixture's one sshd: it serves each case's own PAM stack and users.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1))
write_stack sshd
write_config "$GROUP_RULE"
start_sshd || exit 1
FIXTURE_SUDOERS=$(sha256sum < /etc/sudoers)

leave_state() {
  echo "alice ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers
  write_plain_stack sshd
  rm /etc/security/nnp.toml
  echo left > "$T/left"; echo left > "$T/home/alice/left"; : > /run/left; : > /var/log/left
  add_user zed $((UID_BASE + 50))
  mkdir -p "$T/mnt"; mount -t tmpfs nnp-left "$T/mnt"
  sleep 601 &   # a process of the case
  setsid sleep 602 < /dev/null > /dev/null 2>&1 &   # one that leaves the case's process group
  ssh_as alice -- "nohup sleep 600 >/dev/null 2>&1 & echo PID=\$!"   # and of a test user
  wait_for bash -c "pgrep -U $A -x sleep > /dev/null" || fail "alice's sleep did not start"
  LEAKED=yes
  # the fixture's sshd already serves the case's stack (no pam_nnp) and its new user
  expect_probe alice 0 0
  expect_probe zed 0 0
  sudo -n -l -U alice | grep -q NOPASSWD || fail "the case's sudoers line"
}
run_case "a case leaves state behind: sudoers, a PAM stack, the config, files, a user, a mount, processes, a variable" leave_state

nothing_left() {
  [ "$(sha256sum < /etc/sudoers)" = "$FIXTURE_SUDOERS" ] || fail "sudoers changed"
  grep -qF "$MODULE" /etc/pam.d/sshd || fail "sshd's stack changed"
  [ -f /etc/security/nnp.toml ] || fail "the config is gone"
  local f
  for f in "$T/left" "$T/home/alice/left" /run/left /var/log/left; do [ -e "$f" ] && fail "$f is left"; done
  getent passwd zed > /dev/null && fail "user zed is left"
  grep -q ' nnp-left ' /proc/self/mountinfo && fail "the tmpfs is left"
  pgrep -f '^sleep 60[012]$' > /dev/null && fail "processes are left"
  [ -z "${LEAKED:-}" ] || fail "a variable leaked"
  # the fixture's stack and users again, through the same sshd
  expect_probe alice 1 $A
  ssh_as zed -- true
  [ "$RC" = 0 ] && fail "zed must not log in"
}
run_case "the next case sees none of it" nothing_left

finish
