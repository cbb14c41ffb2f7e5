//! Scheduling, futex and clock calls, with Linux's meaning: `futex`/`futex_time64`,
//! `sched_setaffinity`/`sched_getaffinity`, `getcpu`, `sched_yield`, `nanosleep`,
//! `clock_nanosleep`(`_time64`), `clock_gettime`(`64`), `clock_getres`(`_time64`),
//! `gettimeofday` and `time`. Each decodes its arguments and calls `crate::sched` or
//! `crate::time`.

use super::{SysResult, read_user, write_user};
use crate::clock::{self, NS_PER_SEC};
use crate::errno::Errno;
use crate::proc::NO_DEADLINE;
use crate::sched::{self, block, futex};
use crate::time;

/// Which `timespec` layout a call uses: i386's 32-bit one or the `_time64` calls' one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Time32,
    Time64,
}

impl Layout {
    fn size(self) -> usize {
        match self {
            Layout::Time32 => 8,
            Layout::Time64 => 16,
        }
    }
}

/// Reads a `timespec` as nanoseconds (`EINVAL` if malformed, `EFAULT` if unreadable).
pub(super) fn read_timespec(address: u32, layout: Layout) -> Result<u64, Errno> {
    let raw: [u8; 16] = read_user(address, layout.size())?;
    let (sec, nsec) = match layout {
        Layout::Time32 => (
            i64::from(i32::from_le_bytes(raw[0..4].try_into().expect("4"))),
            i64::from(i32::from_le_bytes(raw[4..8].try_into().expect("4"))),
        ),
        Layout::Time64 => (
            i64::from_le_bytes(raw[0..8].try_into().expect("8")),
            // The 64-bit layout's tv_nsec is a long padded to 8 bytes; the kernel reads the
            // low half, as Linux does for compat tasks.
            i64::from(i32::from_le_bytes(raw[8..12].try_into().expect("4"))),
        ),
    };
    clock::timespec_ns(sec, nsec)
}

pub(super) fn write_timespec(address: u32, ns: u64, layout: Layout) -> Result<(), Errno> {
    let (sec, nsec) = clock::split_ns(ns);
    let mut raw = [0u8; 16];
    match layout {
        Layout::Time32 => {
            raw[0..4].copy_from_slice(&(sec as u32).to_le_bytes());
            raw[4..8].copy_from_slice(&(nsec as u32).to_le_bytes());
        }
        Layout::Time64 => {
            raw[0..8].copy_from_slice(&sec.to_le_bytes());
            raw[8..16].copy_from_slice(&nsec.to_le_bytes());
        }
    }
    write_user(address, &raw[..layout.size()])
}

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// `futex(uaddr, op, val, timeout_or_val2, uaddr2, val3)`.
pub fn futex(
    uaddr: u32,
    op: u32,
    val: u32,
    timeout: u32,
    uaddr2: u32,
    val3: u32,
    layout: Layout,
) -> SysResult {
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { futex::ALL } else { val3 };
            let deadline = if timeout == 0 {
                NO_DEADLINE
            } else {
                let t = read_timespec(timeout, layout)?;
                if cmd == FUTEX_WAIT {
                    // Relative, on the monotonic clock.
                    time::monotonic_ns().saturating_add(t)
                } else if realtime {
                    // Absolute on CLOCK_REALTIME: the same instant on the monotonic clock.
                    t.saturating_sub(time::realtime_ns() - time::monotonic_ns())
                } else {
                    t
                }
            };
            futex::wait(uaddr, val, bitset, deadline, !private)
        }
        FUTEX_WAKE => futex::wake(uaddr, val, futex::ALL, !private),
        FUTEX_WAKE_BITSET => futex::wake(uaddr, val, val3, !private),
        // The fourth argument is `val2`, a count, for the requeue calls.
        FUTEX_REQUEUE => futex::requeue(uaddr, uaddr2, val, timeout, None, !private),
        FUTEX_CMP_REQUEUE => futex::requeue(uaddr, uaddr2, val, timeout, Some(val3), !private),
        _ => Err(Errno::ENOSYS),
    }
}

/// Bytes of a CPU mask, as Linux sizes it for 32 CPUs on i386 (one `unsigned long`).
const MASK_BYTES: u32 = 4;

/// `sched_setaffinity(pid, len, mask)`: `len` below one word is `EINVAL`; bits past it
/// are read as zero; CPUs that are not online are ignored.
pub fn set_affinity(tid: u32, len: u32, mask: u32) -> SysResult {
    if len < MASK_BYTES {
        return Err(Errno::EINVAL);
    }
    let raw: [u8; 4] = read_user(mask, 4)?;
    sched::set_affinity(tid, u32::from_le_bytes(raw))?;
    Ok(0)
}

