#!/bin/bash
# nnpctl metrics: the Prometheus text format node_exporter's textfile collector reads, checked
# by promtool (Prometheus' own checker) on every output; written atomically with --output;
# the service and timer that run it. No guard here (an empty /sys/fs/bpf in the namespace):
# the metrics of a loaded guard are in guard_report.sh, which the host guard tests run.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1))
PROMTOOL=$("$NNP_ROOT/scripts/promtool.sh") || { echo "Bail out! no promtool (scripts/promtool.sh)"; exit 1; }
require_private_ns
mount -t tmpfs -o mode=700 nnp-nobpf /sys/fs/bpf   # no guard, whatever the host has
write_config "$EXEMPT_DAVE

$GROUP_RULE"

# expect_promtool FILE — promtool check metrics accepts FILE, lint included
expect_promtool() {
  local why
  why=$("$PROMTOOL" check metrics < "$1" 2>&1) || fail "promtool check metrics: $why"
}
# metric NAME — the value of the sample NAME (with its labels, as written) in $OUT
metric() { printf '%s\n' "$OUT" | awk -v n="$1" '$1 == n { print $2 }'; }

case_1() {
  setpriv --reuid=$A --regid=$A --clear-groups sleep 301 & BG=$!
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" metrics
  expect_rc 0
  printf '%s\n' "$OUT" > "$T/m.prom"; expect_promtool "$T/m.prom"
  [ "$(metric nnp_config_valid)" = 1 ] || fail "nnp_config_valid must be 1"
  [ "$(metric nnp_config_rules)" = 2 ] || fail "nnp_config_rules must be 2"
  [ "$(metric 'nnp_config_restricting_rules{mode="enforce"}')" = 1 ] || fail "one restricting rule enforces"
  [ "$(metric 'nnp_config_restricting_rules{mode="audit"}')" = 0 ] || fail "no restricting rule audits"
  [ "$(metric nnp_guard_loaded)" = 0 ] || fail "nnp_guard_loaded must be 0"
  [ "$(metric nnp_guard_in_force)" = 0 ] || fail "nnp_guard_in_force must be 0"
  [ "$(metric nnp_audit_success)" = 1 ] || fail "nnp_audit_success must be 1"
  [ "$(metric nnp_audit_findings)" -ge 1 ] 2>/dev/null || fail "the restricted sleep without NNP must be a finding"
  [ "$(metric 'nnp_build_info{version="'"$("$NNPCTL" --version | awk '{print $2}')"'"}')" = 1 ] || fail "nnp_build_info names the version"
  now=$(date +%s); ts=$(metric nnp_metrics_last_run_timestamp_seconds)
  [ "${ts%.*}" -ge $((now - 60)) ] && [ "${ts%.*}" -le "$now" ] || fail "last run timestamp $ts is not now ($now)"
  printf '%s\n' "$OUT" | grep -q '^nnp_guard_info' && fail "no guard: no nnp_guard_info"
  # control: the same process with NNP is no finding
  kill $BG; wait $BG 2>/dev/null
  setpriv --reuid=$A --regid=$A --clear-groups --no-new-privs sleep 302 & BG=$!
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" metrics
  printf '%s\n' "$OUT" > "$T/m2.prom"; expect_promtool "$T/m2.prom"
  # (other test runs on this host may have processes of the same test uids: compare with
  # what nnpctl audit finds, not with 0)
  n=$(metric nnp_audit_findings)
  run "$NNPCTL" audit --json
  a=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')
  [ -n "$n" ] && [ "$n" -le "$((a + 2))" ] && [ "$a" -le "$((n + 2))" ] || fail "nnp_audit_findings ($n) must count what nnpctl audit finds ($a)"
  kill $BG; wait $BG 2>/dev/null
}
run_case "metrics on stdout: promtool accepts them; config valid, its rules, no guard, audit findings of a restricted process without NNP" case_1

case_2() {
  write_config '[[rule]]
grups = ["restricted"]
nnp = true'
  run "$NNPCTL" metrics
  expect_rc 0
  printf '%s\n' "$OUT" > "$T/m.prom"; expect_promtool "$T/m.prom"
  [ "$(metric nnp_config_valid)" = 0 ] || fail "nnp_config_valid must be 0"
  [ "$(metric nnp_config_rules)" = 0 ] || fail "nnp_config_rules must be 0"
  [ "$(metric 'nnp_config_restricting_rules{mode="enforce"}')" = 0 ] || fail "invalid: 0 enforcing"
  [ "$(metric nnp_audit_success)" = 0 ] || fail "nnp_audit_success must be 0"
  printf '%s\n' "$OUT" | grep -q '^nnp_audit_findings' && fail "no audit: no findings value (absent, not 0)"
  # a config the trust rules refuse is invalid too
  write_config "$GROUP_RULE"; chmod 666 /etc/security/nnp.toml
  run "$NNPCTL" metrics
  [ "$(metric nnp_config_valid)" = 0 ] || fail "a group-writable config must be invalid"
}
run_case "an invalid config: nnp_config_valid 0, no audit (nnp_audit_success 0), exit 0, promtool accepts it" case_2

