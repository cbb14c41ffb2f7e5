//! `futex_cases`: every futex operation Tempest offers, case by case, with Linux's results:
//!
//! - `FUTEX_WAIT` on a word that does not hold the value: `-EAGAIN`; on an unmapped page:
//!   `-EFAULT`; on a misaligned address: `-EINVAL`; with a timeout of 20 ms and no waker:
//!   `-ETIMEDOUT` after at least 20 ms of `CLOCK_MONOTONIC` (also through `futex_time64`);
//!   with `tv_nsec` of a second: `-EINVAL`; an unknown operation: `-ENOSYS`.
//! - `FUTEX_WAKE` with nobody waiting: 0.
//! - `FUTEX_WAIT_BITSET`/`FUTEX_WAKE_BITSET`: a waker whose bitset is disjoint from the
//!   waiter's wakes nobody (0, and the waiter stays asleep), a matching one wakes it (1);
//!   bitset 0 is `-EINVAL`; an absolute `CLOCK_MONOTONIC` deadline 20 ms ahead times out
//!   after it, one in the past times out at once, and so does a past `CLOCK_REALTIME`
//!   deadline (`FUTEX_CLOCK_REALTIME`).
//! - `FUTEX_REQUEUE` and `FUTEX_CMP_REQUEUE` (the latter `-EAGAIN` when the word does not
//!   hold `val3`): of four sleeping waiters, the requeue wakes `nr_wake` and moves up to
//!   `nr_requeue` to the second word; wakes on both words then find exactly the moved and
//!   the left ones.
//! - `FUTEX_PRIVATE_FLAG` variants of the above.
//! - A pthread-style join: a thread started with `CLONE_CHILD_CLEARTID` has its tid in the
//!   tid word (`CLONE_PARENT_SETTID` in the parent, `CLONE_CHILD_SETTID` in the child) and
//!   the kernel clears it and wakes the joiner when the thread exits.
//!
//! Waiters that must be asleep before a wake are counted in and given 200 ms to fall
//! asleep; each waits at most 10 s, so a lost wake-up shows as a failed check
//! (`-ETIMEDOUT`), never as a hang. Exits 0 when every check passed, else 1.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use tempest_user::sys::{
    self, EAGAIN, EFAULT, EINVAL, ENOSYS, ETIMEDOUT, FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME,
    FUTEX_PRIVATE_FLAG, FUTEX_WAKE_ALL, Timespec, Timespec64,
};
use tempest_user::thread::wait_for_count;
use tempest_user::{Args, Checks, Thread, println};

tempest_user::entry!(main);

/// The timeout of the timed waits that must expire.
const TIMEOUT_MS: u32 = 20;
/// How long a waiter waits before giving up (a lost wake-up then fails a check).
const GIVE_UP_MS: u32 = 10_000;
/// How long waiters counted in get to fall asleep in the kernel.
const SETTLE_MS: u32 = 200;
/// Most waiters of one batch.
const MAX_WAITERS: usize = 4;

/// The word the waiters sleep on.
static A: AtomicU32 = AtomicU32::new(0);
/// The word requeues move them to.
static B: AtomicU32 = AtomicU32::new(0);
/// The current batch's bitset (0: plain `FUTEX_WAIT`) and futex flags.
static BITSET: AtomicU32 = AtomicU32::new(0);
static FLAGS: AtomicU32 = AtomicU32::new(0);
/// Waiters that are about to wait, and that have returned.
static ARRIVED: AtomicU32 = AtomicU32::new(0);
static LEFT: AtomicU32 = AtomicU32::new(0);
/// What each waiter's wait returned.
static RESULTS: [AtomicI32; MAX_WAITERS] = [const { AtomicI32::new(i32::MIN) }; MAX_WAITERS];

fn neg(errno: i32) -> isize {
    -(errno as isize)
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("futex_cases");
    value_and_address(&mut c);
    timeouts(&mut c);
    bitsets(&mut c);
    requeue(&mut c, false, 0);
    requeue(&mut c, true, FUTEX_PRIVATE_FLAG);
    private_wait_and_wake(&mut c);
    join_through_cleartid(&mut c);
    c.finish()
}

