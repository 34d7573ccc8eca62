#!/bin/bash
# Who steers the config: only root (issue: nobody but root steers the config). Through real
# libpam (pamtester) and nnpctl, each with its control.
. "$(dirname "$0")/../lib.sh"
ns_enter "$@"
fixture_setup
standard_users
ns_syslog
RULE='[[rule]]
users = ["alice"]
nnp = true'
refused() {
  [ "$RC" != 0 ] || fail "the session must be refused"
  printf '%s' "$ERR" | grep -q "Cannot make/remove an entry for the specified session" || fail "expected PAM_SESSION_ERR"
}
mkdir -p "$T/srv"; chmod 755 "$T/srv"

case_1() {
  mkdir -p "$T/srv/sticky"; chmod 1777 "$T/srv/sticky"
  printf '%s\n' "$RULE" > "$T/srv/sticky/nnp.toml"; chmod 644 "$T/srv/sticky/nnp.toml"
  write_stack_probe nnptrust config="$T/srv/sticky/nnp.toml"
  run pamtester nnptrust alice open_session
  refused
  wait_log "pam_nnp\(nnptrust:session\): user alice: error: cannot use config: $T/srv/sticky: untrusted directory holding the config" || fail "log line naming the directory"
  run "$NNPCTL" --config "$T/srv/sticky/nnp.toml" check
  expect_rc 1
  expect_line "$T/srv/sticky: untrusted directory holding the config (anyone who can write here can create the main file or the drop-in directory; a sticky directory is accepted only further up): writable by group and others (mode 1777)"
  # control: the same directory root's alone
  chmod 755 "$T/srv/sticky"
  run pamtester nnptrust alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	1"
}
run_case "config in a sticky world-writable directory: refused, the message names the directory" case_1

case_2() {
  # Before: any user could mkdir nnp.d there and refuse every login (or, with on_error=allow,
  # switch restricted users' NNP off).
  mkdir -p "$T/srv/sticky"; printf '%s\n' "$RULE" > "$T/srv/sticky/nnp.toml"; chmod 644 "$T/srv/sticky/nnp.toml"
  write_stack_probe nnptrust config="$T/srv/sticky/nnp.toml"
  chmod 1777 "$T/srv/sticky"
  setpriv --reuid=bob --regid=bob --clear-groups mkdir "$T/srv/sticky/nnp.d"
  run pamtester nnptrust bob open_session
  refused
  run "$NNPCTL" --config "$T/srv/sticky/nnp.toml" check
  expect_rc 1
  printf '%s\n' "$OUT" | grep -q "untrusted directory holding the config" || fail "the directory must be named, not the drop-in"
}
run_case "a user-made nnp.d next to the config (sticky directory): refused before anything is read" case_2

case_3() {
  # Before: with fs.protected_symlinks = 0, a user's nnp.d -> /etc/security loaded every
  # root-owned *.toml there as drop-ins.
  mkdir -p "$T/srv/pub" "$T/srv/conf" "$T/srv/real"; chmod 1777 "$T/srv/pub"
  printf '%s\n' "$RULE" > "$T/srv/real/nnp.toml"; chmod 644 "$T/srv/real/nnp.toml"
  ln -s "$T/srv/real/nnp.toml" "$T/srv/pub/link.toml"
  ln -s "$T/srv/pub/link.toml" "$T/srv/conf/nnp.toml"
  write_stack_probe nnptrust config="$T/srv/conf/nnp.toml"
  run pamtester nnptrust alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	1"    # root's symlink in the sticky directory: fine
  chown -h bob:bob "$T/srv/pub/link.toml"
  run pamtester nnptrust alice open_session
  refused
  run "$NNPCTL" --config "$T/srv/conf/nnp.toml" check
  expect_rc 1
  printf '%s\n' "$OUT" | grep -qF "untrusted symlink $T/srv/pub/link.toml: owned by uid $((UID_BASE + 2)) in directory $T/srv/pub" || fail "the symlink and why"
}
run_case "a user's symlink in a writable directory on the config path: untrusted (control: root's symlink)" case_3

