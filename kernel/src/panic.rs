//! The panic handler: one report in the format the runner parses (message, location,
//! backtrace), then the run ends with the crash verdict.

use crate::kprintln;
use arch::qemu_exit::{Verdict, exit};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

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
    arch::cpu::disable_interrupts();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic: the first report is all we can give.
        exit(Verdict::Crash);
    }
    // SAFETY: this CPU stops below and no other CPU runs kernel code yet, so whoever held
    // the console lock will never use it again.
    unsafe { arch::serial::force_unlock() };
    kprintln!(
        "!!! KERNEL PANIC on cpu {}: {}",
        crate::percpu::cpu_id(),
        info.message()
    );
    if let Some(loc) = info.location() {
        kprintln!("!!!   at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    print_backtrace(None, arch::cpu::frame_pointer());
    exit(Verdict::Crash)
}
