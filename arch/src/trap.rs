//! Trap entry: 256 equal-size stubs, one common entry, and the frame they build.
//!
//! Each stub pushes a dummy error code (unless the CPU pushed one) and its vector, then
//! jumps to `trap_common`, which saves the segment and general registers and calls the
//! handler registered with [`set_handler`]. Stack at the call, growing down:
//!
//! ```text
//!   user_ss, user_esp     pushed by the CPU on a ring-3 -> ring-0 transition only
//!   eflags, cs, eip       pushed by the CPU
//!   error_code            pushed by the CPU, or 0 by the stub
//!   vector                pushed by the stub
//!   ds, es, fs, gs        pushed by trap_common
//!   eax ecx edx ebx esp ebp esi edi   pushad
//!   &frame                argument to the dispatcher      <- esp
//! ```
//!
//! On entry `ds`/`es`/`fs` get the kernel data segment and `gs` the per-CPU segment
//! (`gdt::PERCPU_SEL`); the interrupted values come back from the frame on return.
//!
//! `trap_return` (the tail of `trap_common`) restores a frame and `iret`s; a new task's
//! first switch lands there (see `context`).
//!
//! Two things make the way back to user mode harder than it looks, as Linux's i386 entry
//! code knows:
//! - **It may fault.** A data segment selector (popped in ring 0) or the `iret`'s code or
//!   stack segment may name a descriptor that is gone or wrong: another thread cleared its
//!   LDT entry, or `sigreturn` restored what a program wrote. The fault arrives in ring 0 at
//!   one of the `trap_return` instructions; [`fix_return_fault`] recognises it: a data
//!   segment is replaced by the null selector and popped again; a faulting `iret` resumes at
//!   `trap_iret_fault`, which rebuilds, in place, the user frame the `iret` was returning
//!   and enters the kernel with it as [`IRET_FAULT`], a trap from user mode.
//! - **espfix.** `iret` to a 16-bit stack segment (one from the LDT) loads only the low half
//!   of ESP and keeps the high half it had: the kernel stack's, which the program would see
//!   (and its own high half would be lost). So before returning to an LDT stack segment the
//!   return path moves to the `ESPFIX_SS` segment: the same kernel stack, through a segment
//!   whose base makes ESP's high half the user's. A fault or NMI taken there comes back to
//!   the flat stack first thing in `trap_common`.

use core::arch::global_asm;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Distance between two entry stubs.
pub const STUB_SIZE: usize = 16;

/// The registers saved on trap entry, in exactly the order the entry code pushes them
/// (lowest address first).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    pub edi: u32,
    pub esi: u32,
    pub ebp: u32,
    /// The `esp` value pushad saw (not restored by popad).
    pub esp_pushad: u32,
    pub ebx: u32,
    pub edx: u32,
    pub ecx: u32,
    pub eax: u32,
    pub gs: u32,
    pub fs: u32,
    pub es: u32,
    pub ds: u32,
    pub vector: u32,
    pub error_code: u32,
    pub eip: u32,
    pub cs: u32,
    pub eflags: u32,
    /// Valid only when the trap came from ring 3 (`cs & 3 == 3`).
    pub user_esp: u32,
    /// Valid only when the trap came from ring 3.
    pub user_ss: u32,
}

const _: () = assert!(core::mem::offset_of!(TrapFrame, vector) == 48);
const _: () = assert!(core::mem::offset_of!(TrapFrame, eip) == 56);
const _: () = assert!(core::mem::offset_of!(TrapFrame, cs) == 60);
const _: () = assert!(core::mem::offset_of!(TrapFrame, user_esp) == 68);
const _: () = assert!(core::mem::offset_of!(TrapFrame, user_ss) == 72);

/// The vector of a frame `trap_iret_fault` rebuilt: the `iret` back to user mode faulted
/// (past the IDT's vectors, so no interrupt shares it). Linux i386 calls it `X86_TRAP_IRET`
/// and raises SIGILL for it.
pub const IRET_FAULT: u32 = 0x100;

/// The vector of a frame the `sysenter` stub built: a system call by SYSENTER, whose
/// caller's stack pointer is in EBP (the vDSO's convention) and whose sixth argument is at
/// that address; the kernel returns it to the vDSO's landing pad. Past the IDT's vectors.
pub const SYSENTER: u32 = 0x101;

/// Whether `eip` is in the `sysenter` stub: a single-step trap there (the caller had TF
/// set, which SYSENTER keeps) is the kernel's to absorb.
pub fn in_sysenter_stub(eip: u32) -> bool {
    unsafe extern "C" {
        static sysenter_entry: u8;
        static sysenter_entry_end: u8;
    }
    let (start, end) = (
        (&raw const sysenter_entry) as u32,
        (&raw const sysenter_entry_end) as u32,
    );
    (start..end).contains(&eip)
}

/// The `sysenter` stub's address, for `CpuTables::enable_sysenter`.
pub fn sysenter_entry_address() -> u32 {
    unsafe extern "C" {
        static sysenter_entry: u8;
    }
    (&raw const sysenter_entry) as u32
}

