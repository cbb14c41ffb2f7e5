//! The stale-translation probe: a reader CPU keeps a translation of a page hot while the
//! initiator points the page at another frame, shoots it down, writes a sentinel into the
//! old frame and releases the reader through a sequence number; the reader must then see
//! the new frame. With `no-remote-flush` on the command line (the negative control) the
//! reader must see the sentinel instead, or the probe proves nothing.

use crate::cpu::ipi;
use crate::cpu::percpu::{self, cpu_id};
use crate::cpu::shootdown::{CEILING, remote_flush_disabled, shootdown};
use crate::mm::frames;
use crate::mm::kva::{self, Caching};
use crate::mm::layout::phys_to_virt;
use crate::mm::space::{AddressSpace, Protection};
use crate::mm::zones::Frame;
use crate::{check, check_eq, kernel_test, kprint};
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use smp::shootdown::{Flush, Space};

const OLD: u8 = 0x11;
const NEW: u8 = 0x22;
const SENTINEL: u8 = 0x99;

static PROBE_VA: AtomicUsize = AtomicUsize::new(0);
static PROBE_CR3: AtomicU32 = AtomicU32::new(0);
static HOT: AtomicBool = AtomicBool::new(false);
static RELEASE: AtomicU32 = AtomicU32::new(0);
static SEEN: AtomicU32 = AtomicU32::new(0);

/// Runs on the reader CPU (in its call-function handler): keeps reading the probe address
/// with interrupts on (so the shootdown IPI gets in) until released, then reads it once
/// more.
fn reader(_: usize) {
    let va = PROBE_VA.load(Ordering::Relaxed);
    let cr3 = PROBE_CR3.load(Ordering::Relaxed);
    if cr3 != 0 {
        // SAFETY: the probe's space shares the kernel half; the old CR3 comes back below.
        unsafe { arch::cpu::load_cr3(cr3) };
    }
    // SAFETY: the probe address stays mapped (to one frame or the other) throughout.
    let read = || unsafe { (va as *const u8).read_volatile() };
    let _ = read();
    HOT.store(true, Ordering::Release);
    // SAFETY: interrupts on inside this handler let the shootdown IPI in; nothing here
    // holds a lock.
    unsafe { core::arch::asm!("sti") };
    while RELEASE.load(Ordering::Acquire) == 0 {
        let _ = read();
        core::hint::spin_loop();
    }
    arch::cpu::disable_interrupts();
    SEEN.store(u32::from(read()), Ordering::Release);
    if cr3 != 0 {
        // SAFETY: back to the kernel directory, which maps everything.
        unsafe { arch::cpu::load_cr3(crate::mm::paging::kernel_directory()) };
    }
}

fn filled_frame(byte: u8) -> Result<Frame, crate::ktest::TestFailure> {
    let f = frames::alloc_low().ok_or("lowmem exhausted")?;
    // SAFETY: a frame the test owns, direct-mapped.
    unsafe { core::ptr::write_bytes(phys_to_virt(f.addr()) as *mut u8, byte, PAGE_SIZE) };
    Ok(f)
}

/// One probe against `target`: `remap` points the probed page(s) at the new frame, then the
/// round `space`/`flush` runs. Returns the byte the reader saw.
fn probe(
    target: usize,
    va: usize,
    cr3: u32,
    old: Frame,
    remap: impl FnOnce(),
    space: Space,
    flush: Flush,
) -> Result<u8, crate::ktest::TestFailure> {
    PROBE_VA.store(va, Ordering::Relaxed);
    PROBE_CR3.store(cr3, Ordering::Relaxed);
    HOT.store(false, Ordering::Relaxed);
    RELEASE.store(0, Ordering::Relaxed);
    let call = ipi::call_async(target, reader, 0).map_err(|_| "reader CPU did not answer")?;
    while !HOT.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    remap();
    shootdown(space, 1 << target, flush);
    // SAFETY: the old frame is the test's own; no CPU may reach it through the probe
    // address any more (unless the flush was switched off: then the reader sees this).
    unsafe { core::ptr::write_bytes(phys_to_virt(old.addr()) as *mut u8, SENTINEL, PAGE_SIZE) };
    RELEASE.store(1, Ordering::Release);
    call.wait().map_err(|_| "reader CPU did not finish")?;
    Ok(SEEN.load(Ordering::Acquire) as u8)
}

