//! `nnpctl guard load|reload|unload|status|watch` (and `report`, in report.rs): the exec
//! guard's front end. Every answer about whether the guard is in force comes from
//! [`nnp_guard::GuardState`].

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use nnp_guard::{AttachMode, GuardState, Protection};
use serde::Serialize;

use crate::{Error, Outcome, Output};

/// `--mode` of `guard load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadMode {
    /// The first mode that is live: LSM, else kill.
    Auto,
    /// BPF LSM: a refused exec fails with EPERM.
    Lsm,
    /// sched_prepare_exec tracepoint: a refused exec is killed.
    Kill,
}

fn compiled_lines(r: &mut Output, c: &nnp_guard::Compiled) {
    for n in c.table.notes.iter().chain(&c.allow_notes) {
        r.line(format!("note: {n}"));
    }
    for u in &c.table.unresolved {
        r.err.push_str(&format!("nnpctl: degraded: {u}\n"));
    }
    if c.degraded() {
        r.err.push_str("nnpctl: the guard is degraded (wider than the rules) until these names resolve; nnpctl guard watch (nnp-guard-watch.service) retries them and narrows it\n");
    }
}

fn tables(c: &nnp_guard::Compiled) -> String {
    format!(
        "{} rules: {} uids, {} gids, {} uid ranges, {} combined rules{}, {} allowed files",
        c.config.rules.len(),
        c.table.uids.len(),
        c.table.gids.len(),
        c.table.ranges.len(),
        c.table.combo.len(),
        if c.table.star.is_some() {
            ", every user from one rule on"
        } else {
            ""
        },
        c.allow.len(),
    )
}

pub fn load(path: Option<&Path>, mode: LoadMode, replace: bool) -> Result<Output, Error> {
    let want = match mode {
        LoadMode::Auto => None,
        LoadMode::Lsm => Some(AttachMode::Lsm),
        LoadMode::Kill => Some(AttachMode::Kill),
    };
    let (p, explicit) = nnp_config::main_path(path);
    // Replacing keeps the config the loaded guard was loaded from, unless one is named.
    let from_meta = if replace && path.is_none() {
        nnp_guard::Meta::read().map(|m| (m.config, m.explicit))
    } else {
        None
    };
    let (p, explicit) = match &from_meta {
        Some((c, e)) => (c.as_path(), *e),
        None => (p, explicit),
    };
    let (mode, c) = if replace {
        nnp_guard::replace(p, explicit, want)
    } else {
        nnp_guard::load(p, explicit, want)
    }?;
    let mut r = Output::new();
    compiled_lines(&mut r, &c);
    r.line(format!(
        "guard loaded: mode {} ({}), live, pinned at {}",
        mode.as_str(),
        tables(&c),
        nnp_guard::PIN_DIR
    ));
    if mode == AttachMode::Kill {
        r.line("kill mode: a refused exec is killed (SIGKILL) before the new program runs; callers see \"Killed\", not EPERM");
    }
    Ok(r)
}

pub fn reload(path: Option<&Path>) -> Result<Output, Error> {
    let (p, explicit) = nnp_config::main_path(path);
    let c = nnp_guard::reload(p, explicit).map_err(Error::Reload)?;
    let mut r = Output::new();
    compiled_lines(&mut r, &c);
    r.line(format!("guard reloaded: {}", tables(&c)));
    Ok(r)
}

pub fn unload() -> Result<Output, Error> {
    let mut r = Output::new();
    if nnp_guard::unload()? {
        r.line("guard unloaded");
    } else {
        r.line("no guard was loaded");
    }
    Ok(r)
}

/// The model of `guard status`: rendered as text or JSON.
#[derive(Serialize)]
struct StatusModel {
    schema: &'static str,
    /// "in force", "not loaded", "not in force", "cannot tell"
    state: &'static str,
    in_force: bool,
    loaded: bool,
    live: bool,
    current: bool,
    degraded: bool,
    mode: Option<&'static str>,
    /// What a guarded user's privilege-raising exec gets: "degrade", "refuse", "kill"
    action: Option<&'static str>,
    /// `guard_action` in the loaded config
    action_requested: Option<&'static str>,
    /// Why `action` is not `action_requested` (the kernel lacks the hook, kill mode)
    action_fallback: Option<String>,
    /// The kernel has the bprm_no_new_privs hook (guard_action = "degrade" possible)
    degrade_hook: bool,
    reasons: Vec<String>,
    config: Option<String>,
    files: Vec<String>,
    loaded_at: Option<u64>,
    rules: usize,
    uids: usize,
    gids: usize,
    ranges: usize,
    combined: usize,
    allow: usize,
    execs: u64,
    raising: u64,
    refused: u64,
    audited: u64,
    /// Execs run with the caller's privileges instead of raising (guard_action = "degrade");
    /// null: not loaded, or a program without that counter
    degraded_execs: Option<u64>,
    stale: Vec<String>,
    unresolved: Vec<String>,
}

