//! `nnpctl doctor`: inspect the installation, a line per finding; exit 1 on a problem.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Failure, Outcome};

const PAM_DIR: &str = "/etc/pam.d";

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Level {
    Ok,
    Info,
    Warning,
    Problem,
}

struct Report {
    worst: Level,
}

impl Report {
    fn say(&mut self, level: Level, msg: impl AsRef<str>) {
        let tag = match level {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Problem => "problem",
        };
        println!("{tag}: {}", msg.as_ref());
        self.worst = self.worst.max(level);
    }
}

/// One session-phase module line, after following includes.
struct SessionLine {
    module: String,
    args: Vec<String>,
    /// `file:line` where it is written.
    origin: String,
}

fn module_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `pam_nnp.so` by name or path (also a build tree's `libpam_nnp.so`).
fn is_pam_nnp(module: &str) -> bool {
    matches!(module_name(module), "pam_nnp.so" | "libpam_nnp.so")
}

/// Split a PAM line into type, control, module path, args (control may be `[...]`).
fn split_pam_line(line: &str) -> Option<(String, String, String, Vec<String>)> {
    let line = line.trim();
    let (ty, rest) = line.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (control, rest) = if let Some(r) = rest.strip_prefix('[') {
        let end = r.find(']')?;
        (format!("[{}]", &r[..end]), r[end + 1..].trim_start())
    } else {
        let (c, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        (c.to_string(), r.trim_start())
    };
    let mut words = rest.split_whitespace();
    let module = words.next().unwrap_or("").to_string();
    Some((
        ty.trim_start_matches('-').to_lowercase(),
        control,
        module,
        words.map(str::to_string).collect(),
    ))
}

/// The session modules of a PAM service file, following `@include`, `include` and `substack`.
fn session_stack(dir: &Path, name: &str, depth: usize, out: &mut Vec<SessionLine>) {
    if depth > 16 {
        return;
    }
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        dir.join(name)
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(inc) = line.strip_prefix("@include") {
            session_stack(dir, inc.trim(), depth + 1, out);
            continue;
        }
        let Some((ty, control, module, args)) = split_pam_line(line) else {
            continue;
        };
        if ty != "session" {
            continue;
        }
        if control == "include" || control == "substack" {
            session_stack(dir, &module, depth + 1, out);
            continue;
        }
        out.push(SessionLine {
            module,
            args,
            origin: format!("{}:{}", path.display(), i + 1),
        });
    }
}

fn check_pam(r: &mut Report, has_rules: bool) -> bool {
    let dir = Path::new(PAM_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else {
        r.say(Level::Warning, format!("cannot read {PAM_DIR}"));
        return false;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| {
            !n.starts_with("common-") && !n.ends_with(".dpkg-old") && !n.ends_with(".dpkg-dist")
        })
        .collect();
    names.sort();
    let mut any = false;
    let mut sshd_loads = false;
    for name in &names {
        let mut stack = Vec::new();
        session_stack(dir, name, 0, &mut stack);
        let Some(pos) = stack.iter().position(|l| is_pam_nnp(&l.module)) else {
            continue;
        };
        any = true;
        if name == "sshd" {
            sshd_loads = true;
        }
        let line = &stack[pos];
        let selinux = stack.iter().position(|l| {
            module_name(&l.module) == "pam_selinux.so" && l.args.iter().any(|a| a == "open")
        });
        let rel = match selinux {
            None => String::new(),
            Some(s) if s < pos => "; after pam_selinux open".to_string(),
            Some(_) => "; before pam_selinux open".to_string(),
        };
        let args = if line.args.is_empty() {
            String::new()
        } else {
            format!(" {}", line.args.join(" "))
        };
        r.say(
            Level::Ok,
            format!(
                "PAM stack {name} loads {}{args} (session module {} of {}, from {}){rel}",
                line.module,
                pos + 1,
                stack.len(),
                line.origin
            ),
        );
    }
    if !any {
        let level = if has_rules {
            Level::Problem
        } else {
            Level::Info
        };
        r.say(
            level,
            format!(
                "no PAM stack in {PAM_DIR} loads pam_nnp.so: the rules have no effect at login"
            ),
        );
    } else if !sshd_loads && names.iter().any(|n| n == "sshd") {
        r.say(
            Level::Warning,
            "the sshd stack does not load pam_nnp.so: ssh logins are not covered",
        );
    }
    sshd_loads
}

fn check_sshd(r: &mut Report, sshd_loads: bool) {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(sshd) = sshd else {
        r.say(Level::Info, "sshd is not installed");
        return;
    };
    match Command::new(sshd).arg("-T").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let usepam = text
                .lines()
                .find_map(|l| l.strip_prefix("usepam "))
                .map(str::trim);
            match usepam {
                Some("yes") => r.say(Level::Ok, "sshd runs with UsePAM yes (sshd -T)"),
                Some(v) => r.say(
                    if sshd_loads { Level::Problem } else { Level::Warning },
                    format!("sshd runs with UsePAM {v}: it opens no PAM session, so pam_nnp cannot act for ssh logins (use nnp-shell, or UsePAM yes)"),
                ),
                None => r.say(Level::Warning, "sshd -T did not report UsePAM"),
            }
        }
        Ok(out) => r.say(
            Level::Warning,
            format!(
                "cannot read sshd's effective configuration (sshd -T: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => r.say(Level::Warning, format!("cannot run {sshd} -T: {e}")),
    }
}

fn check_shells(r: &mut Report) {
    let shells = std::fs::read_to_string("/etc/shells").unwrap_or_default();
    let listed = |p: &str| shells.lines().any(|l| l.trim() == p);
    let mut candidates: Vec<String> = Vec::new();
    if Path::new("/usr/bin/nnp-shell").exists() {
        candidates.push("/usr/bin/nnp-shell".to_string());
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut users = 0usize;
    for line in passwd.lines() {
        if let Some(shell) = line.rsplit(':').next() {
            if module_name(shell) == "nnp-shell" {
                users += 1;
                if !candidates.iter().any(|c| c == shell) {
                    candidates.push(shell.to_string());
                }
            }
        }
    }
    if candidates.is_empty() {
        r.say(
            Level::Info,
            "nnp-shell is not installed and no user has it as shell",
        );
        return;
    }
    for c in candidates {
        if listed(&c) {
            r.say(Level::Ok, format!("{c} is in /etc/shells"));
        } else {
            r.say(
                Level::Problem,
                format!("{c} is not in /etc/shells: some services (ftp, chsh, dropbear) refuse users whose shell is not listed; run add-shell {c}"),
            );
        }
    }
    r.say(
        Level::Info,
        format!("{users} user(s) in /etc/passwd have nnp-shell as login shell"),
    );
}

fn check_lsm(r: &mut Report) {
    match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(v) if v.trim() == "1" => r.say(
            Level::Warning,
            "SELinux is enforcing: under no_new_privs an exec that changes domain is refused unless the policy allows nnp_transition (or the new domain is bounded by the old); test confined programs for restricted users",
        ),
        Ok(_) => r.say(Level::Info, "SELinux is permissive"),
        Err(_) => r.say(Level::Info, "SELinux is not enabled"),
    }
    match std::fs::read_to_string("/sys/module/apparmor/parameters/enabled") {
        Ok(v) if v.trim() == "Y" => {
            let profiles = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles")
                .map(|p| p.lines().count().to_string())
                .unwrap_or_else(|_| "an unknown number of".to_string());
            r.say(
                Level::Warning,
                format!("AppArmor is enabled ({profiles} profiles loaded): under no_new_privs a profile transition on exec must stay within the current confinement (stacking); px/ux transitions that widen it fail"),
            );
        }
        _ => r.say(Level::Info, "AppArmor is not enabled"),
    }
}

pub fn run(path: &Path) -> Result<Outcome, Failure> {
    let mut r = Report { worst: Level::Ok };
    let has_rules = match nnp_config::load(path) {
        Ok(c) => {
            r.say(
                Level::Ok,
                format!(
                    "config {}: {} rules from {} files",
                    path.display(),
                    c.rules.len(),
                    c.files.len()
                ),
            );
            for w in crate::check::warnings(&c) {
                r.say(Level::Warning, w);
            }
            !c.rules.is_empty()
        }
        Err(e) => {
            for d in &e.diagnostics {
                r.say(Level::Problem, d.to_string());
            }
            true
        }
    };
    let sshd_loads = check_pam(&mut r, has_rules);
    check_sshd(&mut r, sshd_loads);
    check_shells(&mut r);
    check_lsm(&mut r);
    Ok(if r.worst == Level::Problem {
        Outcome::Problem
    } else {
        Outcome::Fine
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_lines_with_bracket_controls() {
        let (t, c, m, a) = split_pam_line(
            "session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open",
        )
        .unwrap_or_default();
        assert_eq!(t, "session");
        assert_eq!(
            c,
            "[success=ok ignore=ignore module_unknown=ignore default=bad]"
        );
        assert_eq!(m, "pam_selinux.so");
        assert_eq!(a, vec!["open".to_string()]);
        let (t, _, m, _) = split_pam_line("-session optional pam_systemd.so").unwrap_or_default();
        assert_eq!((t.as_str(), m.as_str()), ("session", "pam_systemd.so"));
    }
}
