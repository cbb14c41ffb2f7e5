//! The temp-mapping and shootdown stress test: every CPU at once maps and unmaps temp
//! slots (nested, checksumming what it reads), its timer interrupt maps a slot of its own
//! while the interrupted code holds others, and every CPU keeps shooting a kernel page down
//! at all the others. For a bounded number of rounds; at the end no slot is held, no frame
//! leaked, the counters balance, every checksum held, and the only IPIs sent were the
//! shootdowns' and the calls that started the workers (none caused by a temp mapping,
//! under the per-CPU strategy).

use crate::cpu::ipi;
use crate::cpu::percpu::{self, cpu_id};
use crate::cpu::shootdown::shootdown;
use crate::mm::frames;
use crate::mm::kva::{self, Caching};
use crate::mm::temp::window::MAX_CPUS;
use crate::mm::temp::{self, Strategy, TempMap, Writable, cpu_counters};
use crate::mm::zones::Frame;
use crate::{check, check_eq, kernel_test};
use alloc::vec::Vec;
use arch::atomic64::AtomicU64;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use smp::shootdown::{Flush, Space};

const ROUNDS: u32 = 400;
const FRAMES: usize = 6;
const NEST: usize = 4;

/// Per CPU: its frames (FRAMES working frames, then one for the timer hook).
static CPU_FRAMES: [[AtomicU32; FRAMES + 1]; MAX_CPUS] =
    [const { [const { AtomicU32::new(0) }; FRAMES + 1] }; MAX_CPUS];
static BAD_CHECKSUMS: AtomicU32 = AtomicU32::new(0);
static HOOK_MAPS: AtomicU64 = AtomicU64::new(0);
static KERNEL_PAGE: AtomicUsize = AtomicUsize::new(0);

/// The byte at `i` of frame `f` of `cpu` in round `round`.
fn pattern(cpu: usize, f: usize, round: u32, i: usize) -> u8 {
    (cpu as u32 * 31 + f as u32 * 7 + round * 3 + i as u32) as u8
}

fn frame(cpu: usize, f: usize) -> Frame {
    Frame(CPU_FRAMES[cpu][f].load(Ordering::Relaxed))
}

fn fill(cpu: usize, f: usize, round: u32) {
    // SAFETY: the test's own frame, used by this CPU only.
    let mut page = unsafe { TempMap::<Writable>::write(frame(cpu, f)) }.expect("a temp slot");
    for (i, b) in page.iter_mut().enumerate() {
        *b = pattern(cpu, f, round, i);
    }
}

