//! `nnp-shell`: a login shell for paths that open no PAM session (dropbear, `UsePAM no`,
//! container entry points). It sets no_new_privs unconditionally, then execs the real shell
//! named by the configuration. See nnp-shell(8).
//!
//! It never writes to stdout (scp, sftp and rsync speak their protocols there); warnings go
//! to stderr. It never loops and never locks a user out: any problem with the configuration
//! or the chosen shell falls back to /bin/sh, with NNP set either way.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nnp_config::{Nss, Resolver, Who, DEFAULT_SHELL};

/// The configuration nnp-shell reads: compiled in (packagers may set `NNP_CONFIG` at build
/// time); no environment variable or argument can redirect it at run time.
const CONFIG: &str = match option_env!("NNP_CONFIG") {
    Some(p) => p,
    None => nnp_config::DEFAULT_CONFIG,
};

/// Exit status when NNP cannot be set (as a shell's "found but cannot execute").
const EXIT_NO_NNP: i32 = 126;

fn warn(msg: &str) {
    eprintln!("nnp-shell: warning: {msg}");
}

/// The shell named by the configuration, or why it cannot be used. The decision is the
/// config crate's (the first rule matching the real uid, services ignored).
fn configured_shell() -> Result<String, String> {
    let config =
        nnp_config::load(Path::new(CONFIG)).map_err(|e| format!("cannot use config: {e}"))?;
    let mut res = Resolver::new(&Nss);
    let choice = config
        .shell_for(&mut res, Who::Uid(nnp_sys::real_uid()))
        .map_err(|e| e.to_string())?;
    Ok(choice.shell.to_string())
}

/// Set in the environment before the real shell is exec'd: our pid. exec keeps the pid, so
/// finding our own pid here means this login came back into nnp-shell through its own
/// exec chain (a `#!` script whose interpreter is nnp-shell, a shell that execs it again).
const REENTRY_VAR: &str = "NNP_SHELL_PID";

fn reentered() -> bool {
    std::env::var_os(REENTRY_VAR).is_some_and(|v| v == std::process::id().to_string().as_str())
}

/// Same file (device and inode) as the running nnp-shell?
fn is_self(path: &Path) -> bool {
    match (std::fs::metadata(path), std::fs::metadata("/proc/self/exe")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Why `shell` cannot be used as the real shell, if it cannot.
fn unusable(shell: &str) -> Option<String> {
    let path = Path::new(shell);
    if !path.is_absolute() {
        return Some(format!(
            "shell \"{}\" is not an absolute path",
            shell.escape_debug()
        ));
    }
    match std::fs::metadata(path) {
        Err(e) => Some(format!("shell {shell}: {e}")),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
            Some(format!("shell {shell} is not an executable file"))
        }
        Ok(_) if is_self(path) => Some(format!(
            "shell {shell} is nnp-shell itself (that would loop)"
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

fn main() {
    // 1. NNP first, unconditionally; nothing is exec'd without it.
    if let Err(e) = nnp_sys::set_no_new_privs() {
        eprintln!("nnp-shell: cannot set no_new_privs: {e}; not starting a shell");
        std::process::exit(EXIT_NO_NNP);
    }
    // 2. The real shell.
    let shell = if reentered() {
        warn(&format!(
            "entered again for the same login (the configured shell leads back to nnp-shell); using {DEFAULT_SHELL}"
        ));
        Ok(DEFAULT_SHELL.to_string())
    } else {
        configured_shell()
    };
    let shell = match shell {
        Ok(s) => match unusable(&s) {
            None => s,
            Some(why) => {
                warn(&format!("{why}; using {DEFAULT_SHELL}"));
                DEFAULT_SHELL.to_string()
            }
        },
        Err(why) => {
            warn(&format!("{why}; using {DEFAULT_SHELL}"));
            DEFAULT_SHELL.to_string()
        }
    };
    if shell == DEFAULT_SHELL {
        if let Some(why) = unusable(DEFAULT_SHELL) {
            eprintln!("nnp-shell: {why}; no shell to run");
            std::process::exit(EXIT_NO_NNP + 1);
        }
    }
    // 3. exec it with the same arguments and environment.
    let mut args = std::env::args_os();
    let own0 = args.next();
    let shell = PathBuf::from(shell);
    let err = Command::new(&shell)
        .env(REENTRY_VAR, std::process::id().to_string())
        .arg0(argv0(own0.as_deref(), &shell))
        .args(args)
        .exec();
    eprintln!("nnp-shell: cannot execute {}: {err}", shell.display());
    std::process::exit(EXIT_NO_NNP + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(unusable("bin/sh").is_some());
        assert!(unusable("/nonexistent/shell").is_some());
        assert!(unusable("/etc/passwd").is_some()); // not executable
        assert!(unusable("/").is_some()); // a directory
        assert!(unusable("/bin/sh").is_none());
    }
}
