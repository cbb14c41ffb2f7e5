//! `illegal_instruction`: `ud2` in user mode must kill the process with SIGILL (exit
//! status 132).
#![no_std]
#![no_main]

use tempest_user::{Args, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    println!("executing ud2: the kernel must kill this process (SIGILL)");
    // SAFETY: ud2 raises #UD, which is expected to end the process.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    println!("FAIL: survived ud2");
    1
}