case_3() {
  D="$T/textfile"; mkdir -p "$D"
  run "$NNPCTL" metrics --output "$D/nnp.prom"
  expect_rc 0
  [ -z "$OUT" ] || fail "--output prints nothing on stdout"
  [ "$(stat -c %a "$D/nnp.prom")" = 644 ] || fail "mode $(stat -c %a "$D/nnp.prom"), expected 644"
  expect_promtool "$D/nnp.prom"
  [ "$(ls -A "$D")" = nnp.prom ] || fail "left behind: $(ls -A "$D")"
  # readers while it is rewritten: every read is a whole file (it ends with the last family)
  ( for i in $(seq 15); do "$NNPCTL" metrics --output "$D/nnp.prom"; done ) & W=$!
  bad=0; reads=0
  while kill -0 $W 2>/dev/null; do
    tail -n1 "$D/nnp.prom" | grep -q '^nnp_metrics_duration_seconds ' || bad=$((bad + 1))
    reads=$((reads + 1))
  done
  wait $W
  [ "$bad" = 0 ] || fail "$bad of $reads reads saw a partial file"
  [ "$(ls -A "$D")" = nnp.prom ] || fail "left behind: $(ls -A "$D")"
  # a directory that does not exist: exit 3, says why
  run "$NNPCTL" metrics --output "$T/no/such/dir/nnp.prom"
  expect_rc 3
  printf '%s\n' "$ERR" | grep -q "^nnpctl: writing $T/no/such/dir/nnp.prom: " || fail "the error must name the file"
}
run_case "--output: written atomically (a temporary name the collector ignores, renamed), 0644; readers never see half a file" case_3

case_4() {
  S="$NNP_ROOT/packaging/systemd/nnp-metrics.service"
  dir=/var/lib/prometheus/node-exporter
  grep -qx "ExecStart=/usr/sbin/nnpctl metrics --output $dir/nnp.prom" "$S" || fail "ExecStart must write $dir/nnp.prom"
  grep -qx "ReadWritePaths=$dir" "$S" || fail "the service must be allowed to write $dir"
  grep -qx "ConditionPathIsDirectory=$dir" "$S" || fail "the service runs where the directory exists"
  grep -qx "Type=oneshot" "$S" || fail "a oneshot service"
  grep -qx "WantedBy=timers.target" "$NNP_ROOT/packaging/systemd/nnp-metrics.timer" || fail "the timer is wanted by timers.target"
  grep -qx "OnUnitActiveSec=1min" "$NNP_ROOT/packaging/systemd/nnp-metrics.timer" || fail "the timer runs it every minute"
  if command -v systemd-analyze >/dev/null; then
    # the unit files parse (the missing /usr/sbin/nnpctl and man page are expected here)
    run systemd-analyze verify "$S" "$NNP_ROOT/packaging/systemd/nnp-metrics.timer"
    printf '%s\n' "$ERR" | grep -vE "is not executable|Command 'man |^$" | grep -q . && fail "systemd-analyze verify: $ERR"
  fi
}
run_case "the service writes where the timer's collector reads (node_exporter's textfile directory)" case_4

case_5() {
  R="$NNP_ROOT/deploy/prometheus"
  run "$PROMTOOL" check rules "$R/nnp.rules.yml"
  expect_rc 0
  expect_line "  SUCCESS: 8 rules found"
  # each alert fires when its condition has held for its `for:`, and not before or on the
  # control hosts (nnp.rules.test.yml)
  run "$PROMTOOL" test rules "$R/nnp.rules.test.yml"
  expect_rc 0
  # OPERATIONS.md names every alert of the file, and points to the file
  for a in $(awk '$2 == "alert:" { print $3 }' "$R/nnp.rules.yml"); do
    grep -qF "\`$a\`" "$NNP_ROOT/docs/OPERATIONS.md" || fail "docs/OPERATIONS.md does not name the alert $a"
  done
  grep -qF "deploy/prometheus/nnp.rules.yml" "$NNP_ROOT/docs/OPERATIONS.md" || fail "docs/OPERATIONS.md does not point to the rules file"
  # controls: a broken expression fails promtool check rules; an alert without its `for:`
  # delay (fires at once) fails its unit test
  sed 's/nnp_guard_live == 0/nnp_guard_live ==/' "$R/nnp.rules.yml" > "$T/broken.rules.yml"
  run "$PROMTOOL" check rules "$T/broken.rules.yml"
  expect_rc 1
  printf '%s\n' "$OUT$ERR" | grep -q 'NnpGuardNotLive.*parse error' || fail "promtool should name the broken rule"
  mkdir -p "$T/mut"
  sed '0,/for: 5m/s//for: 1m/' "$R/nnp.rules.yml" > "$T/mut/nnp.rules.yml"
  cp "$R/nnp.rules.test.yml" "$T/mut/"
  run "$PROMTOOL" test rules "$T/mut/nnp.rules.test.yml"
  expect_rc 1
  printf '%s\n' "$OUT$ERR" | grep -q 'alertname: NnpGuardNotLive, time: 4m' || fail "the unit test should catch the early alert"
}
run_case "the alert rules of docs/OPERATIONS.md (deploy/prometheus/nnp.rules.yml): promtool check rules and their unit tests pass; a broken rule and an early alert fail (controls)" case_5

finish
