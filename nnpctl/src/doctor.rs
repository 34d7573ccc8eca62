//! `nnpctl doctor`: inspect the installation, a line per finding; exit 1 on a problem.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use nnp_config::Nss;

use crate::{Error, Outcome};

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Severity {
    Ok,
    Info,
    Warning,
    Unchecked,
    Problem,
}

impl Severity {
    fn tag(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
            Severity::Unchecked => "unchecked",
        }
    }
}

#[derive(Serialize)]
struct Finding {
    level: &'static str,
    message: String,
}

struct Diagnosis {
    worst: Severity,
    findings: Vec<Finding>,
}

impl Diagnosis {
    fn say(&mut self, level: Severity, msg: impl AsRef<str>) {
        self.findings.push(Finding {
            level: level.tag(),
            message: msg.as_ref().to_string(),
        });
        self.worst = self.worst.max(level);
    }
}

use crate::pamstack::{self, module_name, Handler, HandlerKind, PamAction, Stack, PAM_DIR};

/// Everything about one `pam_nnp.so` line: whether libpam loads and reaches it, its control,
/// arguments, its config, its position.
fn check_line(
    r: &mut Diagnosis,
    name: &str,
    stack: &Stack,
    pos: usize,
    default_config: Option<&Path>,
) {
    let handlers = &stack.handlers;
    let line = &handlers[pos];
    let at = format!("{} (stack {name})", line.origin);
    let args = if line.args().is_empty() {
        String::new()
    } else {
        format!(" {}", line.args().join(" "))
    };
    let module = line.module().unwrap_or("");
    // Position among the session modules (a substack line is not one).
    let counted = |h: &Handler| !matches!(h.kind, HandlerKind::Substack { .. });
    let index = handlers[..pos].iter().filter(|h| counted(h)).count();
    let total = handlers.iter().filter(|h| counted(h)).count();
    let reach = pamstack::reach(handlers, pos);
    let mut why: Vec<String> = Vec::new();
    if let HandlerKind::Module {
        file,
        present: false,
        ..
    } = &line.kind
    {
        let dash = if line.silent {
            " (the `-` prefix only keeps libpam from logging it)"
        } else {
            ""
        };
        if reach.not_loaded {
            why.push(format!("module file {} does not exist: libpam cannot load it and, with control \"{}\", lets the session go on WITHOUT no_new_privs{dash}", file.display(), line.control));
        } else {
            why.push(format!("module file {} does not exist: libpam answers \"Module is unknown\" and fails every session of service {name}, root's included{dash}", file.display()));
        }
    } else if !reach.any_success {
        why.push(format!(
            "no outcome of the stack's modules lets a session of service {name} succeed: libpam fails every session{}",
            broken_lines(handlers)
        ));
    }
    if let Some((by, code)) = reach.skipped {
        why.push(skip_reason(&handlers[by], code));
    }
    let level = if why.is_empty() {
        Severity::Ok
    } else {
        Severity::Problem
    };
    r.say(
        level,
        format!(
            "{at}: session {} {module}{args} (session module {} of {total})",
            line.control,
            index + 1,
        ),
    );
    for w in why {
        r.say(Severity::Problem, format!("{at}: {w}"));
    }
    if let Some(code) = reach.error_ignored {
        r.say(
            Severity::Problem,
            format!("{at}: control \"{}\": when pam_nnp fails ({}) the session still succeeds: only a control that fails the stack (required, requisite, [... default=bad]) makes a refused session fail the login; with this one an error of pam_nnp (a broken config, a directory outage) becomes a silent success WITHOUT no_new_privs", line.control, pamstack::return_name(code)),
        );
    }
    if reach.any_success && !reach.ignore_ok && !reach.not_loaded {
        r.say(
            Severity::Warning,
            format!("{at}: only pam_nnp can make a session of service {name} succeed: users it does not restrict (it returns PAM_IGNORE for them) are refused; add session required pam_unix.so (or pam_permit.so) beside it"),
        );
    }
    let argv: Vec<&[u8]> = line.args().iter().map(|a| a.as_bytes()).collect();
    // The module's own parser: doctor reads the line exactly as pam_nnp will.
    let (parsed, bad) = nnp_config::args::parse(&argv);
    if let Some(bad) = bad {
        r.say(
            Severity::Problem,
            format!("{at}: {bad}: the module treats this as an error on every login"),
        );
    }
    if parsed.on_error == nnp_config::args::OnError::Allow {
        r.say(
            Severity::Warning,
            format!("{at}: on_error=allow: when the config or a lookup fails (a typo, the directory down), restricted users get sessions WITHOUT no_new_privs; the default (deny) refuses them"),
        );
    }
    // The line's `config=` wins; else nnpctl's `--config`, else the compiled-in default.
    let (config, explicit) = if parsed.config_explicit {
        (parsed.config.as_path(), true)
    } else {
        nnp_config::main_path(default_config)
    };
    let loaded = nnp_config::load_explicit(config, explicit);
    match loaded {
        Ok(c) => {
            let f = c.lint(&Nss, Path::new(PAM_DIR));
            for p in f.problems {
                r.say(Severity::Problem, format!("{at}: {p}"));
            }
            for u in f.unchecked {
                r.say(Severity::Unchecked, format!("{at}: {u}"));
            }
            r.say(
                Severity::Ok,
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
                r.say(Severity::Problem, format!("{at}: config: {d}"));
            }
        }
    }
    let find = |m: &str, arg: Option<&str>| {
        handlers
            .iter()
            .position(|l| l.is_module(m) && arg.is_none_or(|a| l.args().iter().any(|x| x == a)))
    };
    if let Some(s) = find("pam_selinux.so", Some("open")) {
        let rel = if s < pos {
            "after pam_selinux open: the shell's SELinux domain transition happens under no_new_privs (the policy must allow nnp_transition)"
        } else {
            "before pam_selinux open: the shell's SELinux domain transition happens under no_new_privs (the policy must allow nnp_transition)"
        };
        r.say(Severity::Info, format!("{at}: {rel}"));
    }
    if let Some(s) = find("pam_systemd.so", None) {
        let rel = if s < pos {
            "after pam_systemd (the logind session is registered before no_new_privs is set; the user manager's own stack decides for systemd --user)"
        } else {
            "before pam_systemd (pam_systemd runs with no_new_privs set; it needs no privilege gain)"
        };
        r.say(Severity::Info, format!("{at}: {rel}"));
    }
}

