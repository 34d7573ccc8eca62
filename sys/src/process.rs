//! Facts about the calling process (its real uid, the clock tick of /proc's time fields) and
//! the kernel's RCU grace period.

use crate::SysError;

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

/// Wait for an RCU grace period (`membarrier(MEMBARRIER_CMD_GLOBAL)`, which the kernel
/// implements with `synchronize_rcu()`): every RCU read-side section running when it was
/// called has ended when it returns. Non-sleepable BPF programs run inside one, so after it no
/// run of the exec guard that began earlier is still reading its tables. Fails with EINVAL on
/// kernels booted with `nohz_full` (the command is refused there).
pub fn rcu_grace_period() -> Result<(), SysError> {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: membarrier takes two integer arguments (and a cpu id, unused with flags 0) and
    // touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
    if rc != 0 {
        return Err(SysError {
            what: "membarrier(MEMBARRIER_CMD_GLOBAL)".into(),
            errno: crate::last_errno(),
        });
    }
    Ok(())
}
