#!/bin/bash
# make bench: the cost per exec of the exec guard's programs on the patched kernel (kernel/),
# guard_action = "degrade", from the kernel's BPF statistics (kernel.bpf_stats_enabled:
# run_time_ns / run_cnt of each program, read with bpftool in the guest). Runs
# tests/e2e/guard_degrade.sh --bench (qemu, TCG: absolute numbers are slower than on
# hardware; compare the programs with each other). Prints a table for docs/BENCHMARKS.md.
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp /tmp/nnp-bench-degrade.XXXXXX)
trap 'rm -f "$out"' EXIT
NNP_BENCH_OUT=$out "$HERE/tests/e2e/guard_degrade.sh" --bench >/dev/null || { echo "bench_degrade: the qemu run failed (run tests/e2e/guard_degrade.sh)" >&2; exit 1; }
echo "| execs (2,000 each, in the guest) | program | runs | ns per run |"
echo "|---|---|---|---|"
awk '$1=="BENCH" && $4 ~ /^runs=/ {sub("runs=","",$4); sub("ns_per_run=","",$5); printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5}' "$out"
awk '$1=="BENCH" && $3 ~ /^wall_us_per_exec=/ {sub("wall_us_per_exec=","",$3); printf "| %s | (whole fork+exec, wall) | 2000 | %s µs |\n", $2, $3}' "$out"