/// Values, addresses and operations the kernel must refuse or answer at once.
fn value_and_address(c: &mut Checks) {
    let word = AtomicU32::new(1);
    for (name, flags) in [("", 0), ("|PRIVATE", FUTEX_PRIVATE_FLAG)] {
        c.eq_fmt(
            format_args!("FUTEX_WAIT{name} on a word holding another value"),
            sys::futex_wait(&word, 0, None, flags),
            neg(EAGAIN),
        );
        c.eq_fmt(
            format_args!("FUTEX_WAKE{name} with nobody waiting"),
            sys::futex_wake(&word, FUTEX_WAKE_ALL, flags),
            0,
        );
    }
    let Some(page) = tempest_user::unmapped_page(c) else {
        return;
    };
    for (name, flags) in [("", 0), ("|PRIVATE", FUTEX_PRIVATE_FLAG)] {
        c.eq_fmt(
            format_args!("FUTEX_WAIT{name} on an unmapped page"),
            sys::futex(
                page as *const u32,
                sys::FUTEX_WAIT | flags,
                0,
                0,
                core::ptr::null(),
                0,
            ),
            neg(EFAULT),
        );
    }
    let misaligned = (word.as_ptr() as usize + 1) as *const u32;
    c.eq(
        "FUTEX_WAIT on a misaligned address",
        sys::futex(misaligned, sys::FUTEX_WAIT, 1, 0, core::ptr::null(), 0),
        neg(EINVAL),
    );
    c.eq(
        "FUTEX_WAKE on a misaligned address",
        sys::futex(misaligned, sys::FUTEX_WAKE, 1, 0, core::ptr::null(), 0),
        neg(EINVAL),
    );
    c.eq(
        "futex operation 99",
        sys::futex(word.as_ptr(), 99, 1, 0, core::ptr::null(), 0),
        neg(ENOSYS),
    );
    let bad_ts = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    c.eq(
        "FUTEX_WAIT with tv_nsec = 1000000000",
        sys::futex_wait(&word, 1, Some(&bad_ts), 0),
        neg(EINVAL),
    );
    c.eq(
        "FUTEX_WAIT with its timeout on an unmapped page",
        sys::futex(
            word.as_ptr(),
            sys::FUTEX_WAIT,
            1,
            page,
            core::ptr::null(),
            0,
        ),
        neg(EFAULT),
    );
    c.eq(
        "FUTEX_WAIT_BITSET with bitset 0",
        sys::futex_wait_bitset(&word, 1, None, 0, 0),
        neg(EINVAL),
    );
    c.eq(
        "FUTEX_WAKE_BITSET with bitset 0",
        sys::futex_wake_bitset(&word, 1, 0, 0),
        neg(EINVAL),
    );
    c.eq(
        "FUTEX_WAKE_BITSET with nobody waiting",
        sys::futex_wake_bitset(&word, 1, FUTEX_BITSET_MATCH_ANY, FUTEX_PRIVATE_FLAG),
        0,
    );
    c.eq(
        "FUTEX_CMP_REQUEUE with val3 other than the word",
        sys::futex_cmp_requeue(&word, 1, 1, &B, 2, 0),
        neg(EAGAIN),
    );
}

