# nnp end-to-end test harness: one private mount namespace per test file, with its own
# users, /etc, a throwaway sshd on 127.0.0.1, and TAP-style reporting. Sourced by every
# tests/e2e/*.sh file.
#
# Two styles:
#  - one environment per case (fixture_setup + run_case): the file's setup builds a fixture
#    once (users, keys, artefacts, sshd) on an /etc that is an overlay over the host's;
#    run_case NAME FUNCTION then runs FUNCTION in a subshell over fresh overlays (tmpfs
#    uppers) of /etc, /run, /var/log and $T, kills what the case left and unmounts the
#    overlays, so a case can neither see nor leave state. tests/run.sh FILE CASE builds the
#    fixture and runs only that case's function.
#  - the older style (ns_setup + case_begin ... case_end): one shared environment for the
#    whole file, /etc/pam.d, /etc/security, passwd... bind-mounted from the temp dir.
#
# Host safety: nothing here writes to the host's /etc; all mounts live in the private
# namespace and vanish with it; sshd and every process of a test user are killed on exit;
# the temp dir is removed.
set -uo pipefail

NNP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NNP_BIN=${NNP_BIN:-$NNP_ROOT/target/release}
MODULE=${NNP_MODULE:-$NNP_BIN/libpam_nnp.so}
NNP_SHELL=$NNP_BIN/nnp-shell
NNP_SHELL_HELPER=$NNP_BIN/nnp-shell-helper
# Where nnp-shell runs its shell chooser: the path compiled into it (see nnp-shell(8)).
HELPER_PATH=${NNP_HELPER_PATH:-/usr/lib/nnp/nnp-shell-helper}
NNPCTL=$NNP_BIN/nnpctl

# Test users live in an unusual uid range so cleanup (pkill -U) cannot hit a real user.
UID_BASE=61000
declare -A TEST_UID=()