/// `sched_getaffinity(pid, len, mask)`: writes one word and returns its size.
pub fn get_affinity(tid: u32, len: u32, mask: u32) -> SysResult {
    if len < MASK_BYTES || !len.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let affinity = sched::affinity(tid)?;
    write_user(mask, &affinity.to_le_bytes())?;
    Ok(MASK_BYTES)
}

/// `getcpu(cpu, node, cache)`: the CPU the caller runs on (it may move right after, as on
/// Linux) and node 0. Null pointers are skipped.
pub fn getcpu(cpu: u32, node: u32) -> SysResult {
    let here = crate::cpu::percpu::cpu_id() as u32;
    if cpu != 0 {
        write_user(cpu, &here.to_le_bytes())?;
    }
    if node != 0 {
        write_user(node, &0u32.to_le_bytes())?;
    }
    Ok(0)
}

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const CLOCK_MONOTONIC_RAW: u32 = 4;
const CLOCK_REALTIME_COARSE: u32 = 5;
const CLOCK_MONOTONIC_COARSE: u32 = 6;
const CLOCK_BOOTTIME: u32 = 7;

/// Reads clock `id` (`EINVAL` for a clock Tempest does not keep).
fn now(id: u32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(time::realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(time::monotonic_ns())
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `clock_gettime(id, tp)` / `clock_gettime64`.
pub fn clock_gettime(id: u32, tp: u32, layout: Layout) -> SysResult {
    write_timespec(tp, now(id)?, layout)?;
    Ok(0)
}

/// `clock_getres(id, res)`: 1 ns for the TSC clocks, a tick for the coarse ones.
pub fn clock_getres(id: u32, res: u32, layout: Layout) -> SysResult {
    now(id)?;
    let ns = match id {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => NS_PER_SEC / sched::HZ,
        _ => 1,
    };
    if res != 0 {
        write_timespec(res, ns, layout)?;
    }
    Ok(0)
}

/// `gettimeofday(tv, tz)`: microseconds; a timezone, if asked for, is UTC.
pub fn gettimeofday(tv: u32, tz: u32) -> SysResult {
    if tv != 0 {
        let (sec, nsec) = clock::split_ns(time::realtime_ns());
        let mut raw = [0u8; 8];
        raw[0..4].copy_from_slice(&(sec as u32).to_le_bytes());
        raw[4..8].copy_from_slice(&((nsec / 1000) as u32).to_le_bytes());
        write_user(tv, &raw)?;
    }
    if tz != 0 {
        write_user(tz, &[0u8; 8])?;
    }
    Ok(0)
}

/// `time(t)`: seconds since the epoch, also stored at `t` when it is not null.
pub fn time(t: u32) -> SysResult {
    let sec = clock::split_ns(time::realtime_ns()).0 as u32;
    if t != 0 {
        write_user(t, &sec.to_le_bytes())?;
    }
    Ok(sec)
}

/// Sleeps until `deadline` (monotonic ns), blocked on this CPU's timer. If something
/// wakes the task first (its process exiting), `EINTR`, with the time left written to
/// `rem` (when given) as Linux does.
fn sleep(deadline: u64, rem: u32, layout: Layout) -> SysResult {
    if block::sleep_until(deadline) {
        return Ok(0);
    }
    if rem != 0 {
        let left = deadline.saturating_sub(time::monotonic_ns());
        write_timespec(rem, left, layout)?;
    }
    Err(Errno::EINTR)
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(req: u32, rem: u32) -> SysResult {
    let ns = read_timespec(req, Layout::Time32)?;
    sleep(time::monotonic_ns().saturating_add(ns), rem, Layout::Time32)
}

const TIMER_ABSTIME: u32 = 1;

/// `clock_nanosleep(id, flags, req, rem)` / `clock_nanosleep_time64`: relative, or absolute
/// with `TIMER_ABSTIME` on the named clock. Linux returns the error number itself, not
/// `-1`, from the libc wrapper; the system call returns `-errno` like the others.
pub fn clock_nanosleep(id: u32, flags: u32, req: u32, rem: u32, layout: Layout) -> SysResult {
    let at = read_timespec(req, layout)?;
    let clock_now = now(id)?;
    let deadline = if flags & TIMER_ABSTIME != 0 {
        time::monotonic_ns().saturating_add(at.saturating_sub(clock_now))
    } else {
        time::monotonic_ns().saturating_add(at)
    };
    let rem = if flags & TIMER_ABSTIME != 0 { 0 } else { rem };
    sleep(deadline, rem, layout)
}
