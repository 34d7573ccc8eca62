//! Every task as the kernel sees it, for `nnpctl audit`: the task iterator of
//! `src/bpf/tasks.bpf.c`. Reading /proc cannot meet a process that forks and exits in a
//! loop (each pid lives a fraction of a millisecond); the iterator walks the tasks in pid
//! order inside the kernel, so it cannot pass such a chain's newest member, unless the pid
//! counter wraps during the walk, which [`snapshot`] detects and walks again for. A task's pid
//! goes down only when a thread other than the leader runs a program (it takes the process
//! id, which the walk may have passed): [`Task::threads`] lets the reader find the processes
//! whose threads the walk did not all meet and read them again.

use std::io::Read;
use std::mem::{offset_of, size_of, MaybeUninit};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};

use crate::generated::tasks_skel;
use crate::{read_u32, read_u64, sys, GuardError};

type Raw = tasks_skel::types::nnp_task;

/// Groups written after each record, at most (`NNP_TASK_GROUPS` of `src/bpf/guard.h`); a
/// task with more is marked [`Task::truncated`].
pub const GROUPS_WRITTEN: usize = 1024;

/// One thread, read in the kernel (its objective credentials, as /proc/PID/status shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Process id (the initial pid namespace's).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Real, effective, saved and filesystem uid.
    pub uids: [u32; 4],
    /// Real, effective, saved and filesystem gid.
    pub gids: [u32; 4],
    /// Supplementary groups (complete unless `truncated`).
    pub groups: Vec<u32>,
    /// no_new_privs is set.
    pub nnp: bool,
    /// A kernel thread.
    pub kthread: bool,
    /// Exited (a zombie waiting for its parent, or dead): it runs nothing, exec included.
    pub exited: bool,
    /// Holds a permitted capability.
    pub caps: bool,
    /// More groups than the iterator writes: `groups` holds the first ones only.
    pub truncated: bool,
    /// Its credentials or groups could not be read: it cannot be judged from this record.
    pub unread: bool,
    /// The process's (its group leader's) start time, ns since boot (CLOCK_BOOTTIME).
    pub start_ns: u64,
    /// The process's (its group leader's) command name (`comm`), up to 15 bytes.
    pub comm: Vec<u8>,
    /// The process's threads not yet released when this one was read.
    pub threads: u32,
}

impl Task {
    /// Holds more than its real ids give (a setuid program running), as
    /// `/proc/PID/status` would show.
    pub fn privileged(&self) -> bool {
        self.caps
            || self.uids.iter().any(|&u| u != self.uids[0])
            || self.gids.iter().any(|&g| g != self.gids[0])
    }
}

/// Parse the iterator's output: records, each followed by its groups.
pub fn parse(bytes: &[u8]) -> Result<Vec<Task>, GuardError> {
    let rec = size_of::<Raw>();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes
            .get(at..at + rec)
            .ok_or_else(|| GuardError::System("the task iterator's output is cut short".into()))?;
        let n = read_u32(b, offset_of!(Raw, nwritten)) as usize;
        let groups_at = at + rec;
        let g = bytes
            .get(groups_at..groups_at + 4 * n)
            .ok_or_else(|| GuardError::System("the task iterator's output is cut short".into()))?;
        let flags = read_u32(b, offset_of!(Raw, flags));
        let has = |f: tasks_skel::types::nnp_task_flag| flags & f.0 != 0;
        use tasks_skel::types::nnp_task_flag as F;
        let comm_at = offset_of!(Raw, comm);
        let comm = &b[comm_at..comm_at + 16];
        let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
        let ngroups = read_u32(b, offset_of!(Raw, ngroups)) as usize;
        out.push(Task {
            tgid: read_u32(b, offset_of!(Raw, tgid)),
            tid: read_u32(b, offset_of!(Raw, pid)),
            uids: [
                read_u32(b, offset_of!(Raw, uid)),
                read_u32(b, offset_of!(Raw, euid)),
                read_u32(b, offset_of!(Raw, suid)),
                read_u32(b, offset_of!(Raw, fsuid)),
            ],
            gids: [
                read_u32(b, offset_of!(Raw, gid)),
                read_u32(b, offset_of!(Raw, egid)),
                read_u32(b, offset_of!(Raw, sgid)),
                read_u32(b, offset_of!(Raw, fsgid)),
            ],
            groups: g.chunks_exact(4).map(|c| read_u32(c, 0)).collect(),
            nnp: has(F::NNP_T_NNP),
            kthread: has(F::NNP_T_KTHREAD),
            exited: has(F::NNP_T_EXITED),
            caps: has(F::NNP_T_CAPS),
            truncated: has(F::NNP_T_TRUNCATED) || ngroups > n,
            unread: has(F::NNP_T_UNREAD),
            start_ns: read_u64(b, offset_of!(Raw, start)),
            comm: comm[..end].to_vec(),
            threads: read_u32(b, offset_of!(Raw, threads)),
        });
        at = groups_at + 4 * n;
    }
    Ok(out)
}

/// The last pid the kernel handed out in this pid namespace.
fn last_pid() -> Result<u32, GuardError> {
    let s = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .map_err(|e| sys("reading /proc/sys/kernel/ns_last_pid", e))?;
    s.trim().parse().map_err(|_| {
        GuardError::System(format!(
            "/proc/sys/kernel/ns_last_pid holds {:?}, not a pid",
            s.trim()
        ))
    })
}

