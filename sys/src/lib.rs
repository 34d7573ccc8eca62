//! The only `unsafe` code of nnp: small safe wrappers around `prctl`, the reentrant NSS
//! calls (`getpwnam_r`, `getpwuid_r`, `getgrnam_r`, `getgrgid_r`, `getgrouplist`; the
//! `getpwent_r` enumeration for `nnpctl check` only), `sysconf`, `fcntl` and, with the `pam`
//! feature, `pam_syslog(3)`.
//! Every other crate of nnp is `#![forbid(unsafe_code)]`, but for two exceptions the compiler
//! sees: the `extern "C"` hooks `pam_hooks!` generates in pam_nnp and the generated BPF
//! skeletons in nnp-guard (both `#![deny(unsafe_code)]` with one `#[allow]` each).
//!
//! Names go in and come out as bytes, exactly as NSS has them: nothing is converted lossily.
//!
//! One file per job, every function re-exported here: `prctl.rs` (the no_new_privs bit),
//! `nss.rs` (passwd and group lookups), `process.rs` (`getuid`, `sysconf`), `syslog.rs`
//! (`syslog(3)` for the tools), [`fd`] (descriptors kept across exec, their flags), `pamlog`
//! (with the `pam` feature: `pam_syslog(3)`).

use std::fmt;

pub mod fd;
mod nss;
#[cfg(feature = "pam")]
pub mod pamlog;
mod prctl;
mod process;
mod syslog;

pub use nss::{getgr, getpw, group_list, scan_users, GrEntry, GrKey, PwEntry, PwKey};
pub use prctl::{no_new_privs, set_no_new_privs};
pub use process::{clock_ticks, real_uid};
pub use syslog::syslog_authpriv;

/// A failed system call, in words an administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    /// Which call, on what (`"group lookup for \"x\" (getgrnam_r)"`).
    pub what: String,
    /// errno (0 when the call "succeeded" with a wrong result).
    pub errno: i32,
}

/// The text of an errno without Rust's " (os error N)" suffix.
pub fn errno_text(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno == 0 {
            write!(f, "{} failed", self.what)
        } else {
            write!(
                f,
                "{} failed: {} (errno {})",
                self.what,
                errno_text(self.errno),
                self.errno
            )
        }
    }
}

impl std::error::Error for SysError {}

pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
