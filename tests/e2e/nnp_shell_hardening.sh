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

finish
