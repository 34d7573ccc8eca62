#!/bin/bash
# make bench: see docs/BENCHMARKS.md. Runs in a private mount namespace with synthetic
# /etc/group files (50 and 20,000 groups) and configs of 1, 100 and 1,000 rules.
# BENCH_QUICK=1 for a short smoke run that does not rewrite docs/BENCHMARKS.md.
. "$(dirname "$0")/../tests/lib.sh"
ns_enter "$@"
ns_setup
install_nnp_shell   # the shell chooser at its compiled-in path: nnp-shell as installed
gcc -O2 -Wall -o "$T/pam_loop" "$NNP_ROOT/bench/pam_loop.c" -lpam || exit 1
gcc -O2 -Wall -pthread -o "$T/threads" "$NNP_ROOT/bench/threads.c" || exit 1
gcc -O2 -Wall -o "$T/exec_loop" "$NNP_ROOT/bench/exec_loop.c" || exit 1
gcc -O2 -static -o "$T/true-static" "$NNP_ROOT/bench/true.c" || exit 1
gcc -O1 -Wall -o "$T/runas" "$NNP_ROOT/tests/c/runas.c" || exit 1
chmod 755 "$T/true-static" "$T/exec_loop"
# the exec guard: a private bpffs; benchu guarded by uid, bench2 unguarded
mount -t bpf nnp-bench-bpffs /sys/fs/bpf
add_user bench2 $((UID_BASE + 901))
printf '[[rule]]\nusers = ["benchu"]\nnnp = true\n' > "$T/nnp-guard.toml"
EXTRA_CLEANUP='"$NNPCTL" guard unload >/dev/null 2>&1; '"$EXTRA_CLEANUP"
add_user benchu $((UID_BASE + 900))
export BENCH_USER=benchu BENCH_UID=$((UID_BASE + 900))
# synthetic group files: the host's groups + benchu's, padded to the size, with benchu a
# member of g1000 (the group of the last rule of the 1,000-rule config) only.
base=$(wc -l < /etc/group)
for n in 50 20000; do
  { cat /etc/group
    for i in $(seq 1 $(( n - base > 1 ? n - base : 1 ))); do
      m=""; [ "$i" = 1000 ] && m=benchu
      printf 'g%d:x:%d:%s\n' "$i" $((100000 + i)) "$m"
    done; } > "$T/group.$n"
done
# benchu must be in the group of the last rule for 1 and 100 rules too: add g1 and g100
sed -i 's/^g1:x:\([0-9]*\):$/g1:x:\1:benchu/; s/^g100:x:\([0-9]*\):$/g100:x:\1:benchu/' "$T/group.50" "$T/group.20000"
for r in 1 100 1000; do
  : > "$T/nnp-$r.toml"; : > "$T/limits-$r.conf"
  # rule K names group gK; only the last one (g$r) matches benchu
  for k in $(seq 1 $r); do
    printf '[[rule]]\ngroups = ["g%d"]\nnnp = true\n\n' $((k == r ? r : 5000 + k)) >> "$T/nnp-$r.toml"
    printf '@g%d - nonewprivs 1\n' $((k == r ? r : 5000 + k)) >> "$T/limits-$r.conf"
  done
  printf 'session required pam_permit.so\nsession required pam_limits.so conf=%s\n' "$T/limits-$r.conf" > "/etc/pam.d/bench-limits-$r"
  printf 'session required pam_permit.so\nsession required %s config=%s\n' "$MODULE" "$T/nnp-$r.toml" > "/etc/pam.d/bench-nnp-$r"
done
printf 'session required pam_permit.so\n' > /etc/pam.d/bench-permit
# a user in 8,000 groups (20,000-line /etc/group): rules naming a group the user is in
# (positive answer from the group entry) and one the user is not in (getgrouplist needed)
{ cat /etc/group
  for i in $(seq 1 8000); do printf 'm%d:x:%d:benchu\n' "$i" $((300000 + i)); done
  for i in $(seq 1 $((12000 - base))); do printf 'o%d:x:%d:\n' "$i" $((400000 + i)); done; } > "$T/group.member8000"
printf '[[rule]]\ngroups = ["m8000"]\nnnp = true\n' > "$T/nnp-in8000.toml"
printf '[[rule]]\ngroups = ["o1"]\nnnp = true\n' > "$T/nnp-out8000.toml"
for c in in8000 out8000; do
  printf 'session required pam_permit.so\nsession required %s config=%s\n' "$MODULE" "$T/nnp-$c.toml" > "/etc/pam.d/bench-nnp-$c"
done
export T MODULE NNPCTL NNP_SHELL NNP_ROOT BENCH2_UID=$((UID_BASE + 901))
export SO_SIZE_BEFORE=${SO_SIZE_BEFORE:-648448}  # pam_nnp.so with the syslog crate and toml's serde (before issue 13)
export BENCH_NOTES_FILE="$NNP_ROOT/bench/NOTES.md"
# nnp-shell reads the compiled-in /etc/security/nnp.toml: give it a one-rule config
cp "$T/nnp-1.toml" /etc/security/nnp.toml
python3 "$NNP_ROOT/bench/driver.py"
