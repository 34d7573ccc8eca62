//! The only `unsafe` code of nnp: small safe wrappers around `prctl` and the reentrant
//! NSS calls (`getpwnam_r`, `getpwuid_r`, `getgrouplist`, `getgrgid_r`). Everything above
//! this module is safe Rust.

use std::ffi::{CStr, CString};
use std::fmt;

/// A failure of the system, in words an administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysError {
    /// The user database does not know the name (or uid).
    UnknownUser(String),
    /// The name cannot be a user name (embedded NUL, empty).
    InvalidName(String),
    /// An NSS lookup failed (LDAP/SSSD down, I/O error...): not the same as "no such user".
    Nss {
        /// Which lookup.
        what: String,
        /// errno
        errno: i32,
    },
    /// prctl failed.
    Prctl {
        /// Which call.
        what: &'static str,
        /// errno
        errno: i32,
    },
}

fn errno_text(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysError::UnknownUser(u) => write!(f, "unknown user \"{u}\" (not found through NSS)"),
            SysError::InvalidName(u) => write!(f, "invalid user name \"{u}\""),
            SysError::Nss { what, errno } => {
                write!(f, "{what} failed: {} (errno {errno})", errno_text(*errno))
            }
            SysError::Prctl { what, errno } => {
                write!(f, "{what} failed: {} (errno {errno})", errno_text(*errno))
            }
        }
    }
}

impl std::error::Error for SysError {}

/// Escape a possibly hostile name for messages and logs: no control characters, bounded.
pub fn escape_name(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            s.extend(c.escape_debug());
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
        if s.len() > 256 {
            break;
        }
    }
    if s.len() > 256 {
        let mut cut = 256;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Set no_new_privs on the calling thread (it is inherited by everything forked and
/// exec'd from here on), then read it back: `Ok(())` only when the kernel reports it set.
pub fn set_no_new_privs() -> Result<(), SysError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(SysError::Prctl {
            what: "prctl(PR_SET_NO_NEW_PRIVS)",
            errno: last_errno(),
        });
    }
    match no_new_privs()? {
        true => Ok(()),
        false => Err(SysError::Prctl {
            what: "verifying no_new_privs with PR_GET_NO_NEW_PRIVS (still 0)",
            errno: 0,
        }),
    }
}

/// The no_new_privs bit of the calling thread.
pub fn no_new_privs() -> Result<bool, SysError> {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes plain integer arguments and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    if rc < 0 {
        return Err(SysError::Prctl {
            what: "prctl(PR_GET_NO_NEW_PRIVS)",
            errno: last_errno(),
        });
    }
    Ok(rc == 1)
}

/// The real uid of the calling process.
pub fn real_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Clock ticks per second of /proc's time fields (USER_HZ).
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes an integer name and has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A user as NSS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Login shell from the passwd entry.
    pub shell: String,
    /// Names of the primary and supplementary groups (gids without a name are left out).
    pub groups: Vec<String>,
}

const MAX_BUF: usize = 1 << 22;

struct Pw {
    name: String,
    uid: u32,
    gid: u32,
    shell: String,
}

enum PwKey<'a> {
    Name(&'a CStr),
    Uid(u32),
}

/// Look up a passwd entry with getpwnam_r / getpwuid_r, growing the buffer on ERANGE.
fn getpw(key: PwKey<'_>) -> Result<Option<Pw>, SysError> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: an all-zero passwd (null pointers, zero ids) is a valid value of the type.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = match key {
            // SAFETY: name is NUL-terminated, buf is valid for buf.len() bytes, pwd and
            // result are valid out-pointers; the call is reentrant.
            PwKey::Name(name) => unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            },
            // SAFETY: as above.
            PwKey::Uid(uid) => unsafe {
                libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result)
            },
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            let n = buf.len() * 2;
            buf.resize(n, 0);
            continue;
        }
        if rc != 0 && !matches!(rc, libc::ENOENT | libc::ESRCH) {
            return Err(SysError::Nss {
                what: "user lookup (getpwnam_r)".into(),
                errno: rc,
            });
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pw_name and pw_shell point to NUL-terminated strings in buf,
        // which is alive here; a null shell is handled.
        let (name, shell) = unsafe {
            (
                CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned(),
                if pwd.pw_shell.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(pwd.pw_shell).to_string_lossy().into_owned()
                },
            )
        };
        return Ok(Some(Pw {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            shell,
        }));
    }
}

