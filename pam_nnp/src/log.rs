//! Logging through libpam's `pam_syslog(3)`, like `pam_unix` and `pam_limits`: facility
//! authpriv, the prefix `pam_nnp(SERVICE:session): `, the application's openlog identity
//! and local time all come from libpam and glibc. Best effort: with no syslog socket glibc
//! drops the message; nothing here can fail a login.

use pam::module::PamHandle;

use nnp_sys::pamlog::{self, Priority};

/// Longest message sent (syslog daemons truncate around 1-8 KiB anyway).
const MAX_MESSAGE: usize = 960;

/// One line for syslog: every character that is not printable (controls, bidi and other
/// format characters, line separators: nnp-config's one escaper) escaped — user names are
/// escaped before this already; this also covers paths and anything else — bounded to
/// `MAX_MESSAGE` bytes on a character boundary. No input can forge a second log line.
pub fn sanitize(msg: &str) -> String {
    nnp_config::escape_message(msg, MAX_MESSAGE)
}

/// Send each line through pam_syslog.
pub fn send(pamh: &PamHandle, lines: &[(Priority, String)]) {
    for (prio, msg) in lines {
        pamlog::log(pamh, *prio, &sanitize(msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_and_bounds() {
        assert_eq!(sanitize("a\nb\rc\u{85}%s%n"), "a\\nb\\rc\\u{85}%s%n");
        assert_eq!(sanitize("x\u{202E}y\u{2028}"), "x\\u{202e}y\\u{2028}");
        let long = "é".repeat(2000);
        let s = sanitize(&long);
        assert!(s.len() <= MAX_MESSAGE + 3 && s.ends_with("..."));
    }
}
