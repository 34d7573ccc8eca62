//! `nnpctl audit`: every thread of a restricted user's process (an `nnp = true` rule in
//! enforce mode matches the process owner, for some service) that lacks NoNewPrivs.
//!
//! NNP is per thread: every thread is read (`/proc/PID/task/TID/status`). Kernel threads are
//! recognised by the kernel's flag, never by pid numbers, so processes in every PID namespace
//! visible in /proc are audited. A process the audit cannot decide for (a lookup error, an
//! unreadable status, a failed worker) is listed as undecidable and never counted as ok.

use std::collections::HashMap;
use std::path::Path;

use nnp_config::{Config, Nss, Resolver, Who};
use serde::Serialize;

use crate::procfs::{self, ReadError};
use crate::{Failure, Outcome, Report};

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
    status: &'static str,
    checked_processes: usize,
    checked_threads: usize,
    findings: &'a [Finding],
    protected_by_guard: &'a [Finding],
    undecidable: &'a [Undecided],
}

#[derive(Default)]
struct Scan {
    findings: Vec<Finding>,
    undecided: Vec<Undecided>,
    processes: usize,
    threads: usize,
}

/// The verdict for a real uid: `Ok(Some((user, rule)))` when restricted.
type Verdict = Result<Option<(String, String)>, String>;

