//! `nnpctl check`: every error of every file, then warnings that do not fail the check.

use std::path::Path;

use nnp_config::{sys, Config, Users};

use crate::{Failure, Outcome};

/// A warning for a name NSS does not know (or could not be asked about).
fn nss_warning(
    rule: &nnp_config::Rule,
    kind: &str,
    name: &str,
    known: Result<bool, sys::SysError>,
) -> Option<String> {
    let name = name.escape_debug();
    match known {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "{}: {kind} \"{name}\" is not known to NSS",
            rule.at
        )),
        Err(e) => Some(format!("{}: cannot check {kind} \"{name}\": {e}", rule.at)),
    }
}

/// Warnings about a valid config: shadowed rules, names NSS does not know, services that
/// have no PAM stack.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for s in config.shadowed() {
        out.push(format!(
            "{}: rule {} can never match: rule {} at {} already matches everyone it would",
            s.rule.at, s.rule.at.index, s.by.at.index, s.by.at
        ));
    }
    for rule in &config.rules {
        if let Some(Users::Names(names)) = &rule.users {
            out.extend(
                names
                    .iter()
                    .filter_map(|n| nss_warning(rule, "user", n, sys::user_exists(n))),
            );
        }
        out.extend(
            rule.groups
                .iter()
                .flatten()
                .filter_map(|g| nss_warning(rule, "group", g, sys::group_exists(g))),
        );
        // A typo in `services` ("ssh" for "sshd") silently makes a rule never match.
        for svc in rule.services.iter().flatten() {
            if svc.contains('/') || !Path::new("/etc/pam.d").join(svc).is_file() {
                let svc = svc.escape_debug();
                out.push(format!(
                    "{}: service \"{svc}\" has no PAM stack /etc/pam.d/{svc} (a typo? no login program uses it here)",
                    rule.at
                ));
            }
        }
    }
    out
}

pub fn run(path: &Path) -> Result<Outcome, Failure> {
    match nnp_config::load(path) {
        Err(e) => {
            for d in &e.diagnostics {
                println!("{}", d.render());
            }
            let n = e.diagnostics.len();
            println!("{n} error{}", if n == 1 { "" } else { "s" });
            Ok(Outcome::Problem)
        }
        Ok(config) => {
            for w in warnings(&config) {
                println!("warning: {w}");
            }
            let rules = config.rules.len();
            let files = config.files.len();
            println!(
                "ok: {rules} rule{} from {files} file{}",
                if rules == 1 { "" } else { "s" },
                if files == 1 { "" } else { "s" }
            );
            Ok(Outcome::Fine)
        }
    }
}