/// Why the handler `h` makes libpam skip a later line when its module returns `code`.
fn skip_reason(h: &Handler, code: u8) -> String {
    let what = format!("{}: \"{}\"", h.origin, h.describe());
    let ret = pamstack::return_name(code);
    match h.actions[usize::from(code)] {
        PamAction::Jump(n) => format!("{what} jumps over {n} module(s), pam_nnp among them, when its module returns {ret}: the session goes on WITHOUT no_new_privs"),
        PamAction::Done => format!("{what} ends the stack when its module returns {ret} (\"sufficient\" or \"done\"), before pam_nnp: the session succeeds WITHOUT no_new_privs"),
        PamAction::Die => format!("{what} ends the (sub)stack when its module returns {ret} (\"requisite\" or \"die\"), before pam_nnp, and a later \"reset\" forgets the failure: the session can succeed WITHOUT no_new_privs"),
        a => format!("{what} skips pam_nnp when its module returns {ret} ({})", a.name()),
    }
}

/// The lines of a stack that always fail: missing modules, broken lines, controls libpam
/// cannot parse.
fn broken_lines(handlers: &[Handler]) -> String {
    let mut out = Vec::new();
    for h in handlers {
        match &h.kind {
            HandlerKind::Module {
                file,
                present: false,
                ..
            } => out.push(format!(
                "{}: module file {} does not exist (\"Module is unknown\")",
                h.origin,
                file.display()
            )),
            HandlerKind::MustFail { reason } => out.push(format!(
                "{}: {reason} (libpam installs it as always failing)",
                h.origin
            )),
            HandlerKind::Module { .. } | HandlerKind::Substack { .. } => {
                if let Some(e) = &h.control_error {
                    out.push(format!("{}: control \"{}\": {e}", h.origin, h.control));
                }
            }
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        format!(" ({})", out.join("; "))
    }
}

/// The service names libpam can be asked for: every file in /etc/pam.d (symlinks followed,
/// as libpam's fopen follows them) and those in /usr/lib/pam.d that /etc/pam.d does not
/// override. `common-*` files are only included by others.
fn service_names() -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for (i, dir) in pamstack::CONFIG_DIRS.iter().enumerate() {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(_) if i > 0 => continue,
            Err(e) => return Err(format!("cannot read {dir}: {e}")),
        };
        for e in entries.filter_map(Result::ok) {
            let Some(n) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if n.starts_with("common-") || n.ends_with(".dpkg-old") || n.ends_with(".dpkg-dist") {
                continue;
            }
            if std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()) && !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.sort();
    Ok(names)
}

