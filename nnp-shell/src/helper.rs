//! `nnp-shell-helper`: nnp-shell's shell chooser. The static `nnp-shell` runs it (at the
//! path compiled into nnp-shell) after no_new_privs is set, with a cleared, fixed
//! environment, stdin and stderr on /dev/null and stdout on a pipe. It is dynamically linked
//! because it needs NSS (groups from `files`, `systemd`, `sss`, `ldap`, `winbind`...), which
//! a static binary cannot load safely; with the environment cleared, the dynamic loader and
//! the NSS modules see nothing the user chose.
//!
//! It loads the configuration from the compiled-in path only and asks the one decision,
//! [`nnp_config::Config::shell_for`], for the real uid. The answer, on stdout:
//! exit status 0 and the shell's path (bytes, no newline), or exit status 1 and the reason
//! the configuration cannot be used (text). nnp-shell validates the path itself.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;

use nnp_config::{Nss, Resolver, Who};

/// The configuration: compiled in (packagers may set `NNP_CONFIG` at build time), as for
/// pam_nnp; no environment variable or argument can redirect it at run time.
const CONFIG: &str = match option_env!("NNP_CONFIG") {
    Some(p) => p,
    None => nnp_config::DEFAULT_CONFIG,
};

/// The shell the configuration names for the caller, or why it cannot be used.
fn choose() -> Result<String, String> {
    let config =
        nnp_config::load(Path::new(CONFIG)).map_err(|e| format!("cannot use config: {e}"))?;
    let mut res = Resolver::new(&Nss);
    let choice = config
        .shell_for(&mut res, Who::Uid(nnp_sys::real_uid()))
        .map_err(|e| e.to_string())?;
    Ok(choice.shell.to_string())
}

fn main() {
    let (status, reply) = match choose() {
        Ok(shell) => (0, shell),
        Err(why) => (1, why),
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(reply.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(2);
    }
    std::process::exit(status);
}
