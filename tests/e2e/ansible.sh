#!/bin/bash
# The Ansible role (deploy/ansible) for real: ansible-playbook on this host drives two Debian
# 12 machines of the machine suite (tests/machine/: the cached image, a copy-on-write overlay
# each, systemd, sshd, Debian's kernel with bpf in lsm=) over ssh on their forwarded loopback
# ports (issue 23). First run, second run (changed=0), a config change rolled out in audit
# mode, the guard reports collected on the controller, then enforced; --check --diff changes
# nothing; a broken config is stopped by validate before any host changes; then restricted
# users' ssh logins show NNP 1 and a refused setuid exec on each machine, with a control.
#
# Nothing reaches any address but loopback: the guests' only network is qemu's user stack
# with restrict=on and one forward from 127.0.0.1; no galaxy, no pip, ansible-lint --offline.
# Ansible's home, temp and ssh control directories live in the run directory; qemu and every
# ssh master are ended by pid/socket when the file ends.
. "$(dirname "$0")/../lib.sh"
. "$NNP_ROOT/tests/machine/vm.sh"
set -uo pipefail
START=$SECONDS

machine_deps qemu-system-x86_64 qemu-img mmdebstrap ansible-playbook ansible-lint
machine_deb
ANS=$NNP_ROOT/deploy/ansible
vm_init
echo "# image: $VM_IMG ($(tail -n1 "$VM_IMG/inputs"))"

