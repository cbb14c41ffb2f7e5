//! `temp_preempt [THREADS] [ROUNDS]`: temp mappings survive preemption and migration
//! requests. THREADS threads (default 8, at most 16) each fill a 4-page buffer of their
//! own with a pattern unique to the thread, then call Tempest's `temp_hold(buf, 4 pages,
//! ROUNDS)` (default 100 rounds) four times: the kernel maps the four pages through temp
//! mappings at once and, every round, gives the CPU to another task and asks to be moved
//! to another CPU while holding them, then checks every byte through its mappings. Each
//! call must return 0 mismatched bytes, and the buffer must be unchanged afterwards.
//!
//! A kernel that let a holder migrate (`temp-no-pin`) reads, on the new CPU, whatever that
//! CPU's slots map: the calls return mismatches, which the program reports with their
//! count (exit 1), unless the kernel itself stops first. The main thread also checks the
//! call's refusals: a length of 0 or beyond 16 pages, 0 or more than 10000 rounds
//! (`-EINVAL`), an unmapped buffer (`-EFAULT`).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, EFAULT, EINVAL, PAGE_SIZE, TEMP_HOLD_MAX_PAGES};
use tempest_user::{Args, Checks, Thread, println};

tempest_user::entry!(main);

const DEFAULT_THREADS: usize = 8;
const MAX_THREADS: usize = 16;
const DEFAULT_ROUNDS: u32 = 100;
const PAGES: usize = 4;
const CALLS: u32 = 4;

static ROUNDS: AtomicU32 = AtomicU32::new(DEFAULT_ROUNDS);
/// Per thread: mismatched bytes the calls reported, calls that failed, bytes changed in
/// the buffer afterwards.
static MISMATCHED: [AtomicU32; MAX_THREADS] = [const { AtomicU32::new(0) }; MAX_THREADS];
static FAILED_CALLS: [AtomicU32; MAX_THREADS] = [const { AtomicU32::new(0) }; MAX_THREADS];
static CHANGED: [AtomicU32; MAX_THREADS] = [const { AtomicU32::new(0) }; MAX_THREADS];

/// Byte `i` of thread `t`'s buffer: different from every other thread's at every `i`
/// (`t * 0x35` is distinct for each `t < 256`, 0x35 being odd).
fn pattern(t: usize, i: usize) -> u8 {
    (i as u8).wrapping_mul(7) ^ ((i >> 8) as u8).wrapping_mul(13) ^ (t as u8).wrapping_mul(0x35)
}

/// A fresh buffer of `pages` pages, or the failure recorded in `c`.
fn buffer(c: &mut Checks, pages: usize) -> Option<&'static mut [u8]> {
    let ret = sys::map_anonymous(pages * PAGE_SIZE);
    if !c.check(!sys::is_error(ret), format_args!("mmap2 of {pages} pages")) {
        return None;
    }
    // SAFETY: a fresh read-write mapping of this process, never unmapped, used only
    // through this one slice.
    Some(unsafe { core::slice::from_raw_parts_mut(ret as *mut u8, pages * PAGE_SIZE) })
}

extern "C" fn holder(t: usize) -> ! {
    let ret = sys::map_anonymous(PAGES * PAGE_SIZE);
    if sys::is_error(ret) {
        FAILED_CALLS[t].fetch_add(1, Ordering::AcqRel);
        sys::exit(0);
    }
    // SAFETY: as in `buffer`: this thread's own fresh mapping.
    let buf = unsafe { core::slice::from_raw_parts_mut(ret as *mut u8, PAGES * PAGE_SIZE) };
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(t, i);
    }
    let rounds = ROUNDS.load(Ordering::Acquire);
    for _ in 0..CALLS {
        let ret = sys::temp_hold(buf, rounds);
        if ret > 0 {
            MISMATCHED[t].fetch_add(ret as u32, Ordering::AcqRel);
        } else if ret < 0 && FAILED_CALLS[t].fetch_add(1, Ordering::AcqRel) == 0 {
            println!("temp_preempt: thread {t}: temp_hold = {ret}");
        }
    }
    let changed = buf
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b != pattern(t, i))
        .count();
    CHANGED[t].store(changed as u32, Ordering::Release);
    sys::exit(0)
}