/// Timed waits with nobody to wake them: relative, 64-bit, absolute, in the past.
fn timeouts(c: &mut Checks) {
    let word = AtomicU32::new(7);
    let ms = |ns: u64| ns / 1_000_000;
    for (name, flags) in [
        ("FUTEX_WAIT", 0),
        ("FUTEX_WAIT|PRIVATE", FUTEX_PRIVATE_FLAG),
    ] {
        let start = sys::monotonic_ns();
        let ret = sys::futex_wait(&word, 7, Some(&Timespec::from_millis(TIMEOUT_MS)), flags);
        let took = sys::monotonic_ns() - start;
        c.eq_fmt(
            format_args!("{name} with a 20 ms timeout"),
            ret,
            neg(ETIMEDOUT),
        );
        c.check(
            ms(took) >= u64::from(TIMEOUT_MS),
            format_args!(
                "{name} with a 20 ms timeout took {} ms of CLOCK_MONOTONIC, at least 20",
                ms(took)
            ),
        );
    }
    let start = sys::monotonic_ns();
    let timeout = Timespec64::from_nanos(u64::from(TIMEOUT_MS) * 1_000_000);
    let ret = sys::futex_wait_time64(&word, 7, Some(&timeout), FUTEX_PRIVATE_FLAG);
    let took = sys::monotonic_ns() - start;
    c.eq(
        "futex_time64 FUTEX_WAIT with a 20 ms timeout",
        ret,
        neg(ETIMEDOUT),
    );
    c.check(
        ms(took) >= u64::from(TIMEOUT_MS),
        format_args!("futex_time64 FUTEX_WAIT took {} ms, at least 20", ms(took)),
    );

    let deadline_ns = sys::monotonic_ns() + u64::from(TIMEOUT_MS) * 1_000_000;
    let deadline = Timespec::from_nanos(deadline_ns);
    let ret = sys::futex_wait_bitset(&word, 7, Some(&deadline), FUTEX_BITSET_MATCH_ANY, 0);
    let now = sys::monotonic_ns();
    c.eq(
        "FUTEX_WAIT_BITSET until CLOCK_MONOTONIC + 20 ms",
        ret,
        neg(ETIMEDOUT),
    );
    c.check(
        now >= deadline_ns,
        format_args!(
            "FUTEX_WAIT_BITSET returned at or after its absolute deadline ({} us after)",
            (now.saturating_sub(deadline_ns)) / 1000
        ),
    );

    let past = Timespec::from_nanos(sys::monotonic_ns().saturating_sub(1_000_000_000));
    for (name, flags) in [
        ("FUTEX_WAIT_BITSET", 0),
        ("FUTEX_WAIT_BITSET|PRIVATE", FUTEX_PRIVATE_FLAG),
    ] {
        let start = sys::monotonic_ns();
        let ret = sys::futex_wait_bitset(&word, 7, Some(&past), FUTEX_BITSET_MATCH_ANY, flags);
        let took = ms(sys::monotonic_ns() - start);
        c.eq_fmt(
            format_args!("{name} with a CLOCK_MONOTONIC deadline in the past"),
            ret,
            neg(ETIMEDOUT),
        );
        c.check(
            took < 1000,
            format_args!("{name} with a past deadline returned at once ({took} ms)"),
        );
    }
    let realtime_past = Timespec::from_nanos(sys::clock_ns(sys::CLOCK_REALTIME) - 1_000_000_000);
    let ret = sys::futex_wait_bitset(
        &word,
        7,
        Some(&realtime_past),
        FUTEX_BITSET_MATCH_ANY,
        FUTEX_CLOCK_REALTIME | FUTEX_PRIVATE_FLAG,
    );
    c.eq(
        "FUTEX_WAIT_BITSET|CLOCK_REALTIME with a deadline in the past",
        ret,
        neg(ETIMEDOUT),
    );
    let realtime_deadline_ns =
        sys::clock_ns(sys::CLOCK_REALTIME) + u64::from(TIMEOUT_MS) * 1_000_000;
    let ret = sys::futex_wait_bitset(
        &word,
        7,
        Some(&Timespec::from_nanos(realtime_deadline_ns)),
        FUTEX_BITSET_MATCH_ANY,
        FUTEX_CLOCK_REALTIME,
    );
    let now = sys::clock_ns(sys::CLOCK_REALTIME);
    c.eq(
        "FUTEX_WAIT_BITSET|CLOCK_REALTIME until CLOCK_REALTIME + 20 ms",
        ret,
        neg(ETIMEDOUT),
    );
    c.check(
        now >= realtime_deadline_ns,
        format_args!("FUTEX_WAIT_BITSET|CLOCK_REALTIME returned at or after its deadline"),
    );
}

/// Each waiter: counts itself in, waits on `A` (value 0) as the batch says, and records
/// what the wait returned.
extern "C" fn waiter(i: usize) -> ! {
    let bitset = BITSET.load(Ordering::Acquire);
    let flags = FLAGS.load(Ordering::Acquire);
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    let ret = if bitset == 0 {
        sys::futex_wait(&A, 0, Some(&Timespec::from_millis(GIVE_UP_MS)), flags)
    } else {
        let deadline = sys::monotonic_ns() + u64::from(GIVE_UP_MS) * 1_000_000;
        sys::futex_wait_bitset(&A, 0, Some(&Timespec::from_nanos(deadline)), bitset, flags)
    };
    RESULTS[i].store(ret as i32, Ordering::Release);
    LEFT.fetch_add(1, Ordering::AcqRel);
    sys::exit(0)
}

/// A batch of `n` waiters on `A`, started and given time to fall asleep.
struct Batch {
    threads: [Option<Thread>; MAX_WAITERS],
    n: usize,
}

