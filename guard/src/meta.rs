//! What was loaded, and from which files: `/run/nnp/guard.meta` (gone at reboot, like the
//! pinned program), one `key value` per line. Staleness is judged by SHA-256 digests of
//! the config files' bytes (stable across builds and releases) and by the identity of
//! every `guard_allow` file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::{Action, AttachMode, Compiled, FileKey, GuardAction, GuardError, RUN_DIR};

/// The identity of the BPF program this nnpctl carries (SHA-256 of its sources).
pub const PROGRAM_ID: &str = env!("NNP_GUARD_PROGRAM_ID");

fn meta_path() -> PathBuf {
    Path::new(RUN_DIR).join("guard.meta")
}

/// A file's identity as stat(2) reports it, to notice a replaced `guard_allow` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatId {
    dev: u64,
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
}

impl StatId {
    pub(crate) fn of(m: &std::fs::Metadata) -> StatId {
        StatId {
            dev: m.dev(),
            ino: m.ino(),
            ctime: m.ctime(),
            ctime_nsec: m.ctime_nsec(),
        }
    }
    fn now(path: &str) -> Option<StatId> {
        std::fs::metadata(path).ok().map(|m| StatId::of(&m))
    }
}

/// A `guard_allow` file as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowFile {
    /// The path in the config.
    pub path: String,
    /// The kernel's key for it.
    pub key: FileKey,
    /// stat(2)'s identity at load.
    pub stat: StatId,
}

/// The loaded guard's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The BPF program's identity (SHA-256 of its sources, computed by build.rs) when loaded.
    pub program: String,
    /// Attach mode when loaded (the kernel's answer is [`crate::attached_mode`]).
    pub mode: AttachMode,
    /// The action in force when loaded or reloaded (the kernel's answer is
    /// [`crate::attached_action`]).
    pub action: Action,
    /// `guard_action` in the config.
    pub requested: GuardAction,
    /// Main config file.
    pub config: PathBuf,
    /// Was it named explicitly (must exist)?
    pub explicit: bool,
    /// Files read, with the SHA-256 of their content when loaded (hex).
    pub files: Vec<(PathBuf, String)>,
    /// Seconds since the epoch.
    pub loaded_at: u64,
    /// Counts: rules, uids, gids, ranges, combined rules, allowed files, star.
    pub counts: [usize; 7],
    /// Rule index → `FILE:LINE`.
    pub rules: Vec<String>,
    /// Why the loaded tables are wider than the rules (degraded); empty: complete.
    pub unresolved: Vec<String>,
    /// `guard_allow` files loaded.
    pub allow: Vec<AllowFile>,
    /// `guard_allow` paths that could not be used at load.
    pub allow_missing: Vec<String>,
    /// Notes from the compilation.
    pub notes: Vec<String>,
}

