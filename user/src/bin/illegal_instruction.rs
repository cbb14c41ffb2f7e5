//! `illegal_instruction`: `ud2` in user mode must kill the process with SIGILL (exit
//! status 132).
#![no_std]
#![no_main]

use tempest_user::{Args, about_to_fault, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    about_to_fault(
        "illegal_instruction",
        format_args!("executing ud2"),
        "SIGILL",
    );
    // SAFETY: ud2 raises #UD, which is expected to end the process.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    println!("FAIL: survived ud2");
    1
}
