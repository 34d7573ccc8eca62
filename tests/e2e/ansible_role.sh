#!/bin/bash
# The Ansible role's decisions without machines (no molecule, no qemu): the role's own task
# files (deploy/ansible/roles/nnp/tasks/config.yml, verify.yml) run by ansible-playbook against
# this host with connection local, in a private mount namespace with a tmpfs over /run (where
# the role makes its scratch directories), on a config under a temp dir. nnpctl is the built
# one for the config checks, and a stand-in (a script answering from files) for doctor and
# guard status, whose failures a real machine cannot be made to show on demand. Ansible's
# own files (HOME, temp dirs) are in the temp dir too. What needs a whole Debian machine
# (dpkg, pam-auth-update, systemd units, ssh, two hosts in batches): tests/e2e/ansible.sh.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
require_private_ns
command -v ansible-playbook >/dev/null || { echo "1..0 # SKIP ansible-playbook not installed (Debian's ansible-core)"; exit 0; }
T=$(mktemp -d /tmp/nnp-ansible-role.XXXXXX); chmod 755 "$T"; trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
mount -t tmpfs -o mode=755 nnp-ansible-run /run
[ -x "$NNPCTL" ] || { echo "Bail out! no $NNPCTL (cargo build --release)"; exit 1; }

export HOME=$T/home ANSIBLE_HOME=$T/ansible-home ANSIBLE_LOCAL_TEMP=$T/ansible-local \
  ANSIBLE_REMOTE_TEMP=$T/ansible-remote ANSIBLE_ROLES_PATH=$NNP_ROOT/deploy/ansible/roles \
  ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
  ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
mkdir -p "$HOME"

# The play: one task file of the role (tasks_from), the host's state as state.yml would have
# found it (no helper, no drop-in directory yet), the guard units not managed unless a case
# says so; PATH starts with the case's bin/ (nnpctl: the built one or the stand-in).
PLAY=$T/play.yml
cat > "$PLAY" <<'EOF'
- name: One task file of the nnp role, here
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    nnp_state: {helper: "", dropin_dir: ""}
  environment:
    PATH: "{{ nnp_test_bin }}:/usr/sbin:/usr/bin:/sbin:/bin"
  tasks:
    - name: Run the role's task file
      ansible.builtin.include_role:
        name: nnp
        tasks_from: "{{ nnp_test_tasks }}"
EOF

# play TASKS LOG [ARGS...] — ansible-playbook on the play; RC, OUT (the log)
play() {
  local tasks=$1 log=$2; shift 2
  LAST_CMD="ansible-playbook play.yml -e nnp_test_tasks=$tasks $*"
  (cd "$T" && timeout 300 ansible-playbook -i localhost, "$PLAY" -e nnp_test_tasks="$tasks" \
    -e nnp_test_bin="$T/bin" "$@") > "$log" 2>&1
  RC=$?; OUT=$(cat "$log"); ERR=""
}
recap() { printf '%s\n' "$OUT" | grep -oE "^localhost +: .*$1=[0-9]+" | grep -oE "$1=[0-9]+" | cut -d= -f2; }

# ---- the whole config before any file (tasks/config.yml) ----
# A host with a config: the main file and a drop-in of its own. The inventory changes the
# main file and adds a drop-in.
config_host() {
  rm -rf "$T/etc" "$T/before"
  mkdir -p "$T/bin" "$T/etc/security/nnp.d"
  ln -sf "$NNPCTL" "$T/bin/nnpctl"
  printf '[[rule]]\nuids = [61001]\nnnp = true\n' > "$T/etc/security/nnp.toml"
  printf '[[rule]]\nuids = [61005]\nnnp = true\n' > "$T/etc/security/nnp.d/05-host.toml"
  chmod 644 "$T/etc/security/nnp.toml" "$T/etc/security/nnp.d/05-host.toml"
  cp -a "$T/etc/security" "$T/before"
  cat > "$T/vars.yml" <<EOF
nnp_config: $T/etc/security/nnp.toml
nnp_check_helper: $T/bin/nnp-check-candidate
nnp_guard_enabled: false
nnp_rules:
  - {uids: [61001], nnp: true}
  - {uids: [61002], nnp: true}
EOF
}
# expect_config_unchanged — the host's config is what it was (every file, byte for byte),
# and no scratch directory is left under /run
expect_config_unchanged() {
  diff -r "$T/before" "$T/etc/security" > "$T/diff.txt" 2>&1 || { OUT=$(cat "$T/diff.txt"); fail "the config changed ($1)"; }
  ls /run | grep -q nnp-check && fail "a scratch directory is left under /run: $(ls /run)"
}