fn status_model(s: &GuardState) -> (StatusModel, Outcome) {
    let (state, reasons, outcome) = match s.protection() {
        Protection::InForce => ("in force", Vec::new(), Outcome::Fine),
        Protection::NotLoaded => (
            "not loaded",
            vec![
                "not loaded (nnpctl guard load, or systemctl enable --now nnp-guard.service)"
                    .to_string(),
            ],
            Outcome::Problem,
        ),
        Protection::NotInForce(why) => ("not in force", why, Outcome::Problem),
        Protection::CannotTell(why) => ("cannot tell", why, Outcome::Incomplete),
    };
    let counts = s.meta.as_ref().map(|m| m.counts).unwrap_or_default();
    (
        StatusModel {
            schema: "nnp.guard-status/2",
            state,
            in_force: outcome == Outcome::Fine,
            loaded: s.loaded,
            live: s.live,
            current: s.loaded && s.meta.is_some() && s.stale.is_empty(),
            degraded: !s.unresolved.is_empty(),
            mode: s.mode.map(AttachMode::as_str),
            action: s.action.map(nnp_guard::Action::as_str),
            action_requested: s.requested.map(nnp_guard::GuardAction::as_str),
            action_fallback: s.action_fallback(),
            degrade_hook: s.hook,
            reasons,
            config: s.meta.as_ref().map(|m| m.config.display().to_string()),
            files: s
                .meta
                .as_ref()
                .map(|m| m.files.iter().map(|f| f.0.display().to_string()).collect())
                .unwrap_or_default(),
            loaded_at: s.meta.as_ref().map(|m| m.loaded_at),
            rules: counts[0],
            uids: counts[1],
            gids: counts[2],
            ranges: counts[3],
            combined: counts[4],
            allow: counts[5],
            execs: s.counters[0],
            raising: s.counters[1],
            refused: s.counters[2],
            audited: s.counters[3],
            degraded_execs: s.degraded_execs,
            stale: s.stale.clone(),
            unresolved: s.unresolved.clone(),
        },
        outcome,
    )
}

pub fn status(json: bool) -> Result<Output, Error> {
    let (m, outcome) = status_model(&GuardState::read());
    render_status(&m, outcome, json)
}

fn render_status(m: &StatusModel, outcome: Outcome, json: bool) -> Result<Output, Error> {
    let mut r = Output::new();
    r.outcome = outcome;
    if json {
        r.line(serde_json::to_string_pretty(m)?);
        return Ok(r);
    }
    r.line(format!(
        "guard: {}{}",
        m.state,
        m.mode.map(|x| format!(", mode {x}")).unwrap_or_default()
    ));
    for why in &m.reasons {
        r.line(format!("  {why}"));
    }
    if !m.loaded {
        return Ok(r);
    }
    if let Some(a) = s_action(m) {
        r.line(a);
    }
    if let Some(f) = &m.action_fallback {
        r.line(format!("  {f}"));
    }
    if let Some(c) = &m.config {
        r.line(format!("config: {c} ({} files)", m.files.len()));
        for f in &m.files {
            r.line(format!("  {f}"));
        }
    }
    if let Some(t) = m.loaded_at {
        r.line(format!("loaded at: {}", crate::procfs::iso8601(t)));
    }
    r.line(format!(
        "tables: {} rules, {} uids, {} gids, {} uid ranges, {} combined rules, {} allowed files",
        m.rules, m.uids, m.gids, m.ranges, m.combined, m.allow
    ));
    r.line(format!(
        "counters: {} execs seen, {} raising privileges, {} refused, {} audited{}",
        m.execs,
        m.raising,
        m.refused,
        m.audited,
        m.degraded_execs
            .map(|d| format!(", {d} run with the caller's privileges (degrade)"))
            .unwrap_or_default()
    ));
    Ok(r)
}

