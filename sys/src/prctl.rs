//! `prctl`: set and read the calling thread's no_new_privs bit.

use crate::{last_errno, SysError};

/// Set no_new_privs on the calling thread (inherited by everything forked and exec'd from
/// it), then read it back: `Ok(())` only when the kernel reports it set.
pub fn set_no_new_privs() -> Result<(), SysError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(SysError {
            what: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
            errno: last_errno(),
        });
    }
    match no_new_privs()? {
        true => Ok(()),
        false => Err(SysError {
            what: "verifying no_new_privs with PR_GET_NO_NEW_PRIVS (still 0)".into(),
            errno: 0,
        }),
    }
}

/// The no_new_privs bit of the calling thread.
pub fn no_new_privs() -> Result<bool, SysError> {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes plain integer arguments and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    if rc < 0 {
        return Err(SysError {
            what: "prctl(PR_GET_NO_NEW_PRIVS)".into(),
            errno: last_errno(),
        });
    }
    Ok(rc == 1)
}
