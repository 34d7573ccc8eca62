# tests/machine/vm.sh — boot the Debian 12 test machine under qemu and talk to it over ssh.
# Sourced by tests/e2e/machine.sh (after tests/lib.sh). One machine per test file: a per-run
# copy-on-write overlay (qcow2) over the cached raw image, so the cache stays clean and every
# boot of the run sees the disk as the previous boot left it.
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
# The LSM list of Debian's kernel with bpf added (what the guard's LSM mode needs), and the
# same list without bpf.
LSM_BPF="lockdown,capability,landlock,yama,apparmor,bpf"
LSM_NO_BPF="lockdown,capability,landlock,yama,apparmor"

vm_cleanup() {
  if [ -n "$VM_PID" ]; then
    kill "$VM_PID" 2>/dev/null
    local i; for i in $(seq 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$VM_PID" 2>/dev/null
    wait "$VM_PID" 2>/dev/null
    VM_PID=""
  fi
  if [ -n "$VM_DIR" ] && [ -d "$VM_DIR" ]; then
    [ -S "$VM_DIR/ctl" ] && ssh -F /dev/null -o ControlPath="$VM_DIR/ctl" -O exit x 2>/dev/null
    rm -rf --one-file-system "$VM_DIR"
  fi
}

# vm_init — build or find the image, make the run directory and the overlay.
vm_init() {
  VM_IMG=$("$NNP_ROOT/tests/machine/image.sh") || { echo "Bail out! cannot build the machine image"; exit 1; }
  VM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nnp-machine.XXXXXX")
  trap 'vm_cleanup' EXIT
  trap 'exit 130' INT TERM HUP PIPE
  T=$VM_DIR   # tests/lib.sh's run() and fail() keep their files here
  cp "$VM_IMG/id_ed25519" "$VM_DIR/key"; chmod 600 "$VM_DIR/key"
  VM_KEY=$VM_DIR/key
  _vm_ssh_opts
  qemu-img create -q -f qcow2 -b "$VM_IMG/disk.img" -F raw "$VM_DIR/run.qcow2" || { echo "Bail out! qemu-img"; exit 1; }
}

_vm_free_port() {
  local p
  while :; do
    p=$(( (RANDOM % 30000) + 20000 ))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# vm_boot [LSM-LIST] — boot and wait until root can run a command over ssh (3 min at most).
# The default LSM list has bpf.
vm_boot() {
  local lsm=${1:-$LSM_BPF}
  [ -z "$VM_PID" ] || { echo "Bail out! vm_boot: a machine is already running"; exit 1; }
  VM_BOOTS=$((VM_BOOTS + 1))
  VM_PORT=$(_vm_free_port)
  VM_APPEND="root=/dev/vda rw console=ttyS0 lsm=$lsm"
  local t0=$SECONDS
  # -no-reboot: a reboot inside the guest ends qemu; vm_reboot starts the next boot, possibly
  # with another kernel command line.
  qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$VM_IMG/vmlinuz" -initrd "$VM_IMG/initrd.img" -append "$VM_APPEND" \
    -drive file="$VM_DIR/run.qcow2",if=virtio,format=qcow2 \
    -netdev user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:$VM_PORT-:22 -device virtio-net-pci,netdev=n \
    < /dev/null > "$VM_DIR/console-$VM_BOOTS.log" 2>&1 &
  VM_PID=$!
  local i
  for i in $(seq 180); do
    if ! kill -0 "$VM_PID" 2>/dev/null; then
      wait "$VM_PID" 2>/dev/null; VM_PID=""
      echo "# qemu ended during boot $VM_BOOTS; console:"; tail -n 30 "$VM_DIR/console-$VM_BOOTS.log" | tr -d '\r' | sed 's/^/#   /'
      return 1
    fi
    if timeout 10 ssh "${VM_SSH[@]}" -o ConnectTimeout=3 -p "$VM_PORT" root@127.0.0.1 true 2>/dev/null; then
      echo "# boot $VM_BOOTS (lsm=$lsm): ssh after $((SECONDS - t0)) s"
      return 0
    fi
    sleep 1
  done
  echo "# boot $VM_BOOTS: no ssh after $((SECONDS - t0)) s; console:"; tail -n 30 "$VM_DIR/console-$VM_BOOTS.log" | tr -d '\r' | sed 's/^/#   /'
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
  timeout 20 ssh "${VM_SSH[@]}" -o ControlPath="$VM_DIR/ctl" -p "$VM_PORT" root@127.0.0.1 'systemctl poweroff' >/dev/null 2>&1
  local i
  for i in $(seq 600); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$VM_PID" 2>/dev/null; then
    echo "# the guest did not power off in 60 s; killing qemu"
    kill "$VM_PID"
  fi
  wait "$VM_PID" 2>/dev/null
  VM_PID=""
  [ -S "$VM_DIR/ctl" ] && ssh -F /dev/null -o ControlPath="$VM_DIR/ctl" -O exit x 2>/dev/null
  rm -f "$VM_DIR/ctl"
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
  timeout 120 ssh "${VM_SSH[@]}" -o ControlMaster=auto -o ControlPath="$VM_DIR/ctl" -o ControlPersist=120 \
    -p "$VM_PORT" root@127.0.0.1 "$*" > "$T/out" 2> "$T/err" < /dev/null
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  return $RC
}
# gq CMD — g, output to our stdout (for setup steps whose output only matters on failure)
gq() { g "$@"; local rc=$RC; [ $rc = 0 ] || { echo "# guest command failed ($rc): $*"; printf '%s\n' "$OUT" "$ERR" | tail -n 20 | sed 's/^/#   /'; }; return $rc; }
# gput LOCAL REMOTE — copy a file into the guest
gput() { timeout 120 scp -q "${VM_SSH[@]}" -o ControlPath="$VM_DIR/ctl" -P "$VM_PORT" "$1" "root@127.0.0.1:$2"; }
# gssh USER CMD — a fresh ssh login as USER (no connection sharing: one PAM session each)
gssh() {
  local user=$1; shift
  LAST_CMD="ssh $user@guest: $*"
  timeout 120 ssh "${VM_SSH[@]}" -p "$VM_PORT" "$user@127.0.0.1" "$*" > "$T/out" 2> "$T/err" < /dev/null
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  return $RC
}

# expect_out_line LINE — OUT has exactly that line
expect_out_line() { printf '%s\n' "$OUT" | grep -qxF -- "$1" || fail "expected a line '$1'"; }
expect_out_match() { printf '%s\n' "$OUT$ERR" | grep -qE -- "$1" || fail "expected output matching '$1'"; }
expect_no_out_match() { printf '%s\n' "$OUT$ERR" | grep -qE -- "$1" && fail "unexpected output matching '$1'"; }

# g_wait SECONDS CMD — run CMD in the guest every second until it succeeds
g_wait() {
  local n=$1; shift
  local i
  for i in $(seq "$n"); do g "$@" && return 0; sleep 1; done
  return 1
}


