//! The nnp exec guard: a BPF program that refuses privilege-raising exec (setuid, setgid,
//! file capabilities) for the users the first matching rule restricts, on every login
//! path, outside rootless user namespaces. `nnpctl guard` is its front end.
//!
//! The rules are compiled by nnp-config ([`nnp_config::Config::guard_table`]); this crate
//! loads the program (BPF LSM where the kernel runs it, else the `sched_prepare_exec`
//! tracepoint with SIGKILL), proves that the attached program runs before it counts, fills
//! its tables, pins everything under [`PIN_DIR`] and swaps the tables atomically on reload
//! (two sets, one active index). Load, reload and unload hold one lock. [`GuardState`] is
//! the one answer to "is the guard in force", used by every front end.
//!
//! The generated skeletons (`libbpf-cargo`) are the only unsafe code here, in `skel` and
//! `allow_skel` and `tasks_skel` (one module, `generated`, carries their lint exceptions).
#![deny(unsafe_code)]

/// The generated skeletons, under one set of lint exceptions.
#[allow(
    unsafe_code,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::dbg_macro,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    unsafe_op_in_unsafe_fn
)]
mod generated {
    pub(crate) mod skel {
        include!(concat!(env!("OUT_DIR"), "/guard.skel.rs"));
    }
    pub(crate) mod allow_skel {
        include!(concat!(env!("OUT_DIR"), "/allow_key.skel.rs"));
    }
    pub(crate) mod tasks_skel {
        include!(concat!(env!("OUT_DIR"), "/tasks.skel.rs"));
    }
}
use generated::{allow_skel, skel};

mod meta;
mod report;
mod rule_counts;
mod state;
pub mod tasks;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::mem::{offset_of, size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, MapType};
use nnp_config::guard::{Entry, GuardTable, Range};
use nnp_config::{Config, Nss};

pub use meta::{AllowFile, Meta, PROGRAM_ID};
pub use report::{parse_report_entry, read_report, ReportEntry};
pub use rule_counts::{
    changed_slots, parse_rule_count, read_rule_counts, RuleCount, RuleCounts, MAX_RULE_COUNTS,
};
pub use state::{GuardState, Protection};

pub use nnp_config::GuardAction;

/// Where the link, the maps and the metadata are pinned.
pub const PIN_DIR: &str = "/sys/fs/bpf/nnp";
/// Where the metadata and the lock live (gone at reboot, like the pins).
pub const RUN_DIR: &str = "/run/nnp";
/// The maps of the two table sets: uids, gids, ranges, combo, allow.
const SET_MAPS: [[&str; 6]; 2] = [
    [
        "uids_a",
        "gids_a",
        "ranges_a",
        "combo_a",
        "allow_a",
        "gidlist_a",
    ],
    [
        "uids_b",
        "gids_b",
        "ranges_b",
        "combo_b",
        "allow_b",
        "gidlist_b",
    ],
];
const OTHER_MAPS: [&str; 5] = ["state", "counters", "events", "report", "rule_counts"];
/// The links: `link` (refuse or kill; once pinned the guard is in force) and, with the
/// `bprm_no_new_privs` hook, `link_degrade`.
const LINKS: [&str; 2] = ["link", "link_degrade"];

use skel::types::{
    nnp_counter, nnp_entry, nnp_event, nnp_file_key, nnp_guard_action, nnp_range, nnp_state_slot,
};

/// How the guard is attached (`--mode lsm|kill`; the config's enforce/audit is `nnp_config::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// BPF LSM on `bprm_creds_from_file`: the exec fails with EPERM.
    Lsm,
    /// `tp_btf/sched_prepare_exec`: the task is killed before the new image runs.
    Kill,
}

impl AttachMode {
    /// The spelling in `--mode`, status and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachMode::Lsm => "lsm",
            AttachMode::Kill => "kill",
        }
    }
    /// Parse a `--mode` value.
    pub fn parse(s: &str) -> Option<AttachMode> {
        match s {
            "lsm" => Some(AttachMode::Lsm),
            "kill" => Some(AttachMode::Kill),
            _ => None,
        }
    }
}

/// What the loaded guard does with an exec it catches: `guard_action` as this kernel and
/// mode allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The exec runs with the caller's privileges (no_new_privs semantics for that exec):
    /// LSM mode on a kernel with the `bprm_no_new_privs` hook.
    Degrade,
    /// The exec fails with EPERM (LSM mode).
    Refuse,
    /// The task is killed before the new image runs (kill mode).
    Kill,
}

impl Action {
    /// The spelling in status, doctor, explain and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Degrade => "degrade",
            Action::Refuse => "refuse",
            Action::Kill => "kill",
        }
    }
    /// Parse [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "degrade" => Some(Action::Degrade),
            "refuse" => Some(Action::Refuse),
            "kill" => Some(Action::Kill),
            _ => None,
        }
    }
    /// What it means for a guarded user's privilege-raising exec, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Degrade => "runs with the caller's privileges (no_new_privs for that exec)",
            Action::Refuse => "fails with EPERM",
            Action::Kill => "is killed before the new image runs",
        }
    }
}

/// The kernel function a BPF LSM program attaches to for `guard_action = "degrade"`: present
/// in the kernel's BTF only with nnp's patch series (kernel/ in the source tree).
pub const DEGRADE_HOOK: &str = "bpf_lsm_bprm_no_new_privs";

/// Does the running kernel have the `bprm_no_new_privs` hook (its BPF LSM attach point in
/// the kernel's BTF)?
pub fn degrade_hook() -> bool {
    libbpf_rs::btf::Btf::from_vmlinux()
        .ok()
        .and_then(|b| {
            b.type_by_name::<libbpf_rs::btf::types::Func<'_>>(DEGRADE_HOOK)
                .map(|_| ())
        })
        .is_some()
}

/// Why `requested` is not the action in force (`None` when it is).
pub fn action_fallback(requested: GuardAction, action: Action) -> Option<String> {
    match (requested, action) {
        (GuardAction::Degrade, Action::Refuse) => Some(format!(
            "guard_action = \"degrade\" falls back to refuse: this kernel lacks the bprm_no_new_privs hook ({DEGRADE_HOOK} is not in its BTF; nnp's kernel/ patch series adds it)"
        )),
        (GuardAction::Degrade, Action::Kill) => Some(
            "guard_action = \"degrade\" falls back to kill: degrade needs LSM mode and the bprm_no_new_privs hook".to_string(),
        ),
        _ => None,
    }
}

