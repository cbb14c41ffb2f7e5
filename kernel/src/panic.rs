//! The panic handler: one report in the format the runner parses (message, location,
//! backtrace), then the run ends with the crash verdict.

use crate::kprintln;
use arch::qemu_exit::{Verdict, exit};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The CPU reporting a panic or exception (`usize::MAX`: none).
static REPORTING_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Whether some CPU is panicking (the others halt when its NMI reaches them).
pub fn panicking() -> bool {
    REPORTING_CPU.load(Ordering::SeqCst) != usize::MAX
}

/// Makes this CPU the one that reports a crash: stops every other CPU (an NMI, which also
/// reaches CPUs running with interrupts off) and takes over the console. A second CPU that
/// crashes meanwhile halts silently; a crash inside the report ends the run at once.
pub fn stop_everyone_else() {
    arch::cpu::disable_interrupts();
    let me = crate::cpu::percpu::cpu_id();
    match REPORTING_CPU.compare_exchange(usize::MAX, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {}
        Err(cpu) if cpu == me => exit(Verdict::Crash),
        Err(_) => arch::cpu::halt_forever(),
    }
    crate::cpu::ipi::stop_others();
    // Give the other CPUs a moment to take the NMI and halt, so their output cannot mix
    // with the report (delay_us needs a calibrated TSC: before that only one CPU runs).
    crate::time::delay_us(10_000);
    // SAFETY: every other CPU has been stopped (or never started), so whoever held the
    // console lock will never use it again.
    unsafe { arch::serial::force_unlock() };
    arch::serial::fresh_line();
}

/// Prints the `!!! backtrace:` block for the frame chain at `ebp`, led by `first` (the
/// faulting instruction of an exception) when given.
pub fn print_backtrace(first: Option<usize>, ebp: usize) {
    kprintln!("!!! backtrace:");
    let mut n = 0;
    let mut line = |addr: usize| {
        kprintln!("!!!   #{n} {addr:#010x}");
        n += 1;
    };
    if let Some(eip) = first {
        line(eip);
    }
    arch::backtrace::walk(ebp, line);
    kprintln!("!!! end");
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    stop_everyone_else();
    kprintln!(
        "!!! KERNEL PANIC on cpu {}: {}",
        crate::cpu::percpu::cpu_id(),
        info.message()
    );
    if let Some(loc) = info.location() {
        kprintln!("!!!   at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    print_backtrace(None, arch::cpu::frame_pointer());
    exit(Verdict::Crash)
}
