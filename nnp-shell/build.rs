//! Links the `nnp-shell` binary statically (a static-pie), however it is built: `cargo build`,
//! `cargo install`, `make`, the packages. A dynamically linked nnp-shell would run code that
//! the environment chooses (`LD_PRELOAD`, `LD_AUDIT`, the IFUNC resolvers of preloaded
//! libraries) before its `main` sets no_new_privs; a static one has no dynamic loader.
//!
//! Cargo has no per-binary `-C target-feature=+crt-static`, and setting it for the workspace
//! would drop the `pam_nnp` cdylib. So, for this one binary only, the link gets `-static-pie`,
//! and rustc's `-Bdynamic -lgcc_s -lc ...` (which would pull in the shared libraries even
//! then) are answered from a directory searched first, holding a linker script per name that
//! points at the static archive (`libc.so` -> `libc.a` ...). The helper binary
//! (`nnp-shell-helper`, which needs NSS) stays dynamic, libgcc_s included: linking the
//! unwinder from `libgcc_eh.a` into it would save about 0.15 ms of every nnp-shell start, but
//! GCC 12's static unwinder needs glibc 2.35's `_dl_find_object`, and the packages' binaries
//! run on glibc 2.34 (RHEL 9) today. A toolchain without the static C library fails here with
//! a message saying what to install, never with a dynamic nnp-shell.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = "nnp-shell";

fn fail(msg: &str) -> ! {
    eprintln!("error: nnp-shell must be linked statically: {msg}");
    eprintln!(
        "error: install the static C library (Debian/Ubuntu: libc6-dev; Fedora/RHEL: glibc-static), \
         or build with RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p nnp-shell --target <host triple>"
    );
    std::process::exit(1);
}

/// The full path of a library file as the C compiler driver finds it, if it does.
fn find(cc: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (path.is_absolute() && path.is_file()).then_some(path)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NNP_SHELL_HELPER");
    println!("cargo:rerun-if-env-changed=NNP_CONFIG");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let var = |k: &str| env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        fail("only Linux targets are supported");
    }
    if var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static")
    {
        // rustc links it statically already (RUSTFLAGS=-C target-feature=+crt-static, musl).
        return;
    }
    if var("CARGO_CFG_TARGET_ENV") != "gnu" {
        fail("this target links dynamically and is not glibc; build with -C target-feature=+crt-static");
    }
    let cc = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let need = |name: &str| {
        find(&cc, name)
            .unwrap_or_else(|| fail(&format!("{cc} -print-file-name={name} finds no {name}")))
    };
    let libc = need("libc.a");
    let gcc = need("libgcc.a");
    let gcc_eh = need("libgcc_eh.a");
    let out_dir = |name: &str| {
        let dir = PathBuf::from(var("OUT_DIR")).join(name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            fail(&format!("cannot create {}: {e}", dir.display()));
        }
        dir
    };
    let dir = out_dir("static-libs");
    let script = |dir: &Path, name: &str, files: &[&Path]| {
        let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let text = format!(
            "/* nnp-shell's static link: -l{name} means these archives */\nGROUP ( {} )\n",
            list.join(" ")
        );
        let path = dir.join(format!("lib{name}.so"));
        if let Err(e) = std::fs::write(&path, text) {
            fail(&format!("cannot write {}: {e}", path.display()));
        }
    };
    script(&dir, "c", &[&libc, &gcc, &gcc_eh]);
    script(&dir, "gcc_s", &[&gcc_eh, &gcc]);
    // glibc 2.34+ keeps these as empty archives; where one is missing, libc.a stands in.
    for name in ["m", "pthread", "dl", "rt", "util"] {
        let archive = find(&cc, &format!("lib{name}.a")).unwrap_or_else(|| libc.clone());
        script(&dir, name, &[&archive]);
    }
    // `cargo build --workspace` unifies features: nnp-sys gets `pam` (for pam_nnp), and with
    // it pam-bindings' `-lpam`. nnp-shell uses none of it, but a shared libpam among the
    // inputs (even one --as-needed drops) makes the linker emit dynamic symbols that a
    // static-pie cannot resolve: it crashes at start. An empty archive answers `-lpam`; a
    // real use of libpam here would fail the link instead.
    let empty = dir.join("libpam.a");
    if let Err(e) = std::fs::write(&empty, b"!<arch>\n") {
        fail(&format!("cannot write {}: {e}", empty.display()));
    }
    println!("cargo:rustc-link-arg-bin={BIN}=-static-pie");
    println!("cargo:rustc-link-arg-bin={BIN}=-L{}", dir.display());
}
