//! `nnp-shell`: a login shell for paths that open no PAM session (dropbear, `UsePAM no`,
//! container entry points). It sets no_new_privs unconditionally, then execs the real shell
//! named by the configuration. See nnp-shell(8).
//!
//! This binary is linked statically (build.rs): no dynamic loader, so nothing the
//! environment names (`LD_PRELOAD`, `LD_AUDIT`, `LD_LIBRARY_PATH`) runs in it, and it never
//! calls NSS (a static binary would load the shared NSS modules itself, through
//! `LD_LIBRARY_PATH`, and crash on some of them). The order:
//!
//! 1. set NNP and verify it; nothing else runs before;
//! 2. re-entry: an exec chain of this same login that came back here (see [`reentered`])
//!    gets `/bin/sh`;
//! 3. otherwise the shell is chosen by `nnp-shell-helper` (dynamic, at a compiled-in path),
//!    run with a cleared, fixed environment: it loads the compiled-in config and asks the one
//!    decision, `Config::shell_for`, and answers over a pipe;
//! 4. the answer is checked here (absolute, an executable file, not nnp-shell), the re-entry
//!    marker is left on the process, and the shell is exec'd with the caller's arguments and
//!    environment.
//!
//! It never writes to stdout (scp, sftp and rsync speak their protocols there); warnings go
//! to stderr. It never loops and never locks a user out: any problem with the configuration,
//! the helper or the chosen shell falls back to /bin/sh, with NNP set either way.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::fs::{Metadata, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, IntoRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The shell chooser, compiled in (packagers may set `NNP_SHELL_HELPER` at build time); no
/// environment variable or argument can change it at run time.
const HELPER: &str = match option_env!("NNP_SHELL_HELPER") {
    Some(p) => p,
    None => "/usr/lib/nnp/nnp-shell-helper",
};

/// The only environment the helper gets.
const HELPER_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The largest answer read from the helper (a path or a message).
const MAX_REPLY: u64 = 64 * 1024;

/// The shell used whenever the configured one cannot be (nnp-config's `DEFAULT_SHELL`, which
/// a unit test keeps equal; this binary uses nothing of nnp-config but its escaper, so that
/// no NSS code is linked in).
const FALLBACK_SHELL: &str = "/bin/sh";

/// Exit status when NNP cannot be set (as a shell's "found but cannot execute").
const EXIT_NO_NNP: i32 = 126;

fn warn(msg: &str) {
    eprintln!("nnp-shell: warning: {msg}");
}

/// Text from the helper, for the terminal: each line through nnp-config's one escaper
/// ([`nnp_config::escape_message`]: control, format and bidi characters, line and paragraph
/// separators shown escaped), the lines kept apart; bytes that are not UTF-8 as U+FFFD.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .map(|line| nnp_config::escape_message(line, MAX_REPLY as usize))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A path for the terminal ([`nnp_config::escape_value`], without the quotes).
fn shown(path: &Path) -> String {
    nnp_config::escape_value(path.as_os_str().as_bytes())
}

/// Why the helper at `path` must not be run, if it must not: it decides which shell every
/// nnp-shell user gets, so it must be root's alone, as the config is.
fn untrusted_helper(path: &Path) -> Option<String> {
    let check = |p: &Path, what: &str| match std::fs::metadata(p) {
        Err(e) => Some(format!("{what} {}: {e}", p.display())),
        Ok(m) if m.uid() != 0 => Some(format!(
            "{what} {} is not owned by root (uid {})",
            p.display(),
            m.uid()
        )),
        Ok(m) if m.mode() & 0o022 != 0 => Some(format!(
            "{what} {} is writable by group or others",
            p.display()
        )),
        Ok(_) => None,
    };
    check(path, "shell chooser").or_else(|| {
        path.parent()
            .and_then(|d| check(d, "the shell chooser's directory"))
    })
}

/// The shell the configuration names for this user, asked of the helper, or why it cannot
/// be used.
fn ask_helper(helper: &Path) -> Result<PathBuf, String> {
    if let Some(why) = untrusted_helper(helper) {
        return Err(why);
    }
    let mut child = Command::new(helper)
        .env_clear()
        .env("PATH", HELPER_PATH)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run the shell chooser {}: {e}", helper.display()))?;
    let mut reply = Vec::new();
    let read = match child.stdout.take() {
        Some(out) => out.take(MAX_REPLY + 1).read_to_end(&mut reply).map(|_| ()),
        None => Ok(()),
    };
    // the pipe is closed here: a helper still writing gets EPIPE and ends
    let status = child
        .wait()
        .map_err(|e| format!("shell chooser {}: {e}", helper.display()))?;
    if let Err(e) = read {
        return Err(format!("reading from the shell chooser: {e}"));
    }
    if reply.len() as u64 > MAX_REPLY {
        return Err(format!(
            "the shell chooser's answer is over {MAX_REPLY} bytes"
        ));
    }
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(PathBuf::from(OsString::from_vec(reply))),
        (Some(1), _) if !reply.is_empty() => Err(printable(&reply)),
        (_, Some(sig)) => Err(format!(
            "shell chooser {} killed by signal {sig}",
            helper.display()
        )),
        (code, _) => Err(format!(
            "shell chooser {} failed (exit status {})",
            helper.display(),
            code.unwrap_or(-1)
        )),
    }
}

