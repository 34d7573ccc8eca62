//! `nnpctl guard report`: from the counters the guard keeps per (rule, uid, file), who ran
//! which privilege-raising file under which rule, refused (or killed) or — audit mode —
//! would have been, how often and when last: the "what breaks if I enforce" view. One
//! model ([`ReportModel`]), rendered as text or JSON (schema `nnp.guard-report/1`).

use std::collections::BTreeMap;

use nnp_guard::{Meta, ReportEntry};
use serde::Serialize;

use crate::{plural, Error, Outcome, Output};

/// The rule name of entries counted while some group of the process could not be read.
pub const UNREAD_GROUPS: &str = "(groups that could not all be read)";

/// A rule's `FILE:LINE` from the loaded guard's metadata (index 1-based; 0: unread groups).
pub fn rule_name(meta: Option<&Meta>, index: usize) -> String {
    if index == 0 {
        return UNREAD_GROUPS.to_string();
    }
    meta.and_then(|m| m.rules.get(index - 1).cloned())
        .unwrap_or_else(|| format!("rule #{index}"))
}

/// Seconds since the epoch of a CLOCK_BOOTTIME timestamp, given the boot time in the same
/// seconds (`now - uptime`).
pub fn wall_time(boot_ns: u64, booted_at: f64) -> f64 {
    (booted_at + boot_ns as f64 / 1e9).max(0.0)
}

/// When the machine booted, in seconds since the epoch (now minus /proc/uptime).
pub fn booted_at() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    now - up
}

/// One line of the report: a (rule, user, file, action) and how often.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// The deciding rule, `FILE:LINE`.
    pub rule: String,
    /// Its 1-based index among the loaded rules (0: groups that could not all be read).
    pub rule_index: usize,
    /// Real uid.
    pub uid: u32,
    /// Its user name (escaped), or `#UID`.
    pub user: String,
    /// The file, as it was run (escaped).
    pub file: String,
    /// "refused", "killed" or "would-refuse".
    pub action: &'static str,
    /// Execs counted.
    pub count: u64,
    /// The last one, RFC 3339 (UTC).
    pub last: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportModel {
    /// `nnp.guard-report/1`.
    pub schema: &'static str,
    /// Is a guard loaded?
    pub loaded: bool,
    /// The config the loaded guard was compiled from.
    pub config: Option<String>,
    /// When it was loaded or last reloaded (RFC 3339).
    pub since: Option<String>,
    /// The action in force when loaded or reloaded: "degrade" (not counted here: those execs
    /// run with the caller's privileges), "refuse" or "kill".
    pub action: Option<&'static str>,
    /// The rows, by rule, user, file, action.
    pub entries: Vec<ReportRow>,
    /// Execs refused or killed, over every row.
    pub refused: u64,
    /// Execs that would be refused (audit mode), over every row.
    pub would_refuse: u64,
}