/// Forks since boot (`processes` of /proc/stat).
fn forks() -> Result<u64, GuardError> {
    let s = std::fs::read_to_string("/proc/stat").map_err(|e| sys("reading /proc/stat", e))?;
    s.lines()
        .find_map(|l| l.strip_prefix("processes "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| GuardError::System("/proc/stat has no processes line".into()))
}

/// The pid counter's bound.
fn pid_max() -> Result<u32, GuardError> {
    let s = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .map_err(|e| sys("reading /proc/sys/kernel/pid_max", e))?;
    s.trim()
        .parse()
        .map_err(|_| GuardError::System(format!("/proc/sys/kernel/pid_max holds {:?}", s.trim())))
}

/// Is this process in the initial pid namespace, with that namespace's /proc mounted? The
/// iterator reports the kernel's pids; audit reads a finding's command line by them.
fn initial_pid_namespace() -> Result<(), GuardError> {
    // The initial pid namespace has a fixed inode number (PROC_PID_INIT_INO).
    let ns =
        std::fs::read_link("/proc/self/ns/pid").map_err(|e| sys("reading /proc/self/ns/pid", e))?;
    if ns.to_str() != Some("pid:[4026531836]") {
        return Err(GuardError::System(
            "not in the initial pid namespace (the task iterator reports the kernel's pids)".into(),
        ));
    }
    let me = std::fs::read_link("/proc/self").map_err(|e| sys("reading /proc/self", e))?;
    if me.to_str() != Some(&std::process::id().to_string()) {
        return Err(GuardError::System(
            "/proc is not the initial pid namespace's".into(),
        ));
    }
    Ok(())
}

/// How many walks may meet a pid counter that wrapped before the snapshot gives up.
const WALKS: usize = 4;

/// Every task of the system, read in the kernel in one walk in pid order. Errors when the
/// kernel cannot run the iterator (no BTF, no BPF privilege, no task iterator, another pid
/// namespace) or when the pid counter wrapped during every walk.
pub fn snapshot() -> Result<Vec<Task>, GuardError> {
    initial_pid_namespace()?;
    libbpf_rs::set_print(None);
    let mut storage = MaybeUninit::uninit();
    let open = tasks_skel::TasksSkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| sys("opening the task iterator", e))?;
    let skel = open
        .load()
        .map_err(|e| sys("loading the task iterator", e))?;
    let link = skel
        .progs
        .nnp_tasks
        .attach_iter_with_opts(libbpf_rs::IterOpts::None)
        .map_err(|e| sys("attaching the task iterator", e))?;
    let pid_max = pid_max()?;
    for _ in 0..WALKS {
        let before = last_pid()?;
        let forks_before = forks()?;
        let mut it =
            libbpf_rs::Iter::new(&link).map_err(|e| sys("running the task iterator", e))?;
        let mut bytes = Vec::with_capacity(1 << 20);
        it.read_to_end(&mut bytes)
            .map_err(|e| sys("reading the task iterator", e))?;
        // A counter that went down wrapped: a new pid may then sit below the walk's position.
        // So did one that went all the way round (as many forks as there are pids).
        let forked = forks()?.saturating_sub(forks_before);
        if last_pid()? >= before && forked < u64::from(pid_max / 2) {
            return parse(&bytes);
        }
    }
    Err(GuardError::System(format!(
        "the pid counter wrapped during each of {WALKS} walks over the tasks"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn record(tgid: u32, tid: u32, flags: u32, groups: &[u32], ngroups: u32) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<Raw>()];
        let mut put = |at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        put(offset_of!(Raw, tgid), tgid);
        put(offset_of!(Raw, pid), tid);
        put(offset_of!(Raw, uid), 1000);
        put(offset_of!(Raw, euid), 1000);
        put(offset_of!(Raw, suid), 1000);
        put(offset_of!(Raw, fsuid), 1000);
        put(offset_of!(Raw, gid), 100);
        put(offset_of!(Raw, egid), 100);
        put(offset_of!(Raw, sgid), 100);
        put(offset_of!(Raw, fsgid), 100);
        put(offset_of!(Raw, flags), flags);
        put(offset_of!(Raw, ngroups), ngroups);
        put(offset_of!(Raw, nwritten), groups.len() as u32);
        let c = offset_of!(Raw, comm);
        b[c..c + 4].copy_from_slice(b"bash");
        for g in groups {
            b.extend_from_slice(&g.to_ne_bytes());
        }
        b
    }

    #[test]
    fn records_with_their_groups() {
        let mut bytes = record(10, 10, 0, &[5, 6, 7], 3);
        bytes.extend(record(10, 11, 1, &[], 0));
        bytes.extend(record(2, 2, 2, &[], 0));
        let t = parse(&bytes).expect("parses");
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].groups, vec![5, 6, 7]);
        assert_eq!(t[0].comm, b"bash");
        assert!(!t[0].nnp && !t[0].privileged() && !t[0].truncated);
        assert!(t[1].nnp && t[1].tid == 11);
        assert!(t[2].kthread);
    }

    #[test]
    fn fewer_groups_written_than_held_is_truncated() {
        let t = parse(&record(10, 10, 0, &[5], 2000)).expect("parses");
        assert!(t[0].truncated);
    }

    #[test]
    fn output_cut_short_is_an_error() {
        let mut bytes = record(10, 10, 0, &[5, 6], 2);
        bytes.truncate(bytes.len() - 2);
        assert!(parse(&bytes).is_err());
        assert!(parse(&bytes[..10]).is_err());
    }
}
