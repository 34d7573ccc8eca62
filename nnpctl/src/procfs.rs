//! Reading process facts from /proc. A process that vanishes while it is read is `None`,
//! never an error.

use std::io::Read;
use std::path::Path;

/// Read a small /proc file into `buf` (reused between calls): one open, as few read(2)
/// calls as the file needs, no stat (proc files report size 0 anyway).
fn read_into(path: &Path, buf: &mut Vec<u8>) -> Option<()> {
    read_checked(path, buf).ok()
}

/// What nnpctl needs to know about one process (or thread).
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub name: String,
    pub ruid: u32,
    pub euid: u32,
    /// Real gid and supplementary groups (the exec guard's view of the process).
    pub rgid: u32,
    pub groups: Vec<u32>,
    pub nnp: Option<bool>,
    /// Holds more than its real ids give: an effective, saved or filesystem uid or gid
    /// other than the real one, or a permitted capability (a setuid program running).
    pub privileged: bool,
    pub seccomp: Option<u32>,
    /// `Kthread:` of status, where the kernel has it (6.x); `None` when it does not say.
    pub kthread: Option<bool>,
    /// The letter of `State:` (`R`, `S`, `Z`...); `None` when status has none.
    pub state: Option<char>,
    /// `Threads:`, the tasks of the thread group the kernel has not released yet (a zombie
    /// leader counts; 0 once this task itself was released); `None` when it does not say.
    pub threads: Option<u32>,
}

impl Proc {
    /// This task has exited: a zombie (`Z`) or being released (`X`). It runs nothing, exec
    /// included. For /proc/PID/status this says so of the thread-group leader only: a leader
    /// that ended with `pthread_exit` is a zombie while its other threads still run.
    pub fn exited(&self) -> bool {
        matches!(self.state, Some('Z' | 'X'))
    }

    /// Read from /proc/PID/status: the whole process is dead, its leader exited (a zombie, or
    /// being reaped) and no other task left in its group (`Threads: 1`, counted under the lock
    /// that releasing a task takes, while the leader is still counted). Nothing of it can run
    /// again. (The exited leader that a thread running a program replaces reads `Threads: 2`
    /// or more, that thread counted, until it is released, and `Threads: 0` after.)
    pub fn dead_process(&self) -> bool {
        self.exited() && self.threads == Some(1)
    }
}

/// Why a /proc file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The process or thread exited meanwhile: not an error.
    Vanished,
    /// Anything else (permission denied, I/O error): the caller cannot decide.
    Other(String),
}

fn read_checked(path: &Path, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    buf.clear();
    let mut f = std::fs::File::open(path).map_err(|e| classify(path, &e))?;
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 1 << 20 {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(path, &e)),
        }
    }
}

fn classify(path: &Path, e: &std::io::Error) -> ReadError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => ReadError::Vanished,
        _ => ReadError::Other(format!("cannot read {}: {e}", path.display())),
    }
}

/// Read and parse a status file.
pub fn read_status(path: &Path, pid: u32, buf: &mut Vec<u8>) -> Result<Proc, ReadError> {
    read_checked(path, buf)?;
    Ok(parse_status(pid, &String::from_utf8_lossy(buf)))
}

/// The ids of a `Uid:` or `Gid:` line (real, effective, saved, filesystem); a field that is
/// not a number reads as `u32::MAX`.
fn id_fields(value: &str) -> Vec<u32> {
    value
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(u32::MAX))
        .collect()
}

/// Parse the text of `/proc/PID/status` (or a thread's). An id line that cannot be read in
/// full counts as privileged: audit never calls a process it cannot read protected.
fn parse_status(pid: u32, status: &str) -> Proc {
    let mut p = Proc {
        pid,
        name: String::new(),
        ruid: u32::MAX,
        euid: u32::MAX,
        rgid: u32::MAX,
        groups: Vec::new(),
        nnp: None,
        privileged: false,
        seccomp: None,
        kthread: None,
        state: None,
        threads: None,
    };
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => p.name = value.to_string(),
            "Uid" => {
                let ids = id_fields(value);
                p.ruid = ids.first().copied().unwrap_or(u32::MAX);
                p.euid = ids.get(1).copied().unwrap_or(u32::MAX);
                p.privileged |= ids.len() != 4 || ids.iter().any(|&u| u != p.ruid);
            }
            "Gid" => {
                let ids = id_fields(value);
                p.rgid = ids.first().copied().unwrap_or(u32::MAX);
                p.privileged |= ids.len() != 4 || ids.iter().any(|&g| g != p.rgid);
            }
            "CapPrm" => {
                p.privileged |= u64::from_str_radix(value, 16).is_ok_and(|c| c != 0)
                    || u64::from_str_radix(value, 16).is_err()
            }
            "Groups" => {
                p.groups = value
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            }
            "NoNewPrivs" => p.nnp = Some(value == "1"),
            "Seccomp" => p.seccomp = value.parse().ok(),
            "Kthread" => p.kthread = Some(value == "1"),
            "State" => p.state = value.chars().next(),
            "Threads" => p.threads = value.parse().ok(),
            _ => {}
        }
    }
    p
}