/// The call's refusals, checked from the main thread.
fn refusals(c: &mut Checks) {
    let Some(big) = buffer(c, TEMP_HOLD_MAX_PAGES + 1) else {
        return;
    };
    let max = TEMP_HOLD_MAX_PAGES * PAGE_SIZE;
    c.eq(
        "temp_hold(len 0)",
        sys::temp_hold(&big[..0], 1),
        -(EINVAL as isize),
    );
    c.eq(
        "temp_hold(len 16 pages + 1)",
        sys::temp_hold(&big[..max + 1], 1),
        -(EINVAL as isize),
    );
    c.eq(
        "temp_hold(rounds 0)",
        sys::temp_hold(&big[..PAGE_SIZE], 0),
        -(EINVAL as isize),
    );
    c.eq(
        "temp_hold(rounds 10001)",
        sys::temp_hold(&big[..PAGE_SIZE], sys::TEMP_HOLD_MAX_ROUNDS + 1),
        -(EINVAL as isize),
    );
    c.eq(
        "temp_hold(16 pages, 1 round)",
        sys::temp_hold(&big[..max], 1),
        0,
    );
    c.eq(
        "temp_hold(3 pages from an unaligned start, 2 rounds)",
        sys::temp_hold(&big[100..100 + 3 * PAGE_SIZE], 2),
        0,
    );
    let Some(page) = tempest_user::unmapped_page(c) else {
        return;
    };
    c.eq(
        "temp_hold(an unmapped page)",
        sys::temp_hold_raw(page as *const u8, PAGE_SIZE, 1),
        -(EFAULT as isize),
    );
}

fn arg(args: &Args, i: usize, default: u32, max: u32) -> Option<u32> {
    match args.str(i) {
        None => Some(default),
        Some(s) => s.parse::<u32>().ok().filter(|&n| (1..=max).contains(&n)),
    }
}

fn main(args: &Args) -> i32 {
    let (Some(threads), Some(rounds)) = (
        arg(args, 1, DEFAULT_THREADS as u32, MAX_THREADS as u32),
        arg(args, 2, DEFAULT_ROUNDS, sys::TEMP_HOLD_MAX_ROUNDS),
    ) else {
        println!("FAIL: usage: temp_preempt [THREADS 1..=16] [ROUNDS 1..=10000]");
        return 1;
    };
    let threads = threads as usize;
    ROUNDS.store(rounds, Ordering::Release);
    let mut c = Checks::new("temp_preempt");
    refusals(&mut c);
    let mut started = [None; MAX_THREADS];
    for (t, slot) in started.iter_mut().enumerate().take(threads) {
        match Thread::spawn(holder, t) {
            Ok(thread) => *slot = Some(thread),
            Err(e) => {
                c.check(false, format_args!("clone of holder {t} = {e}"));
            }
        }
    }
    started.iter().flatten().for_each(Thread::join);
    let sum = |counters: &[AtomicU32]| -> u32 {
        counters[..threads]
            .iter()
            .map(|n| n.load(Ordering::Acquire))
            .sum()
    };
    let (mismatched, failed, changed) = (sum(&MISMATCHED), sum(&FAILED_CALLS), sum(&CHANGED));
    c.eq("temp_hold calls that failed", failed, 0);
    c.eq("buffer bytes changed by the calls", changed, 0);
    if mismatched == 0 {
        println!(
            "temp_preempt: {threads} threads x {CALLS} calls x {rounds} rounds of {PAGES} pages held: 0 mismatched bytes"
        );
    } else {
        println!(
            "temp_preempt: MISMATCH: {mismatched} bytes read through temp mappings differed ({threads} threads x {CALLS} calls x {rounds} rounds)"
        );
    }
    c.eq("mismatched bytes reported by temp_hold", mismatched, 0);
    c.finish()
}
