#!/bin/bash
# The RPM built by `make rpm` from packaging/rpm/nnp.spec: file list and scriptlets.
. "$(dirname "$0")/../lib.sh"
RPM=$(ls -1t "$NNP_ROOT"/nnp-*.rpm 2>/dev/null | head -n1)
if [ -z "$RPM" ]; then echo "Bail out! no .rpm: run make rpm first"; exit 1; fi
T=$(mktemp -d /tmp/nnp-rpm.XXXXXX); trap cleanup EXIT

case_begin "rpm file list"
run rpm -qlp "$RPM"
for f in /usr/lib64/security/pam_nnp.so /usr/bin/nnp-shell /usr/lib/nnp/nnp-shell-helper /usr/sbin/nnpctl /etc/security/nnp.toml \
         /etc/security/nnp.d /usr/share/man/man8/pam_nnp.8 /usr/share/man/man5/nnp.toml.5 \
         /usr/lib/systemd/system/nnp-metrics.service /usr/lib/systemd/system/nnp-metrics.timer \
         /usr/lib/systemd/catalog/nnp.catalog /usr/share/nnp/prometheus/nnp.rules.yml; do
  printf '%s\n' "$OUT" | grep -qE "^$f(\.gz)?$" || fail "missing $f"
done
printf '%s\n' "$OUT" | grep -q pam-configs && fail "the Debian pam-configs profile must not be in the RPM"
run rpm -qp --configfiles "$RPM"
expect_line /etc/security/nnp.toml
case_end

case_begin "rpm scriptlets add and remove nnp-shell in /etc/shells"
run rpm -qp --scripts "$RPM"
printf '%s' "$OUT" | grep -q 'echo "/usr/bin/nnp-shell" >> /etc/shells' || fail "%post must add nnp-shell"
printf '%s' "$OUT" | grep -qF "sed -i '\\!^/usr/bin/nnp-shell\$!d' /etc/shells" || fail "%postun must remove it"
case_end

# The RPM is built by rpmbuild from the spec (make rpm): its nnp-shell must be the static one
# whatever flags the build got (issue 20). Control: its nnp-shell-helper is dynamic.
case_begin "rpm payload: nnp-shell is static, holds no NSS and runs; the helper is dynamic"
mkdir -p "$T/payload"
LAST_CMD="rpm2cpio $RPM | cpio -idm"
(cd "$T/payload" && rpm2cpio "$RPM" | cpio -idm --quiet) || fail "cannot unpack the payload"
SH="$T/payload/usr/bin/nnp-shell"; HELPER="$T/payload/usr/lib/nnp/nnp-shell-helper"
if [ -f "$SH" ] && [ -f "$HELPER" ]; then
  readelf -lW "$SH" | grep -q "INTERP" && fail "the RPM's nnp-shell has a program interpreter (dynamically linked)"
  readelf -d "$SH" 2>/dev/null | grep -q "NEEDED" && fail "the RPM's nnp-shell needs shared libraries"
  grep -qaF nsswitch.conf "$SH" && fail "the RPM's nnp-shell links glibc's NSS"
  rc=0; "$SH" -c 'exit 7' < /dev/null 2> /dev/null || rc=$?
  [ "$rc" = 7 ] || fail "the RPM's nnp-shell -c 'exit 7' gave $rc"
  readelf -lW "$HELPER" | grep -q "INTERP" || fail "control: readelf must see the helper's interpreter"
  readelf -d "$HELPER" | grep -q "NEEDED" || fail "control: readelf must see the helper's libraries"
else
  fail "the payload lacks usr/bin/nnp-shell or usr/lib/nnp/nnp-shell-helper"
fi
case_end

# RHEL 9 has glibc 2.34: a binary of the RPM that needs a newer symbol version does not run
# there (a statically linked unwinder in the helper once needed 2.35's _dl_find_object, and
# nnp-shell then fell back to /bin/sh on RHEL 9). Control: 2.34 itself is needed (the check
# reads what rpmbuild found).
case_begin "rpm requires at most glibc 2.34 (RHEL 9)"
run rpm -qp --requires "$RPM"
newest=$(printf '%s\n' "$OUT" | sed -n 's/^libc\.so\.6(GLIBC_\([0-9.]*\))(64bit)$/\1/p' | sort -V | tail -1)
[ -n "$newest" ] || fail "control: rpm must list libc.so.6 symbol versions"
[ "$(printf '%s\n2.34\n' "$newest" | sort -V | tail -1)" = 2.34 ] || fail "the RPM needs GLIBC_$newest (RHEL 9 has 2.34)"
case_end

# RPM distributions add the pam_nnp line by hand: %preun refused nothing, and `rpm -e nnp`
# left a stack requiring a module that was gone (every login through it failed, root's
# too: review). %preun run as rpm runs it on an erase ($1 = 0), on a private /etc/pam.d.
case_begin "rpm %preun refuses an erase while a stack requires pam_nnp.so, in any case (control: no such line, or '-session', erases)"
run rpm -qp --scripts "$RPM"
printf '%s\n' "$OUT" | awk '/^preuninstall scriptlet/ {on=1; next} /^[a-z]+ scriptlet/ {on=0} on' > "$T/preun.sh"
grep -q pam_nnp "$T/preun.sh" || fail "%preun must look for pam_nnp lines"
# preun_with LINE — run %preun (erase) with /etc/pam.d holding one stack with LINE
preun_with() {
  LAST_CMD="%preun 0 with: $1"
  OUT=$(unshare -m --propagation private sh -c 'mount -t tmpfs nnp-rpm-pamd /etc/pam.d && printf "session required pam_unix.so\n%s\n" "$1" > /etc/pam.d/sshd && sh "$2" 0' sh "$1" "$T/preun.sh" 2>&1)
  RC=$?
}
for line in "session required pam_nnp.so" "Session Required /usr/lib64/security/pam_nnp.so" "session [success=ok default=bad] pam_nnp.so"; do
  preun_with "$line"
  [ "$RC" != 0 ] || fail "%preun must refuse the erase with: $line"
  printf '%s\n' "$OUT" | grep -qF "require pam_nnp.so, and every login through them would fail once it is removed: /etc/pam.d/sshd" || fail "the refusal must name the stack ($line)"
done
for line in "# session required pam_nnp.so" "-session optional pam_nnp.so" "session optional pam_nnp.so"; do
  preun_with "$line"
  [ "$RC" = 0 ] || fail "control: %preun must let the erase through with: $line"
done
grep -q pam_nnp /etc/pam.d/* 2>/dev/null && fail "the host's /etc/pam.d must be untouched"
case_end

finish