impl Batch {
    fn start(c: &mut Checks, n: usize, bitset: u32, flags: u32) -> Option<Batch> {
        A.store(0, Ordering::Release);
        B.store(0, Ordering::Release);
        BITSET.store(bitset, Ordering::Release);
        FLAGS.store(flags, Ordering::Release);
        ARRIVED.store(0, Ordering::Release);
        LEFT.store(0, Ordering::Release);
        let mut threads = [None; MAX_WAITERS];
        for (i, slot) in threads.iter_mut().enumerate().take(n) {
            RESULTS[i].store(i32::MIN, Ordering::Release);
            match Thread::spawn(waiter, i) {
                Ok(t) => *slot = Some(t),
                Err(e) => {
                    c.check(false, format_args!("clone of waiter {i} = {e}"));
                    return None;
                }
            }
        }
        let all_in = wait_for_count(&ARRIVED, n as u32, GIVE_UP_MS);
        if !c.check(all_in, format_args!("{n} waiter(s) started")) {
            return None;
        }
        sys::sleep_ms(SETTLE_MS);
        Some(Batch { threads, n })
    }

    /// Joins every waiter and checks that each one's wait returned 0 (woken).
    fn finish(self, c: &mut Checks, what: &str) {
        let joined = self
            .threads
            .iter()
            .flatten()
            .all(|t| t.join_timeout(2 * GIVE_UP_MS));
        c.check(joined, format_args!("{what}: every waiter exited"));
        let results = RESULTS.each_ref().map(|r| r.load(Ordering::Acquire));
        let results = &results[..self.n];
        let woken = results.iter().filter(|&&r| r == 0).count();
        c.check(
            woken == self.n,
            format_args!(
                "{what}: {woken} of {} waits returned 0 (woken); results {results:?}",
                self.n
            ),
        );
    }
}

/// Repeats `wake` every 10 ms (for at most `GIVE_UP_MS`) while it wakes nobody and the
/// waiter is still waiting: one counted in may still be on its way into the kernel. The
/// last result.
fn wake_sleeper(wake: impl Fn() -> isize) -> isize {
    let deadline = sys::monotonic_ns() + u64::from(GIVE_UP_MS) * 1_000_000;
    loop {
        let ret = wake();
        if ret != 0 || LEFT.load(Ordering::Acquire) != 0 || sys::monotonic_ns() >= deadline {
            return ret;
        }
        sys::sleep_ms(10);
    }
}

/// `FUTEX_WAKE_BITSET` wakes only the waiters whose bitset it shares a bit with.
fn bitsets(c: &mut Checks) {
    let Some(batch) = Batch::start(c, 1, 0b0101, FUTEX_PRIVATE_FLAG) else {
        return;
    };
    c.eq(
        "FUTEX_WAKE_BITSET 0b1010 of a waiter with bitset 0b0101",
        sys::futex_wake_bitset(&A, FUTEX_WAKE_ALL, 0b1010, FUTEX_PRIVATE_FLAG),
        0,
    );
    sys::sleep_ms(TIMEOUT_MS);
    c.eq(
        "waiters that returned after the disjoint wake",
        LEFT.load(Ordering::Acquire),
        0,
    );
    c.eq(
        "FUTEX_WAKE_BITSET 0b0100 of a waiter with bitset 0b0101",
        wake_sleeper(|| sys::futex_wake_bitset(&A, FUTEX_WAKE_ALL, 0b0100, FUTEX_PRIVATE_FLAG)),
        1,
    );
    batch.finish(c, "bitset");
}

/// Four waiters on `A`; the requeue wakes some and moves some to `B`; plain wakes then
/// find the rest where they must be.
fn requeue(c: &mut Checks, cmp: bool, flags: u32) {
    let name = match (cmp, flags) {
        (false, 0) => "FUTEX_REQUEUE",
        (false, _) => "FUTEX_REQUEUE|PRIVATE",
        (true, 0) => "FUTEX_CMP_REQUEUE",
        (true, _) => "FUTEX_CMP_REQUEUE|PRIVATE",
    };
    let Some(batch) = Batch::start(c, MAX_WAITERS, 0, flags) else {
        return;
    };
    // FUTEX_REQUEUE: wake 1, move every other one. FUTEX_CMP_REQUEUE: wake none, move 2,
    // leave 1 on A (after a refused attempt with the wrong val3).
    let (woken, moved) = if cmp { (0, 2) } else { (1, FUTEX_WAKE_ALL) };
    let ret = if cmp {
        c.eq_fmt(
            format_args!("{name} with val3 other than the word"),
            sys::futex_cmp_requeue(&A, 0, 2, &B, 1, flags),
            neg(EAGAIN),
        );
        sys::futex_cmp_requeue(&A, 0, 2, &B, 0, flags)
    } else {
        sys::futex_requeue(&A, 1, FUTEX_WAKE_ALL, &B, flags)
    };
    let moved_n = moved.min(MAX_WAITERS as u32 - woken);
    let left_on_a = MAX_WAITERS as u32 - woken - moved_n;
    c.eq_fmt(
        format_args!("{name} of 4 waiters (woken + moved)"),
        ret,
        (woken + moved_n) as isize,
    );
    c.check(
        wait_for_count(&LEFT, woken, GIVE_UP_MS),
        format_args!("{name}: the {woken} woken waiter(s) returned"),
    );
    c.eq_fmt(
        format_args!("{name} then FUTEX_WAKE(all) on the first word"),
        sys::futex_wake(&A, FUTEX_WAKE_ALL, flags),
        left_on_a as isize,
    );
    c.eq_fmt(
        format_args!("{name} then FUTEX_WAKE(all) on the second word"),
        sys::futex_wake(&B, FUTEX_WAKE_ALL, flags),
        moved_n as isize,
    );
    batch.finish(c, name);
}

