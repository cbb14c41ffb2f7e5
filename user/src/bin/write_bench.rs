//! `write_bench GROUP [BYTES...]`: the syscall-level temp-mapping workload. Writes BYTES
//! (default 4096 and 65536) from a user buffer to `/dev/null`, which copies every byte into
//! the kernel through temp mappings, and times each `write` with `rdtsc` in user mode. GROUP
//! copies of this program (one per CPU: the kernel spreads them) start each size together
//! at Tempest's benchmark start line, so GROUP = 1 measures one CPU alone and GROUP = N all
//! CPUs at once. Each copy reports its percentiles through `bench_report`; the kernel prints
//! them as `bench` records with the CPU (docs/benchmarks.md).
#![no_std]
#![no_main]

use tempest_user::sys::{self, BENCH_WRITE, BenchReport, O_WRONLY};
use tempest_user::{Args, println, rdtsc};

tempest_user::entry!(main);

/// Untimed writes first, then timed ones (as the in-kernel workloads do).
const WARMUP: usize = 16;
const OPS: usize = 200;
/// Sizes written when none are named.
const DEFAULT_SIZES: [usize; 2] = [4096, 65536];
/// Largest size accepted (the buffer is mapped once, for the largest).
const MAX_BYTES: usize = 1 << 20;

fn main(args: &Args) -> i32 {
    let Some(group) = args.str(1).and_then(|a| a.parse::<u32>().ok()) else {
        println!("usage: write_bench GROUP [BYTES...]");
        return 2;
    };
    let mut sizes = [0usize; 8];
    let mut count = 0;
    for a in (2..args.len()).filter_map(|i| args.str(i)) {
        match a.parse::<usize>() {
            Ok(n) if (1..=MAX_BYTES).contains(&n) && count < sizes.len() => {
                sizes[count] = n;
                count += 1;
            }
            _ => {
                println!("write_bench: BYTES must be 1..={MAX_BYTES}, at most 8 of them: `{a}`");
                return 2;
            }
        }
    }
    if count == 0 {
        sizes[..2].copy_from_slice(&DEFAULT_SIZES);
        count = 2;
    }
    let sizes = &sizes[..count];
    let largest = sizes.iter().copied().max().unwrap_or(0);

    let fd = sys::open(b"/dev/null\0", O_WRONLY);
    let buf = sys::map_anonymous(largest);
    if fd < 0 || sys::is_error(buf) {
        println!("write_bench: FAIL: open(/dev/null) = {fd}, mmap2 = {buf}");
        return 1;
    }
    // SAFETY: the mapping is this program's and `largest` bytes long.
    let data = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, largest) };
    for (i, b) in data.iter_mut().enumerate() {
        *b = i as u8;
    }

    for &bytes in sizes {
        let index = sys::bench_barrier(group);
        if index < 0 {
            println!("write_bench: FAIL: bench_barrier({group}) = {index}");
            return 1;
        }
        let mut samples = [0u64; OPS];
        for i in 0..WARMUP + OPS {
            let t0 = rdtsc();
            let r = sys::write(fd as i32, data.as_ptr(), bytes);
            let cycles = rdtsc() - t0;
            if r != bytes as isize {
                println!("write_bench: FAIL: write of {bytes} bytes to /dev/null = {r}");
                return 1;
            }
            if i >= WARMUP {
                samples[i - WARMUP] = cycles;
            }
        }
        samples.sort_unstable();
        let at = |q: usize| samples[(OPS - 1) * q / 100];
        let report = BenchReport {
            workload: BENCH_WRITE,
            bytes: bytes as u32,
            cpus: group,
            ops: OPS as u32,
            p50: at(50),
            p90: at(90),
            p99: at(99),
            mean: samples.iter().sum::<u64>() / OPS as u64,
        };
        let r = sys::bench_report(&report);
        if r != 0 {
            println!("write_bench: FAIL: bench_report = {r}");
            return 1;
        }
    }
    0
}
