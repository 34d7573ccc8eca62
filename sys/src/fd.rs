//! File descriptors kept across `execve`: nnp-shell's re-entry marker (see nnp-shell(8)).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use crate::{last_errno, SysError};

/// Clear `FD_CLOEXEC` on `fd`, so the descriptor stays open across `execve` (std opens every
/// descriptor close-on-exec).
pub fn keep_across_exec(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let err = || SysError {
        what: "fcntl(F_SETFD)".into(),
        errno: last_errno(),
    };
    // SAFETY: F_GETFD takes no argument and touches no memory; the descriptor is borrowed,
    // so it is open for the duration of the call.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    if flags < 0 {
        return Err(err());
    }
    // SAFETY: F_SETFD takes an integer argument and touches no memory; fd is open (borrowed).
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags & !libc::FD_CLOEXEC) };
    if rc < 0 {
        return Err(err());
    }
    Ok(())
}

/// The file status flags (`fcntl(F_GETFL)`: the open flags, `O_PATH` included) of
/// descriptor number `fd` of this process, which need not be one this program opened (as
/// the numbers `/proc/self/fd` lists); an error (`EBADF`) if it is not open.
pub fn status_flags(fd: RawFd) -> Result<i32, SysError> {
    // SAFETY: F_GETFL takes no argument, touches no memory and changes nothing; on a number
    // that is not an open descriptor it fails with EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(SysError {
            what: "fcntl(F_GETFL)".into(),
            errno: last_errno(),
        });
    }
    Ok(flags)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn clears_close_on_exec() {
        let f = std::fs::File::open("/").unwrap();
        let get = || {
            // SAFETY: F_GETFD on an open descriptor owned by this test.
            unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) }
        };
        assert_ne!(get() & libc::FD_CLOEXEC, 0);
        keep_across_exec(f.as_fd()).unwrap();
        assert_eq!(get() & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn status_flags_show_o_path() {
        use std::os::unix::fs::OpenOptionsExt;
        let plain = std::fs::File::open("/").unwrap();
        let path = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open("/")
            .unwrap();
        assert_eq!(status_flags(plain.as_raw_fd()).unwrap() & libc::O_PATH, 0);
        assert_ne!(status_flags(path.as_raw_fd()).unwrap() & libc::O_PATH, 0);
        assert_eq!(status_flags(-1).map_err(|e| e.errno), Err(libc::EBADF));
    }
}