/// Negative control (`no-espfix`): the return path does not move to the espfix segment, so
/// a program on a 16-bit stack segment gets the kernel stack pointer's high half back.
static ESPFIX_OFF: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Turns espfix off (negative control).
pub fn disable_espfix() {
    ESPFIX_OFF.store(true, Ordering::Relaxed);
}

/// What [`fix_return_fault`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnFault {
    /// Popping a data segment register faulted: its saved selector is now null, and the
    /// pop runs again.
    DataSegment,
    /// The `iret` faulted on the user frame it was returning: the code resumes at
    /// `trap_iret_fault`, which re-enters the kernel with that frame as [`IRET_FAULT`].
    Iret {
        eip: u32,
        cs: u32,
        esp: u32,
        ss: u32,
    },
}

/// If `frame` is a fault (`#NP`, `#SS`, `#GP`) of `trap_return` itself, applies Linux's
/// fix-up and says which; `None` for any other trap. The caller returns from `frame` as
/// usual afterwards.
pub fn fix_return_fault(frame: &mut TrapFrame) -> Option<ReturnFault> {
    unsafe extern "C" {
        static trap_pop_gs: u8;
        static trap_pop_fs: u8;
        static trap_pop_es: u8;
        static trap_pop_ds: u8;
        static trap_iret: u8;
        static trap_iret_fault: u8;
    }
    if frame.from_user() || !(11..=13).contains(&frame.vector) {
        return None;
    }
    let eip = frame.eip;
    // The interrupted stack: the slot being popped, or the `iret` frame.
    let stack = frame.interrupted_esp() as *mut u32;
    let pops = [
        (&raw const trap_pop_gs) as u32,
        (&raw const trap_pop_fs) as u32,
        (&raw const trap_pop_es) as u32,
        (&raw const trap_pop_ds) as u32,
    ];
    if pops.contains(&eip) {
        // SAFETY: the fault was the pop of the word at the interrupted stack pointer, a slot
        // of the frame `trap_return` is restoring, on this CPU's kernel stack.
        unsafe { stack.write(0) };
        return Some(ReturnFault::DataSegment);
    }
    if eip == (&raw const trap_iret) as u32 {
        // SAFETY: the faulting `iret` to ring 3 was reading eip, cs, eflags, esp, ss there.
        let read = |i: usize| unsafe { stack.add(i).read() };
        let fault = ReturnFault::Iret {
            eip: read(0),
            cs: read(1),
            esp: read(3),
            ss: read(4),
        };
        frame.eip = (&raw const trap_iret_fault) as u32;
        return Some(fault);
    }
    None
}

impl TrapFrame {
    /// Whether the trap interrupted user mode.
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// The stack pointer of the interrupted code.
    pub fn interrupted_esp(&self) -> u32 {
        if self.from_user() {
            self.user_esp
        } else {
            // Ring 0 to ring 0: the CPU pushed only eip, cs, eflags, so the interrupted
            // stack continues right after them.
            core::ptr::addr_of!(self.user_esp) as u32
        }
    }
}

/// The kernel's trap handler: called for every vector with interrupts disabled.
pub type Handler = fn(&mut TrapFrame);

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Registers the function every trap is dispatched to (the kernel does this at boot).
pub fn set_handler(handler: Handler) {
    HANDLER.store(handler as usize, Ordering::Release);
}

/// Address of the entry stub of `vector`.
pub fn stub_address(vector: usize) -> usize {
    unsafe extern "C" {
        static trap_stubs: u8;
    }
    assert!(vector < 256);
    let base = core::ptr::addr_of!(trap_stubs) as usize;
    base + vector * STUB_SIZE
}

#[unsafe(no_mangle)]
extern "C" fn arch_trap_dispatch(frame: &mut TrapFrame) {
    let handler = HANDLER.load(Ordering::Acquire);
    if handler == 0 {
        // No kernel handler yet: nothing sensible to do but stop with a failure.
        crate::qemu_exit::exit(crate::qemu_exit::Verdict::Crash);
    }
    // SAFETY: HANDLER only ever holds a `Handler` stored by `set_handler`.
    let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(handler) };
    handler(frame);
}

