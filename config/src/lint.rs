//! What `nnpctl check` (and `nnpctl doctor`) say about a valid config beyond its syntax:
//! [`Config::lint`] asks a [`Directory`] about the names the rules use — NSS in production,
//! the fake directory in unit tests — and looks for rules that never match.
//!
//! Group names go through the same [`Resolver`] as the decision, so a config naming many
//! groups reads the local group file once when NSS reads it first, and a group that an
//! `nnp = true` rule names and NSS does not know is a problem for the same reason the
//! decision refuses on it (both ask `Config::rule_group`).

use std::collections::HashMap;
use std::path::Path;

use crate::{
    escape_value, Config, DecideError, Decision, Directory, LookupError, Resolver, Rule, Users,
    Verdict, USER_MANAGER_SERVICE,
};

/// What [`Config::lint`] found, each entry a line as `nnpctl check` prints it after its
/// `problem: `, `unchecked: ` or `warning: ` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Problems: the config does not do what it says (`nnpctl check` exits 1).
    pub problems: Vec<String>,
    /// Names whose lookup failed (exit 3 unless there is a problem).
    pub unchecked: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// Every other account of a uid, the passwd database enumerated once.
type AccountsByUid = HashMap<u32, Vec<Vec<u8>>>;

impl Config {
    /// What `dir` says about the names of the rules, shadowed rules, service names that are
    /// not lowercase, and services without a PAM stack in `pam_dir` (`/etc/pam.d`).
    ///
    /// The passwd database is enumerated ([`Directory::accounts`]) once, and only when a
    /// rule names a user that exists: for `nnpctl`, never a login process. `/etc/passwd` is
    /// read ([`Directory::local_users`]) for uids with several names there, which the rules
    /// must decide alike for systemd's user manager (a problem otherwise).
    pub fn lint(&self, dir: &dyn Directory, pam_dir: &Path) -> Findings {
        let mut f = Findings::default();
        let mut res = Resolver::new(dir);
        let mut accounts: Option<AccountsByUid> = None;
        for p in &self.skipped {
            f.warnings.push(format!(
                "{}: not read (only *.toml files in the drop-in directory are)",
                escape_value(p.as_os_str().as_encoded_bytes())
            ));
        }
        for s in self.shadowed() {
            f.warnings.push(format!(
                "{}: rule {} can never match: rule {} at {} already matches everyone it would",
                s.rule.at, s.rule.at.index, s.by.at.index, s.by.at
            ));
        }
        for rule in &self.rules {
            if let Some(Users::Names(names)) = &rule.users {
                for n in names {
                    self.lint_user(&mut f, &mut res, &mut accounts, rule, n);
                }
            }
            for g in rule.groups.iter().flatten() {
                self.lint_group(&mut f, &mut res, rule, g);
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
                if lower.contains('/') || !pam_dir.join(&lower).is_file() {
                    let lower = escape_value(lower.as_bytes());
                    f.warnings.push(format!(
                        "{}: service \"{lower}\" has no PAM stack {}/{lower} (a typo? no login program uses it here)",
                        rule.at,
                        pam_dir.display()
                    ));
                }
            }
        }
        if !self.rules.is_empty() {
            self.lint_uid_aliases(&mut f, &mut res);
        }
        f
    }

    /// Names of one uid in `/etc/passwd` that the rules decide differently for systemd's
    /// user manager: a problem. There is one manager per uid, whichever name logged in, and
    /// the module gives it the strictest of their decisions
    /// ([`Config::decide_user_manager`]), so at least one of them is not what the rules say
    /// for that account. Compared is what the module does (no_new_privs, audit, nothing);
    /// an exemption and no match both do nothing.
    fn lint_uid_aliases(&self, f: &mut Findings, res: &mut Resolver<'_>) {
        let aliases = match self.local_uid_aliases(res) {
            Ok(a) => a,
            Err(e) => {
                f.unchecked.push(format!(
                    "cannot compare the names each uid has in /etc/passwd (systemd's user manager is one per uid): {e}"
                ));
                return;
            }
        };
        for a in aliases {
            let mut decided = Vec::new();
            for (name, d) in &a.accounts {
                match d {
                    Ok(d) => decided.push((name, d)),
                    Err(e) => f.unchecked.push(format!(
                        "uid {}: cannot decide account \"{}\" for systemd's user manager (service {USER_MANAGER_SERVICE}): {e}",
                        a.uid,
                        escape_value(name)
                    )),
                }
            }
            let effect = |d: &Decision<'_>| (d.sets_nnp(), d.restricts());
            let Some(strictest) = decided.iter().map(|(_, d)| *d).max_by_key(|d| effect(d)) else {
                continue;
            };
            if decided.iter().all(|(_, d)| effect(d) == effect(strictest)) {
                continue;
            }
            let at = strictest
                .rule()
                .map(|r| format!("{}: ", r.at))
                .unwrap_or_default();
            let list: Vec<String> = decided
                .iter()
                .map(|(name, d)| format!("\"{}\" ({})", escape_value(name), shown_verdict(d)))
                .collect();
            let gets = if strictest.sets_nnp() {
                "no_new_privs"
            } else {
                "audit mode (\"would set\")"
            };
            f.problems.push(format!(
                "{at}uid {} has the accounts {} in /etc/passwd, which the rules decide differently for systemd's user manager (service {USER_MANAGER_SERVICE}): there is one manager per uid, whichever name logged in, and pam_nnp gives it the strictest decision, {gets}, for every one of them; decide every name of the uid alike (the same rules, or one account)",
                a.uid,
                list.join(", "),
            ));
        }
    }

