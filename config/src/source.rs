//! Reading configuration files that only root could have written.
//!
//! Every check that matters is made on what was actually opened: the file's type, owner,
//! mode and size come from `fstat` on the open descriptor, and the directories checked are
//! those of the path the descriptor resolves to (symlinks followed, as managed /etc trees
//! use them).

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::Diagnostic;

/// Largest configuration file that is read.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// What a path turned out to be.
pub(crate) enum Opened {
    /// The path does not exist (and is not a dangling symlink).
    Missing,
    /// A trusted regular file and its text.
    File { text: String },
}

/// Who must own every configuration file and directory (root, except in this crate's tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trust {
    pub owner: u32,
}

fn kind_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

fn io_cause(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ELOOP) => "too many levels of symbolic links (a symlink loop?)".to_string(),
        Some(libc::EACCES) => "permission denied".to_string(),
        Some(libc::ENOTDIR) => "a component of the path is not a directory".to_string(),
        _ => {
            let s = e.to_string();
            // "No such file or directory (os error 2)" -> "No such file or directory"
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// Stat `path` following symlinks; `Ok(None)` when nothing is there at all.
/// A dangling symlink is an error, not "missing": someone meant a file to be there.
fn stat_existing(path: &Path, what: &str) -> Result<Option<Metadata>, Diagnostic> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::symlink_metadata(path) {
            Ok(_) => Err(Diagnostic::file(
                path,
                format!("cannot read {what}: dangling symlink (its target does not exist)"),
            )),
            Err(_) => Ok(None),
        },
        Err(e) => Err(Diagnostic::file(
            path,
            format!("cannot read {what}: {}", io_cause(&e)),
        )),
    }
}

fn check_owner_mode(
    trust: Trust,
    shown: &Path,
    meta: &Metadata,
    what: &str,
    allow_sticky: bool,
) -> Result<(), Diagnostic> {
    if meta.uid() != trust.owner {
        return Err(Diagnostic::file(
            shown,
            format!(
                "untrusted {what}: owned by uid {}, not {}",
                meta.uid(),
                owner_name(trust.owner)
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 && !(allow_sticky && mode & 0o1000 != 0) {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "group",
            _ => "others",
        };
        return Err(Diagnostic::file(
            shown,
            format!("untrusted {what}: writable by {who} (mode {mode:04o})"),
        ));
    }
    Ok(())
}

fn owner_name(uid: u32) -> String {
    if uid == 0 {
        "root".to_string()
    } else {
        format!("uid {uid}")
    }
}

/// The path an open descriptor really refers to (all symlinks resolved).
fn resolved_path(file: &File, path: &Path) -> Result<PathBuf, Diagnostic> {
    use std::os::fd::AsRawFd;
    let link = format!("/proc/self/fd/{}", file.as_raw_fd());
    match std::fs::read_link(&link) {
        Ok(p) if p.is_absolute() => Ok(p),
        _ => std::fs::canonicalize(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot resolve path: {}", io_cause(&e)))),
    }
}

/// Every directory above `resolved` (which has no symlinks left) must be owned by root and
/// not writable by group or others, unless it has the sticky bit (like /tmp): then only
/// root can replace the root-owned entry below it.
fn check_ancestors(trust: Trust, shown: &Path, resolved: &Path) -> Result<(), Diagnostic> {
    for dir in resolved.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(|e| {
            Diagnostic::file(
                shown,
                format!("cannot check directory {}: {}", dir.display(), io_cause(&e)),
            )
        })?;
        let what = format!("directory {} above it", dir.display());
        // Directories above are root's even when tests run with another owner.
        let trust = if meta.uid() == 0 {
            Trust { owner: 0 }
        } else {
            trust
        };
        check_owner_mode(trust, shown, &meta, &what, true)?;
    }
    Ok(())
}

/// Most symlinks followed while resolving one path (as the kernel's MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// Is `dir` writable by nobody but root (or the test owner)?
fn root_only_dir(trust: Trust, dir: &Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(m) => (m.uid() == 0 || m.uid() == trust.owner) && m.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

/// Can nobody but root rename or replace a root-owned entry of `dir`: a directory owned by
/// root (or the test owner) that others cannot write to, or a sticky one (like /tmp, where
/// only an entry's owner, the directory's owner and root can rename or remove it)?
fn root_entries_fixed(trust: Trust, dir: &Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(m) => {
            (m.uid() == 0 || m.uid() == trust.owner)
                && (m.mode() & 0o022 == 0 || m.mode() & 0o1000 != 0)
        }
        Err(_) => false,
    }
}

/// Walk `path` component by component as the kernel resolves it and check every symlink
/// followed: it must be owned by root unless the directory holding it is writable only by
/// root (otherwise whoever owns it, or can replace it, chooses what is read), and even
/// root's symlink only in a directory where nobody else can rename another entry over it
/// (root's and not writable by others, or sticky). Stops quietly at the first component that
/// does not exist: what is missing is handled by the caller.
fn check_symlinks(trust: Trust, shown: &Path, path: &Path, what: &str) -> Result<(), Diagnostic> {
    use std::collections::VecDeque;
    use std::path::Component;
    let start = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(d) => d.join(path),
            Err(_) => return Ok(()),
        }
    };
    let mut pending: VecDeque<std::ffi::OsString> = VecDeque::new();
    let mut cur = PathBuf::from("/");
    for c in start.components() {
        match c {
            Component::Normal(n) => pending.push_back(n.to_os_string()),
            Component::ParentDir => pending.push_back("..".into()),
            _ => {}
        }
    }
    let mut hops = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&name);
        let meta = match std::fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(_) => return Ok(()),
        };
        if !meta.file_type().is_symlink() {
            cur = next;
            continue;
        }
        hops += 1;
        if hops > MAX_SYMLINKS {
            return Err(Diagnostic::file(
                shown,
                format!("cannot read {what}: too many levels of symbolic links (a symlink loop?)"),
            ));
        }
        let owner_ok = meta.uid() == 0 || meta.uid() == trust.owner;
        if owner_ok && !root_entries_fixed(trust, &cur) {
            return Err(Diagnostic::file(
                shown,
                format!(
                    "untrusted symlink {}: directory {} lets others rename an entry over it (a symlink followed must sit in a directory root owns and only root can write, or a sticky one)",
                    next.display(),
                    cur.display()
                ),
            ));
        }
        if !owner_ok && !root_only_dir(trust, &cur) {
            return Err(Diagnostic::file(
                shown,
                format!(
                    "untrusted symlink {}: owned by uid {} in directory {}, which others can write to (a symlink followed must be root's, or sit in a directory only root can write)",
                    next.display(),
                    meta.uid(),
                    cur.display()
                ),
            ));
        }
        let target = std::fs::read_link(&next).map_err(|e| {
            Diagnostic::file(
                shown,
                format!("cannot read symlink {}: {}", next.display(), io_cause(&e)),
            )
        })?;
        let mut parts: Vec<std::ffi::OsString> = Vec::new();
        if target.is_absolute() {
            cur = PathBuf::from("/");
        }
        for c in target.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::ParentDir => parts.push("..".into()),
                _ => {}
            }
        }
        for p in parts.into_iter().rev() {
            pending.push_front(p);
        }
    }
    Ok(())
}

