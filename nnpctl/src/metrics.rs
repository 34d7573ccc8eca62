//! `nnpctl metrics [--output FILE]`: the state of nnp on this host in Prometheus' text
//! exposition format, for node_exporter's textfile collector: the config, the exec guard
//! (from [`nnp_guard::GuardState`], the one answer to "is it in force"), refusals and
//! would-refusals by rule (from the guard's per-rule counters, which nothing evicts: true
//! counters while the guard stays loaded), the audit's findings (the scan of
//! `nnpctl audit`) and when this ran. With `--output`, written to a temporary file in the
//! same directory and renamed over FILE, so the collector never reads half a file.
//!
//! Problems are reported as values (`nnp_config_valid 0`, `nnp_guard_live 0`...), not as
//! the exit status: the timer's service fails only when the file cannot be written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::{Error, Output};

/// The guard's part of the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardMetrics {
    /// A guard is pinned.
    pub loaded: bool,
    /// Its program runs.
    pub live: bool,
    /// Its rules are those of the files on disk.
    pub current: bool,
    /// Wider than the rules until names resolve.
    pub degraded: bool,
    /// Loaded, live, current and complete.
    pub in_force: bool,
    /// "lsm" or "kill".
    pub mode: Option<&'static str>,
    /// What a caught exec gets: "degrade", "refuse" or "kill" (guard_action as the kernel
    /// allows it).
    pub action: Option<&'static str>,
    /// The program's counters (execs seen, raising, refused, audited), when loaded.
    pub counters: Option<[u64; 4]>,
    /// Execs run with the caller's privileges instead of raising (`guard_action =
    /// "degrade"`), when loaded and its program counts them.
    pub degraded_execs: Option<u64>,
}

/// Refusals and would-refusals counted for one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Refused or killed execs.
    pub refusals: u64,
    /// Execs that would be refused (audit mode).
    pub would_refusals: u64,
}

/// Everything `nnpctl metrics` exports: built once, rendered by [`Metrics::render`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// nnp's version.
    pub version: &'static str,
    /// The config loads (parse, validation, trust).
    pub config_valid: bool,
    /// Rules in it (0 when it does not load).
    pub rules: usize,
    /// Files it was read from.
    pub config_files: usize,
    /// Its `nnp = true` rules by the mode they run in: enforce, audit (0, 0 when it does
    /// not load). A host whose restricting rules all audit sets no NNP and refuses nothing.
    pub restricting: (usize, usize),
    /// The exec guard.
    pub guard: GuardMetrics,
    /// By rule (`FILE:LINE`, or [`UNREAD_GROUPS`](crate::report::UNREAD_GROUPS), or
    /// [`BEYOND`]), from the guard's per-rule counters; `None`: they could not be read.
    pub by_rule: Option<BTreeMap<String, RuleCounts>>,
    /// The audit's counts; `None`: it could not run (the config does not load, /proc
    /// cannot be read).
    pub audit: Option<crate::audit::Summary>,
    /// When this ran, seconds since the epoch.
    pub time: f64,
    /// How long it took, seconds.
    pub duration: f64,
}

/// A label value, escaped as the exposition format wants (backslash, quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }
    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help);
        self.sample(name, &[], value);
    }
    /// An info gauge: one sample of value 1 whose label carries the information.
    fn info(&mut self, name: &str, help: &str, label: (&str, &str)) {
        self.family(name, "gauge", help);
        self.sample(name, &[label], 1);
    }
}

fn b(x: bool) -> u8 {
    u8::from(x)
}