# Ansible keeps everything in the run directory (removed at the end): no ~/.ansible, no
# ~/.cache on the host. The ssh masters it starts are closed by their sockets on exit.
A=$VM_DIR/ansible
mkdir -p "$A/home" "$A/tmp" "$A/cp" "$A/cache" "$A/reports"
export ANSIBLE_CONFIG=$ANS/ansible.cfg ANSIBLE_HOME=$A/home ANSIBLE_LOCAL_TEMP=$A/tmp
export ANSIBLE_SSH_CONTROL_PATH_DIR=$A/cp ANSIBLE_ROLES_PATH=$ANS/roles XDG_CACHE_HOME=$A/cache
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_GALAXY_SERVER=http://127.0.0.1:9/ PIP_NO_INDEX=1
HOME_ANSIBLE_BEFORE=$(ls -d "$HOME/.ansible" "$HOME/.cache/ansible-compat" 2>/dev/null)
ans_cleanup() {
  local c
  for c in "$A"/cp/*; do [ -S "$c" ] && ssh -F /dev/null -o ControlPath="$c" -O exit x 2>/dev/null; done
}
trap 'ans_cleanup; vm_cleanup' EXIT

SUID=/usr/local/bin/suid-id     # a setuid-root copy of id in each guest
PROMTOOL=$("$NNP_ROOT/scripts/promtool.sh") || { echo "Bail out! no promtool (scripts/promtool.sh)"; exit 1; }
MACHINES=(1 2)

# prepare — users (alice: group restricted; carol: group contractors; bob: the control),
# their ssh keys, sudo for all three, the setuid probe. What the role does not do: accounts
# are the directory's business, and nnpctl check refuses a rule naming an unknown group.
prepare() {
  guest_users "restricted:1100 contractors:1101" "alice:1001:restricted bob:1002: carol:1003:contractors" "$SUID"
}

# probe_as USER — a fresh ssh login as USER: "NNP=<bit> EUID=<euid of the setuid probe>"
probe_as() { gssh "$1" "echo NNP=\$(awk '/^NoNewPrivs:/{print \$2}' /proc/self/status) EUID=\$($SUID -u 2>&1)"; }
# unit_as USER CMD — CMD run by systemd as USER with no PAM session: only the guard stands
unit_as() { g "systemd-run --quiet --uid=$1 --wait --pipe --collect /bin/sh -c $(printf %q "$2")"; }

# fingerprint — what a play may change on the current machine: the config files, the PAM
# stacks, the units' enablement and the loaded guard's config (FP)
fingerprint() {
  local status
  gjson "fingerprint-m$VM_ID" 'nnpctl guard status --json'   # validated against its schema too
  status=$(printf '%s\n' "$OUT" | grep -E '"(config|loaded_at|state|in_force)"')
  g 'cd /etc && sha256sum security/nnp.toml security/nnp.d/* pam.d/common-* 2>&1; ls -la security/nnp.d;
     systemctl is-enabled nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path nnp-metrics.timer 2>&1'
  FP=$OUT$'\n'$status
}
# json_docs PHASE — every --json document of the current machine (what the role's checks
# read: doctor and guard status; and explain, audit, the guard's report), validated on the
# host against docs/schema/
json_docs() {
  local p="$1-m$VM_ID"
  gjson "$p-doctor" 'nnpctl doctor --json'; expect_rc 0
  gjson "$p-status" 'nnpctl guard status --json'; expect_rc 0
  gjson "$p-explain-alice" 'nnpctl explain --json alice'
  gjson "$p-explain-carol" 'nnpctl explain --json carol'
  gjson "$p-explain-bob" 'nnpctl explain --json bob'
  gjson "$p-audit" 'nnpctl audit --json'
  gjson "$p-report" 'nnpctl guard report --json'
}
# fingerprint_all — FP_<m> of every machine; expect_unchanged M WHY — machine M (now the
# current one) still has its FP_<m>
fingerprint_all() { local m; for m in "${MACHINES[@]}"; do vm_use "$m"; fingerprint; eval "FP_$m=\$FP"; done; vm_use 1; }
expect_unchanged() { local v="FP_$1"; vm_use "$1"; fingerprint; [ "$FP" = "${!v}" ] || fail "machine $1 changed $2"; }

# The inventory: the two machines on their loopback ports, root with the suite's key.
inventory() {
  local m
  {
    echo "all:"
    # the controller, for the role's delegate_to: localhost tasks: its temp files in the run
    # directory, not in ~/.ansible/tmp
    echo "  hosts:"
    echo "    localhost: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, ansible_remote_tmp: $A/local-tmp}"
    echo "  children:"
    echo "    bastions:"
    echo "      hosts:"
    for m in "${MACHINES[@]}"; do
      vm_use "$m"
      echo "        m$m: {ansible_host: 127.0.0.1, ansible_port: $VM_PORT}"
    done
    echo "      vars:"
    echo "        ansible_user: root"
    echo "        ansible_ssh_private_key_file: $VM_KEY"
    echo "        ansible_ssh_common_args: -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=5"
    echo "        ansible_python_interpreter: /usr/bin/python3"
    echo "        nnp_deb: $DEB"
  } > "$A/inventory.yml"
  vm_use 1
}

# vars NAME TEXT — an extra-vars file for one phase of the rollout
vars() { printf '%s\n' "$2" > "$A/$1.yml"; }
vars base '---
nnp_mode: enforce
nnp_rules:
  - groups: [restricted]
    nnp: true
nnp_dropins: []'
# the change: contractors restricted too, audit first ...
vars audit '---
nnp_mode: enforce
nnp_rules:
  - groups: [restricted]
    nnp: true
nnp_dropins:
  - name: 20-contractors
    mode: audit
    rules:
      - groups: [contractors]
        nnp: true'
# ... then enforced
vars enforce '---
nnp_mode: enforce
nnp_metrics_timer_enabled: true
nnp_rules:
  - groups: [restricted]
    nnp: true
nnp_dropins:
  - name: 20-contractors
    rules:
      - groups: [contractors]
        nnp: true'
# a change for --check --diff: a notice and a new drop-in
vars checkmode '---
nnp_mode: enforce
nnp_metrics_timer_enabled: true
nnp_settings:
  notice: "This session runs with no_new_privs."
nnp_rules:
  - groups: [restricted]
    nnp: true
nnp_dropins:
  - name: 20-contractors
    rules:
      - groups: [contractors]
        nnp: true
  - name: 30-oncall
    rules:
      - users: [bob]
        nnp: false'
# broken: a misspelt key in a new drop-in
vars broken '---
nnp_mode: enforce
nnp_metrics_timer_enabled: true
nnp_rules:
  - groups: [restricted]
    nnp: true
nnp_dropins:
  - name: 20-contractors
    rules:
      - groups: [contractors]
        nnp: true
  - name: 30-broken
    rules:
      - grups: [restricted]
        nnp: true'

# play LOG PLAYBOOK ARGS... — ansible-playbook from deploy/ansible against the machines;
# RC, OUT (the last lines), the whole output in $A/LOG.log
play() {
  local log=$1 pb=$2; shift 2
  LAST_CMD="ansible-playbook -i inventory.yml $pb $* (log: $A/$log.log)"
  local t0=$SECONDS
  # both machines in one batch (serial is a play keyword: it takes extra vars only); the
  # broken-config case passes -e nnp_serial=1 after this one
  (cd "$ANS" && timeout 900 ansible-playbook -i "$A/inventory.yml" "$pb" -e nnp_serial=2 "$@") > "$A/$log.log" 2>&1 < /dev/null
  RC=$?
  OUT=$(grep -E '^(fatal|failed|FAILED|ERROR|\[ERROR\])|"msg"|^m[0-9] +:|would run|^[-+]{3} |^[-+][a-z]' "$A/$log.log" | tail -n 60)
  ERR=""
  echo "# $log: ansible-playbook $pb exit $RC in $((SECONDS - t0)) s; $(sed -n 's/^\(m[0-9]\) *: \(ok=[0-9]*\) *\(changed=[0-9]*\).*\(failed=[0-9]*\).*/\1 \2 \3 \4/p' "$A/$log.log" | tr '\n' ' ')"
}
# recap HOST FIELD — that host's count in the last play's PLAY RECAP ("" if absent)
recap() { sed -n "s/^$1 *:.* $2=\([0-9]*\).*/\1/p" "$A/$LOG_LAST.log" | tail -n1; }
play_as() { LOG_LAST=$1; play "$@"; }

