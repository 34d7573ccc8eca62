//! Facts about the calling process: its real uid, the clock tick of /proc's time fields.

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
