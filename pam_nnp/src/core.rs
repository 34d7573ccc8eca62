//! The decision of `pam_sm_open_session`, as plain Rust: no libpam, no syslog. The hook
//! gathers PAM_USER, PAM_SERVICE and the arguments, calls [`open_session`] and applies the
//! [`Report`]: return code, log lines, notice.

use nnp_config::sys::{escape_name, Account, SysError};
use nnp_config::{Config, LoadError, Service, Subject};

use crate::args::{self, OnError};

/// What the system provides; injected so the decision is testable without root or libpam.
pub trait System {
    /// Resolve a user through NSS (its groups only when `with_groups`).
    fn account(&self, user: &[u8], with_groups: bool) -> Result<Account, SysError>;
    /// Load the config (with trust checks).
    fn load(&self, path: &std::path::Path) -> Result<Config, LoadError>;
    /// Set no_new_privs and verify it.
    fn set_nnp(&self) -> Result<(), SysError>;
}

/// The real system.
pub struct RealSystem;

impl System for RealSystem {
    fn account(&self, user: &[u8], with_groups: bool) -> Result<Account, SysError> {
        nnp_config::sys::lookup_name(user, with_groups)
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
    let account = match sys.account(user, config.uses_groups()) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::path::Path;

    struct Fake {
        config: Result<&'static str, &'static str>,
        prctl_fails: bool,
        set: Cell<bool>,
    }

    impl Fake {
        fn new(text: &'static str) -> Fake {
            Fake {
                config: Ok(text),
                prctl_fails: false,
                set: Cell::new(false),
            }
        }
    }

    impl System for Fake {
        fn account(&self, user: &[u8], _with_groups: bool) -> Result<Account, SysError> {
            let (uid, groups) = match user {
                b"alice" => (2001, vec!["alice", "restricted"]),
                b"bob" => (2002, vec!["bob"]),
                b"ldapfail" => {
                    return Err(SysError::Nss {
                        what: "group lookup for gid 5 (getgrgid_r)".into(),
                        errno: libc::EIO,
                    })
                }
                _ => return Err(SysError::UnknownUser(escape_name(user))),
            };
            Ok(Account {
                name: String::from_utf8_lossy(user).into_owned(),
                uid,
                gid: uid,
                shell: "/bin/bash".into(),
                groups: groups.into_iter().map(String::from).collect(),
            })
        }
        fn load(&self, path: &Path) -> Result<Config, LoadError> {
            match self.config {
                Ok(text) => nnp_config::parse_text(path, text),
                Err(msg) => Err(nnp_config::Diagnostic::file(path, msg).into()),
            }
        }
        fn set_nnp(&self) -> Result<(), SysError> {
            if self.prctl_fails {
                return Err(SysError::Prctl {
                    what: "prctl(PR_SET_NO_NEW_PRIVS)",
                    errno: libc::EINVAL,
                });
            }
            self.set.set(true);
            Ok(())
        }
    }

    const RULES: &str = "notice = \"NNP is on\"\n[[rule]]\nusers = [\"carol\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n";

    fn run(fake: &Fake, args: &[&[u8]], user: &[u8]) -> Report {
        open_session(fake, args, Some(user), "sshd")
    }

    #[test]
    fn matched_user_gets_nnp_notice_and_a_log_line() {
        let f = Fake::new(RULES);
        let r = run(&f, &[], b"alice");
        assert_eq!(r.code, Code::Success);
        assert!(f.set.get());
        assert_eq!(r.notice.as_deref(), Some("NNP is on"));
        assert_eq!(
            r.logs,
            [(
                Level::Notice,
                "user alice (uid 2001): no_new_privs set by rule /etc/security/nnp.toml:5"
                    .to_string()
            )]
        );
    }

    #[test]
    fn unmatched_user_is_ignored_silently_unless_debug() {
        let f = Fake::new(RULES);
        let r = run(&f, &[], b"bob");
        assert_eq!((r.code, r.logs.len()), (Code::Ignore, 0));
        assert!(!f.set.get());
        let r = run(&f, &[b"debug"], b"bob");
        assert_eq!(
            r.logs[0].1,
            "user bob (uid 2002): no rule matches; nothing done"
        );
    }

    #[test]
    fn audit_mode_logs_would_set() {
        let f = Fake::new("mode = \"audit\"\n[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
        let r = run(&f, &[], b"alice");
        assert_eq!(r.code, Code::Ignore);
        assert!(!f.set.get());
        assert_eq!(
            r.logs[0].1,
            "user alice (uid 2001): audit mode: would set no_new_privs by rule /etc/security/nnp.toml:2"
        );
    }

    #[test]
    fn errors_follow_on_error() {
        let f = Fake {
            config: Err("untrusted file: writable by others (mode 0666)"),
            ..Fake::new("")
        };
        let r = run(&f, &[], b"alice");
        assert_eq!(r.code, Code::SessionErr);
        assert_eq!(
            r.logs[0].1,
            "user alice: error: cannot use config: /etc/security/nnp.toml: untrusted file: writable by others (mode 0666); session refused (on_error=deny)"
        );
        let r = run(&f, &[b"on_error=allow"], b"alice");
        assert_eq!(r.code, Code::Ignore);
        assert!(r.logs[0]
            .1
            .ends_with("session continues WITHOUT no_new_privs (on_error=allow)"));
    }

    #[test]
    fn unknown_user_nss_failure_and_prctl_failure_are_errors() {
        let f = Fake::new(RULES);
        assert_eq!(run(&f, &[], b"nobody-here").code, Code::SessionErr);
        assert_eq!(run(&f, &[], b"ldapfail").code, Code::SessionErr);
        assert_eq!(
            run(&f, &[b"on_error=allow"], b"ldapfail").code,
            Code::Ignore
        );
        let f = Fake {
            prctl_fails: true,
            ..Fake::new(RULES)
        };
        let r = run(&f, &[], b"alice");
        assert_eq!(r.code, Code::SessionErr);
        assert!(r.logs[0].1.contains("prctl(PR_SET_NO_NEW_PRIVS) failed"));
    }

    #[test]
    fn hostile_user_names_are_escaped_in_logs() {
        let f = Fake::new(RULES);
        let r = run(&f, &[], b"evil\nJan 1 pam_nnp: forged\xff");
        assert_eq!(r.code, Code::SessionErr);
        assert!(!r.logs[0].1.contains('\n'));
        assert!(r.logs[0].1.contains("evil\\nJan 1 pam_nnp: forged\\xff"));
        assert_eq!(open_session(&f, &[], None, "sshd").code, Code::SessionErr);
    }

    #[test]
    fn no_rules_means_nothing_is_done_even_for_unknown_users() {
        let f = Fake::new("# nothing\n");
        assert_eq!(run(&f, &[], b"nobody-here").code, Code::Ignore);
    }

    #[test]
    fn bad_argument_is_an_error() {
        let f = Fake::new(RULES);
        let r = run(&f, &[b"on_eror=allow"], b"alice");
        assert_eq!(r.code, Code::SessionErr);
        assert!(!f.set.get());
    }
}
