//! `migrate_spin [MS]`: busy-loops MS milliseconds of `CLOCK_MONOTONIC` (default 2000),
//! asking `getcpu` on every iteration which CPU it runs on, and prints every CPU it saw as
//! a bitmask: `migrate_spin: cpus seen 0x...`. It never yields or sleeps, so it moves only
//! when the scheduler moves it: several of these started on one CPU show, by the union of
//! their masks, whether the load balancer spreads busy processes over every CPU. Exits 1
//! only if `getcpu` or the clock fails.
#![no_std]
#![no_main]

use tempest_user::sys::{self, CLOCK_MONOTONIC, Timespec64};
use tempest_user::{Args, println};

tempest_user::entry!(main);

const DEFAULT_MS: u64 = 2000;

fn main(args: &Args) -> i32 {
    let Some(ms) = args.str(1).map_or(Some(DEFAULT_MS), |s| s.parse().ok()) else {
        println!("FAIL: usage: migrate_spin [MS]");
        return 1;
    };
    let now = || {
        let mut ts = Timespec64::default();
        (sys::clock_gettime64(CLOCK_MONOTONIC, &mut ts) == 0).then(|| ts.as_nanos() as u64)
    };
    let Some(start) = now() else {
        println!("FAIL: clock_gettime64(CLOCK_MONOTONIC) failed");
        return 1;
    };
    let end = start + ms * 1_000_000;
    let (mut seen, mut moves, mut samples, mut last) = (0u32, 0u32, 0u64, None);
    loop {
        let cpu = sys::current_cpu();
        if cpu < 0 {
            println!("FAIL: getcpu = {cpu}");
            return 1;
        }
        seen |= 1 << (cpu % 32);
        if last.is_some_and(|l| l != cpu) {
            moves += 1;
        }
        last = Some(cpu);
        samples += 1;
        match now() {
            Some(t) if t >= end => break,
            Some(_) => {}
            None => {
                println!("FAIL: clock_gettime64(CLOCK_MONOTONIC) failed");
                return 1;
            }
        }
    }
    println!("migrate_spin: cpus seen {seen:#x}");
    println!(
        "migrate_spin: pid {}: {samples} samples over {ms} ms, {moves} cpu changes, ended on cpu {}",
        sys::getpid(),
        last.unwrap_or(-1)
    );
    0
}
