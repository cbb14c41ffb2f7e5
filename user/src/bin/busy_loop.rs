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
    while rdtsc() - start < mcycles * 1_000_000 {
        // Work the optimizer cannot drop: a xorshift step, read back through black_box.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x = core::hint::black_box(x);
        rounds += 1;
    }
    println!("busy_loop: spun {mcycles} Mcycles, {rounds} rounds, x={x:#x}");
    c.check(rounds > 0, format_args!("made progress ({rounds} rounds)"));
    c.finish()
}
