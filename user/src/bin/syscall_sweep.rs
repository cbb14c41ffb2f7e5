//! `syscall_sweep`: every Linux i386 system call number, 0 to 450, with bad pointers and
//! odd values in every argument. Each call must come back with a result (an error, most
//! of the time) and the process must live on: no kernel crash, no kill. The QEMU test
//! then checks the kernel's summary (no frame or temp slot leaked) and compares the numbers
//! that answered `-ENOSYS` to every argument set with the kernel's table
//! (docs/syscalls.md): exactly the calls Tempest lacks.
//!
//! Left out, because their job is to end or redirect the caller or to signal others:
//! `exit` (1), `kill` (37), `sigreturn` (119), `rt_sigreturn` (173), `tkill` (238),
//! `exit_group` (252), `tgkill` (270).
#![no_std]
#![no_main]

use tempest_user::sys::{self, ENOSYS};
use tempest_user::{Args, println};

tempest_user::entry!(main);

const LAST: u32 = 450;
const SKIPPED: [u32; 7] = [1, 37, 119, 173, 238, 252, 270];

/// A kernel address, the null page, the top page.
const KERNEL: usize = 0xC000_0000;
const NULL_PAGE: usize = 0x10;
const TOP: usize = 0xFFFF_F000;
/// A descriptor on `/dev/null` (restored before each call, from `SPARE`).
const FD: usize = 3;
const SPARE: i32 = 9;

/// The argument sets: each call is made once with each.
const SETS: [[usize; 6]; 6] = [
    [KERNEL; 6],
    [NULL_PAGE; 6],
    [TOP; 6],
    [FD, KERNEL, 16, KERNEL, KERNEL, KERNEL],
    [KERNEL, 16, 0, 0, 0, 0],
    [12, KERNEL, KERNEL, 8, 0, 0],
];

fn main(_: &Args) -> i32 {
    let null = sys::open(b"/dev/null\0", 2);
    if null != FD as isize || sys::syscall2(63, FD, SPARE as usize) != SPARE as isize {
        println!("FAIL: cannot set up /dev/null on fds 3 and 9 ({null})");
        return 1;
    }
    let mut calls = 0;
    let mut missing = [0u32; LAST as usize + 1];
    let mut count = 0;
    for nr in 0..=LAST {
        if SKIPPED.contains(&nr) {
            continue;
        }
        let mut all_enosys = true;
        for set in SETS {
            // dup2(SPARE, FD): the set's descriptor is /dev/null again.
            sys::syscall2(63, SPARE as usize, FD);
            let [a, b, c, d, e, f] = set;
            let r = sys::syscall6(nr, a, b, c, d, e, f);
            calls += 1;
            all_enosys &= r == -(ENOSYS as isize);
        }
        if all_enosys {
            missing[count] = nr;
            count += 1;
        }
    }
    for line in missing[..count].chunks(20) {
        print_numbers(line);
    }
    println!("sweep: done: {calls} calls, {count} numbers answered ENOSYS to every set");
    0
}

fn print_numbers(numbers: &[u32]) {
    tempest_user::print!("sweep: enosys");
    for n in numbers {
        tempest_user::print!(" {n}");
    }
    println!();
}
