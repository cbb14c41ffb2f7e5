//! In-kernel tests of temp mappings: map/unmap, nesting, exhaustion, counters, the leak
//! check (with its negative control), highmem access, and the seed's scenario.

use super::*;
use crate::mm::frames;
use crate::mm::layout::phys_to_virt;
use crate::mm::space::AddressSpace;
use crate::mm::temp::window::SLOTS_PER_CPU;
use crate::mm::zones::{Frame, ZoneKind};
use crate::percpu::{cpu_id, preempt_count};
use crate::{check, check_eq, kernel_test};
use alloc::vec::Vec;

fn low_frame() -> Result<Frame, crate::ktest::TestFailure> {
    Ok(frames::alloc_low().ok_or("lowmem exhausted")?)
}

kernel_test! {
    fn map_write_read_unmap() {
        let f = low_frame()?;
        let before = cpu_counters(cpu_id());
        {
            let mut page = TempMap::write(f).map_err(|_| "no slot")?;
            check!(page.address() >= crate::mm::layout::TEMP_BASE);
            check_eq!(preempt_count(), 1);
            page.fill(0x5A);
            page[4095] = 0xA5;
        }
        check_eq!(preempt_count(), 0);
        // The same bytes through the direct map: the temp mapping reached the real frame.
        // SAFETY: our lowmem frame, direct-mapped.
        let direct = unsafe { &*(phys_to_virt(f.addr()) as *const [u8; 4096]) };
        check!(direct[..4095].iter().all(|&b| b == 0x5A));
        check_eq!(direct[4095], 0xA5);
        let ro = TempMap::read(f).map_err(|_| "no slot")?;
        check_eq!(ro[17], 0x5A);
        drop(ro);
        let after = cpu_counters(cpu_id());
        check_eq!(after.maps - before.maps, 2);
        check_eq!(after.unmaps - before.unmaps, 2);
        check_eq!(after.depth, 0);
        frames::free(f);
    }
}

kernel_test! {
    fn nesting_exhaustion_and_any_release_order() {
        let f = low_frame()?;
        let before = cpu_counters(cpu_id());
        let mut held = Vec::new();
        for _ in 0..SLOTS_PER_CPU {
            held.push(TempMap::read(f).map_err(|_| "window full too early")?);
        }
        let mut addrs: Vec<usize> = held.iter().map(|m| m.address()).collect();
        addrs.sort();
        addrs.dedup();
        check_eq!(addrs.len(), SLOTS_PER_CPU);
        // The window is full: an error, not a panic, and it is counted.
        check!(TempMap::read(f).is_err());
        check_eq!(cpu_counters(cpu_id()).failures, before.failures + 1);
        check_eq!(cpu_counters(cpu_id()).peak_depth, SLOTS_PER_CPU as u32);
        // Release from the middle, reuse, then release in reverse.
        let middle = held.remove(SLOTS_PER_CPU / 2);
        let freed = middle.address();
        drop(middle);
        let again = TempMap::read(f).map_err(|_| "freed slot not reusable")?;
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
        let ro = TempMap::read(f).map_err(|_| "no slot")?;
        let rw = TempMap::write(f).map_err(|_| "no slot")?;
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
        let leaked = TempMap::read(f).map_err(|_| "no slot")?;
        let slot = (leaked.address() - slot_address(cpu_id(), 0)) / 4096;
        // Negative control: switch the protection (the guard's Drop) off.
        core::mem::forget(leaked);
        let report = match check_none_held() {
            Ok(()) => return Err("the leak check missed a leaked mapping".into()),
            Err(leak) => alloc::format!("{leak}"),
        };
        check!(report.contains(file!()), "the report does not name this file: {report}");
        check!(report.contains(&alloc::format!("slot {slot}")), "{report}");
        // SAFETY: the guard was forgotten above; nothing else refers to the slot.
        unsafe { reclaim_leaked(slot) };
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
                let mut page = TempMap::write(f).map_err(|_| "no slot")?;
                for (i, b) in page.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(7).wrapping_add(round);
                }
            }
            let page = TempMap::read(f).map_err(|_| "no slot")?;
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
        space.activate();
        let f = low_frame()?;
        let result = (|| {
            let mut page = TempMap::write(f).map_err(|_| "no slot")?;
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
