//! `futex_pingpong [N]`: two threads pinned to different CPUs (the first and the last this
//! process may use; both on the same one when there is one) hand a token back and forth N
//! times (default 10000) through two futex words, with `FUTEX_WAIT`/`FUTEX_WAKE` (private):
//! each stores the next round number into the other's word and wakes it, then sleeps on
//! its own word until the answer arrives.
//!
//! A lost wake-up would leave a thread asleep with its word already changed. Each wait
//! therefore gives up after 5 s: a wait that times out on a word that no longer holds the
//! value it slept on is a lost (or 5 s late) wake-up, counted and reported (exit 1), so the
//! program ends instead of hanging. Any other error of the calls, a thread found off its
//! CPU, or no wait that ever slept and was woken (the calls did not block) also fails. It
//! prints the hand-offs and the cycles per round trip (rdtsc).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, EAGAIN, ETIMEDOUT, FUTEX_PRIVATE_FLAG, Timespec};
use tempest_user::thread::{first_and_last, usable_cpus};
use tempest_user::{Args, Thread, println, rdtsc};

tempest_user::entry!(main);

const DEFAULT_ROUNDS: u32 = 10_000;
/// A wait longer than this is a lost wake-up if the word changed meanwhile.
const LOST_AFTER_MS: u32 = 5_000;

/// The main thread's word (the partner writes the round it answers) and the partner's.
static TO_MAIN: AtomicU32 = AtomicU32::new(0);
static TO_PARTNER: AtomicU32 = AtomicU32::new(0);
/// The partner's CPU, and whether it found itself there (1) or not (2).
static PARTNER_CPU: AtomicU32 = AtomicU32::new(0);
static PARTNER_READY: AtomicU32 = AtomicU32::new(0);
/// Waits that slept and were woken (returned 0), lost wake-ups, unexpected errors, and
/// times a thread was found off its CPU, over both threads.
static WOKEN: AtomicU32 = AtomicU32::new(0);
static LOST: AtomicU32 = AtomicU32::new(0);
static ERRORS: AtomicU32 = AtomicU32::new(0);
static OFF_CPU: AtomicU32 = AtomicU32::new(0);

/// Sleeps on `word` until it holds `target`, counting what the waits returned.
fn wait_for(word: &AtomicU32, target: u32) {
    let timeout = Timespec::from_millis(LOST_AFTER_MS);
    loop {
        let seen = word.load(Ordering::Acquire);
        if seen == target {
            return;
        }
        let ret = sys::futex_wait(word, seen, Some(&timeout), FUTEX_PRIVATE_FLAG);
        match ret {
            0 => {
                WOKEN.fetch_add(1, Ordering::Relaxed);
            }
            r if r == -(EAGAIN as isize) => {}
            r if r == -(ETIMEDOUT as isize) => {
                if word.load(Ordering::Acquire) != seen {
                    LOST.fetch_add(1, Ordering::Relaxed);
                    println!("futex_pingpong: LOST wake-up: slept 5 s on a word that had changed");
                }
            }
            r => {
                if ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
                    println!("FAIL: FUTEX_WAIT returned {r}");
                }
                // Without a working wait, go on by polling so the program still ends.
                sys::sched_yield();
            }
        }
    }
}

/// Hands `round` to the thread sleeping on `word`.
fn hand_over(word: &AtomicU32, round: u32) {
    word.store(round, Ordering::Release);
    let ret = sys::futex_wake(word, 1, FUTEX_PRIVATE_FLAG);
    if ret < 0 && ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
        println!("FAIL: FUTEX_WAKE returned {ret}");
    }
}

/// Whether the caller is on `cpu` (counted in OFF_CPU when not).
fn on_cpu(cpu: u32) -> bool {
    let ok = sys::current_cpu() == cpu as isize;
    if !ok {
        OFF_CPU.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

extern "C" fn partner(rounds: usize) -> ! {
    let cpu = PARTNER_CPU.load(Ordering::Acquire);
    let pinned = sys::pin_to_cpu(cpu) == 0 && on_cpu(cpu);
    PARTNER_READY.store(if pinned { 1 } else { 2 }, Ordering::Release);
    sys::futex_wake(&PARTNER_READY, 1, FUTEX_PRIVATE_FLAG);
    for round in 1..=rounds as u32 {
        wait_for(&TO_PARTNER, round);
        hand_over(&TO_MAIN, round);
    }
    on_cpu(cpu);
    sys::exit(0)
}

fn main(args: &Args) -> i32 {
    let rounds = match args.str(1) {
        None => DEFAULT_ROUNDS,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                println!("FAIL: usage: futex_pingpong [ROUNDS > 0]");
                return 1;
            }
        },
    };
    let (my_cpu, partner_cpu) = first_and_last(usable_cpus());
    if sys::pin_to_cpu(my_cpu) != 0 || !on_cpu(my_cpu) {
        println!("FAIL: could not pin the main thread to cpu {my_cpu}");
        return 1;
    }
    PARTNER_CPU.store(partner_cpu, Ordering::Release);
    let partner = match Thread::spawn(partner, rounds as usize) {
        Ok(t) => t,
        Err(e) => {
            println!("FAIL: clone = {e}");
            return 1;
        }
    };
    while PARTNER_READY.load(Ordering::Acquire) == 0 {
        sys::futex_wait(&PARTNER_READY, 0, None, FUTEX_PRIVATE_FLAG);
    }
    if PARTNER_READY.load(Ordering::Acquire) != 1 {
        println!("FAIL: could not pin the partner thread to cpu {partner_cpu}");
        return 1;
    }
    // The partner's mask, read by its tid (a thread of the caller's process).
    let partner_mask = sys::affinity(partner.tid() as i32);
    if partner_mask != Ok(1 << partner_cpu) {
        println!(
            "FAIL: sched_getaffinity(partner tid {}) = {partner_mask:?}, expected Ok({:#x})",
            partner.tid(),
            1u32 << partner_cpu
        );
        return 1;
    }

    let start = rdtsc();
    for round in 1..=rounds {
        hand_over(&TO_PARTNER, round);
        wait_for(&TO_MAIN, round);
    }
    let cycles = rdtsc().wrapping_sub(start);
    on_cpu(my_cpu);
    partner.join();

    let (woken, lost) = (WOKEN.load(Ordering::Acquire), LOST.load(Ordering::Acquire));
    let (errors, off) = (
        ERRORS.load(Ordering::Acquire),
        OFF_CPU.load(Ordering::Acquire),
    );
    println!(
        "futex_pingpong: {rounds} round trips ({} hand-offs) between cpu {my_cpu} and cpu {partner_cpu}, {} cycles per round trip",
        2 * rounds,
        cycles / u64::from(rounds)
    );
    println!(
        "futex_pingpong: {woken} waits slept and were woken, {lost} lost wake-ups, {errors} errors, {off} times off cpu"
    );
    if lost == 0 && errors == 0 && off == 0 && woken > 0 {
        println!("futex_pingpong: ok: every hand-off arrived");
        0
    } else {
        println!("futex_pingpong: FAILED");
        1
    }
}
