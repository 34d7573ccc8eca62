//! Where `nnpctl guard watch` logs: journald's native protocol when journald runs (one
//! datagram per entry to `/run/systemd/journal/socket`, with fields a query can select:
//! `MESSAGE_ID`, `NNP_USER`, `NNP_UID`, `NNP_RULE`, `NNP_FILE`, `NNP_ACTION`...), syslog
//! (facility authpriv) otherwise, or when a datagram cannot be sent. Every `MESSAGE_ID` is
//! explained in the catalog `packaging/systemd/nnp.catalog`
//! (`/usr/lib/systemd/catalog/nnp.catalog`).
//!
//! The protocol (systemd's "Native Journal Protocol"): a datagram of fields, each
//! `NAME=value\n`, or, for a value that holds a newline, `NAME\n`, its length as a 64-bit
//! little-endian integer, the value and `\n`.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// journald's socket for the native protocol.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// A kind of event, with its `MESSAGE_ID` (the catalog explains each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// LSM mode refused an exec (EPERM).
    Refused,
    /// Kill mode killed an exec before the new image ran.
    Killed,
    /// An audit-mode rule would have refused an exec.
    WouldRefuse,
    /// watch reloaded the guard by itself (names resolved, a guard_allow file replaced).
    Refined,
    /// watch could not refine the guard.
    RefineFailed,
}

impl EventKind {
    /// The `MESSAGE_ID` (128 bits, hex).
    pub fn message_id(self) -> &'static str {
        match self {
            EventKind::Refused => "e280426ffb4e420f9cbec18477842fd0",
            EventKind::Killed => "c822ea26a8674bd2b194236bbedad26e",
            EventKind::WouldRefuse => "7cb7c9f234604a019f516dff0533b43b",
            EventKind::Refined => "142decf6689b4db6aa774b9ae3306caf",
            EventKind::RefineFailed => "86b784c5c5e24a57b8211e14b9a13fc6",
        }
    }
    /// syslog priority: err for a refusal or a failure, notice otherwise.
    pub fn priority(self) -> u8 {
        match self {
            EventKind::Refused | EventKind::Killed | EventKind::RefineFailed => 3,
            EventKind::WouldRefuse | EventKind::Refined => 5,
        }
    }
}

/// Encode one journal entry in the native protocol. Field names are the caller's
/// constants (upper case, digits, underscores).
pub fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// Where events go.
pub struct Logger {
    journal: Option<(UnixDatagram, PathBuf)>,
    /// Standard output is the journal already (`$JOURNAL_STREAM` names it): the native
    /// entry carries the message, so the text line need not be printed there too.
    pub stdout_is_journal: bool,
}

/// Is standard output the stream `$JOURNAL_STREAM` (`DEVICE:INODE`) names?
fn stdout_is_journal_stream() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/1") {
        Ok(m) => dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()),
        Err(_) => false,
    }
}

impl Logger {
    /// journald when it runs (`$JOURNAL_STREAM` is set, or its socket exists), syslog
    /// otherwise.
    pub fn detect() -> Logger {
        Logger::at(Path::new(JOURNAL_SOCKET))
    }

    /// As [`Logger::detect`], with the socket at `socket`.
    pub fn at(socket: &Path) -> Logger {
        let runs = std::env::var_os("JOURNAL_STREAM").is_some() || socket.exists();
        let journal = if runs {
            UnixDatagram::unbound()
                .ok()
                .map(|s| (s, socket.to_path_buf()))
        } else {
            None
        };
        Logger {
            stdout_is_journal: journal.is_some() && stdout_is_journal_stream(),
            journal,
        }
    }

    /// Is the journal in use?
    #[cfg(test)]
    pub fn journal(&self) -> bool {
        self.journal.is_some()
    }

