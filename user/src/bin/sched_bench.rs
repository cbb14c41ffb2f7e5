//! `sched_bench`: what the kernel model costs, timed in user mode with `rdtsc` in one boot,
//! each workload reported through `bench_report` (cycles per operation; docs/benchmarks.md,
//! "The kernel model"). It must run alone: `temp_bench` wants no other CPU mapping.
//!
//! - `context_switch`: two threads pinned to CPU 0 hand the CPU to each other with
//!   `sched_yield` (not a futex ping-pong: no wake-up path in the figure). One round trip,
//!   A yields, B runs and yields, A runs again, is two switches and two `sched_yield` calls;
//!   the sample is half of it. A round in which B did not run exactly once (a timer tick
//!   came between) is not counted.
//! - `futex_wake`: thread A on the first CPU stores a word and `FUTEX_WAKE`s thread B, asleep
//!   in `FUTEX_WAIT` on the second (idle meanwhile); B reads the TSC as soon as the wait
//!   returns in user mode and hands it back (storing it and waking A, which sleeps in
//!   `FUTEX_WAIT` meanwhile rather than spinning, so that under TCG its vCPU thread leaves
//!   the host core to B's). The sample is B's TSC minus A's just before the wake call (a
//!   QEMU guest's CPUs share one TSC). A round whose wake found nobody asleep (B was not
//!   back in its wait yet) is not counted, and A lets B settle longer after it.
//! - `migration`: one thread alternates its affinity between the first and the second CPU;
//!   `sched_setaffinity` moves the caller before it returns (checked with `getcpu` after
//!   every call). The sample is the call, from the old CPU's TSC to the new one's.
//! - `temp_task_pinned` and `temp_task_preempt_off`: Tempest's `temp_bench(0)` and
//!   `temp_bench(1)`, called alternately; each call is the kernel's median cycles of one temp
//!   map + touch + unmap made by this task (64 batches of 64), with today's guard (pins the
//!   task, preemptible) and with the older one (raises the preempt count). Also printed:
//!   the median ratio of the two designs call by call (each pair ran back to back).
//!
//! 16 warm-up rounds (4 calls per design for `temp_bench`, whose every call warms up with 8
//! batches of its own), then 200 counted samples of each, whose p50/p90/p99/mean are
//! reported (`cpus` = the CPUs the workload used, `bytes` = 0) and printed. With one CPU,
//! `futex_wake` and `migration` are skipped with a line saying so. Exits 0, or 1 with a
//! `FAIL` line when a call fails or a thread is found off its CPU.
#![no_std]
#![no_main]

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{
    self, BenchReport, EAGAIN, EINTR, ETIMEDOUT, FUTEX_PRIVATE_FLAG, Timespec,
};
use tempest_user::thread::usable_cpus;
use tempest_user::{Args, Thread, println, rdtsc};

tempest_user::entry!(main);

/// Untimed rounds first, then counted samples (as the other workloads do).
const WARMUP: usize = 16;
const SAMPLES: usize = 200;
/// Untimed `temp_bench` calls per design (each call warms up with 8 batches of its own).
const TEMP_WARMUP: usize = 4;
/// Rounds tried per counted sample before the workload gives up.
const MAX_ROUNDS_PER_SAMPLE: usize = 20;

/// Tempest's `temp_bench(design)`: the median cycles of one temp map + touch + unmap made
/// by the calling task, or `-errno`.
const SYS_TEMP_BENCH: u32 = 0x10005;
/// `temp_bench` designs: today's guard (pins the task) and the older one (preempt count).
const DESIGN_PINNED: usize = 0;
const DESIGN_PREEMPT_OFF: usize = 1;

/// `bench_report` workload numbers (kernel/src/syscall/bench.rs).
const BENCH_CONTEXT_SWITCH: u32 = 2;
const BENCH_FUTEX_WAKE: u32 = 3;
const BENCH_MIGRATION: u32 = 4;
const BENCH_TEMP_TASK_PINNED: u32 = 5;
const BENCH_TEMP_TASK_PREEMPT_OFF: u32 = 6;
const BENCH_FORK_EXIT_WAIT: u32 = 7;
const BENCH_PIPE_4K: u32 = 8;
const BENCH_PIPE_64K: u32 = 9;
const BENCH_FORK_EXEC_WAIT: u32 = 10;

/// Linux's numbers of the pipe calls the last workloads make.
const SYS_READ: u32 = 3;
const SYS_PIPE: u32 = 42;

