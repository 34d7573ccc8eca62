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

/// Parse a status file.
pub fn read_status(path: &Path, pid: u32, buf: &mut Vec<u8>) -> Result<Proc, ReadError> {
    read_checked(path, buf)?;
    let status = String::from_utf8_lossy(buf);
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
    };
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => p.name = value.to_string(),
            "Uid" => {
                let ids: Vec<u32> = value
                    .split_whitespace()
                    .map(|v| v.parse().unwrap_or(u32::MAX))
                    .collect();
                p.ruid = ids.first().copied().unwrap_or(u32::MAX);
                p.euid = ids.get(1).copied().unwrap_or(u32::MAX);
                p.privileged |= ids.len() != 4 || ids.iter().any(|&u| u != p.ruid);
            }
            "Gid" => {
                let ids: Vec<u32> = value
                    .split_whitespace()
                    .map(|v| v.parse().unwrap_or(u32::MAX))
                    .collect();
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
            _ => {}
        }
    }
    Ok(p)
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
            nnp_config::escape(&s)
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
    read_into(&root.join(pid.to_string()).join("stat"), buf)?;
    let stat = String::from_utf8_lossy(buf);
    // the comm field may contain spaces and parentheses: fields resume after the last ')'
    let rest = &stat[stat.rfind(')')? + 1..];
    // after ')': field 3 (state) is index 0; starttime is field 22, index 19
    let start: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some(boot_time + start / ticks.max(1))
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

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_542_986), "2026-11-24T17:56:26Z");
    }
}
