//! In-kernel measurements (`bench=WORKLOAD` on the command line), reported as
//! `@@tempest {"event":"bench",...}` records, TSC cycles after a warm-up:
//!
//! - `temp`: map a frame, touch a byte (second pass: copy 4 KiB in), unmap, on 1, 2, ...
//!   all CPUs at once (released together), for the raw floor (one fixed PTE: write,
//!   `invlpg`, touch; no allocator), the per-CPU windows and the global pool;
//! - `ipi`: the round trip of a call-function IPI to each other CPU;
//! - `shootdown`: a one-page round to 1, 2, ... N-1 targets;
//! - `flush-ceiling`: where a round of n kernel pages becomes cheaper as a full flush than
//!   as n `invlpg`s, counting the refills the flush causes (the pages themselves and a
//!   working set of the direct map, which a full kernel flush drops too);
//! - `all`: every one of them.
//!
//! The host-side `bench` crate boots these per CPU count and reports tables, plots and
//! baseline comparisons (docs/benchmarks.md).

use crate::console::record;
use crate::cpu::ipi;
use crate::cpu::percpu::{self, cpu_id};
use crate::cpu::shootdown::shootdown_as_given;
use crate::mm::frames;
use crate::mm::kva::{self, Caching};
use crate::mm::layout::phys_to_virt;
use crate::mm::temp::window::MAX_CPUS;
use crate::mm::temp::{self, Strategy, TempMap, Writable};
use crate::mm::zones::Frame;
use alloc::vec::Vec;
use arch::atomic64::AtomicU64;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use smp::shootdown::{Flush, Space};

