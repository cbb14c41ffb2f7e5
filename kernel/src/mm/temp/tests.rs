//! In-kernel tests of temp mappings: map/unmap, nesting, exhaustion, counters, the leak
//! check (with its negative control), highmem access, and the seed's scenario.

use super::*;
use crate::cpu::percpu::{cpu_id, preempt_count};
use crate::mm::frames;
use crate::mm::layout::phys_to_virt;
use crate::mm::space::AddressSpace;
use crate::mm::temp::window::SLOTS_PER_CPU;
use crate::mm::zones::{Frame, ZoneKind};
use crate::{check, check_eq, kernel_test};

/// This CPU's window counters, or the pool's under `temp=global`.
fn counters_now() -> TempCounters {
    match strategy() {
        Strategy::PerCpu => cpu_counters(cpu_id()),
        Strategy::GlobalPool => pool_counters().0,
    }
}

/// Maps a frame the test allocated and owns, read-only.
#[track_caller]
fn map_ro(f: Frame) -> Result<TempMap<ReadOnly>, Exhausted> {
    // SAFETY: every frame these tests map is one they allocated and own.
    unsafe { TempMap::read(f) }
}

/// Maps a frame the test allocated and owns, writable.
#[track_caller]
fn map_rw(f: Frame) -> Result<TempMap<Writable>, Exhausted> {
    // SAFETY: as for `map_ro`.
    unsafe { TempMap::write(f) }
}
use alloc::vec::Vec;

fn low_frame() -> Result<Frame, crate::ktest::TestFailure> {
    Ok(frames::alloc_low().ok_or("lowmem exhausted")?)
}

kernel_test! {
    fn map_write_read_unmap() {
        let f = low_frame()?;
        let before = counters_now();
        {
            let mut page = map_rw(f).map_err(|_| "no slot")?;
            check!(page.address() >= crate::mm::layout::TEMP_BASE);
            // A mapping pins its task to the CPU (migrate-disable); it does not stop
            // preemption: the switch parks and restores it.
            check_eq!(preempt_count(), 0);
            page.fill(0x5A);
            page[4095] = 0xA5;
        }
        check_eq!(preempt_count(), 0);
        // The same bytes through the direct map: the temp mapping reached the real frame.
        // SAFETY: our lowmem frame, direct-mapped.
        let direct = unsafe { &*(phys_to_virt(f.addr()) as *const [u8; 4096]) };
        check!(direct[..4095].iter().all(|&b| b == 0x5A));
        check_eq!(direct[4095], 0xA5);
        let ro = map_ro(f).map_err(|_| "no slot")?;
        check_eq!(ro[17], 0x5A);
        drop(ro);
        let after = counters_now();
        check_eq!(after.maps - before.maps, 2);
        check_eq!(after.unmaps - before.unmaps, 2);
        check_eq!(after.depth, 0);
        frames::free(f);
    }
}

kernel_test! {
    fn nesting_exhaustion_and_any_release_order() {
        if strategy() == Strategy::GlobalPool {
            crate::kprint!("(a per-CPU window property: not under temp=global) ");
            return Ok(());
        }
        let f = low_frame()?;
        let before = cpu_counters(cpu_id());
        let mut held = Vec::new();
        for _ in 0..SLOTS_PER_CPU {
            held.push(map_ro(f).map_err(|_| "window full too early")?);
        }
        let mut addrs: Vec<usize> = held.iter().map(|m| m.address()).collect();
        addrs.sort();
        addrs.dedup();
        check_eq!(addrs.len(), SLOTS_PER_CPU);
        // The window is full: an error, not a panic, and it is counted.
        check!(map_ro(f).is_err());
        check_eq!(cpu_counters(cpu_id()).failures, before.failures + 1);
        check_eq!(cpu_counters(cpu_id()).peak_depth, SLOTS_PER_CPU as u32);
        // Release from the middle, reuse, then release in reverse.
        let middle = held.remove(SLOTS_PER_CPU / 2);
        let freed = middle.address();
        drop(middle);
        let again = map_ro(f).map_err(|_| "freed slot not reusable")?;
        check_eq!(again.address(), freed);
        held.push(again);
        while let Some(m) = held.pop() {
            drop(m);
        }
        check_eq!(preempt_count(), 0);
        check!(check_none_held().is_ok());
        frames::free(f);
    }
}

