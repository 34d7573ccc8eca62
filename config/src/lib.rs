//! `nnp-config`: the one configuration parser and rule matcher of nnp.
//!
//! `pam_nnp`, `nnp-shell` and `nnpctl` all load the configuration with [`load`] and ask
//! [`Config::decide`] / [`Config::shell_for`]; no front end matches rules on its own.
//!
//! ```no_run
//! use nnp_config::{load, Subject, Service};
//! let config = load("/etc/security/nnp.toml".as_ref()).expect("valid config");
//! let groups = vec!["restricted".to_string()];
//! let subject = Subject { user: "alice", uid: 2001, groups: &groups };
//! let decision = config.decide(&subject, Service::Named("sshd"));
//! println!("set NNP: {}", decision.sets_nnp());
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod error;
mod parse;
mod source;
pub mod sys;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Diagnostic, LoadError};
pub use source::MAX_FILE_SIZE;

/// The compiled-in main configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/security/nnp.toml";
/// The shell nnp-shell runs when nothing else is configured (or the config is unusable).
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// `enforce` sets NNP; `audit` only logs what would be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Set no_new_privs (the default).
    #[default]
    Enforce,
    /// Log "would set", set nothing.
    Audit,
}

impl Mode {
    /// The spelling used in the config file, logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule is: its file, the line of its `[[rule]]` header, and its 1-based position
/// among all rules in load order. Displays as `FILE:LINE`, as log lines name rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The file the rule is in.
    pub file: Arc<Path>,
    /// Line of the rule's `[[rule]]` header.
    pub line: usize,
    /// 1-based position among all rules, main file first, then drop-ins.
    pub index: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The `users` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Users {
    /// `"*"` was listed: every user.
    All,
    /// These user names.
    Names(Vec<String>),
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where the rule is written.
    pub at: RuleRef,
    /// `users`, if given.
    pub users: Option<Users>,
    /// `groups`, if given (names, matched against the user's primary and supplementary groups).
    pub groups: Option<Vec<String>>,
    /// `uids`, if given, as inclusive ranges.
    pub uids: Option<Vec<(u32, u32)>>,
    /// `services`, if given (PAM service names).
    pub services: Option<Vec<String>>,
    /// `nnp`: true restricts, false exempts.
    pub nnp: bool,
    /// Per-rule `mode`, if given.
    pub mode: Option<Mode>,
    /// Per-rule `shell` for nnp-shell, if given.
    pub shell: Option<String>,
}

/// Who is logging in: the facts rules are matched against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The user name (PAM_USER).
    pub user: &'a str,
    /// The user's uid.
    pub uid: u32,
    /// Names of the user's primary and supplementary groups.
    pub groups: &'a [String],
}

/// Which service the decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service<'a> {
    /// A PAM service name: rules whose `services` list it (or have no `services`) match.
    Named(&'a str),
    /// A service that no rule names: rules with `services` never match.
    Unnamed,
    /// Services are ignored: every rule's `services` is treated as absent (nnp-shell).
    Ignored,
}

impl Rule {
    /// Which of the rule's selectors match, ignoring `services`.
    fn matches_subject(&self, s: &Subject<'_>) -> bool {
        if let Some(users) = &self.users {
            let ok = match users {
                Users::All => true,
                Users::Names(names) => names.iter().any(|n| n == s.user),
            };
            if !ok {
                return false;
            }
        }
        if let Some(groups) = &self.groups {
            if !groups.iter().any(|g| s.groups.iter().any(|ug| ug == g)) {
                return false;
            }
        }
        if let Some(uids) = &self.uids {
            if !uids.iter().any(|&(a, b)| a <= s.uid && s.uid <= b) {
                return false;
            }
        }
        true
    }

    fn matches_service(&self, service: Service<'_>) -> bool {
        match (&self.services, service) {
            (None, _) | (_, Service::Ignored) => true,
            (Some(list), Service::Named(name)) => list.iter().any(|s| s == name),
            (Some(_), Service::Unnamed) => false,
        }
    }

    /// Whether this rule matches the subject for the service.
    pub fn matches(&self, s: &Subject<'_>, service: Service<'_>) -> bool {
        self.matches_service(service) && self.matches_subject(s)
    }