/// SHA-256 of a file's content, hex; `None` when it cannot be read.
pub(crate) fn digest(p: &Path) -> Option<String> {
    let bytes = std::fs::read(p).ok()?;
    let d = Sha256::digest(&bytes);
    Some(d.iter().map(|b| format!("{b:02x}")).collect())
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

impl Meta {
    pub(crate) fn new(mode: AttachMode, action: Action, c: &Compiled) -> Meta {
        Meta {
            mode,
            action,
            requested: c.config.guard_action,
            program: PROGRAM_ID.to_string(),
            config: c.path.clone(),
            explicit: c.explicit,
            files: c
                .config
                .files
                .iter()
                .map(|f| (f.clone(), digest(f).unwrap_or_else(|| "-".into())))
                .collect(),
            loaded_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            counts: [
                c.config.rules.len(),
                c.table.uids.len(),
                c.table.gids.len(),
                c.table.ranges.len(),
                c.table.combo.len(),
                c.allow.len(),
                usize::from(c.table.star.is_some()),
            ],
            rules: c.config.rules.iter().map(|r| r.at.to_string()).collect(),
            unresolved: c.table.unresolved.clone(),
            allow: c.allow.clone(),
            allow_missing: c
                .table
                .allow
                .iter()
                .filter(|p| !c.allow.iter().any(|a| &a.path == *p))
                .cloned()
                .collect(),
            notes: c
                .table
                .notes
                .iter()
                .chain(c.allow_notes.iter())
                .cloned()
                .collect(),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut s = format!(
            "mode {}\naction {}\nrequested {}\nconfig {}\nexplicit {}\nloaded_at {}\ncounts {}\n",
            self.mode.as_str(),
            self.action.as_str(),
            self.requested.as_str(),
            one_line(&self.config.display().to_string()),
            u8::from(self.explicit),
            self.loaded_at,
            self.counts.map(|c| c.to_string()).join(" ")
        );
        s.push_str(&format!("program {}\n", one_line(&self.program)));
        for (f, d) in &self.files {
            s.push_str(&format!(
                "file {d} {}\n",
                one_line(&f.display().to_string())
            ));
        }
        for r in &self.rules {
            s.push_str(&format!("rule {}\n", one_line(r)));
        }
        for u in &self.unresolved {
            s.push_str(&format!("unresolved {}\n", one_line(u)));
        }
        for a in &self.allow {
            let k = a.key;
            let st = a.stat;
            s.push_str(&format!(
                "allow {} {} {} {} {} {} {} {} {} {} {}\n",
                k.dev,
                k.ino,
                k.ctime_sec,
                k.ctime_nsec,
                k.generation,
                st.dev,
                st.ino,
                st.ctime,
                st.ctime_nsec,
                0,
                one_line(&a.path)
            ));
        }
        for p in &self.allow_missing {
            s.push_str(&format!("allow_missing {}\n", one_line(p)));
        }
        for n in &self.notes {
            s.push_str(&format!("note {}\n", one_line(n)));
        }
        s
    }

    pub(crate) fn write(&self) -> Result<(), GuardError> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = meta_path();
        let tmp = Path::new(RUN_DIR).join("guard.meta.new");
        let _ = std::fs::remove_file(&tmp);
        // Explicit modes, whatever the caller's umask: only root may write what status
        // believes (read() refuses anything else).
        std::fs::create_dir_all(RUN_DIR)
            .and_then(|()| {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&tmp)?;
                f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
                f.write_all(self.render().as_bytes())
            })
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| crate::sys(&format!("writing {}", path.display()), e))
    }

    /// Parse the metadata text.
    pub fn parse(text: &str) -> Option<Meta> {
        let mut m = Meta {
            program: "unknown".to_string(),
            mode: AttachMode::Kill,
            action: Action::Refuse,
            requested: GuardAction::Refuse,
            config: PathBuf::new(),
            explicit: false,
            files: Vec::new(),
            loaded_at: 0,
            counts: [0; 7],
            rules: Vec::new(),
            unresolved: Vec::new(),
            allow: Vec::new(),
            allow_missing: Vec::new(),
            notes: Vec::new(),
        };
        for line in text.lines() {
            let (k, v) = line.split_once(' ')?;
            match k {
                "mode" => m.mode = AttachMode::parse(v)?,
                "program" => m.program = v.to_string(),
                "action" => m.action = Action::parse(v)?,
                "requested" => {
                    m.requested = match v {
                        "degrade" => GuardAction::Degrade,
                        _ => GuardAction::Refuse,
                    }
                }
                "config" => m.config = PathBuf::from(v),
                "explicit" => m.explicit = v == "1",
                "loaded_at" => m.loaded_at = v.parse().ok()?,
                "counts" => {
                    for (slot, n) in m.counts.iter_mut().zip(v.split(' ')) {
                        *slot = n.parse().ok()?;
                    }
                }
                "file" => {
                    let (d, f) = v.split_once(' ')?;
                    m.files.push((PathBuf::from(f), d.to_string()));
                }
                "rule" => m.rules.push(v.to_string()),
                "unresolved" => m.unresolved.push(v.to_string()),
                "allow" => {
                    let mut f = v.splitn(11, ' ');
                    let mut n = || f.next().and_then(|x| x.parse::<i64>().ok());
                    let (dev, ino, cs, cn, gen) = (n()?, n()?, n()?, n()?, n()?);
                    let (sdev, sino, sc, scn, _) = (n()?, n()?, n()?, n()?, n()?);
                    let path = f.next()?.to_string();
                    m.allow.push(AllowFile {
                        path,
                        key: FileKey {
                            dev: dev as u64,
                            ino: ino as u64,
                            ctime_sec: cs,
                            ctime_nsec: cn as u32,
                            generation: gen as u32,
                        },
                        stat: StatId {
                            dev: sdev as u64,
                            ino: sino as u64,
                            ctime: sc,
                            ctime_nsec: scn,
                        },
                    });
                }
                "allow_missing" => m.allow_missing.push(v.to_string()),
                "note" => m.notes.push(v.to_string()),
                _ => {}
            }
        }
        Some(m)
    }

    /// The metadata of the loaded guard, if any and if only root could have written it.
    pub fn read() -> Option<Meta> {
        let path = meta_path();
        let m = std::fs::symlink_metadata(&path).ok()?;
        let dir = std::fs::metadata(RUN_DIR).ok()?;
        if !m.is_file()
            || m.uid() != 0
            || m.mode() & 0o022 != 0
            || dir.uid() != 0
            || dir.mode() & 0o022 != 0
        {
            return None;
        }
        Meta::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// `guard_allow` files replaced (or appeared) since the guard was loaded.
    pub fn allow_changed(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.allow {
            if StatId::now(&a.path) != Some(a.stat) {
                out.push(a.path.clone());
            }
        }
        for p in &self.allow_missing {
            if Path::new(p).exists() {
                out.push(p.clone());
            }
        }
        out
    }

    /// How the loaded policy differs from the config on disk now (files changed, added or
    /// removed; `guard_allow` files replaced); empty: current.
    pub fn stale(&self) -> Vec<String> {
        let mut out = Vec::new();
        let now = nnp_config::load_explicit(&self.config, self.explicit);
        match now {
            Ok(c) => {
                for f in &c.files {
                    if !self.files.iter().any(|(g, _)| g == f) {
                        out.push(format!("{} added", f.display()));
                    }
                }
            }
            Err(e) => out.push(format!("the config on disk does not load now ({e})")),
        }
        for (f, d) in &self.files {
            match digest(f) {
                Some(now) if &now == d => {}
                Some(_) => out.push(format!("{} changed", f.display())),
                None => out.push(format!("{} removed or unreadable", f.display())),
            }
        }
        if self.program != PROGRAM_ID {
            out.push(
                "the attached program is another version's (nnp was upgraded since it was loaded; a reload swaps tables, not the program): run nnpctl guard unload, then load, or reboot"
                    .to_string(),
            );
        }
        for p in self.allow_changed() {
            out.push(format!("guard_allow {p} replaced"));
        }
        out
    }
}

