# tests/machine/vm.sh — boot the Debian 12 test machine under qemu and talk to it over ssh.
# Sourced by tests/e2e/machine.sh (after tests/lib.sh). Each machine has a per-run
# copy-on-write overlay (qcow2) over the cached raw image, so the cache stays clean and every
# boot of the run sees the disk as the previous boot left it.
#
# One machine by default. A file that needs more (tests/e2e/ansible.sh) switches between them
# with vm_use N: every helper below (vm_boot, g, gssh, vm_halt...) acts on the current one,
# whose state is in the VM_* globals; machine 1 keeps the names machine.sh has always used
# (run.qcow2, console-N.log, ctl). vm_start + vm_wait boot several at once.
#
# Host safety: the only network is qemu's user-mode stack with restrict=on (no packet from
# the guest leaves the host) and one forward, 127.0.0.1:PORT -> guest port 22. qemu is
# killed by its pid on exit; the run directory is removed; nothing is mounted, no loop
# device is used.

VM_DIR=""        # the run directory (overlay, console logs, ssh control socket)
VM_IMG=""        # the cached image directory (tests/machine/image.sh)
VM_PID=""        # qemu's pid while a boot runs
VM_PORT=""
VM_BOOTS=0
VM_APPEND=""     # the kernel command line of the running boot
VM_KEY=""
VM_ID=1          # the current machine (vm_use)
VM_CTL=""        # its ssh control socket
VM_T0=""         # when its qemu started (SECONDS)
# the other machines' state while they are not current, by machine number
declare -A _VM_PIDS=() _VM_PORTS=() _VM_BOOTS=() _VM_APPENDS=() _VM_T0S=()
# The LSM list of Debian's kernel with bpf added (what the guard's LSM mode needs), and the
# same list without bpf.
LSM_BPF="lockdown,capability,landlock,yama,apparmor,bpf"
LSM_NO_BPF="lockdown,capability,landlock,yama,apparmor"

vm_cleanup() {
  _VM_PIDS[$VM_ID]=$VM_PID
  local id pid i
  for id in "${!_VM_PIDS[@]}"; do
    pid=${_VM_PIDS[$id]}
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    _VM_PIDS[$id]=""
  done
  VM_PID=""
  if [ -n "$VM_DIR" ] && [ -d "$VM_DIR" ]; then
    local c
    for c in "$VM_DIR"/ctl "$VM_DIR"/ctl-*; do
      [ -S "$c" ] && ssh -F /dev/null -o ControlPath="$c" -O exit x 2>/dev/null
    done
    rm -rf --one-file-system "$VM_DIR"
  fi
}

# vm_use N — make machine N (1, 2, ...) the one the helpers act on. Its overlay is made on
# its first boot. Machine 1 is the current one after vm_init.
vm_use() {
  local n=$1
  [ "$n" = "$VM_ID" ] && return 0
  _VM_PIDS[$VM_ID]=$VM_PID; _VM_PORTS[$VM_ID]=$VM_PORT; _VM_BOOTS[$VM_ID]=$VM_BOOTS
  _VM_APPENDS[$VM_ID]=$VM_APPEND; _VM_T0S[$VM_ID]=$VM_T0
  VM_ID=$n
  VM_PID=${_VM_PIDS[$n]:-}; VM_PORT=${_VM_PORTS[$n]:-}; VM_BOOTS=${_VM_BOOTS[$n]:-0}
  VM_APPEND=${_VM_APPENDS[$n]:-}; VM_T0=${_VM_T0S[$n]:-}
  VM_CTL=$VM_DIR/ctl$(_vm_sfx)
}
# the suffix of machine N's files: "" for machine 1 (the names machine.sh has always used)
_vm_sfx() { [ "$VM_ID" = 1 ] || echo "-$VM_ID"; }
_vm_overlay() { echo "$VM_DIR/run$(_vm_sfx).qcow2"; }
_vm_console() { echo "$VM_DIR/console$(_vm_sfx)-$VM_BOOTS.log"; }

