//! The reentrant NSS calls (`getpwnam_r`, `getpwuid_r`, `getgrnam_r`, `getgrgid_r`,
//! `getgrouplist`; the `getpwent_r` enumeration for `nnpctl check` and `doctor` only). Names
//! go in and come out as bytes, exactly as NSS has them.

use std::ffi::{CStr, CString};

use crate::SysError;

/// A passwd entry, names as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwEntry {
    /// The canonical user name NSS returned.
    pub name: Vec<u8>,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Login shell.
    pub shell: Vec<u8>,
}

/// A group entry, names as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrEntry {
    /// The group name NSS returned.
    pub name: Vec<u8>,
    /// gid.
    pub gid: u32,
    /// The member list (`gr_mem`).
    pub members: Vec<Vec<u8>>,
}

/// Largest buffer offered to a `_r` call (4 MiB: a group with ~100,000 members).
const MAX_BUF: usize = 1 << 22;

/// Copy a NUL-terminated C string; empty for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid during the call.
unsafe fn c_bytes(p: *const libc::c_char) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// The member list of a group: a null-terminated array of C strings.
///
/// # Safety
/// `mem` is null or a null-terminated array of valid NUL-terminated strings.
unsafe fn c_members(mem: *mut *mut libc::c_char) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if mem.is_null() {
        return out;
    }
    let mut i = 0;
    loop {
        // SAFETY: the array is null-terminated, so every index up to the terminator is valid.
        let p = unsafe { *mem.add(i) };
        if p.is_null() {
            return out;
        }
        // SAFETY: each element is a valid NUL-terminated string (caller's contract).
        out.push(unsafe { c_bytes(p) });
        i += 1;
    }
}

fn is_not_found(rc: i32) -> bool {
    // glibc returns 0 with a null result for "not found"; some modules report ENOENT/ESRCH.
    matches!(rc, 0 | libc::ENOENT | libc::ESRCH)
}

/// Run one reentrant NSS call (`call(buf)` → its return code and the entry it found) with a
/// buffer that grows on ERANGE up to `MAX_BUF`. No entry with a "not found" code is
/// `Ok(None)`; no entry with any other code (a source down, the buffer limit) is an error.
fn retry_erange<T>(
    what: impl Fn() -> String,
    mut call: impl FnMut(&mut [libc::c_char]) -> (i32, Option<T>),
) -> Result<Option<T>, SysError> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        let (rc, found) = call(&mut buf);
        if found.is_none() && rc == libc::ERANGE && buf.len() < MAX_BUF {
            let n = buf.len() * 2;
            buf.resize(n, 0);
            continue;
        }
        return match found {
            Some(entry) => Ok(Some(entry)),
            None if is_not_found(rc) => Ok(None),
            None => Err(SysError {
                what: what(),
                errno: rc,
            }),
        };
    }
}

/// The key of a passwd lookup.
#[derive(Debug, Clone, Copy)]
pub enum PwKey<'a> {
    /// By exact name bytes.
    Name(&'a [u8]),
    /// By uid.
    Uid(u32),
}

/// Look up a passwd entry (getpwnam_r / getpwuid_r), growing the buffer on ERANGE.
/// `Ok(None)`: not found (also for a name with an embedded NUL, which no entry can have).
pub fn getpw(key: PwKey<'_>) -> Result<Option<PwEntry>, SysError> {
    let cname = match key {
        PwKey::Name(n) => match CString::new(n) {
            Ok(c) => Some(c),
            Err(_) => return Ok(None),
        },
        PwKey::Uid(_) => None,
    };
    let what = || match key {
        PwKey::Name(_) => "user lookup (getpwnam_r)".to_string(),
        PwKey::Uid(uid) => format!("user lookup for uid {uid} (getpwuid_r)"),
    };
    retry_erange(what, |buf| {
        // SAFETY: an all-zero passwd (null pointers, zero ids) is a valid value of the type.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = match (&cname, key) {
            // SAFETY: name is NUL-terminated, buf is valid for buf.len() bytes, pwd and
            // result are valid out-pointers; the call is reentrant.
            (Some(name), _) => unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            },
            // SAFETY: as above.
            (None, PwKey::Uid(uid)) => unsafe {
                libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result)
            },
            (None, PwKey::Name(_)) => return (0, None),
        };
        if result.is_null() {
            return (rc, None);
        }
        // SAFETY: on success pw_name and pw_shell are null or NUL-terminated strings inside
        // buf, which is alive here.
        let (name, shell) = unsafe { (c_bytes(pwd.pw_name), c_bytes(pwd.pw_shell)) };
        let entry = PwEntry {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            shell,
        };
        (rc, Some(entry))
    })
}

/// The key of a group lookup.
#[derive(Debug, Clone, Copy)]
pub enum GrKey<'a> {
    /// By exact name bytes.
    Name(&'a [u8]),
    /// By gid.
    Gid(u32),
}