expect_recap() {  # expect_recap HOST FIELD VALUE
  local v; v=$(recap "$1" "$2")
  [ "$v" = "$3" ] || fail "expected $1 $2=$3 in the play recap, got '${v:-absent}'"
}
expect_recap_gt0() {
  local v; v=$(recap "$1" "$2")
  [ -n "$v" ] && [ "$v" -gt 0 ] || fail "expected $1 $2>0 in the play recap, got '${v:-absent}'"
}

# ---------------------------------------------------------------------------------------
case_begin "ansible-lint: the role and the example playbooks are clean (offline)"
if [ "$SKIPPING" = 0 ]; then
  LAST_CMD="ansible-lint --offline (in deploy/ansible)"
  (cd "$ANS" && timeout 300 ansible-lint --offline --nocolor) > "$A/lint.log" 2>&1
  RC=$?; OUT=$(tail -n 30 "$A/lint.log"); ERR=""
  expect_rc 0
  (cd "$ANS" && ansible-playbook --syntax-check -i inventory/hosts.yml site.yml report.yml) > "$A/syntax.log" 2>&1 ||
    { OUT=$(cat "$A/syntax.log"); fail "syntax check of the example playbooks"; }
  [ -e "$ANS/.cache" ] && fail "ansible-lint left $ANS/.cache"
fi
case_end

# ensure_machines — both machines booted (at once) and prepared, the inventory written
MACHINES_UP=0
ensure_machines() {
  [ "$MACHINES_UP" = 1 ] && return 0
  local t0=$SECONDS m up=1
  for m in "${MACHINES[@]}"; do vm_use "$m"; vm_start || { echo "Bail out! qemu did not start"; exit 1; }; done
  for m in "${MACHINES[@]}"; do vm_use "$m"; vm_wait || up=0; done
  vm_use 1
  [ "$up" = 1 ] || { echo "Bail out! the machines did not come up"; exit 1; }
  for m in "${MACHINES[@]}"; do vm_use "$m"; prepare || { echo "Bail out! preparing machine $m failed"; exit 1; }; done
  vm_use 1
  inventory
  MACHINES_UP=1
  echo "# two machines up and prepared in $((SECONDS - t0)) s"
}