/// `/proc/<pid>` of this process, as the mounted proc names it.
fn own_proc_dir() -> Option<PathBuf> {
    let pid = std::fs::read_link("/proc/self").ok()?;
    Some(Path::new("/proc").join(pid))
}

/// Has an earlier nnp-shell of this same process (same pid, an exec chain: a `#!` script
/// whose interpreter is nnp-shell, a shell that execs nnp-shell again) left its marker?
///
/// The marker is an `O_PATH` descriptor on `/proc/<pid>` that nnp-shell leaves open across
/// the exec of the real shell ([`leave_marker`]). Nothing a user sets without running code
/// (the environment, `~/.pam_environment`, `~/.ssh/environment`, arguments, files) can put
/// a descriptor on a process: descriptors come only from the login program and from the
/// process itself. The shell's children inherit the descriptor, but it names their parent's
/// pid, not theirs: a `$SHELL -c` run by a program of the session is a new login decision.
///
/// The flags come from `fcntl(F_GETFL)` on each descriptor (the `flags:` of its `fdinfo`),
/// and only an `O_PATH` one is read back through `/proc/self/fd` (a lookup in /proc per
/// descriptor is most of the cost of this check).
fn reentered() -> bool {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    let mut own: Option<Option<PathBuf>> = None;
    fds.flatten().any(|fd| {
        let o_path = fd
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
            .and_then(|n| nnp_sys::fd::status_flags(n).ok())
            .is_some_and(|flags| flags & libc::O_PATH != 0);
        o_path
            && own
                .get_or_insert_with(own_proc_dir)
                .as_ref()
                .is_some_and(|own| std::fs::read_link(fd.path()).is_ok_and(|t| &t == own))
    })
}

/// Leave the re-entry marker: an `O_PATH` descriptor on `/proc/<pid>`, kept open across
/// exec (and deliberately never closed).
fn leave_marker() -> Result<(), String> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open("/proc/self")
        .map_err(|e| format!("cannot open /proc/self for the re-entry marker: {e}"))?;
    nnp_sys::fd::keep_across_exec(dir.as_fd())
        .map_err(|e| format!("cannot keep the re-entry marker: {e}"))?;
    let _ = dir.into_raw_fd();
    Ok(())
}

/// Is the file of `meta` (device and inode) the running nnp-shell?
fn is_self(meta: &Metadata) -> bool {
    std::fs::metadata("/proc/self/exe")
        .is_ok_and(|b| meta.dev() == b.dev() && meta.ino() == b.ino())
}

/// Why `shell` cannot be used as the real shell, if it cannot.
fn unusable(shell: &Path) -> Option<String> {
    let shown = shown(shell);
    if !shell.is_absolute() {
        return Some(format!("shell \"{shown}\" is not an absolute path"));
    }
    match std::fs::metadata(shell) {
        Err(e) => Some(format!("shell {shown}: {e}")),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
            Some(format!("shell {shown} is not an executable file"))
        }
        Ok(m) if is_self(&m) => Some(format!(
            "shell {shown} is nnp-shell itself (that would loop)"
        )),
        Ok(_) => None,
    }
}

/// `argv[0]` for the real shell: a login shell (`-nnp-shell`) becomes `-` + the real shell's
/// basename so it reads its profile; otherwise the real shell's path.
fn argv0(own: Option<&OsStr>, shell: &Path) -> OsString {
    let login = own.is_some_and(|a| a.as_bytes().first() == Some(&b'-'));
    if login {
        let base = shell.file_name().unwrap_or(shell.as_os_str());
        let mut v = b"-".to_vec();
        v.extend_from_slice(base.as_bytes());
        OsString::from_vec(v)
    } else {
        shell.as_os_str().to_os_string()
    }
}

/// The real shell: the configured one if it can be used, else /bin/sh (with a warning).
/// Either way the re-entry marker is left for the exec that follows. The flag: the shell has
/// passed [`unusable`] already (the configured one); /bin/sh as the fallback has not.
fn real_shell() -> (PathBuf, bool) {
    let fallback = PathBuf::from(FALLBACK_SHELL);
    let chosen = if reentered() {
        Err(
            "entered again for the same login (the configured shell leads back to nnp-shell)"
                .to_string(),
        )
    } else {
        ask_helper(Path::new(HELPER))
    };
    let (shell, checked) = match chosen.and_then(|s| match unusable(&s) {
        None => Ok(s),
        Some(why) => Err(why),
    }) {
        Ok(s) => (s, true),
        Err(why) => {
            warn(&format!("{why}; using {FALLBACK_SHELL}"));
            (fallback.clone(), false)
        }
    };
    match leave_marker() {
        Ok(()) => (shell, checked),
        // without a marker a shell that leads back here could loop; /bin/sh cannot
        Err(why) if shell != fallback => {
            warn(&format!("{why}; using {FALLBACK_SHELL}"));
            (fallback, false)
        }
        Err(_) => (fallback, checked),
    }
}