pub fn read(root: &Path, pid: u32, buf: &mut Vec<u8>) -> Option<Proc> {
    read_status(&root.join(pid.to_string()).join("status"), pid, buf).ok()
}

/// PF_KTHREAD in the flags of /proc/PID/stat: what the kernel says a kernel thread is.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Is this a kernel thread? `Kthread:` of status when present, else the flags of stat.
pub fn is_kernel_thread(root: &Path, p: &Proc, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
    if let Some(k) = p.kthread {
        return Ok(k);
    }
    read_checked(&root.join(p.pid.to_string()).join("stat"), buf)?;
    let stat = String::from_utf8_lossy(buf);
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| ReadError::Other(format!("malformed /proc/{}/stat", p.pid)))?;
    // after ')': field 3 (state) is index 0; flags is field 9, index 6
    let flags: u64 = rest
        .split_whitespace()
        .nth(6)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ReadError::Other(format!("malformed /proc/{}/stat", p.pid)))?;
    Ok(flags & PF_KTHREAD != 0)
}

/// The thread ids of a process (its `task/` directory).
pub fn tids(root: &Path, pid: u32) -> Result<Vec<u32>, ReadError> {
    let dir = root.join(pid.to_string()).join("task");
    let entries = std::fs::read_dir(&dir).map_err(|e| classify(&dir, &e))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| classify(&dir, &e))?;
        if let Some(t) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push(t);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The command line, NULs as spaces; `[name]` when it is empty (kernel threads, zombies).
pub fn cmdline(root: &Path, pid: u32, name: &str, buf: &mut Vec<u8>) -> String {
    match read_into(&root.join(pid.to_string()).join("cmdline"), buf) {
        Some(()) if !buf.is_empty() => {
            let b = &buf[..];
            let s: Vec<u8> = b
                .strip_suffix(b"\0")
                .unwrap_or(b)
                .iter()
                .map(|&c| if c == 0 { b' ' } else { c })
                .collect();
            nnp_config::escape_value(&s)
        }
        _ => format!("[{name}]"),
    }
}