pub(crate) fn remove() {
    let _ = std::fs::remove_file(meta_path());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn meta_round_trips() {
        let m = Meta {
            program: "0123abcd".into(),
            mode: AttachMode::Lsm,
            action: Action::Degrade,
            requested: GuardAction::Degrade,
            config: PathBuf::from("/etc/security/my nnp.toml"),
            explicit: true,
            files: vec![(PathBuf::from("/etc/security/my nnp.toml"), "ab".into())],
            loaded_at: 42,
            counts: [1, 2, 3, 4, 5, 6, 1],
            rules: vec!["/etc/security/nnp.toml:3".into()],
            unresolved: vec!["/x:1: user \"dan\" is not known to NSS".into()],
            allow: vec![AllowFile {
                path: "/usr/bin/new uidmap".into(),
                key: FileKey {
                    dev: 8388609,
                    ino: 77,
                    ctime_sec: -5,
                    ctime_nsec: 9,
                    generation: 4_000_000_000,
                },
                stat: StatId {
                    dev: 2049,
                    ino: 77,
                    ctime: -5,
                    ctime_nsec: 9,
                },
            }],
            allow_missing: vec!["/nope".into()],
            notes: vec!["n".into()],
        };
        assert_eq!(Meta::parse(&m.render()), Some(m));
    }

    #[test]
    fn digest_is_sha256() {
        let d = tempfile_path("abc");
        assert_eq!(
            digest(&d).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let _ = std::fs::remove_file(d);
    }

    fn tempfile_path(content: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("nnp-meta-test-{}", std::process::id()));
        std::fs::write(&p, content).unwrap();
        p
    }
}