# Re-exec the calling test file inside a private mount namespace.
ns_enter() {
  if [ -z "${NNP_IN_NS:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "1..0 # SKIP end-to-end tests need root (run make test as root)"
      exit 0
    fi
    export NNP_IN_NS=1
    NNP_HOST_MNTNS=$(readlink /proc/self/ns/mnt)
    export NNP_HOST_MNTNS
    # fd 9: the host's /etc, for host_fingerprint (overlays mounted later do not hide it)
    exec 9</etc
    exec unshare -m --propagation private -- bash "$0" "$@"
  fi
}

# True only inside the private mount namespace ns_enter made. Every mount and umount in
# this harness is guarded by it, so a test run without ns_enter can never touch the host's
# mounts (an unguarded `umount -l /dev` on the host detaches the machine's /dev).
in_private_ns() {
  [ -n "${NNP_HOST_MNTNS:-}" ] && [ "$(readlink /proc/self/ns/mnt)" != "$NNP_HOST_MNTNS" ]
}
require_private_ns() {
  if ! in_private_ns; then
    echo "Bail out! not in a private mount namespace (call ns_enter first); refusing to mount"
    exit 1
  fi
}

T=""
# fixture_setup: $TOP holds $T (the temp dir a case sees, overlaid per case), log/ (sshd and
# syslog logs, shared by the fixture's daemons), fx/ (upper layer of the fixture's /etc) and
# case/ (the tmpfs holding a case's upper layers). Empty in the older style ($T is the root).
TOP=""
ETC_OVERLAY=0
SSHD_LOG=""; SSHD_LOG_OFF=0
SYSLOG=""; SYSLOG_OFF=0
IN_CASE=0
FIXTURE_SSHD_PID=""
DEV_MOVED=0
ETC_BOUND=0
SSHD_PID=""
PORT=""
FAILS=0
COUNT=0

EXTRA_CLEANUP=""
cleanup() {
  local rc=$?
  [ -n "$EXTRA_CLEANUP" ] && eval "$EXTRA_CLEANUP"
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null
  [ -n "$SYSLOG_PID" ] && kill "$SYSLOG_PID" 2>/dev/null
  [ -n "$SYSLOG" ] && pkill -f "$SYSLOG" 2>/dev/null
  local u
  for u in "${TEST_UID[@]}"; do pkill -KILL -U "$u" 2>/dev/null; done
  [ -n "$TOP" ] && kill_test_users
  [ -n "$SSHD_PID" ] && wait "$SSHD_PID" 2>/dev/null
  local i
  for i in $(seq 50); do
    local left=0
    for u in "${TEST_UID[@]}"; do pgrep -U "$u" >/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  local root=${TOP:-$T}
  if [ -n "$root" ] && [ -d "$root" ]; then
    if in_private_ns; then
      # The mounts die with the namespace; unmount first so rm does not see busy files.
      [ "$DEV_MOVED" = 1 ] && umount -l /dev 2>/dev/null
      [ "$ETC_BOUND" = 1 ] && umount /etc/pam.d /etc/security /etc/passwd /etc/group /etc/shadow /etc/sudoers /etc/shells 2>/dev/null
      # a case interrupted: its overlays (the /etc one is on top of the fixture's)
      [ -n "$TOP" ] && findmnt -rn -o TARGET | grep -qxF "$TOP/case" && case_env_down
      [ "$ETC_OVERLAY" = 1 ] && umount -l /etc 2>/dev/null
      # anything still mounted below the temp dir (tmpfs upper layers...), deepest first
      findmnt -rn -o TARGET | grep -F "$root/" | sort -r | while read -r m; do umount -l "$m"; done
    fi
    rm -rf --one-file-system "$root"
  fi
  return $rc
}

# Build the temp /etc and mount it over the real one (inside the namespace only).
ns_setup() {
  require_private_ns
  T=$(mktemp -d /tmp/nnp-e2e.XXXXXX)
  chmod 755 "$T"
  SSHD_LOG=$T/sshd.log; SYSLOG=$T/syslog.txt
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP PIPE
  mkdir -p "$T/etc" "$T/home" "$T/bin" "$T/keys" "$T/run"
  cp /etc/passwd /etc/group /etc/shadow /etc/shells "$T/etc/"
  [ -f /etc/sudoers ] && cp /etc/sudoers "$T/etc/sudoers" || : > "$T/etc/sudoers"
  chmod 440 "$T/etc/sudoers"
  cp -a /etc/pam.d "$T/etc/pam.d"
  mkdir -p "$T/etc/security"
  [ -d /etc/security ] && cp -a /etc/security/. "$T/etc/security/"
  rm -rf "$T/etc/security/nnp.toml" "$T/etc/security/nnp.d"
  chmod 755 "$T/etc/security" "$T/etc/pam.d"
  local f
  ETC_BOUND=1
  for f in passwd group shadow sudoers shells; do mount --bind "$T/etc/$f" "/etc/$f"; done
  mount --bind "$T/etc/pam.d" /etc/pam.d
  mount --bind "$T/etc/security" /etc/security
  setup_common
}

# fixture_setup — the fixture of a file whose cases are functions run by run_case: the temp
# dir, /etc as an overlay on the host's /etc (tmpfs upper: writes never reach the host; where
# overlay_system already made /etc an overlay, that one), fresh /run and /var/log, the probe,
# the module, keys. A case then sees all of it through its own overlays (run_case).
fixture_setup() {
  require_private_ns
  TOP=$(mktemp -d /tmp/nnp-e2e.XXXXXX)
  chmod 755 "$TOP"
  T=$TOP/t
  SSHD_LOG=$TOP/log/sshd.log; SYSLOG=$TOP/log/syslog.txt
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP PIPE
  mkdir -p "$T/home" "$T/bin" "$T/keys" "$T/run" "$TOP/log" "$TOP/fx" "$TOP/case"
  chmod 755 "$T"
  if [ -z "$OV" ]; then
    mount -t tmpfs -o mode=755 nnp-fx "$TOP/fx"
    mkdir -p "$TOP/fx/etc.up" "$TOP/fx/etc.work"
    ETC_OVERLAY=1
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$TOP/fx/etc.up,workdir=$TOP/fx/etc.work" /etc
  fi
  if [ "$(findmnt -no FSTYPE /etc)" != overlay ]; then
    echo "Bail out! /etc is not an overlay; refusing to write to it"; exit 1
  fi
  [ -f /etc/sudoers ] || : > /etc/sudoers
  chmod 440 /etc/sudoers
  mkdir -p /etc/security
  rm -rf /etc/security/nnp.toml /etc/security/nnp.d
  chmod 755 /etc/security /etc/pam.d
  setup_common
}

# What ns_setup and fixture_setup share: /run, /var/log, the probe, the module, the keys.
setup_common() {
  # Fresh /run and /var/log: sshd's privsep dir, utmp/wtmp/lastlog records of the test
  # logins and sudo's timestamps stay in the namespace.
  mount -t tmpfs -o mode=755 nnp-run /run
  mkdir -p /run/sshd /run/lock
  chmod 1777 /run/lock
  install -m 664 -g utmp /dev/null /run/utmp
  mount -t tmpfs -o mode=755 nnp-log /var/log
  install -m 664 -g utmp /dev/null /var/log/wtmp
  install -m 660 -g utmp /dev/null /var/log/btmp
  install -m 664 -g utmp /dev/null /var/log/lastlog
  install_probe
  # The module under its installed name: pam_syslog's prefix is the module's file name.
  if [ -f "$MODULE" ] && [ "$(basename "$MODULE")" != pam_nnp.so ]; then
    mkdir -p "$T/security"; cp "$MODULE" "$T/security/pam_nnp.so"; MODULE="$T/security/pam_nnp.so"
  fi
  ssh-keygen -q -t ed25519 -N '' -f "$T/clientkey" -C nnp-test
  ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" -C nnp-test-host
}

# kill_test_users — kill every process whose real or effective uid is a test uid
# (UID_BASE .. UID_BASE+999), including users a case added itself; wait until none is left
# (zombies aside: they hold nothing, and whoever adopted them reaps them in its own time).
test_user_pids() {
  ps -e -o pid=,ruid=,euid=,stat= | awk -v lo="$UID_BASE" -v hi=$((UID_BASE + 1000)) \
    '(($2 >= lo && $2 < hi) || ($3 >= lo && $3 < hi)) && $4 !~ /^Z/ { print $1 }'
}
kill_test_users() {
  local i pids
  for i in $(seq 100); do
    pids=$(test_user_pids)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.05
  done
  return 1
}

# install_probe — $T/bin/suid-id, a setuid-root copy of id (euid 0 unless NNP stops the
# setuid bit), and $T/bin/probe, which prints "NNP=<bit> EUID=<euid of suid-id>".
install_probe() {
  mkdir -p "$T/bin"
  cp /usr/bin/id "$T/bin/suid-id"
  chmod 4755 "$T/bin/suid-id"
  cat > "$T/bin/probe" <<'PROBE'
#!/bin/sh
# Prints the NNP bit of this process and the euid a setuid-root binary gets.
nnp=$(awk '/^NoNewPrivs:/ {print $2}' /proc/self/status)
echo "NNP=$nnp EUID=$(SUID_ID -u)"
PROBE
  sed -i "s|SUID_ID|$T/bin/suid-id|" "$T/bin/probe"
  chmod 755 "$T/bin/probe"
}

# The rules most tests use: dave exempt by name, then everyone in group restricted.
GROUP_RULE='[[rule]]
groups = ["restricted"]
nnp = true'
EXEMPT_DAVE='[[rule]]
users = ["dave"]
nnp = false'

# add_group NAME GID
add_group() { echo "$1:x:$2:" >> /etc/group; }

# add_user NAME UID [SUPPLEMENTARY_GROUP...] — primary group of the same name
add_user() {
  local name=$1 uid=$2; shift 2
  TEST_UID[$name]=$uid
  add_group "$name" "$uid"
  local shell=${USER_SHELL:-/bin/bash}
  echo "$name:x:$uid:$uid:nnp test user:$T/home/$name:$shell" >> /etc/passwd
  echo "$name:*:19000:0:99999:7:::" >> /etc/shadow
  local g
  for g in "$@"; do
    # append the user to the member list of group g (write in place: /etc/group is a mount)
    awk -F: -v OFS=: -v g="$g" -v u="$name" '$1==g { $4 = ($4=="" ? u : $4 "," u) } 1' /etc/group > "$T/group.new"
    cat "$T/group.new" > /etc/group
  done
  mkdir -p "$T/home/$name"
  chown "$uid:$uid" "$T/home/$name"
  if [ -f "$T/clientkey.pub" ]; then mkdir -p "$T/keys"; cp "$T/clientkey.pub" "$T/keys/$name"; fi
}

# The standard cast: restricted group, alice (restricted), bob (control), carol (uid range),
# dave (restricted but exempted by name in some configs).
standard_users() {
  add_group restricted $((UID_BASE + 100))
  add_user alice $((UID_BASE + 1)) restricted
  add_user bob $((UID_BASE + 2))
  add_user carol $((UID_BASE + 500))
  add_user dave $((UID_BASE + 4)) restricted
}

# usr_lib_writable — make /usr/lib writable inside the namespace: an overlay whose upper
# layer is a tmpfs, so nothing reaches the host's /usr. Nothing to do where overlay_system
# already overlays /usr.
ULIB=""
usr_lib_writable() {
  require_private_ns
  { [ -n "$OV" ] || [ -n "$ULIB" ]; } && return 0
  ULIB="${TOP:-$T}/usr-lib"
  mkdir -p "$ULIB"
  mount -t tmpfs -o mode=755 nnp-usr-lib "$ULIB"
  mkdir -p "$ULIB/up" "$ULIB/work"
  mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$ULIB/up,workdir=$ULIB/work" /usr/lib
  if [ "$(findmnt -no FSTYPE /usr/lib)" != overlay ]; then
    echo "Bail out! /usr/lib is not an overlay; refusing to install into it"; exit 1
  fi
  EXTRA_CLEANUP="${EXTRA_CLEANUP:+$EXTRA_CLEANUP; }umount -l /usr/lib 2>/dev/null"
}

# install_nnp_shell — nnp-shell at $T/bin/nnp-shell, listed in /etc/shells, and its shell
# chooser at the path compiled into it (on the namespace's /usr/lib overlay).
install_nnp_shell() {
  install -m 0755 "$NNP_SHELL" "$T/bin/nnp-shell"
  grep -qxF "$T/bin/nnp-shell" /etc/shells || echo "$T/bin/nnp-shell" >> /etc/shells
  usr_lib_writable
  install -D -m 0755 -o root -g root "$NNP_SHELL_HELPER" "$HELPER_PATH"
}

# nnp_shell_cast — nnp-shell installed and in /etc/shells; sam (restricted group) has it as
# login shell, bob (the control) has bash; S is sam's uid; sshd's stack has no pam_nnp.
nnp_shell_cast() {
  install_nnp_shell
  add_group restricted $((UID_BASE + 100))
  USER_SHELL="$T/bin/nnp-shell" add_user sam $((UID_BASE + 10)) restricted
  add_user bob $((UID_BASE + 2))
  S=$((UID_BASE + 10))
  write_plain_stack sshd
}

# write_config TEXT — /etc/security/nnp.toml, root-owned 0644
write_config() {
  printf '%s\n' "$1" > /etc/security/nnp.toml
  chown root:root /etc/security/nnp.toml
  chmod 644 /etc/security/nnp.toml
}

# write_stack SERVICE [MODULE ARGS...] — a minimal stack with pam_nnp in the session phase
write_stack() {
  local svc=$1; shift
  cat > "/etc/pam.d/$svc" <<STACK
auth     required pam_permit.so
account  required pam_permit.so
password required pam_permit.so
session  required pam_permit.so
session  required $MODULE $*
STACK
}

# write_stack_probe SERVICE [MODULE ARGS...] — write_stack, then pam_exec printing the
# NoNewPrivs line that the session's children inherit
write_stack_probe() {
  write_stack "$@"
  echo "session  optional pam_exec.so stdout /bin/grep NoNewPrivs /proc/self/status" >> "/etc/pam.d/$1"
}

# write_plain_stack SERVICE — no pam_nnp at all
write_plain_stack() {
  cat > "/etc/pam.d/$1" <<'STACK'
auth     required pam_permit.so
account  required pam_permit.so
password required pam_permit.so
session  required pam_permit.so
STACK
}

# ns_syslog — give the namespace its own /dev (a tmpfs with the usual nodes bound in) and a
# datagram socket at /dev/log whose messages are appended, one per line, to $T/syslog.txt.
SYSLOG_PID=""
ns_syslog() {
  require_private_ns
  local dev=${TOP:-$T}/dev
  mkdir -p "$dev"
  mount -t tmpfs -o mode=755 nnp-dev "$dev"
  local n
  for n in null zero full random urandom tty ptmx; do
    touch "$dev/$n"; mount --bind "/dev/$n" "$dev/$n"
  done
  mkdir -p "$dev/pts" "$dev/shm"
  mount --bind /dev/pts "$dev/pts"
  [ -d /dev/shm ] && mount --bind /dev/shm "$dev/shm"
  ln -s /proc/self/fd "$dev/fd"
  ln -s /proc/self/fd/0 "$dev/stdin"; ln -s /proc/self/fd/1 "$dev/stdout"; ln -s /proc/self/fd/2 "$dev/stderr"
  : > "$SYSLOG"
  python3 - "$dev/log" "$SYSLOG" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).replace(b"\n", b"\\n") + b"\n")
