//! `nnp-config`: the one configuration parser and rule matcher of nnp.
//!
//! `pam_nnp`, `nnp-shell` and `nnpctl` all load the configuration with [`load`] and ask
//! [`Config::decide`] / [`Config::decide_module`] (a PAM service; systemd's user manager per
//! uid) / [`Config::shell_for`] / [`Config::decide_any_service`]; no front end matches rules,
//! builds a subject or decides which lookups to skip on its own.
//! `nnpctl check` asks [`Config::lint`] what the directory says about the rules' names.
//!
//! ```no_run
//! use nnp_config::{load, Nss, Resolver, Service, Who};
//! let config = load("/etc/security/nnp.toml".as_ref()).expect("valid config");
//! let mut res = Resolver::new(&Nss);
//! let decision = config.decide(&mut res, Who::Name(b"alice"), Service::Named("sshd"));
//! println!("set NNP: {:?}", decision.map(|d| d.sets_nnp()));
//! ```

#![forbid(unsafe_code)]

pub mod args;
mod decide;
mod directory;
mod error;
pub mod guard;
mod lint;
mod nssfiles;
mod parse;
mod resolve;
mod source;
mod text;

pub use decide::{
    is_user_manager, DecideError, Decision, Service, ShellChoice, Verdict, Who,
    USER_MANAGER_SERVICE,
};
pub use directory::{Directory, GroupEntry, LookupError, Nss, UserEntry};
pub use lint::Findings;
pub use resolve::Resolver;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Diagnostic, LoadError};
pub use source::{open_allowed_file, MAX_FILE_SIZE};

pub use nssfiles::FileGroups;
pub use text::{escape_message, escape_value, is_hidden};

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

/// `guard_action`: what the exec guard does with a privilege-raising exec it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardAction {
    /// Run it with the caller's privileges (no_new_privs semantics for that exec), where the
    /// kernel has the `bprm_no_new_privs` hook (kernel/ in the source tree); elsewhere the
    /// guard refuses (or kills) instead. The default.
    #[default]
    Degrade,
    /// Refuse it (LSM mode: EPERM) or kill the task (kill mode).
    Refuse,
}

impl GuardAction {
    /// The spelling used in the config file, status and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Degrade => "degrade",
            GuardAction::Refuse => "refuse",
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

impl Rule {
    /// The mode the rule runs in: its own `mode`, else the config's top-level `top`.
    pub fn mode_under(&self, top: Mode) -> Mode {
        self.mode.unwrap_or(top)
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
    /// `guard_allow`: files the exec guard lets guarded users run with raised privileges.
    pub guard_allow: Vec<String>,
    /// `guard_action` (default degrade).
    pub guard_action: GuardAction,
    /// All rules: main file first, then drop-ins in byte order of name.
    pub rules: Vec<Rule>,
    /// The files that were read, in order.
    pub files: Vec<PathBuf>,
    /// Entries of the drop-in directory that were not read: only `*.toml` files are (hidden
    /// names left out). `nnpctl check` names them, so a `10-jump.conf` is not a surprise.
    pub skipped: Vec<PathBuf>,
}

impl Config {
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

/// The main config file to use: the one named explicitly (nnpctl's `--config`), or the
/// compiled-in [`DEFAULT_CONFIG`]. The flag says which; it is [`load_explicit`]'s `explicit`.
pub fn main_path(named: Option<&Path>) -> (&Path, bool) {
    match named {
        Some(p) => (p, true),
        None => (Path::new(DEFAULT_CONFIG), false),
    }
}

/// Load the config named explicitly, or the compiled-in default: [`main_path`], then
/// [`load_explicit`].
pub fn load_main(named: Option<&Path>) -> Result<Config, LoadError> {
    let (main, explicit) = main_path(named);
    load_explicit(main, explicit)
}

/// Load the main file and its drop-ins, with the trust checks (everything owned by root).
///
/// `explicit`: the main file was named (the module's `config=`, nnpctl's `--config`, the
/// path a loaded guard records), so a missing main file is an error: a typo there must not
/// silently switch rules off. Otherwise (the compiled-in default) a missing main file with
/// no drop-ins is "no rules". Every front end decides this here.
pub fn load_explicit(main: &Path, explicit: bool) -> Result<Config, LoadError> {
    load_inner(main, 0, explicit)
}

/// [`load_explicit`] with the compiled-in default's rule: a missing main file is allowed.
pub fn load(main: &Path) -> Result<Config, LoadError> {
    load_explicit(main, false)
}

/// [`load`] with another required owner than root, for the unit tests (which cannot run as
/// root); the binaries always use [`load_explicit`].
#[cfg(test)]
pub(crate) fn load_as(main: &Path, owner: u32) -> Result<Config, LoadError> {
    load_inner(main, owner, false)
}

/// [`load_explicit`] (`explicit`) with another owner than root, for the unit tests.
#[cfg(test)]
pub(crate) fn load_required_as(main: &Path, owner: u32) -> Result<Config, LoadError> {
    load_inner(main, owner, true)
}

fn load_inner(main: &Path, owner: u32, required: bool) -> Result<Config, LoadError> {
    let trust = source::Trust { owner };
    let mut diags = Vec::new();
    let mut files = Vec::new();
    if let Err(d) = source::check_main_dir(trust, main) {
        return Err(LoadError {
            diagnostics: vec![d],
        });
    }
    match source::read_trusted_file(trust, main) {
        Ok(source::Opened::Missing) if required => diags.push(Diagnostic::file(
            main,
            "cannot read file: No such file or directory (it is named explicitly, so it must exist)",
        )),
        Ok(source::Opened::Missing) => {}
        Ok(source::Opened::File { text }) => files.push((main.to_path_buf(), text)),
        Err(d) => diags.push(d),
    }
    let mut skipped = Vec::new();
    match source::list_dropins(trust, &dropin_dir(main)) {
        Ok(None) => {}
        Ok(Some(dropins)) => {
            skipped = dropins.skipped;
            for p in dropins.files {
                match source::read_trusted_file(trust, &p) {
                    Ok(source::Opened::Missing) => {} // removed while we listed
                    Ok(source::Opened::File { text }) => files.push((p, text)),
                    Err(d) => diags.push(d),
                }
            }
        }
        Err(d) => diags.push(d),
    }
    let mut config = assemble(files, diags)?;
    config.skipped = skipped;
    Ok(config)
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
    let mut guard_allow: Option<parse::Setting<Vec<String>>> = None;
    let mut guard_action: Option<parse::Setting<GuardAction>> = None;
    for (path, text) in &files {
        let (parsed, mut file_diags) = parse::parse_file(path, text, config.rules.len() + 1);
        diags.append(&mut file_diags);
        merge(&mut mode, parsed.mode, "mode", &mut diags);
        merge(&mut shell, parsed.shell, "shell", &mut diags);
        merge(&mut notice, parsed.notice, "notice", &mut diags);
        merge(
            &mut guard_allow,
            parsed.guard_allow,
            "guard_allow",
            &mut diags,
        );
        merge(
            &mut guard_action,
            parsed.guard_action,
            "guard_action",
            &mut diags,
        );
        config.rules.extend(parsed.rules);
        config.files.push(path.clone());
    }
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags });
    }
    config.mode = mode.map(|s| s.value).unwrap_or_default();
    config.shell = shell.map(|s| s.value);
    config.notice = notice.map(|s| s.value);
    config.guard_allow = guard_allow.map(|s| s.value).unwrap_or_default();
    config.guard_action = guard_action.map(|s| s.value).unwrap_or_default();
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