fn check_pam(r: &mut Diagnosis, has_rules: bool, default_config: Option<&Path>) -> bool {
    let names = match service_names() {
        Ok(n) => n,
        Err(e) => {
            r.say(Severity::Unchecked, e);
            return false;
        }
    };
    let files = pamstack::RealFiles;
    let module_dir = pamstack::module_dir(&files);
    let mut any = false;
    let mut sshd_loads = false;
    for name in &names {
        let stack = pamstack::load_service(&files, &module_dir, name);
        for u in &stack.unreadable {
            r.say(
                Severity::Unchecked,
                format!("PAM stack {name}: cannot read {u}: its pam_nnp lines are not checked"),
            );
        }
        if let Some(f) = &stack.fatal {
            let (level, tail) = if stack.mentions_nnp {
                (Severity::Problem, ", so pam_nnp never runs")
            } else {
                (Severity::Warning, "")
            };
            r.say(
                level,
                format!("PAM stack {name}: {f}: libpam fails every request of service {name} (\"Initialization failure\"){tail}"),
            );
            continue;
        }
        // The service's own ghosts first: a pam_nnp.so line that never became a session
        // line may be exactly why libpam falls back to `other`.
        for g in &stack.ghosts {
            r.say(
                Severity::Problem,
                format!(
                    "{} (stack {name}): pam_nnp.so is never loaded: {}",
                    g.origin, g.reason
                ),
            );
        }
        if stack.from_other {
            // The session lines are other's, reported under its own name.
            continue;
        }
        for pos in 0..stack.handlers.len() {
            if !stack.handlers[pos]
                .module()
                .is_some_and(pamstack::is_pam_nnp)
            {
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
            Severity::Problem
        } else {
            Severity::Info
        };
        r.say(
            level,
            format!(
                "no PAM stack in {PAM_DIR} loads pam_nnp.so: the rules have no effect at login"
            ),
        );
    } else if !sshd_loads && names.iter().any(|n| n == "sshd") {
        r.say(
            Severity::Warning,
            "the sshd stack does not load pam_nnp.so: ssh logins are not covered",
        );
    }
    sshd_loads
}

/// The PAM service of systemd's user manager (`user@UID.service`), as pam_nnp names it.
const USER_MANAGER: &str = crate::explain::USER_MANAGER_SERVICE;

/// What the PAM stacks say about systemd's user manager: the services whose stacks load
/// both pam_nnp.so and pam_systemd.so (which starts the user's manager for her first
/// session; the manager's own stack excluded), and whether the manager's stack loads
/// pam_nnp.so (`None`: there is no `systemd-user` stack, or libpam cannot use it).
struct UserManager {
    nnp_services: Vec<String>,
    manager_loads_nnp: Option<bool>,
}

fn user_manager_stacks(
    files: &dyn pamstack::Files,
    module_dir: &Path,
    names: &[String],
) -> UserManager {
    let mut um = UserManager {
        nnp_services: Vec::new(),
        manager_loads_nnp: None,
    };
    for name in names {
        let stack = pamstack::load_service(files, module_dir, name);
        if stack.fatal.is_some() {
            // reported by check_pam; a user manager whose stack libpam cannot use never starts
            continue;
        }
        let loads =
            |m: &dyn Fn(&str) -> bool| stack.handlers.iter().any(|h| h.module().is_some_and(m));
        let nnp = loads(&pamstack::is_pam_nnp);
        if name == USER_MANAGER {
            um.manager_loads_nnp = Some(nnp);
        } else if nnp && loads(&|m| pamstack::module_name(m) == "pam_systemd.so") {
            um.nnp_services.push(name.clone());
        }
    }
    um
}

/// The finding for a user manager that gets no pam_nnp while sessions do: pam_nnp decides
/// the `systemd-user` service across every service's rules, but only where its stack runs
/// pam_nnp at all. A line in one service's own file (`/etc/pam.d/sshd`) never reaches it,
/// and the manager that service's session starts runs `systemd-run --user`, user timers and
/// sockets without no_new_privs.
fn user_manager_finding(um: &UserManager, has_rules: bool) -> Option<(Severity, String)> {
    if um.nnp_services.is_empty() || um.manager_loads_nnp != Some(false) {
        return None;
    }
    let level = if has_rules {
        Severity::Problem
    } else {
        Severity::Info
    };
    Some((
        level,
        format!(
            "PAM stack {USER_MANAGER} (systemd's user manager, which pam_systemd starts for a user's first session and for lingering users) does not load pam_nnp.so, while the stack(s) of {} load it and start the user manager (pam_systemd): a restricted user's systemd-run --user, user timers and sockets run without no_new_privs; enable the profile (pam-auth-update --enable nnp: its line goes into common-session-noninteractive, which {USER_MANAGER} includes) or add \"session required pam_nnp.so\" to /etc/pam.d/{USER_MANAGER} too",
            um.nnp_services.join(", ")
        ),
    ))
}

fn check_user_manager(r: &mut Diagnosis, has_rules: bool) {
    let Ok(names) = service_names() else {
        return; // check_pam said why
    };
    let files = pamstack::RealFiles;
    let module_dir = pamstack::module_dir(&files);
    let um = user_manager_stacks(&files, &module_dir, &names);
    if let Some((level, msg)) = user_manager_finding(&um, has_rules) {
        r.say(level, msg);
    } else if um.manager_loads_nnp == Some(true) {
        r.say(
            Severity::Ok,
            format!("PAM stack {USER_MANAGER} (systemd's user manager) loads pam_nnp.so"),
        );
    }
}

fn check_sshd(r: &mut Diagnosis, sshd_loads: bool) {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(sshd) = sshd else {
        r.say(Severity::Info, "sshd is not installed");
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
                Some("yes") => r.say(Severity::Ok, "sshd runs with UsePAM yes (sshd -T)"),
                Some(v) => r.say(
                    if sshd_loads { Severity::Problem } else { Severity::Warning },
                    format!("sshd runs with UsePAM {v}: it opens no PAM session, so pam_nnp cannot act for ssh logins (use nnp-shell, or UsePAM yes)"),
                ),
                None => r.say(Severity::Warning, "sshd -T did not report UsePAM"),
            }
        }
        Ok(out) => r.say(
            Severity::Warning,
            format!(
                "cannot read sshd's effective configuration (sshd -T: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => r.say(Severity::Warning, format!("cannot run {sshd} -T: {e}")),
    }
}

fn check_shells(r: &mut Diagnosis) {
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
            Severity::Info,
            "nnp-shell is not installed and no user has it as shell",
        );
        return;
    }
    for c in candidates {
        if listed(&c) {
            r.say(Severity::Ok, format!("{c} is in /etc/shells"));
        } else {
            r.say(
                Severity::Problem,
                format!("{c} is not in /etc/shells: some services (ftp, chsh, dropbear) refuse users whose shell is not listed; run add-shell {c}"),
            );
        }
    }
    r.say(
        Severity::Info,
        format!("{users} user(s) in /etc/passwd have nnp-shell as login shell"),
    );
}

