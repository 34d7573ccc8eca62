//! What `pam_sm_open_session` does once PAM's items and the module arguments are plain
//! values: load the config, ask the one decision function of nnp-config, apply `prctl`, and
//! describe the result (code, log lines, notice). No libpam, no syslog here.

use std::path::Path;

use nnp_config::{Config, Directory, LoadError, Resolver, Verdict, Who};

use nnp_config::args::{Args, OnError};
use nnp_sys::pamlog::Priority;

/// What the system provides; injected so the hook is testable without root or libpam.
pub trait System {
    /// Load the config (with trust checks); `explicit`: named by `config=`, so a missing
    /// main file is an error ([`nnp_config::load_explicit`]).
    fn load(&self, path: &Path, explicit: bool) -> Result<Config, LoadError>;
    /// The directory the decision looks facts up in.
    fn directory(&self) -> &dyn Directory;
    /// Set no_new_privs and verify it.
    fn set_nnp(&self) -> Result<(), nnp_sys::SysError>;
}

/// The real system.
pub struct RealSystem;

impl System for RealSystem {
    fn load(&self, path: &Path, explicit: bool) -> Result<Config, LoadError> {
        nnp_config::load_explicit(path, explicit)
    }
    fn directory(&self) -> &dyn Directory {
        &nnp_config::Nss
    }
    fn set_nnp(&self) -> Result<(), nnp_sys::SysError> {
        nnp_sys::set_no_new_privs()
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

/// The module's response to PAM: everything the hook must do after the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The return code.
    pub code: Code,
    /// Log lines (pam_syslog adds the `pam_nnp(SERVICE:session): ` prefix).
    pub logs: Vec<(Priority, String)>,
    /// PAM_TEXT_INFO to send to the user.
    pub notice: Option<String>,
}

impl Response {
    fn ignore(logs: Vec<(Priority, String)>) -> Response {
        Response {
            code: Code::Ignore,
            logs,
            notice: None,
        }
    }
}

/// An error under the line's `on_error`.
pub fn error_response(on_error: OnError, user: &str, cause: &str) -> Response {
    let (code, consequence) = match on_error {
        OnError::Deny => (Code::SessionErr, "session refused (on_error=deny)"),
        OnError::Allow => (
            Code::Ignore,
            "session continues WITHOUT no_new_privs (on_error=allow)",
        ),
    };
    Response {
        code,
        logs: vec![(
            Priority::Err,
            format!("user {user}: error: {cause}; {consequence}"),
        )],
        notice: None,
    }
}

/// The whole of `pam_sm_open_session` after PAM's items and the arguments have been read.
pub fn open_session(sys: &dyn System, args: &Args, user: Option<&[u8]>, service: &str) -> Response {
    let shown = user.map_or_else(|| "(none)".to_string(), nnp_config::escape_value);
    let Some(user) = user else {
        return error_response(args.on_error, &shown, "PAM_USER is not set");
    };
    let config = match sys.load(&args.config, args.config_explicit) {
        Ok(c) => c,
        Err(e) => {
            return error_response(args.on_error, &shown, &format!("cannot use config: {e}"));
        }
    };
    let mut res = Resolver::new(sys.directory());
    // systemd's user manager (service systemd-user; pam_systemd starts one per uid for the
    // first session of any service, and for a lingering user): the config crate decides it
    // across every service, so `services = ["sshd"]` cannot leave an sshd user a manager
    // without NNP, and across every account of the uid, since systemd opens its session
    // for the uid's first passwd name whichever name logged in.
    let manager = nnp_config::is_user_manager(service);
    let decided = config.decide_module(&mut res, Who::Name(user), Some(service));
    let decision = match decided {
        Ok(d) => d,
        Err(e) => return error_response(args.on_error, &shown, &e.to_string()),
    };
    let who = match &decision.user {
        Some(u) => format!("user {shown} (uid {})", u.uid),
        None => format!("user {shown}"),
    };
    let mut logs = Vec::new();
    let scope = match (&decision.alias, manager) {
        (Some(other), _) => format!(
            " (user manager: the rules of every service and every account of the uid apply; decided for account {})",
            nnp_config::escape_value(&other.name)
        ),
        (None, true) => " (user manager: the rules of every service apply)".to_string(),
        (None, false) => String::new(),
    };
    match decision.verdict {
        Verdict::Enforce(rule) => match sys.set_nnp() {
            Ok(()) => {
                logs.push((
                    Priority::Notice,
                    format!("{who}: no_new_privs set by rule {}{scope}", rule.at),
                ));
                Response {
                    code: Code::Success,
                    logs,
                    notice: config.notice.clone(),
                }
            }
            Err(e) => error_response(
                args.on_error,
                &shown,
                &format!("rule {} says nnp, but {e}", rule.at),
            ),
        },
        Verdict::Audit(rule) => {
            logs.push((
                Priority::Notice,
                format!(
                    "{who}: audit mode: would set no_new_privs by rule {}{}",
                    rule.at,
                    if decision.alias.is_some() {
                        scope.as_str()
                    } else {
                        ""
                    }
                ),
            ));
            Response::ignore(logs)
        }
        Verdict::Exempt(rule) => {
            if args.debug {
                logs.push((
                    Priority::Debug,
                    format!("{who}: exempt (nnp = false) by rule {}", rule.at),
                ));
            }
            Response::ignore(logs)
        }
        Verdict::NoMatch => {
            if args.debug {
                let why = if config.rules.is_empty() {
                    format!(
                        "no rules in {} (or its drop-ins); nothing looked up, nothing done",
                        args.config.display()
                    )
                } else {
                    "no rule matches; nothing done".to_string()
                };
                logs.push((Priority::Debug, format!("{who}: {why}")));
            }
            Response::ignore(logs)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use nnp_config::{GroupEntry, LookupError, UserEntry};
    use std::cell::Cell;

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

    /// alice (2001, in restricted 4100), bob (2002), ldapfail (whose group list fails);
    /// first and second (/etc/passwd in this order, both uid 2005; second in restricted).
    struct Dir;
    fn entry(name: &[u8], uid: u32) -> UserEntry {
        UserEntry {
            name: name.to_vec(),
            uid,
            gid: uid,
        }
    }
    impl Directory for Dir {
        fn user_by_name(&self, name: &[u8]) -> Result<Option<UserEntry>, LookupError> {
            let uid = match name {
                b"alice" => 2001,
                b"bob" => 2002,
                b"ldapfail" => 2003,
                b"first" | b"second" => 2005,
                _ => return Ok(None),
            };
            Ok(Some(entry(name, uid)))
        }
        fn user_by_uid(&self, uid: u32) -> Result<Option<UserEntry>, LookupError> {
            Ok((uid == 2005).then(|| entry(b"first", 2005)))
        }
        fn group_by_name(&self, name: &[u8]) -> Result<Option<GroupEntry>, LookupError> {
            Ok((name == b"restricted").then(|| GroupEntry {
                name: name.to_vec(),
                gid: 4100,
                members: vec![b"alice".to_vec(), b"second".to_vec()],
            }))
        }
        fn local_users(&self) -> Result<Vec<UserEntry>, LookupError> {
            Ok(vec![entry(b"first", 2005), entry(b"second", 2005)])
        }
        fn group_ids(&self, user: &[u8], primary: u32) -> Result<Vec<u32>, LookupError> {
            match user {
                b"ldapfail" => Err(LookupError::Source(nnp_sys::SysError {
                    what: "group list lookup (getgrouplist)".into(),
                    errno: 5,
                })),
                _ => Ok(vec![primary]),
            }
        }
    }

    impl System for Fake {
        fn load(&self, path: &Path, required: bool) -> Result<Config, LoadError> {
            match self.config {
                Ok("MISSING") if required => Err(nnp_config::Diagnostic::file(
                    path,
                    "cannot read file: No such file or directory",
                )
                .into()),
                Ok("MISSING") => nnp_config::parse_text(path, ""),
                Ok(text) => nnp_config::parse_text(path, text),
                Err(msg) => Err(nnp_config::Diagnostic::file(path, msg).into()),
            }
        }
        fn directory(&self) -> &dyn Directory {
            &Dir
        }
        fn set_nnp(&self) -> Result<(), nnp_sys::SysError> {
            if self.prctl_fails {
                return Err(nnp_sys::SysError {
                    what: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
                    errno: 22,
                });
            }
            self.set.set(true);
            Ok(())
        }
    }

    const RULES: &str = "notice = \"NNP is on\"\n[[rule]]\nusers = [\"carol\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n";

    fn run(fake: &Fake, argv: &[&[u8]], user: &[u8]) -> Response {
        let (args, err) = crate::args::parse(argv);
        assert!(err.is_none());
        open_session(fake, &args, Some(user), "sshd")
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
                Priority::Notice,
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
        let r = run(&f, &[], b"ldapfail");
        assert_eq!(r.code, Code::SessionErr);
        assert!(r.logs[0].1.contains("getgrouplist) failed"), "{:?}", r.logs);
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
        assert!(
            r.logs[0].1.contains(
                "says nnp, but prctl(PR_SET_NO_NEW_PRIVS) failed: Invalid argument (errno 22)"
            ),
            "{:?}",
            r.logs
        );
    }

    #[test]
    fn hostile_user_names_are_escaped_in_logs() {
        let f = Fake::new(RULES);
        let r = run(&f, &[], b"evil\nJan 1 pam_nnp: forged\xff");
        assert_eq!(r.code, Code::SessionErr);
        assert!(!r.logs[0].1.contains('\n'));
        assert!(r.logs[0].1.contains("evil\\nJan 1 pam_nnp: forged\\xff"));
        let (args, _) = crate::args::parse(&[]);
        assert_eq!(open_session(&f, &args, None, "sshd").code, Code::SessionErr);
    }

    /// Regression (issue 21): with `services = ["sshd"]` a restricted user's ssh session had
    /// NNP but the user manager it started (service systemd-user) had not, and
    /// `systemd-run --user` from that session ran setuid programs with euid 0.
    #[test]
    fn user_manager_is_decided_across_all_services() {
        let text = "[[rule]]\ngroups = [\"restricted\"]\nservices = [\"sshd\"]\nnnp = true\n";
        let (args, _) = crate::args::parse(&[]);
        let f = Fake::new(text);
        let r = open_session(&f, &args, Some(b"alice"), "systemd-user");
        assert_eq!(r.code, Code::Success);
        assert!(f.set.get());
        assert_eq!(
            r.logs[0].1,
            "user alice (uid 2001): no_new_privs set by rule /etc/security/nnp.toml:1 (user manager: the rules of every service apply)"
        );
        // Linux-PAM lowercases service names; the comparison does not depend on it.
        let f = Fake::new(text);
        assert_eq!(
            open_session(&f, &args, Some(b"alice"), "Systemd-User").code,
            Code::Success
        );
        // another service the rule does not name: nothing, as before
        let f = Fake::new(text);
        assert_eq!(
            open_session(&f, &args, Some(b"alice"), "login").code,
            Code::Ignore
        );
        assert!(!f.set.get());
        // an exemption for systemd-user cannot lift what a session would get
        let f = Fake::new(
            "[[rule]]\nusers = [\"alice\"]\nservices = [\"systemd-user\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n",
        );
        assert_eq!(
            open_session(&f, &args, Some(b"alice"), "systemd-user").code,
            Code::Success
        );
        // control: a user whom no service restricts gets nothing
        let f = Fake::new(text);
        assert_eq!(
            open_session(&f, &args, Some(b"bob"), "systemd-user").code,
            Code::Ignore
        );
        assert!(!f.set.get());
    }

    /// Review (HIGH): systemd opens the user manager's session for the uid's first passwd
    /// name; with only the second name restricted, the manager of her logins had no NNP.
    #[test]
    fn user_manager_is_decided_for_every_name_of_the_uid() {
        let (args, _) = crate::args::parse(&[]);
        let f = Fake::new(RULES);
        assert_eq!(run(&f, &[], b"second").code, Code::Success);
        let f = Fake::new(RULES);
        assert_eq!(run(&f, &[], b"first").code, Code::Ignore); // a session of its own
        let f = Fake::new(RULES);
        let r = open_session(&f, &args, Some(b"first"), "systemd-user");
        assert_eq!(r.code, Code::Success);
        assert!(f.set.get());
        assert_eq!(
            r.logs[0].1,
            "user first (uid 2005): no_new_privs set by rule /etc/security/nnp.toml:5 (user manager: the rules of every service and every account of the uid apply; decided for account second)"
        );
        let f = Fake::new("mode = \"audit\"\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
        let r = open_session(&f, &args, Some(b"first"), "systemd-user");
        assert_eq!(r.code, Code::Ignore);
        assert!(
            r.logs[0].1.ends_with("decided for account second)"),
            "{:?}",
            r.logs
        );
    }

    #[test]
    fn no_rules_means_nothing_is_done_even_for_unknown_users() {
        let f = Fake::new("# nothing\n");
        assert_eq!(run(&f, &[], b"nobody-here").code, Code::Ignore);
    }

    #[test]
    fn explicit_missing_config_is_an_error_default_missing_is_no_rules() {
        let f = Fake::new("MISSING");
        assert_eq!(run(&f, &[], b"alice").code, Code::Ignore);
        let r = run(&f, &[b"config=/etc/security/nnp.tmol"], b"alice");
        assert_eq!(r.code, Code::SessionErr);
        assert!(
            r.logs[0]
                .1
                .contains("/etc/security/nnp.tmol: cannot read file"),
            "{:?}",
            r.logs
        );
    }
}
