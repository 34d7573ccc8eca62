#!/bin/bash
# The exec guard on this host's kernel (kill mode: trampolines are blocked here, so BPF LSM
# programs cannot load; the LSM mode runs on Debian's own kernel under qemu in
# guard_qemu.sh). A private bpffs at /sys/fs/bpf: nothing stays pinned on the host. Test
# uids only; root and unguarded users are the controls.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
ns_setup
standard_users
ns_syslog
A=$((UID_BASE + 1)); B=$((UID_BASE + 2)); C=$((UID_BASE + 500)); D=$((UID_BASE + 4)); R=$((UID_BASE + 100))
require_private_ns
mount -t bpf nnp-bpffs /sys/fs/bpf
EXTRA_CLEANUP='"$NNPCTL" guard unload >/dev/null 2>&1; '"$EXTRA_CLEANUP"
for c in runas marker userns_exec; do
  gcc -O1 -Wall -o "$T/bin/$c" "$NNP_ROOT/tests/c/$c.c" || exit 1
done
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
install -m 4755 "$T/bin/marker" "$T/bin/suid-marker"
install -m 2755 /usr/bin/id "$T/bin/sgid-id"
cp /usr/bin/id "$T/bin/cap-id"; setcap cap_net_raw,cap_setuid+ep "$T/bin/cap-id"
cp /usr/bin/id "$T/bin/allowed-id"; chmod 4755 "$T/bin/allowed-id"
cp /usr/bin/id "$T/bin/ns-id"; chown 200000:200000 "$T/bin/ns-id"; chmod 4755 "$T/bin/ns-id"
# as UID [GROUPS] CMD... — run without capabilities as the user (primary gid = uid)
as() { local u=$1 g=$2; shift 2; run "$T/bin/runas" "$u" "$u" "$g" -- "$@"; }
expect_killed() { [ "$RC" = 137 ] || fail "expected the exec to be killed (137), got $RC"; }

CONFIG="guard_allow = [\"$T/bin/allowed-id\"]
$EXEMPT_DAVE

$GROUP_RULE

[[rule]]
uids = [\"$C\"]
nnp = true"
write_config "$CONFIG"
# fresh_guard — the standard config, loaded anew: each case can run alone
fresh_guard() {
  "$NNPCTL" guard unload > /dev/null 2>&1
  write_config "$CONFIG"
  "$NNPCTL" guard load > "$T/load.out" 2>&1 || { OUT=$(cat "$T/load.out"); fail "guard load"; }
}

case_begin "guard load: kill mode on this kernel, pinned under /sys/fs/bpf/nnp"
run "$NNPCTL" guard load
expect_rc 0
printf '%s\n' "$OUT" | grep -q "^guard loaded: mode kill " || fail "auto must fall back to kill mode here"
[ -e /sys/fs/bpf/nnp/link ] || fail "link not pinned"
run "$NNPCTL" guard load
expect_rc 3   # already loaded
case_end

case_begin "guarded uid (supplementary group): setuid-root exec killed before it runs (no marker); plain exec fine"
fresh_guard
rm -f "$T/pub/m1"
as $A $R "$T/bin/suid-marker" "$T/pub/m1"
expect_killed
[ -e "$T/pub/m1" ] && fail "the setuid program ran (marker exists)"
as $A $R /usr/bin/id -u
expect_rc 0; expect_line "$A"
case_end

case_begin "guarded uid: setgid-root and file-capability execs killed"
fresh_guard
as $A $R "$T/bin/sgid-id" -g
expect_killed
as $A $R "$T/bin/cap-id" -u
expect_killed
case_end

case_begin "member by primary gid: killed; control uid: setuid reaches euid 0; root unaffected"
fresh_guard
run "$T/bin/runas" $B $R - -- "$T/bin/suid-marker" "$T/pub/m2"
expect_killed
as $B - "$T/bin/suid-marker" "$T/pub/m3"
expect_rc 0; expect_line "0"
run "$T/bin/suid-marker" "$T/pub/m4"
expect_rc 0; expect_line "0"
case_end

case_begin "a restricting group after the 256th supplementary group still refuses (control: without it, allowed)"
fresh_guard
# Review: the first guard scanned 256 groups and let the rest through.
many=$(seq -s, 50000 50299)   # 300 groups the rules do not name, sorted (by the kernel) before $R
as $B "$many,$R" "$T/bin/suid-marker" "$T/pub/mg"
expect_killed
[ -e "$T/pub/mg" ] && fail "the setuid program ran"
as $B "$many" "$T/bin/suid-marker" "$T/pub/mg2"
expect_rc 0; expect_line "0"
case_end

case_begin "exempted by an earlier nnp = false rule (dave, also in the restricted group): allowed"
fresh_guard
as $D $R "$T/bin/suid-marker" "$T/pub/m5"
expect_rc 0; expect_line "0"
case_end

case_begin "uid range rule: killed; guard_allow file: allowed for a guarded user"
fresh_guard
as $C - "$T/bin/suid-marker" "$T/pub/m6"
expect_killed
as $A $R "$T/bin/allowed-id" -u
expect_rc 0; expect_line "0"
case_end

case_begin "inside a user namespace with its own mapping: a setuid exec is allowed (control: killed outside)"
fresh_guard
run "$T/bin/userns_exec" $A "$T/bin/ns-id"
expect_rc 0; expect_line "1"
as $A $R "$T/bin/ns-id" -u
expect_killed
case_end

case_begin "status: mode, tables, counters; watch streams refusals to stdout and syslog"
fresh_guard
"$NNPCTL" guard watch > "$T/watch.out" 2>&1 & WATCH=$!
sleep_until_watch() { wait_for grep -q . "$T/watch.out"; }
as $A $R "$T/bin/suid-marker" "$T/pub/m7"
expect_killed
sleep_until_watch || fail "watch printed nothing"
kill $WATCH; wait $WATCH 2>/dev/null
OUT=$(cat "$T/watch.out")
printf '%s\n' "$OUT" | grep -qE "^killed: pid [0-9]+ uid $A \(alice\) .*suid-marker by rule /etc/security/nnp.toml:6" || fail "watch line"
wait_log "nnp-guard\[[0-9]+\]: killed: pid [0-9]+ uid $A \(alice\)" || fail "syslog line"
run "$NNPCTL" guard status --json
expect_rc 0
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["loaded"], d["mode"], d["rules"], d["gids"], d["ranges"], d["allow"], d["refused"] > 0, d["stale"])')
[ "$got" = "True kill 3 1 1 1 True []" ] || fail "status json: $got"
case_end

