//! Frame-pointer backtraces (every Tempest crate is built with frame pointers).

/// Lowest address a kernel frame can live at.
const KERNEL_BASE: usize = 0xC000_0000;
/// Kernel stacks live in the direct map, below the temp-mapping region.
const STACK_LIMIT: usize = 0xE000_0000;
/// Frames printed at most.
pub const MAX_FRAMES: usize = 32;

/// Walks the frame chain starting at frame pointer `ebp`, calling `f` with each return
/// address. Stops at a null, misaligned or non-kernel frame pointer, or one that does not
/// move up the stack, so a corrupt chain ends the walk instead of faulting.
pub fn walk(mut ebp: usize, mut f: impl FnMut(usize)) {
    for _ in 0..MAX_FRAMES {
        if !(KERNEL_BASE..STACK_LIMIT - 8).contains(&ebp) || !ebp.is_multiple_of(4) {
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