# deploy VARS LOG [ARGS] — site.yml with that phase's variables; DEPLOYED names the phase
# the machines are in, so a case run alone first brings them where it starts from.
DEPLOYED=""
deploy() {
  local v=$1 log=$2; shift 2
  ensure_machines
  play_as "$log" site.yml -e @"$A/$v.yml" "$@"
  [ "$RC" = 0 ] && DEPLOYED=$v
}
ensure_deployed() {
  [ "$DEPLOYED" = "$1" ] && return 0
  deploy "$1" "setup-$1"; [ "$RC" = 0 ] || fail "setting up: site.yml with $1.yml failed"
}

# ---------------------------------------------------------------------------------------
case_begin "first run: the .deb installed, config validated and written, pam-auth-update --enable nnp, guard units, doctor and guard status pass on both machines"
if [ "$SKIPPING" = 0 ]; then
  deploy base run1
  expect_rc 0
  for m in "${MACHINES[@]}"; do
    expect_recap "m$m" failed 0; expect_recap_gt0 "m$m" changed
    vm_use "$m"
    g 'dpkg-query -W -f "\${Status}" nnp; echo; grep -c pam_nnp.so /etc/pam.d/common-session /etc/pam.d/common-session-noninteractive;
       stat -c "%U %a %n" /etc/security/nnp.toml /etc/security/nnp.d; systemctl is-enabled nnp-guard.service nnp-guard-watch.service nnp-guard-reload.path;
       nnpctl guard status >/dev/null && echo in-force'
    expect_out_line "install ok installed"
    expect_out_line "/etc/pam.d/common-session:1"; expect_out_line "/etc/pam.d/common-session-noninteractive:1"
    expect_out_line "root 644 /etc/security/nnp.toml"; expect_out_line "root 755 /etc/security/nnp.d"
    expect_out_line "in-force"
    [ "$(printf '%s\n' "$OUT" | grep -cx enabled)" = 3 ] || fail "machine $m: the three guard units should be enabled"
    json_docs run1
  done
  vm_use 1
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "second run: changed=0 on both machines (idempotent)"
if [ "$SKIPPING" = 0 ]; then
  ensure_deployed base
  fingerprint_all
  deploy base run2
  expect_rc 0
  for m in "${MACHINES[@]}"; do
    expect_recap "m$m" changed 0; expect_recap "m$m" failed 0
    expect_unchanged "$m" "in a run that reported changed=0"
  done
  vm_use 1
  # nothing the role ran changed the stacks: pam-auth-update is not even run
  sed -n '/TASK \[nnp : Run pam-auth-update\]/,/^TASK/p' "$A/run2.log" | grep -qE '^(ok|changed): ' &&
    fail "pam-auth-update ran on the second run"
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "a new rule rolled out in audit mode: logins and setuid work, the guard counts; the reports of both machines collected on the controller"
if [ "$SKIPPING" = 0 ]; then
  deploy audit run3
  expect_rc 0
  for m in "${MACHINES[@]}"; do
    expect_recap "m$m" failed 0; expect_recap_gt0 "m$m" changed
    vm_use "$m"
    g 'cat /etc/security/nnp.d/20-contractors.toml'; expect_out_line 'mode = "audit"'
    probe_as carol; expect_out_line "NNP=0 EUID=0"        # audit: nothing set, nothing refused
    unit_as carol "$SUID -u"; expect_out_line 0            # the guard only counts
    probe_as alice; expect_out_line "NNP=1 EUID=1001"      # the enforced rule still holds
  done
  vm_use 1
  rm -rf "$A/reports"
  play_as report report.yml -e nnp_report_dir="$A/reports"
  expect_rc 0
  for m in "${MACHINES[@]}"; do
    f=$A/reports/m$m.json
    LAST_CMD="python3 (read $f)"
    OUT=$(python3 - "$f" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "nnp.guard-report/1", r["schema"]
rows = [e for e in r["entries"] if e["user"] == "carol" and e["action"] == "would-refuse"
        and e["file"] == "/usr/local/bin/suid-id" and e["rule"].startswith("/etc/security/nnp.d/20-contractors.toml:")]
print("rows", len(rows), "would_refuse", r["would_refuse"])
assert rows and rows[0]["count"] >= 1, r
PY
)
    RC=$?
    [ "$RC" = 0 ] || fail "machine $m: the collected report should list carol's would-refuse exec of $SUID under 20-contractors.toml"
    expect_valid_json "$f"
  done
  grep -q 'would be refused' "$A/report.log" || { OUT=$(tail -n 30 "$A/report.log"); fail "report.yml should summarise each host"; }
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "the rule enforced: the guard reloaded by the handler, in force after; carol gets NNP, her setuid exec refused outside a session"
if [ "$SKIPPING" = 0 ]; then
  deploy enforce run4
  expect_rc 0
  grep -q 'RUNNING HANDLER \[nnp : Reload the nnp guard\]' "$A/run4.log" || fail "the config change should notify the reload handler"
  for m in "${MACHINES[@]}"; do
    expect_recap "m$m" failed 0; expect_recap_gt0 "m$m" changed
    vm_use "$m"
    g 'grep -c "^mode" /etc/security/nnp.d/20-contractors.toml; nnpctl guard status'
    expect_out_line 0; expect_rc 0
    probe_as carol; expect_out_line "NNP=1 EUID=1003"
    unit_as carol "$SUID -u"; expect_out_match 'Operation not permitted'
    json_docs run4
    # the metrics timer the role enabled (nnp_metrics_timer_enabled), its service run now:
    # node_exporter's textfile says the guard is in force, and promtool accepts it
    g 'systemctl is-enabled nnp-metrics.timer; systemctl is-active nnp-metrics.timer; systemctl start nnp-metrics.service && cat /var/lib/prometheus/node-exporter/nnp.prom'
    expect_rc 0; expect_out_line enabled; expect_out_line active; expect_out_line 'nnp_guard_in_force 1'
    printf '%s\n' "$OUT" | grep -E '^(# (HELP|TYPE) )?nnp_' > "$A/m$m.prom"
    why=$("$PROMTOOL" check metrics < "$A/m$m.prom" 2>&1) || fail "machine $m: promtool check metrics on nnp.prom: $why"
  done
  echo "# $JSON_DOCS JSON outputs of the machines validated against docs/schema/"
  vm_use 1
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "--check --diff: shows the diff of a pending change and changes nothing"
if [ "$SKIPPING" = 0 ]; then
  ensure_deployed enforce
  fingerprint_all
  play_as check site.yml --check --diff -e @"$A/checkmode.yml"
  expect_rc 0
  grep -qF '+notice = "This session runs with no_new_privs."' "$A/check.log" || fail "the diff should show the new notice line"
  grep -q '30-oncall.toml' "$A/check.log" || fail "the diff should show the new drop-in"
  for m in "${MACHINES[@]}"; do
    expect_recap "m$m" failed 0; expect_recap_gt0 "m$m" changed
    expect_unchanged "$m" "under --check"
    g 'test -e /etc/security/nnp.d/30-oncall.toml'; expect_rc 1
  done
  vm_use 1
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "a broken config: validate stops it on the first batch (serial 1, max_fail_percentage 0); no host changes, the second is never touched"
if [ "$SKIPPING" = 0 ]; then
  ensure_deployed enforce
  fingerprint_all
  play_as broken site.yml -e @"$A/broken.yml" -e nnp_serial=1
  [ "$RC" != 0 ] || fail "the play should fail"
  grep -q 'failed to validate' "$A/broken.log" || fail "validate should be what stopped it"
  grep -qE '/etc/security/nnp\.d/30-broken\.toml:[0-9]+:1: unknown key \\?"grups' "$A/broken.log" ||
    fail "the validate error should name the drop-in's real path, line and column"
  expect_recap m1 failed 1; expect_recap m1 changed 0
  [ -z "$(recap m2 ok)" ] || fail "the second batch (m2) should not have run"
  for m in "${MACHINES[@]}"; do
    expect_unchanged "$m" "although its config did not validate"
    g 'ls /etc/security/nnp.d/; ls /run | grep -c nnp-check'; expect_no_out_match '30-broken'; expect_out_line 0
  done
  vm_use 1
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "restricted users' ssh logins on each machine: NNP 1, setuid refused (sudo too); the control user's setuid works"
if [ "$SKIPPING" = 0 ]; then
  ensure_deployed enforce
  for m in "${MACHINES[@]}"; do
    vm_use "$m"
    probe_as alice; expect_out_line "NNP=1 EUID=1001"
    probe_as carol; expect_out_line "NNP=1 EUID=1003"
    gssh carol 'sudo -n id -u'; expect_rc 1; expect_out_match 'The "no new privileges" flag is set'
    probe_as bob; expect_out_line "NNP=0 EUID=0"      # control: the setuid probe works for bob
    gssh bob 'sudo -n id -u'; expect_out_line 0
  done
  vm_use 1
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "why a validate helper: plain 'nnpctl check --config %s' passes on Ansible's temp file as root, fails under become (the temp dir is the user's); the role's helper passes both"
if [ "$SKIPPING" = 0 ]; then
  ensure_deployed enforce
  adhoc() {  # adhoc LOG ARGS... — an ad-hoc module run on m1
    local log=$1; shift
    LAST_CMD="ansible m1 $*"
    (cd "$ANS" && timeout 300 ansible -i "$A/inventory.yml" m1 "$@") > "$A/$log.log" 2>&1 < /dev/null
    RC=$?; OUT=$(tail -n 15 "$A/$log.log"); ERR=""
  }
  probe=(-e '{"probe": "[[rule]]\nusers = [\"nobody\"]\nnnp = false\n"}')
  adhoc x "${probe[@]}" -m ansible.builtin.copy -a "content={{ probe }} dest=/etc/security/nnp.d/90-probe.toml owner=root group=root mode=0644 validate='nnpctl check --config %s'"
  expect_rc 0
  g 'rm -f /etc/security/nnp.d/90-probe.toml'
  adhoc x -e ansible_user=bob -b "${probe[@]}" -m ansible.builtin.copy -a "content={{ probe }} dest=/etc/security/nnp.d/90-probe.toml owner=root group=root mode=0644 validate='nnpctl check --config %s'"
  expect_rc 2; expect_out_match 'untrusted|/home/bob'
  g 'test -e /etc/security/nnp.d/90-probe.toml'; expect_rc 1
  adhoc x -e ansible_user=bob -b "${probe[@]}" -m ansible.builtin.copy -a "content={{ probe }} dest=/etc/security/nnp.d/90-probe.toml owner=root group=root mode=0644 validate='/usr/local/sbin/nnp-check-candidate %s /etc/security/nnp.d/90-probe.toml'"
  expect_rc 0
  g 'rm -f /etc/security/nnp.d/90-probe.toml; rm -rf /home/bob/.ansible'
fi
case_end

# ---------------------------------------------------------------------------------------
case_begin "the controller keeps nothing: no ~/.ansible, no ~/.cache/ansible-compat, nothing new in deploy/ansible"
if [ "$SKIPPING" = 0 ]; then
  LAST_CMD="ls -d ~/.ansible ~/.cache/ansible-compat; git status deploy/ansible"
  [ "$HOME_ANSIBLE_BEFORE" = "$(ls -d "$HOME/.ansible" "$HOME/.cache/ansible-compat" 2>/dev/null)" ] ||
    fail "ansible wrote to $HOME (~/.ansible or ~/.cache/ansible-compat)"
  OUT=$(git -C "$NNP_ROOT" status --porcelain --ignored -- deploy/ansible 2>&1)
  [ -z "$OUT" ] || fail "files left in deploy/ansible"
fi
case_end

if [ "$MACHINES_UP" = 1 ]; then for m in "${MACHINES[@]}"; do vm_use "$m"; vm_halt; done; fi
echo "# ansible: $((SECONDS - START)) s"
finish
