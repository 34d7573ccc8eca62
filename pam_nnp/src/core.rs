//! The decision of `pam_sm_open_session`, as plain Rust: no libpam, no syslog. The hook
//! gathers PAM_USER, PAM_SERVICE and the arguments, calls [`open_session`] and applies the
//! [`Report`]: return code, log lines, notice.

use nnp_config::sys::{escape_name, Account, SysError};
use nnp_config::{Config, LoadError, Service, Subject};

use crate::args::{self, OnError};

/// What the system provides; injected so the decision is testable without root or libpam.
pub trait System {
    /// Resolve a user through NSS.
    fn account(&self, user: &[u8]) -> Result<Account, SysError>;
    /// Load the config (with trust checks).
    fn load(&self, path: &std::path::Path) -> Result<Config, LoadError>;
    /// Set no_new_privs and verify it.
    fn set_nnp(&self) -> Result<(), SysError>;
}

/// The real system.
pub struct RealSystem;

impl System for RealSystem {
    fn account(&self, user: &[u8]) -> Result<Account, SysError> {
        nnp_config::sys::account_by_name(user)
    }
    fn load(&self, path: &std::path::Path) -> Result<Config, LoadError> {
        nnp_config::load(path)
    }
    fn set_nnp(&self) -> Result<(), SysError> {
        nnp_config::sys::set_no_new_privs()
    }
}

/// The PAM result of the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `PAM_SUCCESS`: NNP was set.
    Success,
    /// `PAM_IGNORE`: nothing to do (or audit, or an error under on_error=allow).
    Ignore,
    /// `PAM_SESSION_ERR`: an error under on_error=deny; the login is refused.
    SessionErr,
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// LOG_ERR
    Err,
    /// LOG_NOTICE
    Notice,
    /// LOG_INFO
    Info,
    /// LOG_DEBUG
    Debug,
}

/// Everything the hook must do after the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The return code.
    pub code: Code,
    /// Log lines (without the `pam_nnp(SERVICE:session): ` prefix).
    pub logs: Vec<(Level, String)>,
    /// PAM_TEXT_INFO to send to the user.
    pub notice: Option<String>,
}

/// An error under the line's `on_error`.
pub fn error_report(on_error: OnError, user: &str, cause: &str) -> Report {
    let (code, consequence) = match on_error {
        OnError::Deny => (Code::SessionErr, "session refused (on_error=deny)"),
        OnError::Allow => (
            Code::Ignore,
            "session continues WITHOUT no_new_privs (on_error=allow)",
        ),
    };
    Report {
        code,
        logs: vec![(
            Level::Err,
            format!("user {user}: error: {cause}; {consequence}"),
        )],
        notice: None,
    }
}

/// The whole of `pam_sm_open_session` after PAM's items have been read.
pub fn open_session(
    sys: &impl System,
    argv: &[&[u8]],
    user: Option<&[u8]>,
    service: &str,
) -> Report {
    let (args, arg_error) = args::parse(argv);
    let shown = user.map_or_else(|| "(none)".to_string(), escape_name);
    if let Some(e) = arg_error {
        return error_report(args.on_error, &shown, &e.0);
    }
    let Some(user) = user else {
        return error_report(args.on_error, &shown, "PAM_USER is not set");
    };
    let config = match sys.load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            return error_report(args.on_error, &shown, &format!("cannot use config: {e}"));
        }
    };
    let mut logs = Vec::new();
    if config.rules.is_empty() {
        if args.debug {
            logs.push((
                Level::Debug,
                format!(
                    "user {shown}: no rules in {} (or its drop-ins); nothing done",
                    args.config.display()
                ),
            ));
        }
        return Report {
            code: Code::Ignore,
            logs,
            notice: None,
        };
    }
    let account = match sys.account(user) {
        Ok(a) => a,
        Err(e) => return error_report(args.on_error, &shown, &e.to_string()),
    };
    let subject = Subject {
        user: &account.name,
        uid: account.uid,
        groups: &account.groups,
    };
    let decision = config.decide(&subject, Service::Named(service));
    let who = format!("user {shown} (uid {})", account.uid);
    match decision.rule {
        None => {
            if args.debug {
                logs.push((
                    Level::Debug,
                    format!("{who}: no rule matches; nothing done"),
                ));
            }
            Report {
                code: Code::Ignore,
                logs,
                notice: None,
            }
        }
        Some(rule) if !rule.nnp => {
            if args.debug {
                logs.push((
                    Level::Debug,
                    format!("{who}: exempt (nnp = false) by rule {}", rule.at),
                ));
            }
            Report {
                code: Code::Ignore,
                logs,
                notice: None,
            }
        }
        Some(rule) if !decision.sets_nnp() => {
            logs.push((
                Level::Notice,
                format!(
                    "{who}: audit mode: would set no_new_privs by rule {}",
                    rule.at
                ),
            ));
            Report {
                code: Code::Ignore,
                logs,
                notice: None,
            }
        }
        Some(rule) => match sys.set_nnp() {
            Ok(()) => {
                logs.push((
                    Level::Notice,
                    format!("{who}: no_new_privs set by rule {}", rule.at),
                ));
                Report {
                    code: Code::Success,
                    logs,
                    notice: config.notice.clone(),
                }
            }
            Err(e) => error_report(
                args.on_error,
                &shown,
                &format!("rule {} says nnp, but {e}", rule.at),
            ),
        },
    }
}
