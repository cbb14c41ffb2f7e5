//! `futex` (240) and `futex_time64` (422): the raw calls and one typed wrapper per operation.
//!
//! A futex word is an [`AtomicU32`]: the kernel reads it (to compare with the expected
//! value) while other threads change it, so the programs only ever touch it atomically.
//! The raw calls take any pointer: the kernel checks it (`-EFAULT`, `-EINVAL` when
//! misaligned), and the operations Tempest offers only read the words.

use core::sync::atomic::AtomicU32;

use super::{Timespec, Timespec64, syscall6};

/// `futex(uaddr, op, val, timeout_or_val2, uaddr2, val3)` with a 32-bit timespec.
pub const SYS_FUTEX: u32 = 240;
/// The same with a [`Timespec64`].
pub const SYS_FUTEX_TIME64: u32 = 422;

/// Sleep while `*uaddr == val`, for at most the *relative* timeout.
pub const FUTEX_WAIT: u32 = 0;
/// Wake up to `val` waiters.
pub const FUTEX_WAKE: u32 = 1;
/// Wake up to `val` waiters, move up to `val2` of the rest to `uaddr2`.
pub const FUTEX_REQUEUE: u32 = 3;
/// [`FUTEX_REQUEUE`] only if `*uaddr == val3` (else `-EAGAIN`).
pub const FUTEX_CMP_REQUEUE: u32 = 4;
/// [`FUTEX_WAIT`] with a bitset (`val3`) and an *absolute* timeout (`CLOCK_MONOTONIC`, or
/// `CLOCK_REALTIME` with [`FUTEX_CLOCK_REALTIME`]).
pub const FUTEX_WAIT_BITSET: u32 = 9;
/// [`FUTEX_WAKE`] of the waiters whose bitset shares a bit with `val3`.
pub const FUTEX_WAKE_BITSET: u32 = 10;
/// The word is private to this process (any operation).
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
/// [`FUTEX_WAIT_BITSET`]'s deadline is of `CLOCK_REALTIME`.
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
/// The bitset of plain `FUTEX_WAIT` and `FUTEX_WAKE`: every bit.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;
/// A wake count meaning "every waiter" (`INT_MAX`).
pub const FUTEX_WAKE_ALL: u32 = i32::MAX as u32;

/// `futex(uaddr, op, val, timeout, uaddr2, val3)` (240): `timeout` is a `*const Timespec`
/// for the waits and the count `val2` for the requeues. The result, or `-errno`.
pub fn futex(
    uaddr: *const u32,
    op: u32,
    val: u32,
    timeout: usize,
    uaddr2: *const u32,
    val3: u32,
) -> isize {
    syscall6(
        SYS_FUTEX,
        uaddr as usize,
        op as usize,
        val as usize,
        timeout,
        uaddr2 as usize,
        val3 as usize,
    )
}

/// `futex_time64` (422): [`futex`] whose waits take a `*const Timespec64`.
pub fn futex_time64(
    uaddr: *const u32,
    op: u32,
    val: u32,
    timeout: usize,
    uaddr2: *const u32,
    val3: u32,
) -> isize {
    syscall6(
        SYS_FUTEX_TIME64,
        uaddr as usize,
        op as usize,
        val as usize,
        timeout,
        uaddr2 as usize,
        val3 as usize,
    )
}

/// The address of a timeout, or 0 for "forever".
fn timeout_addr<T>(timeout: Option<&T>) -> usize {
    timeout.map_or(0, |t| t as *const T as usize)
}

/// `FUTEX_WAIT | flags`: sleeps while `word` holds `val`, at most `timeout` (relative).
/// 0 when woken (or spuriously), `-EAGAIN` if `word` did not hold `val`, `-ETIMEDOUT`.
pub fn futex_wait(word: &AtomicU32, val: u32, timeout: Option<&Timespec>, flags: u32) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_WAIT | flags,
        val,
        timeout_addr(timeout),
        core::ptr::null(),
        0,
    )
}

/// [`futex_wait`] through `futex_time64`.
pub fn futex_wait_time64(
    word: &AtomicU32,
    val: u32,
    timeout: Option<&Timespec64>,
    flags: u32,
) -> isize {
    futex_time64(
        word.as_ptr(),
        FUTEX_WAIT | flags,
        val,
        timeout_addr(timeout),
        core::ptr::null(),
        0,
    )
}

/// `FUTEX_WAKE | flags`: wakes up to `n` waiters of `word`; how many it woke, or `-errno`.
pub fn futex_wake(word: &AtomicU32, n: u32, flags: u32) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_WAKE | flags,
        n,
        0,
        core::ptr::null(),
        0,
    )
}

/// `FUTEX_WAIT_BITSET | flags`: [`futex_wait`] with `bitset` and an *absolute* `deadline`
/// (`CLOCK_MONOTONIC`, or `CLOCK_REALTIME` when `flags` has [`FUTEX_CLOCK_REALTIME`]).
pub fn futex_wait_bitset(
    word: &AtomicU32,
    val: u32,
    deadline: Option<&Timespec>,
    bitset: u32,
    flags: u32,
) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_WAIT_BITSET | flags,
        val,
        timeout_addr(deadline),
        core::ptr::null(),
        bitset,
    )
}

/// `FUTEX_WAKE_BITSET | flags`: wakes up to `n` waiters of `word` whose bitset shares a
/// bit with `bitset`; how many it woke, or `-errno`.
pub fn futex_wake_bitset(word: &AtomicU32, n: u32, bitset: u32, flags: u32) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_WAKE_BITSET | flags,
        n,
        0,
        core::ptr::null(),
        bitset,
    )
}

/// `FUTEX_REQUEUE | flags`: wakes up to `nr_wake` waiters of `word` and moves up to
/// `nr_requeue` of the others to `to`. Linux returns the woken plus the moved.
pub fn futex_requeue(
    word: &AtomicU32,
    nr_wake: u32,
    nr_requeue: u32,
    to: &AtomicU32,
    flags: u32,
) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_REQUEUE | flags,
        nr_wake,
        nr_requeue as usize,
        to.as_ptr(),
        0,
    )
}

/// `FUTEX_CMP_REQUEUE | flags`: [`futex_requeue`] if `word` holds `expected`, else
/// `-EAGAIN`.
pub fn futex_cmp_requeue(
    word: &AtomicU32,
    nr_wake: u32,
    nr_requeue: u32,
    to: &AtomicU32,
    expected: u32,
    flags: u32,
) -> isize {
    futex(
        word.as_ptr(),
        FUTEX_CMP_REQUEUE | flags,
        nr_wake,
        nr_requeue as usize,
        to.as_ptr(),
        expected,
    )
}