PY
  SYSLOG_PID=$!
  local i
  for i in $(seq 50); do [ -S "$dev/log" ] && break; sleep 0.1; done
  DEV_MOVED=1
  mount --move "$dev" /dev
}

# case_syslog — the syslog lines of the running case (all of them in the older style)
case_syslog() { tail -c +$((SYSLOG_OFF + 1)) "$SYSLOG" 2>/dev/null; }
# case_sshd_log — likewise for sshd's log
case_sshd_log() { tail -c +$((SSHD_LOG_OFF + 1)) "$SSHD_LOG" 2>/dev/null; }

# wait_log PATTERN [COUNT] — wait (up to 5 s) until the syslog (case_syslog) has COUNT
# (default 1) lines matching the extended regex PATTERN; the listener writes asynchronously.
wait_log() {
  local i n=${2:-1}
  for i in $(seq 50); do
    [ "$(case_syslog | grep -acE -- "$1")" -ge "$n" ] && return 0
    sleep 0.1
  done
  return 1
}

free_port() {
  local p
  while :; do
    p=$(( (RANDOM % 30000) + 20000 ))
    if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
}

# start_sshd [EXTRA -o OPTIONS...] — in a case (run_case), an sshd of the case's own,
# killed when the case ends; the fixture's keeps running.
start_sshd() {
  require_private_ns
  PORT=$(free_port)
  [ "$IN_CASE" = 1 ] || : > "$SSHD_LOG"
  /usr/sbin/sshd -D -f /dev/null -E "$SSHD_LOG" \
    -o ListenAddress=127.0.0.1 -o Port="$PORT" \
    -o HostKey="$T/hostkey" -o PidFile="$T/run/sshd.pid" \
    -o UsePAM="${SSHD_USEPAM:-yes}" -o AuthorizedKeysFile="$T/keys/%u" -o StrictModes=no \
    -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
    -o PermitRootLogin=no -o PrintMotd=no -o PrintLastLog=no -o LogLevel=VERBOSE \
    -o Subsystem="${SSHD_SUBSYSTEM:-sftp /usr/lib/openssh/sftp-server}" "$@" &
  SSHD_PID=$!
  [ "$IN_CASE" = 1 ] || FIXTURE_SSHD_PID=$SSHD_PID
  local i
  for i in $(seq 100); do
    if ss -Hltn "sport = :$PORT" | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "# sshd did not start; log:"; case_sshd_log | sed 's/^/#   /'
  return 1
}

