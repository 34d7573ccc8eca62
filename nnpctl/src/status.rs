//! `nnpctl status [PID...]`: NoNewPrivs, Seccomp and uids of processes.

use std::path::Path;

use crate::procfs;
use crate::{Outcome, Output};

pub fn run(pids: &[u32]) -> Output {
    let pids: Vec<u32> = if pids.is_empty() {
        // nnpctl itself: it inherited its NoNewPrivs and uids from whoever ran it.
        vec![std::process::id()]
    } else {
        pids.to_vec()
    };
    let root = Path::new("/proc");
    let mut r = Output::new();
    let mut buf = Vec::with_capacity(4096);
    r.line(format!(
        "{:>7}  {:<10} {:<8} {:>6} {:>6}  COMMAND",
        "PID", "NoNewPrivs", "Seccomp", "UID", "EUID"
    ));
    for pid in pids {
        match procfs::read(root, pid, &mut buf) {
            None => {
                r.err.push_str(&format!("nnpctl: no such process: {pid}\n"));
                r.outcome = Outcome::Problem;
            }
            Some(p) => {
                let nnp = match p.nnp {
                    Some(true) => "1",
                    Some(false) => "0",
                    None => "?",
                };
                let seccomp = match p.seccomp {
                    Some(0) => "0 (off)",
                    Some(1) => "1 (strict)",
                    Some(2) => "2 (filter)",
                    _ => "?",
                };
                r.line(format!(
                    "{:>7}  {:<10} {:<8} {:>6} {:>6}  {}",
                    p.pid,
                    nnp,
                    seccomp,
                    p.ruid,
                    p.euid,
                    procfs::cmdline(root, pid, &p.name, &mut buf)
                ));
            }
        }
    }
    r
}