    /// Does this rule match every subject and service that `later` matches? Conservative:
    /// `true` only when each selector this rule names is named by `later` with a subset of
    /// values (or this rule's `users` is `"*"`).
    pub fn covers(&self, later: &Rule) -> bool {
        let users = match (&self.users, &later.users) {
            (None, _) | (Some(Users::All), _) => true,
            (Some(Users::Names(a)), Some(Users::Names(b))) => subset(b, a),
            _ => false,
        };
        let groups = match (&self.groups, &later.groups) {
            (None, _) => true,
            (Some(a), Some(b)) => subset(b, a),
            _ => false,
        };
        let uids = match (&self.uids, &later.uids) {
            (None, _) => true,
            (Some(a), Some(b)) => b
                .iter()
                .all(|&(lo, hi)| a.iter().any(|&(x, y)| x <= lo && hi <= y)),
            _ => false,
        };
        let services = match (&self.services, &later.services) {
            (None, _) => true,
            (Some(a), Some(b)) => subset(b, a),
            _ => false,
        };
        users && groups && uids && services
    }

    /// Which of the subject's groups this rule's `groups` selector matched.
    pub fn matched_groups<'s>(&self, s: &Subject<'s>) -> Vec<&'s str> {
        match &self.groups {
            None => Vec::new(),
            Some(groups) => s
                .groups
                .iter()
                .filter(|ug| groups.iter().any(|g| g == *ug))
                .map(String::as_str)
                .collect(),
        }
    }
}

/// The loaded configuration: top-level settings and every rule in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Top-level `mode` (default enforce).
    pub mode: Mode,
    /// Top-level `shell`, if given.
    pub shell: Option<String>,
    /// `notice`, sent to users whose session gets NNP.
    pub notice: Option<String>,
    /// All rules: main file first, then drop-ins in byte order of name.
    pub rules: Vec<Rule>,
    /// The files that were read, in order.
    pub files: Vec<PathBuf>,
}

/// The decision for one subject and service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'c> {
    /// The first matching rule, if any.
    pub rule: Option<&'c Rule>,
    /// The rule says NNP (`nnp = true`).
    pub nnp: bool,
    /// The effective mode: the rule's, else the top-level one.
    pub mode: Mode,
}

impl Decision<'_> {
    /// NNP is to be set now: a matching `nnp = true` rule in enforce mode.
    pub fn sets_nnp(&self) -> bool {
        self.nnp && self.mode == Mode::Enforce
    }
}

/// nnp-shell's choice of real shell and the rule it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellChoice<'c> {
    /// Absolute path of the real shell.
    pub shell: &'c str,
    /// The first rule matching the user (services ignored), if any.
    pub rule: Option<&'c Rule>,
}

impl Config {
    /// The first matching rule decides; no match means nothing is done.
    pub fn decide(&self, subject: &Subject<'_>, service: Service<'_>) -> Decision<'_> {
        let rule = self.rules.iter().find(|r| r.matches(subject, service));
        Decision {
            rule,
            nnp: rule.is_some_and(|r| r.nnp),
            mode: rule.and_then(|r| r.mode).unwrap_or(self.mode),
        }
    }

    /// Does any rule have a `groups` selector? If not, a subject's groups never matter and
    /// need not be resolved (getgrouplist asks every NSS group source).
    pub fn uses_groups(&self) -> bool {
        self.rules.iter().any(|r| r.groups.is_some())
    }

    /// The real shell nnp-shell execs: the `shell` of the first rule matching the user
    /// (services ignored), else the top-level `shell`, else `/bin/sh`.
    pub fn shell_for(&self, subject: &Subject<'_>) -> ShellChoice<'_> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(subject, Service::Ignored));
        let shell = rule
            .and_then(|r| r.shell.as_deref())
            .or(self.shell.as_deref())
            .unwrap_or(DEFAULT_SHELL);
        ShellChoice { shell, rule }
    }

    /// Rules that can never match, each with the first earlier rule that shadows it.
    pub fn shadowed(&self) -> Vec<Shadowed<'_>> {
        let mut out = Vec::new();
        for (j, rule) in self.rules.iter().enumerate() {
            if let Some(by) = self.rules[..j].iter().find(|e| e.covers(rule)) {
                out.push(Shadowed { rule, by });
            }
        }
        out
    }

    /// The decision of some service under which the subject gets NNP set (enforce mode), if
    /// any: every service a rule names is tried, then a service no rule names.
    pub fn restricted_for_any_service(&self, subject: &Subject<'_>) -> Option<Decision<'_>> {
        let mut names: Vec<&str> = self
            .rules
            .iter()
            .filter_map(|r| r.services.as_ref())
            .flatten()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(Service::Named)
            .chain(std::iter::once(Service::Unnamed))
            .map(|svc| self.decide(subject, svc))
            .find(Decision::sets_nnp)
    }
}