/// Checks what the reader saw: the new frame, or under the negative control the sentinel
/// (a stale translation, which the probe must be able to see).
fn verdict(seen: u8, what: &str) -> crate::ktest::TestResult {
    if remote_flush_disabled() {
        check_eq!(
            seen,
            SENTINEL,
            "negative control ({what}): the probe did not see the stale translation"
        );
        kprint!("[stale read detected: {what}] ");
    } else {
        check!(
            seen != SENTINEL && seen != OLD,
            "stale translation ({what}): the reader saw {seen:#x}"
        );
        check_eq!(seen, NEW, "{what}");
    }
    Ok(())
}

fn other_cpus() -> Vec<usize> {
    percpu::online()
        .map(|c| c.id())
        .filter(|&c| c != cpu_id())
        .collect()
}

/// Kernel pages (the kernel virtual area, global like the direct map): one page, a range
/// above the ceiling (a full round), or (with `as_list`) the pages named one by one in a
/// page-list round.
fn kernel_probe(pages: u32, as_list: bool) -> crate::ktest::TestResult {
    let targets = other_cpus();
    if targets.is_empty() {
        kprint!("(one CPU: nothing to shoot down; run with --smp 2 or more) ");
    }
    for target in targets {
        let (old, new) = (filled_frame(OLD)?, filled_frame(NEW)?);
        // Each page of the range maps the old frame; the reader reads the last one.
        let base = kva::map(old.addr(), PAGE_SIZE, Caching::WriteBack);
        for i in 1..pages as usize {
            let va = kva::map(old.addr(), PAGE_SIZE, Caching::WriteBack);
            check_eq!(
                va,
                base + i * PAGE_SIZE,
                "kernel virtual pages are not consecutive"
            );
        }
        let probed = base + (pages as usize - 1) * PAGE_SIZE;
        let remap = || {
            for i in 0..pages as usize {
                // SAFETY: test pages; the round below flushes them everywhere.
                unsafe { kva::remap(base + i * PAGE_SIZE, new.addr()) };
            }
        };
        let flush = if as_list {
            let list: Vec<u32> = (0..pages)
                .map(|i| (base + i as usize * PAGE_SIZE) as u32)
                .collect();
            Flush::list(&list)
        } else {
            Flush::Range {
                start: base as u32,
                pages,
            }
        };
        let global_before = arch::cpu::global_flushes();
        let seen = probe(target, probed, 0, old, remap, Space::Kernel, flush)?;
        let kind = if as_list { "list" } else { "range" };
        let what = alloc::format!("kernel, {pages} page(s) as a {kind}, cpu {target}");
        verdict(seen, &what)?;
        // Kernel pages are global: a full round must drop global entries too, or they
        // outlive it. TCG keeps none (a CR3 load drops all), so there the probe above
        // cannot see a round that only reloads CR3; the count of global flushes can.
        let full = flush.with_ceiling(CEILING) == Flush::All;
        if full && crate::mm::paging::kernel_pages_are_global() && !remote_flush_disabled() {
            check!(
                arch::cpu::global_flushes() > global_before,
                "{what}: a full round kept the global kernel entries (CR3 reload only)"
            );
        }
        // The pages keep mapping `new` (kernel virtual pages are never unmapped): leave
        // both frames allocated rather than free a frame something still maps.
    }
    Ok(())
}

kernel_test! {
    fn stale_kernel_page_is_shot_down_on_every_cpu() {
        kernel_probe(1, false)?;
    }
}

kernel_test! {
    fn stale_kernel_page_list_is_shot_down() {
        kernel_probe(smp::shootdown::MAX_LIST as u32, true)?;
    }
}

kernel_test! {
    fn stale_kernel_range_above_the_ceiling_is_shot_down() {
        kernel_probe(CEILING + 8, false)?;
    }
}

