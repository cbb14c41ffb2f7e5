//! Tempest's benchmark-control calls, for user programs that time themselves (the `write`
//! workload, `user/src/bin/write_bench.rs`): a start line that releases a group of threads
//! or processes together, and a report that leaves as a `bench` record with the CPU the
//! caller ran on. They exist for benchmarks: the start line is one for the whole system.

use super::SysResult;
use crate::console::record;
use crate::cpu::percpu::cpu_id;
use crate::errno::Errno;
use crate::mm::temp::window::MAX_CPUS;
use crate::mm::uaccess;
use crate::sched;
use core::sync::atomic::{AtomicU32, Ordering};

/// The start line: the round (high 16 bits) and the callers arrived in it (low 16 bits),
/// in one word, so that an arrival, the release and a waiter leaving are each one
/// compare-and-swap and never mix two rounds.
static LINE: AtomicU32 = AtomicU32::new(0);

const ROUND_ONE: u32 = 1 << 16;
const ARRIVED: u32 = ROUND_ONE - 1;

/// `bench_barrier(n)`: waits until `n` callers (the same `n` each) have arrived, then
/// releases them together; returns the caller's arrival index, `0..n`. A waiter keeps
/// answering shootdowns and calls and lets other tasks of its CPU run. `-EINVAL` for `n`
/// outside `1..=MAX_CPUS`; `-EINTR` if a signal comes for the caller or its process is
/// ended while it waits: it then takes its arrival back, so the round still needs `n`
/// callers (unless the round was complete already: then it is released as the others).
pub fn barrier(n: u32) -> SysResult {
    if n == 0 || n as usize > MAX_CPUS {
        return Err(Errno::EINVAL);
    }
    let task = sched::current();
    let mut line = LINE.load(Ordering::Acquire);
    let (round, index) = loop {
        let (round, arrived) = (line & !ARRIVED, line & ARRIVED);
        let next = if arrived + 1 == n {
            round.wrapping_add(ROUND_ONE)
        } else {
            line + 1
        };
        match LINE.compare_exchange(line, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) if arrived + 1 == n => return Ok(arrived),
            Ok(_) => break (round, arrived),
            Err(now) => line = now,
        }
    };
    loop {
        let now = LINE.load(Ordering::Acquire);
        if now & !ARRIVED != round {
            return Ok(index);
        }
        if task.process.exiting.load(Ordering::Relaxed) || task.signal_deliverable() {
            // Leave, unless the last caller completed the round meanwhile.
            if LINE
                .compare_exchange(now, now - 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Err(Errno::EINTR);
            }
            continue;
        }
        crate::cpu::shootdown::serve();
        crate::cpu::ipi::service();
        sched::yield_now();
        core::hint::spin_loop();
    }
}

/// What `bench_report` reads: one caller's timing of one workload.
/// `#[repr(C)] { workload: u32, bytes: u32, cpus: u32, ops: u32, p50: u64, p90: u64,
/// p99: u64, mean: u64 }`, cycles per operation.
const REPORT_SIZE: usize = 48;

/// The workloads a report may name, by number: 1 the `write` workload; then the kernel
/// model's (`user/src/bin/sched_bench.rs`): a context switch between two threads of one
/// CPU, a futex wake-up until the woken thread runs on another CPU, a migration (an
/// affinity change that moves the caller), and a temp mapping made by a task with
/// today's pinning guard and with the older preempt-count guard; then processes and pipes:
/// a fork + exit + wait round, 4 KiB and 64 KiB through a pipe and back, and a fork +
/// exec + exit + wait round.
const WORKLOADS: [&str; 10] = [
    "write",
    "context_switch",
    "futex_wake",
    "migration",
    "temp_task_pinned",
    "temp_task_preempt_off",
    "fork_exit_wait",
    "pipe_4k",
    "pipe_64k",
    "fork_exec_wait",
];

/// `bench_report(report)`: emits `report` as a `bench` record with this CPU and pid.
/// `-EINVAL` for an unknown workload, no operations, or percentiles out of order;
/// `-EFAULT` for a bad pointer.
pub fn report(ptr: u32) -> SysResult {
    let mut raw = [0u8; REPORT_SIZE];
    let process = sched::current_process();
    uaccess::copy_from_user(&process.mem.lock().space, &mut raw, ptr)?;
    let word = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4"));
    let cycles = |i: usize| u64::from_le_bytes(raw[16 + i * 8..24 + i * 8].try_into().expect("8"));
    let [workload, bytes, cpus, ops] = [0, 1, 2, 3].map(word);
    let [p50, p90, p99, mean] = [0, 1, 2, 3].map(cycles);
    let name = WORKLOADS
        .get(workload.wrapping_sub(1) as usize)
        .ok_or(Errno::EINVAL)?;
    if ops == 0 || p50 == 0 || p50 > p90 || p90 > p99 || mean == 0 {
        return Err(Errno::EINVAL);
    }
    let per_sec = crate::time::tsc_per_ms() * 1000 / mean;
    record(format_args!(
        "{{\"event\":\"bench\",\"workload\":\"{name}\",\"bytes\":{bytes},\"cpus\":{cpus},\"cpu\":{},\"pid\":{},\"ops\":{ops},\"p50\":{p50},\"p90\":{p90},\"p99\":{p99},\"mean\":{mean},\"ops_per_sec\":{per_sec}}}",
        cpu_id(),
        process.tgid
    ));
    Ok(0)
}
