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

/// Bound a message to `MAX_MESSAGE` bytes on a character boundary. The message's
/// user-controlled parts are escaped already (no newline can forge a second line).
pub fn bounded(msg: &str) -> &str {
    if msg.len() <= MAX_MESSAGE {
        return msg;
    }
    let mut cut = MAX_MESSAGE;
    while !msg.is_char_boundary(cut) {
        cut -= 1;
    }
    &msg[..cut]
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
        let line = format!("pam_nnp({service}:session): {}", bounded(msg));
        let _ = match level {
            Level::Err => logger.err(line),
            Level::Notice => logger.notice(line),
            Level::Info => logger.info(line),
            Level::Debug => logger.debug(line),
        };
    }
}
