#!/bin/bash
# The JSON Schemas in docs/schema/: each is a valid schema naming its document; every --json
# output of nnpctl has one; documents of each command, in their different states, validate
# (tests/lib.sh's run validates every `nnpctl ... --json` of every suite the same way); and
# the validator rejects what it must (the control: a broken validator cannot pass).
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
A=$((UID_BASE + 1))
require_private_ns
mount -t tmpfs -o mode=700 nnp-nobpf /sys/fs/bpf   # no guard, whatever the host has
write_config "$EXEMPT_DAVE

$GROUP_RULE"
VALIDATE=("$NNP_ROOT/tests/validate_json.py")
json_py || { echo "Bail out! no python3 with jsonschema (make deps installs python3-jsonschema)"; exit 1; }
# schema_of — the "schema" field of the document in $OUT
schema_of() { printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("schema"))'; }

case_1() {
  run "$JSON_PY" "${VALIDATE[@]}" --check-schemas
  expect_rc 0
  expect_line "6 schemas: audit, doctor, explain, guard-report, guard-status, watch"
}
run_case "every schema is a valid JSON Schema whose documents must name it (\"schema\": \"nnp.NAME/VERSION\")" case_1

case_2() {
  declare -A want=([explain]=explain [audit]=audit [doctor]=doctor ["guard status"]=guard-status
                   ["guard watch"]=watch ["guard report"]=guard-report)
  found=()
  cmds=$("$NNPCTL" help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1}' | grep -vx help)
  for c in $cmds; do
    if [ "$c" = guard ]; then
      for s in $("$NNPCTL" guard help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1}' | grep -vx help); do
        "$NNPCTL" guard "$s" --help | grep -q -- '--json' && found+=("guard $s")
      done
    elif "$NNPCTL" "$c" --help | grep -q -- '--json'; then
      found+=("$c")
    fi
  done
  [ ${#found[@]} = ${#want[@]} ] || fail "commands with --json: ${found[*]} (expected ${!want[*]})"
  for c in "${found[@]}"; do
    [ -n "${want[$c]:-}" ] || { fail "nnpctl $c --json has no schema in docs/schema/"; continue; }
    [ -f "$NNP_ROOT/docs/schema/${want[$c]}.schema.json" ] || fail "missing docs/schema/${want[$c]}.schema.json"
  done
}
run_case "every nnpctl command with --json has a schema, and no schema is left without a command" case_2

case_3() {
  for u in alice dave bob no-such-user-xyz; do
    run "$NNPCTL" explain "$u" --json
    [ "$(schema_of)" = nnp.explain/1 ] || fail "explain $u: schema $(schema_of)"
  done
  run "$NNPCTL" explain alice --service sshd --json
  [ "$(schema_of)" = nnp.explain/1 ] || fail "explain --service: schema $(schema_of)"
}
run_case "explain: restricted, exempt, unmatched, unknown and service-specific users validate as nnp.explain/1" case_3

case_4() {
  setpriv --reuid=$A --regid=$A --clear-groups sleep 303 & BG=$!
  for i in $(seq 50); do tr '\0' ' ' < /proc/$BG/cmdline | grep -q '^sleep' && break; sleep 0.1; done
  run "$NNPCTL" audit --json
  expect_rc 1
  [ "$(schema_of)" = nnp.audit/1 ] || fail "schema $(schema_of)"
  kill $BG; wait $BG 2>/dev/null
}
run_case "audit: a scan with a finding validates as nnp.audit/1" case_4

case_5() {
  run "$NNPCTL" doctor --json
  [ "$(schema_of)" = nnp.doctor/1 ] || fail "doctor: schema $(schema_of)"
  run "$NNPCTL" guard status --json
  expect_rc 1
  [ "$(schema_of)" = nnp.guard-status/2 ] || fail "guard status: schema $(schema_of)"
  run "$NNPCTL" guard report --json
  expect_rc 1
  [ "$(schema_of)" = nnp.guard-report/1 ] || fail "guard report: schema $(schema_of)"
  got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["loaded"], d["entries"])')
  [ "$got" = "False []" ] || fail "guard report without a guard: $got"
}
run_case "doctor, guard status, guard report (no guard loaded) validate as nnp.doctor/1, nnp.guard-status/2, nnp.guard-report/1" case_5

case_6() {
  run "$NNPCTL" guard status --json
  bad() { printf '%s\n' "$1" > "$T/bad.json"; if "$JSON_PY" "${VALIDATE[@]}" "$T/bad.json" > "$T/why" 2>&1; then fail "accepted: $1"; fi; }
  bad "$(printf '%s' "$OUT" | sed 's/"loaded": false/"loaded": "no"/')"
  bad "$(printf '%s' "$OUT" | sed 's/"loaded": false/"loaded": false, "surprise": 1/')"
  bad "$(printf '%s' "$OUT" | sed '/"schema"/d')"
  bad '{"schema": "nnp.nothing/1"}'
  bad '{"schema":"nnp.watch/1","time":"yesterday","pid":1,"uid":2,"user":"a","comm":"su","file":"/bin/su","rule":"/etc/security/nnp.toml:3","action":"killed"}'
  bad '{"schema":"nnp.watch/1","time":"2026-11-29T10:00:00Z","pid":1,"uid":2,"user":"a","comm":"su","file":"/bin/su","rule":"/etc/security/nnp.toml:3","action":"audit: would refuse"}'
  # and accepts the good ones: a watch line per action, as JSON lines
  for a in refused killed would-refuse; do
    echo '{"schema":"nnp.watch/1","time":"2026-11-29T10:00:00Z","pid":1,"uid":2,"user":"a","comm":"su","file":"/bin/su","rule":"/etc/security/nnp.toml:3","action":"'$a'"}'
  done > "$T/good.jsonl"
  run "$JSON_PY" "${VALIDATE[@]}" "$T/good.jsonl"
  expect_rc 0
}
run_case "control: the validator rejects a wrong type, an unknown field, a missing or unknown schema name, a bad time" case_6

finish
