//! The nnp exec guard: a BPF program that refuses privilege-raising exec (setuid, setgid,
//! file capabilities) in the initial user namespace for the users the first matching rule
//! restricts, on every login path. `nnpctl guard` is its front end.
//!
//! The rules are compiled by nnp-config ([`nnp_config::Config::guard_table`]); this crate
//! loads the program (BPF LSM where the kernel allows it, else the `sched_prepare_exec`
//! tracepoint with SIGKILL), fills its tables, pins everything under [`PIN_DIR`] and swaps
//! the tables atomically on reload (two sets, one active index).
//!
//! The generated skeleton (`libbpf-cargo`) is the only unsafe code here, in `skel`.
#![deny(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(
    unsafe_code,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    unsafe_op_in_unsafe_fn
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/guard.skel.rs"));
}

mod meta;

use std::collections::BTreeMap;
use std::fmt;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use nnp_config::guard::GuardTable;
use nnp_config::{Config, Nss};

pub use meta::Meta;

/// Where the link, the maps and the metadata are pinned.
pub const PIN_DIR: &str = "/sys/fs/bpf/nnp";
/// The maps of the two table sets.
const SET_MAPS: [[&str; 4]; 2] = [
    ["uids_a", "gids_a", "ranges_a", "allow_a"],
    ["uids_b", "gids_b", "ranges_b", "allow_b"],
];
const OTHER_MAPS: [&str; 3] = ["state", "counters", "events"];
const MAX_RANGES: usize = 256;
const S_ACTIVE: u32 = 0;

/// How the guard is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BPF LSM on `bprm_creds_from_file`: the exec fails with EPERM.
    Lsm,
    /// `tp_btf/sched_prepare_exec`: the task is killed before the new image runs.
    Kill,
}

impl Mode {
    /// The spelling in `--mode`, status and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Lsm => "lsm",
            Mode::Kill => "kill",
        }
    }
    /// Parse a `--mode` value.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "lsm" => Some(Mode::Lsm),
            "kill" => Some(Mode::Kill),
            _ => None,
        }
    }
}

/// What went wrong, and whether it means "could not" (the kernel, the system) or "wrong"
/// (the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardError {
    /// The config cannot be loaded or compiled: nothing changed.
    Config(String),
    /// The kernel or the system cannot do it.
    System(String),
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Config(m) | GuardError::System(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for GuardError {}

fn sys(what: &str, e: impl fmt::Display) -> GuardError {
    GuardError::System(format!("{what}: {e}"))
}

/// The config and its compiled tables, with the files' identities for the metadata.
pub struct Compiled {
    /// The config.
    pub config: Config,
    /// The tables.
    pub table: GuardTable,
    /// `guard_allow` files as (kernel dev, inode).
    pub allow: Vec<(u64, u64)>,
}

/// Kernel `dev_t` (MKDEV: major << 20 | minor) of a user-space `st_dev`.
fn kernel_dev(st_dev: u64) -> u64 {
    let major = u64::from(libc::major(st_dev));
    let minor = u64::from(libc::minor(st_dev));
    (major << 20) | minor
}

/// Load the config (`explicit`: it must exist) and compile it for the guard.
pub fn compile(path: &Path, explicit: bool) -> Result<Compiled, GuardError> {
    let config = if explicit {
        nnp_config::load_required(path)
    } else {
        nnp_config::load(path)
    }
    .map_err(|e| GuardError::Config(e.to_string()))?;
    let table = config
        .guard_table(&Nss)
        .map_err(|e| GuardError::Config(e.to_string()))?;
    let mut allow = Vec::new();
    for p in &table.allow {
        let m = std::fs::metadata(p)
            .map_err(|e| GuardError::Config(format!("guard_allow {p}: {e}")))?;
        allow.push((kernel_dev(m.dev()), m.ino()));
    }
    if table.ranges.len() > MAX_RANGES {
        return Err(GuardError::Config(format!(
            "{} uid ranges: the guard holds at most {MAX_RANGES}",
            table.ranges.len()
        )));
    }
    Ok(Compiled {
        config,
        table,
        allow,
    })
}

fn pin_path(name: &str) -> PathBuf {
    Path::new(PIN_DIR).join(name)
}

/// Is a guard pinned?
pub fn is_loaded() -> bool {
    pin_path("link").exists()
}

fn u32b(v: u32) -> [u8; 4] {
    v.to_ne_bytes()
}

fn file_id(dev: u64, ino: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&dev.to_ne_bytes());
    k[8..].copy_from_slice(&ino.to_ne_bytes());
    k
}

