//! `nnpctl doctor`: inspect the installation, a line per finding; exit 1 on a problem.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::{Failure, Outcome};

const PAM_DIR: &str = "/etc/pam.d";

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Level {
    Ok,
    Info,
    Warning,
    Unchecked,
    Problem,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Problem => "problem",
            Level::Unchecked => "unchecked",
        }
    }
}

#[derive(Serialize)]
struct Finding {
    level: &'static str,
    message: String,
}

struct Report {
    worst: Level,
    findings: Vec<Finding>,
}

impl Report {
    fn say(&mut self, level: Level, msg: impl AsRef<str>) {
        self.findings.push(Finding {
            level: level.tag(),
            message: msg.as_ref().to_string(),
        });
        self.worst = self.worst.max(level);
    }
}

/// One session-phase module line, after following includes.
struct SessionLine {
    control: String,
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
fn session_stack(
    dir: &Path,
    name: &str,
    depth: usize,
    out: &mut Vec<SessionLine>,
    unreadable: &mut Vec<String>,
) {
    if depth > 16 {
        unreadable.push(format!("{name}: includes nested more than 16 deep"));
        return;
    }
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        dir.join(name)
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            // A stack doctor cannot read may load pam_nnp (or an optional copy of it).
            unreadable.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(inc) = line.strip_prefix("@include") {
            session_stack(dir, inc.trim(), depth + 1, out, unreadable);
            continue;
        }
        let Some((ty, control, module, args)) = split_pam_line(line) else {
            continue;
        };
        if ty != "session" {
            continue;
        }
        if control == "include" || control == "substack" {
            session_stack(dir, &module, depth + 1, out, unreadable);
            continue;
        }
        out.push(SessionLine {
            control,
            module,
            args,
            origin: format!("{}:{}", path.display(), i + 1),
        });
    }
}

/// Everything about one `pam_nnp.so` line: control, arguments, its config, its position.
fn check_line(
    r: &mut Report,
    name: &str,
    stack: &[SessionLine],
    pos: usize,
    default_config: Option<&Path>,
) {
    let line = &stack[pos];
    let at = format!("{} (stack {name})", line.origin);
    let args = if line.args.is_empty() {
        String::new()
    } else {
        format!(" {}", line.args.join(" "))
    };
    r.say(
        Level::Ok,
        format!(
            "{at}: session {} {}{args} (session module {} of {})",
            line.control,
            line.module,
            pos + 1,
            stack.len()
        ),
    );
    match line.control.as_str() {
        "required" | "requisite" => {}
        other => r.say(
            Level::Problem,
            format!("{at}: control \"{other}\": only required or requisite makes a refused session fail the login; with anything else an error of pam_nnp (a broken config, a directory outage) becomes a silent success WITHOUT no_new_privs"),
        ),
    }
    let argv: Vec<&[u8]> = line.args.iter().map(|a| a.as_bytes()).collect();
    // The module's own parser: doctor reads the line exactly as pam_nnp will.
    let (parsed, bad) = nnp_config::args::parse(&argv);
    if let Some(bad) = bad {
        r.say(
            Level::Problem,
            format!("{at}: {bad}: the module treats this as an error on every login"),
        );
    }
    if parsed.on_error == nnp_config::args::OnError::Allow {
        r.say(
            Level::Warning,
            format!("{at}: on_error=allow: when the config or a lookup fails (a typo, the directory down), restricted users get sessions WITHOUT no_new_privs; the default (deny) refuses them"),
        );
    }
    let (config, explicit) = match parsed.config_explicit {
        true => (parsed.config.clone(), true),
        false => match default_config {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(nnp_config::DEFAULT_CONFIG), false),
        },
    };
    let loaded = if explicit {
        nnp_config::load_required(&config)
    } else {
        nnp_config::load(&config)
    };
    match loaded {
        Ok(c) => {
            let f = crate::check::findings(&c);
            for p in f.problems {
                r.say(Level::Problem, format!("{at}: {p}"));
            }
            for u in f.unchecked {
                r.say(Level::Unchecked, format!("{at}: {u}"));
            }
            r.say(
                Level::Ok,
                format!(
                    "{at}: config {}: {} rules from {} files",
                    config.display(),
                    c.rules.len(),
                    c.files.len()
                ),
            );
        }
        Err(e) => {
            for d in &e.diagnostics {
                r.say(Level::Problem, format!("{at}: config: {d}"));
            }
        }
    }
    let find = |m: &str, arg: Option<&str>| {
        stack.iter().position(|l| {
            module_name(&l.module) == m && arg.is_none_or(|a| l.args.iter().any(|x| x == a))
        })
    };
    if let Some(s) = find("pam_selinux.so", Some("open")) {
        let rel = if s < pos {
            "after pam_selinux open: the shell's SELinux domain transition happens under no_new_privs (the policy must allow nnp_transition)"
        } else {
            "before pam_selinux open: the shell's SELinux domain transition happens under no_new_privs (the policy must allow nnp_transition)"
        };
        r.say(Level::Info, format!("{at}: {rel}"));
    }
    if let Some(s) = find("pam_systemd.so", None) {
        let rel = if s < pos {
            "after pam_systemd (the logind session is registered before no_new_privs is set; the user manager's own stack decides for systemd --user)"
        } else {
            "before pam_systemd (pam_systemd runs with no_new_privs set; it needs no privilege gain)"
        };
        r.say(Level::Info, format!("{at}: {rel}"));
    }
}