    /// Log `message` of `kind` with extra `fields` (`NNP_...`): to the journal, else (or
    /// when the datagram cannot be sent) to syslog. Best effort.
    pub fn log(&self, kind: EventKind, message: &str, fields: &[(&str, &str)]) {
        if let Some((sock, path)) = &self.journal {
            let prio = kind.priority().to_string();
            let mut all: Vec<(&str, &str)> = vec![
                ("MESSAGE", message),
                ("MESSAGE_ID", kind.message_id()),
                ("PRIORITY", &prio),
                ("SYSLOG_FACILITY", "10"), // authpriv, as the syslog lines
                ("SYSLOG_IDENTIFIER", "nnp-guard"),
            ];
            all.extend_from_slice(fields);
            if sock.send_to(&encode(&all), path).is_ok() {
                return;
            }
        }
        nnp_sys::syslog_authpriv(c"nnp-guard", kind.priority() <= 3, message);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    /// journald's parser, for the test: every field, in order.
    fn decode(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let nl = b.iter().position(|&c| c == b'\n').unwrap();
            let line = &b[..nl];
            if let Some(eq) = line.iter().position(|&c| c == b'=') {
                out.push((
                    String::from_utf8(line[..eq].to_vec()).unwrap(),
                    line[eq + 1..].to_vec(),
                ));
                b = &b[nl + 1..];
            } else {
                let name = String::from_utf8(line.to_vec()).unwrap();
                let len = u64::from_le_bytes(b[nl + 1..nl + 9].try_into().unwrap()) as usize;
                let value = b[nl + 9..nl + 9 + len].to_vec();
                assert_eq!(b[nl + 9 + len], b'\n');
                out.push((name, value));
                b = &b[nl + 10 + len..];
            }
        }
        out
    }

    #[test]
    fn plain_and_length_prefixed_fields() {
        let d = encode(&[("MESSAGE", "two\nlines"), ("NNP_UID", "61001"), ("E", "")]);
        assert_eq!(
            &d[..8 + 8],
            b"MESSAGE\n\x09\x00\x00\x00\x00\x00\x00\x00".as_slice()
        );
        assert_eq!(
            decode(&d),
            vec![
                ("MESSAGE".to_string(), b"two\nlines".to_vec()),
                ("NNP_UID".to_string(), b"61001".to_vec()),
                ("E".to_string(), b"".to_vec()),
            ]
        );
    }

    #[test]
    fn message_ids_are_distinct_128_bit_hex() {
        let all = [
            EventKind::Refused,
            EventKind::Killed,
            EventKind::WouldRefuse,
            EventKind::Refined,
            EventKind::RefineFailed,
        ];
        let mut ids: Vec<&str> = all.iter().map(|k| k.message_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(id
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        // the catalog explains each one
        let catalog = include_str!("../../packaging/systemd/nnp.catalog");
        for id in ids {
            assert!(
                catalog.contains(&format!("-- {id}\n")),
                "{id} not in nnp.catalog"
            );
        }
    }

    #[test]
    fn an_entry_reaches_a_bound_socket_as_one_datagram() {
        let dir = std::env::temp_dir().join(format!("nnp-journal-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let log = Logger::at(&path);
        assert!(log.journal());
        log.log(
            EventKind::WouldRefuse,
            "audit: would refuse: pid 7 uid 61001 (alice) /usr/bin/su",
            &[
                ("NNP_USER", "alice"),
                ("NNP_UID", "61001"),
                ("NNP_RULE", "/etc/security/nnp.toml:3"),
                ("NNP_FILE", "/usr/bin/su"),
                ("NNP_ACTION", "would-refuse"),
            ],
        );
        let mut buf = vec![0u8; 65536];
        let n = server.recv(&mut buf).unwrap();
        let fields: BTreeMap<String, String> = decode(&buf[..n])
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(fields["MESSAGE_ID"], EventKind::WouldRefuse.message_id());
        assert_eq!(fields["PRIORITY"], "5");
        assert_eq!(fields["SYSLOG_IDENTIFIER"], "nnp-guard");
        assert_eq!(fields["NNP_RULE"], "/etc/security/nnp.toml:3");
        assert_eq!(fields["NNP_ACTION"], "would-refuse");
        assert!(fields["MESSAGE"].starts_with("audit: would refuse"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_socket_it_is_syslog() {
        let log = Logger {
            journal: None,
            stdout_is_journal: false,
        };
        assert!(!log.journal());
        // JOURNAL_STREAM aside (the test runner may run under systemd), a missing socket
        // means syslog
        if std::env::var_os("JOURNAL_STREAM").is_none() {
            assert!(!Logger::at(Path::new("/nonexistent/nnp/socket")).journal());
        }
    }
}
