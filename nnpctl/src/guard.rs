//! `nnpctl guard load|reload|unload|status|watch`: the exec guard's front end.

use std::io::Write;
use std::path::Path;

use nnp_guard::{GuardError, Meta, Mode};
use serde::Serialize;

use crate::{Failure, Outcome, Report};

fn config_path(path: Option<&Path>) -> (&Path, bool) {
    match path {
        Some(p) => (p, true),
        None => (Path::new(nnp_config::DEFAULT_CONFIG), false),
    }
}

fn fail(e: GuardError) -> Failure {
    match e {
        GuardError::Config(m) => Failure {
            msg: m,
            outcome: Outcome::Problem,
        },
        GuardError::System(m) => Failure::incomplete(m),
    }
}

pub fn load(path: Option<&Path>, mode: &str) -> Result<Report, Failure> {
    let want = match mode {
        "auto" => None,
        m => Some(Mode::parse(m).ok_or_else(|| Failure {
            msg: format!(
                "unknown mode \"{}\" (expected auto, lsm or kill)",
                m.escape_debug()
            ),
            outcome: Outcome::Incomplete,
        })?),
    };
    let (p, explicit) = config_path(path);
    let c = nnp_guard::compile(p, explicit).map_err(fail)?;
    let mode = nnp_guard::load(&c, want, p).map_err(fail)?;
    let mut r = Report::new();
    for n in &c.table.notes {
        r.line(format!("note: {n}"));
    }
    r.line(format!(
        "guard loaded: mode {} ({} rules: {} uids, {} gids, {} uid ranges{}, {} allowed files), pinned at {}",
        mode.as_str(),
        c.config.rules.len(),
        c.table.uids.len(),
        c.table.gids.len(),
        c.table.ranges.len(),
        if c.table.star.is_some() { ", users = \"*\"" } else { "" },
        c.allow.len(),
        nnp_guard::PIN_DIR
    ));
    if mode == Mode::Kill {
        r.line("kill mode: a refused exec is killed (SIGKILL) before the new program runs; callers see \"Killed\", not EPERM");
    }
    Ok(r)
}

pub fn reload(path: Option<&Path>) -> Result<Report, Failure> {
    let (p, explicit) = config_path(path);
    let c = nnp_guard::compile(p, explicit).map_err(|e| {
        let mut f = fail(e);
        f.msg = format!("{}; the loaded guard is unchanged", f.msg);
        f
    })?;
    nnp_guard::reload(&c, p).map_err(fail)?;
    let mut r = Report::new();
    r.line(format!(
        "guard reloaded: {} rules ({} uids, {} gids, {} uid ranges, {} allowed files)",
        c.config.rules.len(),
        c.table.uids.len(),
        c.table.gids.len(),
        c.table.ranges.len(),
        c.allow.len()
    ));
    Ok(r)
}

pub fn unload() -> Report {
    let mut r = Report::new();
    if nnp_guard::unload() {
        r.line("guard unloaded");
    } else {
        r.line("no guard was loaded");
    }
    r
}

#[derive(Serialize)]
struct StatusJson {
    loaded: bool,
    mode: Option<&'static str>,
    config: Option<String>,
    files: Vec<String>,
    loaded_at: Option<u64>,
    rules: usize,
    uids: usize,
    gids: usize,
    ranges: usize,
    allow: usize,
    execs: u64,
    raising: u64,
    refused: u64,
    audited: u64,
    stale: Vec<String>,
}

/// The config files the loaded guard came from, now: to tell whether it is stale.
fn files_now(meta: &Meta) -> Vec<std::path::PathBuf> {
    nnp_config::load(&meta.config)
        .map(|c| c.files)
        .unwrap_or_default()
}

pub fn status(json: bool) -> Result<Report, Failure> {
    let mut r = Report::new();
    let loaded = nnp_guard::is_loaded();
    let meta = if loaded { Meta::read() } else { None };
    let counters = if loaded {
        nnp_guard::counters().map_err(fail)?
    } else {
        [0; 4]
    };
    let stale = meta
        .as_ref()
        .map(|m| m.stale(&files_now(m)))
        .unwrap_or_default();
    if loaded && meta.is_none() {
        r.err
            .push_str("nnpctl: the guard is pinned but /run/nnp/guard.meta is missing\n");
        r.outcome = Outcome::Incomplete;
    }
    if !stale.is_empty() {
        r.outcome = Outcome::Problem;
    }
    let counts = meta.as_ref().map(|m| m.counts).unwrap_or_default();
    if json {
        let doc = StatusJson {
            loaded,
            mode: meta.as_ref().map(|m| m.mode.as_str()),
            config: meta.as_ref().map(|m| m.config.display().to_string()),
            files: meta
                .as_ref()
                .map(|m| m.files.iter().map(|f| f.0.display().to_string()).collect())
                .unwrap_or_default(),
            loaded_at: meta.as_ref().map(|m| m.loaded_at),
            rules: counts[0],
            uids: counts[1],
            gids: counts[2],
            ranges: counts[3],
            allow: counts[4],
            execs: counters[0],
            raising: counters[1],
            refused: counters[2],
            audited: counters[3],
            stale: stale.clone(),
        };
        r.line(serde_json::to_string_pretty(&doc)?);
        return Ok(r);
    }
    if !loaded {
        r.line("guard: not loaded");
        return Ok(r);
    }
    if let Some(m) = &meta {
        r.line(format!("guard: loaded, mode {}", m.mode.as_str()));
        r.line(format!(
            "config: {} ({} files)",
            m.config.display(),
            m.files.len()
        ));
        for (f, _) in &m.files {
            r.line(format!("  {}", f.display()));
        }
        r.line(format!(
            "loaded at: {}",
            crate::procfs::iso8601(m.loaded_at)
        ));
        r.line(format!(
            "tables: {} rules, {} uids, {} gids, {} uid ranges, {} allowed files{}",
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4],
            if counts[5] > 0 { ", users = \"*\"" } else { "" }
        ));
    }
    r.line(format!(
        "counters: {} execs seen, {} raising privileges, {} refused, {} audited",
        counters[0], counters[1], counters[2], counters[3]
    ));
    for s in &stale {
        r.line(format!(
            "stale: {s} since the guard was loaded: run nnpctl guard reload"
        ));
    }
    Ok(r)
}

pub fn watch() -> Result<Outcome, Failure> {
    let meta = Meta::read();
    let rule_name = |i: usize| -> String {
        meta.as_ref()
            .and_then(|m| m.rules.get(i.wrapping_sub(1)).cloned())
            .unwrap_or_else(|| format!("rule #{i}"))
    };
    let mut out = std::io::stdout();
    let mut closed = false;
    nnp_guard::watch(|e| {
        let user = nnp_sys::getpw(nnp_sys::PwKey::Uid(e.uid))
            .ok()
            .flatten()
            .map(|p| nnp_config::escape(&p.name))
            .unwrap_or_else(|| format!("#{}", e.uid));
        let line = format!(
            "{}: pid {} uid {} ({user}) {} {} by rule {} ({})",
            e.action,
            e.pid,
            e.uid,
            e.comm,
            e.file,
            rule_name(e.rule),
            e.time_ns
        );
        nnp_sys::syslog_authpriv(c"nnp-guard", e.action != "audit: would refuse", &line);
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            closed = true;
            return false;
        }
        true
    })
    .map_err(fail)?;
    let _ = closed;
    Ok(Outcome::Fine)
}