/// Start time of a process as seconds since the epoch.
pub fn start_time(
    root: &Path,
    pid: u32,
    boot_time: u64,
    ticks: u64,
    buf: &mut Vec<u8>,
) -> Option<u64> {
    Some(boot_time + start_ticks(root, pid, buf)? / ticks.max(1))
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn start_ticks(root: &Path, pid: u32, buf: &mut Vec<u8>) -> Option<u64> {
    read_into(&root.join(pid.to_string()).join("stat"), buf)?;
    let stat = String::from_utf8_lossy(buf);
    // the comm field may contain spaces and parentheses: fields resume after the last ')'
    let rest = &stat[stat.rfind(')')? + 1..];
    // after ')': field 3 (state) is index 0; starttime is field 22, index 19
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Boot time (btime of /proc/stat), seconds since the epoch.
pub fn boot_time(root: &Path) -> u64 {
    std::fs::read_to_string(root.join("stat"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// Every numeric entry of /proc with the inode number of its directory entry: a process that
/// reuses the pid of one that exited has another inode (procfs instantiates a new one), so
/// (pid, inode) tells a new process from one already seen without reading anything more.
pub fn pids_with_ino(root: &Path) -> std::io::Result<Vec<(u32, u64)>> {
    use std::os::unix::fs::DirEntryExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push((pid, entry.ino()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC).
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status file as Linux 6.x writes it, for a process of uid/gid 1000 (trimmed to the
    /// lines nnpctl reads and a few it skips), with these id and capability lines.
    fn status(uid: &str, gid: &str, cap_prm: &str) -> String {
        format!(
            "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\n\
             Uid:\t{uid}\nGid:\t{gid}\nFDSize:\t256\nGroups:\t24 27 1000 \n\
             CapInh:\t0000000000000000\nCapPrm:\t{cap_prm}\nCapEff:\t0000000000000000\n\
             NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nKthread:\t0\n"
        )
    }

    const IDS: &str = "1000\t1000\t1000\t1000";
    const NOCAPS: &str = "0000000000000000";

    #[test]
    fn status_fields() {
        let p = parse_status(4242, &status(IDS, IDS, NOCAPS));
        assert_eq!(p.pid, 4242);
        assert_eq!(p.name, "bash");
        assert_eq!((p.ruid, p.euid, p.rgid), (1000, 1000, 1000));
        assert_eq!(p.groups, [24, 27, 1000]);
        assert_eq!(p.nnp, Some(true));
        assert_eq!(p.seccomp, Some(2));
        assert_eq!(p.kthread, Some(false));
        assert_eq!(p.state, Some('S'));
        assert!(!p.privileged);
        assert!(!p.exited() && !p.dead_process());
    }

    #[test]
    fn zombies() {
        let z = |state: &str, threads: &str| {
            parse_status(7, &format!("State:\t{state}\nThreads:\t{threads}\n"))
        };
        // every thread exited: dead
        assert!(z("Z (zombie)", "1").dead_process());
        // the leader exited, another thread runs: alive
        assert!(z("Z (zombie)", "2").exited() && !z("Z (zombie)", "2").dead_process());
        // being reaped, alone: dead
        assert!(z("X (dead)", "1").dead_process());
        // released (the count no longer says whose: the pid may be a new leader's): not dead
        assert!(z("X (dead)", "0").exited() && !z("X (dead)", "0").dead_process());
        assert!(!z("S (sleeping)", "1").exited());
        // no count: not called dead
        assert!(!parse_status(7, "State:\tZ (zombie)\n").dead_process());
    }

    #[test]
    fn missing_lines_are_unknown_not_false() {
        // Kernels before 4.10 have no NoNewPrivs line, before 6.x no Kthread line.
        let p = parse_status(1, "Name:\tx\nUid:\t5\t5\t5\t5\nGid:\t5\t5\t5\t5\n");
        assert_eq!(p.nnp, None);
        assert_eq!(p.seccomp, None);
        assert_eq!(p.kthread, None);
        assert!(p.groups.is_empty());
        assert!(!p.privileged);
        assert_eq!(parse_status(1, "NoNewPrivs:\t0\n").nnp, Some(false));
    }

    #[test]
    fn privileged_means_more_than_the_real_ids() {
        let privileged =
            |uid: &str, gid: &str, caps: &str| parse_status(1, &status(uid, gid, caps)).privileged;
        // A setuid-root program running: effective and saved uid 0.
        assert!(privileged("1000\t0\t0\t0", IDS, NOCAPS));
        let p = parse_status(1, &status("1000\t0\t0\t0", IDS, NOCAPS));
        assert_eq!((p.ruid, p.euid), (1000, 0));
        // Only the saved uid, only the filesystem uid, only a gid.
        assert!(privileged("1000\t1000\t0\t1000", IDS, NOCAPS));
        assert!(privileged("1000\t1000\t1000\t0", IDS, NOCAPS));
        assert!(privileged(IDS, "1000\t1000\t42\t1000", NOCAPS));
        // A permitted capability (file capabilities), with the ids all real.
        assert!(privileged(IDS, IDS, "0000000000003000"));
        // What cannot be read is not called unprivileged.
        assert!(privileged(IDS, IDS, "garbage"));
        assert!(privileged("1000\t1000\t1000", IDS, NOCAPS));
        assert!(privileged("1000\tx\t1000\t1000", IDS, NOCAPS));
        assert!(privileged(IDS, "1000", NOCAPS));
        // All ids equal and no capability: nothing more than the real ids, whatever the uid.
        assert!(!privileged("0\t0\t0\t0", "0\t0\t0\t0", NOCAPS));
        assert!(!privileged(IDS, IDS, NOCAPS));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_542_986), "2026-11-24T17:56:26Z");
    }
}
