#!/bin/bash
# pam_nnp through a real sshd on loopback: what each session actually got.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
ns_setup
standard_users
A=$((UID_BASE + 1)); B=$((UID_BASE + 2)); C=$((UID_BASE + 500)); D=$((UID_BASE + 4))

write_stack sshd
write_config "$GROUP_RULE"
start_sshd || exit 1

case_begin "group member gets NoNewPrivs 1 and setuid id keeps her euid"
expect_probe alice 1 $A
case_end

case_begin "control: unmatched user gets 0 and the setuid id gives euid 0"
expect_probe bob 0 0
case_end

case_begin "a pty session (ssh -tt) gets NNP too"
ssh_as alice -tt -- "$T/bin/probe"
expect_line "NNP=1 EUID=$A"
ssh_as bob -tt -- "$T/bin/probe"
expect_line "NNP=0 EUID=0"
case_end

case_begin "sftp session: the sftp-server process has NNP"
expect_sftp_nnp alice 1
expect_sftp_nnp bob 0
case_end

case_begin "sudo in a restricted session cannot become root"
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
case_end

case_begin "exemption: nnp = false before the group rule"
write_config "$EXEMPT_DAVE

$GROUP_RULE"
expect_probe dave 0 0
expect_probe alice 1 $A
case_end

case_begin "uid range selects carol only"
write_config '[[rule]]
uids = ["'$((UID_BASE + 500))-$((UID_BASE + 599))'"]
nnp = true'
expect_probe carol 1 $C
expect_probe alice 0 0
case_end

case_begin "services that exclude sshd: no NNP over ssh"
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
case_end

case_begin "drop-in rule in nnp.d/ applies"
write_config '# no rules here'
mkdir -p /etc/security/nnp.d
printf '[[rule]]\nusers = ["carol"]\nnnp = true\n' > /etc/security/nnp.d/10-carol.toml
expect_probe carol 1 $C
expect_probe alice 0 0
rm -rf /etc/security/nnp.d
case_end

case_begin "top-level audit mode: nothing set"
write_config 'mode = "audit"
'"$GROUP_RULE"
expect_probe alice 0 0
case_end

case_begin "per-rule audit mode overrides enforce"
write_config '[[rule]]
users = ["alice"]
nnp = true
mode = "audit"

'"$GROUP_RULE"
expect_probe alice 0 0
expect_probe dave 1 $D
case_end

case_begin "config= argument points at another file"
write_config '# main file: no rules'
mkdir -p /etc/security/alt
printf '[[rule]]\nusers = ["bob"]\nnnp = true\n' > /etc/security/alt/jump.toml
write_stack sshd config=/etc/security/alt/jump.toml
expect_probe bob 1 $B
expect_probe alice 0 0
write_stack sshd
case_end

case_begin "invalid config: session refused (on_error=deny default)"
write_config '[[rule]]
grups = ["restricted"]
nnp = true'
expect_refused alice
expect_refused bob
case_end

case_begin "world-writable config: session refused"
write_config "$GROUP_RULE"
chmod 666 /etc/security/nnp.toml
expect_refused bob
chmod 644 /etc/security/nnp.toml
case_end

case_begin "config owned by a user: session refused"
chown bob /etc/security/nnp.toml
expect_refused bob
chown root /etc/security/nnp.toml
case_end

case_begin "unknown module argument: session refused"
write_stack sshd debgu
expect_refused bob
write_stack sshd
case_end

case_begin "on_error=allow: invalid config lets the login proceed without NNP"
write_stack sshd on_error=allow
write_config 'this is not toml'
expect_probe alice 0 0
write_stack sshd
case_end

case_begin "missing config: logins unaffected"
rm -f /etc/security/nnp.toml
expect_probe alice 0 0
expect_probe bob 0 0
case_end

case_begin "background process started in the session keeps NNP after logout (control: bob's has 0)"
write_config "$GROUP_RULE"
for who in alice:1 bob:0; do
  ssh_as "${who%:*}" -- "nohup sleep 60 >/dev/null 2>&1 & echo PID=\$!"
  pid=$(printf '%s\n' "$OUT" | sed -n 's/^PID=//p')
  wait_for test -e "/proc/${pid:-0}/status"
  expect_pid_nnp "$pid" "${who#*:}" "background sleep of ${who%:*} after logout"
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
done
case_end

finish
