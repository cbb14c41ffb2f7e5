//! [`Thread`]: a thread of this process with its own stack and tid word, joined through
//! `CLONE_CHILD_CLEARTID`; used by the kernel-model programs (futex, FPU, clocks, TLB).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys;

/// Bytes of each thread's mapping: the tid word at the bottom, the stack above it.
pub const STACK_SIZE: usize = 16 * 1024;

/// A started thread: its tid and the word the kernel clears when it exits.
#[derive(Clone, Copy, Debug)]
pub struct Thread {
    tid: u32,
    tid_word: &'static AtomicU32,
}

impl Thread {
    /// Starts `entry(arg)` on a fresh [`STACK_SIZE`] mapping (never unmapped: the programs
    /// are short). `entry` must end with `sys::exit` (the thread) or `sys::exit_group`.
    /// The `-errno` of `mmap2` or `clone` on failure.
    pub fn spawn(entry: extern "C" fn(usize) -> !, arg: usize) -> Result<Thread, isize> {
        Self::start(entry, arg, None)
    }

    /// [`Thread::spawn`] with `tls` as one of the new thread's TLS entries (`CLONE_SETTLS`).
    pub fn spawn_with_tls(
        entry: extern "C" fn(usize) -> !,
        arg: usize,
        tls: &sys::UserDesc,
    ) -> Result<Thread, isize> {
        Self::start(entry, arg, Some(tls))
    }

    fn start(
        entry: extern "C" fn(usize) -> !,
        arg: usize,
        tls: Option<&sys::UserDesc>,
    ) -> Result<Thread, isize> {
        let base = sys::map_anonymous(STACK_SIZE);
        if sys::is_error(base) {
            return Err(base);
        }
        let base = base as usize;
        // SAFETY: `base` is a fresh page-aligned read-write mapping of this process that
        // is never unmapped, so it lives as long as the process; its first word is used
        // only as this atomic (by the threads and the kernel), never through the stack,
        // which starts at the other end of the mapping.
        let tid_word: &'static AtomicU32 = unsafe { &*(base as *const AtomicU32) };
        let top = base + STACK_SIZE;
        let tid = match tls {
            Some(tls) => sys::spawn_thread_tls(entry, arg, top, tid_word, tls),
            None => sys::spawn_thread_cleartid(entry, arg, top, tid_word),
        };
        if sys::is_error(tid) {
            return Err(tid);
        }
        Ok(Thread {
            tid: tid as u32,
            tid_word,
        })
    }

    /// The thread's tid.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// The tid word: the tid while the thread lives, 0 once it has exited.
    pub fn tid_word(&self) -> &'static AtomicU32 {
        self.tid_word
    }

    /// Waits until the thread has exited.
    pub fn join(&self) {
        sys::join(self.tid_word);
    }

    /// Waits at most `timeout_ms` for the thread to exit: whether it has.
    pub fn join_timeout(&self, timeout_ms: u32) -> bool {
        sys::join_timeout(self.tid_word, timeout_ms)
    }
}

/// Waits (sleeping 1 ms at a time) until `counter` reaches `n`, at most `timeout_ms`:
/// whether it did.
pub fn wait_for_count(counter: &AtomicU32, n: u32, timeout_ms: u32) -> bool {
    let deadline = sys::monotonic_ns() + u64::from(timeout_ms) * 1_000_000;
    while counter.load(Ordering::Acquire) < n {
        if sys::monotonic_ns() >= deadline {
            return false;
        }
        sys::sleep_ms(1);
    }
    true
}

/// The CPUs this process may run on (its affinity mask, CPUs 0 to 31), at least CPU 0.
pub fn usable_cpus() -> u32 {
    sys::affinity(0).unwrap_or(1).max(1)
}

/// The lowest and the highest CPU of `mask` (non-zero).
pub fn first_and_last(mask: u32) -> (u32, u32) {
    (mask.trailing_zeros(), 31 - mask.leading_zeros())
}
