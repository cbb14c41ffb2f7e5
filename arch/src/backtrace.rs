//! Frame-pointer backtraces (every Tempest crate is built with frame pointers).

/// Lowest address a kernel frame can live at.
const KERNEL_BASE: usize = 0xC000_0000;
/// End of the mapped direct map: kernel stacks live below it (set at boot; until then the
/// boot mapping's 16 MiB).
static STACK_LIMIT: AtomicUsize = AtomicUsize::new(0xC100_0000);

/// Sets the end of the memory a frame pointer may point into (the direct map's end).
pub fn set_stack_limit(end: usize) {
    STACK_LIMIT.store(end, Ordering::Relaxed);
}
use core::sync::atomic::{AtomicUsize, Ordering};

/// Frames printed at most.
pub const MAX_FRAMES: usize = 32;

/// Walks the frame chain starting at frame pointer `ebp`, calling `f` with each return
/// address. Stops at a null, misaligned or non-kernel frame pointer, or one that does not
/// move up the stack, so a corrupt chain ends the walk instead of faulting.
pub fn walk(mut ebp: usize, mut f: impl FnMut(usize)) {
    for _ in 0..MAX_FRAMES {
        let limit = STACK_LIMIT.load(Ordering::Relaxed);
        if !(KERNEL_BASE..limit - 8).contains(&ebp) || !ebp.is_multiple_of(4) {
            return;
        }
        // SAFETY: `ebp` lies in the direct map (checked above), where every kernel stack
        // lives; a frame is [saved ebp, return address].
        let (next, ret) = unsafe {
            let p = ebp as *const usize;
            (p.read_volatile(), p.add(1).read_volatile())
        };
        if ret == 0 {
            return;
        }
        f(ret);
        if next <= ebp {
            return;
        }
        ebp = next;
    }
}
