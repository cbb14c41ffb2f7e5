//! `tempest_user`: the runtime of Tempest's user programs (entry, syscalls, printing, checks).
//!
//! A program is a `#![no_std] #![no_main]` binary in `src/bin/` that defines
//! `fn main(args: &Args) -> i32` and names it with [`entry!`]; its return value is its
//! exit status. Programs talk to the kernel through the Linux i386 syscall ABI ([`sys`]).
#![no_std]

// The C memory routines and unwinding stubs every user program needs (see the crate).
extern crate cmem;

pub mod check;
pub mod io;
pub mod rt;
pub mod sys;
pub mod thread;

pub use check::Checks;
pub use rt::{AT_PAGESZ, Args};
pub use thread::Thread;

/// Reads the time-stamp counter. User mode may: Tempest leaves CR4.TSD clear.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: RDTSC only reads the time-stamp counter into edx:eax.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Prints the line a program prints right before the instruction the kernel must kill it
/// for: `NAME: about to fault: WHAT: the kernel must kill this process (SIGNAL)`.
///
/// The QEMU tests look for `NAME: about to fault: ` before the kernel's kill line, so that a
/// program killed for anything else (a crash at start-up, say) does not pass.
pub fn about_to_fault(name: &str, what: core::fmt::Arguments, signal: &str) {
    crate::println!("{name}: about to fault: {what}: the kernel must kill this process ({signal})");
}

/// [`about_to_fault`] for a memory access that must end in SIGSEGV: WHAT is
/// `touching ADDR (ACCESS)`, the address the kernel's kill line must name.
pub fn about_to_touch(name: &str, access: &str, addr: usize) {
    about_to_fault(
        name,
        format_args!("touching {addr:#010x} ({access})"),
        "SIGSEGV",
    );
}

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

/// Maps one fresh read-write anonymous page, writes 0x5a to its first byte and checks it
/// reads back: the set-up of the programs that then take the page away and touch it.
/// `None` (with the failure recorded in `c`) when any step fails.
pub fn map_scratch_page(c: &mut Checks) -> Option<usize> {
    use sys::PAGE_SIZE;
    let ret = sys::map_anonymous(PAGE_SIZE);
    if !c.check(
        !sys::is_error(ret),
        format_args!("mmap2 of one page = {ret:#x}"),
    ) {
        return None;
    }
    let addr = ret as usize;
    // SAFETY: the page was just mapped read-write for this process alone.
    let byte = unsafe {
        poke(addr, 0x5a);
        peek(addr)
    };
    c.eq("the page reads back", byte, 0x5a).then_some(addr)
}

/// An address that was mapped a moment ago and no longer is (a page mapped, then
/// unmapped), for the calls that must answer `-EFAULT`; `None` (a failed check) if either
/// step failed.
pub fn unmapped_page(c: &mut Checks) -> Option<usize> {
    let page = map_scratch_page(c)?;
    // SAFETY: nothing refers to the scratch page; its address only goes to the kernel.
    let ret = unsafe { sys::munmap(page, sys::PAGE_SIZE) };
    c.eq("munmap of the scratch page", ret, 0).then_some(page)
}
