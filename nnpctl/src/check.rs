//! `nnpctl check`: every error of every file, then what NSS says about the names the rules
//! use. A group that an `nnp = true` rule names and NSS does not know is a problem: the
//! module refuses every user that reaches that rule.

use std::collections::HashMap;
use std::path::Path;

use nnp_config::{escape_value, Config, Users};
use nnp_sys::{getgr, getpw, scan_users, GrKey, PwKey};

use crate::{Error, Outcome, Output};

/// Findings about a valid config.
#[derive(Default)]
pub struct Findings {
    /// Problems (exit 1).
    pub problems: Vec<String>,
    /// Lookups that failed (exit 3 unless there is a problem).
    pub unchecked: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// What NSS says about the names of the rules, shadowed rules, services without a stack.
pub fn findings(config: &Config) -> Findings {
    let mut f = Findings::default();
    // Every passwd account by uid, enumerated once and only if a rule names a user that
    // exists (nnpctl only: no login process enumerates a database).
    let mut accounts: Option<HashMap<u32, Vec<Vec<u8>>>> = None;
    for s in config.shadowed() {
        f.warnings.push(format!(
            "{}: rule {} can never match: rule {} at {} already matches everyone it would",
            s.rule.at, s.rule.at.index, s.by.at.index, s.by.at
        ));
    }
    for rule in &config.rules {
        if let Some(Users::Names(names)) = &rule.users {
            for n in names {
                let shown = escape_value(n.as_bytes());
                match getpw(PwKey::Name(n.as_bytes())) {
                    Err(e) => f
                        .unchecked
                        .push(format!("{}: cannot check user \"{shown}\": {e}", rule.at)),
                    Ok(None) => f
                        .warnings
                        .push(format!("{}: user \"{shown}\" is not known to NSS", rule.at)),
                    Ok(Some(pw)) => {
                        if pw.name != n.as_bytes() {
                            f.warnings.push(format!(
                                "{}: user \"{shown}\" is \"{}\" in NSS (uid {}); names match case-insensitively, but write the canonical name",
                                rule.at,
                                escape_value(&pw.name),
                                pw.uid
                            ));
                        }
                        // Every other account of that uid, wherever it is listed (an
                        // enumeration: nnpctl only, never a login process).
                        let by_uid = accounts.get_or_insert_with(|| {
                            let mut m: HashMap<u32, Vec<Vec<u8>>> = HashMap::new();
                            for e in scan_users(|_| true) {
                                m.entry(e.uid).or_default().push(e.name);
                            }
                            m
                        });
                        let others: Vec<Vec<u8>> = by_uid
                            .get(&pw.uid)
                            .into_iter()
                            .flatten()
                            .filter(|name| **name != pw.name)
                            .cloned()
                            .collect();
                        for other in others {
                            let other = escape_value(&other);
                            f.warnings.push(if rule.nnp {
                                format!(
                                    "{}: uid {} of user \"{shown}\" is also the account \"{other}\": this rule restricts both (a second name is the same identity to the kernel)",
                                    rule.at, pw.uid
                                )
                            } else {
                                format!(
                                    "{}: uid {} of user \"{shown}\" is also the account \"{other}\": this exemption covers only \"{shown}\"; a login as \"{other}\" is decided by the later rules",
                                    rule.at, pw.uid
                                )
                            });
                        }
                    }
                }
            }
        }
        for g in rule.groups.iter().flatten() {
            let shown = escape_value(g.as_bytes());
            match getgr(GrKey::Name(g.as_bytes())) {
                Err(e) => f
                    .unchecked
                    .push(format!("{}: cannot check group \"{shown}\": {e}", rule.at)),
                Ok(None) if rule.nnp => f.problems.push(format!(
                    "{}: group \"{shown}\" is not known to NSS: the module refuses every user who reaches this rule (nnp = true), because nobody can be proven not to be a member (a directory that is down answers \"not found\"); fix the name or create the group",
                    rule.at
                )),
                Ok(None) => f.warnings.push(format!(
                    "{}: group \"{shown}\" is not known to NSS (in an nnp = false rule it never matches)",
                    rule.at
                )),
                Ok(Some(gr)) => {
                    if gr.name != g.as_bytes() {
                        f.warnings.push(format!(
                            "{}: group \"{shown}\" is \"{}\" (gid {}) in NSS; matching is by gid, but write the canonical name",
                            rule.at,
                            escape_value(&gr.name),
                            gr.gid
                        ));
                    }
                }
            }
        }
        // A typo in `services` ("ssh" for "sshd") silently makes a rule never match.
        for svc in rule.services.iter().flatten() {
            let lower = svc.to_lowercase();
            if lower != *svc {
                f.warnings.push(format!(
                    "{}: service \"{}\" is compared as \"{}\" (Linux-PAM names services in lowercase)",
                    rule.at,
                    escape_value(svc.as_bytes()),
                    escape_value(lower.as_bytes())
                ));
            }
            if lower.contains('/') || !Path::new("/etc/pam.d").join(&lower).is_file() {
                let lower = escape_value(lower.as_bytes());
                f.warnings.push(format!(
                    "{}: service \"{lower}\" has no PAM stack /etc/pam.d/{lower} (a typo? no login program uses it here)",
                    rule.at
                ));
            }
        }
    }
    f
}

pub fn run(path: Option<&Path>) -> Result<Output, Error> {
    let mut r = Output::new();
    match nnp_config::load_main(path) {
        Err(e) => {
            for d in &e.diagnostics {
                r.line(d.render());
            }
            let n = e.diagnostics.len();
            r.line(format!("{n} error{}", if n == 1 { "" } else { "s" }));
            r.outcome = Outcome::Problem;
        }
        Ok(config) => {
            let f = findings(&config);
            for w in &f.warnings {
                r.line(format!("warning: {w}"));
            }
            for u in &f.unchecked {
                r.line(format!("unchecked: {u}"));
            }
            for p in &f.problems {
                r.line(format!("problem: {p}"));
            }
            let rules = config.rules.len();
            let files = config.files.len();
            let summary = format!(
                "{rules} rule{} from {files} file{}",
                if rules == 1 { "" } else { "s" },
                if files == 1 { "" } else { "s" }
            );
            if !f.problems.is_empty() {
                r.line(format!("problems: {summary}"));
                r.outcome = Outcome::Problem;
            } else if !f.unchecked.is_empty() {
                r.line(format!(
                    "incomplete: {summary}; some names could not be checked"
                ));
                r.outcome = Outcome::Incomplete;
            } else {
                r.line(format!("ok: {summary}"));
            }
        }
    }
    Ok(r)
}