impl Metrics {
    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut o = Out(String::new());
        o.info(
            "nnp_build_info",
            "The nnp version that wrote these metrics (always 1).",
            ("version", self.version),
        );
        o.gauge(
            "nnp_config_valid",
            "Whether the nnp configuration loads: parses, validates and passes the trust checks (1) or not (0).",
            b(self.config_valid),
        );
        o.gauge(
            "nnp_config_rules",
            "Rules in the nnp configuration (0 when it does not load).",
            self.rules,
        );
        o.gauge(
            "nnp_config_files",
            "Files the nnp configuration was read from (main file and drop-ins).",
            self.config_files,
        );
        let name = "nnp_config_restricting_rules";
        o.family(
            name,
            "gauge",
            "Rules with nnp = true, by the mode they run in: enforce (no_new_privs set, execs refused) or audit (only logged and counted); 0 when the configuration does not load.",
        );
        o.sample(name, &[("mode", "enforce")], self.restricting.0);
        o.sample(name, &[("mode", "audit")], self.restricting.1);
        let g = &self.guard;
        o.gauge(
            "nnp_guard_loaded",
            "Whether the exec guard is loaded (pinned).",
            b(g.loaded),
        );
        o.gauge(
            "nnp_guard_live",
            "Whether the loaded exec guard's program runs (it saw an exec made now).",
            b(g.live),
        );
        o.gauge(
            "nnp_guard_current",
            "Whether the loaded exec guard holds the rules of the config files on disk now.",
            b(g.current),
        );
        o.gauge(
            "nnp_guard_degraded",
            "Whether the loaded exec guard is wider than the rules (degraded) because names could not be resolved.",
            b(g.degraded),
        );
        o.gauge(
            "nnp_guard_in_force",
            "Whether the exec guard is in force: loaded, live, current and complete.",
            b(g.in_force),
        );
        if let Some(mode) = g.mode {
            o.info(
                "nnp_guard_info",
                "The loaded exec guard's attach mode: lsm (refused execs fail with EPERM) or kill (always 1).",
                ("mode", mode),
            );
        }
        if let Some(action) = g.action {
            o.info(
                "nnp_guard_action_info",
                "What the loaded exec guard does with a guarded privilege-raising exec: degrade (runs with the caller's privileges), refuse or kill (always 1).",
                ("action", action),
            );
        }
        if let Some(c) = g.counters {
            o.counter(
                "nnp_guard_execs_total",
                "Execs the loaded exec guard's program saw.",
                c[0],
            );
            o.counter(
                "nnp_guard_raising_execs_total",
                "Execs that raise privileges (setuid, setgid, file capabilities), guarded or not.",
                c[1],
            );
            o.counter(
                "nnp_guard_refused_execs_total",
                "Privilege-raising execs the exec guard refused or killed.",
                c[2],
            );
            o.counter(
                "nnp_guard_audited_execs_total",
                "Privilege-raising execs an audit-mode rule would have refused.",
                c[3],
            );
        }
        if let Some(d) = g.degraded_execs {
            o.counter(
                "nnp_guard_degraded_execs_total",
                "Guarded privilege-raising execs run with the caller's privileges instead (guard_action = degrade): setuid, setgid and file capabilities not applied.",
                d,
            );
        }
        if let Some(by_rule) = self.by_rule.as_ref().filter(|m| !m.is_empty()) {
            o.family(
                "nnp_guard_refusals_total",
                "counter",
                "Privilege-raising execs refused or killed, by deciding rule (FILE:LINE), since the guard was loaded or the rule took its place in the rule list.",
            );
            for (rule, c) in by_rule {
                o.sample("nnp_guard_refusals_total", &[("rule", rule)], c.refusals);
            }
            o.family(
                "nnp_guard_would_refusals_total",
                "counter",
                "Privilege-raising execs an audit-mode rule would have refused, by rule (FILE:LINE), since the guard was loaded or the rule took its place in the rule list.",
            );
            for (rule, c) in by_rule {
                o.sample(
                    "nnp_guard_would_refusals_total",
                    &[("rule", rule)],
                    c.would_refusals,
                );
            }
        }
        o.gauge(
            "nnp_audit_success",
            "Whether the audit of running processes could run (1) or not (0: the config does not load, /proc cannot be read).",
            b(self.audit.is_some()),
        );
        if let Some(a) = &self.audit {
            o.gauge(
                "nnp_audit_findings",
                "Threads of restricted users running without no_new_privs and not protected by the exec guard (nnpctl audit's findings).",
                a.findings,
            );
            o.gauge(
                "nnp_audit_protected_threads",
                "Threads of restricted users without no_new_privs that the exec guard in force protects.",
                a.protected,
            );
            o.gauge(
                "nnp_audit_undecidable_processes",
                "Processes the audit could not decide for (a lookup error, an unreadable status).",
                a.undecidable,
            );
            o.gauge(
                "nnp_audit_checked_processes",
                "Processes the audit checked.",
                a.processes,
            );
        }
        o.gauge(
            "nnp_metrics_last_run_timestamp_seconds",
            "When nnpctl metrics last ran, seconds since the epoch.",
            format!("{:.3}", self.time),
        );
        o.gauge(
            "nnp_metrics_duration_seconds",
            "How long nnpctl metrics took to collect these metrics.",
            format!("{:.3}", self.duration),
        );
        o.0
    }
}

