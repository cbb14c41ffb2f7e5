//! Clocks and sleeps: `clock_gettime` (32- and 64-bit), `clock_getres`, `gettimeofday`,
//! `time`, `clock_nanosleep` (32- and 64-bit), and the helpers the programs time with.

use super::{Timespec, syscall1, syscall2, syscall6};

/// `time(tloc)`.
pub const SYS_TIME: u32 = 13;
/// `gettimeofday(tv, tz)`.
pub const SYS_GETTIMEOFDAY: u32 = 78;
/// `clock_gettime(clock, *mut Timespec)`.
pub const SYS_CLOCK_GETTIME: u32 = 265;
/// `clock_getres(clock, *mut Timespec)`.
pub const SYS_CLOCK_GETRES: u32 = 266;
/// `clock_nanosleep(clock, flags, *const Timespec, *mut Timespec)`.
pub const SYS_CLOCK_NANOSLEEP: u32 = 267;
/// `clock_gettime64(clock, *mut Timespec64)`.
pub const SYS_CLOCK_GETTIME64: u32 = 403;
/// `clock_nanosleep_time64(clock, flags, *const Timespec64, *mut Timespec64)`.
pub const SYS_CLOCK_NANOSLEEP_TIME64: u32 = 407;

/// Wall-clock time (Tempest: the RTC at boot, then the monotonic clock).
pub const CLOCK_REALTIME: u32 = 0;
/// Time since boot, never set, never going backwards.
pub const CLOCK_MONOTONIC: u32 = 1;
/// The monotonic clock without frequency adjustment.
pub const CLOCK_MONOTONIC_RAW: u32 = 4;
/// The wall clock as of the last tick: cheaper, coarser.
pub const CLOCK_REALTIME_COARSE: u32 = 5;
/// The monotonic clock as of the last tick.
pub const CLOCK_MONOTONIC_COARSE: u32 = 6;
/// The monotonic clock including time suspended (Tempest never suspends).
pub const CLOCK_BOOTTIME: u32 = 7;

/// `clock_nanosleep` flag: the request is an absolute time of the clock, not an interval.
pub const TIMER_ABSTIME: u32 = 1;

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timespec {
    /// `ns` nanoseconds (seconds saturate at `i32::MAX`).
    pub const fn from_nanos(ns: u64) -> Self {
        let secs = ns / NANOS_PER_SEC as u64;
        Timespec {
            tv_sec: if secs > i32::MAX as u64 {
                i32::MAX
            } else {
                secs as i32
            },
            tv_nsec: (ns % NANOS_PER_SEC as u64) as i32,
        }
    }

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u32) -> Self {
        Self::from_nanos(ms as u64 * 1_000_000)
    }

    /// The value in nanoseconds (as given: an invalid `tv_nsec` is not corrected).
    pub const fn as_nanos(&self) -> i64 {
        self.tv_sec as i64 * NANOS_PER_SEC + self.tv_nsec as i64
    }
}

/// `struct __kernel_timespec`: the 64-bit time of the `*_time64` calls.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec64 {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub tv_nsec: i64,
}

impl Timespec64 {
    /// `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        Timespec64 {
            tv_sec: (ns / NANOS_PER_SEC as u64) as i64,
            tv_nsec: (ns % NANOS_PER_SEC as u64) as i64,
        }
    }

    /// The value in nanoseconds (as given: an invalid `tv_nsec` is not corrected).
    pub const fn as_nanos(&self) -> i64 {
        self.tv_sec * NANOS_PER_SEC + self.tv_nsec
    }
}

/// `struct timeval` of the i386 ABI.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i32,
    /// Microseconds, `0..1_000_000`.
    pub tv_usec: i32,
}

/// `clock_gettime(clock, ts)` (265): 0 or `-errno` (`-EINVAL` for an unknown clock).
pub fn clock_gettime(clock: u32, ts: &mut Timespec) -> isize {
    syscall2(
        SYS_CLOCK_GETTIME,
        clock as usize,
        ts as *mut Timespec as usize,
    )
}

/// `clock_gettime64(clock, ts)` (403): 0 or `-errno`.
pub fn clock_gettime64(clock: u32, ts: &mut Timespec64) -> isize {
    syscall2(
        SYS_CLOCK_GETTIME64,
        clock as usize,
        ts as *mut Timespec64 as usize,
    )
}

/// `clock_getres(clock, res)` (266): 0 or `-errno`; `None` only validates `clock`.
pub fn clock_getres(clock: u32, res: Option<&mut Timespec>) -> isize {
    let res = res.map_or(core::ptr::null_mut(), |r| r as *mut Timespec);
    syscall2(SYS_CLOCK_GETRES, clock as usize, res as usize)
}

/// `gettimeofday(tv, NULL)` (78): 0 or `-errno`.
pub fn gettimeofday(tv: &mut Timeval) -> isize {
    syscall2(SYS_GETTIMEOFDAY, tv as *mut Timeval as usize, 0)
}

/// `time(tloc)` (13): the seconds of `CLOCK_REALTIME` (also stored in `tloc`), or `-errno`.
pub fn time(tloc: Option<&mut i32>) -> isize {
    let tloc = tloc.map_or(core::ptr::null_mut(), |t| t as *mut i32);
    syscall1(SYS_TIME, tloc as usize)
}

/// `clock_nanosleep(clock, flags, req, rem)` (267): 0 or `-errno` (the raw call returns
/// `-errno`, not the positive value of the libc function). `flags` is 0 (`req` is an
/// interval) or [`TIMER_ABSTIME`] (`req` is a time of `clock`).
pub fn clock_nanosleep(
    clock: u32,
    flags: u32,
    req: &Timespec,
    rem: Option<&mut Timespec>,
) -> isize {
    let rem = rem.map_or(core::ptr::null_mut(), |r| r as *mut Timespec);
    syscall6(
        SYS_CLOCK_NANOSLEEP,
        clock as usize,
        flags as usize,
        req as *const Timespec as usize,
        rem as usize,
        0,
        0,
    )
}

/// `clock_nanosleep_time64(clock, flags, req, rem)` (407), as [`clock_nanosleep`].
pub fn clock_nanosleep_time64(
    clock: u32,
    flags: u32,
    req: &Timespec64,
    rem: Option<&mut Timespec64>,
) -> isize {
    let rem = rem.map_or(core::ptr::null_mut(), |r| r as *mut Timespec64);
    syscall6(
        SYS_CLOCK_NANOSLEEP_TIME64,
        clock as usize,
        flags as usize,
        req as *const Timespec64 as usize,
        rem as usize,
        0,
        0,
    )
}

/// `clock`'s time in nanoseconds (through `clock_gettime64`). Panics (status 101) if the
/// kernel refuses: a program that cannot read its clock cannot time anything.
pub fn clock_ns(clock: u32) -> u64 {
    let mut ts = Timespec64::default();
    let ret = clock_gettime64(clock, &mut ts);
    assert!(ret == 0, "clock_gettime64({clock}) = {ret}");
    ts.as_nanos() as u64
}

/// `CLOCK_MONOTONIC` in nanoseconds ([`clock_ns`]).
pub fn monotonic_ns() -> u64 {
    clock_ns(CLOCK_MONOTONIC)
}

/// Sleeps `ms` milliseconds with `nanosleep`: 0 or `-errno`.
pub fn sleep_ms(ms: u32) -> isize {
    super::nanosleep(&Timespec::from_millis(ms), None)
}