case_begin "reload after a config edit changes the decision; guarded execs during reloads are never let through"
fresh_guard
as $B - "$T/bin/suid-marker" "$T/pub/m8"; expect_rc 0
write_config "$CONFIG
[[rule]]
users = [\"bob\"]
nnp = true"
run "$NNPCTL" guard status
expect_rc 1
printf '%s\n' "$OUT" | grep -q "^stale: /etc/security/nnp.toml changed" || fail "status must say the config changed"
# alice keeps being guarded while the tables are swapped back and forth
( for i in $(seq 200); do "$T/bin/runas" $A $A $R -- "$T/bin/suid-marker" "$T/pub/loop" >/dev/null 2>&1; done ) & LOOP=$!
for i in $(seq 10); do "$NNPCTL" guard reload > /dev/null || fail "reload $i"; done
wait $LOOP
[ -e "$T/pub/loop" ] && fail "a guarded setuid exec ran during the reloads"
as $B - "$T/bin/suid-marker" "$T/pub/m9"
expect_killed
run "$NNPCTL" guard status
expect_rc 0
case_end

case_begin "a failed reload keeps the old guard (and says so)"
fresh_guard
write_config '[[rule]]
users = "alice"
nnp = true'
run "$NNPCTL" guard reload
expect_rc 1
printf '%s' "$ERR" | grep -q "the loaded guard is unchanged" || fail "must say the guard is unchanged"
as $A $R "$T/bin/suid-marker" "$T/pub/m10"
expect_killed
case_end

case_begin "audit mode: would refuse, allowed and counted"
fresh_guard
write_config "[[rule]]
groups = [\"restricted\"]
nnp = true
mode = \"audit\""
run "$NNPCTL" guard reload
expect_rc 0
as $A $R "$T/bin/suid-marker" "$T/pub/m11"
expect_rc 0; expect_line "0"
run "$NNPCTL" guard status --json
printf '%s' "$OUT" | python3 -c 'import json,sys; assert json.load(sys.stdin)["audited"] >= 1' || fail "audited counter"
case_end

case_begin "unload: everything allowed again, no program of ours left loaded"
fresh_guard
progs=$(bpftool prog show 2>/dev/null)   # captured first: grep -q | under pipefail races
printf '%s\n' "$progs" | grep -q "name nnp_kill" || fail "control: while loaded, bpftool must list nnp_kill"
run "$NNPCTL" guard unload
expect_rc 0; expect_line "guard unloaded"
write_config "$CONFIG"
as $A $R "$T/bin/suid-marker" "$T/pub/m12"
expect_rc 0; expect_line "0"
bpftool prog show > /dev/null || fail "bpftool cannot list programs: this check would pass vacuously"
LAST_CMD="bpftool prog show (waiting for nnp_kill to go)"
wait_for bash -c '! bpftool prog show 2>/dev/null | grep -q "name nnp_"' || { OUT=$(bpftool prog show | grep nnp_); fail "a program of ours is still loaded"; }
run "$NNPCTL" guard status
expect_rc 0; expect_line "guard: not loaded"
case_end

case_begin "a config the guard cannot compile refuses to load (exit 1), nothing pinned"
"$NNPCTL" guard unload > /dev/null 2>&1
write_config '[[rule]]
users = ["alice"]
groups = ["restricted"]
nnp = true'
run "$NNPCTL" guard load
expect_rc 1
printf '%s' "$ERR" | grep -q "combines users, uids and groups" || fail "the reason"
[ -e /sys/fs/bpf/nnp ] && fail "nothing may be pinned"
case_end

finish