/// The `rule` label of the rules after the first [`nnp_guard::MAX_RULE_COUNTS`]: the
/// program counts them together.
pub const BEYOND: &str = "(rules after the first 4096, counted together)";

/// Counts by rule from the guard's per-rule counters: every rule of the loaded guard (its
/// `FILE:LINE`), the execs refused because groups could not be read, and — past the
/// program's limit — the later rules together.
pub fn by_rule(
    meta: &nnp_guard::Meta,
    counts: &nnp_guard::RuleCounts,
) -> BTreeMap<String, RuleCounts> {
    let of = |c: &nnp_guard::RuleCount| RuleCounts {
        refusals: c.refused.saturating_add(c.killed),
        would_refusals: c.audit,
    };
    let mut out: BTreeMap<String, RuleCounts> = BTreeMap::new();
    out.insert(crate::report::UNREAD_GROUPS.to_string(), of(&counts.unread));
    for (name, c) in meta.rules.iter().zip(&counts.rules) {
        out.insert(name.clone(), of(c));
    }
    if let Some(c) = &counts.beyond {
        out.insert(BEYOND.to_string(), of(c));
    }
    out
}

/// Collect everything now.
pub fn collect(path: Option<&Path>) -> Metrics {
    let start = Instant::now();
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let config = nnp_config::load_main(path);
    let state = nnp_guard::GuardState::read();
    let guard = GuardMetrics {
        loaded: state.loaded,
        live: state.live,
        current: state.loaded && state.meta.is_some() && state.stale.is_empty(),
        degraded: !state.unresolved.is_empty(),
        in_force: state.in_force(),
        mode: state.mode.map(nnp_guard::AttachMode::as_str),
        action: state.action.map(nnp_guard::Action::as_str),
        counters: (state.loaded && state.cannot_tell.is_empty()).then_some(state.counters),
        degraded_execs: state
            .degraded_execs
            .filter(|_| state.cannot_tell.is_empty()),
    };
    let by_rule = if state.loaded {
        // without the metadata no count can be named: left out
        state.meta.as_ref().and_then(|m| {
            nnp_guard::read_rule_counts(m.rules.len())
                .ok()
                .map(|c| by_rule(m, &c))
        })
    } else {
        Some(BTreeMap::new())
    };
    let audit = config
        .as_ref()
        .ok()
        .and_then(|c| crate::audit::summary(c, &state).ok());
    Metrics {
        version: env!("CARGO_PKG_VERSION"),
        config_valid: config.is_ok(),
        rules: config.as_ref().map_or(0, |c| c.rules.len()),
        config_files: config.as_ref().map_or(0, |c| c.files.len()),
        restricting: config.as_ref().map_or((0, 0), |c| {
            let modes = c
                .rules
                .iter()
                .filter(|r| r.nnp)
                .map(|r| r.mode_under(c.mode));
            modes.fold((0, 0), |(e, a), m| match m {
                nnp_config::Mode::Enforce => (e + 1, a),
                nnp_config::Mode::Audit => (e, a + 1),
            })
        }),
        guard,
        by_rule,
        audit,
        time,
        duration: start.elapsed().as_secs_f64(),
    }
}

