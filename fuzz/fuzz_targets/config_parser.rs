//! Any bytes as a config file: the parser must return a Config or diagnostics, never panic,
//! and every diagnostic must name the file and carry a sane position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnp_config::{Directory, GroupEntry, LookupError, Resolver, Service, UserEntry, Who};
use std::path::Path;

/// A small fixed directory: alice (2001) in restricted (4100); other groups unknown.
struct Dir;
impl Directory for Dir {
    fn user_by_name(&self, name: &[u8]) -> Result<Option<UserEntry>, LookupError> {
        Ok((name == b"alice").then(|| UserEntry { name: name.to_vec(), uid: 2001, gid: 2001 }))
    }
    fn user_by_uid(&self, uid: u32) -> Result<Option<UserEntry>, LookupError> {
        Ok((uid == 2001).then(|| UserEntry { name: b"alice".to_vec(), uid, gid: 2001 }))
    }
    fn group_by_name(&self, name: &[u8]) -> Result<Option<GroupEntry>, LookupError> {
        Ok((name == b"restricted").then(|| GroupEntry { name: name.to_vec(), gid: 4100, members: vec![b"alice".to_vec()] }))
    }
    fn group_ids(&self, _user: &[u8], primary: u32) -> Result<Vec<u32>, LookupError> {
        Ok(vec![primary, 4100])
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/security/nnp.toml");
    match nnp_config::parse_text(path, text) {
        Ok(config) => {
            // exercise the matcher too
            let mut res = Resolver::new(&Dir);
            let _ = config.decide(&mut res, Who::Name(b"alice"), Service::Named("sshd"));
            let _ = config.shell_for(&mut res, Who::Uid(2001));
            let _ = config.decide_any_service(&mut res, Who::Uid(2001));
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
