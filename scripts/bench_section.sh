#!/bin/bash
# scripts/bench_section.sh HEADING FILE — replace the section of docs/BENCHMARKS.md that starts
# with the line HEADING (up to the next "## " heading) by FILE, or append FILE when there is no
# such section. The benchmarks that run after scripts/bench.sh rewrote the file
# (bench_directory.sh, bench_degrade.sh) keep their sections with it.
set -euo pipefail
head=$1; sect=$2
B="$(cd "$(dirname "$0")/.." && pwd)/docs/BENCHMARKS.md"
awk -v head="$head" -v sect="$sect" '
  $0 == head { while ((getline l < sect) > 0) print l; skip = 1; done = 1; next }
  skip && /^## / { skip = 0; print "" }
  !skip { print }
  END { if (!done) { print ""; while ((getline l < sect) > 0) print l } }' "$B" > "$B.new" && mv "$B.new" "$B"