/// `sched_bench exit`: what `fork_exec_wait`'s children run: exit at once.
const EXIT_AT_ONCE: &str = "exit";

/// A workload failed; its `FAIL` line is printed.
struct Failed;

fn fail(what: fmt::Arguments) -> Failed {
    println!("sched_bench: FAIL: {what}");
    Failed
}

/// The partner thread's state: 0 starting, 1 pinned and on its CPU, 2 could not pin.
static PARTNER_READY: AtomicU32 = AtomicU32::new(0);
/// Set when the partner must exit.
static STOP: AtomicU32 = AtomicU32::new(0);
/// `context_switch`: the partner's turns on the CPU.
static TURNS: AtomicU32 = AtomicU32::new(0);
/// `futex_wake`: the round A hands to B (B sleeps on it; [`LAST_ROUND`] ends B), the round
/// B answered, the TSC B read when it ran (low and high halves, published by `ANSWERED`),
/// and the waits of B that failed.
static ROUND: AtomicU32 = AtomicU32::new(0);
static ANSWERED: AtomicU32 = AtomicU32::new(0);
static RAN_LO: AtomicU32 = AtomicU32::new(0);
static RAN_HI: AtomicU32 = AtomicU32::new(0);
static WAIT_ERRORS: AtomicU32 = AtomicU32::new(0);
const LAST_ROUND: u32 = u32::MAX;

fn main(args: &Args) -> i32 {
    if args.str(1) == Some(EXIT_AT_ONCE) {
        return 0;
    }
    let mask = usable_cpus();
    let first = mask.trailing_zeros();
    let second = (mask & !(1 << first)).trailing_zeros();
    let cpus = mask.count_ones();
    if sys::pin_to_cpu(first) != 0 || sys::current_cpu() != first as isize {
        println!("sched_bench: FAIL: could not pin the main thread to cpu {first}");
        return 1;
    }
    let tsc_per_us = tsc_per_us();
    println!("sched_bench: cpus {mask:#x}, {tsc_per_us} TSC cycles per us");
    let mut ok = context_switch(first).is_ok();
    if cpus < 2 {
        println!("sched_bench: futex_wake: skipped: needs two CPUs, this boot has one");
        println!("sched_bench: migration: skipped: needs two CPUs, this boot has one");
    } else {
        ok &= futex_wake(first, second, tsc_per_us).is_ok();
        ok &= migration(first, second).is_ok();
        // Back where the rest runs.
        ok &= sys::pin_to_cpu(first) == 0;
    }
    ok &= temp_task().is_ok();
    ok &= fork_exit_wait().is_ok();
    ok &= fork_exec_wait(args).is_ok();
    ok &= pipe_transfer(4096, BENCH_PIPE_4K, "pipe_4k", tsc_per_us).is_ok();
    ok &= pipe_transfer(65536, BENCH_PIPE_64K, "pipe_64k", tsc_per_us).is_ok();
    if ok {
        println!("sched_bench: done");
        0
    } else {
        println!("sched_bench: FAILED");
        1
    }
}

/// TSC cycles per microsecond, against `CLOCK_MONOTONIC` over 10 ms.
fn tsc_per_us() -> u64 {
    let (ns0, t0) = (sys::monotonic_ns(), rdtsc());
    while sys::monotonic_ns() < ns0 + 10_000_000 {
        core::hint::spin_loop();
    }
    let (ns1, t1) = (sys::monotonic_ns(), rdtsc());
    ((t1 - t0) * 1000 / (ns1 - ns0).max(1)).max(1)
}

/// Sorts `samples` and reports their percentiles and mean as `workload` on `cpus` CPUs,
/// with a human line: `sched_bench: NAME: WHAT: p50 ... cycles per UNIT, N samples`.
fn report(
    workload: u32,
    name: &str,
    cpus: u32,
    what: fmt::Arguments,
    samples: &mut [u64],
    skipped: usize,
) -> Result<(), Failed> {
    samples.sort_unstable();
    let n = samples.len();
    let at = |q: usize| samples[(n - 1) * q / 100];
    let report = BenchReport {
        workload,
        bytes: 0,
        cpus,
        ops: n as u32,
        p50: at(50).max(1),
        p90: at(90).max(1),
        p99: at(99).max(1),
        mean: (samples.iter().sum::<u64>() / n as u64).max(1),
    };
    println!(
        "sched_bench: {name}: {what}: p50 {} p90 {} p99 {} mean {} cycles, {n} samples ({skipped} not counted)",
        report.p50, report.p90, report.p99, report.mean
    );
    match sys::bench_report(&report) {
        0 => Ok(()),
        r => Err(fail(format_args!("bench_report({name}) = {r}"))),
    }
}

