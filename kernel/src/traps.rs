//! What the kernel does with each trap: breakpoints are counted and resumed, any other
//! exception is reported (registers, CR2, backtrace) and ends the run.

use crate::kprintln;
use arch::qemu_exit::{Verdict, exit};
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicU32, Ordering};

static BREAKPOINTS: AtomicU32 = AtomicU32::new(0);
static UNEXPECTED: AtomicU32 = AtomicU32::new(0);

/// Breakpoints (`int3`) taken so far.
pub fn breakpoints() -> u32 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// Interrupts that arrived on a vector nobody handles.
pub fn unexpected_interrupts() -> u32 {
    UNEXPECTED.load(Ordering::Relaxed)
}

/// The handler registered with `arch::trap`.
pub fn handle(frame: &mut TrapFrame) {
    match frame.vector {
        3 => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
        }
        0..=31 => report_and_stop(frame),
        v => {
            UNEXPECTED.fetch_add(1, Ordering::Relaxed);
            log::warn!("unexpected interrupt on vector {v:#x}, ignored");
        }
    }
}

fn report_and_stop(f: &TrapFrame) -> ! {
    // SAFETY: this CPU stops below and it is the only CPU running kernel code.
    unsafe { arch::serial::force_unlock() };
    let (mnemonic, name) = arch::exception::name(f.vector).unwrap_or(("?", "?"));
    kprintln!(
        "!!! EXCEPTION on cpu {}: {name} ({mnemonic}, vector {}), error code {:#010x}",
        crate::console::cpu_id(),
        f.vector,
        f.error_code
    );
    kprintln!(
        "!!!   eip={:#010x} cs={:#06x} eflags={:#010x}",
        f.eip,
        f.cs,
        f.eflags
    );
    kprintln!(
        "!!!   eax={:#010x} ebx={:#010x} ecx={:#010x} edx={:#010x}",
        f.eax,
        f.ebx,
        f.ecx,
        f.edx
    );
    kprintln!(
        "!!!   esi={:#010x} edi={:#010x} ebp={:#010x} esp={:#010x}",
        f.esi,
        f.edi,
        f.ebp,
        f.interrupted_esp()
    );
    kprintln!(
        "!!!   ds={:#06x} es={:#06x} fs={:#06x} gs={:#06x}",
        f.ds,
        f.es,
        f.fs,
        f.gs
    );
    kprintln!(
        "!!!   cr0={:#010x} cr2={:#010x} cr3={:#010x} cr4={:#010x}",
        arch::cpu::cr0().bits(),
        arch::cpu::cr2(),
        arch::cpu::cr3(),
        arch::cpu::cr4().bits()
    );
    if f.vector == 14 {
        let e = f.error_code;
        kprintln!(
            "!!!   page fault: {} {:#010x} ({}, {} mode)",
            if e & 2 != 0 {
                "write to"
            } else if e & 16 != 0 {
                "fetch from"
            } else {
                "read of"
            },
            arch::cpu::cr2(),
            if e & 1 != 0 {
                "protection violation"
            } else {
                "page not present"
            },
            if e & 4 != 0 { "user" } else { "kernel" }
        );
    }
    crate::panic::print_backtrace(Some(f.eip as usize), f.ebp as usize);
    exit(Verdict::Crash)
}

mod tests {
    use super::*;
    use crate::{check_eq, kernel_test};

    kernel_test! {
        fn breakpoint_is_caught_and_resumed() {
            let before = breakpoints();
            // SAFETY: int3 enters the breakpoint handler, which counts it and returns.
            unsafe { core::arch::asm!("int3") };
            check_eq!(breakpoints(), before + 1);
        }
    }
}
