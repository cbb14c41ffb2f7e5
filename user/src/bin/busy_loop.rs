//! `busy_loop`: computes without a single system call for a stretch of TSC time (argv[1]
//! million cycles, default 200), so only the timer can take the CPU from it: running two
//! of them makes the scheduler preempt (the boot summary counts it).
#![no_std]
#![no_main]

use tempest_user::{Args, Checks, println, rdtsc};

tempest_user::entry!(main);

fn main(args: &Args) -> i32 {
    let mut c = Checks::new("busy_loop");
    let mcycles: u64 = args.str(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let start = rdtsc();
    let mut x: u32 = 1;
    let mut rounds: u64 = 0;
    // At least one round: the timer may take the CPU for the whole stretch before the
    // first look at the clock (many vCPUs on few host cores).
    loop {
        x = step(core::hint::black_box(x));
        rounds += 1;
        if rdtsc() - start >= mcycles * 1_000_000 {
            break;
        }
    }
    println!("busy_loop: spun {mcycles} Mcycles, {rounds} rounds, x={x:#x}");
    // The same steps again, after the preemptions: the registers the timer saved and
    // restored in between must have given the same value.
    let mut again: u32 = 1;
    for _ in 0..rounds {
        again = step(core::hint::black_box(again));
    }
    c.check(
        again == x,
        format_args!("{rounds} rounds computed across preemptions give {again:#x} again"),
    );
    c.finish()
}

/// One xorshift step (work the optimizer cannot drop: the caller passes it through
/// `black_box`).
fn step(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}