/// "action: degrade (a guarded user's privilege-raising exec runs with ...)".
fn s_action(m: &StatusModel) -> Option<String> {
    let a = nnp_guard::Action::parse(m.action?)?;
    Some(format!(
        "action: {} (a guarded user's privilege-raising exec {})",
        a.as_str(),
        a.describe()
    ))
}

/// Seconds since boot (CLOCK_BOOTTIME as /proc/uptime shows it).
fn uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[derive(Serialize)]
struct WatchEvent<'a> {
    schema: &'static str,
    time: String,
    pid: u32,
    uid: u32,
    user: String,
    comm: &'a str,
    file: &'a str,
    rule: String,
    action: &'a str,
}

pub fn watch(json: bool, retry: u64) -> Result<Outcome, Error> {
    // The rule names of the policy loaded now (watch's own refinements and the admin's
    // reloads can change them while it runs).
    let rule_name = |i: usize| -> String {
        if i == 0 {
            return "(groups that could not all be read)".to_string();
        }
        nnp_guard::Meta::read()
            .and_then(|m| m.rules.get(i.wrapping_sub(1)).cloned())
            .unwrap_or_else(|| format!("rule #{i}"))
    };
    let mut out = std::io::stdout();
    // journald's native protocol where journald runs (fields a query can select), else syslog
    let log = crate::journal::Logger::detect();
    let refine = nnp_guard::Refine {
        retry: Duration::from_secs(retry),
        allow_check: Duration::from_secs(5),
    };
    nnp_guard::watch(
        refine,
        |e| {
            let user = nnp_sys::getpw(nnp_sys::PwKey::Uid(e.uid))
                .ok()
                .flatten()
                .map(|p| nnp_config::escape_value(&p.name))
                .unwrap_or_else(|| format!("#{}", e.uid));
            let rule = rule_name(e.rule);
            let line = format!(
                "{}: pid {} uid {} ({user}) {} {} by rule {rule} ({})",
                e.action, e.pid, e.uid, e.comm, e.file, e.time_ns
            );
            let (kind, action) = match e.action {
                "refused" => (crate::journal::EventKind::Refused, "refused"),
                "killed" => (crate::journal::EventKind::Killed, "killed"),
                _ => (crate::journal::EventKind::WouldRefuse, "would-refuse"),
            };
            let (pid, uid) = (e.pid.to_string(), e.uid.to_string());
            log.log(
                kind,
                &line,
                &[
                    ("NNP_USER", &user),
                    ("NNP_UID", &uid),
                    ("NNP_RULE", &rule),
                    ("NNP_FILE", &e.file),
                    ("NNP_ACTION", action),
                    ("NNP_PID", &pid),
                    ("NNP_COMM", &e.comm),
                ],
            );
            if log.stdout_is_journal && !json {
                return true; // the journal entry above is this line
            }
            let text = if json {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                let ago = uptime().map_or(0.0, |u| (u - e.time_ns as f64 / 1e9).max(0.0));
                let ev = WatchEvent {
                    schema: "nnp.watch/1",
                    time: crate::procfs::iso8601((now - ago).max(0.0) as u64),
                    pid: e.pid,
                    uid: e.uid,
                    user,
                    comm: &e.comm,
                    file: &e.file,
                    rule,
                    action,
                };
                match serde_json::to_string(&ev) {
                    Ok(s) => s,
                    Err(_) => return true,
                }
            } else {
                line
            };
            writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
        },
        |r| {
            let kind = if r.is_ok() {
                crate::journal::EventKind::Refined
            } else {
                crate::journal::EventKind::RefineFailed
            };
            let msg = match r {
                Ok(r) => format!(
                    "guard refined: {}{}",
                    r.why,
                    if r.still_degraded {
                        " (still degraded)"
                    } else {
                        " (complete)"
                    }
                ),
                Err(e) => format!("guard refinement failed: {e}"),
            };
            log.log(kind, &msg, &[]);
            let _ = writeln!(std::io::stderr(), "nnpctl: {msg}");
        },
    )?;
    Ok(Outcome::Fine)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A loaded guard whose program ran for the test exec: in force unless a field below
    /// says otherwise.
    fn loaded_live() -> GuardState {
        GuardState {
            loaded: true,
            live: true,
            mode: Some(AttachMode::Lsm),
            counters: [10, 4, 3, 1],
            ..GuardState::default()
        }
    }

    fn state_of(s: &GuardState) -> (&'static str, bool, Vec<String>, u8) {
        let (m, outcome) = status_model(s);
        assert_eq!(m.schema, "nnp.guard-status/2");
        assert_eq!(m.in_force, outcome == Outcome::Fine);
        (m.state, m.in_force, m.reasons, outcome.code())
    }

    #[test]
    fn not_loaded_is_a_problem() {
        let (state, in_force, reasons, code) = state_of(&GuardState::default());
        assert_eq!((state, in_force, code), ("not loaded", false, 1));
        assert!(reasons[0].contains("nnpctl guard load"));
        let (m, outcome) = status_model(&GuardState::default());
        let r = render_status(&m, outcome, false).unwrap();
        // Nothing but the state and why: no tables or counters of a guard that is not there.
        assert_eq!(
            r.out,
            "guard: not loaded\n  not loaded (nnpctl guard load, or systemctl enable --now nnp-guard.service)\n"
        );
        assert_eq!(r.outcome, Outcome::Problem);
    }

    #[test]
    fn loaded_live_current_complete_is_in_force() {
        let s = loaded_live();
        assert_eq!(state_of(&s), ("in force", true, Vec::new(), 0));
        let (m, _) = status_model(&s);
        assert!(m.loaded && m.live && !m.degraded);
        assert_eq!(m.mode, Some("lsm"));
        assert_eq!((m.execs, m.raising, m.refused, m.audited), (10, 4, 3, 1));
        // Without metadata nothing shows the loaded policy matches the files.
        assert!(!m.current);
    }

    #[test]
    fn not_live_stale_or_degraded_is_not_in_force() {
        let mut s = loaded_live();
        s.live = false;
        s.not_live = Some("no exec counted".into());
        let (state, in_force, reasons, code) = state_of(&s);
        assert_eq!((state, in_force, code), ("not in force", false, 1));
        assert_eq!(reasons, ["not live: no exec counted"]);

        let mut s = loaded_live();
        s.stale = vec!["/etc/security/nnp.toml changed".into()];
        let (state, _, reasons, code) = state_of(&s);
        assert_eq!((state, code), ("not in force", 1));
        assert!(reasons[0].starts_with("stale: /etc/security/nnp.toml changed"));
        assert!(!status_model(&s).0.current);

        let mut s = loaded_live();
        s.unresolved = vec!["group \"staff\"".into()];
        let (state, _, reasons, code) = state_of(&s);
        assert_eq!((state, code), ("not in force", 1));
        assert_eq!(reasons, ["degraded: group \"staff\""]);
        assert!(status_model(&s).0.degraded);
    }

    #[test]
    fn what_cannot_be_read_is_cannot_tell_exit_3() {
        let mut s = loaded_live();
        s.cannot_tell = vec!["/sys/fs/bpf/nnp: permission denied".into()];
        let (state, in_force, reasons, code) = state_of(&s);
        assert_eq!((state, in_force, code), ("cannot tell", false, 3));
        assert_eq!(reasons, ["/sys/fs/bpf/nnp: permission denied"]);
        // Loaded but liveness not proven either way: cannot tell, never "in force".
        let mut s = loaded_live();
        s.live = false;
        assert_eq!(state_of(&s).3, 3);
    }

    #[test]
    fn text_and_json_render_the_same_model() {
        let (m, outcome) = status_model(&loaded_live());
        let text = render_status(&m, outcome, false).unwrap();
        assert!(text.out.starts_with("guard: in force, mode lsm\n"));
        assert!(text
            .out
            .contains("counters: 10 execs seen, 4 raising privileges, 3 refused, 1 audited\n"));
        let json = render_status(&m, outcome, true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json.out).unwrap();
        assert_eq!(v["state"], "in force");
        assert_eq!(v["in_force"], true);
        assert_eq!(v["mode"], "lsm");
        assert_eq!(v["refused"], 3);
        assert_eq!(v["degraded_execs"], serde_json::Value::Null);
        assert_eq!(json.outcome, text.outcome);
    }

    #[test]
    fn degraded_execs_are_shown_when_the_program_counts_them() {
        let mut s = loaded_live();
        s.degraded_execs = Some(5);
        let (m, outcome) = status_model(&s);
        let text = render_status(&m, outcome, false).unwrap();
        assert!(text.out.contains(
            "counters: 10 execs seen, 4 raising privileges, 3 refused, 1 audited, 5 run with the caller's privileges (degrade)\n"
        ));
        let json = render_status(&m, outcome, true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json.out).unwrap();
        assert_eq!(v["degraded_execs"], 5);
    }
}
