//! `bench_calls`: Tempest's benchmark-control calls refuse bad input with a clear errno and
//! print nothing for it: `bench_report` with a bad pointer, an unknown workload, no
//! operations or percentiles out of order; `bench_barrier(0)` or beyond the CPU limit. A
//! start line of one releases its caller at once.
#![no_std]
#![no_main]

use tempest_user::sys::{self, BENCH_WRITE, BenchReport, EFAULT, EINVAL};
use tempest_user::{Args, Checks};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("bench_calls");
    let good = BenchReport {
        workload: BENCH_WRITE,
        bytes: 4096,
        cpus: 1,
        ops: 200,
        p50: 10,
        p90: 20,
        p99: 30,
        mean: 15,
    };
    let refused = [
        (
            "unknown workload",
            BenchReport {
                workload: 0,
                ..good
            },
        ),
        (
            "workload 11 (one past the last known)",
            BenchReport {
                workload: 11,
                ..good
            },
        ),
        ("no operations", BenchReport { ops: 0, ..good }),
        ("p50 above p90", BenchReport { p50: 25, ..good }),
        ("p90 above p99", BenchReport { p90: 40, ..good }),
        ("zero mean", BenchReport { mean: 0, ..good }),
    ];
    for (what, report) in refused {
        c.eq(what, sys::bench_report(&report), -EINVAL as isize);
    }
    // SAFETY: never dereferenced here: the kernel checks the pointer and refuses it.
    let unmapped = unsafe { &*(0x1000_0000 as *const BenchReport) };
    c.eq(
        "report at an unmapped address",
        sys::bench_report(unmapped),
        -EFAULT as isize,
    );
    c.eq("bench_barrier(0)", sys::bench_barrier(0), -EINVAL as isize);
    c.eq(
        "bench_barrier(1000)",
        sys::bench_barrier(1000),
        -EINVAL as isize,
    );
    c.eq("bench_barrier(1)", sys::bench_barrier(1), 0);
    c.eq("bench_barrier(1) again", sys::bench_barrier(1), 0);
    c.finish()
}