kernel_test! {
    fn read_only_views_have_no_write_bit_and_no_user_bit() {
        let f = low_frame()?;
        let ro = map_ro(f).map_err(|_| "no slot")?;
        let rw = map_rw(f).map_err(|_| "no slot")?;
        let pte_of = |va: usize| {
            let slot = (va - crate::mm::layout::TEMP_BASE) / 4096;
            // SAFETY: reads a PTE of the temp page table.
            arch::paging::PTEntry(unsafe { pte(0, slot).read_volatile() })
        };
        check!(!pte_of(ro.address()).is_writeable());
        check!(pte_of(rw.address()).is_writeable());
        check!(!pte_of(ro.address()).is_user_mode_allowed());
        check!(!pte_of(rw.address()).is_user_mode_allowed());
        drop(rw);
        drop(ro);
        frames::free(f);
    }
}

kernel_test! {
    fn leak_check_names_the_culprit() {
        check!(check_none_held().is_ok(), "a mapping was held before the test");
        let f = low_frame()?;
        // A mapping held below the leaked one, so the leak is not in the first slot.
        let below = map_ro(f).map_err(|_| "no slot")?;
        let leaked = map_ro(f).map_err(|_| "no slot")?;
        let address = leaked.address();
        let slot = slot_of(address);
        check!(slot != slot_of(below.address()), "two mappings in one slot");
        drop(below);
        // Negative control: switch the protection (the guard's Drop) off.
        core::mem::forget(leaked);
        let report = match check_none_held() {
            Ok(()) => return Err("the leak check missed a leaked mapping".into()),
            Err(leak) => alloc::format!("{leak}"),
        };
        check!(report.contains(file!()), "the report does not name this file: {report}");
        check!(report.contains(&alloc::format!("slot {slot}")), "{report}");
        // SAFETY: the guard was forgotten above; nothing else refers to the slot.
        unsafe { reclaim_leaked(address) };
        check!(check_none_held().is_ok());
        check_eq!(preempt_count(), 0);
        frames::free(f);
    }
}

kernel_test! {
    fn user_frames_in_highmem_are_reached_only_through_temp_mappings() {
        let (f, kind) = frames::alloc_user().ok_or("no user frame")?;
        if kind == ZoneKind::High {
            check!(f.addr() >= frames::lowmem_end(), "a highmem frame inside the direct map");
        } else {
            crate::kprint!("(no highmem on this VM: boot with lowmem=16 to cover it) ");
        }
        for round in 0..3u8 {
            {
                let mut page = map_rw(f).map_err(|_| "no slot")?;
                for (i, b) in page.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(7).wrapping_add(round);
                }
            }
            let page = map_ro(f).map_err(|_| "no slot")?;
            for (i, &b) in page.iter().enumerate() {
                check_eq!(b, (i as u8).wrapping_mul(7).wrapping_add(round));
            }
        }
        frames::free(f);
    }
}

kernel_test! {
    fn the_seed_bug_cannot_recur() {
        // The seed's bug: a temp mapping made after a process directory was created was
        // missing from that directory. Here: create a space, switch to it, then map.
        let space = AddressSpace::new().map_err(|_| "no memory for a space")?;
        let f = low_frame()?;
        space.activate();
        check!(space.is_active(), "the space is not the one in CR3 after activate");
        let result = (|| {
            let mut page = map_rw(f).map_err(|_| "no slot")?;
            page[0] = 42;
            check_eq!(page[0], 42);
            Ok(())
        })();
        // SAFETY: the kernel directory maps all the kernel.
        unsafe { arch::cpu::load_cr3(crate::mm::paging::kernel_directory()) };
        drop(space);
        frames::free(f);
        result?;
    }
}

/// Two lowmem frames filled with 0xAA and 0xBB through the direct map.
fn two_filled_frames() -> Result<(Frame, Frame), crate::ktest::TestFailure> {
    let (a, b) = (low_frame()?, low_frame()?);
    for (f, v) in [(a, 0xAA), (b, 0xBB)] {
        // SAFETY: frames the test owns, direct-mapped.
        unsafe { core::ptr::write_bytes(phys_to_virt(f.addr()) as *mut u8, v, 4096) };
    }
    Ok((a, b))
}

kernel_test! {
    fn a_reused_slot_never_shows_the_old_frame() {
        if strategy() == Strategy::GlobalPool {
            crate::kprint!("(a per-CPU window property: not under temp=global) ");
            return Ok(());
        }
        let (a, b) = two_filled_frames()?;
        let first = map_ro(a).map_err(|_| "no slot")?;
        // Read through the slot so its translation is in this CPU's TLB.
        check_eq!(first[0], 0xAA);
        let slot = first.address();
        drop(first);
        let second = map_ro(b).map_err(|_| "no slot")?;
        check_eq!(second.address(), slot, "the freed slot was not the one reused");
        // SAFETY: reads the mapped slot.
        let seen = unsafe { (second.address() as *const u8).read_volatile() };
        check_eq!(seen, 0xBB, "stale translation: the reused slot still shows the old frame");
        drop(second);
        frames::free(a);
        frames::free(b);
    }
}

