//! The local account files, read directly. The accounts of `/etc/passwd` (the exec guard's
//! case variants and uid aliases; [`passwd_users`]). Group names resolved from `/etc/group` in
//! one pass, for the case where NSS would read that file first: no enumeration of the group
//! database (`setgrent`/`getgrent_r`) ever runs in a login process.
//!
//! When the `group:` line of `/etc/nsswitch.conf` names `files` first (with its default
//! action on success, `return`), glibc's `getgrnam_r` answers a name that `/etc/group` holds
//! with the first line of that name, and never asks a later source. So reading `/etc/group`
//! once and keeping the first line of each wanted name gives exactly NSS's answer for the
//! names found there. Every other name (not in the file, or on a line glibc's parser might
//! read differently) is still asked of NSS with `getgrnam_r`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::{GroupEntry, LookupError, UserEntry};

/// Does this nsswitch.conf make `files` the first source of the `group` database, returning
/// on success? A missing `group:` line or any doubt is `false` (then only `getgrnam_r`).
pub fn files_first(nsswitch: &str) -> bool {
    let mut answer = false;
    for line in nsswitch.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((db, sources)) = line.split_once(':') else {
            continue;
        };
        if db.trim() != "group" {
            continue;
        }
        // glibc uses the first line of a database; later ones are ignored.
        let sources = sources.trim_start();
        answer = match sources.strip_prefix("files") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                returns_on_success(rest.trim_start())
            }
            _ => false,
        };
        break;
    }
    answer
}

/// Does the action list (if any) at the start of `rest`, the text after a source, leave that
/// source's SUCCESS action at `return`? As glibc's nss_parse_service_list reads it: items
/// `[!]STATUS=ACTION` between brackets, status and action compared case-insensitively, `!X`
/// applying to every status but X. Anything not read with certainty (no closing bracket, an
/// item without `=`) is `false`.
fn returns_on_success(rest: &str) -> bool {
    let Some(list) = rest.strip_prefix('[') else {
        return true; // no action list: SUCCESS=return is glibc's default
    };
    let Some((items, _)) = list.split_once(']') else {
        return false;
    };
    items.split_whitespace().all(|item| {
        let Some((status, action)) = item.split_once('=') else {
            return false;
        };
        let (negated, status) = match status.strip_prefix('!') {
            Some(s) => (true, s),
            None => (false, status),
        };
        let is_success = status.eq_ignore_ascii_case("SUCCESS");
        let applies = is_success != negated;
        !applies || action.eq_ignore_ascii_case("return")
    })
}

/// What one pass over a group file found for the wanted names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileGroups {
    /// The first entry of each wanted name that the file holds.
    pub found: HashMap<String, GroupEntry>,
    /// Wanted names on a line that could not be parsed: NSS must be asked about them.
    pub unsure: HashSet<String>,
}

