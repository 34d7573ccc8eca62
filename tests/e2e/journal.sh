#!/bin/bash
# The journal catalog packaging/systemd/nnp.catalog: journald's own tool accepts it (built into
# a scratch root's catalog database, never the host's) and it explains every MESSAGE_ID that
# nnpctl guard watch sends. The datagrams themselves: nnpctl's unit tests (a bound socket) and
# guard_report.sh (a stand-in journald socket in the test namespace, with the guard loaded).
. "$(dirname "$0")/../lib.sh"
T=$(mktemp -d /tmp/nnp-journal.XXXXXX); chmod 755 "$T"; trap cleanup EXIT
CATALOG="$NNP_ROOT/packaging/systemd/nnp.catalog"

case_1() {
  if ! command -v journalctl >/dev/null; then
    echo "# journalctl not installed: skipped"
  else
    mkdir -p "$T/root/usr/lib/systemd/catalog" "$T/root/var/lib/systemd/catalog"
    cp "$CATALOG" "$T/root/usr/lib/systemd/catalog/"
    run journalctl --root="$T/root" --update-catalog
    expect_rc 0
    [ -z "$ERR" ] || fail "journalctl complained about the catalog: $ERR"
    run journalctl --root="$T/root" --list-catalog
    expect_rc 0
    ids=$(grep -oE '"[0-9a-f]{32}"' "$NNP_ROOT/nnpctl/src/journal.rs" | tr -d '"' | sort -u)
    [ "$(printf '%s\n' "$ids" | wc -l)" = 5 ] || fail "expected 5 MESSAGE_IDs in nnpctl/src/journal.rs, found: $ids"
    for id in $ids; do
      printf '%s\n' "$OUT" | grep -qE "^$id nnp: " || fail "the catalog does not explain $id"
    done
    [ "$(printf '%s\n' "$OUT" | grep -c ' nnp: ')" = 5 ] || fail "the catalog has entries no message uses"
  fi
}
run_case "journalctl --update-catalog accepts nnp.catalog and lists one entry per MESSAGE_ID watch sends" case_1

finish