/// Write a compiled table into one set of maps (emptied first) and its state slots.
fn fill_set(
    maps: [&dyn MapCore; 4],
    state: &dyn MapCore,
    set: u32,
    c: &Compiled,
) -> Result<(), GuardError> {
    let [uids, gids, ranges, allow] = maps;
    for m in [uids, gids, allow] {
        let keys: Vec<Vec<u8>> = m.keys().collect();
        for k in keys {
            m.delete(&k).map_err(|e| sys("clearing a table", e))?;
        }
    }
    for (&uid, &v) in &c.table.uids {
        uids.update(&u32b(uid), &u32b(v), MapFlags::ANY)
            .map_err(|e| sys("filling the uid table", e))?;
    }
    for (&gid, &v) in &c.table.gids {
        gids.update(&u32b(gid), &u32b(v), MapFlags::ANY)
            .map_err(|e| sys("filling the gid table", e))?;
    }
    for (i, &(lo, hi, v)) in c.table.ranges.iter().enumerate() {
        let mut val = [0u8; 12];
        val[..4].copy_from_slice(&lo.to_ne_bytes());
        val[4..8].copy_from_slice(&hi.to_ne_bytes());
        val[8..].copy_from_slice(&v.to_ne_bytes());
        let i = u32::try_from(i).unwrap_or(0);
        ranges
            .update(&u32b(i), &val, MapFlags::ANY)
            .map_err(|e| sys("filling the range table", e))?;
    }
    for &(dev, ino) in &c.allow {
        allow
            .update(&file_id(dev, ino), &u32b(1), MapFlags::ANY)
            .map_err(|e| sys("filling the allow table", e))?;
    }
    let nranges = u32::try_from(c.table.ranges.len()).unwrap_or(0);
    state
        .update(
            &u32b(1 + set),
            &u32b(c.table.star.unwrap_or(0)),
            MapFlags::ANY,
        )
        .map_err(|e| sys("writing the state", e))?;
    state
        .update(&u32b(3 + set), &u32b(nranges), MapFlags::ANY)
        .map_err(|e| sys("writing the state", e))?;
    Ok(())
}

/// Which modes this kernel can run: the attach points exist (BTF); LSM also needs `bpf`
/// in the active LSM list (whether a program actually loads is found out by trying).
pub fn kernel_offers() -> (bool, bool) {
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|l| l.trim().split(',').any(|x| x == "bpf"))
        .unwrap_or(false);
    (btf && lsm, btf)
}

/// Load, attach and pin the guard. `want`: a mode, or `None` for auto (LSM, else kill).
pub fn load(c: &Compiled, want: Option<Mode>, config_path: &Path) -> Result<Mode, GuardError> {
    if is_loaded() {
        return Err(GuardError::System(format!(
            "a guard is already loaded (pinned at {PIN_DIR}); use reload or unload"
        )));
    }
    let order: Vec<Mode> = match want {
        Some(m) => vec![m],
        None => vec![Mode::Lsm, Mode::Kill],
    };
    let mut why = Vec::new();
    for mode in order {
        match try_load(c, mode) {
            Ok(()) => {
                Meta::new(mode, config_path, c).write()?;
                return Ok(mode);
            }
            Err(e) => why.push(format!("{} mode: {e}", mode.as_str())),
        }
    }
    Err(GuardError::System(format!(
        "the kernel cannot run the guard: {}",
        why.join("; ")
    )))
}

/// Open the object and load the program of `mode` only (nothing attached).
fn open_load(
    storage: &mut MaybeUninit<libbpf_rs::OpenObject>,
    mode: Mode,
) -> Result<skel::GuardSkel<'_>, GuardError> {
    // libbpf's own messages would go to stderr; the reason is in our error instead.
    libbpf_rs::set_print(None);
    let mut open = skel::GuardSkelBuilder::default()
        .open(storage)
        .map_err(|e| sys("opening the BPF object", e))?;
    open.progs.nnp_lsm.set_autoload(mode == Mode::Lsm);
    open.progs.nnp_kill.set_autoload(mode == Mode::Kill);
    open.load().map_err(|e| sys("loading the program", e))
}

