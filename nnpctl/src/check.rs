//! `nnpctl check`: every error of every file, then warnings that do not fail the check.

use std::path::Path;

use nnp_config::{sys, Config, Users};

use crate::{Failure, Outcome};

/// Warnings about a valid config: shadowed rules, names NSS does not know.
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
            for n in names {
                match sys::user_exists(n) {
                    Ok(true) => {}
                    Ok(false) => out.push(format!(
                        "{}: user \"{}\" is not known to NSS",
                        rule.at,
                        n.escape_debug()
                    )),
                    Err(e) => out.push(format!(
                        "{}: cannot check user \"{}\": {e}",
                        rule.at,
                        n.escape_debug()
                    )),
                }
            }
        }
        // A typo in `services` ("ssh" for "sshd") silently makes a rule never match.
        for svc in rule.services.iter().flatten() {
            let stack = std::path::Path::new("/etc/pam.d").join(svc);
            if svc.contains('/') || !stack.is_file() {
                out.push(format!(
                    "{}: service \"{}\" has no PAM stack /etc/pam.d/{} (a typo? the rule never matches it)",
                    rule.at,
                    svc.escape_debug(),
                    svc.escape_debug()
                ));
            }
        }
        for g in rule.groups.iter().flatten() {
            match sys::group_exists(g) {
                Ok(true) => {}
                Ok(false) => out.push(format!(
                    "{}: group \"{}\" is not known to NSS",
                    rule.at,
                    g.escape_debug()
                )),
                Err(e) => out.push(format!(
                    "{}: cannot check group \"{}\": {e}",
                    rule.at,
                    g.escape_debug()
                )),
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
