//! `futex_herd`: 16 threads sleep on one futex word; once all are asleep, one
//! `FUTEX_WAKE(INT_MAX)` must return 16, and all 16 must leave (each wait returns 0, each
//! thread is joined through `CLONE_CHILD_CLEARTID`).
//!
//! "Asleep" is known the portable way: each waiter counts itself in just before its
//! `FUTEX_WAIT`, and the main thread waits for all 16 and 200 ms more. The main thread
//! changes the word before the wake, so a waiter that was still on its way in returns
//! `-EAGAIN` instead of sleeping: such a round (the wake's count matches the waits that
//! returned 0, the rest are `-EAGAIN`) says nothing about the kernel and is run again, up to
//! three rounds. A wake that reports waiters it did not wake, a waiter left asleep (its
//! 10 s timeout expires) or a thread that never exits fails (exit 1).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use tempest_user::sys::{self, EAGAIN, FUTEX_WAKE_ALL, Timespec};
use tempest_user::thread::wait_for_count;
use tempest_user::{Args, Thread, println};

tempest_user::entry!(main);

const WAITERS: usize = 16;
const ROUNDS: u32 = 3;
const SETTLE_MS: u32 = 200;
const GIVE_UP_MS: u32 = 10_000;

static WORD: AtomicU32 = AtomicU32::new(0);
static ARRIVED: AtomicU32 = AtomicU32::new(0);
static RESULTS: [AtomicI32; WAITERS] = [const { AtomicI32::new(i32::MIN) }; WAITERS];

extern "C" fn waiter(i: usize) -> ! {
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    let ret = sys::futex_wait(&WORD, 0, Some(&Timespec::from_millis(GIVE_UP_MS)), 0);
    RESULTS[i].store(ret as i32, Ordering::Release);
    sys::exit(0)
}

/// How a round ended.
enum Round {
    /// All 16 woken by the one wake.
    Clean,
    /// Some waiters had not fallen asleep yet; the kernel did nothing wrong.
    Early,
    /// The kernel got something wrong (already printed).
    Failed,
}

fn round(r: u32) -> Round {
    WORD.store(0, Ordering::Release);
    ARRIVED.store(0, Ordering::Release);
    let mut threads = [None; WAITERS];
    for (i, slot) in threads.iter_mut().enumerate() {
        RESULTS[i].store(i32::MIN, Ordering::Release);
        match Thread::spawn(waiter, i) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                println!("FAIL: clone of waiter {i} = {e}");
                return Round::Failed;
            }
        }
    }
    if !wait_for_count(&ARRIVED, WAITERS as u32, GIVE_UP_MS) {
        println!(
            "FAIL: only {} waiters started",
            ARRIVED.load(Ordering::Acquire)
        );
        return Round::Failed;
    }
    sys::sleep_ms(SETTLE_MS);
    WORD.store(1, Ordering::Release);
    let woken = sys::futex_wake(&WORD, FUTEX_WAKE_ALL, 0);
    let joined = threads
        .iter()
        .flatten()
        .filter(|t| t.join_timeout(2 * GIVE_UP_MS))
        .count();
    let results = RESULTS.each_ref().map(|r| r.load(Ordering::Acquire));
    let slept = results.iter().filter(|&&r| r == 0).count();
    let late = results.iter().filter(|&&r| r == -EAGAIN).count();
    println!(
        "futex_herd: round {r}: FUTEX_WAKE(INT_MAX) = {woken}; {slept} waits returned 0, {late} -EAGAIN; {joined} of {WAITERS} threads joined"
    );
    if joined != WAITERS {
        println!("FAIL: {} threads never exited", WAITERS - joined);
        return Round::Failed;
    }
    if woken == WAITERS as isize && slept == WAITERS {
        return Round::Clean;
    }
    if woken == slept as isize && slept + late == WAITERS {
        println!("futex_herd: round {r}: {late} waiters were not asleep yet; again");
        return Round::Early;
    }
    println!("FAIL: the wake and the waits disagree; results {results:?}");
    Round::Failed
}

fn main(_: &Args) -> i32 {
    for r in 1..=ROUNDS {
        match round(r) {
            Round::Clean => {
                println!(
                    "futex_herd: ok: one FUTEX_WAKE(INT_MAX) woke all {WAITERS} waiters, and all left"
                );
                return 0;
            }
            Round::Early => {}
            Round::Failed => return 1,
        }
    }
    println!("FAIL: in {ROUNDS} rounds the {WAITERS} waiters were never all asleep at once");
    1
}
