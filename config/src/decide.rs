//! The one decision of nnp: which rule applies to a user, computed lazily, in rule order, by
//! identity (uids and gids), from the exact bytes of the user name.
//!
//! Every front end (pam_nnp, nnp-shell, `nnpctl explain`, `nnpctl audit`) calls
//! [`Config::decide`] (or [`Config::shell_for`], [`Config::decide_any_service`]) with a
//! [`Resolver`] over a [`Directory`] — NSS in production ([`Nss`]), a fake in tests — and only
//! renders the result.
//!
//! Rules of the engine:
//! - each rule asks only for the facts its selectors need, cheapest first (service, uid,
//!   user name, then groups), and the first match stops: a rule that decides early never
//!   depends on a later rule's lookups;
//! - `groups` match by gid: the group name is resolved with `getgrnam_r` and the user is a
//!   member when that gid is the primary gid, the entry lists the user, or `getgrouplist`
//!   has it (only asked for a negative answer). Nothing enumerates the group database: a
//!   config naming many groups has them read from `/etc/group` in one pass when NSS reads
//!   `files` first (see `nssfiles`), and every other name is asked with `getgrnam_r`;
//! - a fact that cannot be established is an error, never a non-match: a lookup error, or a
//!   group that an `nnp = true` rule names and NSS does not know (a directory with a cold
//!   cache answers "not found" when it is down, so nobody can prove they are not in it);
//!   in an `nnp = false` rule an unknown group simply does not match;
//! - `users` compare case-insensitively with the account's canonical name and the name
//!   given at login; an `nnp = false` rule (an exemption) additionally requires the rule's
//!   name to resolve to the same uid unless it equals the canonical name byte for byte, so
//!   a differently-cased *other* account never inherits an exemption. In an `nnp = true`
//!   rule a name also matches every account with the uid it resolves to (a second passwd
//!   name for a uid is the same identity to the kernel), looked up only when the rule is
//!   reached and the names differ;
//! - a process owner without a passwd entry ([`Who::Kernel`]) is decided from its kernel
//!   credentials, as the exec guard decides: `uids` by uid, `groups` by gid among its real
//!   gid and supplementary groups, `users` names by the uid they resolve to;
//! - systemd's user manager (PAM service [`USER_MANAGER_SERVICE`]) is one per uid, whichever
//!   name logged in: [`Config::decide_user_manager`] takes the strictest decision across
//!   every service and every account of the uid that can be found without enumerating a
//!   directory (the account asked about, the uid's `getpwuid` name, the names of the uid in
//!   `/etc/passwd`).

use std::fmt;

use crate::resolve::UserFacts;
use crate::{
    escape_value, Config, GroupEntry, LookupError, Mode, Resolver, Rule, UserEntry, Users,
    DEFAULT_SHELL,
};

/// The PAM service of systemd's user manager (`user@UID.service`, `PAMName=systemd-user`).
/// pam_systemd starts one manager per uid for the first session of any service (and for a
/// lingering user with no session); `systemd-run --user`, user timers and sockets run under
/// it. systemd opens its session with PAM_USER set to the uid's first passwd name, not the
/// name that logged in, so the module decides it per uid ([`Config::decide_user_manager`]).
pub const USER_MANAGER_SERVICE: &str = "systemd-user";

/// Is this PAM service systemd's user manager? (compared ignoring case: Linux-PAM lowercases
/// service names, and the decision does not depend on it)
pub fn is_user_manager(service: &str) -> bool {
    service.eq_ignore_ascii_case(USER_MANAGER_SERVICE)
}

/// Who a decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    /// A login name (PAM_USER), exact bytes.
    Name(&'a [u8]),
    /// A uid (nnp-shell): its passwd entry must exist.
    Uid(u32),
    /// A process's kernel credentials (audit): the uid's passwd entry when it has one,
    /// else the credentials themselves (a rootless container's subordinate ids), decided as
    /// the exec guard decides.
    Kernel {
        /// Real uid.
        uid: u32,
        /// Real gid.
        gid: u32,
        /// Supplementary groups.
        groups: &'a [u32],
    },
}

