//! The kernel heap behind `#[global_allocator]`: a linked-list allocator over a block of
//! lowmem carved at boot, its lock taken with interrupts off (the timer's wake-ups may
//! allocate while the code they interrupted is inside the allocator).

use core::alloc::{GlobalAlloc, Layout};
use linked_list_allocator::LockedHeap;

/// `LockedHeap` with interrupts off around each call.
struct IrqSafeHeap(LockedHeap);

// SAFETY: every call is forwarded to `LockedHeap`'s own `GlobalAlloc`, unchanged; the guard
// only masks interrupts meanwhile.
unsafe impl GlobalAlloc for IrqSafeHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _irq = arch::cpu::IrqGuard::new();
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _irq = arch::cpu::IrqGuard::new();
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: IrqSafeHeap = IrqSafeHeap(LockedHeap::empty());

/// Hands `[start, start + size)` (virtual, direct-mapped) to the allocator.
///
/// # Safety
/// Once, at boot; the range must be unused, writable memory that stays reserved forever.
pub unsafe fn init(start: usize, size: usize) {
    // SAFETY: per the contract.
    unsafe { HEAP.0.lock().init(start as *mut u8, size) };
}

/// Bytes in use and the heap's size.
pub fn usage() -> (usize, usize) {
    let _irq = arch::cpu::IrqGuard::new();
    let heap = HEAP.0.lock();
    (heap.used(), heap.size())
}

mod tests {
    use super::*;
    use crate::{check, check_eq, kernel_test};
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    kernel_test! {
        fn vec_box_and_map() {
            let (used_before, _) = usage();
            {
                let v: Vec<u32> = (0..10_000).collect();
                check_eq!(v.iter().map(|&x| u64::from(x)).sum::<u64>(), 49_995_000);
                let b = Box::new([7u8; 5000]);
                check!(b.iter().all(|&x| x == 7));
                let m: BTreeMap<u32, u32> = (0..500).map(|i| (i, i * i)).collect();
                check_eq!(m[&20], 400);
            }
            check_eq!(usage().0, used_before);
        }
    }
}
