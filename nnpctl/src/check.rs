//! `nnpctl check`: every error of every file, then what NSS says about the names the rules
//! use ([`nnp_config::Config::lint`]; a group that an `nnp = true` rule names and NSS does
//! not know is a problem: the module refuses every user that reaches that rule), rendered.

use std::path::Path;

use nnp_config::Nss;

use crate::pamstack::PAM_DIR;
use crate::{plural, Error, Outcome, Output};

pub fn run(path: Option<&Path>) -> Result<Output, Error> {
    let mut r = Output::new();
    match nnp_config::load_main(path) {
        Err(e) => {
            for d in &e.diagnostics {
                r.line(d.render());
            }
            let n = e.diagnostics.len();
            r.line(plural(n, "error"));
            r.outcome = Outcome::Problem;
        }
        Ok(config) => {
            let f = config.lint(&Nss, Path::new(PAM_DIR));
            for w in &f.warnings {
                r.line(format!("warning: {w}"));
            }
            for u in &f.unchecked {
                r.line(format!("unchecked: {u}"));
            }
            for p in &f.problems {
                r.line(format!("problem: {p}"));
            }
            let rules = config.rules.len();
            let files = config.files.len();
            let summary = format!("{} from {}", plural(rules, "rule"), plural(files, "file"));
            if !f.problems.is_empty() {
                r.line(format!("problems: {summary}"));
                r.outcome = Outcome::Problem;
            } else if !f.unchecked.is_empty() {
                r.line(format!(
                    "incomplete: {summary}; some names could not be checked"
                ));
                r.outcome = Outcome::Incomplete;
            } else {
                r.line(format!("ok: {summary}"));
            }
        }
    }
    Ok(r)
}
