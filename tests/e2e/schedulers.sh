#!/bin/bash
# cron and at, the real daemons (Debian's cron opens the PAM session "cron", atd "atd"),
# installed with dpkg on overlays inside this namespace. A restricted user's job gets NNP and
# its setuid-root id keeps the user's euid; the control user's job reaches euid 0.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
export DEBIAN_FRONTEND=noninteractive
HOST_BEFORE=$(host_fingerprint)
overlay_system
install_debs cron at
ns_setup
standard_users
A=$((UID_BASE + 1))
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
write_config "$GROUP_RULE"
write_stack cron
write_stack atd
DAEMON_PIDS=()
EXTRA_CLEANUP='for p in "${DAEMON_PIDS[@]}"; do kill "$p" 2>/dev/null; done; '"$EXTRA_CLEANUP"
wait_file() {  # FILE SECONDS
  local i; for i in $(seq $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1
}

case_begin "cron: the restricted user's job has NNP 1 and keeps its euid; the control user's job reaches euid 0"
for u in alice bob; do
  printf 'MAILTO=""\n* * * * * %s > %s/cron-%s.out 2>&1\n' "$T/bin/probe" "$T/pub" "$u" > "$T/crontab.$u"
  crontab -u "$u" "$T/crontab.$u" || fail "crontab -u $u"
done
cron -f -L 15 > "$T/cron.log" 2>&1 &
DAEMON_PIDS+=($!)
LAST_CMD="cron -f (waiting up to 75 s for the next minute)"
wait_file "$T/pub/cron-alice.out" 75 || fail "alice's cron job did not run"
wait_file "$T/pub/cron-bob.out" 10 || fail "bob's cron job did not run"
OUT=$(cat "$T/pub/cron-alice.out" "$T/pub/cron-bob.out" 2>/dev/null); ERR=$(cat "$T/cron.log")
expect_line "NNP=1 EUID=$A"
expect_line "NNP=0 EUID=0"
case_end

case_begin "at: the restricted user's job has NNP 1 and keeps its euid; the control user's job reaches euid 0"
for u in alice bob; do
  printf '%s > %s/at-%s.out 2>&1\n' "$T/bin/probe" "$T/pub" "$u" > "$T/atjob.$u"
  chmod 644 "$T/atjob.$u"
  uid=${TEST_UID[$u]}
  setpriv --reuid="$uid" --regid="$uid" --clear-groups at -f "$T/atjob.$u" now > "$T/at-submit.$u" 2>&1 || { ERR=$(cat "$T/at-submit.$u"); fail "at as $u"; }
done
atd -f > "$T/atd.log" 2>&1 &
DAEMON_PIDS+=($!)
LAST_CMD="atd -f (waiting up to 30 s)"
wait_file "$T/pub/at-alice.out" 30 || fail "alice's at job did not run"
wait_file "$T/pub/at-bob.out" 10 || fail "bob's at job did not run"
OUT=$(cat "$T/pub/at-alice.out" "$T/pub/at-bob.out" 2>/dev/null); ERR=$(cat "$T/atd.log")
expect_line "NNP=1 EUID=$A"
expect_line "NNP=0 EUID=0"
case_end

for p in "${DAEMON_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; DAEMON_PIDS=()
case_begin "the host's nsswitch.conf and PAM stacks are byte-identical to before"
HOST_AFTER=$(host_fingerprint)
[ -n "$HOST_BEFORE" ] && [ "$HOST_BEFORE" = "$HOST_AFTER" ] || fail "the host changed (or could not be read)"
case_end

finish