/// Starts `entry(cpu)` and waits until it reports itself pinned to `cpu` (it must store
/// [`PARTNER_READY`]).
fn start_partner(entry: extern "C" fn(usize) -> !, cpu: u32) -> Result<Thread, Failed> {
    PARTNER_READY.store(0, Ordering::Release);
    STOP.store(0, Ordering::Release);
    let thread = Thread::spawn(entry, cpu as usize)
        .map_err(|e| fail(format_args!("clone of the partner thread = {e}")))?;
    while PARTNER_READY.load(Ordering::Acquire) == 0 {
        // The partner may share this CPU: let it run.
        sys::sched_yield();
    }
    if PARTNER_READY.load(Ordering::Acquire) != 1 {
        return Err(fail(format_args!(
            "could not pin the partner thread to cpu {cpu}"
        )));
    }
    Ok(thread)
}

/// Pins the calling partner thread to `cpu` and says whether it runs there.
fn pin_partner(cpu: usize) {
    let pinned = sys::pin_to_cpu(cpu as u32) == 0 && sys::current_cpu() == cpu as isize;
    PARTNER_READY.store(if pinned { 1 } else { 2 }, Ordering::Release);
}

/// Waits at most 5 s for the partner to exit.
fn join_partner(thread: Thread) -> Result<(), Failed> {
    if thread.join_timeout(5_000) {
        Ok(())
    } else {
        Err(fail(format_args!(
            "the partner thread did not exit within 5 s"
        )))
    }
}

/// The `context_switch` partner: on `cpu`, counts a turn and yields, until told to stop.
extern "C" fn yielder(cpu: usize) -> ! {
    pin_partner(cpu);
    while STOP.load(Ordering::Acquire) == 0 {
        TURNS.fetch_add(1, Ordering::AcqRel);
        sys::sched_yield();
    }
    sys::exit(0)
}

fn context_switch(cpu: u32) -> Result<(), Failed> {
    let partner = start_partner(yielder, cpu)?;
    let mut samples = [0u64; SAMPLES];
    let (mut counted, mut rounds, mut skipped) = (0, 0, 0);
    while counted < SAMPLES {
        if rounds > WARMUP + MAX_ROUNDS_PER_SAMPLE * SAMPLES {
            STOP.store(1, Ordering::Release);
            return Err(fail(format_args!(
                "context_switch: only {counted} of {rounds} yields went to the partner and back"
            )));
        }
        let before = TURNS.load(Ordering::Acquire);
        let t0 = rdtsc();
        sys::sched_yield();
        let cycles = rdtsc() - t0;
        let turns = TURNS.load(Ordering::Acquire).wrapping_sub(before);
        rounds += 1;
        if rounds <= WARMUP {
            continue;
        }
        if turns == 1 {
            samples[counted] = cycles / 2;
            counted += 1;
        } else {
            skipped += 1;
        }
    }
    let off = sys::current_cpu() != cpu as isize;
    STOP.store(1, Ordering::Release);
    join_partner(partner)?;
    if off {
        return Err(fail(format_args!(
            "context_switch: main thread off cpu {cpu}"
        )));
    }
    report(
        BENCH_CONTEXT_SWITCH,
        "context_switch",
        1,
        format_args!("two threads on cpu {cpu}, sched_yield, per switch (round trip / 2)"),
        &mut samples,
        skipped,
    )
}