fn check_lsm(r: &mut Diagnosis) {
    match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(v) if v.trim() == "1" => r.say(
            Severity::Warning,
            "SELinux is enforcing: under no_new_privs an exec that changes domain is refused unless the policy allows nnp_transition (or the new domain is bounded by the old); test confined programs for restricted users",
        ),
        Ok(_) => r.say(Severity::Info, "SELinux is permissive"),
        Err(_) => r.say(Severity::Info, "SELinux is not enabled"),
    }
    match std::fs::read_to_string("/sys/module/apparmor/parameters/enabled") {
        Ok(v) if v.trim() == "Y" => {
            let profiles = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles")
                .map(|p| p.lines().count().to_string())
                .unwrap_or_else(|_| "an unknown number of".to_string());
            r.say(
                Severity::Warning,
                format!("AppArmor is enabled ({profiles} profiles loaded): under no_new_privs a profile transition on exec must stay within the current confinement (stacking); px/ux transitions that widen it fail"),
            );
        }
        _ => r.say(Severity::Info, "AppArmor is not enabled"),
    }
}

/// Is nnp-guard.service enabled (a `*.wants/` link to it under /etc/systemd/system)? The
/// administrator asked for a guard then, and its absence is a problem.
fn guard_unit_enabled() -> bool {
    std::fs::read_dir("/etc/systemd/system")
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .filter(|d| d.file_name().to_string_lossy().ends_with(".wants"))
                .any(|d| d.path().join("nnp-guard.service").exists())
        })
        .unwrap_or(false)
}