fn main() {
    // 1. NNP first, unconditionally; nothing is exec'd without it.
    if let Err(e) = nnp_sys::set_no_new_privs() {
        eprintln!("nnp-shell: cannot set no_new_privs: {e}; not starting a shell");
        std::process::exit(EXIT_NO_NNP);
    }
    // 2. The real shell.
    let (shell, checked) = real_shell();
    if !checked {
        if let Some(why) = unusable(&shell) {
            eprintln!("nnp-shell: {why}; no shell to run");
            std::process::exit(EXIT_NO_NNP + 1);
        }
    }
    // 3. exec it with the same arguments and environment.
    let mut args = std::env::args_os();
    let own0 = args.next();
    let err = Command::new(&shell)
        .arg0(argv0(own0.as_deref(), &shell))
        .args(args)
        .exec();
    eprintln!("nnp-shell: cannot execute {}: {err}", shown(&shell));
    std::process::exit(EXIT_NO_NNP + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_is_the_configs_default() {
        assert_eq!(FALLBACK_SHELL, nnp_config::DEFAULT_SHELL);
    }

    #[test]
    fn login_argv0_gets_a_dash_and_the_basename() {
        assert_eq!(
            argv0(Some(OsStr::new("-nnp-shell")), Path::new("/bin/bash")),
            OsString::from("-bash")
        );
        assert_eq!(
            argv0(Some(OsStr::new("nnp-shell")), Path::new("/bin/bash")),
            OsString::from("/bin/bash")
        );
        assert_eq!(
            argv0(None, Path::new("/bin/zsh")),
            OsString::from("/bin/zsh")
        );
    }

    #[test]
    fn unusable_shells() {
        assert!(unusable(Path::new("bin/sh")).is_some());
        assert!(unusable(Path::new("/nonexistent/shell")).is_some());
        assert!(unusable(Path::new("/etc/passwd")).is_some()); // not executable
        assert!(unusable(Path::new("/")).is_some()); // a directory
        assert!(unusable(Path::new("/bin/sh")).is_none());
    }

    #[test]
    fn the_marker_is_seen_in_this_process() {
        // The test process has no marker until it leaves one (nothing else opens
        // /proc/<pid> with O_PATH here); after that it counts as re-entered.
        assert!(!reentered());
        assert!(leave_marker().is_ok());
        assert!(reentered());
    }

    #[test]
    fn a_missing_helper_is_an_error_not_a_panic() {
        let e = ask_helper(Path::new("/nonexistent/nnp-shell-helper"));
        assert!(e.is_err_and(|m| m.contains("/nonexistent/nnp-shell-helper")));
    }

    #[test]
    fn control_characters_from_the_helper_are_neutralised() {
        // one escaper (nnp-config's): C0 controls, but also bidi overrides and isolates, the
        // line separator and format characters, which is_control() lets through
        let out = printable("a\x1b[2Jb\nc\u{202e}d\u{2066}e\u{2028}f\u{200b}g\tz".as_bytes());
        assert_eq!(
            out,
            nnp_config::escape_message("a\x1b[2Jb", usize::MAX)
                + "\n"
                + &nnp_config::escape_message(
                    "c\u{202e}d\u{2066}e\u{2028}f\u{200b}g\tz",
                    usize::MAX
                )
        );
        for hidden in ['\x1b', '\u{202e}', '\u{2066}', '\u{2028}', '\u{200b}', '\t'] {
            assert!(
                !out.contains(hidden),
                "{hidden:?} reaches the terminal: {out:?}"
            );
        }
        assert_eq!(out.lines().count(), 2);
        // control: printable text, non-ASCII letters included, passes unchanged
        assert_eq!(
            printable("cannot use config: règle 3\nok".as_bytes()),
            "cannot use config: règle 3\nok"
        );
    }

    #[test]
    fn shell_paths_are_escaped_with_the_one_escaper() {
        let why = unusable(Path::new("/bin/\u{202e}hs\u{2028}")).unwrap_or_default();
        assert!(
            !why.contains('\u{202e}') && !why.contains('\u{2028}'),
            "{why:?}"
        );
        assert!(
            why.contains(&nnp_config::escape_value("/bin/\u{202e}hs\u{2028}")),
            "{why:?}"
        );
        let why = unusable(Path::new("re\u{202e}l\x1b")).unwrap_or_default();
        assert!(
            why.starts_with("shell \"re") && !why.contains('\u{202e}') && !why.contains('\x1b'),
            "{why:?}"
        );
        // control: an ordinary missing path is shown as is
        let why = unusable(Path::new("/nonexistent/zsh")).unwrap_or_default();
        assert!(why.starts_with("shell /nonexistent/zsh: "), "{why:?}");
    }
}