fn verdict(config: &Config, res: &mut Resolver<'_>, uid: u32) -> Verdict {
    match config.decide_any_service(res, Who::Uid(uid)) {
        Ok(d) if d.sets_nnp() => {
            let user = d
                .user
                .as_ref()
                .map_or_else(|| format!("#{uid}"), |u| nnp_config::escape(&u.name));
            Ok(d.rule.map(|r| (user, r.at.to_string())))
        }
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Threads of `pid` without NoNewPrivs, as (tid, None) or the reason they cannot be read.
fn threads_without_nnp(
    root: &Path,
    main: &procfs::Proc,
    buf: &mut Vec<u8>,
    count: &mut usize,
) -> Result<Vec<u32>, String> {
    let tids = match procfs::tids(root, main.pid) {
        Ok(t) => t,
        Err(ReadError::Vanished) => return Ok(Vec::new()),
        Err(ReadError::Other(e)) => return Err(e),
    };
    let mut out = Vec::new();
    for tid in tids {
        *count += 1;
        let nnp = if tid == main.pid {
            main.nnp
        } else {
            let path = root
                .join(main.pid.to_string())
                .join("task")
                .join(tid.to_string())
                .join("status");
            match procfs::read_status(&path, tid, buf) {
                Ok(t) => t.nnp,
                Err(ReadError::Vanished) => continue,
                Err(ReadError::Other(e)) => return Err(e),
            }
        };
        match nnp {
            Some(true) => {}
            Some(false) => out.push(tid),
            None => return Err(format!("no NoNewPrivs line for thread {tid}")),
        }
    }
    Ok(out)
}

/// The loaded exec guard's tables, when it is loaded and current (its config is the one on
/// disk); `None` otherwise, and then nothing counts as protected by it.
fn current_guard() -> Option<nnp_config::guard::GuardTable> {
    if !nnp_guard::is_loaded() {
        return None;
    }
    let meta = nnp_guard::Meta::read()?;
    let now = nnp_config::load(&meta.config).ok()?.files;
    if !meta.stale(&now).is_empty() {
        return None;
    }
    nnp_guard::loaded_table().ok()
}

fn guarded(guard: Option<&nnp_config::guard::GuardTable>, p: &procfs::Proc) -> bool {
    guard
        .and_then(|t| t.lookup(p.ruid, p.rgid, &p.groups))
        .is_some_and(|v| nnp_config::guard::decode(v).1 == nnp_config::guard::GuardVerdict::Enforce)
}

fn scan(
    config: &Config,
    guard: Option<&nnp_config::guard::GuardTable>,
    root: &Path,
    pids: &[u32],
    boot: u64,
    ticks: u64,
) -> Scan {
    let mut res = Resolver::new(&Nss); // group names resolved once per worker
    let mut verdicts: HashMap<u32, Verdict> = HashMap::new(); // one decision per uid
    let mut buf = Vec::with_capacity(4096);
    let mut s = Scan::default();
    for &pid in pids {
        let path = root.join(pid.to_string()).join("status");
        let p = match procfs::read_status(&path, pid, &mut buf) {
            Ok(p) => p,
            Err(ReadError::Vanished) => continue,
            Err(ReadError::Other(reason)) => {
                s.undecided.push(Undecided {
                    pid,
                    uid: None,
                    command: format!("[pid {pid}]"),
                    reason,
                });
                continue;
            }
        };
        match procfs::is_kernel_thread(root, &p, &mut buf) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(ReadError::Vanished) => continue,
            Err(ReadError::Other(reason)) => {
                s.undecided.push(Undecided {
                    pid,
                    uid: Some(p.ruid),
                    command: procfs::cmdline(root, pid, &p.name, &mut buf),
                    reason,
                });
                continue;
            }
        }
        s.processes += 1;
        let lacking = match threads_without_nnp(root, &p, &mut buf, &mut s.threads) {
            Ok(l) => l,
            Err(reason) => {
                s.undecided.push(Undecided {
                    pid,
                    uid: Some(p.ruid),
                    command: procfs::cmdline(root, pid, &p.name, &mut buf),
                    reason,
                });
                continue;
            }
        };
        if lacking.is_empty() {
            continue; // every thread has NNP: fine whatever the rules say
        }
        let v = verdicts
            .entry(p.ruid)
            .or_insert_with(|| verdict(config, &mut res, p.ruid))
            .clone();
        match v {
            Ok(None) => {}
            Ok(Some((user, rule))) => {
                let start = procfs::start_time(root, pid, boot, ticks, &mut buf)
                    .map(procfs::iso8601)
                    .unwrap_or_else(|| "?".to_string());
                let command = procfs::cmdline(root, pid, &p.name, &mut buf);
                let protection = if guarded(guard, &p) { "guard" } else { "none" };
                for tid in lacking {
                    s.findings.push(Finding {
                        protection,
                        pid,
                        tid,
                        user: user.clone(),
                        uid: p.ruid,
                        start: start.clone(),
                        command: command.clone(),
                        rule: rule.clone(),
                    });
                }
            }
            Err(reason) => s.undecided.push(Undecided {
                pid,
                uid: Some(p.ruid),
                command: procfs::cmdline(root, pid, &p.name, &mut buf),
                reason,
            }),
        }
    }
    s
}

pub fn run(path: Option<&Path>, json: bool) -> Result<Report, Failure> {
    let config = crate::load_config(path)?;
    let root = Path::new("/proc");
    let pids =
        procfs::pids(root).map_err(|e| Failure::incomplete(format!("cannot read /proc: {e}")))?;
    let boot = procfs::boot_time(root);
    let ticks = nnp_sys::clock_ticks();
    // Reading /proc is kernel time; spread it over the CPUs.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = pids.len().div_ceil(workers).max(1);
    let guard = current_guard();
    let guard = guard.as_ref();
    let mut total = Scan::default();
    std::thread::scope(|sc| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|part| {
                let config = &config;
                (
                    part,
                    sc.spawn(move || scan(config, guard, root, part, boot, ticks)),
                )
            })
            .collect();
        for (part, h) in handles {
            match h.join() {
                Ok(mut s) => {
                    total.findings.append(&mut s.findings);
                    total.undecided.append(&mut s.undecided);
                    total.processes += s.processes;
                    total.threads += s.threads;
                }
                // A worker that failed decided nothing for its share: say so.
                Err(_) => total.undecided.push(Undecided {
                    pid: part.first().copied().unwrap_or(0),
                    uid: None,
                    command: format!(
                        "[pids {}..{}]",
                        part.first().copied().unwrap_or(0),
                        part.last().copied().unwrap_or(0)
                    ),
                    reason: "internal error: the worker scanning these processes failed"
                        .to_string(),
                }),
            }
        }
    });
    total.findings.sort_by_key(|f| (f.pid, f.tid));
    let (protected, findings): (Vec<Finding>, Vec<Finding>) = total
        .findings
        .drain(..)
        .partition(|f| f.protection == "guard");
    total.findings = findings;
    total.undecided.sort_by_key(|u| u.pid);
    let outcome = if !total.findings.is_empty() {
        Outcome::Problem
    } else if !total.undecided.is_empty() {
        Outcome::Incomplete
    } else {
        Outcome::Fine
    };
    let mut r = Report::new();
    r.outcome = outcome;
    if json {
        let doc = AuditJson {
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
        let n = total.findings.len();
        r.line(format!(
            "{n} thread{} of restricted users without no_new_privs ({counted})",
            if n == 1 { "" } else { "s" }
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
    if outcome == Outcome::Fine {
        r.line(format!(
            "ok: no thread of a restricted user lacks no_new_privs ({counted})"
        ));
    }
    Ok(r)
}