fn check_pam(r: &mut Report, has_rules: bool, default_config: Option<&Path>) -> bool {
    let dir = Path::new(PAM_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else {
        r.say(Level::Unchecked, format!("cannot read {PAM_DIR}"));
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
        let mut unreadable = Vec::new();
        session_stack(dir, name, 0, &mut stack, &mut unreadable);
        for u in unreadable {
            r.say(
                Level::Unchecked,
                format!("PAM stack {name}: cannot read {u}: its pam_nnp lines are not checked"),
            );
        }
        for pos in 0..stack.len() {
            if !is_pam_nnp(&stack[pos].module) {
                continue;
            }
            any = true;
            if name == "sshd" {
                sshd_loads = true;
            }
            check_line(r, name, &stack, pos, default_config);
        }
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

/// What the kernel offers the exec guard, and whether it is loaded and current.
fn check_guard(r: &mut Report) {
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
    if !btf {
        r.say(
            Level::Info,
            "exec guard: the kernel has no BTF (/sys/kernel/btf/vmlinux): the guard cannot run",
        );
        return;
    }
    r.say(Level::Ok, "exec guard: kernel BTF present");
    match lsms.as_deref().map(str::trim) {
        Some(list) if list.split(',').any(|l| l == "bpf") => {
            r.say(Level::Ok, format!("exec guard: bpf is in the active LSM list ({list})"))
        }
        Some(list) => r.say(
            Level::Info,
            format!("exec guard: bpf is not in the active LSM list ({list}): LSM mode needs lsm={list},bpf on the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"),
        ),
        None => r.say(
            Level::Info,
            "exec guard: cannot read /sys/kernel/security/lsm (securityfs not mounted?)",
        ),
    }
    let lsm = nnp_guard::probe(nnp_guard::Mode::Lsm);
    let kill = nnp_guard::probe(nnp_guard::Mode::Kill);
    match (&lsm, &kill) {
        (Ok(()), _) => r.say(Level::Ok, "exec guard: LSM programs load here: mode lsm (exec fails with EPERM)"),
        (Err(e), Ok(())) => r.say(
            Level::Ok,
            format!("exec guard: LSM programs do not load here ({e}); the sched_prepare_exec tracepoint does: mode kill (refused execs are killed)"),
        ),
        (Err(e1), Err(e2)) => r.say(
            Level::Info,
            format!("exec guard: cannot run here: lsm: {e1}; kill (sched_prepare_exec, Linux 6.10+): {e2}"),
        ),
    }
    if !nnp_guard::is_loaded() {
        r.say(Level::Info, "exec guard: not loaded (nnpctl guard load, or systemctl enable --now nnp-guard.service)");
        return;
    }
    match nnp_guard::Meta::read() {
        None => r.say(
            Level::Unchecked,
            "exec guard: pinned, but /run/nnp/guard.meta is missing: cannot tell which config it holds",
        ),
        Some(m) => {
            let now = nnp_config::load(&m.config).map(|c| c.files).unwrap_or_default();
            let stale = m.stale(&now);
            if stale.is_empty() {
                r.say(
                    Level::Ok,
                    format!("exec guard: loaded, mode {}, config {} is current", m.mode.as_str(), m.config.display()),
                );
            } else {
                r.say(
                    Level::Problem,
                    format!("exec guard: loaded with an older config ({}): run nnpctl guard reload", stale.join(", ")),
                );
            }
        }
    }
}

pub fn run(path: Option<&Path>, json: bool) -> Result<crate::Report, Failure> {
    let mut r = Report {
        worst: Level::Ok,
        findings: Vec::new(),
    };
    let shown = path.map_or_else(
        || nnp_config::DEFAULT_CONFIG.to_string(),
        |p| p.display().to_string(),
    );
    let has_rules = match crate::load_config(path) {
        Ok(c) => {
            r.say(
                Level::Ok,
                format!(
                    "config {shown}: {} rules from {} files",
                    c.rules.len(),
                    c.files.len()
                ),
            );
            let f = crate::check::findings(&c);
            for w in f.warnings {
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
    let sshd_loads = check_pam(&mut r, has_rules, path);
    check_sshd(&mut r, sshd_loads);
    check_shells(&mut r);
    check_lsm(&mut r);
    check_guard(&mut r);
    let outcome = match r.worst {
        Level::Problem => Outcome::Problem,
        Level::Unchecked => Outcome::Incomplete,
        _ => Outcome::Fine,
    };
    let mut out = crate::Report::new();
    out.outcome = outcome;
    if json {
        #[derive(Serialize)]
        struct Doc<'a> {
            status: &'static str,
            findings: &'a [Finding],
        }
        let doc = Doc {
            status: match outcome {
                Outcome::Fine => "ok",
                Outcome::Problem => "problem",
                Outcome::Incomplete => "incomplete",
            },
            findings: &r.findings,
        };
        out.line(serde_json::to_string_pretty(&doc)?);
    } else {
        for f in &r.findings {
            out.line(format!("{}: {}", f.level, f.message));
        }
    }
    Ok(out)
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