/// The `futex_wake` partner: on `cpu`, sleeps on [`ROUND`] and answers every new round with
/// the TSC it read when its wait returned, until [`LAST_ROUND`].
extern "C" fn sleeper(cpu: usize) -> ! {
    pin_partner(cpu);
    let mut seen = 0;
    loop {
        let ret = sys::futex_wait(&ROUND, seen, None, FUTEX_PRIVATE_FLAG);
        let ran = rdtsc();
        let round = ROUND.load(Ordering::Acquire);
        if ret != 0 && ret != -(EAGAIN as isize) && ret != -(EINTR as isize) {
            WAIT_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
        if round == seen {
            continue;
        }
        if round == LAST_ROUND {
            sys::exit(0);
        }
        RAN_LO.store(ran as u32, Ordering::Relaxed);
        RAN_HI.store((ran >> 32) as u32, Ordering::Relaxed);
        ANSWERED.store(round, Ordering::Release);
        sys::futex_wake(&ANSWERED, 1, FUTEX_PRIVATE_FLAG);
        seen = round;
    }
}

fn futex_wake(waker: u32, sleeper_cpu: u32, tsc_per_us: u64) -> Result<(), Failed> {
    ROUND.store(0, Ordering::Release);
    ANSWERED.store(0, Ordering::Release);
    let partner = start_partner(sleeper, sleeper_cpu)?;
    let result = futex_wake_rounds(waker, sleeper_cpu, tsc_per_us);
    ROUND.store(LAST_ROUND, Ordering::Release);
    sys::futex_wake(&ROUND, 1, FUTEX_PRIVATE_FLAG);
    join_partner(partner)?;
    let errors = WAIT_ERRORS.load(Ordering::Acquire);
    if errors > 0 {
        return Err(fail(format_args!(
            "futex_wake: {errors} FUTEX_WAITs of the partner failed"
        )));
    }
    let (mut samples, skipped) = result?;
    report(
        BENCH_FUTEX_WAKE,
        "futex_wake",
        2,
        format_args!("FUTEX_WAKE on cpu {waker} until the sleeper runs on cpu {sleeper_cpu}"),
        &mut samples,
        skipped,
    )
}

/// The rounds of `futex_wake`: the samples and how many rounds were not counted.
fn futex_wake_rounds(
    waker: u32,
    sleeper_cpu: u32,
    tsc_per_us: u64,
) -> Result<([u64; SAMPLES], usize), Failed> {
    let mut samples = [0u64; SAMPLES];
    // Time for the sleeper to get back into its wait after answering: doubled (to 10 ms at
    // most) whenever a wake finds nobody asleep.
    let mut settle = 100 * tsc_per_us;
    let give_up = 5_000_000 * tsc_per_us;
    let (mut counted, mut skipped) = (0, 0);
    let mut last_answer = rdtsc();
    for round in 1u32.. {
        if counted == SAMPLES {
            break;
        }
        if round as usize > WARMUP + MAX_ROUNDS_PER_SAMPLE * SAMPLES {
            return Err(fail(format_args!(
                "futex_wake: only {counted} of {round} wakes found the sleeper asleep"
            )));
        }
        while rdtsc() < last_answer + settle {
            core::hint::spin_loop();
        }
        let t0 = rdtsc();
        ROUND.store(round, Ordering::Release);
        let woken = sys::futex_wake(&ROUND, 1, FUTEX_PRIVATE_FLAG);
        if woken < 0 {
            return Err(fail(format_args!("futex_wake: FUTEX_WAKE = {woken}")));
        }
        // Asleep, not spinning, so this CPU's vCPU thread leaves the host core to the
        // sleeper's while it wakes up.
        while ANSWERED.load(Ordering::Acquire) != round {
            if rdtsc() > t0 + give_up {
                return Err(fail(format_args!(
                    "futex_wake: the sleeper did not answer round {round} within 5 s"
                )));
            }
            let timeout = Timespec::from_millis(100);
            let ret = sys::futex_wait(&ANSWERED, round - 1, Some(&timeout), FUTEX_PRIVATE_FLAG);
            if ret != 0
                && ![EAGAIN, EINTR, ETIMEDOUT]
                    .iter()
                    .any(|&e| ret == -(e as isize))
            {
                return Err(fail(format_args!(
                    "futex_wake: FUTEX_WAIT for the answer = {ret}"
                )));
            }
        }
        last_answer = rdtsc();
        let ran = (u64::from(RAN_HI.load(Ordering::Relaxed)) << 32)
            | u64::from(RAN_LO.load(Ordering::Relaxed));
        if round as usize <= WARMUP {
            continue;
        }
        if woken == 1 && ran > t0 {
            samples[counted] = ran - t0;
            counted += 1;
        } else {
            skipped += 1;
            if woken == 0 {
                settle = (settle * 2).min(10_000 * tsc_per_us);
            }
        }
    }
    if sys::current_cpu() != waker as isize {
        return Err(fail(format_args!(
            "futex_wake: the waker left cpu {waker} (sleeper on {sleeper_cpu})"
        )));
    }
    Ok((samples, skipped))
}

fn migration(from: u32, to: u32) -> Result<(), Failed> {
    let mut samples = [0u64; SAMPLES];
    let mut here = from;
    for i in 0..WARMUP + SAMPLES {
        let there = if here == from { to } else { from };
        let t0 = rdtsc();
        let ret = sys::pin_to_cpu(there);
        let cycles = rdtsc() - t0;
        let now = sys::current_cpu();
        if ret != 0 || now != there as isize {
            return Err(fail(format_args!(
                "migration: sched_setaffinity to cpu {there} = {ret}, then on cpu {now}"
            )));
        }
        here = there;
        if i >= WARMUP {
            samples[i - WARMUP] = cycles;
        }
    }
    report(
        BENCH_MIGRATION,
        "migration",
        2,
        format_args!("sched_setaffinity moving the caller between cpu {from} and cpu {to}"),
        &mut samples,
        0,
    )
}

/// The temp mappings this process has made so far.
fn temp_maps() -> u64 {
    let mut stats = sys::TempStats::default();
    sys::temp_stats(&mut stats);
    stats.process.maps
}

/// `fork_exit_wait`: fork a child that exits at once, and wait for it; one sample is the
/// whole round, from before `fork` to after `wait4` returned its pid (the child's
/// copy-on-write fault on its stack, its exit and the parent's wake-up included).
fn fork_exit_wait() -> Result<(), Failed> {
    let mut samples = [0u64; SAMPLES];
    let maps_before = temp_maps();
    for i in 0..WARMUP + SAMPLES {
        let t0 = rdtsc();
        fork_and_wait("fork_exit_wait", None)?;
        let cycles = rdtsc() - t0;
        if i >= WARMUP {
            samples[i - WARMUP] = cycles;
        }
    }
    let per_op = (temp_maps() - maps_before) / (WARMUP + SAMPLES) as u64;
    report(
        BENCH_FORK_EXIT_WAIT,
        "fork_exit_wait",
        2,
        format_args!("fork + _exit + wait4 ({per_op} temp mappings per round in the parent)"),
        &mut samples,
        0,
    )
}

/// [`sys::fork_and_wait`], a failure named for workload `name`.
fn fork_and_wait(name: &str, exec: Option<(*const u8, &[*const u8; 3])>) -> Result<u32, Failed> {
    sys::fork_and_wait(exec).map_err(|e| fail(format_args!("{name}: fork or wait4 = {e}")))
}

/// `fork_exec_wait`: fork a child that `execve`s this very program (`argv[0]`) with the
/// argument `exit`, which ends it at once, and wait for it; one sample is the whole round.
/// Less `fork_exit_wait`, it is what loading a program costs: the new address space, the
/// ELF's pages read from the file system into fresh frames through temp mappings, the
/// stack with its strings. The temp mappings per round are this CPU's (the child inherits
/// the parent's pinning, so both run here). Skipped with a line saying so when `argv[0]`
/// is not in the root file system (a boot without initramfs).
fn fork_exec_wait(args: &Args) -> Result<(), Failed> {
    let Some(path) = args.get(0) else {
        println!("sched_bench: fork_exec_wait: skipped: no argv[0] to execute");
        return Ok(());
    };
    // argv[0] is the kernel's NUL-terminated string, so its pointer is a C string.
    let argv = [
        path.as_ptr(),
        c"exit".as_ptr().cast::<u8>(),
        core::ptr::null(),
    ];
    let cpu_maps = || {
        let mut stats = sys::TempStats::default();
        sys::temp_stats(&mut stats);
        stats.cpu.maps
    };
    let mut samples = [0u64; SAMPLES];
    let maps_before = cpu_maps();
    for i in 0..WARMUP + SAMPLES {
        let t0 = rdtsc();
        let status = fork_and_wait("fork_exec_wait", Some((path.as_ptr(), &argv)))?;
        let cycles = rdtsc() - t0;
        if status == 127 << 8 && i == 0 {
            println!(
                "sched_bench: fork_exec_wait: skipped: {} cannot be executed (not in the root file system)",
                core::str::from_utf8(path).unwrap_or("argv[0]")
            );
            return Ok(());
        }
        if status != 0 {
            return Err(fail(format_args!(
                "fork_exec_wait: the child ended with wait status {status:#x}"
            )));
        }
        if i >= WARMUP {
            samples[i - WARMUP] = cycles;
        }
    }
    let per_op = (cpu_maps() - maps_before) / (WARMUP + SAMPLES) as u64;
    report(
        BENCH_FORK_EXEC_WAIT,
        "fork_exec_wait",
        1,
        format_args!(
            "fork + execve + _exit + wait4 ({per_op} temp mappings per round on this CPU)"
        ),
        &mut samples,
        0,
    )
}

/// `pipe_4k`, `pipe_64k`: `bytes` written into a pipe and read back by the same thread;
/// each byte crosses four temp mappings (user page and pipe page, in and out). One sample
/// is the round; the line also gives MB/s.
fn pipe_transfer(bytes: usize, workload: u32, name: &str, tsc_per_us: u64) -> Result<(), Failed> {
    let mut fds = [0i32; 2];
    let made = sys::syscall1(SYS_PIPE, fds.as_mut_ptr() as usize);
    let (from, to) = (sys::map_anonymous(bytes), sys::map_anonymous(bytes));
    if made != 0 || sys::is_error(from) || sys::is_error(to) {
        return Err(fail(format_args!(
            "{name}: pipe = {made}, buffers {from} {to}"
        )));
    }
    let mut samples = [0u64; SAMPLES];
    let maps_before = temp_maps();
    for i in 0..WARMUP + SAMPLES {
        let t0 = rdtsc();
        let wrote = sys::write(fds[1], from as *const u8, bytes);
        let mut read = 0;
        while read < bytes {
            let n = sys::syscall3(SYS_READ, fds[0] as usize, to as usize + read, bytes - read);
            if n <= 0 {
                return Err(fail(format_args!("{name}: read = {n}")));
            }
            read += n as usize;
        }
        let cycles = rdtsc() - t0;
        if wrote != bytes as isize {
            return Err(fail(format_args!("{name}: write = {wrote}")));
        }
        if i >= WARMUP {
            samples[i - WARMUP] = cycles;
        }
    }
    let per_op = (temp_maps() - maps_before) / (WARMUP + SAMPLES) as u64;
    sys::close(fds[0]);
    sys::close(fds[1]);
    samples.sort_unstable();
    let mb_per_s = bytes as u64 * tsc_per_us / samples[SAMPLES / 2].max(1);
    report(
        workload,
        name,
        1,
        format_args!(
            "{bytes} bytes through a pipe and back, {mb_per_s} MB/s at the median, {per_op} temp mappings per round"
        ),
        &mut samples,
        0,
    )
}

/// A ratio in thousandths, printed as `1.034`.
struct Permille(u64);

impl fmt::Display for Permille {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

fn temp_task() -> Result<(), Failed> {
    let mut pinned = [0u64; SAMPLES];
    let mut preempt_off = [0u64; SAMPLES];
    for i in 0..TEMP_WARMUP + SAMPLES {
        // Alternately, so both designs see the same conditions.
        for (design, samples) in [
            (DESIGN_PINNED, &mut pinned),
            (DESIGN_PREEMPT_OFF, &mut preempt_off),
        ] {
            let cycles = sys::syscall1(SYS_TEMP_BENCH, design);
            if cycles <= 0 {
                return Err(fail(format_args!("temp_bench({design}) = {cycles}")));
            }
            if i >= TEMP_WARMUP {
                samples[i - TEMP_WARMUP] = cycles as u64;
            }
        }
    }
    // Calls i of both designs ran one after the other: their ratio does not move when the
    // host's speed does (under TCG it changes between and within boots).
    let mut pairs = [0u64; SAMPLES];
    for (ratio, (&a, &b)) in pairs.iter_mut().zip(pinned.iter().zip(&preempt_off)) {
        *ratio = a * 1000 / b;
    }
    pairs.sort_unstable();
    let at = |q: usize| Permille(pairs[(SAMPLES - 1) * q / 100]);
    println!(
        "sched_bench: temp_task: pinned / preempt-off, call by call: median {}x (p10 {}x, p90 {}x)",
        at(50),
        at(10),
        at(90)
    );
    let what = "median of 64 batches of 64 map + touch + unmap per call, per operation";
    report(
        BENCH_TEMP_TASK_PINNED,
        "temp_task_pinned",
        1,
        format_args!("guard pins the task: {what}"),
        &mut pinned,
        0,
    )?;
    report(
        BENCH_TEMP_TASK_PREEMPT_OFF,
        "temp_task_preempt_off",
        1,
        format_args!("guard raises the preempt count: {what}"),
        &mut preempt_off,
        0,
    )
}
