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
fixture_setup
standard_users
A=$((UID_BASE + 1))
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
write_config "$GROUP_RULE"
write_stack cron
write_stack atd
wait_file() {  # FILE SECONDS
  local i; for i in $(seq $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1
}

case_1() {
  for u in alice bob; do
    printf 'MAILTO=""\n* * * * * %s > %s/cron-%s.out 2>&1\n' "$T/bin/probe" "$T/pub" "$u" > "$T/crontab.$u"
    crontab -u "$u" "$T/crontab.$u" || fail "crontab -u $u"
  done
  # the case's own daemon: killed with the case
  cron -f -L 15 > "$T/cron.log" 2>&1 &
  LAST_CMD="cron -f (waiting up to 75 s for the next minute)"
  wait_file "$T/pub/cron-alice.out" 75 || fail "alice's cron job did not run"
  wait_file "$T/pub/cron-bob.out" 10 || fail "bob's cron job did not run"
  OUT=$(cat "$T/pub/cron-alice.out" "$T/pub/cron-bob.out" 2>/dev/null); ERR=$(cat "$T/cron.log")
  expect_line "NNP=1 EUID=$A"
  expect_line "NNP=0 EUID=0"
}
run_case "cron: the restricted user's job has NNP 1 and keeps its euid; the control user's job reaches euid 0" case_1

case_2() {
  for u in alice bob; do
    printf '%s > %s/at-%s.out 2>&1\n' "$T/bin/probe" "$T/pub" "$u" > "$T/atjob.$u"
    chmod 644 "$T/atjob.$u"
    uid=${TEST_UID[$u]}
    setpriv --reuid="$uid" --regid="$uid" --clear-groups at -f "$T/atjob.$u" now > "$T/at-submit.$u" 2>&1 || { ERR=$(cat "$T/at-submit.$u"); fail "at as $u"; }
  done
  atd -f > "$T/atd.log" 2>&1 &
  LAST_CMD="atd -f (waiting up to 30 s)"
  wait_file "$T/pub/at-alice.out" 30 || fail "alice's at job did not run"
  wait_file "$T/pub/at-bob.out" 10 || fail "bob's at job did not run"
  OUT=$(cat "$T/pub/at-alice.out" "$T/pub/at-bob.out" 2>/dev/null); ERR=$(cat "$T/atd.log")
  expect_line "NNP=1 EUID=$A"
  expect_line "NNP=0 EUID=0"
}
run_case "at: the restricted user's job has NNP 1 and keeps its euid; the control user's job reaches euid 0" case_2

case_3() {
  HOST_AFTER=$(host_fingerprint)
  [ -n "$HOST_BEFORE" ] && [ "$HOST_BEFORE" = "$HOST_AFTER" ] || fail "the host changed (or could not be read)"
}
run_case "the host's nsswitch.conf and PAM stacks are byte-identical to before" case_3

finish