    /// A user a rule names: unknown, not written canonically, or sharing its uid.
    fn lint_user(
        &self,
        f: &mut Findings,
        res: &mut Resolver<'_>,
        accounts: &mut Option<AccountsByUid>,
        rule: &Rule,
        n: &str,
    ) {
        let shown = escape_value(n.as_bytes());
        let pw = match res.user_named(n.as_bytes()) {
            Err(e) => {
                f.unchecked
                    .push(format!("{}: cannot check user \"{shown}\": {e}", rule.at));
                return;
            }
            Ok(None) => {
                f.warnings
                    .push(format!("{}: user \"{shown}\" is not known to NSS", rule.at));
                return;
            }
            Ok(Some(pw)) => pw,
        };
        if pw.name != n.as_bytes() {
            f.warnings.push(format!(
                "{}: user \"{shown}\" is \"{}\" in NSS (uid {}); names match case-insensitively, but write the canonical name",
                rule.at,
                escape_value(&pw.name),
                pw.uid
            ));
        }
        // Every other account of that uid, wherever it is listed.
        let by_uid = accounts.get_or_insert_with(|| {
            let mut m = AccountsByUid::new();
            for e in res.directory().accounts() {
                m.entry(e.uid).or_default().push(e.name);
            }
            m
        });
        let others = by_uid
            .get(&pw.uid)
            .into_iter()
            .flatten()
            .filter(|name| **name != pw.name);
        for other in others {
            let other = escape_value(other);
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

    /// A group a rule names: unknown (a problem in an `nnp = true` rule, as the decision
    /// refuses there), or not written canonically.
    fn lint_group(&self, f: &mut Findings, res: &mut Resolver<'_>, rule: &Rule, g: &str) {
        let shown = escape_value(g.as_bytes());
        match self.rule_group(rule, g, res) {
            Err(DecideError::Lookup { error, .. }) => f.unchecked.push(format!(
                "{}: cannot check group \"{shown}\": {}",
                rule.at,
                group_failure(&error)
            )),
            // the other error: a group an `nnp = true` rule names that NSS does not know
            Err(_) => f.problems.push(format!(
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
}

/// A decision as `nnpctl check` names it: what is done, and by which rule.
fn shown_verdict(d: &Decision<'_>) -> String {
    let by = |what: &str, r: &Rule| format!("{what} by rule {} at {}", r.at.index, r.at);
    match d.verdict {
        Verdict::NoMatch => "no rule matches".to_string(),
        Verdict::Exempt(r) => by("exempt", r),
        Verdict::Audit(r) => by("audit", r),
        Verdict::Enforce(r) => by("no_new_privs", r),
    }
}

/// A failed group lookup as `nnpctl check` shows it: the line names the group already, so
/// the call is named without it (`group lookup (getgrnam_r) failed: ...`, where the
/// decision's logs say `group lookup for "NAME" (getgrnam_r) failed: ...`).
fn group_failure(e: &LookupError) -> String {
    match e {
        LookupError::Source(s)
            if s.what.starts_with("group lookup for \"") && s.what.ends_with("\" (getgrnam_r)") =>
        {
            nnp_sys::SysError {
                what: "group lookup (getgrnam_r)".to_string(),
                errno: s.errno,
            }
            .to_string()
        }
        e => e.to_string(),
    }
}