/// What went wrong, and whether it means "could not" (the kernel, the system) or "wrong"
/// (the config): two kinds, [`GuardError::Config`] and the others.
#[derive(Debug, Clone)]
pub enum GuardError {
    /// The config cannot be loaded: nothing changed.
    Config(nnp_config::LoadError),
    /// The kernel or the system cannot do it, as the guard found.
    System(String),
    /// The kernel or the system cannot do it: a call failed.
    Call {
        /// What was being done.
        what: String,
        /// The call's error.
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl GuardError {
    /// Is the config wrong (rather than the system unable)?
    pub fn is_config(&self) -> bool {
        matches!(self, GuardError::Config(_))
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Config(e) => e.fmt(f),
            GuardError::System(m) => f.write_str(m),
            GuardError::Call { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for GuardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GuardError::Config(e) => Some(e),
            GuardError::System(_) => None,
            GuardError::Call { source, .. } => Some(&**source),
        }
    }
}

fn sys(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> GuardError {
    GuardError::Call {
        what: what.to_string(),
        source: std::sync::Arc::new(e),
    }
}

/// The config and its compiled tables, with the allowed files' kernel identities.
pub struct Compiled {
    /// The config.
    pub config: Config,
    /// The main file it was loaded from.
    pub path: PathBuf,
    /// Was it named explicitly (then it must exist)?
    pub explicit: bool,
    /// The tables.
    pub table: GuardTable,
    /// `guard_allow` files that exist, with the key the kernel sees at exec.
    pub allow: Vec<AllowFile>,
    /// Notes on `guard_allow` entries that could not be used (missing files: refused).
    pub allow_notes: Vec<String>,
}

impl Compiled {
    /// Is the compiled table wider than the rules until names resolve?
    pub fn degraded(&self) -> bool {
        self.table.degraded()
    }
}

/// Load the config (`explicit`: it must exist) and compile it for the guard. Names that
/// cannot be resolved make the table wider (degraded), never an error: only an invalid
/// config is.
pub fn compile(path: &Path, explicit: bool) -> Result<Compiled, GuardError> {
    let config = nnp_config::load_explicit(path, explicit).map_err(GuardError::Config)?;
    let mut table = config.guard_table(&Nss);
    table.fit();
    let (allow, allow_notes) = allow_keys(&table.allow)?;
    Ok(Compiled {
        config,
        path: path.to_path_buf(),
        explicit,
        table,
        allow,
        allow_notes,
    })
}

/// The kernel's identity of each `guard_allow` file: open them, then ask the kernel
/// (allow_key.bpf.c) how it sees our descriptors.
fn allow_keys(paths: &[String]) -> Result<(Vec<AllowFile>, Vec<String>), GuardError> {
    let mut open = Vec::new();
    let mut notes = Vec::new();
    for p in paths {
        if open.len() >= nnp_config::guard::MAX_ALLOW {
            // fewer allowed files is stricter, never narrower
            notes.push(format!(
                "guard_allow {p}: more than {} files: not allowed",
                nnp_config::guard::MAX_ALLOW
            ));
            continue;
        }
        // The trust rules of the config files: a file a user could place or swap (a
        // symlink in a writable directory) would become a setuid file anyone may run.
        match nnp_config::open_allowed_file(Path::new(p)) {
            Ok(Some(f)) => match f.metadata() {
                Ok(m) => open.push((p.clone(), f, m)),
                Err(e) => notes.push(format!("guard_allow {p}: {e}: not allowed")),
            },
            Ok(None) => notes.push(format!("guard_allow {p}: no such file: not allowed")),
            Err(d) => notes.push(format!("guard_allow {d}: not allowed")),
        }
    }
    if open.is_empty() {
        return Ok((Vec::new(), notes));
    }
    libbpf_rs::set_print(None);
    let mut storage = MaybeUninit::uninit();
    let open_skel = allow_skel::AllowKeySkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| sys("opening the guard_allow iterator", e))?;
    let skel = open_skel
        .load()
        .map_err(|e| sys("loading the guard_allow iterator", e))?;
    let link = skel
        .progs
        .nnp_allow_key
        .attach_iter_with_opts(libbpf_rs::IterOpts::None)
        .map_err(|e| sys("attaching the guard_allow iterator", e))?;
    let mut it = libbpf_rs::Iter::new(&link).map_err(|e| sys("running the iterator", e))?;
    let mut bytes = Vec::new();
    it.read_to_end(&mut bytes)
        .map_err(|e| sys("reading the iterator", e))?;
    let rec = size_of::<allow_skel::types::nnp_fd_key>();
    let mut by_fd = BTreeMap::new();
    for chunk in bytes.chunks_exact(rec) {
        let fd = read_u32(chunk, offset_of!(allow_skel::types::nnp_fd_key, fd));
        let k = offset_of!(allow_skel::types::nnp_fd_key, key);
        let key = FileKey {
            dev: read_u64(chunk, k + offset_of!(allow_skel::types::nnp_file_key, dev)),
            ino: read_u64(chunk, k + offset_of!(allow_skel::types::nnp_file_key, ino)),
            ctime_sec: read_u64(
                chunk,
                k + offset_of!(allow_skel::types::nnp_file_key, ctime_sec),
            ) as i64,
            ctime_nsec: read_u32(
                chunk,
                k + offset_of!(allow_skel::types::nnp_file_key, ctime_nsec),
            ),
            generation: read_u32(
                chunk,
                k + offset_of!(allow_skel::types::nnp_file_key, generation),
            ),
        };
        by_fd.insert(fd, key);
    }
    let mut out = Vec::new();
    for (path, f, m) in open {
        let fd = u32::try_from(f.as_raw_fd()).unwrap_or(u32::MAX);
        match by_fd.get(&fd) {
            Some(key) => out.push(AllowFile {
                path,
                key: *key,
                stat: meta::StatId::of(&m),
            }),
            None => {
                return Err(GuardError::System(format!(
                    "the kernel did not report the identity of {path}"
                )))
            }
        }
    }
    Ok((out, notes))
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// A file as the kernel identifies it at exec (`struct nnp_file_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    /// Superblock device (kernel encoding).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Change time, seconds.
    pub ctime_sec: i64,
    /// Change time, nanoseconds.
    pub ctime_nsec: u32,
    /// Inode generation.
    pub generation: u32,
}

impl FileKey {
    fn bytes(&self) -> Vec<u8> {
        let mut k = vec![0u8; size_of::<nnp_file_key>()];
        let mut put = |at: usize, b: &[u8]| {
            if let Some(s) = k.get_mut(at..at + b.len()) {
                s.copy_from_slice(b);
            }
        };
        put(offset_of!(nnp_file_key, dev), &self.dev.to_ne_bytes());
        put(offset_of!(nnp_file_key, ino), &self.ino.to_ne_bytes());
        put(
            offset_of!(nnp_file_key, ctime_sec),
            &self.ctime_sec.to_ne_bytes(),
        );
        put(
            offset_of!(nnp_file_key, ctime_nsec),
            &self.ctime_nsec.to_ne_bytes(),
        );
        put(
            offset_of!(nnp_file_key, generation),
            &self.generation.to_ne_bytes(),
        );
        k
    }
}

fn pin_path(name: &str) -> PathBuf {
    pin_in(PIN_DIR, name)
}

fn pin_in(dir: &str, name: &str) -> PathBuf {
    Path::new(dir).join(name)
}

/// Where a replacing guard is pinned before it takes [`PIN_DIR`]'s place (bpffs refuses
/// dots in names).
const PIN_NEXT: &str = "/sys/fs/bpf/nnp_next";
/// Where the replaced guard goes for the moment both are attached.
const PIN_OLD: &str = "/sys/fs/bpf/nnp_old";

/// Is a guard pinned (its link)?
pub fn is_loaded() -> bool {
    pin_path("link").exists()
}

/// Is a guard pinned? `Err` when that cannot be told (bpffs not readable: not root).
pub fn loaded() -> Result<bool, GuardError> {
    match std::fs::symlink_metadata(pin_path("link")) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Only "not found" in a directory we can read means "not loaded".
            match std::fs::read_dir(PIN_DIR) {
                Ok(_) => Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::read_dir(Path::new(PIN_DIR).parent().unwrap_or(Path::new("/"))) {
                        Ok(_) => Ok(false),
                        Err(e) => Err(sys("reading /sys/fs/bpf", e)),
                    }
                }
                Err(e) => Err(sys(&format!("reading {PIN_DIR}"), e)),
            }
        }
        Err(e) => Err(sys(
            &format!("looking for {}", pin_path("link").display()),
            e,
        )),
    }
}

