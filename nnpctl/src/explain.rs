//! `nnpctl explain`: the decision for one user, from the config crate's one decision
//! function, exactly as the module (for a service) and nnp-shell (services ignored) make it.

use std::path::Path;

use nnp_config::{escape_value, DecideError, Nss, Resolver, Verdict, Who};
use serde::Serialize;

use crate::{Error, Outcome, Output};

#[derive(Serialize)]
struct RuleJson {
    file: String,
    line: usize,
    index: usize,
}

#[derive(Serialize)]
struct ModuleJson {
    service: Option<String>,
    verdict: &'static str,
    rule: Option<RuleJson>,
}

#[derive(Serialize)]
struct GuardJson {
    loaded: bool,
    in_force: bool,
    /// the loaded guard's action: "degrade", "refuse", "kill" (null: not loaded)
    action: Option<&'static str>,
    verdict: &'static str,
    rule: Option<usize>,
    error: Option<String>,
}

#[derive(Serialize)]
struct EnforcementJson {
    module: Vec<ModuleJson>,
    nnp_shell: &'static str,
    guard: GuardJson,
}

#[derive(Serialize)]
struct ExplainJson {
    schema: &'static str,
    user: String,
    uid: Option<u32>,
    service: Option<String>,
    nnp: bool,
    verdict: &'static str,
    mode: &'static str,
    rule: Option<RuleJson>,
    because: Option<String>,
    error: Option<String>,
    shell: String,
    enforcement: EnforcementJson,
}

fn rule_json(r: &nnp_config::Rule) -> RuleJson {
    RuleJson {
        file: r.at.file.display().to_string(),
        line: r.at.line,
        index: r.at.index,
    }
}

/// The PAM service of systemd's user manager (`user@UID.service`): pam_nnp decides it
/// across every service and every account of the uid ([`nnp_config::Config::decide_module`]),
/// so that a session's manager is never less restricted than a session that could have
/// started it, whichever name of the uid logged in.
pub(crate) const USER_MANAGER_SERVICE: &str = nnp_config::USER_MANAGER_SERVICE;

/// The decision pam_nnp makes for `service` (lowercased, as libpam passes it): the config
/// crate's one function for a PAM service.
fn decide_as_module<'c>(
    config: &'c nnp_config::Config,
    res: &mut Resolver<'_>,
    user: &[u8],
    service: Option<&str>,
) -> Result<nnp_config::Decision<'c>, DecideError> {
    config.decide_module(res, Who::Name(user), service)
}

/// What each of the three enforcement points would do for the user: the module for every
/// service a rule names, for systemd's user manager and for any other service, nnp-shell,
/// the exec guard.
fn enforcement(config: &nnp_config::Config, user: &[u8]) -> EnforcementJson {
    let mut services = config.named_services();
    if !services.iter().any(|s| s == USER_MANAGER_SERVICE) {
        services.push(USER_MANAGER_SERVICE.to_string());
    }
    let mut res = Resolver::new(&Nss);
    let mut module = Vec::new();
    for svc in services.iter().map(Some).chain(std::iter::once(None)) {
        let (verdict, rule) =
            match decide_as_module(config, &mut res, user, svc.map(String::as_str)) {
                Ok(d) => (d.verdict.as_str(), d.rule().map(rule_json)),
                Err(_) => ("error", None),
            };
        module.push(ModuleJson {
            service: svc.cloned(),
            verdict,
            rule,
        });
    }
    let state = nnp_guard::GuardState::read();
    let loaded = state.loaded;
    let t = config.guard_table_with(&mut res);
    let action = state.action;
    // the verdict names the action in force, or (not loaded) the one a load would attach
    let verdict_action = state.action_or_would_load(config.guard_action);
    let error = |msg: String| GuardJson {
        loaded,
        in_force: state.in_force(),
        action: action.map(nnp_guard::Action::as_str),
        verdict: "error",
        rule: None,
        error: Some(msg),
    };
    // The guard decides from the kernel's credentials (uid, gid, groups): the user's as NSS
    // gives them now. A lookup that fails is an error, never "no rule".
    let guard = match nnp_sys::getpw(nnp_sys::PwKey::Name(user)) {
        Err(e) => error(format!("the user cannot be looked up: {e}")),
        Ok(None) => error("the user is not known to NSS".into()),
        Ok(Some(pw)) => match nnp_sys::group_list(&pw.name, pw.gid) {
            Err(e) => error(format!("the user's groups cannot be looked up: {e}")),
            Ok(groups) => {
                let v = t
                    .lookup(pw.uid, pw.gid, &groups)
                    .map(nnp_config::guard::decode);
                let verdict = match v {
                    None => "allow (no rule)",
                    Some((_, nnp_config::guard::GuardVerdict::Exempt)) => "allow (exempt)",
                    Some((_, nnp_config::guard::GuardVerdict::Audit)) => {
                        "audit (log would-refuse, allow)"
                    }
                    Some((_, nnp_config::guard::GuardVerdict::Enforce)) => match verdict_action {
                        nnp_guard::Action::Degrade => {
                            "run privilege-raising exec with the caller's privileges (degrade)"
                        }
                        nnp_guard::Action::Kill => "kill privilege-raising exec",
                        nnp_guard::Action::Refuse => "refuse privilege-raising exec",
                    },
                };
                GuardJson {
                    loaded,
                    in_force: state.in_force(),
                    action: action.map(nnp_guard::Action::as_str),
                    verdict,
                    rule: v.map(|(i, _)| i),
                    error: t
                        .degraded()
                        .then(|| format!("degraded: {}", t.unresolved.join("; "))),
                }
            }
        },
    };
    EnforcementJson {
        module,
        nnp_shell: "sets no_new_privs (always, for users whose login shell it is)",
        guard,
    }
}