global_asm!(
    r#"
    .section .text.trap_entry, "ax"
    .global trap_stubs
    .p2align 4
trap_stubs:
    .set trap_vector, 0
    .rept 256
        .p2align 4
        .if (trap_vector == 8) || ((trap_vector >= 10) && (trap_vector <= 14)) || (trap_vector == 17) || (trap_vector == 21) || (trap_vector == 29) || (trap_vector == 30)
        .else
        pushl $0
        .endif
        pushl $trap_vector
        jmp trap_common
        .set trap_vector, trap_vector + 1
    .endr

trap_common:
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    pushal
    movw ${kernel_ds}, %ax
    movw %ax, %ds
    movw %ax, %es
    /* FS too: left holding a user selector, a trap taken in the kernel would save it, and
       its return pop it again, maybe after the descriptor went (an LDT entry cleared, the
       LDT unloaded): a fault the fix-up could only repeat. */
    movw %ax, %fs
    movw ${percpu}, %ax
    movw %ax, %gs
    cld
    testl $3, 60(%esp)           /* cs: from user mode? (SS-relative: right on espfix too) */
    jz 4f
    xorl %ebp, %ebp              /* then backtraces end here, not in user memory */
1:
    pushl %esp
    call arch_trap_dispatch
    addl $4, %esp
    .global trap_return
trap_return:
    /* User ss in the LDT: through espfix. (For a return to the kernel the word is not the
       frame's, but whatever its bit, 6: looks at cs first.) */
    testl $4, 72(%esp)
    jnz 6f
3:
    popal
    .global trap_pop_gs, trap_pop_fs, trap_pop_es, trap_pop_ds, trap_iret
trap_pop_gs:
    popl %gs
trap_pop_fs:
    popl %fs
trap_pop_es:
    popl %es
trap_pop_ds:
    popl %ds
    addl $8, %esp
trap_iret:
    iretl

    /* A trap from the kernel may have come on the espfix stack (a fault of the iret there,
       or an NMI): back to the flat kernel stack at the same linear address, whose base is
       in this CPU's espfix descriptor. eax, ecx, edx are saved already. */
4:
    movw %ss, %ax
    cmpw ${espfix_ss}, %ax
    jne 1b
    subl $8, %esp
    sgdt (%esp)
    movl 2(%esp), %ecx           /* the GDT */
    addl $8, %esp
    movl {espfix_desc}+4(%ecx), %eax
    movl %eax, %edx
    andl $0xff000000, %edx       /* base bits 24..31 (descriptor byte 7) */
    andl $0xff, %eax
    shll $16, %eax               /* base bits 16..23 (byte 4); bits 0..15 are zero */
    orl %edx, %eax
    addl %esp, %eax              /* the linear stack pointer */
    pushl ${kernel_ds}
    pushl %eax
    lss (%esp), %esp
    jmp 1b

    /* To user mode with a stack segment from the LDT (maybe 16-bit): move to the espfix
       segment, whose base shows this kernel stack at an ESP with the user's high half. */
6:
    testl $3, 60(%esp)           /* to the kernel after all */
    jz 3b
    cmpb $0, {espfix_off}        /* the negative control */
    jne 3b
    movl %esp, %edx              /* the kernel stack pointer (linear) */
    movl 68(%esp), %eax          /* the user's */
    movw %dx, %ax                /* the user's high half, the kernel's low half */
    subl %eax, %edx              /* the base that maps it back (its low half is zero) */
    subl $8, %esp
    sgdt (%esp)
    movl 2(%esp), %ecx
    addl $8, %esp
    shrl $16, %edx
    movb %dl, {espfix_desc}+4(%ecx)
    movb %dh, {espfix_desc}+7(%ecx)
    pushl ${espfix_ss}
    pushl %eax
    lss (%esp), %esp
    jmp 3b

    /* SYSENTER: the CPU left the stack pointer at the top of this CPU's entry stack, just
       below its TSS, and saved nothing; interrupts are off. Load the task's kernel stack
       (the TSS's esp0; a single-step trap or an NMI before that runs on the entry stack),
       then build the frame an int $0x80 from the vDSO would have: user ss, the caller's
       stack pointer (EBP, as __kernel_vsyscall leaves it), its flags with IF (sysenter
       cleared it), user cs, and an eip the kernel sets. The flags are cleared before the kernel runs on: SYSENTER
       keeps NT, AC and TF (a TF trap after the first instruction is absorbed by the
       kernel, fix_return_fault's neighbour in traps.rs). */
    .global sysenter_entry, sysenter_entry_end
sysenter_entry:
    movl 4(%esp), %esp
    pushl ${user_ds}
    pushl %ebp
    pushfl
    orl $0x200, (%esp)
    pushl ${user_cs}
    pushl $0
    pushl $0
    pushl ${sysenter}
    pushl $2
    popfl
sysenter_entry_end:
    jmp trap_common

    /* The iret above faulted (fix_return_fault sent the fault's return here): the stack
       pointer is back at the user frame the iret was reading, and the user's registers
       are loaded. Enter the kernel again as a trap from user mode, with that frame. */
    .global trap_iret_fault
trap_iret_fault:
    pushl $0
    pushl ${iret_fault}
    jmp trap_common
    "#,
    kernel_ds = const crate::gdt::KERNEL_DS,
    percpu = const crate::gdt::PERCPU_SEL,
    espfix_ss = const crate::gdt::ESPFIX_SS,
    espfix_desc = const crate::gdt::ESPFIX_INDEX * 8,
    iret_fault = const IRET_FAULT,
    espfix_off = sym ESPFIX_OFF,
    sysenter = const SYSENTER,
    user_ds = const crate::gdt::USER_DS,
    user_cs = const crate::gdt::USER_CS,
    options(att_syntax)
);
