#!/bin/bash
# LDAP groups through a real directory: OpenLDAP slapd on 127.0.0.1 and a real NSS client,
# SSSD and nslcd, as two variants of the same cases, through pamtester and a real sshd key
# login, each with its control. The packages are downloaded (apt-get --download-only) and
# installed with dpkg inside this namespace over overlays of /etc, /usr and /var: the host's
# nsswitch.conf and PAM stacks are checked byte-identical at the end.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
export DEBIAN_FRONTEND=noninteractive
HOST_BEFORE=$(host_fingerprint)
overlay_system
install_debs slapd ldap-utils sssd-ldap sssd-common libnss-sss nslcd libnss-ldapd
fixture_setup
standard_users
ns_syslog
A=$((UID_BASE + 1)); B=$((UID_BASE + 2))
LA=62001; LB=62002; LU=62003

# ---- the directory ----
LPORT=$(free_port)
mkdir -p "$T/ldap/db"
cat > "$T/ldap/slapd.conf" <<EOF2
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $T/ldap/slapd.pid
database mdb
maxsize 10485760
suffix "dc=nnp,dc=test"
rootdn "cn=admin,dc=nnp,dc=test"
rootpw secret
directory $T/ldap/db
EOF2
ldap_user() {  # NAME UID
  printf 'dn: uid=%s,ou=people,dc=nnp,dc=test\nobjectClass: posixAccount\nobjectClass: account\nuid: %s\ncn: %s\nuidNumber: %s\ngidNumber: %s\nhomeDirectory: %s\nloginShell: /bin/bash\n\n' "$1" "$1" "$1" "$2" "$2" "$T/home/$1"
  printf 'dn: cn=%s,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: %s\ngidNumber: %s\n\n' "$1" "$1" "$2"
}
{
  printf 'dn: dc=nnp,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: nnp\no: nnp test\n\n'
  printf 'dn: ou=people,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
  printf 'dn: ou=groups,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n'
  ldap_user ldapalice $LA
  ldap_user ldapbob $LB
  ldap_user LDAPUser $LU
  # the restricted directory group: an LDAP user and a *local* user (alice) are members
  printf 'dn: cn=ldaprestricted,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: ldaprestricted\ngidNumber: 62100\nmemberUid: ldapalice\nmemberUid: alice\n\n'
  printf 'dn: cn=OpsRestricted,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: OpsRestricted\ngidNumber: 62200\nmemberUid: LDAPUser\n\n'
} > "$T/ldap/data.ldif"
slapadd -f "$T/ldap/slapd.conf" -l "$T/ldap/data.ldif" > "$T/ldap/slapadd.log" 2>&1 || { cat "$T/ldap/slapadd.log"; echo "Bail out! slapadd"; exit 1; }
SLAPD_PID=""
start_slapd() {
  slapd -f "$T/ldap/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 > "$T/ldap/slapd.log" 2>&1 &
  SLAPD_PID=$!
  local i
  for i in $(seq 100); do ss -Hltn "sport = :$LPORT" | grep -q . && return 0; sleep 0.1; done
  echo "# slapd did not start"; sed 's/^/#   /' "$T/ldap/slapd.log"; return 1
}
stop_slapd() {
  [ -n "$SLAPD_PID" ] && { kill "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null; SLAPD_PID=""; }
  local i; for i in $(seq 50); do ss -Hltn "sport = :$LPORT" | grep -q . || return 0; sleep 0.1; done
}
for u in ldapalice ldapbob LDAPUser ldapuser LdapUser; do mkdir -p "$T/home/$u"; cp "$T/clientkey.pub" "$T/keys/$u"; done
chown $LA:$LA "$T/home/ldapalice"; chown $LB:$LB "$T/home/ldapbob"; chown $LU:$LU "$T/home/LDAPUser" "$T/home/ldapuser" "$T/home/LdapUser"
TEST_UID[ldapalice]=$LA; TEST_UID[ldapbob]=$LB; TEST_UID[ldapuser]=$LU

# ---- the NSS clients ----
NSS_PID=""; CLIENT=""
wait_nss() {  # wait until NAME resolves (or, with "down", any answer comes back)
  local i; for i in $(seq 100); do getent passwd "$1" > /dev/null && return 0; sleep 0.1; done; return 1
}
use_nsswitch() {  # SOURCE (/etc is an overlay here: edit in place)
  sed -E "s/^(passwd|group):.*/\1: files $1/" /etc/nsswitch.conf > "$T/nsswitch.new"
  cat "$T/nsswitch.new" > /etc/nsswitch.conf
}
start_sssd() {  # case_sensitive: true|false; cache: keep|fresh
  stop_client
  [ "$2" = fresh ] && rm -rf /var/lib/sss/db/* /var/lib/sss/mc/*
  mkdir -p /etc/sssd
  cat > /etc/sssd/sssd.conf <<EOF2
[sssd]
services = nss
domains = LDAP
[nss]
[domain/LDAP]
id_provider = ldap
auth_provider = none
ldap_uri = ldap://127.0.0.1:$LPORT
ldap_search_base = dc=nnp,dc=test
ldap_schema = rfc2307
ldap_id_use_start_tls = false
enumerate = false
cache_credentials = false
ldap_rfc2307_fallback_to_local_users = true
case_sensitive = $1
ldap_network_timeout = 2
ldap_opt_timeout = 2
EOF2
  chmod 600 /etc/sssd/sssd.conf
  use_nsswitch sss
  sssd -i --logger=stderr > "$T/sssd.log" 2>&1 &
  NSS_PID=$!; CLIENT=sssd
  local i; for i in $(seq 100); do [ -S /var/lib/sss/pipes/nss ] && break; sleep 0.1; done
}
start_nslcd() {
  stop_client
  printf 'uri ldap://127.0.0.1:%s/\nbase dc=nnp,dc=test\nbind_timelimit 2\ntimelimit 2\nreconnect_retrytime 1\n' "$LPORT" > /etc/nslcd.conf
  chmod 600 /etc/nslcd.conf
  mkdir -p /run/nslcd
  use_nsswitch ldap
  nslcd -d > "$T/nslcd.log" 2>&1 &
  NSS_PID=$!; CLIENT=nslcd
  local i; for i in $(seq 100); do [ -S /run/nslcd/socket ] && break; sleep 0.1; done
}
stop_client() {
  [ -n "$NSS_PID" ] || return 0
  kill "$NSS_PID" 2>/dev/null; wait "$NSS_PID" 2>/dev/null; NSS_PID=""
  pkill -x sssd_be 2>/dev/null; pkill -x sssd_nss 2>/dev/null
  local i; for i in $(seq 50); do pgrep -x 'sssd_be|sssd_nss' > /dev/null || break; sleep 0.1; done
}
# dir_up VARIANT [CASE_SENSITIVE [NAME]] — the case's own slapd and NSS client (sssd with a
# fresh cache, or nslcd), until NAME (ldapalice) resolves; they die with the case
dir_up() {
  start_slapd || fail "slapd did not start"
  if [ "$1" = sssd ]; then start_sssd "${2:-true}" fresh; else start_nslcd; fi
  wait_nss "${3:-ldapalice}" || { echo "# $1 does not resolve ${3:-ldapalice}"; tail -n 20 "$T/$1.log" | sed 's/^/#   /'; [ -n "${DEBUG:-}" ] && { mkdir -p /tmp/dirdebug; cp -r "$T"/*.log "$T/ldap" /var/log/sssd /tmp/dirdebug/ 2>/dev/null; cp /etc/nsswitch.conf /tmp/dirdebug/; getent passwd ldapalice > /tmp/dirdebug/getent.txt 2>&1; ls -la /var/lib/sss/pipes > /tmp/dirdebug/pipes.txt 2>&1; }; }
}

# ---- probes ----
cat > "$T/bin/euid-probe" <<EOF2
#!/bin/sh
uid=\$(id -u -- "\$PAM_USER") || exit 1
gid=\$(id -g -- "\$PAM_USER") || exit 1
echo "EUID=\$(setpriv --reuid="\$uid" --regid="\$gid" --clear-groups $T/bin/suid-id -u)"
EOF2
chmod 755 "$T/bin/euid-probe"
stacks() {  # [MODULE ARGS]: the pamtester stack and sshd's
  write_stack_probe nnpdir "$@"
  echo "session  optional pam_exec.so stdout $T/bin/euid-probe" >> /etc/pam.d/nnpdir
  write_stack sshd "$@"
}
pam_session() {  # USER NNP EUID
  run pamtester nnpdir "$1" open_session
  expect_rc 0; expect_line "NoNewPrivs:	$2"; expect_line "EUID=$3"
}
pam_refused() {  # USER
  run pamtester nnpdir "$1" open_session
  [ "$RC" != 0 ] || fail "the session of $1 must be refused"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR for $1"
}
RULES="$EXEMPT_DAVE

[[rule]]
groups = [\"ldaprestricted\"]
nnp = true"

write_config "$RULES"
stacks
start_sshd || exit 1

for variant in ${VARIANTS:-sssd nslcd}; do
  case_1() {
    dir_up $variant
    pam_session ldapalice 1 $LA
    pam_session ldapbob 0 0
    expect_probe ldapalice 1 $LA
    expect_probe ldapbob 0 0
  }
  run_case "$variant: LDAP user in the directory group gets NNP 1 (pamtester, ssh); LDAP user outside: euid 0" case_1

  case_2() {
    dir_up $variant
    pam_session alice 1 $A
    expect_probe alice 1 $A
    pam_session bob 0 0
  }
  run_case "$variant: a local user who is a member only in the directory gets NNP 1" case_2

  case_3() {
    dir_up $variant
    run "$NNPCTL" explain ldapalice --json
    expect_rc 0; printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain ldapalice"
    run "$NNPCTL" explain ldapbob --json
    expect_rc 0; printf '%s' "$OUT" | grep -q '"verdict": "no-match"' || fail "explain ldapbob"
    run "$NNPCTL" explain alice --json
    printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain alice"
    setpriv --reuid=$LA --regid=$LA --clear-groups sleep 311 & P=$!
    for i in $(seq 50); do tr '\0' ' ' < /proc/$P/cmdline | grep -q '^sleep' && break; sleep 0.1; done
    run "$NNPCTL" audit
    expect_rc 1
    printf '%s\n' "$OUT" | grep -qE "^ *$P +$P +ldapalice " || fail "audit must list ldapalice's process"
    kill $P; wait $P 2>/dev/null
  }
  run_case "$variant: explain and audit agree with the module" case_3

  case_4() {
    # nnp-shell itself never calls NSS; its helper does, with a cleared environment
    dir_up $variant
    install_nnp_shell
    write_config "shell = \"/bin/dash\"
$RULES
shell = \"/bin/bash\""
    run setpriv --reuid=$LA --regid=$LA --clear-groups "$T/bin/nnp-shell" -c "readlink /proc/\$\$/exe; $T/bin/probe"
    expect_rc 0; expect_line /usr/bin/bash; expect_line "NNP=1 EUID=$LA"
    [ -z "$ERR" ] || fail "no warning expected"
    run setpriv --reuid=$A --regid=$A --clear-groups "$T/bin/nnp-shell" -c "readlink /proc/\$\$/exe; true"
    expect_line /usr/bin/bash
    run setpriv --reuid=$LB --regid=$LB --clear-groups "$T/bin/nnp-shell" -c "readlink /proc/\$\$/exe; true"
    expect_line /usr/bin/dash
    [ -z "$ERR" ] || fail "control: no warning expected"
  }
  run_case "$variant: nnp-shell: a directory group member gets the rule's shell, NNP 1 (control: outside, the top-level shell)" case_4

  if [ $variant = sssd ]; then
    case_5() {
      dir_up sssd
      pam_session alice 1 $A          # warms the cache
      stop_slapd
      pam_session alice 1 $A
      expect_probe alice 1 $A
      pam_session bob 0 0
    }
    run_case "sssd: directory down, cache warm: the local member still gets NNP 1" case_5

    case_6() {
      start_sssd true fresh            # no directory: a cold cache
      pam_refused alice
      wait_log "pam_nnp\(nnpdir:session\): user alice: error: rule /etc/security/nnp.toml:5 .*ldaprestricted.*session refused" || fail "the refusal must be logged with its cause"
      expect_refused alice
      # SSSD offline with a cold cache answers "not found" (not an error) for the group: that
      # too must refuse, never read as "not a member"
      wait_log "pam_nnp\(sshd:session\): user alice: error: .*names group \"ldaprestricted\", which NSS does not know.*session refused" || fail "the not-found answer must refuse and be logged"
      pam_refused bob                  # nobody can prove they are outside the group
      pam_session dave 0 0             # exempted by name, placed first: no directory needed
      expect_probe dave 0 0
      run "$NNPCTL" explain alice --json
      expect_rc 3
      setpriv --reuid=$A --regid=$A --clear-groups sleep 312 & P=$!
      for i in $(seq 50); do tr '\0' ' ' < /proc/$P/cmdline | grep -q '^sleep' && break; sleep 0.1; done
      run "$NNPCTL" audit
      expect_rc 3
      printf '%s\n' "$OUT" | grep -qE "^undecidable: pid $P \(uid $A\)" || fail "audit must list alice's process as undecidable"
      kill $P; wait $P 2>/dev/null
    }
    run_case "sssd: directory down, cache cold: refused and logged; an exemption placed first still logs in" case_6
  else
    case_7() {
      dir_up nslcd
      stop_slapd
      pam_refused alice
      wait_log "pam_nnp\(nnpdir:session\): user alice: error: .*ldaprestricted.*session refused" || fail "the refusal must be logged with its cause"
      expect_refused alice
      pam_session dave 0 0
      run "$NNPCTL" explain alice --json
      expect_rc 3
      # nnp-shell: the rule's shell cannot be decided: /bin/sh with a warning, NNP still set
      install_nnp_shell
      write_config "shell = \"/bin/bash\"
$RULES
shell = \"/bin/bash\""
      run setpriv --reuid=$A --regid=$A --clear-groups "$T/bin/nnp-shell" -c "readlink /proc/\$\$/exe; $T/bin/probe"
      expect_rc 0; expect_line /usr/bin/dash; expect_line "NNP=1 EUID=$A"
      printf '%s\n' "$ERR" | grep -q '^nnp-shell: warning: .*ldaprestricted.*; using /bin/sh$' || fail "nnp-shell must warn about the group"
    }
    run_case "nslcd: directory down: refused and logged; an exemption placed first still logs in" case_7
  fi
done

case_8() {
  dir_up sssd false ldapuser
  write_config '[[rule]]
groups = ["OpsRestricted"]
nnp = true'
  pam_session LDAPUSER 1 $LU
  pam_session ldapuser 1 $LU
  expect_probe LdapUser 1 $LU
  pam_session ldapbob 0 0
  write_config '[[rule]]
users = ["LDAPUser"]
nnp = true'
  pam_session ldapuser 1 $LU
  pam_session LdapUser 1 $LU
  expect_probe ldapuser 1 $LU
  expect_probe ldapbob 0 0
  run "$NNPCTL" explain LDAPUSER --json
  printf '%s' "$OUT" | grep -q '"verdict": "enforce"' || fail "explain must agree"
}
run_case "sssd case_sensitive = false: rules in another case than the directory, logins in another case: NNP 1" case_8

case_9() {
  HOST_AFTER=$(host_fingerprint)
  [ "$HOST_BEFORE" = "$HOST_AFTER" ] || { OUT=$(diff <(echo "$HOST_BEFORE") <(echo "$HOST_AFTER")); fail "the host changed"; }
  [ -n "$HOST_BEFORE" ] || fail "could not read the host's files"
}
run_case "the host's nsswitch.conf and PAM stacks are byte-identical to before" case_9

[ -n "${DEBUG:-}" ] && cp "$SYSLOG" /tmp/dir-syslog.txt
finish
