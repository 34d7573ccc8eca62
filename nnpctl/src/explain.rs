//! `nnpctl explain`: the decision for one user, computed by the module's own code path.

use std::path::Path;

use nnp_config::{sys, Service, Subject};
use serde::Serialize;

use crate::{Failure, Outcome};

#[derive(Serialize)]
struct RuleJson {
    file: String,
    line: usize,
    index: usize,
}

#[derive(Serialize)]
struct ExplainJson<'a> {
    user: &'a str,
    service: Option<&'a str>,
    nnp: bool,
    mode: &'a str,
    rule: Option<RuleJson>,
    shell: &'a str,
}

pub fn run(path: &Path, user: &str, service: Option<&str>, json: bool) -> Result<Outcome, Failure> {
    let config = nnp_config::load(path)?;
    let account = sys::lookup_name(user.as_bytes(), true)?;
    let subject = Subject {
        user: &account.name,
        uid: account.uid,
        groups: &account.groups,
    };
    let svc = service.map_or(Service::Unnamed, Service::Named);
    let decision = config.decide(&subject, svc);
    let shell = config.shell_for(&subject);
    if json {
        let out = ExplainJson {
            user: &account.name,
            service,
            nnp: decision.nnp,
            mode: decision.mode.as_str(),
            rule: decision.rule.map(|r| RuleJson {
                file: r.at.file.display().to_string(),
                line: r.at.line,
                index: r.at.index,
            }),
            shell: shell.shell,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Fine);
    }
    let svc_text = service.map_or_else(
        || "(none given: rules with `services` do not match)".to_string(),
        str::to_string,
    );
    println!("user:     {} (uid {})", account.name, account.uid);
    println!("groups:   {}", account.groups.join(", "));
    println!("service:  {svc_text}");
    match decision.rule {
        None => println!("rule:     none matches"),
        Some(r) => {
            println!("rule:     #{} at {}", r.at.index, r.at);
            let g = r.matched_groups(&subject);
            if !g.is_empty() {
                println!(
                    "matched:  group{} {}",
                    if g.len() == 1 { "" } else { "s" },
                    g.join(", ")
                );
            }
        }
    }
    println!("mode:     {}", decision.mode);
    let what = match (decision.rule, decision.nnp, decision.sets_nnp()) {
        (None, _, _) => "nothing is done (no rule matches)".to_string(),
        (Some(_), false, _) => "nothing is done (exempt: nnp = false)".to_string(),
        (Some(_), true, true) => "pam_nnp sets no_new_privs".to_string(),
        (Some(_), true, false) => "audit: pam_nnp logs \"would set\" and sets nothing".to_string(),
    };
    println!("decision: {what}");
    let from = match shell.rule {
        Some(r) if r.shell.is_some() => format!("rule #{}", r.at.index),
        _ if config.shell.is_some() => "top-level shell".to_string(),
        _ => "default".to_string(),
    };
    println!(
        "shell:    {} ({from}; what nnp-shell would run)",
        shell.shell
    );
    Ok(Outcome::Fine)
}
