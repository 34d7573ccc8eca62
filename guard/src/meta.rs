//! What was loaded, and from which files: `/run/nnp/guard.meta` (gone at reboot, like the
//! pinned program), one `key value` per line.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Compiled, GuardError, Mode};

const META: &str = "/run/nnp/guard.meta";

/// The loaded guard's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Attach mode.
    pub mode: Mode,
    /// Main config file.
    pub config: PathBuf,
    /// Files read, with a fingerprint of their content when loaded.
    pub files: Vec<(PathBuf, i64)>,
    /// Seconds since the epoch.
    pub loaded_at: u64,
    /// Counts: rules, uids, gids, ranges, allow, star.
    pub counts: [usize; 6],
    /// Rule index → `FILE:LINE`.
    pub rules: Vec<String>,
}

/// A fingerprint of a file's content (changes within the same second count too); -1 when
/// it cannot be read.
fn mtime(p: &Path) -> i64 {
    use std::hash::{Hash, Hasher};
    match std::fs::read(p) {
        Ok(bytes) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            i64::from_ne_bytes(h.finish().to_ne_bytes()) & i64::MAX
        }
        Err(_) => -1,
    }
}

impl Meta {
    pub(crate) fn new(mode: Mode, config: &Path, c: &Compiled) -> Meta {
        Meta {
            mode,
            config: config.to_path_buf(),
            files: c
                .config
                .files
                .iter()
                .map(|f| (f.clone(), mtime(f)))
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
                c.allow.len(),
                usize::from(c.table.star.is_some()),
            ],
            rules: c.config.rules.iter().map(|r| r.at.to_string()).collect(),
        }
    }

    pub(crate) fn write(&self) -> Result<(), GuardError> {
        let mut s = format!(
            "mode {}\nconfig {}\nloaded_at {}\ncounts {}\n",
            self.mode.as_str(),
            self.config.display(),
            self.loaded_at,
            self.counts.map(|c| c.to_string()).join(" ")
        );
        for (f, m) in &self.files {
            s.push_str(&format!("file {m} {}\n", f.display()));
        }
        for r in &self.rules {
            s.push_str(&format!("rule {r}\n"));
        }
        std::fs::create_dir_all("/run/nnp")
            .and_then(|()| std::fs::write(META, s))
            .map_err(|e| GuardError::System(format!("writing {META}: {e}")))
    }

    /// The metadata of the loaded guard, if any.
    pub fn read() -> Option<Meta> {
        let text = std::fs::read_to_string(META).ok()?;
        let mut m = Meta {
            mode: Mode::Kill,
            config: PathBuf::new(),
            files: Vec::new(),
            loaded_at: 0,
            counts: [0; 6],
            rules: Vec::new(),
        };
        for line in text.lines() {
            let (k, v) = line.split_once(' ')?;
            match k {
                "mode" => m.mode = Mode::parse(v)?,
                "config" => m.config = PathBuf::from(v),
                "loaded_at" => m.loaded_at = v.parse().ok()?,
                "counts" => {
                    for (slot, n) in m.counts.iter_mut().zip(v.split(' ')) {
                        *slot = n.parse().ok()?;
                    }
                }
                "file" => {
                    let (t, f) = v.split_once(' ')?;
                    m.files.push((PathBuf::from(f), t.parse().ok()?));
                }
                "rule" => m.rules.push(v.to_string()),
                _ => {}
            }
        }
        Some(m)
    }

    /// Files changed, added or removed since the guard was loaded (the loaded policy is
    /// older than the config on disk).
    pub fn stale(&self, now_files: &[PathBuf]) -> Vec<String> {
        let mut out = Vec::new();
        for (f, t) in &self.files {
            if mtime(f) != *t {
                out.push(format!("{} changed", f.display()));
            }
        }
        for f in now_files {
            if !self.files.iter().any(|(g, _)| g == f) {
                out.push(format!("{} added", f.display()));
            }
        }
        out
    }
}

pub(crate) fn remove() {
    let _ = std::fs::remove_file(META);
}