case_1() {
  config_host
  cat >> "$T/vars.yml" <<'EOF'
nnp_dropins:
  - name: 30-broken
    rules:
      - {grups: [restricted], nnp: true}
EOF
  play config "$T/broken.log" -e @"$T/vars.yml"
  [ "$RC" != 0 ] || fail "the play should fail"
  printf '%s\n' "$OUT" | grep -q 'TASK \[nnp : Stop when the new config does not load\]' || fail "the whole-config check should be what stopped it"
  printf '%s\n' "$OUT" | grep -q 'failed to validate, so no file was written' || fail "the message should say nothing was written"
  printf '%s\n' "$OUT" | grep -qE "$T/etc/security/nnp\.d/30-broken\.toml:[0-9]+:1: unknown key \\\\\"grups" ||
    fail "the message should name the drop-in's real path, line and column"
  printf '%s\n' "$OUT" | grep -q 'TASK \[nnp : Write the main config\]' && fail "no file task may run after the check failed"
  [ "$(recap changed)" = 0 ] || fail "changed=$(recap changed), expected 0"
  expect_config_unchanged "a broken drop-in with a changed main file"
  # --check --diff: the same check runs and fails the host
  play config "$T/check.log" -e @"$T/vars.yml" --check --diff
  [ "$RC" != 0 ] || fail "--check should fail the host too"
  printf '%s\n' "$OUT" | grep -q 'failed to validate, so no file was written' || fail "--check: the whole-config check should run"
  expect_config_unchanged "--check"
  # the host's own drop-in is part of the config checked: a broken one there fails a change
  # that is fine by itself (control of what "the whole config" means) ...
  config_host
  printf '[[rule]]\nusers = ["nobody"]\nnnnp = true\n' > "$T/etc/security/nnp.d/05-host.toml"
  cp -a "$T/etc/security/." "$T/before/"
  play config "$T/host-broken.log" -e @"$T/vars.yml"
  [ "$RC" != 0 ] || fail "a broken drop-in already on the host fails the check"
  printf '%s\n' "$OUT" | grep -qE "$T/etc/security/nnp\.d/05-host\.toml:3:1: unknown key" || fail "the host's own broken drop-in is named"
  expect_config_unchanged "a broken drop-in on the host"
  # ... unless nnp_dropins_exclusive removes it
  play config "$T/exclusive.log" -e @"$T/vars.yml" -e nnp_dropins_exclusive=true
  expect_rc 0
  [ -e "$T/etc/security/nnp.d/05-host.toml" ] && fail "nnp_dropins_exclusive removes the host's drop-in"
}
run_case "the whole new config is checked before any file is written (also with --check): a broken drop-in stops a changed main file, nothing changes, real path named; a host's own broken drop-in counts unless exclusive removes it" case_1

case_2() {
  config_host
  cat >> "$T/vars.yml" <<'EOF'
nnp_dropins:
  - name: 30-good
    mode: audit
    rules:
      - {uids: ["61010-61020"], nnp: true}
  - name: 05-host
    state: absent
EOF
  # control: a good config is checked, then written, main file and drop-ins
  play config "$T/good.log" -e @"$T/vars.yml"
  expect_rc 0
  grep -qx 'uids = \[61002\]' "$T/etc/security/nnp.toml" || fail "the new main file should be written"
  [ "$(stat -c '%U %a' "$T/etc/security/nnp.d/30-good.toml" 2>&1)" = "root 644" ] || fail "the drop-in should be written root's 0644"
  [ -e "$T/etc/security/nnp.d/05-host.toml" ] && fail "state: absent removes the drop-in"
  ls /run | grep -q nnp-check && fail "a scratch directory is left under /run"
  # a second run: the check runs again and changes nothing
  play config "$T/again.log" -e @"$T/vars.yml"
  expect_rc 0
  [ "$(recap changed)" = 0 ] || fail "second run: changed=$(recap changed)"
}
run_case "control: a config that loads passes the check and is written (main file, drop-in root 0644, absent drop-in removed); a second run changes nothing" case_2

