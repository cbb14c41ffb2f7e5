//! In-kernel measurements (`bench=WORKLOAD` on the command line), reported as
//! `@@tempest {"event":"bench",...}` records. So far one workload, `flush-ceiling`: where a
//! shootdown round of n kernel pages becomes cheaper as a full flush than as n `invlpg`s,
//! counting the refills the flush causes (the pages themselves and a working set of the
//! direct map, which a full kernel flush drops too). The bench issue will add the rest.

use crate::console::record;
use crate::mm::frames;
use crate::mm::kva::{self, Caching};
use crate::mm::layout::phys_to_virt;
use crate::percpu::{self, cpu_id};
use crate::shootdown::shootdown_as_given;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use smp::shootdown::{Flush, Space};

/// Page counts swept.
const SIZES: [u32; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/// Direct-map pages touched after each round, as the rest of the kernel's working set.
const WORKING_SET: usize = 256;
/// Timed repetitions per point (the median is kept).
const REPS: usize = 31;

/// Runs the workload named on the command line; false when the name is unknown.
pub fn run(workload: &str) -> bool {
    match workload {
        "flush-ceiling" => {
            flush_ceiling();
            true
        }
        _ => false,
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
        crate::shootdown::CEILING
    ));
}
