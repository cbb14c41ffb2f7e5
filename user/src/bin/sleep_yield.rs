//! `sleep_yield`: nanosleep(20 ms) returns 0 after at least 2 million TSC cycles (any TSC
//! of 100 MHz or more ticks that often in 20 ms), nanosleep rejects `tv_nsec` of one second
//! with EINVAL, and sched_yield returns 0.
#![no_std]
#![no_main]

use tempest_user::sys::{self, EINVAL, Timespec};
use tempest_user::{Args, Checks, rdtsc};

tempest_user::entry!(main);

/// Fewest TSC cycles a 20 ms sleep may take: 20 ms of a 100 MHz TSC.
const MIN_CYCLES: u64 = 2_000_000;

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("sleep_yield");
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    let mut rem = Timespec::default();
    let before = rdtsc();
    let ret = sys::nanosleep(&req, Some(&mut rem));
    let cycles = rdtsc().wrapping_sub(before);
    c.eq("nanosleep(20 ms)", ret, 0);
    c.check(
        cycles > MIN_CYCLES,
        format_args!("nanosleep(20 ms) took {cycles} TSC cycles, more than {MIN_CYCLES}"),
    );

    let bad = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    c.eq(
        "nanosleep(tv_nsec = 1000000000)",
        sys::nanosleep(&bad, None),
        -EINVAL as isize,
    );

    for i in 1..=5 {
        let ret = sys::sched_yield();
        c.check(ret == 0, format_args!("sched_yield #{i} = {ret}"));
    }
    c.finish()
}
