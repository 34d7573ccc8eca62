#!/bin/bash
# The guard's report (per-(rule, uid, file) counters), the metrics of a loaded guard, and the
# events watch sends: JSON lines (nnp.watch/1) and journald's native protocol. Loads the exec
# guard on this host's kernel (kill mode here; LSM under qemu in guard_qemu.sh), like
# guard.sh: a private bpffs at /sys/fs/bpf, test uids only, unloaded on exit. The guard is
# kernel-global: run it where the host guard tests run (not beside another guard test).
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
ns_setup
standard_users
ns_syslog
A=$((UID_BASE + 1)); B=$((UID_BASE + 2)); D=$((UID_BASE + 4)); R=$((UID_BASE + 100))
require_private_ns
mount -t bpf nnp-bpffs /sys/fs/bpf
EXTRA_CLEANUP='"$NNPCTL" guard unload >/dev/null 2>&1; '"$EXTRA_CLEANUP"
for c in runas marker; do
  gcc -O1 -Wall -o "$T/bin/$c" "$NNP_ROOT/tests/c/$c.c" || exit 1
done
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
install -m 4755 "$T/bin/marker" "$T/bin/suid-marker"
install -m 2755 /usr/bin/id "$T/bin/sgid-id"
PROMTOOL=$("$NNP_ROOT/scripts/promtool.sh") || { echo "Bail out! no promtool (scripts/promtool.sh)"; exit 1; }
# as UID [GROUPS] CMD... — run without capabilities as the user (primary gid = uid)
as() { local u=$1 g=$2; shift 2; run "$T/bin/runas" "$u" "$u" "$g" -- "$@"; }
expect_killed() { [ "$RC" = 137 ] || fail "expected the exec to be killed (137), got $RC"; }

# The restricting rule is /etc/security/nnp.toml:5 in both; only the mode differs.
AUDIT="$EXEMPT_DAVE

$GROUP_RULE
mode = \"audit\""
ENFORCE="$EXEMPT_DAVE

$GROUP_RULE"
RULE=/etc/security/nnp.toml:5
# fresh_guard CONFIG — the guard loaded anew with CONFIG: each case can run alone
fresh_guard() {
  "$NNPCTL" guard unload > /dev/null 2>&1
  write_config "$1"
  "$NNPCTL" guard load > "$T/load.out" 2>&1 || { OUT=$(cat "$T/load.out"); fail "guard load"; }
}
# report_rows — the report's entries as "rule uid action count file" lines (from --json)
report_rows() {
  run "$NNPCTL" guard report --json
  printf '%s' "$OUT" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    print(e["rule"], e["uid"], e["action"], e["count"], e["file"])'
}
metric() { printf '%s\n' "$OUT" | awk -v n="$1" '$1 == n { print $2 }'; }

case_begin "audit mode: every would-refused exec counted by rule, user and file; allowed and non-raising execs are not"
fresh_guard "$AUDIT"
for i in 1 2 3; do as $A $R "$T/bin/suid-marker" "$T/pub/a$i"; expect_rc 0; done
as $A $R "$T/bin/sgid-id" -g; expect_rc 0
as $A $R /usr/bin/id -u; expect_rc 0                 # not raising: not counted
as $B - "$T/bin/suid-marker" "$T/pub/b1"; expect_rc 0 # control: bob is not restricted
as $D $R "$T/bin/suid-marker" "$T/pub/d1"; expect_rc 0 # control: dave is exempt
rows=$(report_rows)
expect_rc 0
want="$RULE $A would-refuse 1 $T/bin/sgid-id
$RULE $A would-refuse 3 $T/bin/suid-marker"
[ "$rows" = "$want" ] || fail "report rows:
$rows
expected:
$want"
run "$NNPCTL" guard report
expect_rc 0
printf '%s\n' "$OUT" | grep -qE "^$RULE +alice \($A\) +would-refuse +3 +[0-9T:-]+Z +$T/bin/suid-marker$" || fail "text row for suid-marker"
printf '%s\n' "$OUT" | grep -qx "4 execs would be refused once these rules are enforced" || fail "text summary"
run "$NNPCTL" guard report --json
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys, time, calendar
d = json.load(sys.stdin)
last = max(calendar.timegm(time.strptime(e["last"], "%Y-%m-%dT%H:%M:%SZ")) for e in d["entries"])
print(d["would_refuse"], d["refused"], d["entries"][0]["user"], abs(time.time() - last) < 120)')
[ "$got" = "4 0 alice True" ] || fail "report json: $got"
case_end