fn try_load(c: &Compiled, mode: Mode) -> Result<(), GuardError> {
    let mut storage = MaybeUninit::uninit();
    let mut skel = open_load(&mut storage, mode)?;
    {
        let m = &skel.maps;
        fill_set(
            [&m.uids_a, &m.gids_a, &m.ranges_a, &m.allow_a],
            &m.state,
            0,
            c,
        )?;
        m.state
            .update(&u32b(S_ACTIVE), &u32b(0), MapFlags::ANY)
            .map_err(|e| sys("writing the state", e))?;
    }
    let prog = match mode {
        Mode::Lsm => &skel.progs.nnp_lsm,
        Mode::Kill => &skel.progs.nnp_kill,
    };
    let mut link = prog.attach().map_err(|e| sys("attaching", e))?;
    std::fs::create_dir_all(PIN_DIR).map_err(|e| sys(&format!("creating {PIN_DIR}"), e))?;
    let pin_all = |skel: &mut skel::GuardSkel<'_>| -> Result<(), GuardError> {
        let m = &mut skel.maps;
        for (name, map) in [
            ("uids_a", &mut m.uids_a),
            ("uids_b", &mut m.uids_b),
            ("gids_a", &mut m.gids_a),
            ("gids_b", &mut m.gids_b),
            ("ranges_a", &mut m.ranges_a),
            ("ranges_b", &mut m.ranges_b),
            ("allow_a", &mut m.allow_a),
            ("allow_b", &mut m.allow_b),
            ("state", &mut m.state),
            ("counters", &mut m.counters),
            ("events", &mut m.events),
        ] {
            map.pin(pin_path(name))
                .map_err(|e| sys(&format!("pinning {name}"), e))?;
        }
        Ok(())
    };
    if let Err(e) = pin_all(&mut skel) {
        remove_pins();
        return Err(e);
    }
    // The link last: once it is pinned the guard is in force.
    link.pin(pin_path("link")).map_err(|e| {
        remove_pins();
        sys("pinning the link", e)
    })?;
    Ok(())
}

/// Can this kernel load the program of `mode`? Loads it (nothing attached, nothing pinned)
/// and drops it: for `nnpctl doctor`.
pub fn probe(mode: Mode) -> Result<(), GuardError> {
    let mut storage = MaybeUninit::uninit();
    open_load(&mut storage, mode).map(|_| ())
}

fn remove_pins() {
    for name in ["link"]
        .iter()
        .chain(SET_MAPS.iter().flatten())
        .chain(OTHER_MAPS.iter())
    {
        let _ = std::fs::remove_file(pin_path(name));
    }
    let _ = std::fs::remove_dir(PIN_DIR);
}

fn pinned(name: &str) -> Result<MapHandle, GuardError> {
    MapHandle::from_pinned_path(pin_path(name))
        .map_err(|e| sys(&format!("opening the pinned map {name}"), e))
}

fn state_get(state: &MapHandle, i: u32) -> Result<u32, GuardError> {
    let v = state
        .lookup(&u32b(i), MapFlags::ANY)
        .map_err(|e| sys("reading the state", e))?
        .unwrap_or_default();
    Ok(v.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0))
}

/// Swap in a new policy: fill the inactive set, then flip the active index (one u32).
pub fn reload(c: &Compiled, config_path: &Path) -> Result<(), GuardError> {
    if !is_loaded() {
        return Err(GuardError::System("no guard is loaded".into()));
    }
    let state = pinned("state")?;
    let active = state_get(&state, S_ACTIVE)?;
    let target = 1 - active.min(1);
    let [u, g, r, a] = SET_MAPS[target as usize];
    let (u, g, r, a) = (pinned(u)?, pinned(g)?, pinned(r)?, pinned(a)?);
    fill_set([&u, &g, &r, &a], &state, target, c)?;
    state
        .update(&u32b(S_ACTIVE), &u32b(target), MapFlags::ANY)
        .map_err(|e| sys("switching to the new tables", e))?;
    let mode = Meta::read().map(|m| m.mode).unwrap_or(Mode::Kill);
    Meta::new(mode, config_path, c).write()
}

