//! `nnpctl audit`: every thread of a restricted user's process (an `nnp = true` rule in
//! enforce mode matches the process owner, for some service) that lacks NoNewPrivs.
//!
//! NNP is per thread: every thread is read (`/proc/PID/task/TID/status`). Kernel threads are
//! recognised by the kernel's flag, never by pid numbers, so processes in every PID namespace
//! visible in /proc are audited. A process the audit cannot decide for (a lookup error, an
//! unreadable status, a failed worker) is listed as undecidable and never counted as ok.
//!
//! Processes that come and go: every task is read in the kernel by a BPF task iterator
//! ([`nnp_guard::tasks`]), which walks the tasks in pid order and reads each one's credentials
//! and NNP while holding it, so a process that forks and exits in a loop (each child's pid
//! above its parent's) cannot be passed; only the command line and start time of a finding
//! come from /proc. Where the iterator cannot run (no BTF or BPF privilege, a pid namespace
//! of its own), /proc is read: a first pass spread over the CPUs, then /proc listed again
//! and every pid not seen before read at once, while a pass saw a pid vanish before it could
//! be read, up to `MAX_RESCANS` passes or `RESCAN_BUDGET` of time; pids still vanishing when
//! that bound ends them are reported as undecidable, never passed. A thread that exited (a
//! zombie) runs nothing and is not a finding, in /proc as in the kernel: a process is skipped
//! only when all of it has exited (/proc/PID/status: `State: Z` or `X`, and `Threads: 1`);
//! a leader that has exited while other threads run (`State: Z` too) leaves a live process,
//! judged by those threads.
//!
//! The owner of a process is decided by every account of its real uid, the strictest
//! deciding (`Config::decide_uid`: the getpwuid account and the uid's other names in
//! /etc/passwd); a uid without a passwd entry (a rootless container's subordinate ids) from
//! the process's own kernel credentials (uid, gid, groups), as the exec guard decides.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use nnp_config::{Config, Nss, Resolver, Verdict, Who};
use serde::Serialize;

use crate::procfs::{self, ReadError};
use crate::{Error, Outcome, Output};

#[derive(Serialize, Clone)]
struct Finding {
    /// "none", or "guard": the loaded exec guard refuses this process's privilege-raising
    /// execs (not a finding then).
    protection: &'static str,
    pid: u32,
    tid: u32,
    user: String,
    uid: u32,
    start: String,
    command: String,
    rule: String,
}

#[derive(Serialize, Clone)]
struct Undecided {
    pid: u32,
    uid: Option<u32>,
    command: String,
    reason: String,
}

#[derive(Serialize)]
struct AuditJson<'a> {
    schema: &'static str,
    status: &'static str,
    checked_processes: usize,
    checked_threads: usize,
    findings: &'a [Finding],
    protected_by_guard: &'a [Finding],
    undecidable: &'a [Undecided],
    source: &'static str,
    source_note: Option<&'a str>,
}

#[derive(Default)]
struct Scan {
    findings: Vec<Finding>,
    undecided: Vec<Undecided>,
    processes: usize,
    threads: usize,
}

impl Scan {
    fn merge(&mut self, other: &mut Scan) {
        self.findings.append(&mut other.findings);
        self.undecided.append(&mut other.undecided);
        self.processes += other.processes;
        self.threads += other.threads;
    }
}

/// Whether a process owner (real uid, gid, groups) is restricted: `Ok(Some((user, rule)))`
/// by that rule, `Ok(None)` not, `Err(why)` when it cannot be decided.
type Restriction = Result<Option<(String, String)>, String>;

/// Rescans of /proc after the first pass, at most (see the module's documentation).
const MAX_RESCANS: usize = 64;
/// Time the rescans may take, at most.
const RESCAN_BUDGET: Duration = Duration::from_secs(1);

