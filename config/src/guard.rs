//! The exec guard's policy: the rules compiled into the tables the kernel program reads.
//!
//! The kernel decides from the task's real uid, real gid and supplementary groups (its own
//! view of the session: no NSS at exec time). Each table key carries the lowest index of
//! the rules that name it, with that rule's verdict, so the program's minimum over the
//! task's keys is exactly the first rule that matches (services ignored, as nnp-shell
//! decides). Names are resolved through NSS when the guard is loaded.

use std::collections::BTreeMap;
use std::fmt;

use crate::{escape, Config, Directory, Mode, Resolver, Users};

/// What the kernel does for a key's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardVerdict {
    /// `nnp = false`: allow.
    Exempt = 0,
    /// `nnp = true`, enforce: refuse a privilege-raising exec.
    Enforce = 1,
    /// `nnp = true`, audit: allow and report "would deny".
    Audit = 2,
}

/// A table value: `(rule index << 2) | verdict`; rule indices start at 1, so 0 is "none".
pub fn encode(index: usize, verdict: GuardVerdict) -> u32 {
    (u32::try_from(index).unwrap_or(u32::MAX >> 2) << 2) | verdict as u32
}

/// The rule index and verdict of a table value.
pub fn decode(value: u32) -> (usize, GuardVerdict) {
    let verdict = match value & 3 {
        0 => GuardVerdict::Exempt,
        2 => GuardVerdict::Audit,
        _ => GuardVerdict::Enforce,
    };
    ((value >> 2) as usize, verdict)
}

/// The compiled tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardTable {
    /// uid → value (from `users`).
    pub uids: BTreeMap<u32, u32>,
    /// gid → value (from `groups`).
    pub gids: BTreeMap<u32, u32>,
    /// Inclusive uid ranges with their value (from `uids`).
    pub ranges: Vec<(u32, u32, u32)>,
    /// `users = ["*"]`: the value of the first such rule.
    pub star: Option<u32>,
    /// `guard_allow` paths.
    pub allow: Vec<String>,
    /// Names NSS does not know that were left out (user names; groups of exemptions).
    pub notes: Vec<String>,
}

/// Why the policy cannot be compiled: the guard is not loaded (or keeps the old policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError(pub String);

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuardError {}

impl Config {
    /// Compile the rules for the exec guard, resolving names through `dir`.
    pub fn guard_table(&self, dir: &dyn Directory) -> Result<GuardTable, GuardError> {
        let mut res = Resolver::new(dir);
        self.guard_table_with(&mut res)
    }

    /// [`Config::guard_table`] with a resolver whose caches may be shared.
    pub fn guard_table_with(&self, res: &mut Resolver<'_>) -> Result<GuardTable, GuardError> {
        let dir = res.directory();
        let mut t = GuardTable {
            allow: self.guard_allow.clone(),
            ..GuardTable::default()
        };
        for rule in &self.rules {
            let kinds = usize::from(rule.users.is_some())
                + usize::from(rule.uids.is_some())
                + usize::from(rule.groups.is_some());
            if kinds > 1 {
                return Err(GuardError(format!(
                    "rule {} combines users, uids and groups: the guard matches the task's uid, uid ranges and gids separately and cannot require two of them at once; split the rule (or keep it for pam_nnp and nnp-shell only)",
                    rule.at
                )));
            }
            let verdict = match (rule.nnp, rule.mode.unwrap_or(self.mode)) {
                (false, _) => GuardVerdict::Exempt,
                (true, Mode::Enforce) => GuardVerdict::Enforce,
                (true, Mode::Audit) => GuardVerdict::Audit,
            };
            let value = encode(rule.at.index, verdict);
            match &rule.users {
                Some(Users::All) => {
                    t.star.get_or_insert(value);
                }
                Some(Users::Names(names)) => {
                    for n in names {
                        // The module matches a restricting rule's name case-insensitively
                        // (SPEC: as sudo does), so the guard must cover the account that a
                        // differently-cased name means; an exemption needs the exact name.
                        let mut found = dir.user_by_name(n.as_bytes());
                        let lower = n.to_lowercase();
                        if rule.nnp && matches!(found, Ok(None)) && lower != *n {
                            found = dir.user_by_name(lower.as_bytes());
                        }
                        match found {
                            Ok(Some(u)) => {
                                t.uids.entry(u.uid).or_insert(value);
                            }
                            Ok(None) => t.notes.push(format!(
                                "{}: user \"{}\" is not known to NSS: left out",
                                rule.at,
                                escape(n.as_bytes())
                            )),
                            Err(e) => {
                                return Err(GuardError(format!(
                                    "{}: cannot resolve user \"{}\": {e}",
                                    rule.at,
                                    escape(n.as_bytes())
                                )))
                            }
                        }
                    }
                }
                None => {}
            }
            for &(lo, hi) in rule.uids.iter().flatten() {
                t.ranges.push((lo, hi, value));
            }
            for g in rule.groups.iter().flatten() {
                match res.group(self, g).map_err(|e| e.to_string()) {
                    Ok(Some(e)) => {
                        t.gids.entry(e.gid).or_insert(value);
                    }
                    Ok(None) if rule.nnp => {
                        return Err(GuardError(format!(
                            "{}: group \"{}\" (nnp = true) is not known to NSS: the guard cannot know its members",
                            rule.at,
                            escape(g.as_bytes())
                        )))
                    }
                    Ok(None) => t.notes.push(format!(
                        "{}: group \"{}\" is not known to NSS: left out",
                        rule.at,
                        escape(g.as_bytes())
                    )),
                    Err(e) => {
                        return Err(GuardError(format!(
                            "{}: cannot resolve group \"{}\": {e}",
                            rule.at,
                            escape(g.as_bytes())
                        )))
                    }
                }
            }
        }
        Ok(t)
    }
}

impl GuardTable {
    /// The value the kernel program computes for a task (its real uid, real gid and
    /// supplementary gids): the lowest rule index among all matching keys. For tests and
    /// `nnpctl explain`.
    pub fn lookup(&self, uid: u32, gid: u32, groups: &[u32]) -> Option<u32> {
        let mut best: Option<u32> = None;
        let mut take = |v: Option<u32>| {
            if let Some(v) = v {
                if best.is_none_or(|b| (v >> 2) < (b >> 2)) {
                    best = Some(v);
                }
            }
        };
        take(self.uids.get(&uid).copied());
        take(self.star);
        for &(lo, hi, v) in &self.ranges {
            if lo <= uid && uid <= hi {
                take(Some(v));
            }
        }
        take(self.gids.get(&gid).copied());
        for g in groups {
            take(self.gids.get(g).copied());
        }
        best
    }
}