/// What the kernel offers the exec guard, and whether it is in force (the one answer:
/// [`nnp_guard::GuardState`]).
/// A kernel without BTF runs no guard (its programs are CO-RE); nnp-guard.service is then
/// skipped by its `ConditionPathExists=`, which systemd does not count as a failure. Asked
/// for (`enabled`), that is a problem: the administrator believes a guard is in force.
fn no_btf_finding(enabled: bool) -> (Severity, &'static str) {
    if enabled {
        (
            Severity::Problem,
            "exec guard: nnp-guard.service is enabled but the kernel has no BTF (/sys/kernel/btf/vmlinux): the guard cannot run here and the unit is skipped (its ConditionPathExists), so no guard is in force; boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's is), or disable the unit",
        )
    } else {
        (
            Severity::Info,
            "exec guard: the kernel has no BTF (/sys/kernel/btf/vmlinux): the guard cannot run",
        )
    }
}

fn check_guard(r: &mut Diagnosis) {
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    if !btf {
        let (level, msg) = no_btf_finding(guard_unit_enabled());
        r.say(level, msg);
        return;
    }
    r.say(Severity::Ok, "exec guard: kernel BTF present");
    let active = nnp_guard::bpf_lsm_active();
    match (active, nnp_guard::lsm_list()) {
        (Some(true), Some(list)) => {
            r.say(Severity::Ok, format!("exec guard: bpf is in the active LSM list ({list})"))
        }
        (_, Some(list)) => r.say(
            Severity::Info,
            format!("exec guard: bpf is not in the active LSM list ({list}): BPF LSM programs attach but never run here; {}", nnp_guard::lsm_hint()),
        ),
        _ => r.say(
            Severity::Info,
            "exec guard: cannot read /sys/kernel/security/lsm (securityfs not mounted?)",
        ),
    }
    let lsm = nnp_guard::probe(nnp_guard::AttachMode::Lsm);
    let kill = nnp_guard::probe(nnp_guard::AttachMode::Kill);
    match (&lsm, active, &kill) {
        (Ok(()), Some(true), _) => r.say(Severity::Ok, "exec guard: LSM programs load and run here: mode lsm (exec fails with EPERM)"),
        (Ok(()), _, Ok(())) => r.say(
            Severity::Ok,
            "exec guard: LSM programs load but the kernel does not run them (bpf not active); the sched_prepare_exec tracepoint does: mode kill (refused execs are killed)",
        ),
        (Err(e), _, Ok(())) => r.say(
            Severity::Ok,
            format!("exec guard: LSM programs do not load here ({e}); the sched_prepare_exec tracepoint does: mode kill (refused execs are killed)"),
        ),
        (Ok(()), _, Err(e2)) => r.say(
            Severity::Info,
            format!("exec guard: cannot run here: LSM programs load but the kernel does not run them ({}); kill (sched_prepare_exec, Linux 6.10+): {e2}", nnp_guard::lsm_hint()),
        ),
        (Err(e1), _, Err(e2)) => r.say(
            Severity::Info,
            format!("exec guard: cannot run here: lsm: {e1}; kill (sched_prepare_exec, Linux 6.10+): {e2}"),
        ),
    }
    let state = nnp_guard::GuardState::read();
    r.say(
        Severity::Info,
        if state.hook {
            "exec guard: the kernel has the bprm_no_new_privs hook: guard_action = \"degrade\" runs a guarded privilege-raising exec with the caller's privileges"
        } else {
            "exec guard: the kernel lacks the bprm_no_new_privs hook (nnp's kernel/ patch series): guard_action = \"degrade\" falls back to refuse (or kill)"
        },
    );
    if let Some(a) = state.action {
        r.say(
            Severity::Info,
            format!(
                "exec guard: action {}: a guarded user's privilege-raising exec {}",
                a.as_str(),
                a.describe()
            ),
        );
    }
    if let Some(f) = state.action_fallback() {
        r.say(Severity::Info, format!("exec guard: {f}"));
    }
    let mode = state.mode.map_or("?", nnp_guard::AttachMode::as_str);
    let config = state
        .meta
        .as_ref()
        .map(|m| m.config.display().to_string())
        .unwrap_or_default();
    match state.protection() {
        nnp_guard::Protection::NotLoaded if guard_unit_enabled() => r.say(
            Severity::Problem,
            "exec guard: nnp-guard.service is enabled but no guard is loaded (see the lines above for what the kernel lacks, and journalctl -u nnp-guard.service)",
        ),
        nnp_guard::Protection::NotLoaded => r.say(
            Severity::Info,
            "exec guard: not loaded (nnpctl guard load, or systemctl enable --now nnp-guard.service)",
        ),
        nnp_guard::Protection::InForce => r.say(
            Severity::Ok,
            format!("exec guard: in force: loaded, mode {mode}, live, config {config} is current, complete"),
        ),
        nnp_guard::Protection::NotInForce(why) => {
            for w in why {
                r.say(Severity::Problem, format!("exec guard: loaded (mode {mode}) but not in force: {w}"));
            }
        }
        nnp_guard::Protection::CannotTell(why) => {
            for w in why {
                r.say(Severity::Unchecked, format!("exec guard: cannot tell whether it is in force: {w}"));
            }
        }
    }
}