fn restriction(
    config: &Config,
    res: &mut Resolver<'_>,
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> Restriction {
    let who = Who::Kernel { uid, gid, groups };
    // Every account of the uid, each across every service, the strictest deciding: the
    // same decision as systemd's user manager gets (one per uid). A process of the uid's
    // second passwd name (alice2 after alice) is that account's as much as the first's:
    // decided by the getpwuid name alone, a restricted alias's process without NNP was
    // passed.
    match config.decide_uid(res, who) {
        Ok(d) => match d.verdict {
            Verdict::Enforce(rule) => {
                let user = d
                    .alias
                    .as_ref()
                    .or(d.user.as_ref())
                    .map_or_else(|| format!("#{uid}"), |u| nnp_config::escape_value(&u.name));
                Ok(Some((user, rule.at.to_string())))
            }
            Verdict::NoMatch | Verdict::Exempt(_) | Verdict::Audit(_) => Ok(None),
        },
        Err(e) => Err(e.to_string()),
    }
}

/// The threads of a process, each as its own status shows it.
struct Threads {
    /// Threads running without NoNewPrivs.
    lacking: Vec<procfs::Proc>,
    /// Was any thread seen running (not exited)?
    running: bool,
    /// Tasks listed.
    listed: usize,
}

/// The threads of `main`'s process (`None`: the process exited meanwhile), or the reason
/// they cannot be read. A thread that has exited (a zombie, or being released: it runs
/// nothing, exec included) or that exits while it is read is not judged. The leader is
/// `main` while it runs; a leader that had exited when `main` was read is read again, since
/// its process may be alive: other threads run on after a leader's `pthread_exit`, and a
/// thread that runs a program takes the leader's id.
fn threads_of(
    root: &Path,
    main: &procfs::Proc,
    buf: &mut Vec<u8>,
) -> Result<Option<Threads>, String> {
    let tids = match procfs::tids(root, main.pid) {
        Ok(t) => t,
        Err(ReadError::Vanished) => return Ok(None),
        Err(ReadError::Other(e)) => return Err(e),
    };
    let mut out = Threads {
        lacking: Vec::new(),
        running: false,
        listed: tids.len(),
    };
    for tid in tids {
        let read;
        let t = if tid == main.pid && !main.exited() {
            main
        } else {
            let path = root
                .join(main.pid.to_string())
                .join("task")
                .join(tid.to_string())
                .join("status");
            read = match procfs::read_status(&path, tid, buf) {
                Ok(t) => t,
                Err(ReadError::Vanished) => continue,
                Err(ReadError::Other(e)) => return Err(e),
            };
            &read
        };
        if t.exited() {
            continue;
        }
        out.running = true;
        match t.nnp {
            Some(true) => {}
            Some(false) => out.lacking.push(t.clone()),
            None => return Err(format!("no NoNewPrivs line for thread {tid}")),
        }
    }
    Ok(Some(out))
}

/// The loaded exec guard's tables, when the guard is in force (loaded, live, current and
/// complete: [`nnp_guard::GuardState`]); `None` otherwise, and then nothing counts as
/// protected by it.
fn current_guard(state: &nnp_guard::GuardState) -> Option<nnp_config::guard::GuardTable> {
    if !state.in_force() {
        return None;
    }
    nnp_guard::loaded_table().ok()
}

/// Does the guard in force protect this process? Never one that already holds more than
/// its real ids (a setuid program started before the guard): the guard stops raises, it
/// does not take privileges away.
fn guarded(
    guard: Option<&nnp_config::guard::GuardTable>,
    privileged: bool,
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> bool {
    !privileged
        && guard
            .and_then(|t| t.lookup(uid, gid, groups))
            .is_some_and(|v| {
                nnp_config::guard::decode(v).1 == nnp_config::guard::GuardVerdict::Enforce
            })
}

/// Did a process exist long enough to be read?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    Read,
    Vanished,
    /// A zombie and nothing else (every thread exited): nothing of it runs or can run.
    Dead,
}

/// Reads of a process whose leader has exited and of which no thread was seen running, yet
/// that is not a lone zombie (its last threads exiting while they are read), before it is
/// called undecidable.
const SETTLE_TRIES: usize = 8;

/// One scanner: its own resolver (group names resolved once), one decision per set of
/// kernel credentials, a reused read buffer.
struct Worker<'a> {
    config: &'a Config,
    guard: Option<&'a nnp_config::guard::GuardTable>,
    root: &'a Path,
    boot: u64,
    ticks: u64,
    res: Resolver<'a>,
    restrictions: HashMap<(u32, u32, Vec<u32>), Restriction>,
    buf: Vec<u8>,
    s: Scan,
}

impl<'a> Worker<'a> {
    fn new(
        config: &'a Config,
        guard: Option<&'a nnp_config::guard::GuardTable>,
        root: &'a Path,
        boot: u64,
        ticks: u64,
    ) -> Self {
        Worker {
            config,
            guard,
            root,
            boot,
            ticks,
            res: Resolver::new(&Nss),
            restrictions: HashMap::new(),
            buf: Vec::with_capacity(4096),
            s: Scan::default(),
        }
    }

    fn undecided(&mut self, pid: u32, p: Option<&procfs::Proc>, reason: String) {
        let command = match p {
            Some(p) => procfs::cmdline(self.root, pid, &p.name, &mut self.buf),
            None => format!("[pid {pid}]"),
        };
        self.s.undecided.push(Undecided {
            pid,
            uid: p.map(|p| p.ruid),
            command,
            reason,
        });
    }

    /// Is the owner of these kernel credentials restricted? Decided once per set.
    fn restriction(&mut self, uid: u32, gid: u32, groups: &[u32]) -> Restriction {
        let key = (uid, gid, groups.to_vec());
        if let Some(v) = self.restrictions.get(&key) {
            return v.clone();
        }
        let v = restriction(self.config, &mut self.res, uid, gid, groups);
        self.restrictions.insert(key, v.clone());
        v
    }

