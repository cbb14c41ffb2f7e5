//! `clocks`: the clocks and sleeps of the Linux i386 ABI.
//!
//! - `CLOCK_REALTIME` (32- and 64-bit) is after 2020-01-01 and within 10 s of
//!   `gettimeofday` and `time`; the coarse clocks are within 1 s of the fine ones;
//!   `CLOCK_BOOTTIME` is not behind `CLOCK_MONOTONIC`; `clock_getres` gives each clock a
//!   resolution of at most 10 ms.
//! - `CLOCK_MONOTONIC` never goes backwards: one thread per usable CPU (up to four), each
//!   pinned to its own, reads it 1000 times; each read must not be behind the latest read
//!   any thread had published before it started (a shared maximum), nor behind the
//!   thread's own previous read.
//! - `nanosleep(50 ms)` takes at least 50 ms of `CLOCK_MONOTONIC`, and blocks: a second
//!   thread pinned to the same CPU makes progress meanwhile. `clock_nanosleep` sleeps
//!   relative and absolute (`TIMER_ABSTIME`, `CLOCK_MONOTONIC` and `CLOCK_REALTIME`; a
//!   past deadline returns at once), and so does `clock_nanosleep_time64`.
//! - Refusals: an unknown clock (`-EINVAL`), `tv_nsec` of a second or a negative
//!   `tv_sec` (`-EINVAL`), pointers to an unmapped page (`-EFAULT`).
//!
//! Exits 0 when every check passed, else 1.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tempest_user::sys::{
    self, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME, CLOCK_REALTIME_COARSE, EFAULT, EINVAL, TIMER_ABSTIME, Timespec, Timespec64,
    Timeval,
};
use tempest_user::thread::{first_and_last, usable_cpus};
use tempest_user::{Args, Checks, Thread, println};

tempest_user::entry!(main);

/// 2020-01-01T00:00:00Z.
const YEAR_2020: i64 = 1_577_836_800;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const READS: u32 = 1000;
const MAX_READERS: usize = 4;
/// A clock id no kernel knows.
const BAD_CLOCK: u32 = 99;

fn neg(errno: i32) -> isize {
    -(errno as isize)
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("clocks");
    wall_clocks(&mut c);
    resolutions(&mut c);
    monotonic_across_cpus(&mut c);
    sleeps(&mut c);
    refusals(&mut c);
    sleep_blocks(&mut c);
    sys::exit_group(c.finish())
}

fn read(c: &mut Checks, clock: u32, name: &str) -> Timespec64 {
    let mut ts = Timespec64::default();
    c.eq_fmt(
        format_args!("clock_gettime64({name})"),
        sys::clock_gettime64(clock, &mut ts),
        0,
    );
    c.check(
        (0..1_000_000_000).contains(&ts.tv_nsec) && ts.tv_sec >= 0,
        format_args!("{name}: a valid time ({}.{:09})", ts.tv_sec, ts.tv_nsec),
    );
    ts
}