# restart_sshd [EXTRA -o OPTIONS...] — in a case, the fixture's sshd is left alone (the
# case gets an sshd of its own on another port)
restart_sshd() {
  if [ "$IN_CASE" != 1 ] || [ "$SSHD_PID" != "$FIXTURE_SSHD_PID" ]; then
    kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null
  fi
  SSHD_PID=""
  start_sshd "$@"
}

SSH_OPTS=()
ssh_opts() {
  SSH_OPTS=(-F /dev/null -i "$T/clientkey" -o StrictHostKeyChecking=no
    -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR
    -o ConnectTimeout=10 -p "$PORT")
}

OUT=""; ERR=""; RC=0; LAST_CMD=""
# run CMD... — capture stdout, stderr, exit code (30 s limit). The JSON of an nnpctl
# command run with --json is validated against its schema in docs/schema/ (a mismatch fails
# the case).
run() {
  LAST_CMD="$*"
  timeout 30 "$@" > "$T/out" 2> "$T/err" < /dev/null
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  local a nnpctl=0 json=0
  for a in "$@"; do
    case "$a" in */nnpctl|nnpctl) nnpctl=1 ;; --json) json=1 ;; esac
  done
  if [ "$nnpctl" = 1 ] && [ "$json" = 1 ] && [ -s "$T/out" ]; then
    expect_valid_json "$T/out"
  fi
}