    /// Judge one thread the task iterator read in the kernel. Its process's command line
    /// and start time come from /proc while it still runs (the start time read there must
    /// be the kernel's, or the pid is another process's by now: its name stands in).
    fn judge_task(&mut self, t: &nnp_guard::tasks::Task) {
        let pid = t.tgid;
        let name = nnp_config::escape_value(&t.comm);
        let command = |w: &mut Self| {
            // the kernel's start of the process, in the clock ticks /proc/PID/stat counts
            let start = t.start_ns / (1_000_000_000 / w.ticks.max(1));
            let cmd = procfs::cmdline(w.root, pid, &name, &mut w.buf);
            if procfs::start_ticks(w.root, pid, &mut w.buf) == Some(start) {
                cmd
            } else {
                format!("[{name}]")
            }
        };
        if t.unread {
            let command = command(self);
            self.s.undecided.push(Undecided {
                pid,
                uid: None,
                command,
                reason: format!(
                    "thread {}: its credentials could not be read in the kernel",
                    t.tid
                ),
            });
            return;
        }
        let mut groups = std::borrow::Cow::Borrowed(&t.groups[..]);
        if t.truncated {
            // more groups than the iterator writes: /proc has them all, while it runs
            let path = self
                .root
                .join(pid.to_string())
                .join("task")
                .join(t.tid.to_string())
                .join("status");
            match procfs::read_status(&path, t.tid, &mut self.buf) {
                Ok(p) if p.ruid == t.uids[0] && p.rgid == t.gids[0] => {
                    groups = std::borrow::Cow::Owned(p.groups)
                }
                _ => {
                    let command = command(self);
                    self.s.undecided.push(Undecided {
                        pid,
                        uid: Some(t.uids[0]),
                        command,
                        reason: format!(
                            "thread {}: more than {} groups, and it exited before /proc could list them",
                            t.tid,
                            nnp_guard::tasks::GROUPS_WRITTEN
                        ),
                    });
                    return;
                }
            }
        }
        match self.restriction(t.uids[0], t.gids[0], &groups) {
            Ok(None) => {}
            Ok(Some((user, rule))) => {
                let command = command(self);
                let guarded = guarded(self.guard, t.privileged(), t.uids[0], t.gids[0], &groups);
                self.s.findings.push(Finding {
                    protection: if guarded { "guard" } else { "none" },
                    pid,
                    tid: t.tid,
                    user,
                    uid: t.uids[0],
                    start: procfs::iso8601(self.boot + t.start_ns / 1_000_000_000),
                    command,
                    rule,
                });
            }
            Err(reason) => {
                let command = command(self);
                self.s.undecided.push(Undecided {
                    pid,
                    uid: Some(t.uids[0]),
                    command,
                    reason,
                });
            }
        }
    }

    /// Read and judge one process: each thread that runs, by its own status. A process
    /// whose every thread has exited (a zombie) runs nothing, exec included: not judged.
    fn visit(&mut self, pid: u32) -> Visit {
        let root = self.root;
        let path = root.join(pid.to_string()).join("status");
        let mut tries = 0;
        let (p, threads) = loop {
            tries += 1;
            let p = match procfs::read_status(&path, pid, &mut self.buf) {
                Ok(p) => p,
                Err(ReadError::Vanished) => return Visit::Vanished,
                Err(ReadError::Other(reason)) => {
                    self.undecided(pid, None, reason);
                    return Visit::Read;
                }
            };
            if p.dead_process() {
                self.s.processes += 1;
                self.s.threads += 1;
                return Visit::Dead;
            }
            match procfs::is_kernel_thread(root, &p, &mut self.buf) {
                Ok(true) => return Visit::Read,
                Ok(false) => {}
                Err(ReadError::Vanished) => return Visit::Vanished,
                Err(ReadError::Other(reason)) => {
                    self.undecided(pid, Some(&p), reason);
                    return Visit::Read;
                }
            }
            match threads_of(root, &p, &mut self.buf) {
                Ok(Some(t)) if t.running => break (p, t),
                // No thread seen running, yet not a lone zombie when its status was read:
                // its last threads were exiting (or a thread ran a program and took the
                // leader's id). Read it again until it settles.
                Ok(Some(_)) if tries < SETTLE_TRIES => std::thread::yield_now(),
                Ok(Some(t)) => {
                    self.s.processes += 1;
                    self.s.threads += t.listed;
                    // never a silent pass: undecidable unless its owner is not restricted
                    let reason = match self.restriction(p.ruid, p.rgid, &p.groups) {
                        Ok(None) => return Visit::Read,
                        Ok(Some(_)) => format!(
                            "no thread of it was seen running in {SETTLE_TRIES} reads, yet it \
                             was never a zombie alone either (Threads: {}): a thread that \
                             exited under a tracer, or a process still exiting",
                            p.threads.map_or_else(|| "?".to_string(), |n| n.to_string())
                        ),
                        Err(reason) => reason,
                    };
                    self.undecided(pid, Some(&p), reason);
                    return Visit::Read;
                }
                // Gone between its status and its task list: its main thread was still
                // seen without NNP (a process that comes and goes is caught by that one
                // read).
                Ok(None) if p.nnp == Some(false) => {
                    let lacking = vec![p.clone()];
                    break (
                        p,
                        Threads {
                            lacking,
                            running: true,
                            listed: 1,
                        },
                    );
                }
                Ok(None) => return Visit::Vanished,
                Err(reason) => {
                    self.s.processes += 1;
                    self.undecided(pid, Some(&p), reason);
                    return Visit::Read;
                }
            }
        };
        self.s.processes += 1;
        self.s.threads += threads.listed;
        // the process's start and command line, read once for its findings
        let mut shown: Option<(String, String)> = None;
        let mut undecided = false;
        for t in threads.lacking {
            match self.restriction(t.ruid, t.rgid, &t.groups) {
                Ok(None) => {}
                Ok(Some((user, rule))) => {
                    let (start, command) = shown.get_or_insert_with(|| {
                        let start =
                            procfs::start_time(root, pid, self.boot, self.ticks, &mut self.buf)
                                .map(procfs::iso8601)
                                .unwrap_or_else(|| "?".to_string());
                        (start, procfs::cmdline(root, pid, &p.name, &mut self.buf))
                    });
                    let protection = if guarded(self.guard, t.privileged, t.ruid, t.rgid, &t.groups)
                    {
                        "guard"
                    } else {
                        "none"
                    };
                    self.s.findings.push(Finding {
                        protection,
                        pid,
                        tid: t.pid,
                        user,
                        uid: t.ruid,
                        start: start.clone(),
                        command: command.clone(),
                        rule,
                    });
                }
                // one entry per process
                Err(reason) if !undecided => {
                    undecided = true;
                    self.undecided(pid, Some(&t), reason);
                }
                Err(_) => {}
            }
        }
        Visit::Read
    }
}

