//! `pam_syslog(3)`: log as every Linux-PAM module does (facility authpriv, the prefix
//! `MODULE(SERVICE:TYPE): `, the application's openlog identity, local time).

use std::ffi::CString;

use pam::module::PamHandle;

/// syslog priorities used by the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// LOG_ERR
    Err,
    /// LOG_NOTICE
    Notice,
    /// LOG_DEBUG
    Debug,
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_syslog(pamh: *const PamHandle, priority: libc::c_int, fmt: *const libc::c_char, ...);
}

/// Log one message through libpam. The message is passed as the argument of a constant
/// `"%s"` format, so no `%` in it is interpreted; an interior NUL ends it.
pub fn log(pamh: &PamHandle, priority: Priority, message: &str) {
    let prio = match priority {
        Priority::Err => libc::LOG_ERR,
        Priority::Notice => libc::LOG_NOTICE,
        Priority::Debug => libc::LOG_DEBUG,
    };
    let bytes: Vec<u8> = message.bytes().take_while(|&b| b != 0).collect();
    let Ok(msg) = CString::new(bytes) else {
        return;
    };
    // SAFETY: pamh is a live handle (a reference handed to the hook by libpam); the format
    // is a constant "%s" and its one argument is a NUL-terminated string alive for the call.
    unsafe { pam_syslog(pamh, prio, c"%s".as_ptr(), msg.as_ptr()) };
}
