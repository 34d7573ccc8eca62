#!/bin/bash
# nnp-shell: no code that the environment chooses runs before NNP (static linking, whatever
# built it), no NSS in the static binary (its shell chooser, nnp-shell-helper, runs with a
# cleared environment), nothing the user sets steers the choice, and a configured shell that
# leads back to nnp-shell falls back to /bin/sh instead of looping.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
nnp_shell_cast
write_config 'shell = "/bin/bash"'
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
gcc -O1 -Wall -shared -fPIC -o "$T/pub/evil.so" "$NNP_ROOT/tests/c/preload_probe.c" || exit 1
chmod 755 "$T/pub/evil.so"
LOG="$T/pub/preload.log"
# which shell runs a -c command: "; true" stops bash/dash from exec'ing the last command
WHICH='readlink /proc/$$/exe; true'
# A rule's shell (bash here) that differs from both the top-level one and /bin/sh (dash).
MENU='shell = "/bin/dash"
[[rule]]
groups = ["restricted"]
nnp = true
shell = "/bin/bash"'

# $NNP_SHELL is what `cargo build --release` leaves in target/release (make build runs the
# same command): before issue 20 only make's second, crt-static build was static.
case_1() {
  LAST_CMD="readelf -lW -d $NNP_SHELL"
  readelf -lW "$NNP_SHELL" | grep -q "INTERP" && fail "nnp-shell has a program interpreter (dynamically linked)"
  readelf -d "$NNP_SHELL" 2>/dev/null | grep -q "NEEDED" && fail "nnp-shell needs shared libraries"
  grep -qaF nsswitch.conf "$NNP_SHELL" && fail "nnp-shell links glibc's NSS (it would dlopen NSS modules)"
  grep -qaF "$HELPER_PATH" "$NNP_SHELL" || fail "nnp-shell does not name $HELPER_PATH (tests/lib.sh HELPER_PATH)"
  readelf -lW "$NNP_SHELL_HELPER" | grep -q "INTERP" || fail "control: readelf must see the helper's interpreter"
  readelf -d "$NNP_SHELL_HELPER" | grep -q "NEEDED" || fail "control: readelf must see the helper's libraries"
}
run_case "the cargo build --release nnp-shell is static, holds no NSS, names its helper (control: the helper is dynamic)" case_1

case_2() {
  rm -f "$LOG"
  run setpriv --reuid=$S --regid=$S --clear-groups env LD_PRELOAD="$T/pub/evil.so" NNP_PRELOAD_LOG="$LOG" NNP_PRELOAD_SUID="$T/bin/suid-id" "$T/bin/nnp-shell" -c 'true; true'
  expect_rc 0
  OUT=$(cat "$LOG" 2>/dev/null)
  grep -q "^nnp-shell " "$LOG" 2>/dev/null && fail "preloaded code ran inside nnp-shell"
  grep -q "NNP=0" "$LOG" 2>/dev/null && fail "preloaded code ran without NNP"
  grep -q "^bash NNP=1 EUID=$S$" "$LOG" || fail "the real shell gets the variable and runs it with NNP (euid $S)"
  rm -f "$LOG"
  run setpriv --reuid=$S --regid=$S --clear-groups env LD_PRELOAD="$T/pub/evil.so" NNP_PRELOAD_LOG="$LOG" NNP_PRELOAD_SUID="$T/bin/suid-id" /bin/bash -c 'true; true'
  OUT=$(cat "$LOG" 2>/dev/null)
  grep -q "^bash NNP=0 EUID=0$" "$LOG" || fail "control: in a dynamically linked program the constructor runs first and reaches euid 0"
}
run_case "LD_PRELOAD: no preloaded code runs without NNP in nnp-shell (control: it does in bash)" case_2

