//! `pam_nnp.so`: a PAM session module that sets `no_new_privs` for users the configuration
//! names. See `pam_nnp(8)`.
//!
//! The hooks below only turn PAM's world into plain values and back; the decision is
//! [`core::open_session`], built on the shared `nnp-config` crate.
#![deny(unsafe_code)]

/// The module arguments (parsed by nnp-config, shared with `nnpctl doctor`).
pub use nnp_config::args;
pub mod core;
pub mod log;

use std::ffi::CStr;

use pam::constants::{PamFlag, PamResultCode, PAM_SILENT, PAM_TEXT_INFO};
use pam::conv::Conv;
use pam::items::{Service, User};
use pam::module::{PamHandle, PamHooks};

use crate::core::{Code, RealSystem, Response};

struct PamNnp;
// The macro generates the `extern "C"` entry points (pam-bindings' own unsafe code, each
// hook wrapped in catch_unwind); nothing else in this crate is unsafe.
#[allow(unsafe_code)]
mod hooks {
    use super::PamNnp;
    pam::pam_hooks!(PamNnp);
}

fn pam_code(code: Code) -> PamResultCode {
    match code {
        Code::Success => PamResultCode::PAM_SUCCESS,
        Code::Ignore => PamResultCode::PAM_IGNORE,
        Code::SessionErr => PamResultCode::PAM_SESSION_ERR,
    }
}

#[cfg(feature = "fault-injection")]
fn inject_fault(user: Option<&[u8]>) {
    if user == Some(b"nnp-fault-injection-panic".as_slice()) {
        std::panic::panic_any("injected fault");
    }
}

#[cfg(not(feature = "fault-injection"))]
fn inject_fault(_user: Option<&[u8]>) {}

thread_local! {
    /// Where the panic hook leaves the last panic's location and message for the log line.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}
static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// The module never prints: replace the default panic hook (which writes to stderr) with one
/// that keeps the message for the log. The hook belongs to this cdylib's own copy of std, so
/// it affects only panics inside the module, never the host program.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown payload".to_string()
            };
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let _ = LAST_PANIC.try_with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    *p = Some(format!("{msg}{place}"));
                }
            });
        }));
    });
}

fn open_session(pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag) -> PamResultCode {
    install_panic_hook();
    let argv: Vec<&[u8]> = args.iter().map(|a| a.to_bytes()).collect();
    // The arguments are parsed once, here; a bad one is an error under the line's on_error.
    let (parsed, arg_error) = args::parse(&argv);
    let user: Option<Vec<u8>> = match pamh.get_item::<User>() {
        Ok(Some(u)) => Some(u.0.to_bytes().to_vec()),
        _ => None,
    };
    let shown = || {
        user.as_deref()
            .map_or_else(|| "(none)".to_string(), nnp_config::escape_value)
    };
    if let Some(e) = arg_error {
        let response = core::error_response(parsed.on_error, &shown(), &e.to_string());
        return apply(pamh, &response, flags);
    }
    // A service that cannot be read would make every `services` rule silently not match:
    // an error like any other, under the line's on_error.
    let service = match pamh.get_item::<Service>() {
        Ok(Some(s)) if !s.0.to_bytes().is_empty() => {
            String::from_utf8_lossy(s.0.to_bytes()).into_owned()
        }
        _ => {
            let response =
                core::error_response(parsed.on_error, &shown(), "PAM_SERVICE is not set");
            return apply(pamh, &response, flags);
        }
    };
    // A panic anywhere in the decision becomes the line's on_error result, never an
    // unwind into the login program.
    let response = std::panic::catch_unwind(|| {
        inject_fault(user.as_deref());
        core::open_session(&RealSystem, &parsed, user.as_deref(), &service)
    })
    .unwrap_or_else(|_| {
        let what = LAST_PANIC
            .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take()))
            .ok()
            .flatten()
            .unwrap_or_default();
        core::error_response(
            parsed.on_error,
            &shown(),
            &format!("internal error in pam_nnp (panic: {what})"),
        )
    });
    apply(pamh, &response, flags)
}

fn apply(pamh: &mut PamHandle, response: &Response, flags: PamFlag) -> PamResultCode {
    if let Some(notice) = &response.notice {
        if flags & PAM_SILENT == 0 {
            if let Ok(Some(conv)) = pamh.get_item::<Conv>() {
                // A conversation failure is not an error.
                let _ = conv.send(PAM_TEXT_INFO, notice);
            }
        }
    }
    // Logging is best effort and cannot panic into the decision.
    let handle: &PamHandle = pamh;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        log::send(handle, &response.logs)
    }));
    pam_code(response.code)
}

impl PamHooks for PamNnp {
    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        open_session(pamh, &args, flags)
    }
    // Every other hook keeps the trait's default: PAM_IGNORE.
}
