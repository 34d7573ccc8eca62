//! Any list of arguments on the PAM line: parsed or refused with a message, never a panic;
//! messages never carry raw control characters (they go to syslog).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let (parsed, err) = pam_nnp::args::parse(&args);
    if let Some(e) = err {
        assert!(!e.to_string().chars().any(|c| c.is_control()));
    } else {
        assert!(parsed.config.is_absolute());
    }
});