/// Which service a decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service<'a> {
    /// A PAM service name (compared in lowercase, as Linux-PAM names services).
    Named(&'a str),
    /// A service that no rule names: rules with `services` never match.
    Unnamed,
    /// Services are ignored: every rule's `services` is treated as absent (nnp-shell, guard).
    Ignored,
}

/// The outcome of a decision; every verdict but [`Verdict::NoMatch`] carries its deciding
/// rule, so nothing can enforce without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'c> {
    /// No rule matches: nothing is done.
    NoMatch,
    /// The first matching rule says `nnp = false`.
    Exempt(&'c Rule),
    /// The first matching rule says `nnp = true` in audit mode: log "would set".
    Audit(&'c Rule),
    /// The first matching rule says `nnp = true` in enforce mode: set NNP.
    Enforce(&'c Rule),
}

impl<'c> Verdict<'c> {
    /// What a matching rule does under the config's top-level mode `top`: `nnp = false`
    /// exempts; `nnp = true` audits or enforces by [`Rule::mode_under`]. The one mapping of
    /// rule and mode to a verdict: the exec guard's `GuardVerdict::of` is this one.
    pub fn of(rule: &'c Rule, top: Mode) -> Verdict<'c> {
        match (rule.nnp, rule.mode_under(top)) {
            (false, _) => Verdict::Exempt(rule),
            (true, Mode::Audit) => Verdict::Audit(rule),
            (true, Mode::Enforce) => Verdict::Enforce(rule),
        }
    }
    /// The spelling in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoMatch => "no-match",
            Verdict::Exempt(_) => "exempt",
            Verdict::Audit(_) => "audit",
            Verdict::Enforce(_) => "enforce",
        }
    }
    /// The deciding rule.
    pub fn rule(self) -> Option<&'c Rule> {
        match self {
            Verdict::NoMatch => None,
            Verdict::Exempt(r) | Verdict::Audit(r) | Verdict::Enforce(r) => Some(r),
        }
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'c> {
    /// What is to be done, by which rule.
    pub verdict: Verdict<'c>,
    /// The effective mode: the rule's, else the top-level one.
    pub mode: Mode,
    /// The account, when it had to be looked up (with no rules nothing is looked up, and a
    /// [`Who::Kernel`] uid without a passwd entry has none).
    pub user: Option<UserEntry>,
    /// Why the rule matched, for explain (`group "restricted" (gid 4100)`).
    pub because: Option<String>,
    /// For systemd's user manager ([`Config::decide_user_manager`]): another account of the
    /// same uid whose decision was the strictest and so decided (PAM_USER is the uid's first
    /// passwd name; this is, say, the second one that logged in). `None` when the account
    /// asked about decided.
    pub alias: Option<UserEntry>,
}

impl<'c> Decision<'c> {
    /// The deciding rule, if one matched.
    pub fn rule(&self) -> Option<&'c Rule> {
        self.verdict.rule()
    }
    /// The deciding rule says `nnp = true` (enforce or audit).
    pub fn restricts(&self) -> bool {
        matches!(self.verdict, Verdict::Audit(_) | Verdict::Enforce(_))
    }
    /// NNP is to be set now.
    pub fn sets_nnp(&self) -> bool {
        matches!(self.verdict, Verdict::Enforce(_))
    }
}

/// nnp-shell's choice of real shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellChoice<'c> {
    /// Absolute path of the real shell (as configured; nnp-shell checks it is usable).
    pub shell: &'c str,
    /// The first rule matching the user (services ignored), if any.
    pub rule: Option<&'c Rule>,
    /// Where the shell came from: `rule`, `top-level`, `default`.
    pub source: &'static str,
}

