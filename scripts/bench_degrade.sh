#!/bin/bash
# make bench: the cost per exec of the exec guard's programs on the patched kernel (kernel/),
# guard_action = "degrade", from the kernel's BPF statistics (kernel.bpf_stats_enabled:
# run_time_ns / run_cnt of each program, read with bpftool in the guest). Runs
# tests/e2e/guard_degrade.sh --bench (qemu, TCG: absolute numbers are far slower than on
# hardware; compare the programs with each other) and writes its section of
# docs/BENCHMARKS.md (replaced on every run; BENCH_QUICK=1: print only).
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp /tmp/nnp-bench-degrade.XXXXXX)
trap 'rm -f "$out" "$out.md"' EXIT
NNP_BENCH_OUT=$out "$HERE/tests/e2e/guard_degrade.sh" --bench >/dev/null || { echo "bench_degrade: the qemu run failed (run tests/e2e/guard_degrade.sh)" >&2; exit 1; }
HEAD='## Exec guard, guard_action = "degrade" (patched kernel under qemu)'
{
  echo "$HEAD"
  echo
  echo "Measured $(date -u +%Y-%m-%d) by \`scripts/bench_degrade.sh\` (\`make bench\`): the kernel of \`kernel/\` (tinyconfig,"
  echo "Debian's linux-source-6.1 + the bprm_no_new_privs series) under qemu TCG, 2,000 fork+exec of a static"
  echo "probe per row, \`kernel.bpf_stats_enabled=1\`, each program's run_time_ns / run_cnt from bpftool."
  echo "TCG emulates the CPU (the JIT's code too): absolute times are tens of times those of hardware;"
  echo "compare the rows with each other. \`nnp_lsm\` refuses on bprm_creds_from_file, \`nnp_degrade\` asks for"
  echo "no_new_privs semantics on bprm_no_new_privs; both run on every exec."
  echo
  echo "| execs | program | runs | ns per run |"
  echo "|---|---|---:|---:|"
  awk '$1=="BENCH" && $4 ~ /^runs=/ {sub("runs=","",$4); sub("ns_per_run=","",$5); printf "| %s | `%s` | %s | %s |\n", $2, $3, $4, $5}' "$out"
  echo
  echo "| execs | fork + exec + wait, wall, µs |"
  echo "|---|---:|"
  awk '$1=="BENCH" && $3 ~ /^wall_us_per_exec=/ {sub("wall_us_per_exec=","",$3); printf "| %s | %s |\n", $2, $3}' "$out"
  echo
  echo "guarded-setuid: a guarded user runs a setuid-root probe (degraded: it runs as the user);"
  echo "guarded-plain: the same user, a plain binary; control-setuid: an unguarded user, setuid-root"
  echo "(raises); no-guard: guarded-setuid's loop with no guard loaded."
  echo
  echo "\`nnp_degrade\` looks the rules up for every exec of a non-root user (at its hook the new"
  echo "credentials are not computed yet, so it cannot skip execs that raise nothing); \`nnp_lsm\` does"
  echo "only for execs that raise. That is why it costs more per run. The whole fork + exec + wait"
  echo "shows no difference beyond the noise of an emulated guest (runs differ by 10-50 %)."
} > "$out.md"
cat "$out.md"
[ "${BENCH_QUICK:-0}" = 1 ] && exit 0
"$(dirname "$0")/bench_section.sh" "$HEAD" "$out.md"
