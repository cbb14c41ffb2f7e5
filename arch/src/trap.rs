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
//! On entry `ds`/`es` get the kernel data segment and `gs` the per-CPU segment
//! (`gdt::PERCPU_SEL`); the interrupted values come back from the frame on return.
//!
//! `trap_return` (the tail of `trap_common`) restores a frame and `iret`s; a new task's
//! first switch lands there (see `context`).

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
    movw ${percpu}, %ax
    movw %ax, %gs
    cld
    testl $3, 60(%esp)           /* cs: from user mode? */
    jz 1f
    xorl %ebp, %ebp              /* then backtraces end here, not in user memory */
1:
    pushl %esp
    call arch_trap_dispatch
    addl $4, %esp
    .global trap_return
trap_return:
    popal
    popl %gs
    popl %fs
    popl %es
    popl %ds
    addl $8, %esp
    iretl
    "#,
    kernel_ds = const crate::gdt::KERNEL_DS,
    percpu = const crate::gdt::PERCPU_SEL,
    options(att_syntax)
);