/// Why no decision could be made: follows `on_error`.
#[derive(Debug, Clone)]
pub enum DecideError {
    /// NSS does not know the user.
    UnknownUser(String),
    /// A lookup failed; what and why.
    Lookup {
        /// The rule that needed the fact, if one did.
        rule: Option<String>,
        /// The failure.
        error: LookupError,
    },
    /// A group named by an `nnp = true` rule is not known to NSS.
    UnknownGroup {
        /// The rule, as `FILE:LINE`.
        rule: String,
        /// The group name (escaped).
        group: String,
    },
    /// The decision for another account of the uid (systemd's user manager serves them all)
    /// could not be made.
    Alias {
        /// The other account's name (escaped).
        account: String,
        /// The uid both names have.
        uid: u32,
        /// Why its decision could not be made.
        error: Box<DecideError>,
    },
    /// The other accounts of a uid could not be listed (for systemd's user manager).
    UidAccounts {
        /// The uid.
        uid: u32,
        /// The failed lookup (`getpwuid_r`, or reading `/etc/passwd`).
        error: LookupError,
    },
}

impl fmt::Display for DecideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecideError::UnknownUser(u) => {
                write!(f, "unknown user \"{u}\" (not found through NSS)")
            }
            DecideError::Lookup {
                rule: Some(r),
                error,
            } => {
                write!(
                    f,
                    "rule {r} needs a fact that cannot be established: {error}"
                )
            }
            DecideError::Lookup { rule: None, error } => write!(f, "{error}"),
            DecideError::UnknownGroup { rule, group } => write!(
                f,
                "rule {rule} (nnp = true) names group \"{group}\", which NSS does not know \
                 (a directory that is down with a cold cache answers \"not found\"), so \
                 membership cannot be ruled out"
            ),
            DecideError::Alias {
                account,
                uid,
                error,
            } => write!(
                f,
                "account \"{account}\" (uid {uid} too; every name of a uid counts for what runs \
                 as that uid, so its decision counts): {error}"
            ),
            DecideError::UidAccounts { uid, error } => write!(
                f,
                "the other accounts of uid {uid} cannot be listed (every name of a uid counts \
                 for what runs as that uid, so their decisions count): {error}"
            ),
        }
    }
}

impl std::error::Error for DecideError {}

/// Case-insensitive equality of a rule's name and NSS/PAM bytes (Unicode lowercase when the
/// bytes are UTF-8, ASCII otherwise): the module's comparison, which the exec guard also
/// uses for the local accounts a restricting name covers.
pub(crate) fn name_eq(rule: &str, bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => s == rule || s.to_lowercase() == rule.to_lowercase(),
        Err(_) => rule.as_bytes().eq_ignore_ascii_case(bytes),
    }
}