/// The first pass over a share of the pids listed at the start.
fn scan(mut w: Worker<'_>, pids: &[u32]) -> Scan {
    for &pid in pids {
        w.visit(pid);
    }
    w.s
}

/// Rescans: list /proc again and read every process not seen yet (by pid and the inode of
/// its /proc entry: pids are reused quickly on a host that forks a lot) at once, while a
/// pass had one vanish before it could be read (bounded). Returns what they found, and how
/// many pids vanished unread in the last pass when the bound ended them (0: /proc was quiet).
fn rescan(mut w: Worker<'_>, seen: &mut HashSet<(u32, u64)>, mut churn: bool) -> (Scan, usize) {
    use std::os::unix::fs::DirEntryExt;
    let start = Instant::now();
    let mut passes = 0;
    let mut vanished = 0;
    while churn && passes < MAX_RESCANS && start.elapsed() < RESCAN_BUDGET {
        passes += 1;
        churn = false;
        vanished = 0;
        let Ok(dir) = std::fs::read_dir(w.root) else {
            break;
        };
        for entry in dir {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if seen.insert((pid, entry.ino())) && w.visit(pid) == Visit::Vanished {
                churn = true;
                vanished += 1;
            }
        }
    }
    (w.s, if churn { vanished } else { 0 })
}

/// What a scan found: findings, the processes the guard protects instead, undecidable ones.
struct Collected {
    findings: Vec<Finding>,
    protected: Vec<Finding>,
    undecided: Vec<Undecided>,
    processes: usize,
    threads: usize,
    /// `None`: read by the kernel's task iterator; else why /proc was read instead.
    proc_because: Option<String>,
}

/// The counts of a scan, for `nnpctl metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Threads of restricted users without NNP, not protected by the guard.
    pub findings: usize,
    /// Such threads the guard in force protects.
    pub protected: usize,
    /// Processes that could not be decided.
    pub undecidable: usize,
    /// Processes checked.
    pub processes: usize,
    /// Threads checked.
    pub threads: usize,
}

/// Scan every process, as `nnpctl audit` does, and count; `state` is the guard's state
/// (read once by the caller).
pub fn summary(config: &Config, state: &nnp_guard::GuardState) -> Result<Summary, Error> {
    let c = collect(config, state)?;
    Ok(Summary {
        findings: c.findings.len(),
        protected: c.protected.len(),
        undecidable: c.undecided.len(),
        processes: c.processes,
        threads: c.threads,
    })
}

pub fn run(path: Option<&Path>, json: bool) -> Result<Output, Error> {
    let config = nnp_config::load_main(path)?;
    let c = collect(&config, &nnp_guard::GuardState::read())?;
    render(c, json)
}

/// Run `work` over shares of `items` on up to one thread per CPU (reading /proc is kernel
/// time) and merge what they found; a share whose thread failed is listed as undecidable
/// (`pid_of` names its first and last process).
fn in_parallel<T: Sync>(
    items: &[T],
    pid_of: impl Fn(&T) -> u32,
    work: impl Fn(&[T]) -> Scan + Sync,
) -> Scan {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = items.len().div_ceil(workers).max(1);
    let mut total = Scan::default();
    let work = &work;
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| (part, sc.spawn(move || work(part))))
            .collect();
        for (part, h) in handles {
            match h.join() {
                Ok(mut s) => total.merge(&mut s),
                // A worker that failed decided nothing for its share: say so.
                Err(_) => {
                    let first = part.first().map_or(0, &pid_of);
                    let last = part.last().map_or(0, &pid_of);
                    total.undecided.push(Undecided {
                        pid: first,
                        uid: None,
                        command: format!("[pids {first}..{last}]"),
                        reason: "internal error: the worker scanning these processes failed"
                            .to_string(),
                    })
                }
            }
        }
    });
    total
}

