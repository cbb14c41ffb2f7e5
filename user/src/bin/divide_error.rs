//! `divide_error`: an integer division by zero (`div` with a zero divisor, in inline
//! assembly: Rust's own division would panic first) must kill the process with SIGFPE
//! (exit status 136).
#![no_std]
#![no_main]

use core::hint::black_box;

use tempest_user::{Args, about_to_fault, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    about_to_fault("divide_error", format_args!("dividing 1 by 0"), "SIGFPE");
    let divisor: u32 = black_box(0);
    let quotient: u32;
    // SAFETY: div only touches eax, edx; with a zero divisor it raises #DE, which is
    // expected to end the process.
    unsafe {
        core::arch::asm!("div ecx", inout("eax") 1u32 => quotient, inout("edx") 0u32 => _,
                         in("ecx") divisor, options(nomem, nostack));
    }
    println!("FAIL: 1 / 0 returned {quotient}");
    1
}
