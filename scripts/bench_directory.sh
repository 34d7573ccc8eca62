#!/bin/bash
# make bench, directory part (issue 20, item 10): a login's cost must not grow with the
# directory. OpenLDAP slapd on 127.0.0.1 with 200 and with 20,000 posixGroups, nslcd as the
# NSS client (`group: files ldap`), a config of 8 `nnp = true` rules each naming a directory
# group (the user is in the last one): whole-process `pamtester` session opens, medians of
# alternating runs. The module under test is $MODULE; BENCH_OLD_MODULE (optional) is a build
# of an earlier module measured the same way (the one that enumerated the group database).
# Packages are installed with dpkg inside this namespace over overlays, as
# tests/e2e/directory.sh does; nothing reaches the host. Prints a Markdown table on stdout
# (scripts/bench.sh's report is separate; paste it into docs/BENCHMARKS.md).
. "$(dirname "$0")/../tests/lib.sh"
ns_enter "$@"
export DEBIAN_FRONTEND=noninteractive
overlay_system
# the same package set as tests/e2e/directory.sh: one download serves both
install_debs slapd ldap-utils sssd-ldap sssd-common libnss-sss nslcd libnss-ldapd
ns_setup
LA=62001
ROUNDS=${BENCH_ROUNDS:-21}   # BENCH_DEBUG=1 also times getent/id against each directory

make_dir() {  # N: a slapd database with N filler groups, ldapalice, and dg1..dg8
  local n=$1 d="$T/ldap$1"
  mkdir -p "$d/db"
  cat > "$d/slapd.conf" <<EOF2
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
sizelimit unlimited
database mdb
maxsize 1073741824
suffix "dc=nnp,dc=test"
rootdn "cn=admin,dc=nnp,dc=test"
rootpw secret
directory $d/db
index cn,memberUid,member,uid,gidNumber,uidNumber,objectClass eq
sizelimit unlimited
EOF2
  {
    printf 'dn: dc=nnp,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: nnp\no: nnp\n\n'
    printf 'dn: ou=people,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
    printf 'dn: ou=groups,dc=nnp,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n'
    printf 'dn: uid=ldapalice,ou=people,dc=nnp,dc=test\nobjectClass: posixAccount\nobjectClass: account\nuid: ldapalice\ncn: ldapalice\nuidNumber: %s\ngidNumber: %s\nhomeDirectory: /tmp\nloginShell: /bin/sh\n\n' $LA $LA
    local k
    for k in 1 2 3 4 5 6 7 8; do
      printf 'dn: cn=dg%d,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: dg%d\ngidNumber: %d\n' $k $k $((63000 + k))
      [ $k = 8 ] && printf 'memberUid: ldapalice\n'
      printf '\n'
    done
    awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) printf "dn: cn=fill%d,ou=groups,dc=nnp,dc=test\nobjectClass: posixGroup\ncn: fill%d\ngidNumber: %d\nmemberUid: u%d\n\n", i, i, 100000 + i, i }'
  } > "$d/data.ldif"
  slapadd -q -f "$d/slapd.conf" -l "$d/data.ldif" > "$d/slapadd.log" 2>&1 || { cat "$d/slapadd.log"; echo "Bail out! slapadd"; exit 1; }
}
SLAPD_PID=""; NSLCD_PID=""
serve() {  # N: slapd on that database, nslcd in front of it
  stop_all
  local d="$T/ldap$1"
  LPORT=$(free_port)
  slapd -f "$d/slapd.conf" -h "ldap://127.0.0.1:$LPORT/" -d 0 > "$d/slapd.log" 2>&1 &
  SLAPD_PID=$!
  local i
  for i in $(seq 100); do ss -Hltn "sport = :$LPORT" | grep -q . && break; sleep 0.1; done
  printf 'uri ldap://127.0.0.1:%s/\nbase dc=nnp,dc=test\nbind_timelimit 2\ntimelimit 30\n' "$LPORT" > /etc/nslcd.conf
  chmod 600 /etc/nslcd.conf
  mkdir -p /run/nslcd
  nslcd -n > "$T/nslcd.log" 2>&1 &
  NSLCD_PID=$!
  for i in $(seq 100); do getent passwd ldapalice > /dev/null && return 0; sleep 0.1; done
  echo "Bail out! nslcd/slapd did not answer"; exit 1
}
stop_all() {
  [ -n "$NSLCD_PID" ] && { kill "$NSLCD_PID"; wait "$NSLCD_PID" 2>/dev/null; NSLCD_PID=""; }
  [ -n "$SLAPD_PID" ] && { kill "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null; SLAPD_PID=""; }
  return 0
}
EXTRA_CLEANUP="stop_all; $EXTRA_CLEANUP"

sed -E 's/^(passwd|group):.*/\1: files ldap/' /etc/nsswitch.conf > "$T/nsswitch.new"
cat "$T/nsswitch.new" > /etc/nsswitch.conf
conf=""
for k in 1 2 3 4 5 6 7 8; do conf="$conf[[rule]]
groups = [\"dg$k\"]
nnp = true

"; done
write_config "$conf"
printf 'session required pam_permit.so\n' > /etc/pam.d/bench-permit
printf 'session required pam_permit.so\nsession required %s\n' "$MODULE" > /etc/pam.d/bench-dir-new
mods=(new)
if [ -n "${BENCH_OLD_MODULE:-}" ]; then
  cp "$BENCH_OLD_MODULE" "$T/pam_nnp_old.so"
  printf 'session required pam_permit.so\nsession required %s\n' "$T/pam_nnp_old.so" > /etc/pam.d/bench-dir-old
  mods+=(old)
fi
make_dir 200
make_dir 20000
RES=""
for n in 200 20000; do
  serve $n
  getent group dg8 > /dev/null || { echo "Bail out! dg8 not resolved"; exit 1; }
  if [ -n "${BENCH_DEBUG:-}" ]; then
    for c in "getent group dg5" "id ldapalice" "getent group"; do
      s=$(date +%s%N); $c > /dev/null; echo "# $n groups: $c: $(( ($(date +%s%N) - s) / 1000000 )) ms" >&2
    done
  fi
  RES="$RES $(python3 - "$n" "$ROUNDS" "${mods[@]}" <<'PY'
import statistics, subprocess, sys, time
n, rounds, mods = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
cmds = {"pam_permit": ["pamtester", "bench-permit", "ldapalice", "open_session", "close_session"]}
for m in mods:
    cmds[m] = ["pamtester", f"bench-dir-{m}", "ldapalice", "open_session", "close_session"]
times = {k: [] for k in cmds}
for k, c in cmds.items():
    subprocess.run(c, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(rounds):
    for k, c in cmds.items():
        t = time.perf_counter()
        r = subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times[k].append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            sys.exit(f"{c} failed: {r.stderr.decode()}")
print(" ".join(f"[{n},{k}]={statistics.median(v):.2f}" for k, v in times.items()), end=" ")
PY
)" || exit 1
done
eval "declare -A MED=($RES)"
echo "| directory groups | pam_permit | pam_nnp (this build) |${MED[200,old]:+ pam_nnp (BENCH_OLD_MODULE) |}"
echo "|---:|---:|---:|${MED[200,old]:+---:|}"
for n in 200 20000; do
  echo "| $n | ${MED[$n,pam_permit]} ms | ${MED[$n,new]} ms |${MED[$n,old]:+ ${MED[$n,old]} ms |}"
done
stop_all