/// The audit without the task iterator: /proc read by workers, then listed again while
/// processes vanish before they are read (bounded); `why`: the iterator's error.
fn from_proc(
    config: &Config,
    guard: Option<&nnp_config::guard::GuardTable>,
    root: &Path,
    boot: u64,
    ticks: u64,
    why: &str,
) -> Result<Scan, Error> {
    let listed = procfs::pids_with_ino(root).map_err(|e| Error::system("cannot read /proc", e))?;
    let pids: Vec<u32> = listed.iter().map(|&(pid, _)| pid).collect();
    let mut total = in_parallel(
        &pids,
        |pid| *pid,
        |part| scan(Worker::new(config, guard, root, boot, ticks), part),
    );
    // Processes that came and went during the first pass may have left a successor with a
    // pid it never listed: look again (always once, so a process born during the first
    // pass is read too).
    let mut seen: HashSet<(u32, u64)> = listed.into_iter().collect();
    let (mut again, vanished) = rescan(
        Worker::new(config, guard, root, boot, ticks),
        &mut seen,
        true,
    );
    total.merge(&mut again);
    if vanished > 0 {
        // Still changing when the rescans ended: a process that forks and exits in a loop
        // may be among those never read. Not a pass.
        total.undecided.push(Undecided {
            pid: 0,
            uid: None,
            command: "[processes that came and went]".to_string(),
            reason: format!(
                "{} exited before /proc could read {} and /proc was still changing when the \
                 audit stopped listing it again; the kernel's task iterator, which sees every \
                 process, is not available: {why}",
                if vanished == 1 {
                    "1 process".to_string()
                } else {
                    format!("{vanished} processes")
                },
                if vanished == 1 { "it" } else { "them" }
            ),
        });
    }
    Ok(total)
}

/// After the walk: the processes whose threads the walk did not all meet (fewer records than
/// the process had threads). A thread other than the leader that runs a program takes the
/// process id, which the walk may already have passed, so such a process is read again from
/// /proc, every thread. One gone by then, or dead (a zombie: the missed thread can no longer
/// be read), is undecidable when a thread the walk did meet belongs to a restricted owner or
/// could not be decided (the thread it missed was theirs); a process of unrestricted owners
/// that exited is not.
fn recheck(
    config: &Config,
    guard: Option<&nnp_config::guard::GuardTable>,
    root: &Path,
    boot: u64,
    ticks: u64,
    users: &[&nnp_guard::tasks::Task],
) -> Scan {
    let mut met: HashMap<u32, (u32, u32)> = HashMap::new();
    for t in users {
        let e = met.entry(t.tgid).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.max(t.threads);
    }
    let mut w = Worker::new(config, guard, root, boot, ticks);
    let mut pids: Vec<u32> = met
        .iter()
        .filter(|(_, &(records, threads))| records < threads)
        .map(|(&pid, _)| pid)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        if w.visit(pid) == Visit::Read {
            continue;
        }
        let doubt = users.iter().filter(|t| t.tgid == pid).any(|t| {
            !matches!(w.restriction(t.uids[0], t.gids[0], &t.groups), Ok(None))
                || t.truncated
                || t.unread
        });
        if doubt {
            let name = nnp_config::escape_value(
                users
                    .iter()
                    .find(|t| t.tgid == pid)
                    .map_or(&[][..], |t| &t.comm[..]),
            );
            w.s.undecided.push(Undecided {
                pid,
                uid: users.iter().find(|t| t.tgid == pid).map(|t| t.uids[0]),
                command: format!("[{name}]"),
                reason: "its threads changed while the kernel walked the tasks (a thread ran a program or exited) and it exited before /proc could read it again".to_string(),
            });
        }
    }
    w.s
}

fn collect(config: &Config, state: &nnp_guard::GuardState) -> Result<Collected, Error> {
    let root = Path::new("/proc");
    let boot = procfs::boot_time(root);
    let ticks = nnp_sys::clock_ticks();
    let guard = current_guard(state);
    let guard = guard.as_ref();
    let mut proc_because = None;
    let mut total = match nnp_guard::tasks::snapshot() {
        Ok(tasks) => {
            let users: Vec<&nnp_guard::tasks::Task> = tasks.iter().filter(|t| !t.kthread).collect();
            // A thread that exited (a zombie) runs nothing, exec included: not a finding.
            let lacking: Vec<&nnp_guard::tasks::Task> = users
                .iter()
                .copied()
                .filter(|t| !t.nnp && !t.exited)
                .collect();
            // Only the threads without NNP need a decision, and /proc for their command.
            let mut s = in_parallel(
                &lacking,
                |t| t.tgid,
                |part| {
                    let mut w = Worker::new(config, guard, root, boot, ticks);
                    for t in part {
                        w.judge_task(t);
                    }
                    w.s
                },
            );
            s.threads = users.len();
            s.processes = users.iter().map(|t| t.tgid).collect::<HashSet<_>>().len();
            let mut again = recheck(config, guard, root, boot, ticks, &users);
            s.findings.append(&mut again.findings);
            s.undecided.append(&mut again.undecided);
            s
        }
        Err(e) => {
            let why = e.to_string();
            let s = from_proc(config, guard, root, boot, ticks, &why)?;
            proc_because = Some(why);
            s
        }
    };
    total.findings.sort_by_key(|f| (f.pid, f.tid));
    // a thread read twice (a process read again after the walk, or whose /proc entry was
    // re-instantiated) is one finding
    total
        .findings
        .dedup_by(|a, b| (a.pid, a.tid) == (b.pid, b.tid));
    let (protected, findings): (Vec<Finding>, Vec<Finding>) = total
        .findings
        .drain(..)
        .partition(|f| f.protection == "guard");
    total.undecided.sort_by_key(|u| u.pid);
    Ok(Collected {
        findings,
        protected,
        undecided: total.undecided,
        processes: total.processes,
        threads: total.threads,
        proc_because,
    })
}