case_4() {
  mkdir -p "$T/srv/real"
  printf '%s\n' "$RULE" > "$T/srv/real/managed.toml"; chmod 644 "$T/srv/real/managed.toml"
  ln -sf "$T/srv/real/managed.toml" /etc/security/nnp.toml
  write_stack_probe nnptrust
  run pamtester nnptrust alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	1"
  run pamtester nnptrust bob open_session
  expect_rc 0; expect_line "NoNewPrivs:	0"
}
run_case "a root-owned symlink in /etc/security (managed /etc): still fine" case_4

case_5() {
  # Before: a typo in config= silently switched the module off.
  write_stack_probe nnptrust config=/etc/security/nnp.tmol
  run pamtester nnptrust alice open_session
  refused
  wait_log 'user alice: error: cannot use config: /etc/security/nnp.tmol: cannot read file: No such file or directory \(it is named explicitly, so it must exist\); session refused' || fail "log line"
  run "$NNPCTL" --config /etc/security/nnp.tmol check
  expect_rc 1
  # control: the compiled-in default missing is "no rules", nothing done, even for bob
  write_stack_probe nnptrust
  run pamtester nnptrust alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	0"
  run "$NNPCTL" check
  expect_rc 0; expect_line "ok: 0 rules from 0 files"
}
run_case "explicit config= naming a missing file refuses the session with a log line; the default path missing is no rules" case_5

case_6() {
  # Before: root's symlink was trusted wherever it sat. In a directory others can write to
  # (not sticky), bob renames another root-owned symlink (to an empty root-owned file) over
  # it: no rules, alice logs in without NNP while check said ok.
  mkdir -p "$T/srv/w6" "$T/srv/conf6" "$T/srv/real6"; chmod 777 "$T/srv/w6"
  printf '%s\n' "$RULE" > "$T/srv/real6/v2.toml"; : > "$T/srv/real6/empty.toml"
  chmod 644 "$T/srv/real6/v2.toml" "$T/srv/real6/empty.toml"
  ln -s "$T/srv/real6/v2.toml" "$T/srv/w6/current"
  ln -s "$T/srv/real6/empty.toml" "$T/srv/w6/previous"
  ln -s "$T/srv/w6/current" "$T/srv/conf6/nnp.toml"
  write_stack_probe nnptrust config="$T/srv/conf6/nnp.toml"
  run "$NNPCTL" --config "$T/srv/conf6/nnp.toml" check
  expect_rc 1
  expect_line "$T/srv/conf6/nnp.toml: untrusted symlink $T/srv/w6/current: directory $T/srv/w6 lets others rename an entry over it (a symlink followed must sit in a directory root owns and only root can write, or a sticky one)"
  run pamtester nnptrust alice open_session
  refused
  setpriv --reuid=bob --regid=bob --clear-groups mv -T "$T/srv/w6/previous" "$T/srv/w6/current" || fail "bob could not rename in a 0777 directory"
  run pamtester nnptrust alice open_session
  refused
  # control: sticky, bob can no longer rename root's links; the config is trusted again
  rm -f "$T/srv/w6/current"; ln -s "$T/srv/real6/v2.toml" "$T/srv/w6/current"
  ln -s "$T/srv/real6/empty.toml" "$T/srv/w6/previous"; chmod 1777 "$T/srv/w6"
  if setpriv --reuid=bob --regid=bob --clear-groups mv -T "$T/srv/w6/previous" "$T/srv/w6/current" 2>/dev/null; then
    fail "bob renamed root's link in a sticky directory"
  fi
  run "$NNPCTL" --config "$T/srv/conf6/nnp.toml" check
  expect_rc 0
  run pamtester nnptrust alice open_session
  expect_rc 0; expect_line "NoNewPrivs:	1"
}
run_case "root's symlink in a directory others can write to (not sticky): untrusted, before and after a user renames a link over it (control: sticky)" case_6

finish
