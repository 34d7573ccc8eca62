//! Compile the BPF programs with clang and generate their Rust skeletons (libbpf-cargo):
//! the guard itself and the iterator that tells the loader how the kernel identifies a
//! `guard_allow` file. Both include `src/bpf/guard.h`, the contract with the loader.
// A build script reports failure by panicking: cargo prints the message and stops the build.
#![allow(clippy::expect_used)]

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;
use sha2::{Digest, Sha256};

const PROGRAMS: [(&str, &str); 3] = [
    ("src/bpf/guard.bpf.c", "guard.skel.rs"),
    ("src/bpf/allow_key.bpf.c", "allow_key.skel.rs"),
    ("src/bpf/tasks.bpf.c", "tasks.skel.rs"),
];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for (src, skel) in PROGRAMS {
        SkeletonBuilder::new()
            .source(src)
            .clang_args(["-I", "src/bpf", "-Wall", "-O2"])
            .build_and_generate(out.join(skel))
            .expect("building the BPF program (needs clang, libelf-dev, zlib1g-dev)");
    }
    // The identity of the program this loader carries: SHA-256 of every BPF source file, in
    // name order. The metadata records it at load; status calls a guard loaded from other
    // sources (an older nnp after an upgrade) not current.
    let mut files: Vec<PathBuf> = std::fs::read_dir("src/bpf")
        .expect("reading src/bpf")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        h.update(std::fs::read(&f).expect("reading a BPF source"));
    }
    let id: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=NNP_GUARD_PROGRAM_ID={id}");
    println!("cargo:rerun-if-changed=src/bpf");
}
