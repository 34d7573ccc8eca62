//! Compile the BPF program with clang and generate its Rust skeleton (libbpf-cargo).
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/guard.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"))
        .join("guard.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-I", "src/bpf", "-Wall", "-O2"])
        .build_and_generate(&out)
        .expect("building the BPF program (needs clang, libelf-dev, zlib1g-dev)");
    println!("cargo:rerun-if-changed=src/bpf");
}