/// How the loaded guard differs from a compilation of its config now (directory answers
/// changed: a uid renumbered, an account or group added; a guard_allow key changed): one
/// line per difference; empty when the kernel holds what a load now would put there.
pub fn drift(meta: &Meta) -> Result<Vec<String>, GuardError> {
    let c = compile(&meta.config, meta.explicit)?;
    let loaded = loaded_table()?;
    let mut out = Vec::new();
    if !c.table.same_decisions(&loaded) {
        out.push(
            "the directory's answers changed (a name now resolves to other uids or gids)"
                .to_string(),
        );
    }
    let now: Vec<(&str, FileKey)> = c.allow.iter().map(|a| (a.path.as_str(), a.key)).collect();
    let then: Vec<(&str, FileKey)> = meta
        .allow
        .iter()
        .map(|a| (a.path.as_str(), a.key))
        .collect();
    if now != then {
        out.push("a guard_allow file is not the one loaded".to_string());
    }
    Ok(out)
}

/// The lock that serialises load, reload and unload (and watch's refinements): held until
/// dropped.
pub struct Lock(#[allow(dead_code)] File);

impl Lock {
    /// Wait for and take the lock.
    pub fn acquire() -> Result<Lock, GuardError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(RUN_DIR)
            .map_err(|e| sys(&format!("creating {RUN_DIR}"), e))?;
        let path = Path::new(RUN_DIR).join("guard.lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| sys(&format!("opening {}", path.display()), e))?;
        // A lock file anyone else could open would let them hold the lock (flock works on
        // a read-only descriptor) and block every load, reload and unload.
        let mut m = f
            .metadata()
            .map_err(|e| sys(&format!("checking {}", path.display()), e))?;
        if m.uid() == 0 && m.mode() & 0o077 != 0 {
            // root's, from an older nnpctl (0644): make it root's alone
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .and_then(|()| f.metadata())
                .map(|n| m = n)
                .map_err(|e| sys(&format!("restricting {}", path.display()), e))?;
        }
        let dir = std::fs::metadata(RUN_DIR).map_err(|e| sys(&format!("checking {RUN_DIR}"), e))?;
        if m.uid() != 0 || m.mode() & 0o077 != 0 || dir.uid() != 0 || dir.mode() & 0o022 != 0 {
            return Err(GuardError::System(format!(
                "{} or {RUN_DIR} is not root's alone (owner {}, mode {:04o}; directory owner {}, mode {:04o}): remove it and retry",
                path.display(),
                m.uid(),
                m.mode() & 0o7777,
                dir.uid(),
                dir.mode() & 0o7777
            )));
        }
        // Bounded wait: a command that holds the lock compiles and fills tables (seconds).
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(Lock(f)),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(GuardError::System(format!(
                        "another nnpctl guard command has held {} for 120 s",
                        path.display()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(sys(&format!("locking {}", path.display()), e))
                }
            }
        }
    }
}

fn u32b(v: u32) -> [u8; 4] {
    v.to_ne_bytes()
}

fn entry_bytes(e: &Entry) -> Vec<u8> {
    let mut b = vec![0u8; size_of::<nnp_entry>()];
    b[offset_of!(nnp_entry, value)..][..4].copy_from_slice(&e.value.to_ne_bytes());
    b[offset_of!(nnp_entry, combo)..][..8].copy_from_slice(&e.combo.to_ne_bytes());
    b
}

fn range_bytes(r: &Range) -> Vec<u8> {
    let mut b = vec![0u8; size_of::<nnp_range>()];
    b[offset_of!(nnp_range, lo)..][..4].copy_from_slice(&r.lo.to_ne_bytes());
    b[offset_of!(nnp_range, hi)..][..4].copy_from_slice(&r.hi.to_ne_bytes());
    b[offset_of!(nnp_range, value)..][..4].copy_from_slice(&r.value.to_ne_bytes());
    b[offset_of!(nnp_range, combo)..][..8].copy_from_slice(&r.combo.to_ne_bytes());
    b
}

fn slot(s: nnp_state_slot) -> u32 {
    s.0
}

/// The state slots that describe one table set (0: the `_a` maps, else the `_b` maps).
struct SetSlots {
    star: nnp_state_slot,
    nranges: nnp_state_slot,
    ncombo: nnp_state_slot,
    ngids: nnp_state_slot,
}

impl SetSlots {
    fn of(set: u32) -> SetSlots {
        if set == 0 {
            SetSlots {
                star: nnp_state_slot::NNP_S_STAR_A,
                nranges: nnp_state_slot::NNP_S_NRANGES_A,
                ncombo: nnp_state_slot::NNP_S_NCOMBO_A,
                ngids: nnp_state_slot::NNP_S_NGIDS_A,
            }
        } else {
            SetSlots {
                star: nnp_state_slot::NNP_S_STAR_B,
                nranges: nnp_state_slot::NNP_S_NRANGES_B,
                ncombo: nnp_state_slot::NNP_S_NCOMBO_B,
                ngids: nnp_state_slot::NNP_S_NGIDS_B,
            }
        }
    }
}

/// Write a compiled table into one set of maps (emptied first) and its state slots.
fn fill_set(
    maps: [&dyn MapCore; 6],
    state: &dyn MapCore,
    set: u32,
    c: &Compiled,
) -> Result<(), GuardError> {
    let [uids, gids, ranges, combo, allow, gidlist] = maps;
    for m in [uids, gids, allow] {
        let keys: Vec<Vec<u8>> = m.keys().collect();
        for k in keys {
            m.delete(&k).map_err(|e| sys("clearing a table", e))?;
        }
    }
    for (&uid, e) in &c.table.uids {
        uids.update(&u32b(uid), &entry_bytes(e), MapFlags::ANY)
            .map_err(|e| sys("filling the uid table", e))?;
    }
    for (i, (&gid, e)) in c.table.gids.iter().enumerate() {
        gids.update(&u32b(gid), &entry_bytes(e), MapFlags::ANY)
            .map_err(|e| sys("filling the gid table", e))?;
        // the keys in ascending order (a BTreeMap iterates sorted), for the binary search
        let i = u32::try_from(i).map_err(|e| sys("gid index", e))?;
        gidlist
            .update(&u32b(i), &u32b(gid), MapFlags::ANY)
            .map_err(|e| sys("filling the gid list", e))?;
    }
    for (i, r) in c.table.ranges.iter().enumerate() {
        let i = u32::try_from(i).map_err(|e| sys("range index", e))?;
        ranges
            .update(&u32b(i), &range_bytes(r), MapFlags::ANY)
            .map_err(|e| sys("filling the range table", e))?;
    }
    for (i, v) in c.table.combo.iter().enumerate() {
        let i = u32::try_from(i).map_err(|e| sys("combo index", e))?;
        combo
            .update(&u32b(i), &u32b(*v), MapFlags::ANY)
            .map_err(|e| sys("filling the combined-rule table", e))?;
    }
    for a in &c.allow {
        allow
            .update(&a.key.bytes(), &u32b(1), MapFlags::ANY)
            .map_err(|e| sys("filling the allow table", e))?;
    }
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    let SetSlots {
        star,
        nranges,
        ncombo,
        ngids,
    } = SetSlots::of(set);
    for (s, v) in [
        (star, c.table.star.unwrap_or(0)),
        (nranges, n(c.table.ranges.len())),
        (ncombo, n(c.table.combo.len())),
        (ngids, n(c.table.gids.len())),
    ] {
        state
            .update(&u32b(slot(s)), &u32b(v), MapFlags::ANY)
            .map_err(|e| sys("writing the state", e))?;
    }
    Ok(())
}

/// Is `bpf` in the kernel's active LSM list? `None`: securityfs cannot be read.
pub fn bpf_lsm_active() -> Option<bool> {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .ok()
        .map(|l| l.trim().split(',').any(|x| x == "bpf"))
}

/// The active LSM list, for messages.
pub fn lsm_list() -> Option<String> {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .ok()
        .map(|l| l.trim().to_string())
}

/// What to add to the kernel command line for LSM mode.
pub fn lsm_hint() -> String {
    match lsm_list() {
        Some(l) if !l.is_empty() => format!(
            "add bpf to the kernel's LSM list: boot with lsm={l},bpf (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"
        ),
        _ => "add bpf to the kernel's LSM list: boot with lsm=...,bpf (the current list plus bpf)".to_string(),
    }
}

/// Execs seen by the attached program (summed over CPUs).
fn execs(counters: &dyn MapCore) -> Result<u64, GuardError> {
    let key = u32b(nnp_counter::NNP_C_EXECS.0);
    let per_cpu = counters
        .lookup_percpu(&key, MapFlags::ANY)
        .map_err(|e| sys("reading the counters", e))?
        .unwrap_or_default();
    Ok(per_cpu
        .iter()
        .filter_map(|b| b.get(..8).and_then(|b| b.try_into().ok()))
        .map(u64::from_ne_bytes)
        .sum())
}

/// Run an exec of our own and report whether the attached program saw it (its exec counter
/// moved): the proof that a mode is live.
fn exec_seen(counters: &dyn MapCore) -> Result<bool, GuardError> {
    let before = execs(counters)?;
    let exe = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let mut cmd = match exe {
        Some(p) => std::process::Command::new(p),
        None => {
            let me = std::env::current_exe().map_err(|e| sys("finding a program to run", e))?;
            let mut c = std::process::Command::new(me);
            c.arg("--version");
            c
        }
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .env_clear();
    cmd.status().map_err(|e| sys("running a test exec", e))?;
    // Per-CPU counters are updated before the exec returns; read once more after a short
    // pause in case the exec completed on another CPU between the reads.
    for _ in 0..20 {
        if execs(counters)? > before {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(false)
}

/// Load, attach, prove live and pin the guard. `want`: a mode, or `None` for auto (the
/// first live of LSM, kill). Holds the lock.
pub fn load(
    path: &Path,
    explicit: bool,
    want: Option<AttachMode>,
) -> Result<(AttachMode, Compiled), GuardError> {
    let _lock = Lock::acquire()?;
    if is_loaded() {
        return Err(GuardError::System(format!(
            "a guard is already loaded (pinned at {PIN_DIR}); use reload, unload, or load --replace"
        )));
    }
    let c = compile(path, explicit)?;
    // Leftovers of a loader that died before pinning its link: ours to clear (we hold the
    // lock and no link is pinned, so no guard is in force through them).
    remove_pins();
    match first_live(&c, want, PIN_DIR) {
        Ok((mode, action)) => {
            Meta::new(mode, action, &c).write()?;
            Ok((mode, c))
        }
        Err(why) => Err(GuardError::System(format!(
            "no mode of the guard is live on this kernel: {why}"
        ))),
    }
}

/// Load, attach, prove live and pin into `dir` the first mode that is live: `want`, or for
/// auto LSM then kill. `Err`: why each mode is not, one clause per mode.
fn first_live(
    c: &Compiled,
    want: Option<AttachMode>,
    dir: &str,
) -> Result<(AttachMode, Action), String> {
    let order: Vec<AttachMode> = match want {
        Some(m) => vec![m],
        None => vec![AttachMode::Lsm, AttachMode::Kill],
    };
    let mut why = Vec::new();
    for mode in order {
        match try_load(c, mode, dir) {
            Ok(action) => return Ok((mode, action)),
            Err(e) => why.push(format!("{} mode: {e}", mode.as_str())),
        }
    }
    Err(why.join("; "))
}

/// Replace a loaded guard by this version's program with no unguarded moment (a package
/// upgrade): the new program is loaded, proven live and pinned beside the old one (both
/// refuse meanwhile), then takes its place and the old one is unpinned. Without a loaded
/// guard, a plain load.
pub fn replace(
    path: &Path,
    explicit: bool,
    want: Option<AttachMode>,
) -> Result<(AttachMode, Compiled), GuardError> {
    let lock = Lock::acquire()?;
    if !is_loaded() {
        drop(lock);
        return load(path, explicit, want);
    }
    let c = compile(path, explicit)?;
    remove_pins_in(PIN_NEXT);
    remove_pins_in(PIN_OLD);
    let (mode, action) = match first_live(&c, want, PIN_NEXT) {
        Ok(live) => live,
        Err(why) => {
            remove_pins_in(PIN_NEXT);
            return Err(GuardError::System(format!(
                "no mode of the guard is live on this kernel (the loaded guard stays): {why}"
            )));
        }
    };
    // Both attached now. Swap the directories: for a moment PIN_DIR is absent (status says
    // "not loaded"), but both programs keep refusing throughout.
    std::fs::rename(PIN_DIR, PIN_OLD).map_err(|e| sys(&format!("moving {PIN_DIR} aside"), e))?;
    if let Err(e) = std::fs::rename(PIN_NEXT, PIN_DIR) {
        let _ = std::fs::rename(PIN_OLD, PIN_DIR);
        remove_pins_in(PIN_NEXT);
        return Err(sys(&format!("moving {PIN_NEXT} into place"), e));
    }
    Meta::new(mode, action, &c).write()?;
    remove_pins_in(PIN_OLD);
    Ok((mode, c))
}

/// Open the object and load the program of `mode` only (nothing attached).
fn open_load(
    storage: &mut MaybeUninit<libbpf_rs::OpenObject>,
    mode: AttachMode,
) -> Result<skel::GuardSkel<'_>, GuardError> {
    // libbpf's own messages would go to stderr; the reason is in our error instead.
    libbpf_rs::set_print(None);
    let mut open = skel::GuardSkelBuilder::default()
        .open(storage)
        .map_err(|e| sys("opening the BPF object", e))?;
    open.progs.nnp_lsm.set_autoload(mode == AttachMode::Lsm);
    open.progs.nnp_kill.set_autoload(mode == AttachMode::Kill);
    // attached beside nnp_lsm wherever the kernel has the hook; state[NNP_S_ACTION] says
    // whether it asks for anything, so reload can switch guard_action
    open.progs
        .nnp_degrade
        .set_autoload(mode == AttachMode::Lsm && degrade_hook());
    open.load().map_err(|e| sys("loading the program", e))
}

/// `state[NNP_S_ACTION]` for a config: degrade only where the degrade program is attached.
fn action_slot(c: &Compiled, degrade_attached: bool) -> (Action, u32) {
    if degrade_attached && c.config.guard_action == GuardAction::Degrade {
        (Action::Degrade, nnp_guard_action::NNP_ACTION_DEGRADE.0)
    } else {
        (Action::Refuse, nnp_guard_action::NNP_ACTION_REFUSE.0)
    }
}

fn try_load(c: &Compiled, mode: AttachMode, dir: &str) -> Result<Action, GuardError> {
    if mode == AttachMode::Lsm && bpf_lsm_active() == Some(false) {
        return Err(GuardError::System(format!(
            "bpf is not in the kernel's active LSM list ({}): an LSM program would attach and never run; {}",
            lsm_list().unwrap_or_default(),
            lsm_hint()
        )));
    }
    let mut storage = MaybeUninit::uninit();
    let mut skel = open_load(&mut storage, mode)?;
    {
        let m = &skel.maps;
        fill_set(
            [
                &m.uids_a,
                &m.gids_a,
                &m.ranges_a,
                &m.combo_a,
                &m.allow_a,
                &m.gidlist_a,
            ],
            &m.state,
            0,
            c,
        )?;
        m.state
            .update(
                &u32b(slot(nnp_state_slot::NNP_S_ACTIVE)),
                &u32b(0),
                MapFlags::ANY,
            )
            .map_err(|e| sys("writing the state", e))?;
    }
    let prog = match mode {
        AttachMode::Lsm => &skel.progs.nnp_lsm,
        AttachMode::Kill => &skel.progs.nnp_kill,
    };
    let mut link = prog.attach().map_err(|e| sys("attaching", e))?;
    let mut degrade_link = match mode {
        AttachMode::Lsm if degrade_hook() => Some(
            skel.progs
                .nnp_degrade
                .attach()
                .map_err(|e| sys("attaching the degrade program", e))?,
        ),
        _ => None,
    };
    let action = match mode {
        AttachMode::Kill => Action::Kill,
        AttachMode::Lsm => {
            let (action, v) = action_slot(c, degrade_link.is_some());
            skel.maps
                .state
                .update(
                    &u32b(slot(nnp_state_slot::NNP_S_ACTION)),
                    &u32b(v),
                    MapFlags::ANY,
                )
                .map_err(|e| sys("writing the state", e))?;
            action
        }
    };
    if !exec_seen(&skel.maps.counters)? {
        return Err(GuardError::System(match mode {
            AttachMode::Lsm => format!(
                "the LSM program attached but never ran (the kernel does not call BPF LSM programs); {}",
                lsm_hint()
            ),
            AttachMode::Kill => "the tracepoint program attached but never ran".to_string(),
        }));
    }
    std::fs::create_dir_all(dir).map_err(|e| sys(&format!("creating {dir}"), e))?;
    let pin_all = |skel: &mut skel::GuardSkel<'_>| -> Result<(), GuardError> {
        let m = &mut skel.maps;
        for (name, map) in [
            ("uids_a", &mut m.uids_a),
            ("uids_b", &mut m.uids_b),
            ("gids_a", &mut m.gids_a),
            ("gids_b", &mut m.gids_b),
            ("ranges_a", &mut m.ranges_a),
            ("ranges_b", &mut m.ranges_b),
            ("combo_a", &mut m.combo_a),
            ("combo_b", &mut m.combo_b),
            ("gidlist_a", &mut m.gidlist_a),
            ("gidlist_b", &mut m.gidlist_b),
            ("allow_a", &mut m.allow_a),
            ("allow_b", &mut m.allow_b),
            ("state", &mut m.state),
            ("counters", &mut m.counters),
            ("events", &mut m.events),
            ("report", &mut m.report_map),
            ("rule_counts", &mut m.rule_counts),
        ] {
            map.pin(pin_in(dir, name))
                .map_err(|e| sys(&format!("pinning {name}"), e))?;
        }
        Ok(())
    };
    // We hold the lock and found no link: every pin below is ours, and ours only is
    // removed if pinning fails.
    if let Err(e) = pin_all(&mut skel) {
        remove_pins_in(dir);
        return Err(e);
    }
    if let Some(l) = degrade_link.as_mut() {
        l.pin(pin_in(dir, "link_degrade")).map_err(|e| {
            remove_pins_in(dir);
            sys("pinning the degrade link", e)
        })?;
    }
    // The link last: once it is pinned the guard is in force.
    link.pin(pin_in(dir, "link")).map_err(|e| {
        remove_pins_in(dir);
        sys("pinning the link", e)
    })?;
    Ok(action)
}

/// Can this kernel load the program of `mode`? Loads it (nothing attached, nothing pinned)
/// and drops it: for `nnpctl doctor`. Loading is not running: see [`GuardState`].
pub fn probe(mode: AttachMode) -> Result<(), GuardError> {
    let mut storage = MaybeUninit::uninit();
    open_load(&mut storage, mode).map(|_| ())
}

fn remove_pins() {
    remove_pins_in(PIN_DIR);
}

fn remove_pins_in(dir: &str) {
    for name in LINKS
        .iter()
        .chain(SET_MAPS.iter().flatten())
        .chain(OTHER_MAPS.iter())
    {
        let _ = std::fs::remove_file(pin_in(dir, name));
    }
    let _ = std::fs::remove_dir(dir);
}

fn pinned(name: &str) -> Result<MapHandle, GuardError> {
    MapHandle::from_pinned_path(pin_path(name))
        .map_err(|e| sys(&format!("opening the pinned map {name}"), e))
}

fn state_get(state: &MapHandle, s: nnp_state_slot) -> Result<u32, GuardError> {
    let v = state
        .lookup(&u32b(slot(s)), MapFlags::ANY)
        .map_err(|e| sys("reading the state", e))?
        .unwrap_or_default();
    Ok(v.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0))
}

/// The attached program's mode, as the kernel reports the pinned link.
pub fn attached_mode() -> Result<AttachMode, GuardError> {
    let link = Link::open(pin_path("link")).map_err(|e| sys("opening the pinned link", e))?;
    let info = link.info().map_err(|e| sys("reading the link", e))?;
    match info.info {
        // tp_btf programs are attached through a raw tracepoint link
        libbpf_rs::query::LinkTypeInfo::RawTracepoint(_) => Ok(AttachMode::Kill),
        libbpf_rs::query::LinkTypeInfo::Tracing(t) => match t.attach_type {
            libbpf_rs::ProgramAttachType::LsmMac => Ok(AttachMode::Lsm),
            libbpf_rs::ProgramAttachType::TraceRawTp => Ok(AttachMode::Kill),
            other => Err(GuardError::System(format!(
                "the pinned link has an unexpected attach type ({other:?})"
            ))),
        },
        other => Err(GuardError::System(format!(
            "the pinned link is not a tracing link ({other:?})"
        ))),
    }
}

/// Wait until every run of a BPF program that began before this call has ended: an RCU grace
/// period. Every non-sleepable program (the guard's, in both modes) runs inside an RCU
/// read-side section, and the kernel waits for one (`synchronize_rcu()` in
/// `maybe_wait_bpf_programs`) after every update of a map-in-map, whatever the number of CPUs,
/// `nohz_full` or the preemption model; `membarrier(MEMBARRIER_CMD_GLOBAL)` does not (it
/// returns at once with one CPU online, and is refused under `nohz_full`). So: a throwaway
/// array-of-maps, one update.
fn wait_for_runs() -> Result<(), GuardError> {
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    let inner = MapHandle::create(MapType::Array, Some("nnp_rcu_inner"), 4, 4, 1, &opts)
        .map_err(|e| sys("creating a map to wait for running programs", e))?;
    let outer_opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        inner_map_fd: inner.as_fd().as_raw_fd() as _,
        ..opts
    };
    let outer = MapHandle::create(
        MapType::ArrayOfMaps,
        Some("nnp_rcu_wait"),
        4,
        4,
        1,
        &outer_opts,
    )
    .map_err(|e| sys("creating a map to wait for running programs", e))?;
    let fd = u32::try_from(inner.as_fd().as_raw_fd()).map_err(|e| sys("a map descriptor", e))?;
    outer
        .update(&u32b(0), &u32b(fd), MapFlags::ANY)
        .map_err(|e| sys("waiting for running programs (a map-in-map update)", e))
}

