#!/bin/bash
# nnp-shell: no code that the environment chooses runs before NNP (static linking), and a
# configured shell that leads back to nnp-shell falls back to /bin/sh instead of looping.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
ns_setup
nnp_shell_cast
write_config 'shell = "/bin/bash"'
mkdir -p "$T/pub"; chmod 1777 "$T/pub"
gcc -O1 -Wall -shared -fPIC -o "$T/pub/evil.so" "$NNP_ROOT/tests/c/preload_probe.c" || exit 1
chmod 755 "$T/pub/evil.so"
LOG="$T/pub/preload.log"

case_begin "the nnp-shell under test is statically linked (no dynamic loader runs before main)"
LAST_CMD="readelf -l $NNP_SHELL"
readelf -l "$NNP_SHELL" | grep -q "INTERP" && fail "nnp-shell has a program interpreter: build it with make build"
readelf -d "$NNP_SHELL" 2>/dev/null | grep -q "NEEDED" && fail "nnp-shell needs shared libraries"
case_end

case_begin "LD_PRELOAD: no preloaded code runs without NNP in nnp-shell (control: it does in bash)"
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
case_end

case_begin "sshd UsePAM no + PermitUserEnvironment: ~/.ssh/environment LD_PRELOAD runs only under NNP"
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
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null; SSHD_PID=""
case_end

case_begin "a #! script whose interpreter is nnp-shell: /bin/sh runs it, no loop, one warning"
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
case_end

finish