# vm_init — build or find the image, make the run directory and the overlay.
vm_init() {
  VM_IMG=$("$NNP_ROOT/tests/machine/image.sh") || { echo "Bail out! cannot build the machine image"; exit 1; }
  VM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nnp-machine.XXXXXX")
  trap 'vm_cleanup' EXIT
  trap 'exit 130' INT TERM HUP PIPE
  T=$VM_DIR   # tests/lib.sh's run() and fail() keep their files here
  cp "$VM_IMG/id_ed25519" "$VM_DIR/key"; chmod 600 "$VM_DIR/key"
  VM_KEY=$VM_DIR/key
  VM_CTL=$VM_DIR/ctl
  _vm_ssh_opts
  qemu-img create -q -f qcow2 -b "$VM_IMG/disk.img" -F raw "$VM_DIR/run.qcow2" || { echo "Bail out! qemu-img"; exit 1; }
}

_vm_free_port() {
  local p
  while :; do
    p=$(( (RANDOM % 30000) + 20000 ))
    # not one another machine of this run was just given (its qemu may not listen yet)
    [[ " ${_VM_PORTS[*]} " == *" $p "* ]] && continue
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# vm_boot [LSM-LIST] — boot and wait until root can run a command over ssh (3 min at most).
# The default LSM list has bpf.
vm_boot() { vm_start "$@" && vm_wait; }

# vm_start [LSM-LIST] — start qemu for the current machine and return at once (vm_wait
# waits for its ssh). VM_SMP (default 2) is the guest's CPU count.
vm_start() {
  local lsm=${1:-$LSM_BPF}
  [ -z "$VM_PID" ] || { echo "Bail out! vm_boot: a machine is already running"; exit 1; }
  VM_BOOTS=$((VM_BOOTS + 1))
  VM_PORT=$(_vm_free_port)
  _VM_PORTS[$VM_ID]=$VM_PORT
  VM_APPEND="root=/dev/vda rw console=ttyS0 lsm=$lsm"
  local overlay; overlay=$(_vm_overlay)
  if [ ! -e "$overlay" ]; then
    qemu-img create -q -f qcow2 -b "$VM_IMG/disk.img" -F raw "$overlay" || { echo "Bail out! qemu-img"; exit 1; }
  fi
  VM_T0=$SECONDS
  # -no-reboot: a reboot inside the guest ends qemu; vm_reboot starts the next boot, possibly
  # with another kernel command line.
  qemu-system-x86_64 -accel tcg -m 1024 -smp "${VM_SMP:-2}" -nographic -no-reboot \
    -kernel "$VM_IMG/vmlinuz" -initrd "$VM_IMG/initrd.img" -append "$VM_APPEND" \
    -drive file="$overlay",if=virtio,format=qcow2 \
    -netdev user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:$VM_PORT-:22 -device virtio-net-pci,netdev=n \
    < /dev/null > "$(_vm_console)" 2>&1 &
  VM_PID=$!
  _VM_PIDS[$VM_ID]=$VM_PID
}

# vm_wait — wait until root can run a command over ssh in the current machine (3 min at
# most from its start).
vm_wait() {
  local i name="boot $VM_BOOTS"
  [ "$VM_ID" = 1 ] || name="machine $VM_ID boot $VM_BOOTS"
  for i in $(seq 180); do
    if ! kill -0 "$VM_PID" 2>/dev/null; then
      wait "$VM_PID" 2>/dev/null; VM_PID=""; _VM_PIDS[$VM_ID]=""
      echo "# qemu ended during $name; console:"; tail -n 30 "$(_vm_console)" | tr -d '\r' | sed 's/^/#   /'
      return 1
    fi
    if timeout 10 ssh "${VM_SSH[@]}" -o ConnectTimeout=3 -p "$VM_PORT" root@127.0.0.1 true 2>/dev/null; then
      echo "# $name ($(vm_running_lsm | sed 's/^/lsm=/')): ssh after $((SECONDS - VM_T0)) s"
      return 0
    fi
    [ $((SECONDS - VM_T0)) -ge 180 ] && break
    sleep 1
  done
  echo "# $name: no ssh after $((SECONDS - VM_T0)) s; console:"; tail -n 30 "$(_vm_console)" | tr -d '\r' | sed 's/^/#   /'
  return 1
}

# ssh options for every connection; root's connections share one master (fast commands),
# users' logins never do (each is a fresh PAM session, which is what the tests are about).
VM_SSH=()
_vm_ssh_opts() {
  VM_SSH=(-F /dev/null -i "$VM_KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o BatchMode=yes -o LogLevel=ERROR -o ServerAliveInterval=5 -o ServerAliveCountMax=6)
}

# vm_halt — power the guest off and wait for qemu to end (60 s, then kill it).
vm_halt() {
  [ -n "$VM_PID" ] || return 0
  timeout 20 ssh "${VM_SSH[@]}" -o ControlPath="$VM_CTL" -p "$VM_PORT" root@127.0.0.1 'systemctl poweroff' >/dev/null 2>&1
  local i
  for i in $(seq 600); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$VM_PID" 2>/dev/null; then
    echo "# the guest did not power off in 60 s; killing qemu"
    kill "$VM_PID"
  fi
  wait "$VM_PID" 2>/dev/null
  VM_PID=""; _VM_PIDS[$VM_ID]=""
  [ -S "$VM_CTL" ] && ssh -F /dev/null -o ControlPath="$VM_CTL" -O exit x 2>/dev/null
  rm -f "$VM_CTL"
}

# vm_reboot [LSM-LIST] — a clean shutdown, then a boot (with that LSM list).
vm_reboot() { vm_halt; vm_boot "$@"; }

# vm_running_lsm — the LSM list the running boot was given ("" when not running)
vm_running_lsm() { [ -n "$VM_PID" ] && sed -n 's/.*lsm=\([^ ]*\).*/\1/p' <<< "$VM_APPEND"; }

# vm_ensure [LSM-LIST] — a running machine booted with that LSM list (boot or reboot as needed)
vm_ensure() {
  local lsm=${1:-$LSM_BPF}
  if [ -z "$VM_PID" ]; then vm_boot "$lsm"
  elif [ "$(vm_running_lsm)" != "$lsm" ]; then vm_reboot "$lsm"
  fi
}

# g CMD — run a shell command as root in the guest; OUT/ERR/RC as tests/lib.sh's run()
# (120 s limit). LAST_CMD names it for fail().
g() {
  LAST_CMD="guest# $*"
  timeout 120 ssh "${VM_SSH[@]}" -o ControlMaster=auto -o ControlPath="$VM_CTL" -o ControlPersist=120 \
    -p "$VM_PORT" root@127.0.0.1 "$*" > "$T/out" 2> "$T/err" < /dev/null
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  return $RC
}
# gq CMD — g, output to our stdout (for setup steps whose output only matters on failure)
gq() { g "$@"; local rc=$RC; [ $rc = 0 ] || { echo "# guest command failed ($rc): $*"; printf '%s\n' "$OUT" "$ERR" | tail -n 20 | sed 's/^/#   /'; }; return $rc; }
# gput LOCAL REMOTE — copy a file into the guest
gput() { timeout 120 scp -q "${VM_SSH[@]}" -o ControlPath="$VM_CTL" -P "$VM_PORT" "$1" "root@127.0.0.1:$2"; }
# gssh USER CMD — a fresh ssh login as USER (no connection sharing: one PAM session each)
gssh() {
  local user=$1; shift
  LAST_CMD="ssh $user@guest: $*"
  timeout 120 ssh "${VM_SSH[@]}" -p "$VM_PORT" "$user@127.0.0.1" "$*" > "$T/out" 2> "$T/err" < /dev/null
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  return $RC
}

# guest_users GROUPS USERS SUID — the test accounts in the guest, idempotent: GROUPS as
# "name:gid ...", USERS as "name:uid:group ..." (group may be empty), each with root's ssh key
# and passwordless sudo; a setuid-root copy of id at SUID
guest_users() {
  gq 'set -e
    for gr in '"$1"'; do getent group "${gr%%:*}" >/dev/null || groupadd -g "${gr#*:}" "${gr%%:*}"; done
    : > /etc/sudoers.d/nnp-test
    for u in '"$2"'; do
      IFS=: read -r n uid grp <<< "$u"
      id "$n" >/dev/null 2>&1 || useradd -m -u "$uid" -s /bin/bash ${grp:+-G "$grp"} "$n"
      install -d -o "$n" -g "$n" -m 700 "/home/$n/.ssh"
      install -o "$n" -g "$n" -m 600 /root/.ssh/authorized_keys "/home/$n/.ssh/authorized_keys"
      echo "$n ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers.d/nnp-test
    done
    chmod 440 /etc/sudoers.d/nnp-test
    cp /usr/bin/id '"$3"'; chmod 4755 '"$3"''
}

# expect_out_line LINE — OUT has exactly that line
# (here-strings, not pipes: under pipefail, grep -q leaving early would fail the printf)
expect_out_line() { grep -qxF -- "$1" <<< "$OUT" || fail "expected a line '$1'"; }
# expect_out_match / expect_no_out_match RE — a line of OUT or of ERR matches (the two
# joined by a newline: the last line of one never runs into the first of the other)
expect_out_match() { grep -qE -- "$1" <<< "$OUT"$'\n'"$ERR" || fail "expected output matching '$1'"; }
expect_no_out_match() { grep -qE -- "$1" <<< "$OUT"$'\n'"$ERR" && fail "unexpected output matching '$1'"; }

# gjson NAME CMD — run CMD in the guest (as g); its stdout is nnpctl's JSON (one document or
# one per line): kept as $T/json-NAME.json and validated on the host against docs/schema/
# (tests/validate_json.py). RC is CMD's. JSON_DOCS counts the outputs checked.
JSON_DOCS=0
gjson() {
  local name=$1 rc; shift
  g "$@"; rc=$RC
  printf '%s\n' "$OUT" > "$T/json-$name.json"
  if [ -z "$OUT" ]; then fail "no JSON on stdout ($name)"; else expect_valid_json "$T/json-$name.json"; fi
  JSON_DOCS=$((JSON_DOCS + 1))
  RC=$rc
  return $rc
}

# g_wait SECONDS CMD — run CMD in the guest every second until it succeeds
g_wait() {
  local n=$1; shift
  local i
  for i in $(seq "$n"); do g "$@" && return 0; sleep 1; done
  return 1
}

# machine_deps TOOL... — install what is missing (as root), else skip the whole file
machine_deps() {
  local c missing=0
  for c in "$@"; do command -v "$c" >/dev/null || missing=1; done
  [ "$missing" = 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then "$NNP_ROOT/scripts/install-deps.sh" >/dev/null || { echo "Bail out! install-deps failed"; exit 1; }
  else echo "1..0 # SKIP needs $* (make deps as root)"; exit 0; fi
}

# machine_deb — sets DEB: $NNP_DEB, else the newest nnp_*.deb in the repo root, rebuilt with
# `make deb` when there is none or it is older than the built nnpctl (a stale package would
# test old code)
machine_deb() {
  DEB=${NNP_DEB:-}
  if [ -z "$DEB" ]; then
    DEB=$(ls -t "$NNP_ROOT"/nnp_*_amd64.deb 2>/dev/null | head -n1)
    if [ -z "$DEB" ] || [ "$NNP_ROOT/target/release/nnpctl" -nt "$DEB" ]; then
      make -C "$NNP_ROOT" deb >/dev/null || { echo "Bail out! make deb failed"; exit 1; }
      DEB=$(ls -t "$NNP_ROOT"/nnp_*_amd64.deb | head -n1)
    fi
  fi
  DEB=$(realpath "$DEB")
  echo "# package: $DEB"
}