/// A private waiter is woken by a private wake.
fn private_wait_and_wake(c: &mut Checks) {
    let Some(batch) = Batch::start(c, 1, 0, FUTEX_PRIVATE_FLAG) else {
        return;
    };
    c.eq(
        "FUTEX_WAKE|PRIVATE of one private waiter",
        wake_sleeper(|| sys::futex_wake(&A, 1, FUTEX_PRIVATE_FLAG)),
        1,
    );
    batch.finish(c, "private wait and wake");
}

/// The child's view of its tid word and its own tid, and the result it leaves.
static CHILD_SAW: AtomicU32 = AtomicU32::new(0);
static CHILD_TID: AtomicU32 = AtomicU32::new(0);
static CHILD_RESULT: AtomicU32 = AtomicU32::new(0);
/// Set by the parent once it has looked at the tid word.
static GO: AtomicU32 = AtomicU32::new(0);
/// Where the child finds its tid word.
static CHILD_WORD: AtomicU32 = AtomicU32::new(0);

extern "C" fn child(_: usize) -> ! {
    CHILD_TID.store(sys::gettid() as u32, Ordering::Release);
    while GO.load(Ordering::Acquire) == 0 {
        sys::futex_wait(&GO, 0, None, FUTEX_PRIVATE_FLAG);
    }
    let word = CHILD_WORD.load(Ordering::Acquire) as *const AtomicU32;
    // SAFETY: the parent stored the address of this thread's tid word (a 'static atomic)
    // before setting GO.
    CHILD_SAW.store(unsafe { &*word }.load(Ordering::Acquire), Ordering::Release);
    CHILD_RESULT.store(42, Ordering::Release);
    sys::exit(0)
}

/// pthread_join as glibc does it: wait on the tid word until the kernel clears it.
fn join_through_cleartid(c: &mut Checks) {
    let t = match Thread::spawn(child, 0) {
        Ok(t) => t,
        Err(e) => {
            c.check(false, format_args!("clone with CLONE_CHILD_CLEARTID = {e}"));
            return;
        }
    };
    c.eq(
        "tid word after clone (CLONE_PARENT_SETTID)",
        t.tid_word().load(Ordering::Acquire),
        t.tid(),
    );
    CHILD_WORD.store(t.tid_word().as_ptr() as u32, Ordering::Release);
    GO.store(1, Ordering::Release);
    sys::futex_wake(&GO, 1, FUTEX_PRIVATE_FLAG);
    let joined = t.join_timeout(GIVE_UP_MS);
    c.check(
        joined,
        format_args!("join through CLONE_CHILD_CLEARTID returned"),
    );
    if !joined {
        return;
    }
    c.eq(
        "tid word after the join",
        t.tid_word().load(Ordering::Acquire),
        0,
    );
    c.eq(
        "the child's gettid()",
        CHILD_TID.load(Ordering::Acquire),
        t.tid(),
    );
    c.eq(
        "tid word seen by the child (CLONE_CHILD_SETTID)",
        CHILD_SAW.load(Ordering::Acquire),
        t.tid(),
    );
    c.eq(
        "the child's result after the join",
        CHILD_RESULT.load(Ordering::Acquire),
        42,
    );
    println!(
        "futex_cases: joined thread {} through CLONE_CHILD_CLEARTID",
        t.tid()
    );
}
