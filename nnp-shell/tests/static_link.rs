//! The nnp-shell that cargo builds (this very profile: `cargo test` builds it the way
//! `cargo build` does) is a static executable: no program interpreter (`PT_INTERP`), no
//! shared library (`DT_NEEDED`), so no dynamic loader runs code that the environment names
//! (`LD_PRELOAD`, `LD_AUDIT`) before nnp-shell sets no_new_privs. The helper is the control:
//! it is dynamic, and the same reader sees its interpreter and libraries.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NEEDED: u64 = 1;

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// (has a PT_INTERP segment, number of DT_NEEDED entries) of a 64-bit little-endian ELF file.
fn dynamic_facts(path: &str) -> (bool, usize) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{path} is not ELF");
    assert_eq!(b[4], 2, "{path}: only ELF64 is read here");
    assert_eq!(b[5], 1, "{path}: only little-endian is read here");
    let phoff = u64le(&b, 0x20) as usize;
    let phentsize = u16le(&b, 0x36) as usize;
    let phnum = u16le(&b, 0x38) as usize;
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32le(&b, ph) {
            PT_INTERP => interp = true,
            PT_DYNAMIC => {
                let off = u64le(&b, ph + 8) as usize;
                let size = u64le(&b, ph + 32) as usize;
                needed += (0..size / 16)
                    .map(|k| u64le(&b, off + 16 * k))
                    .take_while(|&tag| tag != 0)
                    .filter(|&tag| tag == DT_NEEDED)
                    .count();
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn nnp_shell_is_static() {
    let (interp, needed) = dynamic_facts(env!("CARGO_BIN_EXE_nnp-shell"));
    assert!(
        !interp,
        "nnp-shell has a program interpreter (dynamically linked)"
    );
    assert_eq!(needed, 0, "nnp-shell needs shared libraries");
}

#[test]
fn control_the_helper_is_dynamic() {
    let (interp, needed) = dynamic_facts(env!("CARGO_BIN_EXE_nnp-shell-helper"));
    assert!(interp, "the reader must see the helper's interpreter");
    assert!(
        needed > 0,
        "the reader must see the helper's shared libraries"
    );
}

#[test]
fn nnp_shell_runs() {
    // A static-pie whose link left symbol relocations behind crashes before main (a
    // workspace build once linked libpam's -lpam in and did). Whatever shell it picks here
    // (the helper is usually not installed: /bin/sh), `-c 'exit 7'` must come back as 7.
    use std::os::unix::process::ExitStatusExt;
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_nnp-shell"))
        .args(["-c", "exit 7"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), None, "nnp-shell was killed by a signal");
    assert_eq!(status.code(), Some(7));
}