/// Swap in a new policy (compiled under the lock, so a concurrent reload never applies an
/// older compilation over a newer one): fill the inactive set, then flip the active index.
pub fn reload(path: &Path, explicit: bool) -> Result<Compiled, GuardError> {
    let _lock = Lock::acquire()?;
    reload_locked(path, explicit)
}

fn reload_locked(path: &Path, explicit: bool) -> Result<Compiled, GuardError> {
    if !is_loaded() {
        return Err(GuardError::System("no guard is loaded".into()));
    }
    let c = compile(path, explicit)?;
    let mode = attached_mode()?;
    let state = pinned("state")?;
    let active = state_get(&state, nnp_state_slot::NNP_S_ACTIVE)?;
    let target = 1 - active.min(1);
    // The target set was the active one until the previous flip: a run of the program that
    // read the index before that flip may still be reading it (a preempted run, on a
    // preemptible kernel). Wait those runs out before clearing it, or such a run could see a
    // half-written table and miss its rule. No wait, no reload.
    wait_for_runs()?;
    let [u, g, r, k, a, l] = SET_MAPS[target as usize];
    let (u, g, r, k, a, l) = (
        pinned(u)?,
        pinned(g)?,
        pinned(r)?,
        pinned(k)?,
        pinned(a)?,
        pinned(l)?,
    );
    fill_set([&u, &g, &r, &k, &a, &l], &state, target, &c)?;
    state
        .update(
            &u32b(slot(nnp_state_slot::NNP_S_ACTIVE)),
            &u32b(target),
            MapFlags::ANY,
        )
        .map_err(|e| sys("switching to the new tables", e))?;
    let action = match mode {
        AttachMode::Kill => Action::Kill,
        AttachMode::Lsm => {
            let (action, v) = action_slot(&c, pin_path("link_degrade").exists());
            state
                .update(
                    &u32b(slot(nnp_state_slot::NNP_S_ACTION)),
                    &u32b(v),
                    MapFlags::ANY,
                )
                .map_err(|e| sys("writing the state", e))?;
            action
        }
    };
    let mut meta = Meta::new(mode, action, &c);
    let before = Meta::read();
    // A reload swaps tables, not the program: the one attached is still the one loaded.
    meta.program = before
        .as_ref()
        .map_or_else(|| "unknown".to_string(), |m| m.program.clone());
    report::forget_if_rules_changed(before.as_ref(), &meta.rules);
    rule_counts::forget_changed(before.as_ref(), &meta);
    meta.write()?;
    Ok(c)
}