/// A rule that can never match because an earlier one matches everything it would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed<'c> {
    /// The rule that never matches.
    pub rule: &'c Rule,
    /// The earlier rule that takes all its subjects.
    pub by: &'c Rule,
}

fn subset<T: PartialEq>(inner: &[T], outer: &[T]) -> bool {
    inner.iter().all(|x| outer.contains(x))
}

/// The drop-in directory of a config at `DIR/NAME.toml`: `DIR/NAME.d/`.
pub fn dropin_dir(main: &Path) -> PathBuf {
    let stem = main
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    let mut name = stem;
    name.push(".d");
    main.with_file_name(name)
}

/// Load the main file and its drop-ins, with the trust checks (everything owned by root).
pub fn load(main: &Path) -> Result<Config, LoadError> {
    load_as(main, 0)
}

/// [`load`] with another required owner than root. For tests that cannot run as root;
/// the binaries always use [`load`].
#[doc(hidden)]
pub fn load_as(main: &Path, owner: u32) -> Result<Config, LoadError> {
    let trust = source::Trust { owner };
    let mut diags = Vec::new();
    let mut files = Vec::new();
    match source::read_trusted_file(trust, main) {
        Ok(source::Opened::Missing) => {}
        Ok(source::Opened::File { text }) => files.push((main.to_path_buf(), text)),
        Err(d) => diags.push(d),
    }
    match source::list_dropins(trust, &dropin_dir(main)) {
        Ok(None) => {}
        Ok(Some(paths)) => {
            for p in paths {
                match source::read_trusted_file(trust, &p) {
                    Ok(source::Opened::Missing) => {} // removed while we listed
                    Ok(source::Opened::File { text }) => files.push((p, text)),
                    Err(d) => diags.push(d),
                }
            }
        }
        Err(d) => diags.push(d),
    }
    assemble(files, diags)
}

/// Parse configuration text as if it were the file `path` (no file system access, no trust
/// checks). For tests, fuzzing and tools that validate text before writing it.
pub fn parse_text(path: &Path, text: &str) -> Result<Config, LoadError> {
    assemble(vec![(path.to_path_buf(), text.to_string())], Vec::new())
}

fn assemble(
    files: Vec<(PathBuf, String)>,
    mut diags: Vec<Diagnostic>,
) -> Result<Config, LoadError> {
    let mut config = Config::default();
    let mut mode: Option<parse::Setting<Mode>> = None;
    let mut shell: Option<parse::Setting<String>> = None;
    let mut notice: Option<parse::Setting<String>> = None;
    for (path, text) in &files {
        let (parsed, mut file_diags) = parse::parse_file(path, text, config.rules.len() + 1);
        diags.append(&mut file_diags);
        merge(&mut mode, parsed.mode, "mode", &mut diags);
        merge(&mut shell, parsed.shell, "shell", &mut diags);
        merge(&mut notice, parsed.notice, "notice", &mut diags);
        config.rules.extend(parsed.rules);
        config.files.push(path.clone());
    }
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags });
    }
    config.mode = mode.map(|s| s.value).unwrap_or_default();
    config.shell = shell.map(|s| s.value);
    config.notice = notice.map(|s| s.value);
    Ok(config)
}

/// A top-level setting may be given once, in the main file or in one drop-in.
fn merge<T>(
    slot: &mut Option<parse::Setting<T>>,
    new: Option<parse::Setting<T>>,
    key: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(new) = new else { return };
    if let Some(old) = slot {
        diags.push(Diagnostic {
            file: new.file.to_path_buf(),
            pos: Some((new.line, new.col)),
            message: format!(
                "duplicate top-level key \"{key}\": already set at {}:{}:{}",
                old.file.display(),
                old.line,
                old.col
            ),
            source_line: None,
            hint: None,
        });
    } else {
        *slot = Some(new);
    }
}

#[cfg(test)]
mod tests;