pub fn run(path: Option<&Path>, json: bool) -> Result<crate::Output, Error> {
    let mut r = Diagnosis {
        worst: Severity::Ok,
        findings: Vec::new(),
    };
    let shown = path.map_or_else(
        || nnp_config::DEFAULT_CONFIG.to_string(),
        |p| p.display().to_string(),
    );
    let has_rules = match nnp_config::load_main(path) {
        Ok(c) => {
            r.say(
                Severity::Ok,
                format!(
                    "config {shown}: {} rules from {} files",
                    c.rules.len(),
                    c.files.len()
                ),
            );
            let f = c.lint(&Nss, Path::new(PAM_DIR));
            for w in f.warnings {
                r.say(Severity::Warning, w);
            }
            !c.rules.is_empty()
        }
        Err(e) => {
            for d in &e.diagnostics {
                r.say(Severity::Problem, d.to_string());
            }
            true
        }
    };
    let sshd_loads = check_pam(&mut r, has_rules, path);
    check_user_manager(&mut r, has_rules);
    check_sshd(&mut r, sshd_loads);
    check_shells(&mut r);
    check_lsm(&mut r);
    check_guard(&mut r);
    let outcome = match r.worst {
        Severity::Problem => Outcome::Problem,
        Severity::Unchecked => Outcome::Incomplete,
        _ => Outcome::Fine,
    };
    let mut out = crate::Output::new();
    out.outcome = outcome;
    if json {
        #[derive(Serialize)]
        struct Doc<'a> {
            schema: &'static str,
            status: &'static str,
            findings: &'a [Finding],
        }
        let doc = Doc {
            schema: "nnp.doctor/1",
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;
    use std::io;
    use std::path::PathBuf;

    /// Stack files in memory, every module file present.
    struct Table(BTreeMap<PathBuf, String>);

    impl pamstack::Files for Table {
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.0
                .get(path)
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn is_file(&self, _path: &Path) -> bool {
            true
        }
    }

    fn user_manager(files: &[(&str, &str)]) -> UserManager {
        let t = Table(
            files
                .iter()
                .map(|(n, text)| (Path::new("/etc/pam.d").join(n), text.to_string()))
                .collect(),
        );
        let names: Vec<String> = files
            .iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| !n.starts_with("common-"))
            .collect();
        user_manager_stacks(&t, Path::new("/lib/security"), &names)
    }

    const SESSION: (&str, &str) = (
        "common-session",
        "session required pam_unix.so\nsession optional pam_systemd.so\n",
    );

    #[test]
    fn no_btf_is_a_problem_only_when_the_guard_unit_is_enabled() {
        let (level, msg) = no_btf_finding(true);
        assert!(level == Severity::Problem);
        assert!(msg.contains("nnp-guard.service is enabled"), "{msg}");
        assert!(msg.contains("CONFIG_DEBUG_INFO_BTF"), "{msg}");
        // control: nobody asked for a guard
        let (level, msg) = no_btf_finding(false);
        assert!(level == Severity::Info);
        assert!(msg.contains("cannot run"), "{msg}");
    }

    #[test]
    fn a_user_manager_without_pam_nnp_is_a_problem_when_a_session_stack_has_it() {
        // The README's by-hand line in sshd's own file: the manager's stack never runs it.
        let sshd = (
            "sshd",
            "@include common-session\nsession required pam_nnp.so\n",
        );
        let manager = ("systemd-user", "@include common-session\n");
        let um = user_manager(&[SESSION, sshd, manager]);
        assert_eq!(um.nnp_services, ["sshd"]);
        assert_eq!(um.manager_loads_nnp, Some(false));
        let (level, msg) = user_manager_finding(&um, true).unwrap();
        assert!(level == Severity::Problem);
        assert!(msg.contains("PAM stack systemd-user"), "{msg}");
        assert!(msg.contains("the stack(s) of sshd load it"), "{msg}");
        assert!(msg.contains("pam-auth-update --enable nnp"), "{msg}");
        assert!(msg.contains("/etc/pam.d/systemd-user"), "{msg}");
        // no rules: nothing is restricted, so it is only said
        assert!(user_manager_finding(&um, false).unwrap().0 == Severity::Info);

        // control: the line in the common stack, which the manager's stack includes too
        let common = (
            "common-session",
            "session required pam_unix.so\nsession optional pam_systemd.so\nsession required pam_nnp.so\n",
        );
        let um = user_manager(&[common, ("sshd", "@include common-session\n"), manager]);
        assert_eq!(um.manager_loads_nnp, Some(true));
        assert!(user_manager_finding(&um, true).is_none());

        // control: no systemd-user stack (no systemd)
        let um = user_manager(&[SESSION, sshd]);
        assert_eq!(um.manager_loads_nnp, None);
        assert!(user_manager_finding(&um, true).is_none());
        // control: the stack with pam_nnp starts no manager (pam_systemd only in the
        // manager's own stack and in a service without pam_nnp)
        let um = user_manager(&[
            ("common-session", "session required pam_unix.so\n"),
            sshd,
            ("login", "session optional pam_systemd.so\n"),
            (
                "systemd-user",
                "@include common-session\nsession optional pam_systemd.so\n",
            ),
        ]);
        assert!(um.nnp_services.is_empty());
        assert_eq!(um.manager_loads_nnp, Some(false));
        assert!(user_manager_finding(&um, true).is_none());
    }
}
