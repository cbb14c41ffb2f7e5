//! The calls a C runtime makes about its process at start-up and for its threads:
//! `set_tid_address`, `set_robust_list`, `uname`, `getrlimit`-family, `getrandom`, the
//! user and group ids, `readlink` of `/proc/self/exe`.

use super::{SysResult, write_user};
use crate::errno::Errno;
use crate::sched;
use core::sync::atomic::Ordering;

/// `set_tid_address(tidptr)`: the caller's `CLONE_CHILD_CLEARTID` word from now on;
/// returns its tid.
pub fn set_tid_address(tidptr: u32) -> SysResult {
    sched::with_current(|t| {
        t.clear_child_tid.store(tidptr, Ordering::Relaxed);
        Ok(t.tid)
    })
}

/// The size of Linux i386's `struct robust_list_head`.
const ROBUST_LIST_HEAD_SIZE: u32 = 12;

/// `set_robust_list(head, len)`: accepted (`EINVAL` for another `len`, as Linux); the list
/// is not walked at exit yet, which only matters to a process whose thread dies holding a
/// robust mutex.
pub fn set_robust_list(_head: u32, len: u32) -> SysResult {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// `uname(buf)`: six fields of 65 bytes. The release is one glibc accepts.
pub fn uname(buf: u32) -> SysResult {
    let fields: [&[u8]; 6] = [
        b"Linux",
        b"tempest",
        b"6.1.0-tempest",
        b"#1 SMP PREEMPT",
        b"i686",
        b"(none)",
    ];
    let mut raw = [0u8; 6 * 65];
    for (i, f) in fields.iter().enumerate() {
        raw[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    write_user(buf, &raw)?;
    Ok(0)
}

const RLIMIT_STACK: u32 = 3;
const RLIMIT_NOFILE: u32 = 7;
const RLIM_NLIMITS: u32 = 16;
const RLIM_INFINITY: u64 = u64::MAX;

/// The limits Tempest has: the stack a program is given (8 MiB, as Linux's default soft
/// limit) and the file table's size; none on the rest.
fn limit(resource: u32) -> Result<(u64, u64), Errno> {
    match resource {
        RLIMIT_STACK => Ok((8 << 20, RLIM_INFINITY)),
        RLIMIT_NOFILE => {
            let n = crate::files::MAX_FILES as u64;
            Ok((n, n))
        }
        r if r < RLIM_NLIMITS => Ok((RLIM_INFINITY, RLIM_INFINITY)),
        _ => Err(Errno::EINVAL),
    }
}

/// `ugetrlimit(resource, rlim)`: `struct rlimit` of two `unsigned long`s (infinity is
/// `~0`).
pub fn ugetrlimit(resource: u32, rlim: u32) -> SysResult {
    let (cur, max) = limit(resource)?;
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let mut raw = [0u8; 8];
    raw[0..4].copy_from_slice(&narrow(cur).to_le_bytes());
    raw[4..8].copy_from_slice(&narrow(max).to_le_bytes());
    write_user(rlim, &raw)?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)`: reads (the caller's process only: `ESRCH`
/// otherwise); setting a limit is `EPERM` (no limit can be changed yet).
pub fn prlimit64(pid: u32, resource: u32, new: u32, old: u32) -> SysResult {
    if pid != 0 && pid != sched::current_process().tgid {
        return Err(Errno::ESRCH);
    }
    let (cur, max) = limit(resource)?;
    if new != 0 {
        return Err(Errno::EPERM);
    }
    if old != 0 {
        let mut raw = [0u8; 16];
        raw[0..8].copy_from_slice(&cur.to_le_bytes());
        raw[8..16].copy_from_slice(&max.to_le_bytes());
        write_user(old, &raw)?;
    }
    Ok(0)
}

const GRND_NONBLOCK: u32 = 1;
const GRND_RANDOM: u32 = 2;
const GRND_INSECURE: u32 = 4;

/// `getrandom(buf, len, flags)`: `len` bytes of the kernel's ChaCha20 stream
/// (`crate::random`), which never blocks (seeded at boot).
pub fn getrandom(buf: u32, len: u32, flags: u32) -> SysResult {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & GRND_RANDOM != 0 && flags & GRND_INSECURE != 0
    {
        return Err(Errno::EINVAL);
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u32);
        crate::random::fill(&mut chunk[..n as usize]);
        write_user(buf + done, &chunk[..n as usize])?;
        done += n;
    }
    Ok(len)
}
