#!/bin/bash
# Identity matching through real libpam and real NSS (issue: one decision engine). Each case
# is a regression test of a hole of the first version, with its control: a user the rules do
# not name whose setuid-root `id` still reaches euid 0.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
ns_syslog
mkdir -p "$T/lib"
for m in nnpflag nnpci nnpcount; do
  gcc -O1 -Wall -shared -fPIC -o "$T/lib/libnss_$m.so.2" "$NNP_ROOT/tests/c/libnss_$m.c" || exit 1
done

# euid-probe: run as PAM_USER (setpriv, no PAM), exec the setuid-root id: prints EUID=N.
cat > "$T/bin/euid-probe" <<EOF2
#!/bin/sh
# pam_exec does not pass our environment: the test NSS modules' directory is named here.
LD_LIBRARY_PATH=$T/lib; export LD_LIBRARY_PATH
uid=\$(id -u -- "\$PAM_USER") || exit 1
gid=\$(id -g -- "\$PAM_USER") || exit 1
echo "EUID=\$(setpriv --reuid="\$uid" --regid="\$gid" --clear-groups $T/bin/suid-id -u)"
EOF2
chmod 755 "$T/bin/euid-probe"
# stack_probe SVC [ARGS] — pam_nnp, then the NoNewPrivs line and the euid the session's child gets
stack_probe() {
  write_stack_probe "$@"
  echo "session  optional pam_exec.so stdout $T/bin/euid-probe" >> "/etc/pam.d/$1"
}
# pam_as SVC USER — open a session; OUT has NoNewPrivs and EUID lines
pam_as() { run pamtester "$1" "$2" open_session; }
expect_session() {  # NNP EUID
  expect_rc 0; expect_line "NoNewPrivs:	$1"; expect_line "EUID=$2"
}
expect_session_refused() {
  [ "$RC" != 0 ] || fail "the session must be refused"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR"
}
A=$((UID_BASE + 1))

case_1() {
  # Before: the name was converted lossily and getgrouplist was asked about "caf\ufffd".
  add_user "$(printf 'caf\xe9')" $((UID_BASE + 20)) restricted
  write_config "$GROUP_RULE"
  stack_probe nnpid
  pam_as nnpid "$(printf 'caf\xe9')"
  expect_session 1 $((UID_BASE + 20))
  pam_as nnpid bob
  expect_session 0 0
  run "$NNPCTL" explain "$(printf 'caf\xe9')" --json
  expect_rc 0
  printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain must take the byte name and agree with the module"
  printf '%s' "$OUT" | grep -qF '"user": "caf\\xe9"' || fail "JSON must show the name escaped"
}
run_case "non-UTF-8 user name (caf\\xe9) in the restricted group: NNP 1 (control bob: euid 0)" case_1

