//! Deliberate failures (`crash=...` on the command line) that the runner's tests use to
//! prove each kind of ending is reported as what it is.

use crate::cmdline::Crash;

/// Fails the way `kind` asks. Never returns.
pub fn trigger(kind: Crash) -> ! {
    log::warn!("crash={kind:?} requested on the command line");
    match kind {
        Crash::Panic => deliberate_panic(),
        Crash::PageFault => deliberate_page_fault(),
        Crash::TripleFault => deliberate_triple_fault(),
        Crash::Hang => deliberate_hang(),
        Crash::FailingTest => crate::ktest::run_failing_selfcheck(),
    }
}

#[inline(never)]
fn deliberate_panic() -> ! {
    panic!("deliberate panic (crash=panic)");
}

#[inline(never)]
fn deliberate_page_fault() -> ! {
    // Nothing is mapped in the user half of the kernel's own directory.
    let p = 0x10 as *const u32;
    // SAFETY: not safe at all: this read faults on purpose, and the exception handler
    // ends the run before it could return.
    let v = unsafe { p.read_volatile() };
    panic!("read of an unmapped address returned {v:#x}");
}

#[inline(never)]
fn deliberate_triple_fault() -> ! {
    // SAFETY: meant to reset the machine: with an empty IDT the breakpoint raises #GP,
    // which cannot be delivered either, so the CPU shuts down.
    unsafe {
        arch::idt::load_empty();
        core::arch::asm!("int3");
    }
    panic!("the CPU survived an exception with no IDT");
}

#[inline(never)]
fn deliberate_hang() -> ! {
    arch::cpu::disable_interrupts();
    loop {
        core::hint::spin_loop();
    }
}
