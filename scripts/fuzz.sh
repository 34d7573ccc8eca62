#!/bin/bash
# Fuzz the config parser and the module-argument parser with cargo fuzz (libFuzzer).
#   scripts/fuzz.sh SECONDS [smoke]
# With "smoke", new inputs go to a temp dir (the committed corpus is only read); without it,
# the run grows fuzz/corpus/<target>. Crashes are saved in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
MODE=${2:-full}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo fuzz builds the targets with nightly-only compiler flags (-Zsanitizer=address for
# ASan, with libFuzzer's coverage instrumentation). make test runs on the stable toolchain it
# uses for everything else, and a fresh machine need not have a nightly one, so
# RUSTC_BOOTSTRAP=1 lets the stable compiler accept those flags: for these fuzz builds only
# (set on the cargo fuzz command lines below, not exported), never for the shipped binaries.
for t in config_parser module_args; do
  # built first, in full view: the run's output below is cut to its last lines, which would
  # hide a compile error (the fuzz crate is outside the workspace: cargo test does not build it)
  log=$(mktemp)
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz build "$t" > "$log" 2>&1; then
    grep -E '^(error|warning)' -A12 "$log" | head -n 60; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  if [ "$MODE" = smoke ]; then
    tmp=$(mktemp -d)
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$tmp" "fuzz/corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
    rm -rf "$tmp"
  else
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
  fi
done
