//! Tempest's probes of the kernel model, for the tests and benchmarks that must see it from
//! user mode: `kernel_spin` (kernel code with interrupts on is preempted), `temp_hold` (a
//! holder of temp mappings reads its own frames through them across forced preemption and
//! a requested migration) and `temp_bench` (the cost of a temp mapping made by a task).

use super::SysResult;
use crate::cpu::percpu::cpu_id;
use crate::errno::Errno;
use crate::mm::frames;
use crate::mm::temp::TempMap;
use crate::mm::temp::window::SLOTS_PER_CPU;
use crate::mm::uaccess;
use crate::sched;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::Ordering;

/// Fault injection (`leak-temp-at-syscall`): the next system call leaks a temp mapping.
static LEAK_ONCE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Makes the next system call (of any process) leak a temp mapping: the check at the return
/// to user mode must stop the kernel naming it (the test of that check; without it nothing
/// would notice the slot, nor the pinned task).
pub fn leak_temp_at_next_syscall() {
    log::warn!("leak-temp-at-syscall: the next system call leaks a temp mapping (fault injection)");
    LEAK_ONCE.store(true, Ordering::Relaxed);
}

/// The injected leak, if one is armed: maps a fresh frame and forgets the guard. On every
/// system call: the check is inline, the leak out of line.
#[inline(always)]
pub fn maybe_leak_temp() {
    if LEAK_ONCE.load(Ordering::Relaxed) {
        leak_temp();
    }
}

#[cold]
#[inline(never)]
fn leak_temp() {
    if !LEAK_ONCE.swap(false, Ordering::Relaxed) {
        return;
    }
    let Some((frame, _)) = frames::alloc_user() else {
        return;
    };
    // SAFETY: a frame fresh from the allocator, ours alone (and never freed: the kernel
    // stops at the leak check before anything could reuse it).
    if let Ok(guard) = unsafe { TempMap::read(frame) } {
        log::warn!(
            "leak-temp-at-syscall: leaking the temp mapping of frame {:#x}",
            frame.addr()
        );
        core::mem::forget(guard);
    }
}

/// Longest `kernel_spin`.
const MAX_SPIN_MS: u32 = 10_000;
/// Most pages `temp_hold` maps at once (a quarter of a window).
const MAX_HOLD_PAGES: usize = SLOTS_PER_CPU / 4;
const MAX_HOLD_ROUNDS: u32 = 10_000;

/// `kernel_spin(ms, watch, advance)`: spins in the kernel, interrupts on and nothing held,
/// for `ms` milliseconds; returns how many times the caller was switched away meanwhile.
/// When `watch` is not null, the kernel reads the `u32` there as the spin starts and as it
/// ends and stores how far it moved at `advance`: a counter another thread bumps in user
/// mode is seen to move only while the caller was inside the kernel, which a reading from
/// user mode around the call cannot tell from a preemption just before or after it.
pub fn kernel_spin(ms: u32, watch: u32, advance: u32) -> SysResult {
    if ms == 0 || ms > MAX_SPIN_MS {
        return Err(Errno::EINVAL);
    }
    let read_watch = || -> Result<u32, Errno> {
        if watch == 0 {
            return Ok(0);
        }
        super::read_user::<4>(watch, 4).map(u32::from_le_bytes)
    };
    let task = sched::current();
    let first = read_watch()?;
    let before = task.switches.get();
    let end = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * u64::from(ms);
    while arch::cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
    let switched = (task.switches.get() - before) as u32;
    if watch != 0 {
        let moved = read_watch()?.wrapping_sub(first);
        super::write_user(advance, &moved.to_le_bytes())?;
    }
    Ok(switched)
}

/// Frames of the kernel's own, freed on drop.
struct OwnFrames(Vec<crate::mm::zones::Frame>);

impl Drop for OwnFrames {
    fn drop(&mut self) {
        for f in self.0.drain(..) {
            frames::free(f);
        }
    }
}