/// Unpin everything: the program detaches once nothing holds it. `false` if none was loaded.
pub fn unload() -> Result<bool, GuardError> {
    let _lock = Lock::acquire()?;
    let was = Path::new(PIN_DIR).exists();
    remove_pins();
    meta::remove();
    Ok(was)
}

/// The action in force, as the kernel holds it: kill mode kills; LSM mode degrades only while
/// the degrade program is attached and `state[NNP_S_ACTION]` asks it to.
pub fn attached_action(mode: AttachMode) -> Result<Action, GuardError> {
    if mode == AttachMode::Kill {
        return Ok(Action::Kill);
    }
    if !pin_path("link_degrade").exists() {
        return Ok(Action::Refuse);
    }
    let v = state_get(&pinned("state")?, nnp_state_slot::NNP_S_ACTION)?;
    Ok(if v == nnp_guard_action::NNP_ACTION_DEGRADE.0 {
        Action::Degrade
    } else {
        Action::Refuse
    })
}

/// Counters: execs seen, privilege-raising execs, refused, audited ("would refuse").
pub fn counters() -> Result<[u64; 4], GuardError> {
    let m = pinned("counters")?;
    let mut out = [0u64; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = counter(&m, u32::try_from(i).unwrap_or(0))?.unwrap_or(0);
    }
    Ok(out)
}

