//! The global frame allocator: both zones behind one lock (per-CPU frame caches can come
//! when profiles show contention).

use super::bootinfo::FreeRam;
use super::layout::{DIRECT_MAP_MAX, phys_to_virt};
use super::temp::{TempMap, Writable};
use super::zones::{Frame, PhysFrames, Zone, ZoneKind};
use crate::cpu::sync::PreemptSpinLock;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, Ordering};

static FRAMES: PreemptSpinLock<Option<PhysFrames>> = PreemptSpinLock::new(None);

/// The byte `poison-freed` fills freed frames with (Linux's `PAGE_POISON`).
pub const POISON: u8 = 0xAA;

/// `poison-freed` on the command line: every frame is filled with [`POISON`] as it is
/// freed, before anyone can allocate it again (as Linux's page poisoning). A translation
/// that outlives its frame's release (a use after free through a stale TLB entry) then
/// reads the pattern at once, where otherwise it would read old data until the frame's
/// next owner happened to write it. The frame-reuse test boots with it.
static POISON_FREED: AtomicBool = AtomicBool::new(false);

/// Switches poisoning of freed frames on (boot, before any task runs).
pub fn poison_freed_frames() {
    log::info!("poison-freed: freed frames are filled with {POISON:#x}");
    POISON_FREED.store(true, Ordering::Relaxed);
}

/// Free and managed frame counts of both zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStats {
    pub low_free: u32,
    pub low_total: u32,
    pub high_free: u32,
    pub high_total: u32,
}

/// Builds both zones from `free` (already without the kernel, the page tables, the heap
/// and the modules). The bitmaps themselves are carved from lowmem here.
///
/// # Safety
/// Boot CPU, once, after paging is set up; `free` must hold only unused frames.
pub unsafe fn init(mut free: FreeRam, lowmem_end: u64) {
    assert!(lowmem_end <= DIRECT_MAP_MAX);
    let top = free.iter().map(|r| r.end).max().unwrap_or(lowmem_end);
    let low_frames = (lowmem_end / PAGE_SIZE as u64) as u32;
    let high_frames = (top.saturating_sub(lowmem_end) / PAGE_SIZE as u64) as u32;
    // SAFETY: the carved storage comes from `free` (unused lowmem, direct-mapped).
    let (low_bits, high_bits) = unsafe {
        (
            carve_words(&mut free, Zone::words_for(low_frames), lowmem_end),
            carve_words(&mut free, Zone::words_for(high_frames), lowmem_end),
        )
    };
    let mut low = Zone::new(ZoneKind::Low, 0, low_frames, low_bits);
    let mut high = Zone::new(ZoneKind::High, low_frames, high_frames, high_bits);
    for r in free.iter() {
        let (s, e) = (Frame::containing(r.start), Frame::containing(r.end));
        low.release(s, e);
        high.release(s, e);
    }
    *FRAMES.lock() = Some(PhysFrames { low, high });
}

/// Takes `words` u32s of zeroed lowmem from `free`.
///
/// # Safety
/// `free` must hold only unused frames; the direct map must cover `below`.
unsafe fn carve_words(free: &mut FreeRam, words: usize, below: u64) -> &'static mut [u32] {
    let bytes = ((words * 4) as u64)
        .next_multiple_of(PAGE_SIZE as u64)
        .max(PAGE_SIZE as u64);
    let pa = free
        .take(bytes, PAGE_SIZE as u64, below)
        .expect("no lowmem left for the frame bitmaps");
    // SAFETY: taken from the free set just now, so exclusively ours; direct-mapped.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(pa) as *mut u32, words) }
}

fn with<R>(f: impl FnOnce(&mut PhysFrames) -> R) -> R {
    f(FRAMES
        .lock()
        .as_mut()
        .expect("frame allocator not initialized"))
}

/// A frame reachable through the direct map.
pub fn alloc_low() -> Option<Frame> {
    with(|z| z.alloc_low())
}

/// A frame for user memory (highmem first).
pub fn alloc_user() -> Option<(Frame, ZoneKind)> {
    with(|z| z.alloc_user())
}

/// Returns a frame. Freeing a frame twice is a kernel bug and panics.
pub fn free(f: Frame) {
    if POISON_FREED.load(Ordering::Relaxed) {
        // SAFETY: the caller gives the frame up: nothing may rely on its contents now.
        match unsafe { TempMap::<Writable>::write(f) } {
            Ok(mut page) => page.fill(POISON),
            Err(_) => log::warn!("poison-freed: no temp slot to poison frame {:#x}", f.addr()),
        }
    }
    if let Err(e) = with(|z| z.free(f)) {
        panic!("frame allocator: {e}");
    }
}

/// End of the direct-mapped zone: the first highmem address.
pub fn lowmem_end() -> u64 {
    with(|z| z.high.first().addr())
}

pub fn stats() -> FrameStats {
    with(|z| FrameStats {
        low_free: z.low.free_frames(),
        low_total: z.low.managed_frames(),
        high_free: z.high.free_frames(),
        high_total: z.high.managed_frames(),
    })
}

mod tests {
    use super::*;
    use crate::{check, check_eq, kernel_test};
    use alloc::vec::Vec;

    kernel_test! {
        fn alloc_free() {
            let before = stats();
            let mut taken = Vec::new();
            for i in 0..256u32 {
                let f = alloc_low().ok_or("lowmem exhausted")?;
                // SAFETY: the frame is ours and direct-mapped.
                unsafe { (phys_to_virt(f.addr()) as *mut u32).write_volatile(i ^ 0xA5A5_0000) };
                taken.push(f);
            }
            let mut sorted = taken.clone();
            sorted.sort();
            sorted.dedup();
            check_eq!(sorted.len(), taken.len());
            check_eq!(stats().low_free, before.low_free - 256);
            for (i, f) in taken.iter().enumerate() {
                // SAFETY: as above.
                let v = unsafe { (phys_to_virt(f.addr()) as *const u32).read_volatile() };
                check_eq!(v, i as u32 ^ 0xA5A5_0000);
                free(*f);
            }
            check_eq!(stats(), before);
        }
    }

    kernel_test! {
        fn user_frames_come_from_highmem_when_there_is_some() {
            let s = stats();
            let (f, kind) = alloc_user().ok_or("no frame for user memory")?;
            free(f);
            if s.high_free > 0 {
                check_eq!(kind, ZoneKind::High);
                check!(f.addr() >= lowmem_end(), "highmem frame {:#x} below lowmem end", f.addr());
            } else {
                check_eq!(kind, ZoneKind::Low);
            }
        }
    }
}
