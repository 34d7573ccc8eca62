#!/bin/bash
# make demo: a throwaway sshd on 127.0.0.1 in a private mount namespace; a restricted and an
# unrestricted user log in with a key and run a setuid-root copy of `id`. Nothing on the
# host changes; everything started here is stopped at the end.
. "$(dirname "$0")/../tests/lib.sh"
ns_enter "$@"
ns_setup
ns_syslog
standard_users
write_stack sshd debug
write_config '# demo /etc/security/nnp.toml
notice = "This session runs with no_new_privs: sudo and setuid programs will not raise privileges."

[[rule]]
groups = ["restricted"]
nnp = true'
echo "alice ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers
echo "bob ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers
start_sshd || exit 1

echo "== /etc/security/nnp.toml (in the demo namespace)"
sed 's/^/   /' /etc/security/nnp.toml
echo "== /etc/pam.d/sshd, session phase"
grep '^session' /etc/pam.d/sshd | sed 's/^/   /'
echo "== sshd on 127.0.0.1:$PORT; alice is in group 'restricted', bob is not; both have sudo NOPASSWD: ALL"
echo

rows=()
for u in alice bob; do
  ssh_as "$u" -- "$T/bin/probe; echo SUDO=\$(sudo -n id -u 2>&1 | head -n1)"
  nnp=$(printf '%s\n' "$OUT" | sed -n 's/^NNP=\([0-9]*\) .*/\1/p')
  euid=$(printf '%s\n' "$OUT" | sed -n 's/^NNP=[0-9]* EUID=//p')
  sudo_out=$(printf '%s\n' "$OUT" | sed -n 's/^SUDO=//p')
  case "$sudo_out" in
    *"no new privileges"*) sudo_out='refused: "no new privileges" flag is set' ;;
  esac
  sleep 0.2
  line=$(grep -a "user $u (uid" "$T/syslog.txt" | tail -n1)
  rule=$(printf '%s' "$line" | sed -n 's/.* by rule \(.*\)$/\1/p')
  [ -n "$rule" ] || rule="(none)"
  rows+=("$u|${TEST_UID[$u]}|$rule|$nnp|$euid|$sudo_out")
done

printf '%-6s %-6s %-30s %-11s %-22s %s\n' USER UID "MATCHED RULE" NoNewPrivs "EUID OF SETUID-ROOT id" "sudo -n id -u"
for r in "${rows[@]}"; do
  IFS='|' read -r u uid rule nnp euid s <<< "$r"
  printf '%-6s %-6s %-30s %-11s %-22s %s\n' "$u" "$uid" "$rule" "$nnp" "$euid" "${s:0:60}"
done
echo
echo "== what pam_nnp logged (authpriv):"
grep -a 'pam_nnp(' "$T/syslog.txt" | sed 's/^<[0-9]*>/   /'
echo
echo "alice's session has NoNewPrivs 1: the setuid-root id keeps her uid and sudo refuses;"
echo "bob (the control) still gets euid 0 from the same binary."