/// Look up a group (getgrnam_r / getgrgid_r), growing the buffer on ERANGE. `Ok(None)`: not
/// found. Any other status (a source UNAVAIL, TRYAGAIN...) is an error, never "not found".
pub fn getgr(key: GrKey<'_>) -> Result<Option<GrEntry>, SysError> {
    let cname = match key {
        GrKey::Name(n) => match CString::new(n) {
            Ok(c) => Some(c),
            Err(_) => return Ok(None),
        },
        GrKey::Gid(_) => None,
    };
    let what = || match key {
        // The caller names the group (escaped by nnp-config's escaper): no text handling here.
        GrKey::Name(_) => "group lookup (getgrnam_r)".to_string(),
        GrKey::Gid(gid) => format!("group lookup for gid {gid} (getgrgid_r)"),
    };
    retry_erange(what, |buf| {
        // SAFETY: an all-zero group (null pointers) is a valid value of the type.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = match (&cname, key) {
            // SAFETY: name is NUL-terminated; buf is valid for buf.len() bytes; grp and
            // result are valid out-pointers.
            (Some(name), _) => unsafe {
                libc::getgrnam_r(
                    name.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            },
            // SAFETY: as above.
            (None, GrKey::Gid(gid)) => unsafe {
                libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result)
            },
            (None, GrKey::Name(_)) => return (0, None),
        };
        if result.is_null() {
            return (rc, None);
        }
        // SAFETY: on success gr_name and gr_mem point into buf, which is alive here.
        let (name, members) = unsafe { (c_bytes(grp.gr_name), c_members(grp.gr_mem)) };
        let entry = GrEntry {
            name,
            gid: grp.gr_gid,
            members,
        };
        (rc, Some(entry))
    })
}

/// All gids of a user (primary first) with getgrouplist, growing the array as needed.
/// glibc drops the errors of individual sources here: callers must not read a missing gid
/// as proof of non-membership unless the group itself resolved (see nnp-config).
pub fn group_list(name: &[u8], primary: u32) -> Result<Vec<u32>, SysError> {
    let what = || "group list lookup (getgrouplist)".to_string();
    let cname = CString::new(name).map_err(|_| SysError {
        what: what(),
        errno: libc::EINVAL,
    })?;
    let mut n: libc::c_int = 64;
    loop {
        let mut gids: Vec<libc::gid_t> = vec![0; usize::try_from(n).unwrap_or(64)];
        let mut count = n;
        // SAFETY: name is NUL-terminated; gids has room for `count` entries and count is a
        // valid in/out pointer.
        let rc =
            unsafe { libc::getgrouplist(cname.as_ptr(), primary, gids.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            gids.truncate(usize::try_from(count).unwrap_or(0));
            return Ok(gids);
        }
        if count <= n {
            // glibc reports the needed size in count; if it did not grow, grow it ourselves.
            count = n.saturating_mul(2);
        }
        if count > 1 << 20 {
            return Err(SysError {
                what: what(),
                errno: libc::ERANGE,
            });
        }
        n = count;
    }
}

/// One pass over the passwd database (setpwent / getpwent_r / endpwent): every entry whose
/// uid `want` accepts. For `nnpctl check` and `nnpctl doctor` only (both lint the config: a
/// second passwd name of a restricted uid): pam_nnp and nnp-shell never call it. (glibc's
/// `getgrouplist`, [`group_list`], enumerates a `group:` source itself when the source has
/// no `initgroups_dyn`.)
/// Best effort: sources that do not enumerate contribute nothing; an error ends the pass.
pub fn scan_users(mut want: impl FnMut(u32) -> bool) -> Vec<PwEntry> {
    let mut out = Vec::new();
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    // SAFETY: setpwent has no arguments; it (re)starts the process-wide enumeration.
    unsafe { libc::setpwent() };
    loop {
        // SAFETY: an all-zero passwd (null pointers, zero ids) is a valid value of the type.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: buf is valid for buf.len() bytes; pwd and result are valid out-pointers.
        let rc = unsafe { libc::getpwent_r(&mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            let n = buf.len() * 2;
            buf.resize(n, 0);
            continue; // glibc retries the same entry with the larger buffer
        }
        if rc != 0 || result.is_null() {
            break;
        }
        if want(pwd.pw_uid) {
            // SAFETY: on success pw_name and pw_shell point into buf, which is alive here.
            let (name, shell) = unsafe { (c_bytes(pwd.pw_name), c_bytes(pwd.pw_shell)) };
            out.push(PwEntry {
                name,
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
                shell,
            });
        }
    }
    // SAFETY: endpwent has no arguments; it closes the enumeration.
    unsafe { libc::endpwent() };
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_both_ways() {
        let by_name = getpw(PwKey::Name(b"root")).unwrap().unwrap();
        assert_eq!(by_name.uid, 0);
        let by_uid = getpw(PwKey::Uid(0)).unwrap().unwrap();
        assert_eq!(by_uid.name, b"root");
        assert!(getpw(PwKey::Name(b"no\0such")).unwrap().is_none());
        assert!(getpw(PwKey::Name(b"nnp-no-such-user-x")).unwrap().is_none());
        let g = getgr(GrKey::Gid(0)).unwrap().unwrap();
        assert_eq!(getgr(GrKey::Name(&g.name)).unwrap().unwrap().gid, 0);
        assert!(group_list(b"root", 0).unwrap().contains(&0));
        assert!(scan_users(|uid| uid == 0).iter().any(|e| e.name == b"root"));
    }
}