fn verify(page: &[u8; PAGE_SIZE], cpu: usize, f: usize, round: u32) {
    if page
        .iter()
        .enumerate()
        .any(|(i, &b)| b != pattern(cpu, f, round, i))
    {
        BAD_CHECKSUMS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The timer interrupt's share: map this CPU's hook frame and check it, while whatever the
/// interrupted code holds stays mapped.
fn on_timer() {
    let cpu = cpu_id();
    // SAFETY: the test's own frame, used by this CPU only.
    if let Ok(page) = unsafe { TempMap::read(frame(cpu, FRAMES)) } {
        verify(&page, cpu, FRAMES, 0);
        HOOK_MAPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// One CPU's work, run on every CPU at once (in the call-function handler, interrupts on).
fn worker(_: usize) {
    let cpu = cpu_id();
    // SAFETY: interrupts on inside the call handler let timer and shootdown IPIs in.
    unsafe { core::arch::asm!("sti") };
    let others = percpu::online().fold(0u32, |m, c| m | (1 << c.id())) & !(1 << cpu);
    for round in 1..=ROUNDS {
        for f in 0..FRAMES {
            fill(cpu, f, round);
        }
        // Nested read-only views, released in an order other than the mapping order.
        let mut held: Vec<(usize, TempMap)> = Vec::new();
        for f in 0..NEST {
            // SAFETY: the test's own frames.
            let page = unsafe { TempMap::read(frame(cpu, f)) }.expect("a temp slot");
            verify(&page, cpu, f, round);
            held.push((f, page));
        }
        held.swap(0, NEST - 1);
        for (f, page) in held.drain(..) {
            verify(&page, cpu, f, round);
        }
        if round % 16 == 0 {
            let va = KERNEL_PAGE.load(Ordering::Relaxed) as u32;
            shootdown(
                Space::Kernel,
                others,
                Flush::Range {
                    start: va,
                    pages: 1,
                },
            );
        }
    }
    arch::cpu::disable_interrupts();
}

kernel_test! {
    fn all_cpus_map_unmap_and_shoot_down_at_once() {
        let cpus: Vec<usize> = percpu::online().map(|c| c.id()).collect();
        if KERNEL_PAGE.load(Ordering::Relaxed) == 0 {
            // The page every CPU shoots down; it stays mapped (kernel virtual pages are
            // never unmapped), so its frame stays allocated.
            let f = frames::alloc_low().ok_or("no frame")?;
            KERNEL_PAGE.store(kva::map(f.addr(), PAGE_SIZE, Caching::WriteBack), Ordering::Relaxed);
        }
        let frames_before = frames::stats();
        for &cpu in &cpus {
            for slot in &CPU_FRAMES[cpu] {
                let fr = frames::alloc_user().ok_or("no frame")?.0;
                slot.store(fr.0, Ordering::Relaxed);
            }
            fill(cpu, FRAMES, 0);
        }
        let sum = |get: fn(&percpu::PerCpu) -> u64| cpus.iter().filter_map(|&c| percpu::cpu(c)).map(get).sum::<u64>();
        let sent = |c: &percpu::PerCpu| c.stats.ipis_sent.load(Ordering::Relaxed);
        let shot = |c: &percpu::PerCpu| c.stats.shootdown_ipis.load(Ordering::Relaxed);
        let (sent_before, shot_before) = (sum(sent), sum(shot));
        let counters_before: Vec<_> = cpus.iter().map(|&c| cpu_counters(c)).collect();
        BAD_CHECKSUMS.store(0, Ordering::Relaxed);
        HOOK_MAPS.store(0, Ordering::Relaxed);

        crate::traps::set_timer_hook(Some(on_timer));
        // The boot CPU's timer is not running before the programs start: start it here.
        if arch::lapic::mode().is_none() {
            return Err("the stress test needs the local APIC timer".into());
        }
        crate::cpu::apic::start_timer();
        let result = ipi::call_everywhere(worker, 0);
        crate::traps::set_timer_hook(None);
        result.map_err(|_| "a CPU did not finish its share")?;
        // Another CPU's timer interrupt may have read the hook just before it went and
        // still hold its slot: once each has taken two more ticks, none runs it any more.
        // (This CPU runs the test with interrupts off: its own hook is not running.)
        let ticks = |c: usize| percpu::cpu(c).map_or(0, |p| p.stats.timer_ticks.load(Ordering::Relaxed));
        let others: Vec<(usize, u64)> = cpus.iter().filter(|&&c| c != cpu_id()).map(|&c| (c, ticks(c))).collect();
        for (cpu, then) in others {
            while ticks(cpu) < then + 2 {
                core::hint::spin_loop();
            }
        }

        check_eq!(BAD_CHECKSUMS.load(Ordering::Relaxed), 0, "a temp mapping showed the wrong frame");
        for (i, &cpu) in cpus.iter().enumerate() {
            let (before, after) = (counters_before[i], cpu_counters(cpu));
            check_eq!(after.depth, 0, "cpu {cpu} still holds temp slots");
            check_eq!(after.maps - before.maps, after.unmaps - before.unmaps, "cpu {cpu}: maps and unmaps differ");
            check!(after.maps - before.maps >= u64::from(ROUNDS) * (FRAMES + NEST) as u64, "cpu {cpu} did not do its rounds");
            check!(after.peak_depth as usize >= NEST, "cpu {cpu} never nested {NEST} deep");
        }
        check!(HOOK_MAPS.load(Ordering::Relaxed) > 0, "no timer interrupt mapped a slot");
        let calls = cpus.len() as u64 - 1;
        let (sent_now, shot_now) = (sum(sent), sum(shot));
        if temp::strategy() == Strategy::PerCpu {
            check_eq!(sent_now - sent_before, (shot_now - shot_before) + calls, "IPIs other than shootdowns and the worker calls");
        }
        crate::kprint!(
            "[{} CPUs, {} timer-context maps, {} shootdown IPIs] ",
            cpus.len(),
            HOOK_MAPS.load(Ordering::Relaxed),
            shot_now - shot_before
        );
        for &cpu in &cpus {
            for f in 0..=FRAMES {
                frames::free(frame(cpu, f));
            }
        }
        check_eq!(frames::stats(), frames_before, "frames leaked");
    }
}