/// Build the model from the map's entries (rows with the same rule, user, file and action
/// merged: a file replaced in place keeps its path), resolving user names with `user`.
pub fn model(
    meta: Option<&Meta>,
    entries: &[ReportEntry],
    booted_at: f64,
    mut user: impl FnMut(u32) -> String,
) -> ReportModel {
    let mut rows: BTreeMap<(usize, u32, String, &'static str), (u64, u64)> = BTreeMap::new();
    for e in entries {
        let r = rows
            .entry((e.rule, e.uid, e.file.clone(), e.action))
            .or_insert((0, 0));
        r.0 += e.count;
        r.1 = r.1.max(e.last_ns);
    }
    let mut m = ReportModel {
        schema: "nnp.guard-report/1",
        loaded: true,
        config: meta.map(|m| m.config.display().to_string()),
        since: meta.map(|m| crate::procfs::iso8601(m.loaded_at)),
        action: meta.map(|m| m.action.as_str()),
        entries: Vec::new(),
        refused: 0,
        would_refuse: 0,
    };
    for ((rule, uid, file, action), (count, last)) in rows {
        if action == "would-refuse" {
            m.would_refuse += count;
        } else {
            m.refused += count;
        }
        m.entries.push(ReportRow {
            rule: rule_name(meta, rule),
            rule_index: rule,
            uid,
            user: user(uid),
            file,
            action,
            count,
            last: crate::procfs::iso8601(wall_time(last, booted_at) as u64),
        });
    }
    m
}

/// The user name of a uid, escaped, or `#UID`.
pub fn user_name(uid: u32) -> String {
    nnp_sys::getpw(nnp_sys::PwKey::Uid(uid))
        .ok()
        .flatten()
        .map(|p| nnp_config::escape_value(&p.name))
        .unwrap_or_else(|| format!("#{uid}"))
}

/// The text rendering.
pub fn render_text(m: &ReportModel) -> String {
    let mut out = String::new();
    if !m.loaded {
        out.push_str("guard: not loaded: no report (nnpctl guard load)\n");
        return out;
    }
    if let (Some(c), Some(s)) = (&m.config, &m.since) {
        out.push_str(&format!("guard report: rules of {c}, counted since {s}\n"));
    }
    // the action in force, always: what the rows below count depends on it
    match m.action {
        Some("degrade") => out.push_str("action degrade: guarded privilege-raising execs run with the caller's privileges and are not counted here (what still raises is refused and counted)\n"),
        Some(a) => {
            let what = nnp_guard::Action::parse(a).map_or("", nnp_guard::Action::describe);
            out.push_str(&format!(
                "action {a}: a guarded privilege-raising exec {what} and is counted here\n"
            ));
        }
        None => {}
    }
    if m.entries.is_empty() {
        out.push_str("no privilege-raising exec was refused or would have been refused\n");
        return out;
    }
    let user_w = m
        .entries
        .iter()
        .map(|r| r.user.chars().count() + r.uid.to_string().len() + 3)
        .max()
        .unwrap_or(0)
        .max(10);
    let rule_w = m
        .entries
        .iter()
        .map(|r| r.rule.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    out.push_str(&format!(
        "{:<rule_w$}  {:<user_w$}  {:<12}  {:>7}  {:<20}  FILE\n",
        "RULE", "USER (UID)", "ACTION", "COUNT", "LAST"
    ));
    for r in &m.entries {
        out.push_str(&format!(
            "{:<rule_w$}  {:<user_w$}  {:<12}  {:>7}  {:<20}  {}\n",
            r.rule,
            format!("{} ({})", r.user, r.uid),
            r.action,
            r.count,
            r.last,
            r.file
        ));
    }
    if m.would_refuse > 0 {
        out.push_str(&format!(
            "{} would be refused once these rules are enforced\n",
            plural(m.would_refuse, "exec")
        ));
    }
    if m.refused > 0 {
        out.push_str(&format!(
            "{} refused or killed\n",
            plural(m.refused, "exec")
        ));
    }
    out
}

/// `nnpctl guard report [--json]`: exit 0 with the report, 1 when no guard is loaded, 3 when
/// the loaded guard's report cannot be read.
pub fn run(json: bool) -> Result<Output, Error> {
    let mut r = Output::new();
    let m = if nnp_guard::is_loaded() {
        let meta = Meta::read();
        let entries = nnp_guard::read_report()?;
        model(meta.as_ref(), &entries, booted_at(), user_name)
    } else {
        r.outcome = Outcome::Problem;
        ReportModel {
            schema: "nnp.guard-report/1",
            loaded: false,
            config: None,
            since: None,
            action: None,
            entries: Vec::new(),
            refused: 0,
            would_refuse: 0,
        }
    };
    if json {
        r.line(serde_json::to_string_pretty(&m)?);
    } else {
        r.out.push_str(&render_text(&m));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nnp_guard::FileKey;

    fn entry(rule: usize, uid: u32, file: &str, action: &'static str, count: u64) -> ReportEntry {
        ReportEntry {
            rule,
            uid,
            file_key: FileKey {
                dev: 1,
                ino: count,
                ctime_sec: 0,
                ctime_nsec: 0,
                generation: 0,
            },
            file: file.to_string(),
            count,
            last_ns: count * 1_000_000_000,
            action,
        }
    }

    fn meta() -> Meta {
        Meta::parse(
            "mode kill\nconfig /etc/security/nnp.toml\nexplicit 0\nloaded_at 0\ncounts 2 0 0 0 0 0 0\nrule /etc/security/nnp.toml:3\nrule /etc/security/nnp.d/10.toml:1\n",
        )
        .unwrap()
    }

    #[test]
    fn rows_merge_by_rule_user_file_action_and_name_rules() {
        let m = meta();
        let entries = [
            entry(2, 61001, "/usr/bin/sudo", "would-refuse", 2),
            entry(2, 61001, "/usr/bin/sudo", "would-refuse", 3), // the file replaced in place
            entry(1, 61002, "/usr/bin/su", "killed", 1),
            entry(0, 61003, "/usr/bin/ping", "refused", 4),
        ];
        let model = model(Some(&m), &entries, 1_000_000_000.0, |u| format!("u{u}"));
        assert_eq!(model.schema, "nnp.guard-report/1");
        assert_eq!(model.entries.len(), 3);
        assert_eq!(model.entries[0].rule, UNREAD_GROUPS);
        assert_eq!(model.entries[1].rule, "/etc/security/nnp.toml:3");
        assert_eq!(model.entries[1].action, "killed");
        let sudo = &model.entries[2];
        assert_eq!(sudo.rule, "/etc/security/nnp.d/10.toml:1");
        assert_eq!((sudo.count, sudo.user.as_str()), (5, "u61001"));
        assert_eq!(sudo.last, "2001-09-09T01:46:43Z");
        assert_eq!((model.refused, model.would_refuse), (5, 5));
        let text = render_text(&model);
        assert!(text.contains("5 execs would be refused once these rules are enforced"));
        assert!(text.lines().any(
            |l| l.starts_with("/etc/security/nnp.d/10.toml:1") && l.ends_with("/usr/bin/sudo")
        ));
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(json["entries"][2]["action"], "would-refuse");
        assert_eq!(json["entries"][2]["rule_index"], 2);
    }

    #[test]
    fn an_index_beyond_the_metadata_is_named_by_number() {
        assert_eq!(rule_name(None, 4), "rule #4");
        assert_eq!(rule_name(Some(&meta()), 3), "rule #3");
    }

    #[test]
    fn the_text_names_the_action_in_force_whatever_it_is() {
        let mut m = model(Some(&meta()), &[], 0.0, |u| u.to_string());
        for (action, line) in [
            ("refuse", "action refuse: a guarded privilege-raising exec fails with EPERM and is counted here"),
            ("kill", "action kill: a guarded privilege-raising exec is killed before the new image runs and is counted here"),
        ] {
            m.action = Some(action);
            let text = render_text(&m);
            assert!(text.lines().any(|l| l == line), "{action}: {text}");
        }
        m.action = Some("degrade");
        assert!(render_text(&m).contains(
            "action degrade: guarded privilege-raising execs run with the caller's privileges"
        ));
        m.action = None;
        assert!(!render_text(&m).contains("action "));
    }

    #[test]
    fn empty_and_unloaded_reports_say_so() {
        let model = model(Some(&meta()), &[], 0.0, |u| u.to_string());
        assert!(render_text(&model).contains("no privilege-raising exec was refused"));
        let mut unloaded = model.clone();
        unloaded.loaded = false;
        assert!(render_text(&unloaded).starts_with("guard: not loaded"));
    }
}