/// The directory that holds the main file (and so the drop-in directory) must be root's
/// alone: in a directory others can write to, even a sticky one, anyone could create the
/// absent main file or drop-in directory. (Sticky directories are accepted further up.)
pub(crate) fn check_main_dir(trust: Trust, main: &Path) -> Result<(), Diagnostic> {
    let parent = match main.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_symlinks(trust, parent, parent, "directory")?;
    let Ok(resolved) = std::fs::canonicalize(parent) else {
        return Ok(()); // no directory: nothing can be read from it
    };
    let meta = std::fs::metadata(&resolved).map_err(|e| {
        Diagnostic::file(
            &resolved,
            format!("cannot check directory: {}", io_cause(&e)),
        )
    })?;
    let trust = if meta.uid() == 0 {
        Trust { owner: 0 }
    } else {
        trust
    };
    check_owner_mode(
        trust,
        &resolved,
        &meta,
        "directory holding the config (anyone who can write here can create the main file or the drop-in directory; a sticky directory is accepted only further up)",
        false,
    )
}

/// Open a file only root could have written: every symlink followed root's (unless in a
/// root-only directory), a regular file (refused before opening: a device can have side
/// effects, a FIFO could block), then on the opened descriptor: a regular file, owned by
/// `trust.owner`, not writable by group or others, every directory above it root's (sticky
/// ones accepted). `Ok(None)`: the path does not exist. The one opening both config files
/// and `guard_allow` files go through.
fn open_trusted(
    trust: Trust,
    path: &Path,
    what: &str,
    flags: i32,
) -> Result<Option<(File, Metadata)>, Diagnostic> {
    check_symlinks(trust, path, path, what)?;
    let Some(meta) = stat_existing(path, what)? else {
        return Ok(None);
    };
    let not_regular = |meta: &Metadata| {
        Diagnostic::file(
            path,
            format!("not a regular file: it is {}", kind_name(meta.file_type())),
        )
    };
    if !meta.file_type().is_file() {
        return Err(not_regular(&meta));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot open: {}", io_cause(&e))))?;
    #[cfg(test)]
    tests_hook::after_open(path);
    // From here on every check is made on the opened descriptor.
    let meta = file
        .metadata()
        .map_err(|e| Diagnostic::file(path, format!("cannot stat: {}", io_cause(&e))))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(&meta));
    }
    check_owner_mode(trust, path, &meta, what, false)?;
    let resolved = resolved_path(&file, path)?;
    check_ancestors(trust, path, &resolved)?;
    Ok(Some((file, meta)))
}