/// `temp_hold(buf, len, rounds)`: copies the user bytes `[buf, buf + len)` into frames of
/// the kernel's own (highmem first, like user pages), maps them all at once, then `rounds`
/// times: asks to move to another CPU (the holder is pinned, so the move waits), gives the
/// CPU away, spins a little with interrupts on (the timer may preempt it too), and compares
/// every byte read through the mappings with the user's. Returns how many bytes differed.
pub fn temp_hold(buf: u32, len: u32, rounds: u32) -> SysResult {
    let pages = (len as usize).div_ceil(PAGE_SIZE);
    if len == 0 || pages > MAX_HOLD_PAGES || rounds == 0 || rounds > MAX_HOLD_ROUNDS {
        return Err(Errno::EINVAL);
    }
    let mut expected = alloc::vec![0u8; len as usize];
    let process = sched::current_process();
    uaccess::copy_from_user(&process.mem.lock().space, &mut expected, buf)?;
    let mut own = OwnFrames(Vec::with_capacity(pages));
    for chunk in expected.chunks(PAGE_SIZE) {
        let (frame, _) = frames::alloc_user().ok_or(Errno::ENOMEM)?;
        own.0.push(frame);
        // SAFETY: the frame was just allocated to this call: nobody else uses it.
        let mut page = unsafe { TempMap::write(frame) }.map_err(|_| Errno::ENOMEM)?;
        page[..chunk.len()].copy_from_slice(chunk);
    }
    let affinity = sched::affinity(0)?;
    let mut held = Vec::with_capacity(pages);
    for &frame in &own.0 {
        // SAFETY: the frames are this call's, alive until `own` drops after the guards.
        held.push(unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?);
    }
    let mut mismatched = 0u32;
    for _ in 0..rounds {
        let elsewhere = affinity & !(1 << cpu_id());
        if elsewhere != 0 {
            sched::set_affinity(0, elsewhere)?;
        }
        sched::yield_now();
        crate::time::delay_us(100);
        for (page, chunk) in held.iter().zip(expected.chunks(PAGE_SIZE)) {
            let seen = &page[..chunk.len()];
            mismatched += seen.iter().zip(chunk).filter(|(a, b)| a != b).count() as u32;
        }
    }
    drop(held);
    // The move asked for can happen now; then the caller's own affinity comes back.
    sched::yield_now();
    sched::set_affinity(0, affinity)?;
    drop(own);
    Ok(mismatched)
}

/// Timed operations per batch and batches of `temp_bench`.
const TEMP_BENCH_BATCH: u64 = 64;
const TEMP_BENCH_BATCHES: usize = 64;

/// `temp_bench(design)`: the median cycles of one map + touch + unmap made by the calling
/// task, with the guard pinning the task (`design` 0: today's design, which a preemption
/// may interrupt) or raising the preempt count (1: the design before the kernel was
/// preemptible, reproduced by installing the preempt-count pair as the pin hooks for the
/// measurement). Only meaningful while no other CPU maps (the benchmark runs alone).
pub fn temp_bench(design: u32) -> SysResult {
    if design > 1 {
        return Err(Errno::EINVAL);
    }
    let (frame, _) = frames::alloc_user().ok_or(Errno::ENOMEM)?;
    let own = OwnFrames(alloc::vec![frame]);
    if design == 1 {
        crate::mm::temp::set_pin_hooks(
            crate::cpu::percpu::preempt_disable,
            crate::cpu::percpu::preempt_enable,
        );
    }
    let mut batches = Vec::with_capacity(TEMP_BENCH_BATCHES);
    for _ in 0..TEMP_BENCH_BATCHES + 8 {
        let start = arch::cpu::rdtsc();
        for _ in 0..TEMP_BENCH_BATCH {
            // SAFETY: the frame is this call's own.
            let mut page = unsafe { TempMap::write(frame) }.map_err(|_| Errno::ENOMEM)?;
            page[0] = 1;
        }
        batches.push((arch::cpu::rdtsc() - start) / TEMP_BENCH_BATCH);
    }
    if design == 1 {
        crate::mm::temp::set_pin_hooks(sched::migrate_disable, sched::migrate_enable);
    }
    drop(own);
    // The first 8 batches warm up.
    let mut timed = batches.split_off(8);
    timed.sort_unstable();
    Ok(timed[timed.len() / 2] as u32)
}