/// Unpin everything: the program detaches once nothing holds it. `false` if none was loaded.
pub fn unload() -> bool {
    let was = Path::new(PIN_DIR).exists();
    remove_pins();
    meta::remove();
    was
}

/// Counters: execs seen, privilege-raising execs, refused, audited ("would refuse").
pub fn counters() -> Result<[u64; 4], GuardError> {
    let m = pinned("counters")?;
    let mut out = [0u64; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let per_cpu = m
            .lookup_percpu(&u32b(u32::try_from(i).unwrap_or(0)), MapFlags::ANY)
            .map_err(|e| sys("reading the counters", e))?
            .unwrap_or_default();
        *slot = per_cpu
            .iter()
            .filter_map(|b| b.get(..8).and_then(|b| b.try_into().ok()))
            .map(u64::from_ne_bytes)
            .sum();
    }
    Ok(out)
}

/// Which uids/gids the loaded guard covers, for `nnpctl audit`: the table active now.
pub fn loaded_table() -> Result<GuardTable, GuardError> {
    let state = pinned("state")?;
    let active = state_get(&state, S_ACTIVE)?.min(1) as usize;
    let [u, g, r, _] = SET_MAPS[active];
    let read = |name: &str| -> Result<BTreeMap<u32, u32>, GuardError> {
        let m = pinned(name)?;
        let mut out = BTreeMap::new();
        for k in m.keys() {
            if let (Some(kb), Ok(Some(v))) = (k.get(..4), m.lookup(&k, MapFlags::ANY)) {
                if let (Ok(kb), Some(Ok(vb))) = (kb.try_into(), v.get(..4).map(|b| b.try_into())) {
                    out.insert(u32::from_ne_bytes(kb), u32::from_ne_bytes(vb));
                }
            }
        }
        Ok(out)
    };
    let mut t = GuardTable {
        uids: read(u)?,
        gids: read(g)?,
        ..GuardTable::default()
    };
    let star = state_get(&state, 1 + active as u32)?;
    t.star = (star != 0).then_some(star);
    let n = state_get(&state, 3 + active as u32)?;
    let ranges = pinned(r)?;
    for i in 0..n {
        if let Ok(Some(v)) = ranges.lookup(&u32b(i), MapFlags::ANY) {
            let w = |o: usize| {
                v.get(o..o + 4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_ne_bytes)
                    .unwrap_or(0)
            };
            t.ranges.push((w(0), w(4), w(8)));
        }
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
    /// The deciding rule's 1-based index.
    pub rule: usize,
    /// "refused", "killed" or "audit".
    pub action: &'static str,
    /// The command.
    pub comm: String,
    /// The file exec'd.
    pub file: String,
}

fn parse_event(data: &[u8]) -> Option<Event> {
    let u32at = |o: usize| data.get(o..o + 4)?.try_into().ok().map(u32::from_ne_bytes);
    let u64at = |o: usize| data.get(o..o + 8)?.try_into().ok().map(u64::from_ne_bytes);
    let cstr = |o: usize, n: usize| {
        let b = data.get(o..o + n).unwrap_or(&[]);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        nnp_config::escape(&b[..end])
    };
    let value = u32at(16)?;
    Some(Event {
        time_ns: u64at(0)?,
        pid: u32at(8)?,
        uid: u32at(12)?,
        rule: (value >> 2) as usize,
        action: match u32at(20)? {
            1 => "refused",
            2 => "killed",
            _ => "audit: would refuse",
        },
        comm: cstr(40, 16),
        file: cstr(56, 128),
    })
}

/// Stream events until `f` returns false or the guard is unloaded.
pub fn watch(mut f: impl FnMut(Event) -> bool) -> Result<(), GuardError> {
    let events = pinned("events")?;
    let stop = std::cell::Cell::new(false);
    let mut b = libbpf_rs::RingBufferBuilder::new();
    b.add(&events, |data: &[u8]| {
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
    while !stop.get() && is_loaded() {
        rb.poll(Duration::from_millis(500))
            .map_err(|e| sys("reading events", e))?;
    }
    Ok(())
}