kernel_test! {
    fn without_the_flush_the_old_frame_shows_through() {
        if strategy() == Strategy::GlobalPool {
            crate::kprint!("(a per-CPU window property: not under temp=global) ");
            return Ok(());
        }
        // Negative control for the test above: repoint a live slot's PTE from A to B the way
        // `Drop` would but without its `invlpg`. The CPU keeps using the translation it
        // cached, so reads still see A: this is the bug `Drop`'s flush prevents, and the
        // test above would catch it.
        let (a, b) = two_filled_frames()?;
        let page = map_ro(a).map_err(|_| "no slot")?;
        check_eq!(page[0], 0xAA);
        let slot = (page.address() - slot_address(cpu_id(), 0)) / 4096;
        let entry = arch::paging::PTEntry::new(arch::paging::PAddr(b.addr() as u32), arch::paging::PTFlags::P);
        // SAFETY: our own live slot; it is pointed back at A (and flushed) before the guard
        // goes away.
        let stale = unsafe {
            pte(cpu_id(), slot).write_volatile(entry.0);
            let seen = (page.address() as *const u8).read_volatile();
            arch::cpu::invlpg(page.address());
            seen
        };
        // SAFETY: after the flush the slot shows B.
        let fresh = unsafe { (page.address() as *const u8).read_volatile() };
        let back = arch::paging::PTEntry::new(arch::paging::PAddr(a.addr() as u32), arch::paging::PTFlags::P);
        // SAFETY: restores the guard's own mapping and flushes it.
        unsafe {
            pte(cpu_id(), slot).write_volatile(back.0);
            arch::cpu::invlpg(page.address());
        }
        drop(page);
        frames::free(a);
        frames::free(b);
        check_eq!(stale, 0xAA, "without invlpg the CPU should still see the old frame");
        check_eq!(fresh, 0xBB);
    }
}

kernel_test! {
    fn pool_reuses_a_slot_only_after_a_broadcast_flush() {
        if strategy() != Strategy::GlobalPool {
            crate::kprint!("(a global-pool property: boot with temp=global) ");
            return Ok(());
        }
        let (a, b) = two_filled_frames()?;
        let (_, flushes_before) = pool_counters();
        let first = map_ro(a).map_err(|_| "no slot")?;
        check_eq!(first[0], 0xAA);
        // The pool's mappings count in this CPU's depth, as its window's would.
        check_eq!(cpu_counters(cpu_id()).depth, 1);
        let slot = first.address();
        drop(first);
        // Map B until it lands in A's old slot: that takes a trip round the pool and the
        // broadcast flush that makes dirty slots clean again.
        let mut rounds = 0;
        loop {
            let page = map_ro(b).map_err(|_| "no slot")?;
            rounds += 1;
            if page.address() == slot {
                // SAFETY: reads the mapped slot.
                let seen = unsafe { (page.address() as *const u8).read_volatile() };
                check_eq!(seen, 0xBB, "stale translation in a reused pool slot");
                break;
            }
            check!(rounds <= 2 * crate::mm::temp::pool::POOL_SLOTS, "slot never reused");
        }
        check!(pool_counters().1 > flushes_before, "reused without a flush round");
        frames::free(a);
        frames::free(b);
    }
}

kernel_test! {
    fn leaving_the_pool_leaves_no_pool_translation_for_the_windows() {
        // The pool's slot s is CPU 0's window slot s: the same address. A pool slot given
        // back stays in the TLB until a broadcast round; leaving the pool must make that
        // round, or CPU 0's window would read through the pool's old translation.
        if strategy() != Strategy::PerCpu || cpu_id() != 0 {
            crate::kprint!("(a strategy switch on cpu 0, per-CPU boot only) ");
            return Ok(());
        }
        let (a, b) = two_filled_frames()?;
        set_strategy(Strategy::GlobalPool);
        let cached = (|| {
            let mut addresses = Vec::new();
            for _ in 0..8 {
                let page = map_ro(a).map_err(|_| "no pool slot")?;
                check_eq!(page[0], 0xAA);
                addresses.push(page.address());
            }
            Ok(addresses)
        })();
        set_strategy(Strategy::PerCpu);
        let cached = cached?;
        let mut held = Vec::new();
        for _ in 0..8 {
            let page = map_ro(b).map_err(|_| "no window slot")?;
            if cached.contains(&page.address()) {
                // SAFETY: reads the mapped slot through its address.
                let seen = unsafe { (page.address() as *const u8).read_volatile() };
                check_eq!(seen, 0xBB, "a pool translation outlived leaving the pool");
            }
            held.push(page);
        }
        drop(held);
        frames::free(a);
        frames::free(b);
    }
}
