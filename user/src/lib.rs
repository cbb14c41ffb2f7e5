//! `tempest_user`: the runtime of Tempest's user programs (entry, syscalls, printing, checks).
//!
//! A program is a `#![no_std] #![no_main]` binary in `src/bin/` that defines
//! `fn main(args: &Args) -> i32` and names it with [`entry!`]; its return value is its
//! exit status. Programs talk to the kernel through the Linux i386 syscall ABI ([`sys`]).
#![no_std]

pub mod check;
pub mod io;
pub mod mem;
pub mod rt;
pub mod sys;

pub use check::Checks;
pub use rt::{AT_PAGESZ, Args};

/// Reads one byte at `addr` (volatile: the access always happens).
///
/// # Safety
/// The byte is readable, or the caller expects the kernel to end the process.
pub unsafe fn peek(addr: usize) -> u8 {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

/// Writes one byte at `addr` (volatile: the access always happens).
///
/// # Safety
/// The byte is writable and unused, or the caller expects the kernel to end the process.
pub unsafe fn poke(addr: usize, value: u8) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
}