# ---- the checks after the changes (tasks/verify.yml) ----
# stand_in DOCTOR_STATUS GUARD_RC — an nnpctl answering doctor --json and guard status --json
stand_in() {
  mkdir -p "$T/bin"
  cat > "$T/doctor.json" <<EOF
{"schema":"nnp.doctor/1","status":"$1","findings":[{"level":"$( [ "$1" = ok ] && echo ok || echo problem )","message":"common-session does not load pam_nnp.so"}]}
EOF
  if [ "$2" = 0 ]; then
    echo '{"schema":"nnp.guard-status/2","in_force":true,"reasons":[]}' > "$T/status.json"
  else
    echo '{"schema":"nnp.guard-status/2","in_force":false,"reasons":["not loaded"]}' > "$T/status.json"
  fi
  cat > "$T/bin/nnpctl" <<EOF
#!/bin/sh
case "\$1 \$2" in
  "doctor --json") cat "$T/doctor.json" ;;
  "guard status") echo x >> "$T/status.calls"; cat "$T/status.json"; exit $2 ;;
  *) echo "stand-in nnpctl: \$*" >&2; exit 2 ;;
esac
EOF
  chmod 755 "$T/bin/nnpctl"
  rm -f "$T/status.calls"
}

case_3() {
  stand_in problem 0
  play verify "$T/doctor.log" -e nnp_guard_enabled=true
  [ "$RC" != 0 ] || fail "doctor's problem should fail the play"
  printf '%s\n' "$OUT" | grep -q 'TASK \[nnp : Fail when doctor reports a problem\]' || fail "the doctor assertion should be what failed"
  printf '%s\n' "$OUT" | grep -q 'nnpctl doctor: problem: common-session does not load pam_nnp.so' || fail "the failure should name doctor's finding"
  printf '%s\n' "$OUT" | grep -q 'TASK \[nnp : Run nnpctl guard status\]' && fail "nothing runs after the failed check"
  stand_in incomplete 0
  play verify "$T/incomplete.log" -e nnp_guard_enabled=true
  [ "$RC" != 0 ] || fail "doctor's incomplete fails the play too (nnp_doctor_fail_on)"
  # controls: doctor ok passes; a status not in nnp_doctor_fail_on passes
  stand_in ok 0
  play verify "$T/ok.log" -e nnp_guard_enabled=true
  expect_rc 0
  stand_in problem 0
  play verify "$T/failon.log" -e nnp_guard_enabled=true -e '{"nnp_doctor_fail_on": ["incomplete"]}'
  expect_rc 0
}
run_case "doctor reporting a problem (or incomplete) fails the host with its finding; controls: ok passes, and a status not in nnp_doctor_fail_on passes" case_3

case_4() {
  stand_in ok 1
  play verify "$T/status.log" -e nnp_guard_enabled=true
  [ "$RC" != 0 ] || fail "a guard not in force should fail the play"
  printf '%s\n' "$OUT" | grep -q 'nnpctl guard status exited 1: not loaded' || fail "the failure should give guard status's exit and reason"
  [ "$(wc -l < "$T/status.calls")" = 6 ] || fail "guard status should be tried 6 times (5 retries), was $(wc -l < "$T/status.calls")"
  # controls: in force passes (one try); nnp_guard_require_in_force: false and
  # nnp_guard_enabled: false skip the check
  stand_in ok 0
  play verify "$T/inforce.log" -e nnp_guard_enabled=true
  expect_rc 0
  [ "$(wc -l < "$T/status.calls")" = 1 ] || fail "one try when in force"
  stand_in ok 1
  play verify "$T/norequire.log" -e nnp_guard_enabled=true -e nnp_guard_require_in_force=false
  expect_rc 0
  play verify "$T/disabled.log" -e nnp_guard_enabled=false
  expect_rc 0
  [ -e "$T/status.calls" ] && fail "guard status should not run when not required"
}
run_case "guard status not exiting 0 fails the host after its retries, naming the reason; controls: in force passes, the check is skipped when not required" case_4

# ---- the variables (tasks/preflight.yml, the first thing main.yml does) ----
case_5() {
  # Review (HIGH): nnp_config elsewhere was written and checked, while the module's profile,
  # nnp-shell, the guard units and verify.yml's doctor and guard status read
  # /etc/security/nnp.toml (the package's, no rules): every check green, no rule applied.
  mkdir -p "$T/bin"
  play preflight "$T/pre.log" -e nnp_config=/srv/nnp/nnp.toml
  expect_rc 2
  printf '%s\n' "$OUT" | grep -q "nnp_config is /srv/nnp/nnp.toml, but pam_nnp (the pam-auth-update profile), nnp-shell, nnp-guard.service and nnpctl read /etc/security/nnp.toml" || fail "the refusal must say why"
  # control: the default passes
  play preflight "$T/pre-ok.log"
  expect_rc 0
}
run_case "the role refuses an nnp_config other than /etc/security/nnp.toml before anything, saying every part reads that path (control: the default passes)" case_5

finish
