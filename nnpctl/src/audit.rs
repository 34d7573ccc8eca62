//! `nnpctl audit`: processes of restricted users (an `nnp = true` rule in enforce mode
//! matches their owner, for any service) that lack NoNewPrivs.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use nnp_config::{sys, Config, Subject};
use serde::Serialize;

use crate::procfs;
use crate::{Failure, Outcome};

#[derive(Serialize)]
struct Finding {
    pid: u32,
    user: String,
    uid: u32,
    start: String,
    command: String,
    rule: String,
}

/// For a real uid: `Some((user name, deciding rule))` if the uid is restricted.
type Verdicts = HashMap<u32, Option<(String, String)>>;

fn verdict(config: &Config, uid: u32) -> Option<(String, String)> {
    let (name, groups) = match sys::lookup_uid(uid, config.uses_groups()) {
        Ok(a) => (a.name, a.groups),
        Err(_) => (format!("#{uid}"), Vec::new()),
    };
    let subject = Subject {
        user: &name,
        uid,
        groups: &groups,
    };
    let rule = config
        .restricted_for_any_service(&subject)
        .and_then(|d| d.rule)
        .map(|r| r.at.to_string());
    rule.map(|r| (name, r))
}

/// Scan some pids; returns the findings and how many processes were checked.
fn scan(
    config: &Config,
    root: &Path,
    pids: &[u32],
    boot: u64,
    ticks: u64,
) -> (Vec<Finding>, usize) {
    let mut verdicts = Verdicts::new(); // one NSS lookup and decision per uid, not per process
    let mut buf = Vec::with_capacity(4096);
    let mut findings = Vec::new();
    let mut checked = 0;
    for &pid in pids {
        let Some(p) = procfs::read(root, pid, &mut buf) else {
            continue; // vanished during the scan
        };
        if p.kernel_thread {
            continue;
        }
        checked += 1;
        let verdict = verdicts
            .entry(p.ruid)
            .or_insert_with(|| verdict(config, p.ruid));
        let Some((user, rule)) = verdict else {
            continue;
        };
        if p.nnp == Some(true) {
            continue;
        }
        let start = procfs::start_time(root, pid, boot, ticks, &mut buf)
            .map(procfs::iso8601)
            .unwrap_or_else(|| "?".to_string());
        findings.push(Finding {
            pid,
            user: user.clone(),
            uid: p.ruid,
            start,
            command: procfs::cmdline(root, pid, &p.name, &mut buf),
            rule: rule.clone(),
        });
    }
    (findings, checked)
}

pub fn run(path: &Path, json: bool) -> Result<Outcome, Failure> {
    let config = nnp_config::load(path)?;
    let root = Path::new("/proc");
    let pids = procfs::pids(root).map_err(|e| Failure(format!("cannot read /proc: {e}")))?;
    let boot = procfs::boot_time(root);
    let ticks = sys::clock_ticks();
    // Reading /proc/PID/status is kernel time; spread it over the CPUs.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = pids.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<Finding>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|part| {
                let config = &config;
                s.spawn(move || scan(config, root, part, boot, ticks))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let checked: usize = results.iter().map(|r| r.1).sum();
    let mut findings: Vec<Finding> = results.into_iter().flat_map(|r| r.0).collect();
    findings.sort_by_key(|f| f.pid);

    // One buffered writer: a busy host can list thousands of lines.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &findings)?;
        writeln!(out)?;
    } else if findings.is_empty() {
        writeln!(
            out,
            "ok: no process of a restricted user lacks no_new_privs ({checked} processes checked)"
        )?;
    } else {
        writeln!(out, "{:>7}  {:<12} {:<20}  COMMAND", "PID", "USER", "START")?;
        for f in &findings {
            writeln!(
                out,
                "{:>7}  {:<12} {:<20}  {}",
                f.pid, f.user, f.start, f.command
            )?;
        }
        let n = findings.len();
        writeln!(
            out,
            "{n} process{} of restricted users without no_new_privs ({checked} processes checked)",
            if n == 1 { "" } else { "es" }
        )?;
    }
    out.flush()?;
    Ok(if findings.is_empty() {
        Outcome::Fine
    } else {
        Outcome::Problem
    })
}
