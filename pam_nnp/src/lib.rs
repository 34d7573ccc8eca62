//! `pam_nnp.so`: a PAM session module that sets `no_new_privs` for users the configuration
//! names. See `pam_nnp(8)`.
//!
//! The hooks below only turn PAM's world into plain values and back; the decision is
//! [`core::open_session`], built on the shared `nnp-config` crate.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod args;
pub mod core;
pub mod log;

use std::ffi::CStr;

use pam::constants::{PamFlag, PamResultCode, PAM_SILENT, PAM_TEXT_INFO};
use pam::conv::Conv;
use pam::items::{Service, User};
use pam::module::{PamHandle, PamHooks};
use pam::pam_hooks;

use crate::core::{Code, RealSystem, Report};

struct PamNnp;
pam_hooks!(PamNnp);

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

fn open_session(pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag) -> PamResultCode {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.to_bytes()).collect();
    let service = match pamh.get_item::<Service>() {
        Ok(Some(s)) => String::from_utf8_lossy(s.0.to_bytes()).into_owned(),
        _ => "?".to_string(),
    };
    let user: Option<Vec<u8>> = match pamh.get_item::<User>() {
        Ok(Some(u)) => Some(u.0.to_bytes().to_vec()),
        _ => None,
    };
    // A panic anywhere in the decision becomes the line's on_error result, never an
    // unwind into the login program.
    let report = std::panic::catch_unwind(|| {
        inject_fault(user.as_deref());
        core::open_session(&RealSystem, &argv, user.as_deref(), &service)
    })
    .unwrap_or_else(|_| {
        let (parsed, _) = args::parse(&argv);
        let shown = user
            .as_deref()
            .map_or_else(|| "(none)".to_string(), nnp_config::sys::escape_name);
        core::error_report(parsed.on_error, &shown, "internal error (panic) in pam_nnp")
    });
    apply(pamh, &service, &report, flags)
}

fn apply(pamh: &mut PamHandle, service: &str, report: &Report, flags: PamFlag) -> PamResultCode {
    if let Some(notice) = &report.notice {
        if flags & PAM_SILENT == 0 {
            if let Ok(Some(conv)) = pamh.get_item::<Conv>() {
                // A conversation failure is not an error.
                let _ = conv.send(PAM_TEXT_INFO, notice);
            }
        }
    }
    // Logging is best effort and cannot panic into the decision.
    let _ = std::panic::catch_unwind(|| log::send(service, &report.logs));
    pam_code(report.code)
}

impl PamHooks for PamNnp {
    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        open_session(pamh, &args, flags)
    }
    // Every other hook keeps the trait's default: PAM_IGNORE.
}