case_begin "enforce (kill mode): killed execs counted; a reload that keeps the rule list keeps the report, one that changes it empties it"
fresh_guard "$AUDIT"
as $A $R "$T/bin/suid-marker" "$T/pub/e1"; expect_rc 0
write_config "$ENFORCE"
run "$NNPCTL" guard reload; expect_rc 0
for i in 1 2; do as $A $R "$T/bin/suid-marker" "$T/pub/e2$i"; expect_killed; done
rows=$(report_rows)
want="$RULE $A killed 2 $T/bin/suid-marker
$RULE $A would-refuse 1 $T/bin/suid-marker"
[ "$rows" = "$want" ] || fail "after audit -> enforce:
$rows
expected:
$want"
# the metrics' per-rule counters: the kills, under the same rule; the audit phase's count
# is not carried over, because the reload changed the rule's file (mode removed): a reset
run "$NNPCTL" metrics
[ "$(metric "nnp_guard_refusals_total{rule=\"$RULE\"}")" = 2 ] || fail "refusals of $RULE: $(metric "nnp_guard_refusals_total{rule=\"$RULE\"}"), expected the 2 kills"
[ "$(metric "nnp_guard_would_refusals_total{rule=\"$RULE\"}")" = 0 ] || fail "would-refusals of $RULE must restart from 0 after its file changed"
# a rule inserted first: every index names another rule now, so the counts are dropped
write_config "[[rule]]
uids = [$((UID_BASE + 900))]
nnp = true

$ENFORCE"
run "$NNPCTL" guard reload; expect_rc 0
rows=$(report_rows)
[ -z "$rows" ] || fail "the report must be empty after the rule list changed: $rows"
as $A $R "$T/bin/suid-marker" "$T/pub/e3"; expect_killed
rows=$(report_rows)
[ "$rows" = "/etc/security/nnp.toml:9 $A killed 1 $T/bin/suid-marker" ] || fail "after the change: $rows"
case_end

case_begin "metrics with a loaded guard: promtool accepts them; loaded, live, current, in force, mode, counters, refusals and would-refusals by rule"
fresh_guard "$AUDIT"
for i in 1 2; do as $A $R "$T/bin/suid-marker" "$T/pub/m$i"; done
run "$NNPCTL" metrics
expect_rc 0
printf '%s\n' "$OUT" > "$T/m.prom"
why=$("$PROMTOOL" check metrics < "$T/m.prom" 2>&1) || fail "promtool: $why"
for m in nnp_guard_loaded nnp_guard_live nnp_guard_current nnp_guard_in_force 'nnp_guard_info{mode="kill"}'; do
  [ "$(metric "$m")" = 1 ] || fail "$m must be 1"
done
[ "$(metric nnp_guard_degraded)" = 0 ] || fail "nnp_guard_degraded must be 0"
[ "$(metric "nnp_guard_would_refusals_total{rule=\"$RULE\"}")" = 2 ] || fail "would-refusals of $RULE"
[ "$(metric "nnp_guard_refusals_total{rule=\"$RULE\"}")" = 0 ] || fail "refusals of $RULE"
[ "$(metric 'nnp_guard_refusals_total{rule="/etc/security/nnp.toml:1"}')" = 0 ] || fail "every loaded rule has a series"
[ "$(metric nnp_guard_audited_execs_total)" -ge 2 ] || fail "audited counter"
[ "$(metric nnp_guard_execs_total)" -ge 1 ] || fail "execs counter"
# stale: the config changed on disk
write_config "$ENFORCE"
run "$NNPCTL" metrics
[ "$(metric nnp_guard_current)" = 0 ] && [ "$(metric nnp_guard_in_force)" = 0 ] || fail "a stale guard is not current, not in force"
printf '%s\n' "$OUT" > "$T/m.prom"; why=$("$PROMTOOL" check metrics < "$T/m.prom" 2>&1) || fail "promtool: $why"
# degraded: a restricting user NSS does not know
fresh_guard "[[rule]]
users = [\"nobody-known-xyz\"]
nnp = true"
run "$NNPCTL" metrics
[ "$(metric nnp_guard_degraded)" = 1 ] && [ "$(metric nnp_guard_in_force)" = 0 ] || fail "degraded must show, and not in force"
printf '%s\n' "$OUT" > "$T/m.prom"; why=$("$PROMTOOL" check metrics < "$T/m.prom" 2>&1) || fail "promtool: $why"
"$NNPCTL" guard unload > /dev/null   # a degraded guard is wider than the rules: not a moment longer
case_end

case_begin "per-rule counters never go down: filling the report's LRU map past its size (NNP_MAX_REPORT) loses report rows, not counts; a reload keeps the count of a rule that keeps its index"
# The metrics' per-rule series were sums over the report (an LRU hash of 8192 entries), so an
# eviction lowered them. 9,600 distinct (uid, file) would-refused execs (800 test uids x 12
# setuid files) overflow the report for sure; after each batch the series must equal the
# number of execs made so far. Control: the report itself lost rows (its sum falls short).
fresh_guard "$AUDIT"
gcc -O1 -Wall -o "$T/bin/exec_many" "$NNP_ROOT/tests/c/exec_many.c" || fail "exec_many"
printf 'int main(void) { return 0; }\n' > "$T/nop.c"
gcc -O1 -static -o "$T/nop" "$T/nop.c" 2>/dev/null || gcc -O1 -o "$T/nop" "$T/nop.c" || fail "nop"
FILES=()
for i in $(seq 12); do install -m 4755 "$T/nop" "$T/bin/suid-nop$i"; FILES+=("$T/bin/suid-nop$i"); done
for i in 1 2 3; do as $A $R "$T/bin/suid-marker" "$T/pub/l$i"; expect_rc 0; done
series="nnp_guard_would_refusals_total{rule=\"$RULE\"}"
report_sum() {  # (not through run: no schema check of 8,192 rows after every batch)
  "$NNPCTL" guard report --json | python3 -c '
import json, sys
e = json.load(sys.stdin)["entries"]
print(sum(x["count"] for x in e if x["rule"] == sys.argv[1]), len(e))' "$RULE"
}
run "$NNPCTL" metrics
want=3; got=$(metric "$series"); audited0=$(metric nnp_guard_audited_execs_total)
[ "$got" = "$want" ] || fail "before the fill: $series is $got, expected $want"
seen="$got"; sums=""
for batch in $(seq 0 7); do
  lo=$((UID_BASE + 200 + 100 * batch))
  bad=$("$T/bin/exec_many" $lo $((lo + 99)) $R "${FILES[@]}") || fail "batch $batch: $bad execs did not exit 0"
  want=$((want + 1200))
  run "$NNPCTL" metrics
  got=$(metric "$series")
  [ "$got" = "$want" ] || fail "after batch $batch: $series is $got, expected $want (the execs made)"
  seen="$seen $got"
  sums="$sums $(report_sum | cut -d' ' -f1)"
done
printf '%s\n' "$OUT" > "$T/m.prom"; why=$("$PROMTOOL" check metrics < "$T/m.prom" 2>&1) || fail "promtool: $why"
[ $(($(metric nnp_guard_audited_execs_total) - audited0)) = 9600 ] || fail "the program's audited counter must have moved by 9600"
read -r sum rows <<< "$(report_sum)"
echo "# $series after each batch:$seen; the report's sum for the rule:$sums ($rows rows)"
# control: the report overflowed, so a sum over it (what the metrics exported before) fell short
[ "$rows" -le 8192 ] && [ "$sum" -lt "$want" ] || fail "control: the report should have evicted rows ($rows rows, sum $sum of $want)"
# a reload that adds a rule in a drop-in: the report is emptied (the rule list changed); the
# counter of a rule that keeps its index, FILE:LINE and file content is kept
mkdir -p /etc/security/nnp.d
printf '[[rule]]\nusers = ["bob"]\nnnp = true\n' > /etc/security/nnp.d/50-bob.toml
EXTRA_CLEANUP='rm -rf /etc/security/nnp.d; '"$EXTRA_CLEANUP"
run "$NNPCTL" guard reload; expect_rc 0
rows=$(report_rows)
[ -z "$rows" ] || fail "the report must be empty after the rule list changed"
run "$NNPCTL" metrics
[ "$(metric "$series")" = "$want" ] || fail "after adding a drop-in: $series is $(metric "$series"), expected $want"
[ "$(metric 'nnp_guard_refusals_total{rule="/etc/security/nnp.d/50-bob.toml:1"}')" = 0 ] || fail "the new rule starts at 0"
# a rule inserted first in nnp.toml: the restricting rule moves to line 9 and line 5 is the
# exemption now: every rule of the edited file starts again from 0 (a counter reset), none
# carries another rule's count
rm -rf /etc/security/nnp.d
write_config "[[rule]]
users = [\"bob\"]
nnp = true

$AUDIT"
run "$NNPCTL" guard reload; expect_rc 0
run "$NNPCTL" metrics
[ "$(metric 'nnp_guard_would_refusals_total{rule="/etc/security/nnp.toml:9"}')" = 0 ] || fail "the moved rule's series starts from 0"
[ "$(metric "$series")" = 0 ] || fail "$RULE is another rule now: its series must restart from 0, got $(metric "$series")"
as $A $R "$T/bin/suid-marker" "$T/pub/l4"; expect_rc 0
run "$NNPCTL" metrics
[ "$(metric 'nnp_guard_would_refusals_total{rule="/etc/security/nnp.toml:9"}')" = 1 ] || fail "the moved rule counts anew"
case_end

case_begin "guard watch --json: one nnp.watch/1 line per event (time RFC 3339, pid, uid, user, file, rule FILE:LINE, action killed / would-refuse)"
fresh_guard "$ENFORCE"
"$NNPCTL" guard watch --json > "$T/watch.jsonl" 2> "$T/watch.err" & WATCH=$!
sleep 1
as $A $R "$T/bin/suid-marker" "$T/pub/w1"; expect_killed
write_config "$AUDIT"; "$NNPCTL" guard reload > /dev/null || fail "reload"
as $A $R "$T/bin/suid-marker" "$T/pub/w2"; expect_rc 0
wait_for bash -c "[ \$(wc -l < '$T/watch.jsonl') -ge 2 ]" || fail "watch printed $(wc -l < "$T/watch.jsonl") lines"
kill $WATCH; wait $WATCH 2>/dev/null
OUT=$(cat "$T/watch.jsonl"); ERR=$(cat "$T/watch.err"); LAST_CMD="nnpctl guard watch --json"
expect_valid_json "$T/watch.jsonl"
got=$(python3 -c '
import json, sys, time, calendar
for l in open(sys.argv[1]):
    e = json.loads(l)
    t = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
    print(e["action"], e["uid"], e["user"], e["rule"], e["file"], e["pid"] > 0, abs(time.time() - t) < 120)' "$T/watch.jsonl")
want="killed $A alice $RULE $T/bin/suid-marker True True
would-refuse $A alice $RULE $T/bin/suid-marker True True"
[ "$got" = "$want" ] || fail "watch events:
$got
expected:
$want"
case_end

case_begin "where journald runs, watch sends each event by the native protocol with MESSAGE_ID and NNP_* fields (control: without it, syslog)"
fresh_guard "$ENFORCE"
# a journald stand-in: a datagram socket at journald's path (this namespace's own /run),
# each datagram decoded (NAME=value, or NAME, 64-bit little-endian length, value) to a JSON line
mkdir -p /run/systemd/journal
: > "$T/journal.jsonl"
python3 - /run/systemd/journal/socket "$T/journal.jsonl" <<'PY' &
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        b, fields = s.recv(1 << 20), {}
        while b:
            nl = b.index(b"\n")
            if b"=" in b[:nl]:
                k, v = b[:nl].split(b"=", 1); b = b[nl + 1:]
            else:
                k = b[:nl]; (n,) = struct.unpack("<Q", b[nl + 1:nl + 9])
                v = b[nl + 9:nl + 9 + n]; assert b[nl + 9 + n:nl + 10 + n] == b"\n"; b = b[nl + 10 + n:]
            fields[k.decode()] = v.decode("utf-8", "replace")
        out.write(json.dumps(fields) + "\n")
PY
JPID=$!
EXTRA_CLEANUP="kill $JPID 2>/dev/null; $EXTRA_CLEANUP"
wait_for test -S /run/systemd/journal/socket || fail "the journal stand-in did not start"
: > "$T/syslog.txt"
"$NNPCTL" guard watch > "$T/watch.out" 2>&1 & WATCH=$!
sleep 1
as $A $R "$T/bin/suid-marker" "$T/pub/j1"; expect_killed
wait_for grep -q MESSAGE_ID "$T/journal.jsonl" || fail "no journal entry"
kill $WATCH; wait $WATCH 2>/dev/null
got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    f = json.loads(l)
    print(f["MESSAGE_ID"], f["PRIORITY"], f["SYSLOG_IDENTIFIER"], f["NNP_USER"], f["NNP_UID"], f["NNP_RULE"], f["NNP_FILE"], f["NNP_ACTION"], f["MESSAGE"].startswith("killed: pid "))' "$T/journal.jsonl")
want="c822ea26a8674bd2b194236bbedad26e 3 nnp-guard alice $A $RULE $T/bin/suid-marker killed True"
[ "$got" = "$want" ] || fail "journal fields:
$got
expected:
$want"
grep -q "c822ea26a8674bd2b194236bbedad26e" "$NNP_ROOT/packaging/systemd/nnp.catalog" || fail "the catalog must explain the MESSAGE_ID"
grep -q "killed: pid" "$T/syslog.txt" && fail "with the journal, the event must not also go to syslog"
# control: no journald (socket gone): the same event goes to syslog
kill $JPID; wait $JPID 2>/dev/null; rm -f /run/systemd/journal/socket
"$NNPCTL" guard watch > "$T/watch.out" 2>&1 & WATCH=$!
sleep 1
as $A $R "$T/bin/suid-marker" "$T/pub/j2"; expect_killed
wait_log "nnp-guard\[[0-9]+\]: killed: pid [0-9]+ uid $A \(alice\)" || fail "control: the syslog line"
kill $WATCH; wait $WATCH 2>/dev/null
case_end

finish
