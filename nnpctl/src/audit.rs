//! `nnpctl audit`: processes of restricted users (an `nnp = true` rule in enforce mode
//! matches their owner, for any service) that lack NoNewPrivs.

use std::collections::HashMap;
use std::path::Path;

use nnp_config::{sys, Subject};
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

pub fn run(path: &Path, json: bool) -> Result<Outcome, Failure> {
    let config = nnp_config::load(path)?;
    let root = Path::new("/proc");
    let pids = procfs::pids(root).map_err(|e| Failure(format!("cannot read /proc: {e}")))?;
    let boot = procfs::boot_time(root);
    let ticks = sys::clock_ticks();
    // One NSS lookup and one decision per uid, not per process.
    let mut verdicts: HashMap<u32, Option<(String, String)>> = HashMap::new();
    let mut findings = Vec::new();
    let mut checked = 0usize;
    for pid in pids {
        let Some(p) = procfs::read(root, pid) else {
            continue; // vanished
        };
        if p.kernel_thread {
            continue;
        }
        checked += 1;
        let verdict = verdicts.entry(p.ruid).or_insert_with(|| {
            let (name, groups) = match sys::account_by_uid(p.ruid) {
                Ok(a) => (a.name, a.groups),
                Err(_) => (format!("#{}", p.ruid), Vec::new()),
            };
            let subject = Subject {
                user: &name,
                uid: p.ruid,
                groups: &groups,
            };
            let rule = config
                .restricted_for_any_service(&subject)
                .and_then(|d| d.rule)
                .map(|r| r.at.to_string());
            rule.map(|r| (name.clone(), r))
        });
        let Some((user, rule)) = verdict else {
            continue;
        };
        if p.nnp == Some(true) {
            continue;
        }
        let start = procfs::start_time(root, pid, boot, ticks)
            .map(procfs::iso8601)
            .unwrap_or_else(|| "?".to_string());
        findings.push(Finding {
            pid,
            user: user.clone(),
            uid: p.ruid,
            start,
            command: procfs::cmdline(root, pid, &p.name),
            rule: rule.clone(),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else if findings.is_empty() {
        println!(
            "ok: no process of a restricted user lacks no_new_privs ({checked} processes checked)"
        );
    } else {
        println!("{:>7}  {:<12} {:<20}  COMMAND", "PID", "USER", "START");
        for f in &findings {
            println!(
                "{:>7}  {:<12} {:<20}  {}",
                f.pid, f.user, f.start, f.command
            );
        }
        println!(
            "{} process{} of restricted users without no_new_privs ({checked} processes checked)",
            findings.len(),
            if findings.len() == 1 { "" } else { "es" }
        );
    }
    Ok(if findings.is_empty() {
        Outcome::Fine
    } else {
        Outcome::Problem
    })
}