/// Write `text` to `path` atomically: a temporary file in the same directory (a name the
/// textfile collector ignores: it reads `*.prom` only), flushed, mode 0644, renamed.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the output names no file"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        // O_CREAT | O_EXCL: never through a symlink (or onto a file) someone left under that
        // name in a directory others can write to; a leftover of ours is removed (unlink
        // does not follow a symlink) and the name created afresh.
        let create = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        let mut f = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                create()?
            }
            r => r?,
        };
        f.write_all(text.as_bytes())?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn run(path: Option<&Path>, output: Option<&Path>) -> Result<Output, Error> {
    let text = collect(path).render();
    let mut r = Output::new();
    match output {
        None => r.out = text,
        Some(o) => write_atomically(o, &text)
            .map_err(|e| Error::system(format!("writing {}", o.display()), e))?,
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Metrics {
        let mut by_rule = BTreeMap::new();
        by_rule.insert(
            "/etc/security/nnp.toml:3".to_string(),
            RuleCounts {
                refusals: 2,
                would_refusals: 0,
            },
        );
        by_rule.insert(
            "/etc/security/we\"ird\\dir\n/x.toml:1".to_string(),
            RuleCounts {
                refusals: 0,
                would_refusals: 7,
            },
        );
        Metrics {
            version: "0.1.0",
            config_valid: true,
            rules: 2,
            config_files: 2,
            restricting: (1, 1),
            guard: GuardMetrics {
                loaded: true,
                live: true,
                current: true,
                degraded: false,
                in_force: true,
                mode: Some("kill"),
                action: Some("kill"),
                counters: Some([100, 9, 2, 7]),
                degraded_execs: Some(5),
            },
            by_rule: Some(by_rule),
            audit: Some(crate::audit::Summary {
                findings: 1,
                protected: 3,
                undecidable: 0,
                processes: 40,
                threads: 55,
            }),
            time: 1_800_000_000.25,
            duration: 0.0421,
        }
    }

    fn value(text: &str, series: &str) -> Option<String> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_string)
        })
    }

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let text = sample().render();
        let mut declared = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(
                    text.contains(&format!("# HELP {name} ")),
                    "{name} has no HELP"
                );
                assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
                assert!(name.starts_with("nnp_"), "{name}");
                declared.push(name.to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(
                    declared.iter().any(|d| d == name),
                    "{name} sampled before its TYPE"
                );
            }
        }
        let mut unique = declared.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), declared.len(), "a family declared twice");
    }

    #[test]
    fn values_and_labels() {
        let text = sample().render();
        assert_eq!(value(&text, "nnp_config_valid").as_deref(), Some("1"));
        assert_eq!(
            value(&text, "nnp_config_restricting_rules{mode=\"enforce\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&text, "nnp_config_restricting_rules{mode=\"audit\"}").as_deref(),
            Some("1")
        );
        assert_eq!(value(&text, "nnp_guard_live").as_deref(), Some("1"));
        assert_eq!(
            value(&text, "nnp_guard_info{mode=\"kill\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&text, "nnp_guard_action_info{action=\"kill\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&text, "nnp_guard_degraded_execs_total").as_deref(),
            Some("5")
        );
        assert_eq!(
            value(
                &text,
                "nnp_guard_refusals_total{rule=\"/etc/security/nnp.toml:3\"}"
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(
            value(
                &text,
                "nnp_guard_would_refusals_total{rule=\"/etc/security/we\\\"ird\\\\dir\\n/x.toml:1\"}"
            )
            .as_deref(),
            Some("7")
        );
        assert_eq!(value(&text, "nnp_audit_findings").as_deref(), Some("1"));
        assert_eq!(
            value(&text, "nnp_metrics_last_run_timestamp_seconds").as_deref(),
            Some("1800000000.250")
        );
        assert_eq!(
            value(&text, "nnp_guard_audited_execs_total").as_deref(),
            Some("7")
        );
    }

    #[test]
    fn what_is_unknown_is_left_out_not_zeroed() {
        let mut m = sample();
        m.guard = GuardMetrics::default();
        m.by_rule = None;
        m.audit = None;
        m.config_valid = false;
        let text = m.render();
        assert_eq!(value(&text, "nnp_guard_loaded").as_deref(), Some("0"));
        assert_eq!(value(&text, "nnp_audit_success").as_deref(), Some("0"));
        assert_eq!(value(&text, "nnp_config_valid").as_deref(), Some("0"));
        for absent in [
            "nnp_guard_info",
            "nnp_guard_action_info",
            "nnp_guard_execs_total",
            "nnp_guard_degraded_execs_total",
            "nnp_guard_refusals_total",
            "nnp_audit_findings",
        ] {
            assert!(!text.contains(absent), "{absent}");
        }
    }

    fn meta(rules: usize) -> nnp_guard::Meta {
        let mut text =
            "mode kill\nconfig /c\nexplicit 0\nloaded_at 0\ncounts 2 0 0 0 0 0 0\n".to_string();
        for i in 1..=rules {
            text.push_str(&format!("rule /c:{}\n", 4 * i - 3));
        }
        nnp_guard::Meta::parse(&text).unwrap()
    }

    fn count(refused: u64, killed: u64, audit: u64) -> nnp_guard::RuleCount {
        nnp_guard::RuleCount {
            refused,
            killed,
            audit,
        }
    }

    #[test]
    fn by_rule_names_every_loaded_rule_and_the_unread_groups() {
        let counts = nnp_guard::RuleCounts {
            unread: count(1, 0, 0),
            rules: vec![count(0, 0, 0), count(2, 1, 4)],
            beyond: None,
        };
        let m = by_rule(&meta(2), &counts);
        assert_eq!(m.len(), 3);
        assert_eq!(m["/c:1"], RuleCounts::default());
        assert_eq!(
            m["/c:5"],
            RuleCounts {
                refusals: 3,
                would_refusals: 4
            }
        );
        assert_eq!(
            m[crate::report::UNREAD_GROUPS],
            RuleCounts {
                refusals: 1,
                would_refusals: 0
            }
        );
        assert!(!m.contains_key(BEYOND));
    }

    #[test]
    fn rules_past_the_programs_limit_share_a_series_that_says_so() {
        assert!(BEYOND.contains(&nnp_guard::MAX_RULE_COUNTS.to_string()));
        let n = nnp_guard::MAX_RULE_COUNTS;
        let counts = nnp_guard::RuleCounts {
            unread: count(0, 0, 0),
            rules: vec![count(0, 0, 1); n],
            beyond: Some(count(0, 7, 9)),
        };
        let m = by_rule(&meta(n + 3), &counts);
        assert_eq!(
            m.len(),
            n + 2,
            "every rule with a slot, unread groups, the rest"
        );
        assert_eq!(
            m[BEYOND],
            RuleCounts {
                refusals: 7,
                would_refusals: 9
            }
        );
        assert!(!m.contains_key(&format!("/c:{}", 4 * (n + 1) - 3)));
        let mut metrics = sample();
        metrics.by_rule = Some(m);
        let text = metrics.render();
        assert_eq!(
            value(
                &text,
                &format!("nnp_guard_refusals_total{{rule=\"{BEYOND}\"}}")
            )
            .as_deref(),
            Some("7")
        );
        assert_eq!(
            value(
                &text,
                &format!(
                    "nnp_guard_would_refusals_total{{rule=\"{}\"}}",
                    crate::report::UNREAD_GROUPS
                )
            )
            .as_deref(),
            Some("0")
        );
    }

    #[test]
    fn per_rule_series_are_counters_of_the_programs_counts_not_of_the_report() {
        // the same rule, read twice while the program counted on: each series only grows
        // (the report's LRU entries are not an input any more)
        let before = by_rule(
            &meta(1),
            &nnp_guard::RuleCounts {
                unread: count(0, 0, 0),
                rules: vec![count(0, 0, 9000)],
                beyond: None,
            },
        );
        let after = by_rule(
            &meta(1),
            &nnp_guard::RuleCounts {
                unread: count(0, 0, 0),
                rules: vec![count(0, 0, 9001)],
                beyond: None,
            },
        );
        let text = |m| {
            let mut x = sample();
            x.by_rule = Some(m);
            x.render()
        };
        let (t1, t2) = (text(before), text(after));
        let series = "nnp_guard_would_refusals_total{rule=\"/c:1\"}";
        assert_eq!(value(&t1, series).as_deref(), Some("9000"));
        assert_eq!(value(&t2, series).as_deref(), Some("9001"));
        assert!(t2.contains("# TYPE nnp_guard_would_refusals_total counter\n"));
    }

    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("nnp-metrics-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let tmp = dir.join(format!(".nnp.prom.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        write_atomically(&dir.join("nnp.prom"), "nnp_up 1\n").unwrap();
        let victim_text = std::fs::read_to_string(&victim).unwrap();
        let written = std::fs::read_to_string(dir.join("nnp.prom")).unwrap();
        let left = tmp.symlink_metadata().is_ok();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            victim_text, "keep\n",
            "the symlink's target must not be written"
        );
        assert_eq!(written, "nnp_up 1\n");
        assert!(!left, "nothing is left at the temporary name");
    }

    #[test]
    fn written_atomically_with_a_temporary_name_the_collector_ignores() {
        let dir = std::env::temp_dir().join(format!("nnp-metrics-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("nnp.prom");
        write_atomically(&out, "a 1\n").unwrap();
        write_atomically(&out, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a 2\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("nnp.prom")]);
        assert!(write_atomically(&dir.join("no/such/dir/nnp.prom"), "x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