case_3() {
  SSHD_USEPAM=no start_sshd -o PermitUserEnvironment=yes || exit 1
  for u in sam bob; do
    mkdir -p "$T/home/$u/.ssh"
    printf 'LD_PRELOAD=%s\nNNP_PRELOAD_LOG=%s\nNNP_PRELOAD_SUID=%s\n' "$T/pub/evil.so" "$T/pub/$u.log" "$T/bin/suid-id" > "$T/home/$u/.ssh/environment"
    chown -R "$u:$u" "$T/home/$u/.ssh"
  done
  ssh_as sam -- 'true; true'
  expect_rc 0
  OUT=$(cat "$T/pub/sam.log" 2>/dev/null)
  grep -q "NNP=0" "$T/pub/sam.log" 2>/dev/null && fail "preloaded code ran without NNP for the nnp-shell user"
  grep -q "NNP=1 EUID=$S" "$T/pub/sam.log" || fail "the real shell ran the preload with NNP"
  ssh_as bob -- 'true; true'
  OUT=$(cat "$T/pub/bob.log" 2>/dev/null)
  grep -q "NNP=0 EUID=0" "$T/pub/bob.log" || fail "control: bob's bash runs the preload without NNP and reaches euid 0"
}
run_case "sshd UsePAM no + PermitUserEnvironment: ~/.ssh/environment LD_PRELOAD runs only under NNP" case_3

case_4() {
  # Before: nnp-shell exec'd the script, the kernel ran nnp-shell as its interpreter, forever.
  # Now the second entry (same pid) runs /bin/sh with the arguments it got: the script.
  printf '#!%s\necho looped\n' "$T/bin/nnp-shell" > "$T/bin/loop.sh"; chmod 755 "$T/bin/loop.sh"
  write_config "shell = \"$T/bin/loop.sh\""
  LAST_CMD="nnp-shell -c 'echo reached-sh; readlink /proc/\$\$/exe; true' (shell: a #! script of nnp-shell)"
  OUT=$(setpriv --reuid=$S --regid=$S --clear-groups timeout 5 "$T/bin/nnp-shell" -c 'echo reached-sh; readlink /proc/$$/exe; true' 2> "$T/err"); RC=$?
  ERR=$(cat "$T/err")
  expect_rc 0
  expect_line "looped"
  [ "$(grep -c 'entered again for the same login' "$T/err")" = 1 ] || fail "exactly one warning expected"
  # control: a configured shell that is a plain script runs as configured
  printf '#!/bin/sh\necho configured "$@"\n' > "$T/bin/plain.sh"; chmod 755 "$T/bin/plain.sh"
  write_config "shell = \"$T/bin/plain.sh\""
  run setpriv --reuid=$S --regid=$S --clear-groups "$T/bin/nnp-shell" -c x
  expect_line "configured -c x"
}
run_case "a #! script whose interpreter is nnp-shell: /bin/sh runs it, no loop, one warning" case_4

