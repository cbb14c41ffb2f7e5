//! Deliberate failures (`crash=...` on the command line) that the runner's tests use to
//! prove each kind of ending is reported as what it is.

use crate::cmdline::Crash;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by the CPU that `crash=silent-cpu` made deaf, once it no longer answers anything.
static DEAF: AtomicBool = AtomicBool::new(false);

/// Fails the way `kind` asks. Never returns.
pub fn trigger(kind: Crash) -> ! {
    log::warn!("crash={kind:?} requested on the command line");
    match kind {
        Crash::Panic => deliberate_panic(),
        Crash::PageFault => deliberate_page_fault(),
        Crash::TripleFault => deliberate_triple_fault(),
        Crash::Hang => deliberate_hang(),
        Crash::FailingTest => crate::ktest::run_failing_selfcheck(),
        Crash::PanicOnAp => panic_on_application_processor(),
        Crash::SilentCpu => shoot_down_at_a_silent_cpu(),
        Crash::HangAp => hang_an_application_processor(),
    }
}

/// The highest-numbered online CPU other than the boot CPU, which the crash `kind` needs.
fn last_application_processor(kind: &str) -> usize {
    crate::cpu::percpu::online()
        .map(|c| c.id())
        .filter(|&c| c != 0)
        .last()
        .unwrap_or_else(|| {
            panic!("crash={kind} needs an application processor (boot with --smp 2 or more)")
        })
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

/// Makes the last CPU panic: its report must name it, and every other CPU must stop.
fn panic_on_application_processor() -> ! {
    let last = last_application_processor("panic-on-ap");
    match crate::cpu::ipi::call_on(last, ap_panics, 0) {
        Ok(()) => panic!("cpu {last} returned from a deliberate panic"),
        Err(e) => panic!("{e}"),
    }
}

#[inline(never)]
fn ap_panics(_: usize) {
    panic!("deliberate panic on an application processor (crash=panic-on-ap)");
}

/// Makes the last CPU deaf, then starts a kernel shootdown: the initiator's bounded wait
/// must end in a panic that names the silent CPU.
fn shoot_down_at_a_silent_cpu() -> ! {
    let last = last_application_processor("silent-cpu");
    let _call = crate::cpu::ipi::call_async(last, go_deaf, 0).expect("the CPU answers the call");
    // The shootdown must not start before the target is deaf: its vector outranks the
    // call's, so had both IPIs been pending together the target would answer the round
    // first and only then go deaf (seen in CI).
    let deadline = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * 5_000;
    while !DEAF.load(Ordering::Acquire) {
        assert!(
            arch::cpu::rdtsc() < deadline,
            "cpu {last} never started the call that makes it deaf"
        );
        core::hint::spin_loop();
    }
    let page = crate::mm::kva::map(0, 4096, crate::mm::kva::Caching::WriteBack);
    crate::cpu::shootdown::shootdown(
        smp::shootdown::Space::Kernel,
        0,
        smp::shootdown::Flush::Range {
            start: page as u32,
            pages: 1,
        },
    );
    panic!("the shootdown completed although cpu {last} never answered");
}

/// Makes the last CPU deaf and waits with interrupts on: the watchdog on the other CPUs
/// must name it; the runner's timeout ends the run.
fn hang_an_application_processor() -> ! {
    let last = last_application_processor("hang-ap");
    let _call = crate::cpu::ipi::call_async(last, go_deaf, 0).expect("the CPU answers the call");
    log::warn!("crash=hang-ap: cpu {last} now spins with interrupts off");
    // Idle as an application processor does: the timer ticks, and the watchdog looks.
    crate::sched::run_application_cpu()
}

/// Spins forever with interrupts off (in the call-function handler): the CPU answers
/// nothing any more.
fn go_deaf(_: usize) {
    DEAF.store(true, Ordering::Release);
    loop {
        core::hint::spin_loop();
    }
}