/// All gids of a user (primary first) with getgrouplist, growing the array as needed.
fn group_ids(name: &CStr, gid: u32) -> Result<Vec<u32>, SysError> {
    let mut n: libc::c_int = 64;
    loop {
        let mut gids: Vec<libc::gid_t> = vec![0; usize::try_from(n).unwrap_or(64)];
        let mut count = n;
        // SAFETY: name is NUL-terminated; gids has room for `count` entries and count is a
        // valid in/out pointer.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, gids.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            gids.truncate(usize::try_from(count).unwrap_or(0));
            return Ok(gids);
        }
        if count <= n {
            // glibc reports the needed size in count; if it did not grow, grow it ourselves.
            count = n.saturating_mul(2);
        }
        if count > 1 << 20 {
            return Err(SysError::Nss {
                what: "group list lookup (getgrouplist)".into(),
                errno: libc::ERANGE,
            });
        }
        n = count;
    }
}

enum GrKey<'a> {
    Gid(u32),
    Name(&'a CStr),
}

/// Look up a group with getgrgid_r / getgrnam_r, growing the buffer on ERANGE; the group's
/// name, or `None` when there is no such group. Errors other than "not found" are errors.
fn getgr(key: GrKey<'_>) -> Result<Option<String>, SysError> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: an all-zero group (null pointers) is a valid value of the type.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = match key {
            // SAFETY: buf is valid for buf.len() bytes; grp and result are valid out-pointers.
            GrKey::Gid(gid) => unsafe {
                libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result)
            },
            // SAFETY: as above, and name is NUL-terminated.
            GrKey::Name(name) => unsafe {
                libc::getgrnam_r(
                    name.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            },
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            let n = buf.len() * 2;
            buf.resize(n, 0);
            continue;
        }
        if rc != 0 && !matches!(rc, libc::ENOENT | libc::ESRCH) {
            let what = match key {
                GrKey::Gid(gid) => format!("group lookup for gid {gid} (getgrgid_r)"),
                GrKey::Name(name) => format!(
                    "group lookup for \"{}\" (getgrnam_r)",
                    escape_name(name.to_bytes())
                ),
            };
            return Err(SysError::Nss { what, errno: rc });
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success gr_name points to a NUL-terminated string inside buf.
        let name = unsafe { CStr::from_ptr(grp.gr_name) };
        return Ok(Some(name.to_string_lossy().into_owned()));
    }
}

/// The name of a group; `None` when the gid has no name.
fn group_name(gid: u32) -> Result<Option<String>, SysError> {
    getgr(GrKey::Gid(gid))
}

fn complete(pw: Pw, with_groups: bool) -> Result<Account, SysError> {
    let cname = CString::new(pw.name.as_bytes())
        .map_err(|_| SysError::InvalidName(escape_name(pw.name.as_bytes())))?;
    let mut groups = Vec::new();
    let gids = if with_groups {
        group_ids(&cname, pw.gid)?
    } else {
        Vec::new()
    };
    for gid in gids {
        if let Some(name) = group_name(gid)? {
            if !groups.contains(&name) {
                groups.push(name);
            }
        }
    }
    Ok(Account {
        name: pw.name,
        uid: pw.uid,
        gid: pw.gid,
        shell: pw.shell,
        groups,
    })
}

/// Does NSS know this user name?
pub fn user_exists(name: &str) -> Result<bool, SysError> {
    let Ok(cname) = CString::new(name) else {
        return Ok(false);
    };
    Ok(getpw(PwKey::Name(&cname))?.is_some())
}

/// Does NSS know this group name? (getgrnam_r)
pub fn group_exists(name: &str) -> Result<bool, SysError> {
    let Ok(cname) = CString::new(name) else {
        return Ok(false);
    };
    Ok(getgr(GrKey::Name(&cname))?.is_some())
}

/// Resolve a user name through NSS; with `with_groups` false the group list is left empty
/// and no group database is asked (for configurations whose rules name no groups).
pub fn lookup_name(name: &[u8], with_groups: bool) -> Result<Account, SysError> {
    if name.is_empty() {
        return Err(SysError::InvalidName(String::new()));
    }
    let cname = CString::new(name).map_err(|_| SysError::InvalidName(escape_name(name)))?;
    match getpw(PwKey::Name(&cname))? {
        Some(pw) => complete(pw, with_groups),
        None => Err(SysError::UnknownUser(escape_name(name))),
    }
}

/// Resolve a uid through NSS; `with_groups` as for [`lookup_name`].
pub fn lookup_uid(uid: u32, with_groups: bool) -> Result<Account, SysError> {
    match getpw(PwKey::Uid(uid))? {
        Some(pw) => complete(pw, with_groups),
        None => Err(SysError::UnknownUser(format!("uid {uid}"))),
    }
}