/// Open a `guard_allow` file for the exec guard, with the trust rules of the config files
/// (`open_trusted`: owner, mode, ancestors), `O_PATH` (no read permission needed). `Ok(None)`: no such file.
pub fn open_allowed_file(path: &Path) -> Result<Option<File>, Diagnostic> {
    Ok(open_trusted(Trust { owner: 0 }, path, "guard_allow file", libc::O_PATH)?.map(|(f, _)| f))
}

/// Open and read a configuration file, refusing anything root did not write.
pub(crate) fn read_trusted_file(trust: Trust, path: &Path) -> Result<Opened, Diagnostic> {
    let Some((file, meta)) = open_trusted(trust, path, "file", libc::O_NONBLOCK | libc::O_NOCTTY)?
    else {
        return Ok(Opened::Missing);
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large(path, meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&file)
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::file(path, format!("cannot read: {}", io_cause(&e))))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(path, bytes.len() as u64));
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            return Err(Diagnostic::at(
                path,
                &prefix,
                good,
                "file is not valid UTF-8",
            ));
        }
    };
    Ok(Opened::File { text })
}

fn too_large(path: &Path, len: u64) -> Diagnostic {
    Diagnostic::file(
        path,
        format!("file is too large ({len} bytes; the limit is {MAX_FILE_SIZE} bytes)"),
    )
}

/// The `*.toml` files of a drop-in directory, in byte order of name; `Ok(None)` if the
/// directory does not exist. The directory itself must be trusted.
/// The entries of the drop-in directory: the `*.toml` files to read, in byte order of name,
/// and the others, which are not read (hidden names, starting with `.`, left out of both).
pub(crate) struct Dropins {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) skipped: Vec<PathBuf>,
}

pub(crate) fn list_dropins(trust: Trust, dir: &Path) -> Result<Option<Dropins>, Diagnostic> {
    check_symlinks(trust, dir, dir, "drop-in directory")?;
    let Some(meta) = stat_existing(dir, "drop-in directory")? else {
        return Ok(None);
    };
    if !meta.is_dir() {
        return Err(Diagnostic::file(
            dir,
            format!(
                "drop-in directory is not a directory: it is {}",
                kind_name(meta.file_type())
            ),
        ));
    }
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| {
            Diagnostic::file(
                dir,
                format!("cannot open drop-in directory: {}", io_cause(&e)),
            )
        })?;
    let meta = handle
        .metadata()
        .map_err(|e| Diagnostic::file(dir, format!("cannot stat: {}", io_cause(&e))))?;
    check_owner_mode(trust, dir, &meta, "drop-in directory", false)?;
    let resolved = resolved_path(&handle, dir)?;
    check_ancestors(trust, dir, &resolved)?;
    let entries = std::fs::read_dir(&resolved).map_err(|e| {
        Diagnostic::file(
            dir,
            format!("cannot list drop-in directory: {}", io_cause(&e)),
        )
    })?;
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut skipped: Vec<Vec<u8>> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Diagnostic::file(
                dir,
                format!("cannot list drop-in directory: {}", io_cause(&e)),
            )
        })?;
        let name = entry.file_name();
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()).to_vec();
        if bytes.first() == Some(&b'.') {
            continue;
        }
        if !bytes.ends_with(b".toml") {
            skipped.push(bytes);
            continue;
        }
        names.push(bytes);
    }
    names.sort();
    skipped.sort();
    let paths = |v: Vec<Vec<u8>>| -> Vec<PathBuf> {
        v.into_iter()
            .map(|n| dir.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&n)))
            .collect()
    };
    Ok(Some(Dropins {
        files: paths(names),
        skipped: paths(skipped),
    }))
}

/// Test-only: run code between open and the checks, to prove the checks and the read use
/// the opened descriptor, not the path (a file replaced in between changes nothing).
#[cfg(test)]
pub(crate) mod tests_hook {
    use std::cell::RefCell;
    use std::path::Path;

    type Hook = Box<dyn Fn(&Path)>;
    thread_local! {
        static HOOK: RefCell<Option<Hook>> = RefCell::new(None);
    }

    pub fn set(f: impl Fn(&Path) + 'static) {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(f)));
    }

    pub fn clear() {
        HOOK.with(|h| *h.borrow_mut() = None);
    }

    pub fn after_open(path: &Path) {
        HOOK.with(|h| {
            if let Some(f) = h.borrow().as_ref() {
                f(path)
            }
        });
    }
}