pub fn run(
    path: Option<&Path>,
    user: &[u8],
    service: Option<&str>,
    json: bool,
) -> Result<Output, Error> {
    let config = nnp_config::load_main(path)?;
    // Linux-PAM lowercases service names: the module sees `--service SSHD` as "sshd".
    let service = service.map(str::to_lowercase);
    let mut res = Resolver::new(&Nss);
    let decision = decide_as_module(&config, &mut res, user, service.as_deref());
    let shell = config.shell_for(&mut res, Who::Name(user));
    let shell_text = match &shell {
        Ok(s) => s.shell.to_string(),
        Err(_) => nnp_config::DEFAULT_SHELL.to_string(),
    };
    let mut r = Output::new();
    let shown = escape_value(user);
    if json {
        let (d, error): (Option<&nnp_config::Decision<'_>>, Option<&DecideError>) = match &decision
        {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        };
        let rule = d.and_then(|d| d.rule());
        let out = ExplainJson {
            schema: "nnp.explain/1",
            user: shown.clone(),
            uid: d.and_then(|d| d.user.as_ref()).map(|u| u.uid),
            service: service.clone(),
            nnp: d.is_some_and(|d| d.restricts()),
            verdict: d.map_or("error", |d| d.verdict.as_str()),
            mode: d.map_or(config.mode, |d| d.mode).as_str(),
            rule: rule.map(|r| RuleJson {
                file: r.at.file.display().to_string(),
                line: r.at.line,
                index: r.at.index,
            }),
            because: d.and_then(|d| d.because.clone()),
            error: error.map(|e| e.to_string()),
            shell: shell_text,
            enforcement: enforcement(&config, user),
        };
        r.line(serde_json::to_string_pretty(&out)?);
        r.outcome = if error.is_some() {
            Outcome::Incomplete
        } else {
            Outcome::Fine
        };
        return Ok(r);
    }
    let svc_text = match service.as_deref() {
        None => "(none given: rules with `services` do not match)".to_string(),
        Some(USER_MANAGER_SERVICE) => format!(
            "{USER_MANAGER_SERVICE} (systemd's user manager: decided across every service and every account of the uid, as pam_nnp does; no_new_privs when any service's session of any of them would get it)"
        ),
        Some(s) => s.to_string(),
    };
    match &decision {
        Ok(d) => match &d.user {
            Some(u) => r.line(format!(
                "user:     {shown} (uid {}, canonical name {})",
                u.uid,
                escape_value(&u.name)
            )),
            None => r.line(format!(
                "user:     {shown} (not looked up: there are no rules)"
            )),
        },
        Err(_) => r.line(format!("user:     {shown}")),
    }
    r.line(format!("service:  {svc_text}"));
    match &decision {
        Err(e) => {
            r.line(format!("error:    {e}"));
            r.line("decision: the module follows on_error: deny (the default) refuses the session, allow lets it continue WITHOUT no_new_privs");
            r.outcome = Outcome::Incomplete;
        }
        Ok(d) => {
            match d.rule() {
                None => r.line("rule:     none matches"),
                Some(rule) => r.line(format!("rule:     #{} at {}", rule.at.index, rule.at)),
            }
            if let Some(b) = &d.because {
                r.line(format!("matched:  {b}"));
            }
            r.line(format!("mode:     {}", d.mode));
            let what = match d.verdict {
                Verdict::NoMatch if config.rules.is_empty() => {
                    "nothing is done (no rules: nothing looked up)"
                }
                Verdict::NoMatch => "nothing is done (no rule matches)",
                Verdict::Exempt(_) => "nothing is done (exempt: nnp = false)",
                Verdict::Enforce(_) => "pam_nnp sets no_new_privs",
                Verdict::Audit(_) => "audit: pam_nnp logs \"would set\" and sets nothing",
            };
            r.line(format!("decision: {what}"));
        }
    }
    let e = enforcement(&config, user);
    r.line("enforcement points:");
    for m in &e.module {
        r.line(format!(
            "  pam_nnp, service {}: {}{}",
            m.service.as_deref().unwrap_or("(any other)"),
            m.verdict,
            m.rule
                .as_ref()
                .map(|x| format!(" by rule #{} at {}:{}", x.index, x.file, x.line))
                .unwrap_or_default()
        ));
    }
    r.line(format!("  nnp-shell: {}", e.nnp_shell));
    r.line(format!(
        "  exec guard ({}): {}{}{}",
        match (e.guard.loaded, e.guard.in_force) {
            (true, true) => "in force",
            (true, false) => "loaded but not in force (see nnpctl guard status); if in force",
            (false, _) => "not loaded; if loaded",
        },
        e.guard.verdict,
        e.guard
            .rule
            .map(|i| format!(" by rule #{i}"))
            .unwrap_or_default(),
        e.guard
            .error
            .as_ref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default()
    ));
    match &shell {
        Ok(s) => r.line(format!(
            "shell:    {} ({}; what nnp-shell would run)",
            s.shell,
            match (s.source, s.rule) {
                ("rule", Some(rule)) => format!("rule #{}", rule.at.index),
                (src, _) => src.to_string(),
            }
        )),
        Err(e) => r.line(format!(
            "shell:    {} (nnp-shell cannot decide: {e}; it warns and runs {})",
            shell_text,
            nnp_config::DEFAULT_SHELL
        )),
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A rule for root (known to NSS everywhere) narrowed to sshd.
    fn sshd_only() -> nnp_config::Config {
        nnp_config::parse_text(
            Path::new("/etc/security/nnp.toml"),
            "[[rule]]\nusers = [\"root\"]\nservices = [\"sshd\"]\nnnp = true\n",
        )
        .unwrap()
    }

    #[test]
    fn the_user_manager_is_decided_across_every_service_as_the_module_does() {
        let c = sshd_only();
        let mut res = Resolver::new(&Nss);
        let d = decide_as_module(&c, &mut res, b"root", Some(USER_MANAGER_SERVICE)).unwrap();
        assert!(d.restricts(), "{:?}", d.verdict);
        assert_eq!(d.rule().map(|r| r.at.index), Some(1));
        // control: a service the rule does not name, and no service at all
        let d = decide_as_module(&c, &mut res, b"root", Some("cron")).unwrap();
        assert!(!d.restricts());
        let d = decide_as_module(&c, &mut res, b"root", None).unwrap();
        assert!(!d.restricts());
        // the enforcement points list the user manager with the module's verdict
        let e = enforcement(&c, b"root");
        let row = |s: Option<&str>| {
            e.module
                .iter()
                .find(|m| m.service.as_deref() == s)
                .map(|m| m.verdict)
                .unwrap()
        };
        assert_eq!(row(Some("sshd")), "enforce");
        assert_eq!(row(Some(USER_MANAGER_SERVICE)), "enforce");
        assert_eq!(row(None), "no-match");
    }
}