/// Execs `guard_action = "degrade"` ran without the raise they would have had
/// (`NNP_C_DEGRADED`: setuid, setgid or file capabilities taken away at the hook's request);
/// `None` for a guard whose program predates that counter (its counters map is shorter).
pub fn degraded_execs() -> Result<Option<u64>, GuardError> {
    counter(&pinned("counters")?, nnp_counter::NNP_C_DEGRADED.0)
}

/// One slot of the per-CPU counters, summed; `None` beyond the map.
fn counter(m: &MapHandle, i: u32) -> Result<Option<u64>, GuardError> {
    let per_cpu = m
        .lookup_percpu(&u32b(i), MapFlags::ANY)
        .map_err(|e| sys("reading the counters", e))?;
    Ok(per_cpu.map(|v| {
        v.iter()
            .filter_map(|b| b.get(..8).and_then(|b| b.try_into().ok()))
            .map(u64::from_ne_bytes)
            .sum()
    }))
}

/// Is the pinned program live: does it see an exec of ours now?
fn pinned_live() -> Result<bool, GuardError> {
    exec_seen(&pinned("counters")?)
}

/// The tables in force now (the active set), as the kernel holds them.
pub fn loaded_table() -> Result<GuardTable, GuardError> {
    let state = pinned("state")?;
    let active = state_get(&state, nnp_state_slot::NNP_S_ACTIVE)?.min(1) as usize;
    let [u, g, r, k, _, _] = SET_MAPS[active];
    let entry = |v: &[u8]| Entry {
        value: read_u32(v, offset_of!(nnp_entry, value)),
        combo: read_u64(v, offset_of!(nnp_entry, combo)),
    };
    let read = |name: &str| -> Result<BTreeMap<u32, Entry>, GuardError> {
        let m = pinned(name)?;
        let mut out = BTreeMap::new();
        for key in m.keys() {
            let v = m
                .lookup(&key, MapFlags::ANY)
                .map_err(|e| sys(&format!("reading {name}"), e))?;
            if let Some(v) = v {
                out.insert(read_u32(&key, 0), entry(&v));
            }
        }
        Ok(out)
    };
    let SetSlots {
        star,
        nranges,
        ncombo,
        ..
    } = SetSlots::of(u32::from(active != 0));
    let mut t = GuardTable {
        uids: read(u)?,
        gids: read(g)?,
        ..GuardTable::default()
    };
    let s = state_get(&state, star)?;
    t.star = (s != 0).then_some(s);
    let ranges = pinned(r)?;
    for i in 0..state_get(&state, nranges)? {
        let v = ranges
            .lookup(&u32b(i), MapFlags::ANY)
            .map_err(|e| sys("reading the ranges", e))?
            .unwrap_or_default();
        t.ranges.push(Range {
            lo: read_u32(&v, offset_of!(nnp_range, lo)),
            hi: read_u32(&v, offset_of!(nnp_range, hi)),
            value: read_u32(&v, offset_of!(nnp_range, value)),
            combo: read_u64(&v, offset_of!(nnp_range, combo)),
        });
    }
    let combo = pinned(k)?;
    for i in 0..state_get(&state, ncombo)? {
        let v = combo
            .lookup(&u32b(i), MapFlags::ANY)
            .map_err(|e| sys("reading the combined rules", e))?
            .unwrap_or_default();
        t.combo.push(read_u32(&v, 0));
    }
    Ok(t)
}

