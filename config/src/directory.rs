//! Where the facts of a decision come from: the [`Directory`] trait, its production
//! implementation over the system's NSS ([`Nss`], reentrant calls through nnp-sys), and the
//! entries and errors it answers with. Tests implement [`Directory`] with a fake.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::escape_value;
use crate::nssfiles::{self, FileGroups};

/// A user as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// The canonical name (bytes, as NSS returned them).
    pub name: Vec<u8>,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
}

/// A group as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The canonical name (bytes, as NSS returned them; a case-insensitive source may
    /// answer a name in another case than the one asked for).
    pub name: Vec<u8>,
    /// gid.
    pub gid: u32,
    /// Member names listed in the entry.
    pub members: Vec<Vec<u8>>,
}

/// A lookup that failed (not "not found": a source that is down, an I/O error...).
#[derive(Debug, Clone)]
pub enum LookupError {
    /// An NSS call failed (the source is down, out of memory...).
    Source(nnp_sys::SysError),
    /// A local account file could not be read.
    File {
        /// The file.
        path: PathBuf,
        /// Why (shared: a failed fact is kept and handed out again).
        source: Arc<std::io::Error>,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Source(e) => e.fmt(f),
            LookupError::File { path, source } => {
                write!(f, "reading {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LookupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LookupError::Source(e) => Some(e),
            LookupError::File { source, .. } => Some(&**source),
        }
    }
}

impl From<nnp_sys::SysError> for LookupError {
    fn from(e: nnp_sys::SysError) -> Self {
        LookupError::Source(e)
    }
}

/// Where the facts come from: NSS in production, a fake in tests.
pub trait Directory {
    /// The passwd entry of exactly these name bytes.
    fn user_by_name(&self, name: &[u8]) -> Result<Option<UserEntry>, LookupError>;
    /// The passwd entry of a uid.
    fn user_by_uid(&self, uid: u32) -> Result<Option<UserEntry>, LookupError>;
    /// The group entry of exactly these name bytes.
    fn group_by_name(&self, name: &[u8]) -> Result<Option<GroupEntry>, LookupError>;
    /// Every gid of the user (getgrouplist).
    fn group_ids(&self, user: &[u8], primary: u32) -> Result<Vec<u32>, LookupError>;
    /// The groups of these names as NSS would answer them from a local file read in one
    /// pass, when NSS reads that file first; `None` when it does not (then every name is
    /// asked with [`Directory::group_by_name`]). Never an enumeration of the database.
    fn local_groups(&self, _want: &HashSet<&str>) -> Option<FileGroups> {
        None
    }
    /// The local accounts (the passwd file read directly, never an enumeration of a
    /// directory): the exec guard looks there for every account a restricting name matches
    /// ignoring case, and for other accounts sharing an exempted uid; the decision for
    /// systemd's user manager (the only login path that reads it) for the other names of
    /// the uid; `nnpctl check` for uids with several names.
    fn local_users(&self) -> Result<Vec<UserEntry>, LookupError> {
        Ok(Vec::new())
    }
    /// Every account of the passwd database, wherever it is listed: an enumeration, for
    /// `nnpctl check` only (another account sharing the uid of a rule's user). Best effort:
    /// a source that does not enumerate contributes nothing. Login paths never call it.
    fn accounts(&self) -> Vec<UserEntry> {
        Vec::new()
    }
}

/// The system's NSS (reentrant calls through nnp-sys).
#[derive(Debug, Clone, Copy, Default)]
pub struct Nss;

fn user_entry(e: nnp_sys::PwEntry) -> UserEntry {
    UserEntry {
        name: e.name,
        uid: e.uid,
        gid: e.gid,
    }
}

impl Directory for Nss {
    fn user_by_name(&self, name: &[u8]) -> Result<Option<UserEntry>, LookupError> {
        Ok(nnp_sys::getpw(nnp_sys::PwKey::Name(name))?.map(user_entry))
    }
    fn user_by_uid(&self, uid: u32) -> Result<Option<UserEntry>, LookupError> {
        Ok(nnp_sys::getpw(nnp_sys::PwKey::Uid(uid))?.map(user_entry))
    }
    fn group_by_name(&self, name: &[u8]) -> Result<Option<GroupEntry>, LookupError> {
        let found = nnp_sys::getgr(nnp_sys::GrKey::Name(name)).map_err(|mut e| {
            e.what = format!("group lookup for \"{}\" (getgrnam_r)", escape_value(name));
            e
        })?;
        Ok(found.map(|g| GroupEntry {
            name: g.name,
            gid: g.gid,
            members: g.members,
        }))
    }
    fn group_ids(&self, user: &[u8], primary: u32) -> Result<Vec<u32>, LookupError> {
        Ok(nnp_sys::group_list(user, primary)?)
    }
    fn local_groups(&self, want: &HashSet<&str>) -> Option<FileGroups> {
        nssfiles::local_groups(want)
    }
    fn local_users(&self) -> Result<Vec<UserEntry>, LookupError> {
        nssfiles::passwd_users(std::path::Path::new("/etc/passwd"))
    }
    fn accounts(&self) -> Vec<UserEntry> {
        nnp_sys::scan_users(|_| true)
            .into_iter()
            .map(user_entry)
            .collect()
    }
}