# expect_valid_json FILE — FILE holds nnpctl JSON (one document, or one per line) that
# names its schema and matches it (tests/validate_json.py; needs python3-jsonschema)
# json_py — set JSON_PY to a python3 that has jsonschema (false if none)
JSON_PY=""
json_py() {
  [ -n "$JSON_PY" ] && return 0
  local p
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import jsonschema' 2>/dev/null; then JSON_PY=$p; return 0; fi
  done
  return 1
}
expect_valid_json() {
  if ! json_py; then fail "cannot validate JSON: no python3 with jsonschema (make deps installs python3-jsonschema)"; return; fi
  local why
  why=$("$JSON_PY" "$NNP_ROOT/tests/validate_json.py" "$1" 2>&1) ||
    fail "JSON does not match its schema (docs/schema/): $why"
}

# ssh_as USER [SSH OPTIONS...] -- REMOTE COMMAND
ssh_as() {
  local user=$1; shift
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  ssh_opts
  run ssh "${SSH_OPTS[@]}" "${opts[@]}" "$user@127.0.0.1" "$@"
}

# overlay_system — make /etc, /usr and /var overlays on a throwaway tmpfs (inside the private
# namespace only), so packages can be installed with dpkg without touching the host. Call it
# before ns_setup (which then copies the overlaid /etc). Adds a policy-rc.d that starts nothing.
OV=""
overlay_system() {
  require_private_ns
  OV=$(mktemp -d /tmp/nnp-ov.XXXXXX)
  mount -t tmpfs nnp-ov "$OV"
  local d
  for d in etc usr var; do
    mkdir -p "$OV/$d.up" "$OV/$d.work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$OV/$d.up,workdir=$OV/$d.work" "/$d"
    if [ "$(findmnt -no FSTYPE "/$d")" != overlay ]; then
      echo "Bail out! /$d is not an overlay; refusing to install packages"; exit 1
    fi
  done
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
  EXTRA_CLEANUP="umount -l /etc /usr /var 2>/dev/null; umount -l '$OV' 2>/dev/null; rmdir '$OV' 2>/dev/null"
}

# fetch_debs PKG... — download the packages and the dependencies missing here into
# $NNP_ROOT/target/test-debs (apt-get --download-only: nothing is installed). Echoes the dir.
fetch_debs() {
  local dir="$NNP_ROOT/target/test-debs/$(printf "%s\n" "$@" | sha1sum | cut -c1-12)"
  mkdir -p "$dir/partial"
  local args=(-y -q -o Dir::Cache::archives="$dir" --no-install-recommends)
  if ! apt-get install --download-only "${args[@]}" "$@" > "$dir/apt.log" 2>&1; then
    apt-get update -qq > /dev/null 2>&1
    apt-get install --download-only "${args[@]}" "$@" > "$dir/apt.log" 2>&1 || { cat "$dir/apt.log" >&2; return 1; }
  fi
  echo "$dir"
}

