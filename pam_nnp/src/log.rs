//! Best-effort syslog (facility authpriv). A missing, full or slow syslog never changes a
//! decision and never holds a login for more than a moment: every failure is ignored.

use std::time::Duration;

use syslog::{Facility, Formatter3164, LoggerBackend};

use crate::core::Level;

/// Longest message sent (syslog daemons truncate around 1-8 KiB anyway).
const MAX_MESSAGE: usize = 960;
/// How long one send may block when the syslog socket's queue is full.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// The syslog tag: the program's command name (`/proc/self/comm`, which, unlike argv[0],
/// is not rewritten by sshd's setproctitle), reduced to harmless characters.
fn process_name() -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let name: String = comm
        .trim_end()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "pam_nnp".to_string()
    } else {
        name
    }
}

/// One line for syslog: control characters escaped (user names are escaped before this
/// already; this also covers paths and anything else), bounded to `MAX_MESSAGE` bytes on a
/// character boundary. No input can forge a second log line.
pub fn sanitize(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MAX_MESSAGE));
    for c in msg.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
        if out.len() >= MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("...");
            break;
        }
    }
    out
}

/// Send each line to syslog with the `pam_nnp(SERVICE:session): ` prefix.
pub fn send(service: &str, lines: &[(Level, String)]) {
    if lines.is_empty() {
        return;
    }
    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: process_name(),
        pid: std::process::id(),
    };
    let Ok(mut logger) = syslog::unix(formatter) else {
        return; // no syslog socket: not an error
    };
    match &logger.backend {
        LoggerBackend::Unix(sock) => {
            let _ = sock.set_write_timeout(Some(SEND_TIMEOUT));
        }
        LoggerBackend::UnixStream(sock) => {
            let _ = sock.get_ref().set_write_timeout(Some(SEND_TIMEOUT));
        }
        _ => {}
    }
    let service = nnp_config::sys::escape_name(service.as_bytes());
    for (level, msg) in lines {
        let line = format!("pam_nnp({service}:session): {}", sanitize(msg));
        let _ = match level {
            Level::Err => logger.err(line),
            Level::Notice => logger.notice(line),
            Level::Debug => logger.debug(line),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_and_bounds() {
        assert_eq!(sanitize("a\nb\rc\u{85}"), "a\\nb\\rc\\u{85}");
        let long = "é".repeat(2000);
        let s = sanitize(&long);
        assert!(s.len() <= MAX_MESSAGE + 3 && s.ends_with("..."));
    }
}