/// One refusal (or, in audit mode, a "would refuse").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Boot-time nanoseconds.
    pub time_ns: u64,
    /// Process id.
    pub pid: u32,
    /// Real uid.
    pub uid: u32,
    /// The deciding rule's 1-based index (0: groups that could not all be read).
    pub rule: usize,
    /// "refused", "killed" or "audit: would refuse".
    pub action: &'static str,
    /// The command.
    pub comm: String,
    /// The file exec'd.
    pub file: String,
}

/// Parse one `struct nnp_event` record (layout from the skeleton's type).
pub fn parse_event(data: &[u8]) -> Option<Event> {
    if data.len() < size_of::<nnp_event>() {
        return None;
    }
    let cstr = |o: usize, n: usize| {
        let b = data.get(o..o + n).unwrap_or(&[]);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        nnp_config::escape_value(&b[..end])
    };
    let value = read_u32(data, offset_of!(nnp_event, value));
    Some(Event {
        time_ns: read_u64(data, offset_of!(nnp_event, time_ns)),
        pid: read_u32(data, offset_of!(nnp_event, pid)),
        uid: read_u32(data, offset_of!(nnp_event, uid)),
        rule: (value >> 2) as usize,
        action: match read_u32(data, offset_of!(nnp_event, action)) {
            1 => "refused",
            2 => "killed",
            _ => "audit: would refuse",
        },
        comm: cstr(offset_of!(nnp_event, comm), 16),
        file: cstr(offset_of!(nnp_event, file), 128),
    })
}

/// What `watch` does between events: retry a degraded guard's names every `retry`, and
/// re-resolve `guard_allow` files whose identity changed.
#[derive(Debug, Clone, Copy)]
pub struct Refine {
    /// How often to retry names while degraded.
    pub retry: Duration,
    /// How often to look at `guard_allow` files.
    pub allow_check: Duration,
}

/// A refinement `watch` made: the guard was reloaded, and why.
#[derive(Debug, Clone)]
pub struct Refined {
    /// Why: "names resolved" or "guard_allow file replaced".
    pub why: String,
    /// Still degraded after the reload.
    pub still_degraded: bool,
}

/// One refinement pass: reload when the loaded guard is degraded and a compilation now
/// resolves more, or a `guard_allow` file was replaced. Under the lock.
pub fn refine_once(recompile: bool) -> Result<Option<Refined>, GuardError> {
    let Some(m) = Meta::read() else {
        return Ok(None);
    };
    let allow_changed = m.allow_changed();
    if !recompile && allow_changed.is_empty() {
        return Ok(None);
    }
    let _lock = Lock::acquire()?;
    if !is_loaded() {
        return Ok(None);
    }
    if !allow_changed.is_empty() {
        let c = reload_locked(&m.config, m.explicit)?;
        return Ok(Some(Refined {
            why: format!("guard_allow file replaced: {}", allow_changed.join(", ")),
            still_degraded: c.degraded(),
        }));
    }
    // The config's names resolved now: when the kernel holds anything else (a degraded
    // guard whose names now resolve, a uid renumbered, an account added), reload.
    if drift(&m)?.is_empty() {
        return Ok(None);
    }
    let c = reload_locked(&m.config, m.explicit)?;
    Ok(Some(Refined {
        why: if m.unresolved.len() > c.table.unresolved.len() {
            "names resolved".to_string()
        } else {
            "the directory's answers changed".to_string()
        },
        still_degraded: c.degraded(),
    }))
}

/// The id of the map pinned at [`PIN_DIR`]/`name` now; `None` when none is pinned there.
fn pinned_map_id(name: &str) -> Option<u32> {
    let m = MapHandle::from_pinned_path(pin_path(name)).ok()?;
    m.info().ok().map(|i| i.info.id)
}

/// When `watch`'s refinement passes are due.
struct Due {
    refine: Refine,
    last_names: std::time::Instant,
    last_allow: std::time::Instant,
}

impl Due {
    fn new(refine: Refine) -> Due {
        let now = std::time::Instant::now();
        Due {
            refine,
            // The first pass is due at once: at boot the directory may be up by the time
            // watch runs.
            last_names: now.checked_sub(refine.retry).unwrap_or(now),
            last_allow: now,
        }
    }

