//! Any bytes as a config file: the parser must return a Config or diagnostics, never panic,
//! and every diagnostic must name the file and carry a sane position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/security/nnp.toml");
    match nnp_config::parse_text(path, text) {
        Ok(config) => {
            // exercise the matcher too
            let groups = vec!["restricted".to_string()];
            let s = nnp_config::Subject { user: "alice", uid: 2001, groups: &groups };
            let _ = config.decide(&s, nnp_config::Service::Named("sshd"));
            let _ = config.shell_for(&s);
            let _ = config.restricted_for_any_service(&s);
            let _ = config.shadowed();
        }
        Err(e) => {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                assert!(d.to_string().starts_with("/etc/security/nnp.toml"));
                if let Some((line, col)) = d.pos {
                    assert!(line >= 1 && col >= 1);
                    assert!(line <= text.lines().count().max(1) + 1);
                }
                let _ = d.render();
            }
        }
    }
});
