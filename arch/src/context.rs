//! Kernel context switch: save the callee-saved registers on the old stack, switch stacks,
//! restore them from the new one. A new task's stack is prepared so that the first switch to
//! it "returns" into a kernel function and from there into `trap_return` with a user-mode
//! trap frame.

use crate::trap::TrapFrame;
use core::arch::global_asm;

unsafe extern "C" {
    /// Saves `ebp ebx esi edi` on the current stack, stores `esp` in `*old`, loads `new`
    /// and pops the same registers from it.
    fn context_switch(old: *mut usize, new: usize);
    /// The tail of `trap_common` (arch::trap): restores a trap frame and `iret`s.
    fn trap_return();
}

global_asm!(
    r#"
    .section .text.context, "ax"
    .global context_switch
context_switch:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, (%eax)
    movl %edx, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    "#,
    options(att_syntax)
);

/// Switches from the running context to the one saved at `new`, storing the running one's
/// stack pointer in `*old`. Returns when something switches back to `*old`.
///
/// # Safety
/// Interrupts off; `new` must be a stack pointer saved by `switch` or built by
/// `prepare_first_run`, on a stack that stays alive; `old` must stay valid until the
/// context saved there is resumed.
pub unsafe fn switch(old: *mut usize, new: usize) {
    // SAFETY: per the contract.
    unsafe { context_switch(old, new) }
}

/// Lays out a never-run task's kernel stack (ending at `stack_top`) so that switching to
/// the returned stack pointer calls `first` and then enters user mode with `frame`:
///
/// ```text
///   frame (TrapFrame)        <- where trap_return expects esp
///   trap_return              `first`'s return address
///   first                    context_switch's return address
///   ebp ebx esi edi = 0      popped by context_switch      <- returned stack pointer
/// ```
///
/// # Safety
/// `stack_top` must be the 16-byte aligned top of a writable kernel stack with room for a
/// trap frame and six words.
pub unsafe fn prepare_first_run(
    stack_top: usize,
    frame: &TrapFrame,
    first: extern "C" fn(),
) -> usize {
    let frame_at = stack_top - core::mem::size_of::<TrapFrame>();
    // SAFETY: the stack is writable and large enough (the caller's contract).
    unsafe {
        (frame_at as *mut TrapFrame).write(*frame);
        let words = (frame_at as *mut usize).sub(6);
        words.write(0);
        words.add(1).write(0);
        words.add(2).write(0);
        words.add(3).write(0);
        words.add(4).write(first as usize);
        words
            .add(5)
            .write(trap_return as unsafe extern "C" fn() as usize);
        words as usize
    }
}