impl Config {
    /// The decision for `who` and `service`: the first matching rule decides; no rules at
    /// all means nothing is looked up.
    pub fn decide(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
        service: Service<'_>,
    ) -> Result<Decision<'_>, DecideError> {
        if self.rules.is_empty() {
            return Ok(Decision {
                verdict: Verdict::NoMatch,
                mode: self.mode,
                user: None,
                because: None,
                alias: None,
            });
        }
        let mut facts = self.user_facts(res, who)?;
        self.decide_with(res, &mut facts, service)
    }

    fn user_facts(&self, res: &mut Resolver<'_>, who: Who<'_>) -> Result<UserFacts, DecideError> {
        let (found, given) = match who {
            Who::Name(n) => (res.directory().user_by_name(n), Some(n.to_vec())),
            Who::Uid(uid) | Who::Kernel { uid, .. } => (res.directory().user_by_uid(uid), None),
        };
        let found = found.map_err(|error| DecideError::Lookup { rule: None, error })?;
        let entry = match (found, who) {
            (Some(entry), _) => entry,
            // No passwd entry: the kernel's view, as the guard has it (a lookup error above
            // stays an error: doubt is never turned into a verdict).
            (None, Who::Kernel { uid, gid, groups }) => {
                let mut gids = Vec::with_capacity(groups.len() + 1);
                gids.push(gid);
                gids.extend_from_slice(groups);
                return Ok(UserFacts {
                    entry: UserEntry {
                        name: Vec::new(),
                        uid,
                        gid,
                    },
                    given: None,
                    gids: Some(Ok(gids)),
                    kernel: true,
                });
            }
            (None, Who::Name(n)) => return Err(DecideError::UnknownUser(escape_value(n))),
            (None, Who::Uid(uid)) => return Err(DecideError::UnknownUser(format!("uid {uid}"))),
        };
        Ok(UserFacts {
            entry,
            given,
            gids: None,
            kernel: false,
        })
    }

    fn decide_with(
        &self,
        res: &mut Resolver<'_>,
        facts: &mut UserFacts,
        service: Service<'_>,
    ) -> Result<Decision<'_>, DecideError> {
        for rule in &self.rules {
            if let Some(because) = self.rule_matches(rule, res, facts, service)? {
                return Ok(Decision {
                    verdict: Verdict::of(rule, self.mode),
                    mode: rule.mode_under(self.mode),
                    user: facts.account(),
                    because: Some(because),
                    alias: None,
                });
            }
        }
        Ok(Decision {
            verdict: Verdict::NoMatch,
            mode: self.mode,
            user: facts.account(),
            because: None,
            alias: None,
        })
    }

    /// `Some(reason)` when the rule matches; the selectors are tried cheapest first.
    fn rule_matches(
        &self,
        rule: &Rule,
        res: &mut Resolver<'_>,
        facts: &mut UserFacts,
        service: Service<'_>,
    ) -> Result<Option<String>, DecideError> {
        let mut why = Vec::new();
        match (&rule.services, service) {
            (None, _) | (_, Service::Ignored) => {}
            (Some(_), Service::Unnamed) => return Ok(None),
            (Some(list), Service::Named(name)) => {
                let name = name.to_lowercase();
                if !list.iter().any(|s| s.to_lowercase() == name) {
                    return Ok(None);
                }
                why.push(format!("service {name}"));
            }
        }
        let uid = facts.entry.uid;
        if let Some(ranges) = &rule.uids {
            if !ranges.iter().any(|&(a, b)| a <= uid && uid <= b) {
                return Ok(None);
            }
            why.push(format!("uid {uid}"));
        }
        if let Some(users) = &rule.users {
            match users {
                Users::All => why.push("users = \"*\"".to_string()),
                Users::Names(names) => {
                    let lookup = |error| DecideError::Lookup {
                        rule: Some(rule.at.to_string()),
                        error,
                    };
                    let mut hit = None;
                    for n in names {
                        let similar = !facts.kernel
                            && (name_eq(n, &facts.entry.name)
                                || facts.given.as_deref().is_some_and(|g| name_eq(n, g)));
                        if similar {
                            // An exemption needs the identity: the same account, not just a
                            // name that differs in case.
                            let same = rule.nnp
                                || n.as_bytes() == facts.entry.name.as_slice()
                                || res.name_is_uid(n, uid).map_err(lookup)?;
                            if same {
                                hit = Some(format!("user \"{}\"", escape_value(n.as_bytes())));
                                break;
                            }
                        } else if rule.nnp || facts.kernel {
                            // A restriction covers every account of the uid the name means
                            // (a second passwd name is the same identity to the kernel);
                            // credentials without an account match by uid alone. Looked up
                            // only now that the rule is reached.
                            let named = if rule.nnp {
                                res.restricting_name_uid(n)
                            } else {
                                res.user_named(n.as_bytes()).map(|e| e.map(|e| e.uid))
                            };
                            if named.map_err(lookup)? == Some(uid) {
                                hit = Some(format!(
                                    "user \"{}\" (uid {uid})",
                                    escape_value(n.as_bytes())
                                ));
                                break;
                            }
                        }
                    }
                    match hit {
                        Some(h) => why.push(h),
                        None => return Ok(None),
                    }
                }
            }
        }
        if let Some(groups) = &rule.groups {
            match self.group_member(rule, groups, res, facts)? {
                Some(g) => why.push(g),
                None => return Ok(None),
            }
        }
        Ok(Some(why.join(", ")))
    }

    /// A group a rule names, as the decision takes it: its entry; `Ok(None)` for a group NSS
    /// does not know in an exemption (it never matches); an error for a failed lookup, and
    /// for a group NSS does not know in an `nnp = true` rule (nobody can be proven not to be
    /// a member: a directory that is down answers "not found"). `nnpctl check` reports the
    /// same cases ([`Config::lint`]).
    pub(crate) fn rule_group(
        &self,
        rule: &Rule,
        name: &str,
        res: &mut Resolver<'_>,
    ) -> Result<Option<GroupEntry>, DecideError> {
        match res.group(self, name) {
            Ok(Some(e)) => Ok(Some(e)),
            Ok(None) if rule.nnp => Err(DecideError::UnknownGroup {
                rule: rule.at.to_string(),
                group: escape_value(name.as_bytes()),
            }),
            Ok(None) => Ok(None),
            Err(error) => Err(DecideError::Lookup {
                rule: Some(rule.at.to_string()),
                error,
            }),
        }
    }

    /// Is the user in one of the rule's groups (by gid)? An error only when no group
    /// matched and one of them could not be decided.
    fn group_member(
        &self,
        rule: &Rule,
        groups: &[String],
        res: &mut Resolver<'_>,
        facts: &mut UserFacts,
    ) -> Result<Option<String>, DecideError> {
        let mut first_error = None;
        for name in groups {
            let entry = match self.rule_group(rule, name, res) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let shown = format!(
                "group \"{}\" (gid {})",
                escape_value(name.as_bytes()),
                entry.gid
            );
            if entry.gid == facts.entry.gid {
                return Ok(Some(format!("{shown}, primary")));
            }
            let listed = !facts.kernel
                && entry.members.iter().any(|m| {
                    m == &facts.entry.name
                        || (rule.nnp
                            && (name_eq_bytes(m, &facts.entry.name)
                                || facts.given.as_deref().is_some_and(|g| name_eq_bytes(m, g))))
                });
            if listed {
                return Ok(Some(shown));
            }
            let gids = facts.gids.get_or_insert_with(|| {
                res.directory()
                    .group_ids(&facts.entry.name, facts.entry.gid)
            });
            match gids {
                Ok(gids) if gids.contains(&entry.gid) => return Ok(Some(shown)),
                Ok(_) => {}
                Err(error) => {
                    if first_error.is_none() {
                        first_error = Some(DecideError::Lookup {
                            rule: Some(rule.at.to_string()),
                            error: error.clone(),
                        });
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// nnp-shell's real shell: the `shell` of the first rule matching the user (services
    /// ignored), else the top-level `shell`, else `/bin/sh`. With no rule naming a shell,
    /// nothing is looked up.
    pub fn shell_for(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
    ) -> Result<ShellChoice<'_>, DecideError> {
        let fallback = || match &self.shell {
            Some(s) => (s.as_str(), "top-level"),
            None => (DEFAULT_SHELL, "default"),
        };
        let rule = if self.rules.iter().any(|r| r.shell.is_some()) {
            self.decide(res, who, Service::Ignored)?.rule()
        } else {
            None
        };
        let (shell, source) = match rule.and_then(|r| r.shell.as_deref()) {
            Some(s) => (s, "rule"),
            None => fallback(),
        };
        Ok(ShellChoice {
            shell,
            rule,
            source,
        })
    }

    /// Every service a rule names, as Linux-PAM names it (lowercase), sorted, once each.
    pub fn named_services(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rules
            .iter()
            .filter_map(|r| r.services.as_ref())
            .flatten()
            .map(|s| s.to_lowercase())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The decision of some service under which the user's session gets NNP (enforce), if
    /// any: each service a rule names is tried, then a service no rule names. For audit.
    pub fn decide_any_service(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
    ) -> Result<Decision<'_>, DecideError> {
        if self.rules.is_empty() {
            return self.decide(res, who, Service::Unnamed);
        }
        let mut facts = self.user_facts(res, who)?;
        self.any_service_with(res, &mut facts)
    }

    fn any_service_with(
        &self,
        res: &mut Resolver<'_>,
        facts: &mut UserFacts,
    ) -> Result<Decision<'_>, DecideError> {
        let names = self.named_services();
        let mut last = None;
        for svc in names
            .iter()
            .map(|n| Service::Named(n))
            .chain(std::iter::once(Service::Unnamed))
        {
            let d = self.decide_with(res, facts, svc)?;
            if d.sets_nnp() {
                return Ok(d);
            }
            last = Some(d);
        }
        match last {
            Some(d) => Ok(d),
            None => self.decide_with(res, facts, Service::Unnamed),
        }
    }

    /// The module's decision for a PAM service (`None`: a service no rule names): systemd's
    /// user manager ([`is_user_manager`]) by [`Config::decide_user_manager`], any other
    /// service by its own rules. pam_nnp and `nnpctl explain` both ask this.
    pub fn decide_module(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
        service: Option<&str>,
    ) -> Result<Decision<'_>, DecideError> {
        match service {
            Some(s) if is_user_manager(s) => self.decide_user_manager(res, who),
            Some(s) => self.decide(res, who, Service::Named(s)),
            None => self.decide(res, who, Service::Unnamed),
        }
    }

    /// The decision for systemd's user manager (service [`USER_MANAGER_SERVICE`]): one
    /// manager per uid, whichever name logged in (systemd opens its session with PAM_USER
    /// set to the uid's first passwd name), so it gets the strictest decision of every
    /// account of the uid, each decided across every service
    /// ([`Config::decide_any_service`]): any enforce decides (nothing else is looked up
    /// once one is found); else any error is the error (it follows `on_error`); else any
    /// audit; else the account asked about decides (exempt or no match).
    ///
    /// The accounts: the one `who` names, the uid's `getpwuid` name, and every name of the
    /// uid in `/etc/passwd` (read directly, [`Directory::local_users`]) that NSS resolves
    /// to the same uid. Another name of the uid that only a directory (LDAP, SSSD) holds is
    /// not found: that would take an enumeration of the directory, which nothing in a login
    /// process does.
    ///
    /// [`Directory::local_users`]: crate::Directory::local_users
    pub fn decide_user_manager(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
    ) -> Result<Decision<'_>, DecideError> {
        self.decide_uid(res, who)
    }

    /// The strictest decision of every account of `who`'s uid, each across every service
    /// (as [`Config::decide_user_manager`] describes): what runs as a uid is every one of its
    /// accounts' as far as the kernel is concerned. systemd's user manager and `nnpctl
    /// audit`'s process owners are decided so.
    pub fn decide_uid(
        &self,
        res: &mut Resolver<'_>,
        who: Who<'_>,
    ) -> Result<Decision<'_>, DecideError> {
        if self.rules.is_empty() {
            return self.decide(res, who, Service::Unnamed);
        }
        let mut facts = self.user_facts(res, who)?;
        let own = self.any_service_with(res, &mut facts);
        if facts.kernel || strictness(&own) == Strictness::Enforce {
            return own;
        }
        let uid = facts.entry.uid;
        let mut best = own;
        let names = match self.uid_names(res, &facts.entry) {
            Ok(n) => n,
            Err(error) => {
                return Err(DecideError::UidAccounts { uid, error });
            }
        };
        for name in names {
            let decided = match self.alias_facts(res, &name, &facts.entry) {
                Ok(None) => continue,
                Ok(Some(mut other)) => self.any_service_with(res, &mut other).map(|mut d| {
                    d.because = d.because.map(|b| {
                        format!(
                            "account \"{}\" of uid {uid} (every name of a uid counts): {b}",
                            escape_value(&other.entry.name)
                        )
                    });
                    d.alias = Some(other.entry.clone());
                    d.user = facts.account();
                    d
                }),
                Err(e) => Err(e),
            }
            .map_err(|error| DecideError::Alias {
                account: escape_value(&name),
                uid,
                error: Box::new(error),
            });
            if strictness(&decided) > strictness(&best) {
                best = decided;
                if strictness(&best) == Strictness::Enforce {
                    break;
                }
            }
        }
        best
    }

    /// The other names of the account's uid, without enumerating a directory: its
    /// `getpwuid` name, then the names of the uid in `/etc/passwd`, each once, the account's
    /// own name left out.
    fn uid_names(
        &self,
        res: &mut Resolver<'_>,
        account: &UserEntry,
    ) -> Result<Vec<Vec<u8>>, LookupError> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        if let Some(first) = res.directory().user_by_uid(account.uid)? {
            names.push(first.name);
        }
        for u in res.directory().local_users()? {
            if u.uid == account.uid {
                names.push(u.name);
            }
        }
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(names.len());
        for n in names {
            if n != account.name && !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// The facts of another name of `account`'s uid, as a login of that name would have
    /// them (through NSS): `None` when NSS does not know the name, or resolves it to another
    /// account (another uid, or the account itself in another case) — nobody logs in to
    /// this uid under it.
    fn alias_facts(
        &self,
        res: &mut Resolver<'_>,
        name: &[u8],
        account: &UserEntry,
    ) -> Result<Option<UserFacts>, DecideError> {
        match self.user_facts(res, Who::Name(name)) {
            Err(DecideError::UnknownUser(_)) => Ok(None),
            Err(e) => Err(e),
            Ok(f) if f.entry.uid != account.uid || f.entry.name == account.name => Ok(None),
            Ok(f) => Ok(Some(f)),
        }
    }

    /// Every account of each uid that has more than one name in `/etc/passwd` (as NSS
    /// resolves the names: one it does not know, or resolves to another uid, is left out),
    /// with its decision for systemd's user manager taken alone ([`Config::decide_any_service`]
    /// for that account). For `nnpctl check`: names of one uid whose decisions differ.
    pub(crate) fn local_uid_aliases(
        &self,
        res: &mut Resolver<'_>,
    ) -> Result<Vec<UidAliases<'_>>, LookupError> {
        // in file order, one entry per uid (a long /etc/passwd is indexed, not searched)
        let mut by_uid: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
        let mut index: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
        for u in res.directory().local_users()? {
            if u.name.is_empty() {
                continue;
            }
            match index.get(&u.uid) {
                Some(&i) => {
                    if let Some((_, names)) = by_uid.get_mut(i) {
                        if !names.contains(&u.name) {
                            names.push(u.name);
                        }
                    }
                }
                None => {
                    index.insert(u.uid, by_uid.len());
                    by_uid.push((u.uid, vec![u.name]));
                }
            }
        }
        let mut out = Vec::new();
        for (uid, names) in by_uid.into_iter().filter(|(_, n)| n.len() > 1) {
            let mut accounts = Vec::new();
            for name in names {
                let decided = match self.user_facts(res, Who::Name(&name)) {
                    Err(DecideError::UnknownUser(_)) => continue,
                    Ok(f) if f.entry.uid != uid => continue,
                    Ok(mut f) => self.any_service_with(res, &mut f),
                    Err(e) => Err(e),
                };
                accounts.push((name, decided));
            }
            if accounts.len() > 1 {
                out.push(UidAliases { uid, accounts });
            }
        }
        Ok(out)
    }
}

/// The names of one uid in `/etc/passwd`, each with its own decision for systemd's user
/// manager ([`Config::local_uid_aliases`]).
pub(crate) struct UidAliases<'c> {
    pub(crate) uid: u32,
    pub(crate) accounts: Vec<(Vec<u8>, Result<Decision<'c>, DecideError>)>,
}

/// How strict a decision is for systemd's user manager: enforce beats an error (which
/// follows `on_error`), an error beats audit, audit beats nothing done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strictness {
    Nothing,
    Audit,
    Error,
    Enforce,
}

fn strictness(d: &Result<Decision<'_>, DecideError>) -> Strictness {
    match d {
        Ok(d) if d.sets_nnp() => Strictness::Enforce,
        Err(_) => Strictness::Error,
        Ok(d) if d.restricts() => Strictness::Audit,
        Ok(_) => Strictness::Nothing,
    }
}

fn name_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    match std::str::from_utf8(a) {
        Ok(s) => name_eq(s, b),
        Err(_) => a.eq_ignore_ascii_case(b),
    }
}
