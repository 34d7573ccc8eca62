//! `syslog(3)` for the tools (`nnpctl guard watch`); the PAM module logs through
//! `pam_syslog(3)` instead (`pamlog`).

use std::ffi::CString;

/// Log one line to syslog, facility authpriv, with `ident` (for `nnpctl guard watch`).
/// Best effort, like every syslog(3) call: no socket, no message.
pub fn syslog_authpriv(ident: &'static std::ffi::CStr, err: bool, message: &str) {
    let bytes: Vec<u8> = message.bytes().take_while(|&b| b != 0).collect();
    let Ok(msg) = CString::new(bytes) else {
        return;
    };
    let prio = if err { libc::LOG_ERR } else { libc::LOG_NOTICE };
    // SAFETY: ident is a 'static NUL-terminated string (openlog keeps the pointer); the
    // format is a constant "%s" and its argument a NUL-terminated string alive for the call.
    unsafe {
        libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV);
        libc::syslog(prio, c"%s".as_ptr(), msg.as_ptr());
    }
}
