//! Compile the BPF programs with clang and generate their Rust skeletons (libbpf-cargo):
//! the guard itself and the iterator that tells the loader how the kernel identifies a
//! `guard_allow` file. Both include `src/bpf/guard.h`, the contract with the loader.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const PROGRAMS: [(&str, &str); 2] = [
    ("src/bpf/guard.bpf.c", "guard.skel.rs"),
    ("src/bpf/allow_key.bpf.c", "allow_key.skel.rs"),
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
    println!("cargo:rerun-if-changed=src/bpf");
}