    /// `Some(recompile)` when a pass is due now.
    fn next(&mut self) -> Option<bool> {
        let names_due = self.last_names.elapsed() >= self.refine.retry;
        if !names_due && self.last_allow.elapsed() < self.refine.allow_check {
            return None;
        }
        self.last_allow = std::time::Instant::now();
        if names_due {
            self.last_names = std::time::Instant::now();
        }
        Some(names_due)
    }
}

/// How one [`follow`] of an `events` map ended.
enum Followed {
    /// `f` asked to stop.
    Stopped,
    /// No guard is pinned any more (checked under the lock).
    Unloaded,
    /// Another guard took [`PIN_DIR`] (`load --replace`, or unload then load): its
    /// `events` map, opened under the lock.
    Replaced(MapHandle),
}

/// Stream events until `f` returns false or the guard is unloaded; refine between events.
///
/// The guard that is followed is the one pinned at [`PIN_DIR`]: when another program takes
/// its place (`load --replace`, as a package upgrade runs it), the old program's ring buffer
/// is read to its end once the old program is unpinned (under the lock, which the
/// replacement holds until then), and the new program's is opened; the new ring buffer
/// holds every event since that program was attached, so none is lost unless a ring buffer
/// filled up. A replacement by another version's program (its record layout may differ)
/// ends watch with an error instead, so that its service restarts it from the new nnpctl.
pub fn watch(
    refine: Refine,
    mut f: impl FnMut(Event) -> bool,
    mut on_refine: impl FnMut(Result<Refined, GuardError>),
) -> Result<(), GuardError> {
    let mut due = Due::new(refine);
    let mut events = pinned("events")?;
    loop {
        match follow(&events, &mut due, &mut f, &mut on_refine)? {
            Followed::Stopped | Followed::Unloaded => return Ok(()),
            Followed::Replaced(next) => events = next,
        }
    }
}

/// Stream the events of one `events` map until `f` stops, the guard is unloaded, or
/// another guard's map is pinned in its place.
fn follow(
    events: &MapHandle,
    due: &mut Due,
    f: &mut impl FnMut(Event) -> bool,
    on_refine: &mut impl FnMut(Result<Refined, GuardError>),
) -> Result<Followed, GuardError> {
    let id = events
        .info()
        .map_err(|e| sys("reading the events map", e))?
        .info
        .id;
    let stop = std::cell::Cell::new(false);
    let mut b = libbpf_rs::RingBufferBuilder::new();
    b.add(events, |data: &[u8]| {
        if stop.get() {
            return 1;
        }
        if let Some(e) = parse_event(data) {
            if !f(e) {
                stop.set(true);
                return 1;
            }
        }
        0
    })
    .map_err(|e| sys("reading events", e))?;
    let rb = b.build().map_err(|e| sys("reading events", e))?;
    loop {
        rb.poll(Duration::from_millis(500))
            .map_err(|e| sys("reading events", e))?;
        if stop.get() {
            return Ok(Followed::Stopped);
        }
        if pinned_map_id("events") != Some(id) {
            // Another guard's map, or none: a replacement (its rename leaves PIN_DIR absent
            // for a moment) or an unload, in progress or done. Both hold the lock until
            // they are done, and the old program is detached once they are.
            let _lock = Lock::acquire()?;
            rb.consume().map_err(|e| sys("reading events", e))?;
            if stop.get() {
                return Ok(Followed::Stopped);
            }
            if !is_loaded() {
                return Ok(Followed::Unloaded);
            }
            if let Some(m) = Meta::read() {
                if m.program != PROGRAM_ID {
                    return Err(GuardError::System(format!(
                        "the guard was replaced by another version's program ({}; this nnpctl carries {PROGRAM_ID}): restart nnpctl guard watch (systemctl restart nnp-guard-watch.service) to follow it",
                        m.program
                    )));
                }
            }
            return Ok(Followed::Replaced(pinned("events")?));
        }
        if let Some(recompile) = due.next() {
            match refine_once(recompile) {
                Ok(Some(r)) => on_refine(Ok(r)),
                Ok(None) => {}
                Err(e) => on_refine(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::skel::types::nnp_action;

    fn put(b: &mut [u8], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }

    /// A ring-buffer record laid out as the skeleton's `nnp_event` says (the program's
    /// `struct nnp_event` of guard.h), not by offsets copied here.
    fn record(value: u32, action: nnp_action, comm: &[u8], file: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<nnp_event>()];
        put(
            &mut b,
            offset_of!(nnp_event, time_ns),
            &123_456_789_012u64.to_ne_bytes(),
        );
        put(&mut b, offset_of!(nnp_event, pid), &4242u32.to_ne_bytes());
        put(&mut b, offset_of!(nnp_event, uid), &61001u32.to_ne_bytes());
        put(&mut b, offset_of!(nnp_event, value), &value.to_ne_bytes());
        put(
            &mut b,
            offset_of!(nnp_event, action),
            &action.0.to_ne_bytes(),
        );
        put(&mut b, offset_of!(nnp_event, comm), comm);
        put(&mut b, offset_of!(nnp_event, file), file);
        b
    }

    #[test]
    fn parses_an_event_laid_out_as_the_skeleton_says() {
        // Rule 3 (the value's upper bits), comm and file NUL-terminated with stale bytes after.
        let r = record(
            (3 << 2) | 1,
            nnp_action::NNP_A_REFUSED,
            b"su\0junk",
            b"/usr/bin/su\0/old",
        );
        assert_eq!(
            parse_event(&r),
            Some(Event {
                time_ns: 123_456_789_012,
                pid: 4242,
                uid: 61001,
                rule: 3,
                action: "refused",
                comm: "su".into(),
                file: "/usr/bin/su".into(),
            })
        );
    }

    #[test]
    fn event_actions_and_the_unread_groups_rule() {
        let action = |a| parse_event(&record(0, a, b"x", b"/x")).unwrap().action;
        assert_eq!(action(nnp_action::NNP_A_KILLED), "killed");
        assert_eq!(action(nnp_action::NNP_A_AUDIT), "audit: would refuse");
        // Rule 0: groups that could not all be read.
        let e = parse_event(&record(2, nnp_action::NNP_A_REFUSED, b"x", b"/x")).unwrap();
        assert_eq!(e.rule, 0);
    }

    #[test]
    fn event_strings_are_bounded_and_escaped() {
        // comm fills its 16 bytes with no NUL: all 16, nothing read past the field.
        let r = record(
            4,
            nnp_action::NNP_A_REFUSED,
            b"abcdefghijklmnop",
            b"/tmp/a\nb\xff\0",
        );
        let e = parse_event(&r).unwrap();
        assert_eq!(e.comm, "abcdefghijklmnop");
        assert_eq!(e.file, nnp_config::escape_value(b"/tmp/a\nb\xff"));
        assert!(!e.file.contains('\n'));
    }

    #[test]
    fn a_short_record_is_no_event() {
        let r = record(4, nnp_action::NNP_A_REFUSED, b"x", b"/x");
        assert_eq!(parse_event(&r[..r.len() - 1]), None);
        assert_eq!(parse_event(&[]), None);
    }
}