fn render(c: Collected, json: bool) -> Result<Output, Error> {
    let Collected {
        findings,
        protected,
        undecided,
        processes,
        threads,
        proc_because,
    } = c;
    let total = Scan {
        findings,
        undecided,
        processes,
        threads,
    };
    let outcome = if !total.findings.is_empty() {
        Outcome::Problem
    } else if !total.undecided.is_empty() {
        Outcome::Incomplete
    } else {
        Outcome::Fine
    };
    let mut r = Output::new();
    r.outcome = outcome;
    if json {
        let doc = AuditJson {
            schema: "nnp.audit/1",
            status: match outcome {
                Outcome::Fine => "ok",
                Outcome::Problem => "problem",
                Outcome::Incomplete => "incomplete",
            },
            checked_processes: total.processes,
            checked_threads: total.threads,
            findings: &total.findings,
            protected_by_guard: &protected,
            undecidable: &total.undecided,
            source: if proc_because.is_some() {
                "proc"
            } else {
                "kernel"
            },
            source_note: proc_because.as_deref(),
        };
        r.line(serde_json::to_string_pretty(&doc)?);
        return Ok(r);
    }
    let counted = format!(
        "{} processes, {} threads checked",
        total.processes, total.threads
    );
    if !total.findings.is_empty() {
        r.line(format!(
            "{:>7} {:>7}  {:<12} {:<20}  COMMAND",
            "PID", "TID", "USER", "START"
        ));
        for f in &total.findings {
            r.line(format!(
                "{:>7} {:>7}  {:<12} {:<20}  {}",
                f.pid, f.tid, f.user, f.start, f.command
            ));
        }
        r.line(format!(
            "{} of restricted users without no_new_privs ({counted})",
            crate::plural(total.findings.len(), "thread")
        ));
    }
    for f in &protected {
        r.line(format!(
            "protected by the guard: pid {} tid {} {} (uid {}) {}: no no_new_privs, but the loaded exec guard refuses its privilege-raising execs",
            f.pid, f.tid, f.user, f.uid, f.command
        ));
    }
    for u in &total.undecided {
        r.line(format!(
            "undecidable: pid {}{} {}: {}",
            u.pid,
            u.uid.map(|x| format!(" (uid {x})")).unwrap_or_default(),
            u.command,
            u.reason
        ));
    }
    if !total.undecided.is_empty() {
        let n = total.undecided.len();
        r.line(format!(
            "{n} process{} could not be decided ({counted}): not checked",
            if n == 1 { "" } else { "es" }
        ));
    }
    if let Some(why) = &proc_because {
        r.line(format!(
            "note: read from /proc (the kernel's task iterator cannot run: {}); a process that forks and exits faster than /proc is read is reported as undecidable, not found",
            nnp_config::escape_message(why, 512)
        ));
    }
    if outcome == Outcome::Fine {
        r.line(format!(
            "ok: no thread of a restricted user lacks no_new_privs ({counted})"
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A quiet /proc (nothing vanishes) ends the rescans after one pass with nothing to report
    /// (the e2e suite, audit_doctor.sh, runs a chain that forks in a loop against them).
    #[test]
    fn quiet_rescans_report_nothing() {
        let dir = std::env::temp_dir().join(format!("nnp-audit-quiet-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("1000")).unwrap();
        let config = Config::default();
        let mut seen = HashSet::new();
        seen.insert((1000, {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(dir.join("1000")).unwrap().ino()
        }));
        let (_, vanished) = rescan(Worker::new(&config, None, &dir, 0, 100), &mut seen, true);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(vanished, 0);
    }

    fn task(tgid: u32, tid: u32, uid: u32, threads: u32, exited: bool) -> nnp_guard::tasks::Task {
        nnp_guard::tasks::Task {
            tgid,
            tid,
            uids: [uid; 4],
            gids: [uid; 4],
            groups: Vec::new(),
            nnp: false,
            kthread: false,
            exited,
            caps: false,
            truncated: false,
            unread: false,
            start_ns: 0,
            comm: b"trig".to_vec(),
            threads,
        }
    }

    fn status(uid: u32, nnp: u8) -> String {
        format!(
            "Name:\ttrig\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\nGroups:\t\nCapPrm:\t0000000000000000\nNoNewPrivs:\t{nnp}\nKthread:\t0\n"
        )
    }

    /// A status file with a state and a thread count, as Linux writes them.
    fn status_in(uid: u32, nnp: u8, state: &str, threads: u32) -> String {
        format!("{}State:\t{state}\nThreads:\t{threads}\n", status(uid, nnp))
    }

    /// A process of a fake /proc: pid, its status, its threads' (tid, status).
    type FakeProc = (u32, String, Vec<(u32, String)>);

    /// A fake /proc under the temp dir.
    fn fake_proc(name: &str, procs: &[FakeProc]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nnp-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (pid, st, threads) in procs {
            let p = dir.join(pid.to_string());
            std::fs::create_dir_all(p.join("task")).unwrap();
            std::fs::write(p.join("status"), st).unwrap();
            std::fs::write(p.join("cmdline"), b"").unwrap();
            for (tid, ts) in threads {
                std::fs::create_dir_all(p.join("task").join(tid.to_string())).unwrap();
                std::fs::write(p.join("task").join(tid.to_string()).join("status"), ts).unwrap();
            }
        }
        dir
    }

    fn restricting_63001() -> Config {
        nnp_config::parse_text(
            Path::new("/etc/security/nnp.toml"),
            "[[rule]]\nuids = [\"63001\"]\nnnp = true\n",
        )
        .unwrap()
    }

    /// Two passwd names of one uid (alice, then alice2), alice2 in a restricting group.
    struct Aliases {
        second_in_group: bool,
    }

    impl nnp_config::Directory for Aliases {
        fn user_by_name(
            &self,
            name: &[u8],
        ) -> Result<Option<nnp_config::UserEntry>, nnp_config::LookupError> {
            Ok(match name {
                b"alice" | b"alice2" => Some(nnp_config::UserEntry {
                    name: name.to_vec(),
                    uid: 64242,
                    gid: 64242,
                }),
                _ => None,
            })
        }
        fn user_by_uid(
            &self,
            uid: u32,
        ) -> Result<Option<nnp_config::UserEntry>, nnp_config::LookupError> {
            Ok((uid == 64242).then(|| nnp_config::UserEntry {
                name: b"alice".to_vec(),
                uid,
                gid: uid,
            }))
        }
        fn group_by_name(
            &self,
            name: &[u8],
        ) -> Result<Option<nnp_config::GroupEntry>, nnp_config::LookupError> {
            Ok((name == b"restricted").then(|| nnp_config::GroupEntry {
                name: name.to_vec(),
                gid: 64300,
                members: if self.second_in_group {
                    vec![b"alice2".to_vec()]
                } else {
                    Vec::new()
                },
            }))
        }
        fn group_ids(
            &self,
            user: &[u8],
            primary: u32,
        ) -> Result<Vec<u32>, nnp_config::LookupError> {
            let mut g = vec![primary];
            if self.second_in_group && user == b"alice2" {
                g.push(64300);
            }
            Ok(g)
        }
        fn local_users(&self) -> Result<Vec<nnp_config::UserEntry>, nnp_config::LookupError> {
            Ok(["alice", "alice2"]
                .iter()
                .map(|n| nnp_config::UserEntry {
                    name: n.as_bytes().to_vec(),
                    uid: 64242,
                    gid: 64242,
                })
                .collect())
        }
    }

    /// A process of a uid whose second passwd name is restricted (by group) is the restricted
    /// account's: a finding, named by that account and its rule (before: decided by the
    /// getpwuid name alone, passed). Control: alice2 not in the group, nothing.
    #[test]
    fn a_restricted_second_name_of_the_uid_decides_its_processes() {
        let config = nnp_config::parse_text(
            Path::new("/etc/security/nnp.toml"),
            "[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n",
        )
        .unwrap();
        let dir = Aliases {
            second_in_group: true,
        };
        let mut res = nnp_config::Resolver::new(&dir);
        let r = restriction(&config, &mut res, 64242, 64242, &[]);
        assert_eq!(
            r,
            Ok(Some((
                "alice2".to_string(),
                "/etc/security/nnp.toml:1".to_string()
            )))
        );
        let control = Aliases {
            second_in_group: false,
        };
        let mut res = nnp_config::Resolver::new(&control);
        assert_eq!(restriction(&config, &mut res, 64242, 64242, &[]), Ok(None));
    }

    const ZOMBIE: &str = "Z (zombie)";
    const SLEEPING: &str = "S (sleeping)";

    /// F6: a zombie of a restricted user, without NNP, is dead (every thread exited: it
    /// cannot exec anything) and is not a finding in the /proc fallback; the same process
    /// alive is (control).
    #[test]
    fn a_zombie_is_not_a_finding() {
        let zombie = status_in(63001, 0, ZOMBIE, 1);
        let alive = status_in(63001, 0, SLEEPING, 1);
        let dir = fake_proc(
            "zombie",
            &[
                (500, zombie.clone(), vec![(500, zombie)]),
                (510, alive.clone(), vec![(510, alive)]),
            ],
        );
        let config = restricting_63001();
        let mut w = Worker::new(&config, None, &dir, 0, 100);
        assert_eq!(w.visit(500), Visit::Dead);
        assert!(w.s.findings.is_empty() && w.s.undecided.is_empty());
        let s = scan(Worker::new(&config, None, &dir, 0, 100), &[500, 510]);
        let _ = std::fs::remove_dir_all(&dir);
        let found: Vec<(u32, u32)> = s.findings.iter().map(|f| (f.pid, f.tid)).collect();
        assert_eq!(
            found,
            [(510, 510)],
            "the zombie is not listed, the live process is"
        );
        assert!(s.undecided.is_empty());
        assert_eq!(s.processes, 2, "a zombie is checked, not judged");
    }

    /// F1: a leader that has exited (`State: Z` in /proc/PID/status) while another thread of
    /// the process still runs leaves a live process: its running thread, without NNP, of a
    /// restricted user, is a finding (the exited leader itself is not); with NNP on that
    /// thread, nothing (control). A leader read as exited is read again: a thread that ran a
    /// program has taken its id and runs.
    #[test]
    fn a_zombie_leader_with_a_live_thread_is_judged_by_its_threads() {
        let leader = status_in(63001, 0, ZOMBIE, 2);
        let dir = fake_proc(
            "zleader",
            &[
                (
                    600,
                    leader.clone(),
                    vec![
                        (600, leader.clone()),
                        (601, status_in(63001, 0, SLEEPING, 2)),
                    ],
                ),
                (
                    610,
                    leader.clone(),
                    vec![
                        (610, leader.clone()),
                        (611, status_in(63001, 1, SLEEPING, 2)),
                    ],
                ),
                // the leader's status read while it had exited, its id now a running thread's
                (
                    620,
                    leader.clone(),
                    vec![(620, status_in(63001, 0, "R (running)", 1))],
                ),
            ],
        );
        let config = restricting_63001();
        let s = scan(Worker::new(&config, None, &dir, 0, 100), &[600, 610, 620]);
        let _ = std::fs::remove_dir_all(&dir);
        let found: Vec<(u32, u32)> = s.findings.iter().map(|f| (f.pid, f.tid)).collect();
        assert_eq!(found, [(600, 601), (620, 620)]);
        assert!(s.undecided.is_empty());
    }

    /// Doubt is never a pass: a process whose leader has exited and of which no thread is
    /// seen running, yet that is not a lone zombie (`Threads: 2`: its last thread exiting, or
    /// a zombie thread under a tracer), is undecidable for a restricted owner after its
    /// reads; for an unrestricted one, nothing (control).
    #[test]
    fn a_process_that_never_settles_as_a_zombie_is_undecidable() {
        let dir = fake_proc(
            "unsettled",
            &[
                (
                    700,
                    status_in(63001, 0, ZOMBIE, 2),
                    vec![(700, status_in(63001, 0, ZOMBIE, 2))],
                ),
                (
                    710,
                    status_in(63002, 0, ZOMBIE, 2),
                    vec![(710, status_in(63002, 0, ZOMBIE, 2))],
                ),
            ],
        );
        let config = restricting_63001();
        let s = scan(Worker::new(&config, None, &dir, 0, 100), &[700, 710]);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(s.findings.is_empty());
        let undecided: Vec<u32> = s.undecided.iter().map(|u| u.pid).collect();
        assert_eq!(undecided, [700]);
    }

    /// A process whose threads the walk did not all meet (its leader a zombie, the thread
    /// that lacks NNP never read: it ran a program and took the process id the walk had
    /// passed) is read again from /proc and its thread is a finding; a process the walk met
    /// every thread of is not read again (control).
    #[test]
    fn a_process_with_threads_the_walk_missed_is_read_again() {
        let dir = std::env::temp_dir().join(format!("nnp-audit-recheck-{}", std::process::id()));
        let p = dir.join("301");
        std::fs::create_dir_all(p.join("task/301")).unwrap();
        std::fs::create_dir_all(p.join("task/305")).unwrap();
        std::fs::write(p.join("status"), status(63001, 1)).unwrap();
        std::fs::write(p.join("task/301/status"), status(63001, 1)).unwrap();
        std::fs::write(p.join("task/305/status"), status(63001, 0)).unwrap();
        std::fs::write(p.join("cmdline"), b"trig\0").unwrap();
        let config = nnp_config::parse_text(
            Path::new("/etc/security/nnp.toml"),
            "[[rule]]\nuids = [\"63001\"]\nnnp = true\n",
        )
        .unwrap();
        let leader = task(301, 301, 63001, 2, true);
        let s = recheck(&config, None, &dir, 0, 100, &[&leader]);
        assert!(
            s.findings.iter().any(|f| f.pid == 301 && f.tid == 305),
            "the missed thread is found"
        );
        // control: both threads met
        let other = task(301, 305, 63001, 2, false);
        let s = recheck(&config, None, &dir, 0, 100, &[&leader, &other]);
        assert!(s.findings.is_empty() && s.undecided.is_empty());
        // gone before it is read again: undecidable for a restricted owner...
        let gone = task(400, 400, 63001, 2, true);
        let s = recheck(&config, None, &dir, 0, 100, &[&gone]);
        assert!(s.undecided.iter().any(|u| u.pid == 400));
        // ...and nothing for an unrestricted one (control)
        let free = task(401, 401, 63002, 2, true);
        let s = recheck(&config, None, &dir, 0, 100, &[&free]);
        assert!(s.undecided.is_empty() && s.findings.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