case_5() {
  # The same pid comes back through exec: the marker nnp-shell left (an O_PATH descriptor on
  # /proc/<pid>) is there. A child process inherits the descriptor, but it names the parent.
  printf '#!/bin/sh\nexec %s "$@"\n' "$T/bin/nnp-shell" > "$T/bin/again.sh"; chmod 755 "$T/bin/again.sh"
  write_config "shell = \"$T/bin/again.sh\""
  run setpriv --reuid=$S --regid=$S --clear-groups "$T/bin/nnp-shell" -c "$WHICH"
  expect_rc 0
  expect_line /usr/bin/dash
  [ "$(grep -c 'entered again for the same login' "$T/err")" = 1 ] || fail "exactly one warning expected"
  write_config "$MENU"
  printf '#!/bin/sh\n%s -c "readlink /proc/\\$\\$/exe; true"\necho child-done\n' "$T/bin/nnp-shell" > "$T/bin/child.sh"; chmod 755 "$T/bin/child.sh"
  run setpriv --reuid=$S --regid=$S --clear-groups "$T/bin/nnp-shell" -c "$T/bin/child.sh; true"
  expect_rc 0
  [ "$OUT" = "/usr/bin/bash
child-done" ] || fail "the child's nnp-shell must choose the rule's shell"
  [ -z "$ERR" ] || fail "no warning for a new process"
}
run_case "a configured shell that execs nnp-shell again: /bin/sh, one warning (control: a child's nnp-shell decides anew)" case_5

case_6() {
  # Before: nnp-shell took NNP_SHELL_PID == its pid for a re-entry and ran /bin/sh; the login
  # environment (~/.pam_environment, ~/.ssh/environment) could deliver it. Here sh sets it to
  # its own pid and execs nnp-shell in that pid, as a login program would start it.
  write_config "$MENU"
  run setpriv --reuid=$S --regid=$S --clear-groups sh -c 'NNP_SHELL_PID=$$ exec "$0" -c "$1"' \
    "$T/bin/nnp-shell" 'readlink /proc/$$/exe; echo "PID=$$ VAR=$NNP_SHELL_PID"; true'
  expect_rc 0
  expect_line /usr/bin/bash
  [ -z "$ERR" ] || fail "no warning expected"
  pid=$(printf '%s\n' "$OUT" | sed -n 's/^PID=\([0-9]*\) VAR=.*/\1/p')
  [ -n "$pid" ] && printf '%s\n' "$OUT" | grep -qx "PID=$pid VAR=$pid" || fail "control: the variable must have held nnp-shell's own pid"
}
run_case "NNP_SHELL_PID set to nnp-shell's own pid no longer swaps a rule's shell for /bin/sh (control: it held that pid)" case_6

# ---- NSS: none in nnp-shell; its helper runs with a cleared environment ----
# gus is in "restricted" only through a second /etc/group line with its gid ("restricted2"):
# getgrnam("restricted") does not list him, so the rule needs getgrouplist(), which asks every
# source of the group line (files, then systemd here). Each of the cases below sets it up
# (gus_setup); /etc/nsswitch.conf is $T/nsswitch.conf, bind-mounted, for the case to rewrite.
G=$((UID_BASE + 11))
gus_setup() {
  add_user gus $G
  printf 'restricted2:x:%s:gus\n' $((UID_BASE + 100)) >> /etc/group
  printf 'passwd: files systemd\ngroup: files systemd\nshadow: files\n' > "$T/nsswitch.conf"
  mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
}

case_7() {
  gus_setup
  write_config "$MENU"
  run setpriv --reuid=$G --regid=$G --clear-groups "$T/bin/nnp-shell" -c "$WHICH; $T/bin/probe"
  expect_rc 0
  expect_line /usr/bin/bash
  expect_line "NNP=1 EUID=$G"
  [ -z "$ERR" ] || fail "no warning expected"
  # control: gus is not listed in restricted, yet the decision matches him (getgrouplist)
  getent group restricted | grep -qw gus && fail "control: gus must not be a listed member"
  run "$NNPCTL" explain gus --json
  printf '%s' "$OUT" | grep -q '"shell": "/bin/bash"' || fail "control: explain must choose /bin/bash for gus"
  # control: a rule naming a group gus is not in gives the top-level shell
  write_config 'shell = "/bin/dash"
[[rule]]
groups = ["bob"]
nnp = true
shell = "/bin/bash"'
  run setpriv --reuid=$G --regid=$G --clear-groups "$T/bin/nnp-shell" -c "$WHICH"
  expect_line /usr/bin/dash
}
run_case "group: files systemd, a rule that needs getgrouplist: the rule's shell, no crash (control: explain agrees)" case_7

case_8() {
  gus_setup
  mkdir -p "$T/pub/nss"
  gcc -O1 -Wall -shared -fPIC -DHOSTILE_LOG="\"$T/pub/nss.log\"" -o "$T/pub/nss/libnss_systemd.so.2" \
    "$NNP_ROOT/tests/c/nss_hostile.c" || fail "build nss_hostile"
  chmod -R a+rX "$T/pub/nss"
  write_config "$MENU"
  rm -f "$T/pub/nss.log"
  run setpriv --reuid=$G --regid=$G --clear-groups env LD_LIBRARY_PATH="$T/pub/nss" "$T/bin/nnp-shell" -c "$WHICH; true"
  expect_rc 0
  expect_line /usr/bin/bash
  [ -s "$T/pub/nss.log" ] && { OUT=$(cat "$T/pub/nss.log"); fail "the hostile NSS module ran"; }
  # control: a dynamically linked program's getgrouplist loads it from LD_LIBRARY_PATH
  run setpriv --reuid=$G --regid=$G --clear-groups env LD_LIBRARY_PATH="$T/pub/nss" id -G gus
  grep -q "^id NNP=0$" "$T/pub/nss.log" 2>/dev/null || fail "control: id must load the hostile module"
}
run_case "LD_LIBRARY_PATH with a hostile libnss_systemd.so.2: never loaded for nnp-shell (control: id loads it)" case_8

case_9() {
  gus_setup
  # the test module (every lookup UNAVAIL/EIO, as a directory that is down) where glibc finds
  # it without LD_LIBRARY_PATH, which the helper never has: the namespace's /usr/lib overlay
  MA=$(gcc -print-multiarch)
  gcc -O1 -Wall -shared -fPIC -o "/usr/lib/$MA/libnss_nnpfail.so.2" "$NNP_ROOT/tests/c/libnss_nnpfail.c" || fail "build nnpfail"
  write_config "$MENU"
  printf 'passwd: files\ngroup: nnpfail\n' > "$T/nsswitch.conf"
  run setpriv --reuid=$G --regid=$G --clear-groups "$T/bin/nnp-shell" -c "$WHICH; $T/bin/probe"
  expect_rc 0
  expect_line /usr/bin/dash
  expect_line "NNP=1 EUID=$G"
  printf '%s\n' "$ERR" | grep -q '^nnp-shell: warning: .*restricted.*; using /bin/sh$' || fail "expected a warning naming the group"
  [ "$(printf '%s\n' "$ERR" | grep -c .)" = 1 ] || fail "expected exactly one line on stderr"
  printf 'passwd: files\ngroup: files\n' > "$T/nsswitch.conf"
  run setpriv --reuid=$G --regid=$G --clear-groups "$T/bin/nnp-shell" -c "$WHICH"
  expect_line /usr/bin/bash
  [ -z "$ERR" ] || fail "control: no warning with files"
}
run_case "a failing group source: /bin/sh with a warning, NNP set (control: files answers)" case_9

case_10() {
  gus_setup
  write_config "$MENU"
  mv "$HELPER_PATH" "$HELPER_PATH.away"
  run setpriv --reuid=$S --regid=$S --clear-groups "$T/bin/nnp-shell" -c "$WHICH; $T/bin/probe"
  mv "$HELPER_PATH.away" "$HELPER_PATH"
  expect_rc 0
  [ "$OUT" = "/usr/bin/dash
NNP=1 EUID=$S" ] || fail "stdout must be exactly /bin/sh's answer and the probe line"
  printf '%s\n' "$ERR" | grep -q "^nnp-shell: warning: shell chooser $HELPER_PATH: .*; using /bin/sh$" || fail "expected a warning naming the chooser"
  run setpriv --reuid=$S --regid=$S --clear-groups "$T/bin/nnp-shell" -c "$WHICH"
  expect_line /usr/bin/bash
  [ -z "$ERR" ] || fail "control: no warning"
}
run_case "the shell chooser missing: /bin/sh with a warning, NNP set (control: installed, the rule's shell)" case_10

# The other ways to build it (issue 20): each in a target dir of its own under $T (the shared
# target/ is not touched), from this source tree, offline and with the lock file. On a quiet
# 2-core host the -p build takes about 20 s and cargo install about 30 s from nothing; the
# failing build stops at nnp-shell's build script.
# static_shell WHAT FILE — FILE is a static nnp-shell with no NSS that runs
static_shell() {
  [ -f "$2" ] || { fail "$1: no nnp-shell at $2"; return; }
  readelf -lW "$2" | grep -q "INTERP" && fail "$1: nnp-shell has a program interpreter (dynamically linked)"
  readelf -d "$2" 2>/dev/null | grep -q "NEEDED" && fail "$1: nnp-shell needs shared libraries"
  grep -qaF nsswitch.conf "$2" && fail "$1: nnp-shell links glibc's NSS"
  local rc=0
  "$2" -c 'exit 7' < /dev/null 2> /dev/null || rc=$?
  [ "$rc" = 7 ] || fail "$1: nnp-shell -c 'exit 7' gave $rc (a static-pie that crashes at start?)"
}
# dynamic_helper WHAT FILE — control: the same reader sees the helper's interpreter and libraries
dynamic_helper() {
  readelf -lW "$2" | grep -q "INTERP" || fail "control ($1): readelf must see the helper's interpreter"
  readelf -d "$2" | grep -q "NEEDED" || fail "control ($1): readelf must see the helper's libraries"
}
# cargo_build DIR LOG ARGS... — cargo in the source tree with target dir DIR, at most 10
# minutes, output in LOG
cargo_build() {
  local dir=$1 log=$2; shift 2
  (cd "$NNP_ROOT" && CARGO_TARGET_DIR="$dir" timeout 600 cargo "$@" --locked --offline) > "$log" 2>&1
}

case_11() {
  LAST_CMD="CARGO_TARGET_DIR=$T/p cargo build -p nnp-shell --release"
  cargo_build "$T/p" "$T/p.log" build -p nnp-shell --release \
    || { ERR=$(tail -n 20 "$T/p.log"); fail "cargo build -p nnp-shell --release failed"; return; }
  static_shell "cargo build -p nnp-shell --release" "$T/p/release/nnp-shell"
  dynamic_helper "cargo build -p" "$T/p/release/nnp-shell-helper"
}
run_case "cargo build -p nnp-shell --release (nnp-sys without pam) gives a static nnp-shell (control: its helper is dynamic)" case_11

case_12() {
  LAST_CMD="CARGO_TARGET_DIR=$T/i cargo install --path nnp-shell --root $T/inst"
  cargo_build "$T/i" "$T/i.log" install --path nnp-shell --root "$T/inst" \
    || { ERR=$(tail -n 20 "$T/i.log"); fail "cargo install --path nnp-shell failed"; return; }
  static_shell "cargo install --path nnp-shell" "$T/inst/bin/nnp-shell"
  dynamic_helper "cargo install" "$T/inst/bin/nnp-shell-helper"
}
run_case "cargo install --path nnp-shell installs a static nnp-shell (control: its helper is dynamic)" case_12

case_13() {
  # a C toolchain without the static C library: cc -print-file-name=libc.a finds nothing (as
  # gcc answers then: the bare name); everything else goes to the real cc
  cat > "$T/nolibc-cc" <<'CC'
#!/bin/sh
for a in "$@"; do case "$a" in -print-file-name=libc.a) echo libc.a; exit 0 ;; esac; done
exec cc "$@"
CC
  chmod 755 "$T/nolibc-cc"
  LAST_CMD="CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=$T/nolibc-cc cargo build -p nnp-shell --release"
  local triple
  triple=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
  ( export "CARGO_TARGET_${triple}_LINKER=$T/nolibc-cc"
    cargo_build "$T/n" "$T/n.log" build -p nnp-shell --release )
  RC=$?
  OUT=$(cat "$T/n.log")
  [ "$RC" = 0 ] && fail "the build succeeded without a static C library"
  [ -e "$T/n/release/nnp-shell" ] && fail "a build without a static C library left an nnp-shell"
  grep -qF "nnp-shell must be linked statically: $T/nolibc-cc -print-file-name=libc.a finds no libc.a" "$T/n.log" \
    || fail "the failure does not say why"
  grep -qF "install the static C library (Debian/Ubuntu: libc6-dev; Fedora/RHEL: glibc-static)" "$T/n.log" \
    || fail "the failure does not say how to build it"
  # control: the same command with the real toolchain builds a static nnp-shell (case 11)
}
run_case "without a static C library the build fails, saying how to build it (control: case 11 with the real cc)" case_13

finish
