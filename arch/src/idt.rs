//! The IDT: 256 interrupt gates, each pointing at its entry stub in `trap`.

use crate::descriptor::interrupt_gate;
use crate::gdt::KERNEL_CS;
use core::arch::asm;
use core::cell::UnsafeCell;

/// Vector of the Linux-ABI system call gate.
pub const SYSCALL_VECTOR: u8 = 0x80;
/// `int3` and `into`: like the system call, gates user mode may invoke (Linux's "system
/// gates"), so that a program's breakpoint is a SIGTRAP and not a #GP (SIGSEGV).
const USER_GATES: [u8; 3] = [3, 4, SYSCALL_VECTOR];

#[repr(C, align(8))]
struct Idt(UnsafeCell<[u64; 256]>);

// SAFETY: the table is written only by `init`, once, on the boot CPU before any other CPU
// runs or any interrupt is enabled; afterwards it is only read (by the CPU itself).
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([0; 256]));

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u32,
}

/// Fills every gate with its stub and loads the IDT on this CPU.
///
/// # Safety
/// Call once on the boot CPU, before interrupts are enabled and before other CPUs run.
pub unsafe fn init() {
    // SAFETY: per the contract nobody else reads or writes the table yet.
    let table = unsafe { &mut *IDT.0.get() };
    for (vector, gate) in table.iter_mut().enumerate() {
        let dpl = if USER_GATES.iter().any(|&v| usize::from(v) == vector) {
            3
        } else {
            0
        };
        *gate = interrupt_gate(crate::trap::stub_address(vector) as u32, KERNEL_CS, dpl);
    }
    // SAFETY: the table is complete.
    unsafe { load() }
}

/// Loads the (already filled) IDT on this CPU.
///
/// # Safety
/// `init` must have run.
pub unsafe fn load() {
    let ptr = Pointer {
        limit: (256 * 8 - 1) as u16,
        base: IDT.0.get() as u32,
    };
    // SAFETY: the pointer describes a complete, static table.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags)) };
}

/// Loads an empty IDT, so the next exception escalates to a triple fault. Used only by
/// the runner's reset test.
///
/// # Safety
/// The next interrupt or exception resets the machine.
pub unsafe fn load_empty() {
    let ptr = Pointer { limit: 0, base: 0 };
    // SAFETY: see the function's contract: this is meant to break the machine.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags)) };
}