/// Page counts swept.
const SIZES: [u32; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/// Direct-map pages touched after each round, as the rest of the kernel's working set.
const WORKING_SET: usize = 256;
/// Timed repetitions per point (the median is kept).
const REPS: usize = 31;

/// Runs the workload named on the command line; false when the name is unknown.
pub fn run(workload: &str) -> bool {
    record(format_args!(
        "{{\"event\":\"bench_env\",\"cpus\":{},\"tsc_khz\":{},\"apic\":\"{}\"}}",
        percpu::online().count(),
        crate::time::tsc_per_ms(),
        crate::cpu::apic::mode_name()
    ));
    match workload {
        "temp" => temp_throughput(),
        "ipi" => ipi_round_trip(),
        "shootdown" => shootdown_targets(),
        "flush-ceiling" => flush_ceiling(),
        "all" => {
            temp_throughput();
            ipi_round_trip();
            shootdown_targets();
            flush_ceiling();
        }
        _ => return false,
    }
    true
}

/// Operations per timed batch, warm-up batches, timed batches.
const BATCH: u64 = 64;
const WARMUP: usize = 16;
const BATCHES: usize = 200;

/// Per-op cycles of `BATCHES` batches: (p50, p90, p99, mean).
fn percentiles(mut v: Vec<u64>) -> (u64, u64, u64, u64) {
    v.sort_unstable();
    let at = |q: usize| v[(v.len() - 1) * q / 100];
    let mean = v.iter().sum::<u64>() / v.len() as u64;
    (at(50), at(90), at(99), mean)
}

/// The temp workload's shared state: which variant, the start line, per-CPU results.
static VARIANT: AtomicUsize = AtomicUsize::new(0);
static READY: AtomicUsize = AtomicUsize::new(0);
static GO: AtomicUsize = AtomicUsize::new(0);
static FRAME: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
static RAW_VA: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
static RESULT: [[AtomicU64; 4]; MAX_CPUS] = [const { [const { AtomicU64::new(0) }; 4] }; MAX_CPUS];

/// Whether an operation copies a whole page in (`temp_map_copy4k`) or touches one byte.
static COPY: AtomicBool = AtomicBool::new(false);
/// What the copy variant copies.
static SOURCE: [u8; PAGE_SIZE] = [0x5a; PAGE_SIZE];

const RAW: usize = 0;
const PER_CPU: usize = 1;
const GLOBAL: usize = 2;
const VARIANT_NAMES: [&str; 3] = ["raw", "percpu", "global"];

/// One map + touch + unmap of this CPU's frame in the current variant.
#[inline(always)]
fn one_op(cpu: usize) {
    let frame = Frame(FRAME[cpu].load(Ordering::Relaxed));
    if VARIANT.load(Ordering::Relaxed) == RAW {
        let va = RAW_VA[cpu].load(Ordering::Relaxed);
        // SAFETY: this CPU's own bench page, pointed at its own frame; flushed right away.
        unsafe {
            kva::remap(va, frame.addr());
            arch::cpu::invlpg(va);
            if COPY.load(Ordering::Relaxed) {
                core::ptr::copy_nonoverlapping(SOURCE.as_ptr(), va as *mut u8, PAGE_SIZE);
            } else {
                core::ptr::write_volatile(va as *mut u8, 1);
            }
        }
    } else {
        // SAFETY: the bench's own frame, used by this CPU only.
        let mut page = unsafe { TempMap::<Writable>::write(frame) }.expect("a temp slot");
        if COPY.load(Ordering::Relaxed) {
            page.copy_from_slice(&SOURCE);
        } else {
            page[0] = 1;
        }
    }
}

/// A temp-workload worker: ready, wait for the start, warm up, time batches.
fn temp_worker(cpus_in_run: usize) {
    let cpu = cpu_id();
    READY.fetch_add(1, Ordering::AcqRel);
    if cpu == 0 {
        while READY.load(Ordering::Acquire) < cpus_in_run {
            crate::cpu::shootdown::serve();
            core::hint::spin_loop();
        }
        GO.store(1, Ordering::Release);
    }
    while GO.load(Ordering::Acquire) == 0 {
        crate::cpu::shootdown::serve();
        core::hint::spin_loop();
    }
    let mut samples = Vec::with_capacity(BATCHES);
    for b in 0..WARMUP + BATCHES {
        let t0 = arch::cpu::rdtsc();
        for _ in 0..BATCH {
            one_op(cpu);
        }
        if b >= WARMUP {
            samples.push((arch::cpu::rdtsc() - t0) / BATCH);
        }
    }
    let (p50, p90, p99, mean) = percentiles(samples);
    for (slot, v) in RESULT[cpu].iter().zip([p50, p90, p99, mean]) {
        slot.store(v, Ordering::Relaxed);
    }
}

/// Map + touch + unmap, then map + 4 KiB copy + unmap, throughput per variant and CPU
/// count.
fn temp_throughput() {
    let cpus: Vec<usize> = percpu::online().map(|c| c.id()).collect();
    for &cpu in &cpus {
        let f = frames::alloc_low().expect("a frame for the bench");
        FRAME[cpu].store(f.0, Ordering::Relaxed);
        RAW_VA[cpu].store(
            kva::map(f.addr(), PAGE_SIZE, Caching::WriteBack),
            Ordering::Relaxed,
        );
    }
    let previous = temp::strategy();
    let mut counts: Vec<usize> = (0..)
        .map(|i| 1 << i)
        .take_while(|&n| n < cpus.len())
        .collect();
    counts.push(cpus.len());
    for (copy, workload) in [(false, "temp_map_touch"), (true, "temp_map_copy4k")] {
        COPY.store(copy, Ordering::Relaxed);
        for variant in [RAW, PER_CPU, GLOBAL] {
            temp::set_strategy(if variant == GLOBAL {
                Strategy::GlobalPool
            } else {
                Strategy::PerCpu
            });
            VARIANT.store(variant, Ordering::Relaxed);
            for &k in &counts {
                READY.store(0, Ordering::Relaxed);
                GO.store(0, Ordering::Relaxed);
                ipi::call_on_cpus(&cpus[..k], temp_worker, k).expect("every bench CPU answers");
                for &cpu in &cpus[..k] {
                    let [p50, p90, p99, mean] =
                        RESULT[cpu].each_ref().map(|v| v.load(Ordering::Relaxed));
                    let per_sec = crate::time::tsc_per_ms() * 1000 / mean.max(1);
                    record(format_args!(
                        "{{\"event\":\"bench\",\"workload\":\"{workload}\",\"strategy\":\"{}\",\"cpus\":{k},\"cpu\":{cpu},\"ops\":{},\"p50\":{p50},\"p90\":{p90},\"p99\":{p99},\"mean\":{mean},\"ops_per_sec\":{per_sec}}}",
                        VARIANT_NAMES[variant],
                        BATCH * BATCHES as u64
                    ));
                }
            }
        }
    }
    temp::set_strategy(previous);
}

fn noop(_: usize) {}

/// Call-function IPI round trip to each other CPU.
fn ipi_round_trip() {
    for target in percpu::online().map(|c| c.id()).filter(|&c| c != cpu_id()) {
        let samples: Vec<u64> = (0..WARMUP + BATCHES)
            .map(|_| {
                let t0 = arch::cpu::rdtsc();
                ipi::call_on(target, noop, 0).expect("the target answers");
                arch::cpu::rdtsc() - t0
            })
            .skip(WARMUP)
            .collect();
        let (p50, p90, p99, mean) = percentiles(samples);
        record(format_args!(
            "{{\"event\":\"bench\",\"workload\":\"ipi_round_trip\",\"target\":{target},\"p50\":{p50},\"p90\":{p90},\"p99\":{p99},\"mean\":{mean}}}"
        ));
    }
}

/// A one-page round to 1, 2, ... N-1 targets (a user space no CPU has loaded: the targets
/// only acknowledge, so this is the protocol's own cost).
fn shootdown_targets() {
    let others: Vec<usize> = percpu::online()
        .map(|c| c.id())
        .filter(|&c| c != cpu_id())
        .collect();
    for t in 1..=others.len() {
        let mask = others[..t].iter().fold(0u32, |m, &c| m | (1 << c));
        let samples: Vec<u64> = (0..WARMUP + BATCHES)
            .map(|_| {
                let t0 = arch::cpu::rdtsc();
                shootdown_as_given(
                    Space::User { directory: 0x1000 },
                    mask,
                    Flush::Range {
                        start: 0x1000,
                        pages: 1,
                    },
                );
                arch::cpu::rdtsc() - t0
            })
            .skip(WARMUP)
            .collect();
        let (p50, p90, p99, mean) = percentiles(samples);
        record(format_args!(
            "{{\"event\":\"bench\",\"workload\":\"shootdown_targets\",\"targets\":{t},\"p50\":{p50},\"p90\":{p90},\"p99\":{p99},\"mean\":{mean}}}"
        ));
    }
}

fn touch(va: usize) {
    // SAFETY: only mapped kernel pages are touched (the probe pages, the direct map).
    unsafe { core::ptr::read_volatile(va as *const u8) };
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// The sweep: for each size, the median cycles of a round plus the refills, as a range of
/// `invlpg`s and as a full flush; then the smallest size where the full flush is cheaper.
fn flush_ceiling() {
    let max = *SIZES.last().unwrap_or(&1) as usize;
    let frame = frames::alloc_low().expect("a frame for the bench pages");
    let base = kva::map(frame.addr(), PAGE_SIZE, Caching::WriteBack);
    for _ in 1..max {
        kva::map(frame.addr(), PAGE_SIZE, Caching::WriteBack);
    }
    let me = cpu_id();
    let targets = percpu::online().fold(0u32, |m, c| m | (1 << c.id())) & !(1 << me);
    let working: Vec<usize> = (0..WORKING_SET)
        .map(|i| phys_to_virt((i * PAGE_SIZE) as u64 + (4 << 20)))
        .collect();
    let mut crossover = None;
    for &n in &SIZES {
        let pages: Vec<usize> = (0..n as usize).map(|i| base + i * PAGE_SIZE).collect();
        let time = |flush: Flush| {
            let samples: Vec<u64> = (0..REPS)
                .map(|_| {
                    pages.iter().chain(&working).for_each(|&va| touch(va));
                    let t0 = arch::cpu::rdtsc();
                    shootdown_as_given(Space::Kernel, targets, flush);
                    pages.iter().chain(&working).for_each(|&va| touch(va));
                    arch::cpu::rdtsc() - t0
                })
                .collect();
            median(samples)
        };
        let range = time(Flush::Range {
            start: base as u32,
            pages: n,
        });
        let full = time(Flush::All);
        if crossover.is_none() && full <= range {
            crossover = Some(n);
        }
        record(format_args!(
            "{{\"event\":\"bench\",\"workload\":\"flush_ceiling\",\"pages\":{n},\"targets\":{},\"range_cycles\":{range},\"full_cycles\":{full}}}",
            targets.count_ones()
        ));
    }
    record(format_args!(
        "{{\"event\":\"bench_summary\",\"workload\":\"flush_ceiling\",\"crossover_pages\":{},\"ceiling_in_use\":{}}}",
        crossover.map_or(-1, |n| n as i64),
        crate::cpu::shootdown::CEILING
    ));
}