fn wall_clocks(c: &mut Checks) {
    let real = read(c, CLOCK_REALTIME, "CLOCK_REALTIME");
    let mut real32 = Timespec::default();
    c.eq(
        "clock_gettime(CLOCK_REALTIME) (32-bit)",
        sys::clock_gettime(CLOCK_REALTIME, &mut real32),
        0,
    );
    let mut tv = Timeval::default();
    c.eq("gettimeofday", sys::gettimeofday(&mut tv), 0);
    let mut stored = 0;
    let t = sys::time(Some(&mut stored));
    c.check(
        t > 0 && t == stored as isize,
        format_args!("time(&t) = {t}, stored {stored}"),
    );
    c.check(
        real.tv_sec > YEAR_2020,
        format_args!("CLOCK_REALTIME {} s is after 2020-01-01", real.tv_sec),
    );
    for (what, secs) in [
        ("clock_gettime(CLOCK_REALTIME)", i64::from(real32.tv_sec)),
        ("gettimeofday", i64::from(tv.tv_sec)),
        ("time", t as i64),
    ] {
        c.check(
            (secs - real.tv_sec).abs() <= 10,
            format_args!(
                "{what} is within 10 s of CLOCK_REALTIME ({secs} vs {})",
                real.tv_sec
            ),
        );
    }
    c.check(
        (0..1_000_000).contains(&tv.tv_usec),
        format_args!("gettimeofday: tv_usec {} below a second", tv.tv_usec),
    );
    let coarse = read(c, CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE");
    let real = read(c, CLOCK_REALTIME, "CLOCK_REALTIME");
    c.check(
        (real.as_nanos() - coarse.as_nanos()).unsigned_abs() < SEC,
        format_args!("CLOCK_REALTIME_COARSE is within 1 s of CLOCK_REALTIME"),
    );
    let mono = read(c, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
    let coarse = read(c, CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE");
    c.check(
        (mono.as_nanos() - coarse.as_nanos()).unsigned_abs() < SEC,
        format_args!("CLOCK_MONOTONIC_COARSE is within 1 s of CLOCK_MONOTONIC"),
    );
    let mono = read(c, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
    let boot = read(c, CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
    c.check(
        boot.as_nanos() >= mono.as_nanos(),
        format_args!("CLOCK_BOOTTIME read after CLOCK_MONOTONIC is not behind it"),
    );
    let raw1 = read(c, CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW");
    let raw2 = read(c, CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW again");
    c.check(
        raw2.as_nanos() >= raw1.as_nanos(),
        format_args!("CLOCK_MONOTONIC_RAW does not go backwards"),
    );
    let mut mono32 = Timespec::default();
    let before = sys::monotonic_ns();
    c.eq(
        "clock_gettime(CLOCK_MONOTONIC) (32-bit)",
        sys::clock_gettime(CLOCK_MONOTONIC, &mut mono32),
        0,
    );
    let after = sys::monotonic_ns();
    let mid = mono32.as_nanos() as u64;
    c.check(
        before <= mid && mid <= after,
        format_args!("the 32-bit CLOCK_MONOTONIC lies between two 64-bit reads"),
    );
}

fn resolutions(c: &mut Checks) {
    for (clock, name) in [
        (CLOCK_REALTIME, "CLOCK_REALTIME"),
        (CLOCK_MONOTONIC, "CLOCK_MONOTONIC"),
        (CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"),
        (CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"),
        (CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"),
        (CLOCK_BOOTTIME, "CLOCK_BOOTTIME"),
    ] {
        let mut res = Timespec::default();
        let ret = sys::clock_getres(clock, Some(&mut res));
        let ns = res.as_nanos();
        c.check(
            ret == 0 && ns > 0 && ns <= 10 * MS as i64,
            format_args!("clock_getres({name}) = {ret}: {ns} ns, at most 10 ms"),
        );
    }
}

/// The latest `CLOCK_MONOTONIC` read any reader has published, in ns.
static LATEST: AtomicU64 = AtomicU64::new(0);
static READER_CPUS: [AtomicU32; MAX_READERS] = [const { AtomicU32::new(0) }; MAX_READERS];
/// Per reader: reads behind the published maximum, behind its own previous read, reads
/// that failed, and whether it ran on its CPU (1) or not (2).
static BEHIND_OTHERS: AtomicU32 = AtomicU32::new(0);
static BEHIND_OWN: AtomicU32 = AtomicU32::new(0);
static READ_ERRORS: AtomicU32 = AtomicU32::new(0);
static ON_CPU: [AtomicU32; MAX_READERS] = [const { AtomicU32::new(0) }; MAX_READERS];

extern "C" fn reader(i: usize) -> ! {
    let cpu = READER_CPUS[i].load(Ordering::Acquire);
    let pinned = sys::pin_to_cpu(cpu) == 0 && sys::current_cpu() == cpu as isize;
    ON_CPU[i].store(if pinned { 1 } else { 2 }, Ordering::Release);
    let mut own = 0;
    for _ in 0..READS {
        let published = LATEST.load(Ordering::SeqCst);
        let mut ts = Timespec64::default();
        if sys::clock_gettime64(CLOCK_MONOTONIC, &mut ts) != 0 {
            READ_ERRORS.fetch_add(1, Ordering::AcqRel);
            continue;
        }
        let now = ts.as_nanos() as u64;
        if now < published {
            BEHIND_OTHERS.fetch_add(1, Ordering::AcqRel);
        }
        if now < own {
            BEHIND_OWN.fetch_add(1, Ordering::AcqRel);
        }
        own = now;
        LATEST.fetch_max(now, Ordering::SeqCst);
    }
    sys::exit(0)
}

/// One reader per usable CPU (up to four), each pinned to its own.
fn monotonic_across_cpus(c: &mut Checks) {
    let mask = usable_cpus();
    let mut threads = [None; MAX_READERS];
    let mut n = 0;
    for cpu in (0..32).filter(|b| mask & (1 << b) != 0).take(MAX_READERS) {
        READER_CPUS[n].store(cpu, Ordering::Release);
        match Thread::spawn(reader, n) {
            Ok(t) => threads[n] = Some(t),
            Err(e) => {
                c.check(false, format_args!("clone of reader {n} = {e}"));
                return;
            }
        }
        n += 1;
    }
    threads.iter().flatten().for_each(Thread::join);
    let pinned = ON_CPU[..n]
        .iter()
        .filter(|p| p.load(Ordering::Acquire) == 1)
        .count();
    c.eq("readers pinned each to its own cpu", pinned, n);
    c.eq(
        "CLOCK_MONOTONIC reads that failed",
        READ_ERRORS.load(Ordering::Acquire),
        0,
    );
    c.eq(
        "CLOCK_MONOTONIC reads behind another cpu's earlier read",
        BEHIND_OTHERS.load(Ordering::Acquire),
        0,
    );
    c.eq(
        "CLOCK_MONOTONIC reads behind the thread's previous read",
        BEHIND_OWN.load(Ordering::Acquire),
        0,
    );
    println!("clocks: {n} threads on {n} cpus read CLOCK_MONOTONIC {READS} times each");
}

fn sleeps(c: &mut Checks) {
    let start = sys::monotonic_ns();
    c.eq(
        "clock_nanosleep(CLOCK_MONOTONIC, 0, 20 ms)",
        sys::clock_nanosleep(CLOCK_MONOTONIC, 0, &Timespec::from_millis(20), None),
        0,
    );
    let took = sys::monotonic_ns() - start;
    c.check(
        took >= 20 * MS,
        format_args!("clock_nanosleep(20 ms) took {} ms, at least 20", took / MS),
    );

    let start = sys::monotonic_ns();
    c.eq(
        "clock_nanosleep_time64(CLOCK_MONOTONIC, 0, 20 ms)",
        sys::clock_nanosleep_time64(CLOCK_MONOTONIC, 0, &Timespec64::from_nanos(20 * MS), None),
        0,
    );
    let took = sys::monotonic_ns() - start;
    c.check(
        took >= 20 * MS,
        format_args!(
            "clock_nanosleep_time64(20 ms) took {} ms, at least 20",
            took / MS
        ),
    );

    for (clock, name) in [
        (CLOCK_MONOTONIC, "CLOCK_MONOTONIC"),
        (CLOCK_REALTIME, "CLOCK_REALTIME"),
    ] {
        let deadline = sys::clock_ns(clock) + 30 * MS;
        c.eq_fmt(
            format_args!("clock_nanosleep({name}, TIMER_ABSTIME, now + 30 ms)"),
            sys::clock_nanosleep(clock, TIMER_ABSTIME, &Timespec::from_nanos(deadline), None),
            0,
        );
        let now = sys::clock_ns(clock);
        c.check(
            now >= deadline,
            format_args!("{name} after the absolute sleep is at or past the deadline"),
        );
    }
    let deadline = sys::monotonic_ns() + 20 * MS;
    c.eq(
        "clock_nanosleep_time64(CLOCK_MONOTONIC, TIMER_ABSTIME, now + 20 ms)",
        sys::clock_nanosleep_time64(
            CLOCK_MONOTONIC,
            TIMER_ABSTIME,
            &Timespec64::from_nanos(deadline),
            None,
        ),
        0,
    );
    c.check(
        sys::monotonic_ns() >= deadline,
        format_args!("CLOCK_MONOTONIC after the 64-bit absolute sleep is past the deadline"),
    );

    let past = Timespec::from_nanos(sys::monotonic_ns().saturating_sub(SEC));
    let start = sys::monotonic_ns();
    c.eq(
        "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, a second ago)",
        sys::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, None),
        0,
    );
    let took = (sys::monotonic_ns() - start) / MS;
    c.check(
        took < 1000,
        format_args!("a past deadline returned at once ({took} ms)"),
    );
}

fn refusals(c: &mut Checks) {
    let mut ts = Timespec::default();
    let mut ts64 = Timespec64::default();
    c.eq(
        "clock_gettime(99)",
        sys::clock_gettime(BAD_CLOCK, &mut ts),
        neg(EINVAL),
    );
    c.eq(
        "clock_gettime64(99)",
        sys::clock_gettime64(BAD_CLOCK, &mut ts64),
        neg(EINVAL),
    );
    c.eq(
        "clock_getres(99)",
        sys::clock_getres(BAD_CLOCK, Some(&mut ts)),
        neg(EINVAL),
    );
    let ms10 = Timespec::from_millis(10);
    c.eq(
        "clock_nanosleep(99, 0, 10 ms)",
        sys::clock_nanosleep(BAD_CLOCK, 0, &ms10, None),
        neg(EINVAL),
    );
    let second = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    let negative = Timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    c.eq(
        "nanosleep(tv_nsec = 1000000000)",
        sys::nanosleep(&second, None),
        neg(EINVAL),
    );
    c.eq(
        "nanosleep(tv_sec = -1)",
        sys::nanosleep(&negative, None),
        neg(EINVAL),
    );
    c.eq(
        "clock_nanosleep(CLOCK_MONOTONIC, 0, tv_nsec = 1000000000)",
        sys::clock_nanosleep(CLOCK_MONOTONIC, 0, &second, None),
        neg(EINVAL),
    );
    let Some(page) = tempest_user::unmapped_page(c) else {
        return;
    };
    // The raw calls: a safe wrapper cannot take a pointer to nothing.
    let mono = CLOCK_MONOTONIC as usize;
    c.eq(
        "clock_gettime(CLOCK_MONOTONIC, unmapped)",
        sys::syscall2(sys::SYS_CLOCK_GETTIME, mono, page),
        neg(EFAULT),
    );
    c.eq(
        "clock_gettime64(CLOCK_MONOTONIC, unmapped)",
        sys::syscall2(sys::SYS_CLOCK_GETTIME64, mono, page),
        neg(EFAULT),
    );
    c.eq(
        "gettimeofday(unmapped, NULL)",
        sys::syscall2(sys::SYS_GETTIMEOFDAY, page, 0),
        neg(EFAULT),
    );
    c.eq(
        "time(unmapped)",
        sys::syscall1(sys::SYS_TIME, page),
        neg(EFAULT),
    );
    c.eq(
        "nanosleep(unmapped, NULL)",
        sys::syscall2(sys::SYS_NANOSLEEP, page, 0),
        neg(EFAULT),
    );
    c.eq(
        "clock_nanosleep(CLOCK_MONOTONIC, 0, unmapped, NULL)",
        sys::syscall6(sys::SYS_CLOCK_NANOSLEEP, mono, 0, page, 0, 0, 0),
        neg(EFAULT),
    );
}

/// The CPU the sleeper and the counter share; the counter's state and count.
static SHARED_CPU: AtomicU32 = AtomicU32::new(0);
/// 1 once the counter runs pinned, 2 if it could not pin itself; 3 tells it to stop.
static COUNTER_STATE: AtomicU32 = AtomicU32::new(0);
static COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn counter(_: usize) -> ! {
    let cpu = SHARED_CPU.load(Ordering::Acquire);
    let pinned = sys::pin_to_cpu(cpu) == 0 && sys::current_cpu() == cpu as isize;
    COUNTER_STATE.store(if pinned { 1 } else { 2 }, Ordering::Release);
    while COUNTER_STATE.load(Ordering::Acquire) != 3 {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
    sys::exit(0)
}

/// `nanosleep(50 ms)` takes at least 50 ms, and a thread on the same CPU runs meanwhile.
fn sleep_blocks(c: &mut Checks) {
    let (_, cpu) = first_and_last(usable_cpus());
    SHARED_CPU.store(cpu, Ordering::Release);
    c.eq("pin the sleeper to its cpu", sys::pin_to_cpu(cpu), 0);
    let t = match Thread::spawn(counter, 0) {
        Ok(t) => t,
        Err(e) => {
            c.check(false, format_args!("clone of the counter = {e}"));
            return;
        }
    };
    while COUNTER_STATE.load(Ordering::Acquire) == 0 {
        sys::sched_yield();
    }
    c.eq(
        "counter pinned to the sleeper's cpu",
        COUNTER_STATE.load(Ordering::Acquire),
        1,
    );
    let (count0, start) = (COUNT.load(Ordering::Acquire), sys::monotonic_ns());
    c.eq("nanosleep(50 ms)", sys::sleep_ms(50), 0);
    let took = sys::monotonic_ns() - start;
    c.check(
        took >= 50 * MS,
        format_args!(
            "nanosleep(50 ms) took {} ms of CLOCK_MONOTONIC, at least 50",
            took / MS
        ),
    );
    // Other programs may share the CPU (the default set): sleep again, up to 40 times, until
    // the counter has had a turn.
    let mut sleeps = 1;
    while COUNT.load(Ordering::Acquire) == count0 && sleeps < 40 {
        sys::sleep_ms(50);
        sleeps += 1;
    }
    let count1 = COUNT.load(Ordering::Acquire);
    c.check(
        count1 != count0,
        format_args!(
            "a thread on the sleeper's cpu counted {} while it slept ({sleeps} sleeps of 50 ms)",
            count1.wrapping_sub(count0)
        ),
    );
    c.eq("getcpu() of the sleeper", sys::current_cpu(), cpu as isize);
    COUNTER_STATE.store(3, Ordering::Release);
    c.check(
        t.join_timeout(10_000),
        format_args!("the counter thread exited"),
    );
}