/// One pass over the text of a group file, keeping the first line of each wanted name.
pub fn scan(text: &[u8], want: &HashSet<&str>) -> FileGroups {
    let mut out = FileGroups::default();
    for raw in text.split(|&b| b == b'\n') {
        // glibc's parser skips leading white space, empty lines and comments
        let start = raw
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(raw.len());
        let line = &raw[start..];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut fields = line.splitn(4, |&b| b == b':');
        let Some(name) = fields.next().and_then(|n| std::str::from_utf8(n).ok()) else {
            continue;
        };
        if !want.contains(name) || out.found.contains_key(name) || out.unsure.contains(name) {
            continue;
        }
        let _password = fields.next();
        let gid = fields
            .next()
            .and_then(|g| std::str::from_utf8(g).ok())
            .filter(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|g| g.parse::<u32>().ok());
        let (Some(gid), Some(members)) = (gid, fields.next()) else {
            out.unsure.insert(name.to_string());
            continue;
        };
        let members = members
            .strip_suffix(b"\r")
            .unwrap_or(members)
            .split(|&b| b == b',')
            .filter(|m| !m.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        out.found.insert(
            name.to_string(),
            GroupEntry {
                name: name.as_bytes().to_vec(),
                gid,
                members,
            },
        );
    }
    out
}

/// `/etc/group`'s entries for the wanted names, when `/etc/nsswitch.conf` makes `files` the
/// first source; `None` when it does not or either file cannot be read (then NSS is asked).
pub fn local_groups(want: &HashSet<&str>) -> Option<FileGroups> {
    let conf = std::fs::read(Path::new("/etc/nsswitch.conf")).ok()?;
    if !files_first(&String::from_utf8_lossy(&conf)) {
        return None;
    }
    let text = std::fs::read(Path::new("/etc/group")).ok()?;
    Some(scan(&text, want))
}

/// The accounts of a passwd-format file. A missing file is no account; an unreadable one
/// is an error.
pub(crate) fn passwd_users(path: &Path) -> Result<Vec<UserEntry>, LookupError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(LookupError::File {
                path: path.to_path_buf(),
                source: std::sync::Arc::new(e),
            })
        }
    };
    let num = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
    };
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut f = line.split(|&b| b == b':');
        if let (Some(n), Some(_), Some(uid), Some(gid)) = (f.next(), f.next(), f.next(), f.next()) {
            if let (Some(uid), Some(gid)) = (num(uid), num(gid)) {
                out.push(UserEntry {
                    name: n.to_vec(),
                    uid,
                    gid,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_first_only_when_files_leads_and_returns_on_success() {
        assert!(files_first(
            "passwd: files\ngroup:          files systemd\n"
        ));
        assert!(files_first("group: files"));
        assert!(files_first("group: files [NOTFOUND=return] ldap"));
        assert!(!files_first("group: sss files"));
        assert!(!files_first("group: ldap"));
        assert!(!files_first("group: files [SUCCESS=continue] ldap"));
        // forms a hostile review found read as files-first: SUCCESS continues in both
        assert!(!files_first("group: files [!NOTFOUND=continue] ldap"));
        assert!(!files_first("group: files [ SUCCESS=continue ] ldap"));
        assert!(!files_first("group: files [success=merge] ldap"));
        assert!(!files_first(
            "group: files [NOTFOUND=return !UNAVAIL=continue] ldap"
        ));
        assert!(!files_first("group: files [SUCCESS=continue ldap")); // unclosed: doubt
        assert!(!files_first("group: files [SUCCESS] ldap")); // no action: doubt
        assert!(!files_first("group: files[SUCCESS=continue] ldap"));
        // controls: SUCCESS still returns
        assert!(files_first("group: files [!SUCCESS=continue] ldap"));
        assert!(files_first(
            "group: files [ NOTFOUND=continue UNAVAIL=continue ] ldap"
        ));
        assert!(files_first("group: files [success=RETURN] ldap"));
        assert!(files_first("group:files"));
        assert!(!files_first("group: filesx"));
        assert!(!files_first("passwd: files\n")); // no group line: ask NSS
        assert!(!files_first("# group: files\ngroup: compat"));
        assert!(!files_first("group: compat\ngroup: files")); // the first line counts
        assert!(!files_first("gshadow: files\ngroup: sss files"));
    }

    #[test]
    fn first_line_of_each_wanted_name() {
        let text = b"root:x:0:\n  # comment\n\nstaff:x:50:alice,bob\nstaff:x:51:\nother:x:7:\nweird:x::\nwin:x:9:carol\r\n";
        let want: HashSet<&str> = ["staff", "weird", "win", "absent"].into_iter().collect();
        let f = scan(text, &want);
        assert_eq!(f.found["staff"].gid, 50);
        assert_eq!(
            f.found["staff"].members,
            vec![b"alice".to_vec(), b"bob".to_vec()]
        );
        assert_eq!(f.found["win"].members, vec![b"carol".to_vec()]);
        assert!(!f.found.contains_key("other") && !f.found.contains_key("absent"));
        assert!(f.unsure.contains("weird"));
        assert_eq!(f.found.len(), 2);
    }
}