# install_debs PKG... — fetch_debs, then dpkg -i them on the overlays (overlay_system first).
install_debs() {
  local dir
  dir=$(fetch_debs "$@") || { echo "Bail out! cannot download $*"; exit 1; }
  local debs=()
  local f
  for f in "$dir"/*.deb; do debs+=("$f"); done
  [ "$(findmnt -no FSTYPE /usr)" = overlay ] || { echo "Bail out! no overlay on /usr"; exit 1; }
  # twice: a Pre-Depends on a package unpacked in the same run is met only on the second pass
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "${debs[@]}" > "$OV/dpkg.log" 2>&1 ||
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "${debs[@]}" > "$OV/dpkg.log" 2>&1 ||
    { echo "Bail out! dpkg -i failed:"; tail -n 30 "$OV/dpkg.log" | sed 's/^/#   /'; exit 1; }
}

# host_fingerprint — sha256 of the host's nsswitch.conf and PAM stacks, read through the
# descriptor ns_enter opened on the host's /etc, to prove a test left them byte-identical.
host_fingerprint() {
  (cd /proc/self/fd/9 && sha256sum nsswitch.conf pam.d/* 2>/dev/null)
}

# wait_for CMD... — run CMD every 0.1 s until it succeeds (5 s at most): wait for an event,
# never a fixed sleep
wait_for() { local i; for i in $(seq 50); do "$@" && return 0; sleep 0.1; done; return 1; }
# wait_gone_uid UID — until no process of UID is left
wait_gone_uid() { wait_for bash -c "! pgrep -U $1 >/dev/null"; }

# ---- reporting ----
# NNP_CASE (tests/run.sh FILE CASE): run only the cases whose number is CASE or whose name
# contains it; the others are reported as SKIP.
CASE=""
CASE_FAILED=0
SKIPPING=0
NNP_CASE=${NNP_CASE:-}
# case_selected — is case number $COUNT, named $CASE, selected by NNP_CASE?
case_selected() {
  [ -z "$NNP_CASE" ] && return 0
  if [[ "$NNP_CASE" =~ ^[0-9]+$ ]]; then [ "$NNP_CASE" = "$COUNT" ]; else [[ "$CASE" == *"$NNP_CASE"* ]]; fi
}

# run_case NAME FUNCTION — run one case in its own environment:
#  (a) fresh overlays (upper layers on a tmpfs) over /etc, /run, /var/log, $T and, where the
#      fixture made them writable, /usr/lib (usr_lib_writable) or /usr and /var
#      (overlay_system): whatever the case writes there is gone after it;
#  (b) FUNCTION in a subshell (variables do not leak), in a process group of its own;
#  (c) then every process of that group, every other process of the namespace that was not
#      there before the case, and every process of a test user is killed;
#  (d) every mount made since (a) is unmounted, newest first;
#  (e) the TAP line. The case's sshd and syslog lines are those logged after (a).
# A long-lived sshd started by the fixture serves the case: each connection re-execs sshd,
# whose PAM stack, passwd/group lookups, authorized keys and host key are opened by path,
# through the case's overlays (the mounts are in the same namespace); sshd_config is read
# at start only (hence the case's own sshd, start_sshd, for other options).
CASE_MOUNTS_BEFORE=""
run_case() {
  CASE=$1; COUNT=$((COUNT + 1)); CASE_FAILED=0
  local fn=$2 rc
  if ! case_selected; then echo "ok $COUNT - $CASE # SKIP not selected"; return 0; fi
  if [ -z "$TOP" ]; then run_light_case "$fn"; return 0; fi
  if ! case_env_up; then
    echo "# FAIL [$CASE]: cannot set up the case's overlays"; case_env_down
    echo "not ok $COUNT - $CASE"; FAILS=$((FAILS + 1)); return 0
  fi
  CASE_PIDS_BEFORE=$(ns_pids)
  SSHD_LOG_OFF=$(stat -c %s "$SSHD_LOG" 2>/dev/null || echo 0)
  syslog_sync
  SYSLOG_OFF=$(stat -c %s "$SYSLOG" 2>/dev/null || echo 0)
  set -m
  ( set +m; IN_CASE=1; CASE_FAILED=0; "$fn"; exit "$CASE_FAILED" ) &
  local pid=$!
  wait "$pid"; rc=$?
  set +m
  kill -KILL -- "-$pid" 2>/dev/null
  kill_case_leftovers || { echo "# FAIL [$CASE]: processes started by the case survive it"; rc=1; }
  kill_test_users || { echo "# FAIL [$CASE]: processes of test users survive the case"; rc=1; }
  case_env_down || { echo "# FAIL [$CASE]: the case left a mount that cannot be removed"; rc=1; }
  SSHD_LOG_OFF=0; SYSLOG_OFF=0
  if [ "$rc" = 0 ]; then echo "ok $COUNT - $CASE"; else echo "not ok $COUNT - $CASE"; FAILS=$((FAILS + 1)); fi
  return 0
}

# syslog_sync — wait until the syslog listener (ns_syslog) has written every message sent
# before now (a datagram socket keeps their order): a case's syslog starts after it.
syslog_sync() {
  [ -n "$SYSLOG_PID" ] || return 0
  local mark="nnp-e2e sync $COUNT.$RANDOM"
  logger -u /dev/log -t nnp-e2e "$mark" 2>/dev/null || return 0
  local i
  for i in $(seq 500); do grep -qF "$mark" "$SYSLOG" && return 0; sleep 0.01; done
  return 1
}
# ns_pids — the processes in this mount namespace outside the test file's process group
# (the harness's own commands: the case ran in a group of its own); kill_case_leftovers kills
# those that were not there before the case: daemons that left the case's process group
# (sssd makes a group of its own), sessions of the fixture's sshd still closing...
CASE_PIDS_BEFORE=""
ns_pids() {
  ps -e -o pid=,pgid=,mntns= | awk -v ns="$(stat -L -c %i /proc/self/ns/mnt)" \
    -v pg="$(ps -o pgid= -p $$ | tr -d ' ')" '$3 == ns && $2 != pg { print $1 }'
}
kill_case_leftovers() {
  local i left
  for i in $(seq 100); do
    left=$(ns_pids | grep -vxF -f <(printf '%s\n' $CASE_PIDS_BEFORE))
    [ -z "$left" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
    sleep 0.05
  done
  return 1
}

# run_light_case FUNCTION — a file without a fixture (no namespace, no users: journal.sh):
# FUNCTION in a subshell with T a fresh directory of its own, removed after it
run_light_case() {
  local rc dir
  dir=$(mktemp -d "$T/case.XXXXXX") && chmod 755 "$dir" || { echo "not ok $COUNT - $CASE"; FAILS=$((FAILS + 1)); return; }
  set -m
  ( set +m; IN_CASE=1; T=$dir; CASE_FAILED=0; "$1"; exit "$CASE_FAILED" ) &
  local pid=$!
  wait "$pid"; rc=$?
  set +m
  kill -KILL -- "-$pid" 2>/dev/null
  rm -rf --one-file-system "$dir"
  if [ "$rc" = 0 ]; then echo "ok $COUNT - $CASE"; else echo "not ok $COUNT - $CASE"; FAILS=$((FAILS + 1)); fi
}

mount_ids() { awk '{ print $1 }' /proc/self/mountinfo; }
case_env_up() {
  require_private_ns
  CASE_MOUNTS_BEFORE=$(mount_ids)
  mount -t tmpfs -o mode=755 nnp-case "$TOP/case" || return 1
  # parents before children; where overlay_system made /usr and /var overlays, those too
  local d n dirs=(/etc /run /var/log "$T")
  [ -n "$ULIB" ] && dirs+=(/usr/lib)
  [ -n "$OV" ] && dirs=(/etc /usr /var /run /var/log "$T")
  # each lower layer is the fixture's tree, taken (a bind mount) before any overlay hides
  # it: /var/log's is the fixture's tmpfs, not the /var/log of the case's /var overlay
  for n in "${!dirs[@]}"; do
    mkdir -p "$TOP/case/$n.low" "$TOP/case/$n.up" "$TOP/case/$n.work"
    mount --bind "${dirs[$n]}" "$TOP/case/$n.low" || return 1
  done
  for n in "${!dirs[@]}"; do
    d=${dirs[$n]}
    mount -t overlay overlay -o "lowerdir=$TOP/case/$n.low,upperdir=$TOP/case/$n.up,workdir=$TOP/case/$n.work" "$d" || return 1
    [ "$(findmnt -no FSTYPE --mountpoint "$d" | tail -n 1)" = overlay ] || return 1
  done
}
# case_new_mounts — "ID TARGET" of every mount made since case_env_up, newest first
case_new_mounts() {
  awk 'NR == FNR { old[$1] = 1; next } !($1 in old) { print $1, $5 }' \
    <(printf '%s\n' $CASE_MOUNTS_BEFORE) /proc/self/mountinfo | sort -rn
}
# case_env_down — unmount every mount made since case_env_up, newest first (the topmost
# mount on a path is the newest there)
case_env_down() {
  local pass id target
  for pass in 1 2 3; do
    while read -r id target; do
      umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null
    done < <(case_new_mounts)
    [ -z "$(case_new_mounts)" ] && return 0
  done
  return 1
}

# The older style: case_begin NAME ... case_end, in one shared environment. A selected case
# (NNP_CASE) runs; the others' bodies are skipped with bash's extdebug DEBUG trap (a
# non-zero trap status skips the command), set at the first case_begin; setup between cases
# still runs.
_nnp_skip_check() {
  [ "$SKIPPING" = 1 ] || return 0
  # extdebug makes functions inherit the trap: skip only the test file's own commands
  [ "${FUNCNAME[1]:-main}" = main ] || return 0
  case "$BASH_COMMAND" in case_end|case_end\ *|case_begin\ *|finish) return 0 ;; esac
  return 1
}
case_begin() {
  CASE=$1; CASE_FAILED=0; COUNT=$((COUNT + 1)); SKIPPING=0
  if [ -n "$NNP_CASE" ]; then
    if [ "$COUNT" = 1 ]; then shopt -s extdebug; trap '_nnp_skip_check' DEBUG; fi
    case_selected || SKIPPING=1
  fi
}
case_end() {
  if [ "$SKIPPING" = 1 ]; then echo "ok $COUNT - $CASE # SKIP not selected"; SKIPPING=0; return; fi
  if [ "$CASE_FAILED" = 0 ]; then echo "ok $COUNT - $CASE"; else echo "not ok $COUNT - $CASE"; FAILS=$((FAILS + 1)); fi
}

fail() {
  CASE_FAILED=1
  {
    echo "# FAIL [$CASE]: $*"
    echo "#   command: $LAST_CMD"
    echo "#   exit: $RC"
    echo "#   stdout:"; printf '%s\n' "$OUT" | sed 's/^/#     /'
    echo "#   stderr:"; printf '%s\n' "$ERR" | sed 's/^/#     /'
    if [ -n "$(case_sshd_log)" ]; then echo "#   sshd log (last 15 lines):"; case_sshd_log | tail -n 15 | sed 's/^/#     /'; fi
    if [ "$IN_CASE" = 1 ] && [ -n "$(case_syslog)" ]; then echo "#   syslog (last 15 lines):"; case_syslog | tail -n 15 | sed 's/^/#     /'; fi
  }
}

# check that the output contains a line equal to $1
# output without carriage returns and terminal escape sequences (pty sessions)
clean_out() { printf '%s\n' "$OUT" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r'; }
expect_line() {
  if ! clean_out | grep -qxF -- "$1"; then fail "expected a line '$1'"; fi
}
expect_no_line_matching() {
  if clean_out | grep -qE -- "$1"; then fail "unexpected output matching '$1'"; fi
}
expect_rc() { if [ "$RC" != "$1" ]; then fail "expected exit status $1, got $RC"; fi; }

# sftp_status USER — fetch /proc/self/status as seen by USER's sftp server process into
# $T/sftp-status (through sftp's own `get`, so it is the server's status, not ours)
sftp_status() {
  printf 'get /proc/self/status %s/sftp-status\n' "$T" > "$T/sftp-batch"
  rm -f "$T/sftp-status"
  ssh_opts
  run sftp "${SSH_OPTS[@]/-p/-P}" -b "$T/sftp-batch" "$1@127.0.0.1"
}
# expect_sftp_nnp USER 0|1
expect_sftp_nnp() {
  sftp_status "$1"
  expect_rc 0
  grep -q "^NoNewPrivs:[[:space:]]*$2\$" "$T/sftp-status" 2>/dev/null || fail "the sftp server of $1 should have NoNewPrivs $2"
}

# expect_pid_nnp PID 0|1 WHAT — the running process PID has NoNewPrivs 0|1
expect_pid_nnp() {
  if [ -z "$1" ] || ! grep -q "^NoNewPrivs:[[:space:]]*$2\$" "/proc/$1/status" 2>/dev/null; then
    fail "$3 (pid ${1:-none}) should have NoNewPrivs $2"
  fi
}

# expect_probe USER NNP EUID [SSH OPTIONS...] — log in, run the probe, compare
expect_probe() {
  local user=$1 nnp=$2 euid=$3; shift 3
  ssh_as "$user" "$@" -- "$T/bin/probe"
  expect_rc 0
  expect_line "NNP=$nnp EUID=$euid"
}

# expect_refused USER — the session must not run the user's command (sshd: status 254)
expect_refused() {
  ssh_as "$1" -- "echo SHOULD-NOT-RUN; $T/bin/probe"
  expect_no_line_matching 'SHOULD-NOT-RUN|^NNP='
  expect_rc 254
}

finish() {
  echo "1..$COUNT"
  if [ "$FAILS" -gt 0 ]; then echo "# $FAILS of $COUNT failed"; exit 1; fi
  exit 0
}

# ---- small qemu guests with a busybox initramfs (guard_qemu.sh, guard_degrade.sh) ----
# The guest's /init prints "RESULT NAME ok|FAIL(...)" lines, then "QEMU-DONE". No network
# device at all (-nic none).

# copy_libs ROOT BIN... — the shared libraries BIN needs (ldd), at their paths under ROOT
copy_libs() {
  local root=$1 bin lib; shift
  for bin in "$@"; do
    for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  done
}

# qemu_boot NAME KERNEL LSMLIST [EXTRA-CMDLINE] — boot $T/initrd.gz once; the console lands
# in $T/console-NAME.txt. A guest that does not finish bails the file out.
qemu_boot() {
  local name=$1 kernel=$2 lsm=$3 extra=${4:-} t0; t0=$(date +%s)
  timeout 300 qemu-system-x86_64 -accel tcg -nographic -no-reboot -nic none -m 512 -smp 2 \
    -kernel "$kernel" -initrd "$T/initrd.gz" \
    -append "console=ttyS0 lsm=$lsm panic=-1 quiet $extra" \
    < /dev/null > "$T/console-$name.log" 2>&1
  echo "# qemu ($name): $(( $(date +%s) - t0 )) s"
  tr -d '\r' < "$T/console-$name.log" > "$T/console-$name.txt"
  if ! grep -q "^QEMU-DONE" "$T/console-$name.txt"; then
    echo "Bail out! the guest ($name) did not finish; console:"; tail -n 40 "$T/console-$name.txt" | sed 's/^/#   /'; exit 1
  fi
  grep "^LSM " "$T/console-$name.txt" | sed 's/^/# /'
}

# qemu_check NAME WHAT CASE... — one TAP line per CASE from the guest's RESULT lines
qemu_check() {
  local name=$1 what=$2 c line; shift 2
  for c in "$@"; do
    COUNT=$((COUNT + 1))
    line=$(grep "^RESULT $c " "$T/console-$name.txt" | head -n1)
    if [ "$line" = "RESULT $c ok" ]; then echo "ok $COUNT - $what: $c"
    else echo "not ok $COUNT - $what: $c"; echo "# ${line:-no result}"; FAILS=$((FAILS + 1)); fi
  done
}
