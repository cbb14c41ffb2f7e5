//! `sleep_yield`: nanosleep(20 ms) returns 0, and sched_yield returns 0.
#![no_std]
#![no_main]

use tempest_user::sys::{self, Timespec};
use tempest_user::{Args, Checks};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("sleep_yield");
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    let mut rem = Timespec::default();
    c.eq("nanosleep(20 ms)", sys::nanosleep(&req, Some(&mut rem)), 0);
    for i in 1..=5 {
        let ret = sys::sched_yield();
        c.check(ret == 0, format_args!("sched_yield #{i} = {ret}"));
    }
    c.finish()
}
