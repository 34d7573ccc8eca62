#!/bin/bash
# Run the end-to-end tests (tests/e2e/*.sh); exit 1 if any failed.
#   tests/run.sh                 every file
#   tests/run.sh FILE [CASE]     one file; with CASE, only the cases whose number is CASE or
#                                whose name contains CASE (the others are reported as SKIP).
#                                A file of run_case functions sets up its fixture and calls
#                                only those cases' functions (tests/lib.sh).
cd "$(dirname "$0")/.." || exit 1
if [ $# -ge 1 ]; then
  f=$1; [ -f "$f" ] || f=tests/e2e/$(basename "$1" .sh).sh
  NNP_CASE=${2:-} exec bash "$f"
fi
failed=()
start=$SECONDS
for t in tests/e2e/*.sh; do
  echo "# ---- $t"
  t0=$SECONDS
  if ! bash "$t"; then failed+=("$t"); fi
  echo "# $t: $((SECONDS - t0)) s"
done
echo "# end-to-end total: $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "# FAILED: ${failed[*]}"
  exit 1
fi
echo "# all end-to-end tests passed"
