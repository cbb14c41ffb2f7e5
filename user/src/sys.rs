//! Linux i386 system calls through `int 0x80`, and the constants programs need.
//!
//! The number goes in eax, the arguments in ebx, ecx, edx, esi, edi, ebp; the result comes
//! back in eax, `-errno` on failure (a value in `-4095..=-1`). The kernel preserves every
//! other register. LLVM reserves `esi` and `ebp` (the frame pointer), so no inline-asm
//! operand may name them: the 4- to 6-argument calls pass the number and those arguments
//! in a small array whose address is in eax, and load them after saving esi and ebp.

use core::arch::asm;

/// `exit(status)`.
pub const SYS_EXIT: u32 = 1;
/// `write(fd, buf, len)`.
pub const SYS_WRITE: u32 = 4;
/// `open(path, flags, mode)`.
pub const SYS_OPEN: u32 = 5;
/// `close(fd)`.
pub const SYS_CLOSE: u32 = 6;
/// `getpid()`.
pub const SYS_GETPID: u32 = 20;
/// `brk(addr)`.
pub const SYS_BRK: u32 = 45;
/// `len` bytes of fresh zero-filled read-write memory where the kernel finds room
/// (`mmap2(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`): the
/// address, or `-errno` (see [`is_error`]). Safe: a mapping the kernel places replaces
/// nothing.
pub fn map_anonymous(len: usize) -> isize {
    // SAFETY: without MAP_FIXED the kernel takes a free range, so nothing existing is
    // replaced.
    unsafe {
        mmap2(
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    }
}

/// `munmap(addr, len)`.
pub const SYS_MUNMAP: u32 = 91;
/// `mprotect(addr, len, prot)`.
pub const SYS_MPROTECT: u32 = 125;
/// `sched_yield()`.
pub const SYS_SCHED_YIELD: u32 = 158;
/// `nanosleep(req, rem)`.
pub const SYS_NANOSLEEP: u32 = 162;
/// `mmap2(addr, len, prot, flags, fd, pgoff)`.
pub const SYS_MMAP2: u32 = 192;
/// `gettid()`.
pub const SYS_GETTID: u32 = 224;
/// `exit_group(status)`.
pub const SYS_EXIT_GROUP: u32 = 252;
/// Tempest's own `temp_stats(*mut TempStats)`.
pub const SYS_TEMP_STATS: u32 = 0x10000;
/// Tempest's own `bench_barrier(n)`.
pub const SYS_BENCH_BARRIER: u32 = 0x10001;
/// Tempest's own `bench_report(*const BenchReport)`.
pub const SYS_BENCH_REPORT: u32 = 0x10002;

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such file.
pub const ENOENT: i32 = 2;
/// Interrupted.
pub const EINTR: i32 = 4;

/// Bad file descriptor.
pub const EBADF: i32 = 9;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// Too many open files.
pub const EMFILE: i32 = 24;
/// File name too long.
pub const ENAMETOOLONG: i32 = 36;
/// Function not implemented.
pub const ENOSYS: i32 = 38;

/// Pages may be read.
pub const PROT_READ: u32 = 1;
/// Pages may be written.
pub const PROT_WRITE: u32 = 2;
/// Pages may be executed.
pub const PROT_EXEC: u32 = 4;
/// Private copy-on-write mapping.
pub const MAP_PRIVATE: u32 = 2;
/// Place the mapping exactly at `addr`.
pub const MAP_FIXED: u32 = 0x10;
/// `mmap2` flag: changes are shared with other mappings of the object.
pub const MAP_SHARED: u32 = 0x01;
/// Not backed by a file: zero-filled.
pub const MAP_ANONYMOUS: u32 = 0x20;

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 2;

/// The page size.
pub const PAGE_SIZE: usize = 4096;

/// Whether a raw result is an error (`-4095..=-1`).
pub fn is_error(ret: isize) -> bool {
    (-4095..0).contains(&ret)
}

/// `nr()`.
pub fn syscall0(nr: u32) -> isize {
    let ret: isize;
    // SAFETY: int 0x80 enters the kernel, which only touches memory the call's arguments
    // name (none here) and preserves every register but eax.
    unsafe { asm!("int 0x80", inlateout("eax") nr as isize => ret, options(nostack)) };
    ret
}

/// `nr(a)`.
pub fn syscall1(nr: u32, a: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall0; the kernel validates pointer arguments itself.
    unsafe {
        asm!("int 0x80", inlateout("eax") nr as isize => ret, in("ebx") a, options(nostack));
    }
    ret
}

/// `nr(a, b)`.
pub fn syscall2(nr: u32, a: usize, b: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall1.
    unsafe {
        asm!("int 0x80", inlateout("eax") nr as isize => ret, in("ebx") a, in("ecx") b,
             options(nostack));
    }
    ret
}

/// `nr(a, b, c)`.
pub fn syscall3(nr: u32, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: as in syscall1.
    unsafe {
        asm!("int 0x80", inlateout("eax") nr as isize => ret, in("ebx") a, in("ecx") b,
             in("edx") c, options(nostack));
    }
    ret
}

/// `nr(a, b, c, d, e, f)`; the 4- and 5-argument calls pass zeros for the rest.
pub fn syscall6(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> isize {
    // eax points here: the number, then the arguments that go in esi and ebp.
    let block = [nr as usize, d, f];
    let ret: isize;
    // SAFETY: as in syscall1; ebp and esi are saved on the stack and restored before the
    // block (read-only) goes out of scope, and the stack is balanced again at the end.
    unsafe {
        asm!(
            "push ebp",
            "push esi",
            "mov esi, [eax + 4]",
            "mov ebp, [eax + 8]",
            "mov eax, [eax]",
            "int 0x80",
            "pop esi",
            "pop ebp",
            inlateout("eax") block.as_ptr() => ret,
            in("ebx") a, in("ecx") b, in("edx") c, in("edi") e,
        );
    }
    ret
}

/// `clone`.
pub const SYS_CLONE: u32 = 120;
/// Share the address space.
pub const CLONE_VM: usize = 0x0000_0100;
/// Share the filesystem view.
pub const CLONE_FS: usize = 0x0000_0200;
/// Share the file table.
pub const CLONE_FILES: usize = 0x0000_0400;
/// Share signal handlers.
pub const CLONE_SIGHAND: usize = 0x0000_0800;
/// Same thread group (process).
pub const CLONE_THREAD: usize = 0x0001_0000;

/// Starts `entry(arg)` as a new thread of this process on the stack ending at `stack_top`
/// (memory the caller keeps mapped while the thread runs). Returns the new tid, or
/// `-errno`. The thread must end with `exit` (or the process with `exit_group`).
pub fn spawn_thread(entry: extern "C" fn(usize) -> !, arg: usize, stack_top: usize) -> isize {
    task::clone_thread(entry, arg, stack_top, 0, 0, 0)
}

/// Ends the calling thread (`exit`, 1): the process, while it has one thread.
pub fn exit(status: i32) -> ! {
    syscall1(SYS_EXIT, status as usize);
    unreachable_after_exit()
}

/// Ends the process (`exit_group`, 252).
pub fn exit_group(status: i32) -> ! {
    syscall1(SYS_EXIT_GROUP, status as usize);
    unreachable_after_exit()
}

/// What follows an exit call that returned: a trap the kernel will end the process for.
fn unreachable_after_exit() -> ! {
    loop {
        // SAFETY: ud2 only raises #UD; nothing in this process runs after it.
        unsafe { asm!("ud2", options(nomem, nostack)) };
    }
}

/// `write(fd, buf, len)`: the kernel checks `buf..buf+len` itself, so any pointer is safe
/// to pass (a bad one gives `-EFAULT`).
pub fn write(fd: i32, buf: *const u8, len: usize) -> isize {
    syscall3(SYS_WRITE, fd as usize, buf as usize, len)
}

/// `write` of a whole slice, once (the result as [`fn@write`]'s).
pub fn write_bytes(fd: i32, bytes: &[u8]) -> isize {
    write(fd, bytes.as_ptr(), bytes.len())
}

/// `open(path, flags, 0)`: `path` must end with a NUL byte (`b"/dev/null\0"`). The new
/// descriptor, or `-errno`.
pub fn open(path: &[u8], flags: u32) -> isize {
    assert_eq!(path.last(), Some(&0), "open: the path must end with NUL");
    open_raw(path.as_ptr(), flags)
}

/// `open` of whatever `path` points at (the kernel checks it: a bad pointer gives
/// `-EFAULT`).
pub fn open_raw(path: *const u8, flags: u32) -> isize {
    syscall3(SYS_OPEN, path as usize, flags as usize, 0)
}

/// `close(fd)`.
pub fn close(fd: i32) -> isize {
    syscall1(SYS_CLOSE, fd as usize)
}

/// `getpid()`.
pub fn getpid() -> isize {
    syscall0(SYS_GETPID)
}

/// `gettid()`.
pub fn gettid() -> isize {
    syscall0(SYS_GETTID)
}

/// `sched_yield()`.
pub fn sched_yield() -> isize {
    syscall0(SYS_SCHED_YIELD)
}

/// `struct timespec` of the i386 ABI.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i32,
    /// Nanoseconds, `0..1_000_000_000`.
    pub tv_nsec: i32,
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(req: &Timespec, rem: Option<&mut Timespec>) -> isize {
    let rem = rem.map_or(core::ptr::null_mut(), |r| r as *mut Timespec);
    syscall2(SYS_NANOSLEEP, req as *const Timespec as usize, rem as usize)
}

/// `brk(addr)`: the new break on success, the current one on failure; `brk(0)` queries.
///
/// # Safety
/// Shrinking the break unmaps memory: nothing may still refer to it.
pub unsafe fn brk(addr: usize) -> usize {
    syscall1(SYS_BRK, addr) as usize
}

/// `mmap2(addr, len, prot, flags, fd, pgoff)`: the address, or `-errno` (see [`is_error`]).
///
/// # Safety
/// With `MAP_FIXED`, whatever was mapped at `addr..addr+len` is replaced: nothing may still
/// refer to it.
pub unsafe fn mmap2(
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
    fd: i32,
    pgoff: usize,
) -> isize {
    syscall6(
        SYS_MMAP2,
        addr,
        len,
        prot as usize,
        flags as usize,
        fd as usize,
        pgoff,
    )
}

/// `munmap(addr, len)`.
///
/// # Safety
/// Nothing may still refer to the unmapped memory.
pub unsafe fn munmap(addr: usize, len: usize) -> isize {
    syscall2(SYS_MUNMAP, addr, len)
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
/// Taking rights away makes later accesses fault: nothing may rely on them.
pub unsafe fn mprotect(addr: usize, len: usize, prot: u32) -> isize {
    syscall3(SYS_MPROTECT, addr, len, prot as usize)
}

/// Temp-mapping counters of one scope (a process, or a CPU).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TempCounters {
    /// Temporary mappings made.
    pub maps: u64,
    /// Temporary mappings removed.
    pub unmaps: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Most temporary mappings held at once.
    pub peak_depth: u32,
    /// Temporary mappings held now.
    pub depth: u32,
}

/// What `temp_stats` fills in: the calling process's counters and its CPU's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TempStats {
    /// The calling process.
    pub process: TempCounters,
    /// The CPU the call ran on.
    pub cpu: TempCounters,
}

/// Tempest's `temp_stats` (0x10000): 0 or `-errno`.
pub fn temp_stats(stats: &mut TempStats) -> isize {
    syscall1(SYS_TEMP_STATS, stats as *mut TempStats as usize)
}

/// What `bench_report` takes: one caller's timing of one workload, cycles per operation.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchReport {
    /// The workload: 1 = `write`.
    pub workload: u32,
    /// Bytes per operation.
    pub bytes: u32,
    /// Callers that ran the workload at once.
    pub cpus: u32,
    /// Timed operations.
    pub ops: u32,
    /// Median, 90th and 99th percentile, and mean.
    pub p50: u64,
    /// See `p50`.
    pub p90: u64,
    /// See `p50`.
    pub p99: u64,
    /// See `p50`.
    pub mean: u64,
}

/// The `write` workload's number in [`BenchReport::workload`].
pub const BENCH_WRITE: u32 = 1;

/// Tempest's `bench_barrier(n)` (0x10001): returns this caller's arrival index once `n`
/// callers have arrived, or `-errno`.
pub fn bench_barrier(n: u32) -> isize {
    syscall1(SYS_BENCH_BARRIER, n as usize)
}

/// Tempest's `bench_report(report)` (0x10002): the kernel prints it as a `bench` record
/// with the CPU it ran on. 0 or `-errno`.
pub fn bench_report(report: &BenchReport) -> isize {
    syscall1(SYS_BENCH_REPORT, report as *const BenchReport as usize)
}

/// No such process (or thread).
pub const ESRCH: i32 = 3;
/// Try again: a futex word did not hold the expected value.
pub const EAGAIN: i32 = 11;
/// A timed wait's timeout expired.
pub const ETIMEDOUT: i32 = 110;

// The kernel-model calls (futex, clocks, affinity, threads joined through their tid word,
// Tempest's preemption probes), one file each under `sys/`, re-exported here so programs
// name them all as `sys::...`.
mod clock;
mod futex;
mod probe;
mod task;

pub use clock::*;
pub use futex::*;
pub use probe::*;
pub use task::*;