kernel_test! {
    fn stale_user_page_is_shot_down_on_every_cpu() {
        let targets = other_cpus();
        if targets.is_empty() {
            kprint!("(one CPU: nothing to shoot down; run with --smp 2 or more) ");
        }
        const VA: u32 = 0x2000_0000;
        for target in targets {
            let (old, new) = (filled_frame(OLD)?, filled_frame(NEW)?);
            let mut space = AddressSpace::new().map_err(|_| "no memory")?;
            space.map(VA, old, Protection::READ_WRITE).map_err(|_| "map")?;
            let dir = space.directory();
            let space_ref = &mut space;
            let seen = probe(
                target,
                VA as usize,
                dir,
                old,
                || {
                    space_ref.remap(VA, new);
                },
                Space::User { directory: dir },
                Flush::Range { start: VA, pages: 1 },
            )?;
            drop(space); // frees `new` (now mapped) and the tables
            frames::free(old);
            verdict(seen, &alloc::format!("user page, cpu {target}"))?;
        }
    }
}

kernel_test! {
    fn a_round_interrupts_exactly_its_targets() {
        let sent = || {
            percpu::online()
                .map(|c| c.stats.shootdown_ipis.load(Ordering::Relaxed))
                .sum::<u64>()
        };
        let targets = other_cpus();
        if targets.is_empty() {
            kprint!("(one CPU: nothing to shoot down; run with --smp 2 or more) ");
        }
        // A user space loaded nowhere (a directory no CPU has): the targets' flush does
        // nothing, and only the IPIs are counted.
        let space = Space::User { directory: 0x0FFF_F000 };
        let flush = Flush::Range { start: 0x1000_0000, pages: 1 };
        for target in targets {
            let before = sent();
            shootdown(space, 1 << target, flush);
            check_eq!(sent() - before, 1, "a round aimed at cpu {target} alone");
        }
        let before = sent();
        shootdown(space, 1 << cpu_id(), flush);
        check_eq!(sent(), before, "a round aimed at the initiator alone sends no IPI");
    }
}

kernel_test! {
    fn a_full_user_round_keeps_the_global_kernel_entries() {
        // A user space's full flush is a CR3 reload: the kernel's global entries are the
        // same in every space and need not go. The space loaded here is the kernel
        // directory, so the flush really runs on this CPU.
        let space = Space::User { directory: arch::cpu::cr3() };
        let before = arch::cpu::global_flushes();
        shootdown(space, 0, Flush::Range { start: 0x1000_0000, pages: CEILING + 1 });
        check_eq!(arch::cpu::global_flushes(), before, "a user round flushed global entries");
    }
}

kernel_test! {
    fn temp_mappings_send_no_ipi() {
        let sent = || percpu::online().map(|c| c.stats.ipis_sent.load(Ordering::Relaxed)).sum::<u64>();
        let received = || percpu::online().map(|c| c.stats.ipis.load(Ordering::Relaxed)).sum::<u64>();
        let (sent_before, received_before) = (sent(), received());
        let f = frames::alloc_low().ok_or("lowmem exhausted")?;
        for i in 0..10_000u32 {
            // SAFETY: a frame the test owns.
            let mut page = unsafe { crate::mm::temp::TempMap::write(f) }.map_err(|_| "no slot")?;
            page[(i % 4096) as usize] = i as u8;
        }
        frames::free(f);
        if crate::mm::temp::strategy() == crate::mm::temp::Strategy::GlobalPool {
            // The comparison strategy does send them (its broadcast flushes): the counters
            // that prove the per-CPU windows send none do see IPIs when there are some.
            let others = percpu::online().count() as u64 - 1;
            check!(others == 0 || sent() > sent_before, "the global pool flushed without IPIs");
            kprint!("[global pool: {} IPIs for 10000 mappings] ", sent() - sent_before);
        } else {
            check_eq!(sent(), sent_before, "temp mappings sent IPIs");
            check_eq!(received(), received_before, "temp mappings caused IPIs");
        }
    }
}