case_2() {
  # Before: getgrouplist dropped the source's error; alice got NNP 0 and PAM_SUCCESS.
  sed -E 's/^group:.*/group: files nnpflag/' /etc/nsswitch.conf > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
  export LD_LIBRARY_PATH="$T/lib"
  write_config "$EXEMPT_DAVE
[[rule]]
groups = [\"ldaprestricted\"]
nnp = true"
  stack_probe nnpid
  touch /run/nnp-flag   # directory up
  pam_as nnpid alice; expect_session 1 $A
  pam_as nnpid bob;   expect_session 0 0
  rm -f /run/nnp-flag   # directory down
  pam_as nnpid alice; expect_session_refused
  wait_log 'pam_nnp\(nnpid:session\): user alice: error: rule .*nnp.toml:4 needs a fact that cannot be established: group lookup for "ldaprestricted" \(getgrnam_r\) failed: Input/output error .*session refused' || fail "the outage must be logged with its cause"
  pam_as nnpid bob;   expect_session_refused   # nobody can prove they are outside the group
  pam_as nnpid dave;  expect_session 0 0        # the exemption placed first needs no group lookup
  stack_probe nnpid on_error=allow
  pam_as nnpid alice; expect_session 0 0
  wait_log 'user alice: .*session continues WITHOUT no_new_privs \(on_error=allow\)' || fail "on_error=allow must be logged"
  run "$NNPCTL" explain alice --json
  expect_rc 3
  printf '%s' "$OUT" | grep -q '"verdict": "error"' || fail "explain must report the error the module sees"
  umount /etc/nsswitch.conf; unset LD_LIBRARY_PATH
}
run_case "group source down (group: files nnpflag, UNAVAIL): refused and logged, never NNP 0 with success" case_2

case_3() {
  # Before: each gid was named with getgrgid_r, which returns only the first name.
  add_group staff-alias $((UID_BASE + 300))
  add_group aliased $((UID_BASE + 300))
  add_user erin $((UID_BASE + 30)) aliased
  add_user frank $((UID_BASE + 31))
  awk -F: -v OFS=: -v g=$((UID_BASE + 300)) '$1=="frank" { $4 = g } 1' /etc/passwd > "$T/p"; cat "$T/p" > /etc/passwd
  write_config '[[rule]]
groups = ["aliased"]
nnp = true'
  stack_probe nnpid
  pam_as nnpid erin;  expect_session 1 $((UID_BASE + 30))
  pam_as nnpid frank; expect_session 1 $((UID_BASE + 31))
  pam_as nnpid bob;   expect_session 0 0
}
run_case "two names for one gid (alias listed first): member and primary-gid user get NNP 1" case_3

case_4() {
  # Before: rule names were compared as strings with what NSS returned (lowercased).
  sed -E 's/^passwd:.*/passwd: files nnpci/; s/^group:.*/group: files nnpci/' /etc/nsswitch.conf > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
  export LD_LIBRARY_PATH="$T/lib"
  TEST_UID[ciuser]=61400
  write_config '[[rule]]
groups = ["CIGroup"]
nnp = true'
  stack_probe nnpid
  pam_as nnpid CIUSER; expect_session 1 61400
  pam_as nnpid ciuser; expect_session 1 61400
  pam_as nnpid bob;    expect_session 0 0
  write_config '[[rule]]
users = ["CIUser"]
nnp = true'
  pam_as nnpid Ciuser; expect_session 1 61400
  pam_as nnpid bob;    expect_session 0 0
  run "$NNPCTL" check
  expect_rc 0
  printf '%s' "$OUT" | grep -q 'user "CIUser" is "ciuser" in NSS' || fail "check must warn about the non-canonical spelling"
  umount /etc/nsswitch.conf; unset LD_LIBRARY_PATH
}
run_case "case-insensitive NSS source: groups/users in another case match; logins in another case too" case_4

case_5() {
  # Before: Linux-PAM lowercases PAM_SERVICE, so the rule never matched.
  write_config '[[rule]]
users = ["alice"]
services = ["NNPX"]
nnp = true'
  stack_probe nnpx
  run pamtester NNPX alice open_session
  expect_session 1 $A
  run pamtester NNPX bob open_session
  expect_session 0 0
  run "$NNPCTL" explain alice --service NNPX --json
  printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain must agree with the module"
}
run_case "service names compare in lowercase (services = [\"NNPX\"]); explain agrees" case_5

case_6() {
  write_config "$EXEMPT_DAVE
[[rule]]
groups = [\"no-such-group-nnp\"]
nnp = true"
  stack_probe nnpid
  pam_as nnpid alice; expect_session_refused
  pam_as nnpid dave;  expect_session 0 0
  run "$NNPCTL" check
  expect_rc 1
  printf '%s' "$OUT" | grep -q 'problem: .*group "no-such-group-nnp" is not known to NSS' || fail "check must report the unknown group as a problem"
}
run_case "group named by an nnp = true rule that NSS does not know: refused; check says problem" case_6

case_7() {
  write_config "$GROUP_RULE"
  stack_probe nnplog
  pam_as nnplog alice
  expect_session 1 $A
  wait_log 'pamtester(\[[0-9]+\])?: pam_nnp\(nnplog:session\): user alice \(uid [0-9]+\): no_new_privs set by rule /etc/security/nnp.toml:1$' || { OUT=$(case_syslog | tail -3); fail "log line format"; }
  case_syslog | grep -a 'pam_nnp(nnplog:session)' | grep -q '^<85>' || fail "facility authpriv, priority notice (<85>)"
}
run_case "pam_syslog: exact prefix pam_nnp(SERVICE:session) and the caller's identity" case_7

case_8() {
  # Issue 19: \`alias\` (alice's uid) logged in with NNP 0 and reached euid 0; nnpctl check warned
  # only when the alias came first.
  cp /etc/passwd "$T/passwd.orig"
  ALIAS_LINE="alias:x:$A:$A:second name of alice:$T/home/alice:/bin/bash"
  stack_probe nnpid
  for where in after before; do
    if [ "$where" = after ]; then
      { cat "$T/passwd.orig"; echo "$ALIAS_LINE"; } > "$T/p"
    else
      awk -v l="$ALIAS_LINE" '/^alice:/ { print l } { print }' "$T/passwd.orig" > "$T/p"
    fi
    cat "$T/p" > /etc/passwd
    write_config '[[rule]]
users = ["alice"]
nnp = true'
    pam_as nnpid alias; expect_session 1 $A
    pam_as nnpid alice; expect_session 1 $A
    pam_as nnpid bob;   expect_session 0 0    # control: not named, setuid still raises
    run "$NNPCTL" explain alias --json
    printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain must agree with the module ($where)"
    run "$NNPCTL" check
    printf '%s' "$OUT" | grep -q 'uid '$A' of user "alice" is also the account "alias"' || fail "check must name the alias ($where)"
    # an exemption names one account: alice is exempt, her alias is not
    write_config '[[rule]]
users = ["alice"]
nnp = false

[[rule]]
users = ["*"]
nnp = true'
    pam_as nnpid alice; expect_session 0 0
    pam_as nnpid alias; expect_session 1 $A
  done
}
run_case "a second passwd name for a restricted uid (alias after alice, then before): NNP 1; an exemption covers only the named account" case_8

case_9() {
  # Issue 20 item 10: after four single lookups the resolver enumerated every group with
  # setgrent/getgrent_r inside the login process (sshd's monitor): under nslcd the whole
  # directory at each login, and it reset the host process's own enumeration.
  conf=""
  for k in 1 2 3 4 5 6 7 8; do
    add_group "nnpg$k" $((UID_BASE + 600 + k))
    conf="$conf[[rule]]
groups = [\"nnpg$k\"]
nnp = true

"
  done
  awk -F: -v OFS=: '$1=="nnpg8" { $4 = "alice" } 1' /etc/group > "$T/g"; cat "$T/g" > /etc/group
  write_config "$conf"
  stack_probe nnpid
  export LD_LIBRARY_PATH="$T/lib"
  for order in "files nnpcount" "nnpcount files"; do
    sed -E "s/^group:.*/group: $order/" /etc/nsswitch.conf > "$T/nsswitch.conf"
    mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
    rm -f /run/nnp-enum.log /run/nnp-byname.log
    pam_as nnpid alice; expect_session 1 $A
    pam_as nnpid bob;   expect_session 0 0
    [ -s /run/nnp-enum.log ] && fail "enumeration in a login with group: $order: $(sort /run/nnp-enum.log | uniq -c | tr '\n' ' ')"
    # control: the counting source does see an enumeration, and name lookups reach it
    getent group > /dev/null
    grep -q setgrent /run/nnp-enum.log 2>/dev/null || fail "control: getent group must reach the counting source ($order)"
    if [ "$order" = "nnpcount files" ]; then
      grep -qx nnpg8 /run/nnp-byname.log || fail "with nnpcount first, names are asked by name"
    fi
    umount /etc/nsswitch.conf
  done
  unset LD_LIBRARY_PATH
}
run_case "the module never enumerates the group database (8 group rules; group: files nnpcount, nnpcount files)" case_9

case_10() {
  # Review (HIGH): systemd runs user@UID.service's PAM session (service systemd-user) with
  # PAM_USER = the uid's first passwd name (get_user_creds), not the name that logged in.
  # With `ua` then `ua2` on one uid and only ua2 in `restricted`, ua2's session got NNP 1 and
  # her user manager (PAM_USER ua) NNP 0, so `systemd-run --user` escaped; check said ok.
  local U=$((UID_BASE + 40))
  add_user ua $U
  echo "ua2:x:$U:$U:second name of ua:$T/home/ua:/bin/bash" >> /etc/passwd
  echo "ua2:*:19000:0:99999:7:::" >> /etc/shadow
  cp /etc/group "$T/group.plain"
  awk -F: -v OFS=: '$1=="restricted" { $4 = ($4=="" ? "ua2" : $4 ",ua2") } 1' "$T/group.plain" > "$T/g"
  cat "$T/g" > /etc/group
  # caller-nnp: the NoNewPrivs of the process that called pam_open_session (pam_exec's parent)
  printf '#!/bin/sh\necho "CALLER $(grep NoNewPrivs: /proc/$PPID/status)"\n' > "$T/bin/caller-nnp"
  chmod 755 "$T/bin/caller-nnp"
  stack_probe nnpid
  stack_probe systemd-user
  echo "session  optional pam_exec.so stdout $T/bin/caller-nnp" >> /etc/pam.d/systemd-user
  local form
  for form in group exemption; do
    if [ "$form" = group ]; then
      write_config "$GROUP_RULE"
      RULE_AT=/etc/security/nnp.toml:1; RULE_N=1; UA_VERDICT="no rule matches"
    else
      write_config '[[rule]]
users = ["ua"]
nnp = false

[[rule]]
users = ["ua2"]
nnp = true'
      RULE_AT=/etc/security/nnp.toml:5; RULE_N=2; UA_VERDICT="exempt by rule 1 at /etc/security/nnp.toml:1"
    fi
    pam_as nnpid ua2; expect_session 1 $U           # her own session, as before
    pam_as nnpid ua;  expect_session 0 0            # ua's own session follows ua's rules
    # the user manager of the uid, opened as systemd opens it: PAM_USER = the first name
    pam_as systemd-user ua; expect_session 1 $U; expect_line "CALLER NoNewPrivs:	1"
    wait_log "pam_nnp\(systemd-user:session\): user ua \(uid $U\): no_new_privs set by rule $RULE_AT \(user manager: the rules of every service and every account of the uid apply; decided for account ua2\)" ||
      { OUT=$(case_syslog | tail -3); fail "log line for the user manager ($form)"; }
    pam_as systemd-user ua2; expect_session 1 $U
    run "$NNPCTL" check
    expect_rc 1
    expect_line "problem: $RULE_AT: uid $U has the accounts \"ua\" ($UA_VERDICT), \"ua2\" (no_new_privs by rule $RULE_N at $RULE_AT) in /etc/passwd, which the rules decide differently for systemd's user manager (service systemd-user): there is one manager per uid, whichever name logged in, and pam_nnp gives it the strictest decision, no_new_privs, for every one of them; decide every name of the uid alike (the same rules, or one account)"
    for who in ua ua2; do
      run "$NNPCTL" explain $who --service systemd-user
      expect_rc 0
      expect_line "decision: pam_nnp sets no_new_privs"
      expect_line "  pam_nnp, service systemd-user: enforce by rule #$RULE_N at $RULE_AT"
    done
    run "$NNPCTL" explain ua --service systemd-user
    printf '%s\n' "$OUT" | grep -q '^matched:  account "ua2" of uid '$U' (every name of a uid counts): ' || fail "explain must name the account that decided ($form)"
  done
  # control: the same, but ua2 not in restricted: nobody on the uid is restricted
  cat "$T/group.plain" > /etc/group
  write_config "$GROUP_RULE"
  pam_as systemd-user ua; expect_session 0 0; expect_line "CALLER NoNewPrivs:	0"
  pam_as nnpid ua2; expect_session 0 0
  run "$NNPCTL" check
  expect_rc 0; expect_line "ok: 1 rule from 1 file"
  run "$NNPCTL" explain ua --service systemd-user
  expect_rc 0; expect_line "decision: nothing is done (no rule matches)"
}
run_case "systemd's user manager is decided for every name of the uid: PAM_USER = the first name (ua), only the second (ua2) restricted, by group or after an exemption of ua: NNP 1 in the caller; check names both; explain agrees (control: ua2 not restricted, NNP 0)" case_10

case_11() {
  # Review: audit decided a process by its uid's getpwuid name alone. With `ub` then `ub2` on
  # one uid and only ub2 in `restricted`, a process of that uid without NNP (ub2's, as the
  # kernel has no names) was passed: "ok". Now every account of the uid decides, the
  # strictest (as for systemd's user manager).
  local U=$((UID_BASE + 41)) pid
  add_user ub $U
  echo "ub2:x:$U:$U:second name of ub:$T/home/ub:/bin/bash" >> /etc/passwd
  echo "ub2:*:19000:0:99999:7:::" >> /etc/shadow
  cp /etc/group "$T/group.plain11"
  awk -F: -v OFS=: '$1=="restricted" { $4 = ($4=="" ? "ub2" : $4 ",ub2") } 1' "$T/group.plain11" > "$T/g"
  cat "$T/g" > /etc/group
  write_config "$GROUP_RULE"
  setpriv --reuid=$U --regid=$U --clear-groups sleep 311 &
  pid=$!
  for _ in $(seq 50); do grep -q "^Uid:[[:space:]]*$U" /proc/$pid/status 2>/dev/null && break; sleep 0.1; done
  run "$NNPCTL" audit
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qE "^ *$pid +$pid +ub2 " || fail "the uid's process must be listed under the restricted account ub2"
  # control: ub2 not restricted: nobody on the uid is, ok
  cat "$T/group.plain11" > /etc/group
  run "$NNPCTL" audit
  printf '%s\n' "$OUT" | grep -qE "^ *$pid +$pid " && fail "control: not restricted, must not be listed"
  kill $pid; wait $pid 2>/dev/null
  true
}
run_case "audit decides a process by every account of its uid: only the second name (ub2) restricted, a process of the uid without NNP is listed under ub2 (control: ub2 not restricted, not listed)" case_11

[ -n "${KEEP:-}" ] && cp "$SYSLOG" /tmp/id-syslog.txt
finish
