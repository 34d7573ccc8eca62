#!/bin/bash
# Run every end-to-end test file (tests/e2e/*.sh); exit 1 if any failed.
cd "$(dirname "$0")/.." || exit 1
failed=()
for t in tests/e2e/*.sh; do
  echo "# ---- $t"
  if ! bash "$t"; then failed+=("$t"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "# FAILED: ${failed[*]}"
  exit 1
fi
echo "# all end-to-end tests passed"
