//! System calls: the Linux i386 ABI (`int 0x80`, number in `eax`, arguments in `ebx ecx edx
//! esi edi ebp`, result in `eax`, errors as `-errno`) with Linux's numbers, plus Tempest's
//! own calls far above Linux's range. docs/syscalls.md lists them.

mod bench;
mod fs;
mod io;
mod memory;
mod poll;
mod probe;
mod process;
mod sched;
mod signal;
mod tls;

pub use io::disable_user_copy_checks;
pub use memory::{disable_vdso_follow, free_before_flush};
pub use probe::leak_temp_at_next_syscall;

use crate::errno::Errno;
use crate::mm::temp;
use crate::mm::uaccess;
use crate::syscall_table::linux;
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, Ordering};
use process::{Kind, Width};
use sched::Layout;

pub const SYS_EXIT: u32 = linux("exit");
pub const SYS_READ: u32 = linux("read");
pub const SYS_OPENAT: u32 = linux("openat");
pub const SYS_READV: u32 = linux("readv");
pub const SYS_WRITEV: u32 = linux("writev");
pub const SYS_DUP: u32 = linux("dup");
pub const SYS_DUP2: u32 = linux("dup2");
pub const SYS_DUP3: u32 = linux("dup3");
pub const SYS_FCNTL: u32 = linux("fcntl");
pub const SYS_FCNTL64: u32 = linux("fcntl64");
pub const SYS_MADVISE: u32 = linux("madvise");
pub const SYS_WRITE: u32 = linux("write");
pub const SYS_OPEN: u32 = linux("open");
pub const SYS_CLOSE: u32 = linux("close");
pub const SYS_TIME: u32 = linux("time");
pub const SYS_KILL: u32 = linux("kill");
pub const SYS_GETPID: u32 = linux("getpid");
pub const SYS_GETUID: u32 = linux("getuid");
pub const SYS_BRK: u32 = linux("brk");
pub const SYS_GETGID: u32 = linux("getgid");
pub const SYS_GETEUID: u32 = linux("geteuid");
pub const SYS_GETEGID: u32 = linux("getegid");
pub const SYS_IOCTL: u32 = linux("ioctl");
pub const SYS_GETTIMEOFDAY: u32 = linux("gettimeofday");
pub const SYS_READLINK: u32 = linux("readlink");
pub const SYS_SIGRETURN: u32 = linux("sigreturn");
pub const SYS_UNAME: u32 = linux("uname");
pub const SYS_POLL: u32 = linux("poll");
pub const SYS_PPOLL: u32 = linux("ppoll");
pub const SYS_PPOLL_TIME64: u32 = linux("ppoll_time64");
pub const SYS_SELECT: u32 = linux("select");
pub const SYS_NEWSELECT: u32 = linux("_newselect");
pub const SYS_PSELECT6: u32 = linux("pselect6");
pub const SYS_PSELECT6_TIME64: u32 = linux("pselect6_time64");
pub const SYS_RT_SIGRETURN: u32 = linux("rt_sigreturn");
pub const SYS_RT_SIGACTION: u32 = linux("rt_sigaction");
pub const SYS_SIGACTION: u32 = linux("sigaction");
pub const SYS_RT_SIGPROCMASK: u32 = linux("rt_sigprocmask");
pub const SYS_RT_SIGPENDING: u32 = linux("rt_sigpending");
pub const SYS_RT_SIGSUSPEND: u32 = linux("rt_sigsuspend");
pub const SYS_PAUSE: u32 = linux("pause");
pub const SYS_SIGALTSTACK: u32 = linux("sigaltstack");
pub const SYS_UGETRLIMIT: u32 = linux("ugetrlimit");
pub const SYS_FSTAT64: u32 = linux("fstat64");
pub const SYS_GETUID32: u32 = linux("getuid32");
pub const SYS_GETGID32: u32 = linux("getgid32");
pub const SYS_GETEUID32: u32 = linux("geteuid32");
pub const SYS_GETEGID32: u32 = linux("getegid32");
pub const SYS_IOPERM: u32 = linux("ioperm");
pub const SYS_MREMAP: u32 = linux("mremap");
pub const SYS_SETUID: u32 = linux("setuid");
pub const SYS_SETGID: u32 = linux("setgid");
pub const SYS_SETUID32: u32 = linux("setuid32");
pub const SYS_SETGID32: u32 = linux("setgid32");
pub const SYS_SETRESUID: u32 = linux("setresuid");
pub const SYS_SETRESGID: u32 = linux("setresgid");
pub const SYS_SETRESUID32: u32 = linux("setresuid32");
pub const SYS_SETRESGID32: u32 = linux("setresgid32");
pub const SYS_GETRESUID: u32 = linux("getresuid");
pub const SYS_GETRESGID: u32 = linux("getresgid");
pub const SYS_GETRESUID32: u32 = linux("getresuid32");
pub const SYS_GETRESGID32: u32 = linux("getresgid32");
pub const SYS_SET_TID_ADDRESS: u32 = linux("set_tid_address");
pub const SYS_SET_ROBUST_LIST: u32 = linux("set_robust_list");
pub const SYS_PRLIMIT64: u32 = linux("prlimit64");
pub const SYS_GETRANDOM: u32 = linux("getrandom");
pub const SYS_STATX: u32 = linux("statx");
pub const SYS_STAT64: u32 = linux("stat64");
pub const SYS_LSTAT64: u32 = linux("lstat64");
pub const SYS_FSTATAT64: u32 = linux("fstatat64");
pub const SYS_GETDENTS64: u32 = linux("getdents64");
pub const SYS_LSEEK: u32 = linux("lseek");
pub const SYS_LLSEEK: u32 = linux("_llseek");
pub const SYS_PREAD64: u32 = linux("pread64");
pub const SYS_READLINKAT: u32 = linux("readlinkat");
pub const SYS_ACCESS: u32 = linux("access");
pub const SYS_FACCESSAT: u32 = linux("faccessat");
pub const SYS_FACCESSAT2: u32 = linux("faccessat2");
pub const SYS_GETCWD: u32 = linux("getcwd");
pub const SYS_SETPGID: u32 = linux("setpgid");
pub const SYS_GETPGID: u32 = linux("getpgid");
pub const SYS_GETPGRP: u32 = linux("getpgrp");
pub const SYS_SETSID: u32 = linux("setsid");
pub const SYS_GETSID: u32 = linux("getsid");
pub const SYS_UTIMENSAT: u32 = linux("utimensat");
pub const SYS_UTIMENSAT_TIME64: u32 = linux("utimensat_time64");
pub const SYS_EXECVE: u32 = linux("execve");
pub const SYS_FORK: u32 = linux("fork");
pub const SYS_VFORK: u32 = linux("vfork");
pub const SYS_WAIT4: u32 = linux("wait4");
pub const SYS_WAITID: u32 = linux("waitid");
pub const SYS_WAITPID: u32 = linux("waitpid");
pub const SYS_GETPPID: u32 = linux("getppid");
pub const SYS_PIPE: u32 = linux("pipe");
pub const SYS_PIPE2: u32 = linux("pipe2");
pub const SYS_CREAT: u32 = linux("creat");
pub const SYS_PWRITE64: u32 = linux("pwrite64");
pub const SYS_FTRUNCATE: u32 = linux("ftruncate");
pub const SYS_FTRUNCATE64: u32 = linux("ftruncate64");
pub const SYS_TRUNCATE: u32 = linux("truncate");
pub const SYS_TRUNCATE64: u32 = linux("truncate64");
pub const SYS_MKDIR: u32 = linux("mkdir");
pub const SYS_MKDIRAT: u32 = linux("mkdirat");
pub const SYS_UNLINK: u32 = linux("unlink");
pub const SYS_UNLINKAT: u32 = linux("unlinkat");
pub const SYS_RMDIR: u32 = linux("rmdir");
pub const SYS_RENAME: u32 = linux("rename");
pub const SYS_RENAMEAT: u32 = linux("renameat");
pub const SYS_RENAMEAT2: u32 = linux("renameat2");
pub const SYS_SYMLINK: u32 = linux("symlink");
pub const SYS_SYMLINKAT: u32 = linux("symlinkat");
pub const SYS_LINK: u32 = linux("link");
pub const SYS_LINKAT: u32 = linux("linkat");
pub const SYS_CHDIR: u32 = linux("chdir");
pub const SYS_FCHDIR: u32 = linux("fchdir");
pub const SYS_UMASK: u32 = linux("umask");
pub const SYS_CHMOD: u32 = linux("chmod");
pub const SYS_FCHMOD: u32 = linux("fchmod");
pub const SYS_FCHMODAT: u32 = linux("fchmodat");
pub const SYS_CLONE: u32 = linux("clone");
pub const SYS_MUNMAP: u32 = linux("munmap");
pub const SYS_MPROTECT: u32 = linux("mprotect");
pub const SYS_SCHED_YIELD: u32 = linux("sched_yield");
pub const SYS_NANOSLEEP: u32 = linux("nanosleep");
pub const SYS_MMAP2: u32 = linux("mmap2");
pub const SYS_GETTID: u32 = linux("gettid");
pub const SYS_TKILL: u32 = linux("tkill");
pub const SYS_FUTEX: u32 = linux("futex");
pub const SYS_SCHED_SETAFFINITY: u32 = linux("sched_setaffinity");
pub const SYS_SCHED_GETAFFINITY: u32 = linux("sched_getaffinity");
pub const SYS_SET_THREAD_AREA: u32 = linux("set_thread_area");
pub const SYS_MODIFY_LDT: u32 = linux("modify_ldt");
pub const SYS_GET_THREAD_AREA: u32 = linux("get_thread_area");
pub const SYS_EXIT_GROUP: u32 = linux("exit_group");
pub const SYS_CLOCK_GETTIME: u32 = linux("clock_gettime");
pub const SYS_CLOCK_GETRES: u32 = linux("clock_getres");
pub const SYS_CLOCK_NANOSLEEP: u32 = linux("clock_nanosleep");
pub const SYS_TGKILL: u32 = linux("tgkill");
pub const SYS_GETCPU: u32 = linux("getcpu");
pub const SYS_CLOCK_GETTIME64: u32 = linux("clock_gettime64");
pub const SYS_CLOCK_GETRES_TIME64: u32 = linux("clock_getres_time64");
pub const SYS_CLOCK_NANOSLEEP_TIME64: u32 = linux("clock_nanosleep_time64");
pub const SYS_FUTEX_TIME64: u32 = linux("futex_time64");
/// Tempest: copy the temp-mapping counters (this process's and this CPU's) to `ebx`.
pub const SYS_TEMPEST_TEMP_STATS: u32 = 0x1_0000;
/// Tempest: wait at the benchmark start line until `ebx` callers are there.
pub const SYS_TEMPEST_BENCH_BARRIER: u32 = 0x1_0001;
/// Tempest: report a user-level benchmark result (`ebx` points at it) as a record.
pub const SYS_TEMPEST_BENCH_REPORT: u32 = 0x1_0002;
/// Tempest: spin `ebx` ms in the kernel, preemptible; returns the times switched away.
pub const SYS_TEMPEST_KERNEL_SPIN: u32 = 0x1_0003;
/// Tempest: hold temp mappings of a copy of `[ebx, ebx + ecx)` across `edx` forced
/// switches; returns the bytes that read back wrong.
pub const SYS_TEMPEST_TEMP_HOLD: u32 = 0x1_0004;
/// Tempest: median cycles of a temp mapping made by this task (`ebx`: 0 pinning guard,
/// 1 preempt-count guard, the older design).
pub const SYS_TEMPEST_TEMP_BENCH: u32 = 0x1_0005;

type SysResult = Result<u32, Errno>;

/// Whether Tempest's own calls (0x10000 and up: counters, the benchmark start line and
/// report, the test probes) answer: only when the kernel was booted for tests or
/// benchmarks (`tempest-calls` on the command line). Otherwise they are `ENOSYS`, so an
/// ordinary program cannot reach a benchmark's system-wide barrier or a probe that
/// spins in the kernel.
static TEMPEST_CALLS: AtomicBool = AtomicBool::new(false);

/// Turns Tempest's own calls on (boot, before any task runs).
pub fn enable_tempest_calls() {
    log::info!("tempest-calls: the kernel's own test and benchmark calls answer");
    TEMPEST_CALLS.store(true, Ordering::Relaxed);
}

fn tempest_calls_on() -> bool {
    TEMPEST_CALLS.load(Ordering::Relaxed)
}

/// Handles the system call in `frame` and stores its result in `frame.eax`. The call runs
/// with interrupts on: the kernel is preemptible outside its locks.
pub fn dispatch(frame: &mut TrapFrame) {
    let maps_before = crate::sched::count_call();
    let class = crate::syscall_table::Class::of(frame.eax);
    crate::cpu::percpu::this().stats.syscalls.bump();
    // SAFETY: the trap handler holds nothing an interrupt could need; the frame is on this
    // task's own stack, and the return path turns interrupts off again.
    unsafe { arch::cpu::enable_interrupts() };
    let [a0, a1, a2, a3, a4, a5] = [
        frame.ebx, frame.ecx, frame.edx, frame.esi, frame.edi, frame.ebp,
    ];
    let result: SysResult = match frame.eax {
        SYS_EXIT => crate::sched::exit_current((a0 & 0xff) as i32),
        SYS_EXIT_GROUP => crate::sched::exit_group((a0 & 0xff) as i32),
        SYS_CLONE => clone(frame, a0, a1, a2, a3, a4),
        SYS_WRITE => io::write(a0, a1, a2),
        SYS_READ => io::read(a0, a1, a2),
        SYS_READV => io::readv(a0, a1, a2),
        SYS_WRITEV => io::writev(a0, a1, a2),
        SYS_DUP => io::dup(a0),
        SYS_DUP2 => io::dup2(a0, a1),
        SYS_DUP3 => io::dup3(a0, a1, a2),
        SYS_FCNTL | SYS_FCNTL64 => io::fcntl(a0, a1, a2),
        SYS_MADVISE => memory::madvise(a0, a1, a2),
        SYS_OPEN => fs::open(a0, a1, a2),
        SYS_OPENAT => fs::openat(a0, a1, a2, a3),
        SYS_CREAT => fs::creat(a0, a1),
        SYS_FORK | SYS_VFORK => process::fork(frame, 0, 0, 0, 0),
        SYS_WAIT4 => process::wait4(a0, a1, a2, a3),
        SYS_WAITID => process::waitid(a0, a1, a2, a3, a4),
        SYS_WAITPID => process::wait4(a0, a1, a2, 0),
        SYS_GETPPID => process::getppid(),
        SYS_SETPGID => process::setpgid(a0, a1),
        SYS_GETPGID => process::getpgid(a0),
        SYS_GETPGRP => process::getpgid(0),
        SYS_SETSID => process::setsid(),
        SYS_GETSID => process::getsid(a0),
        SYS_UTIMENSAT => fs::utimensat(a0, a1, a2, a3, false),
        SYS_UTIMENSAT_TIME64 => fs::utimensat(a0, a1, a2, a3, true),
        SYS_EXECVE => process::execve(frame, a0, a1, a2),
        SYS_PIPE => io::pipe2(a0, 0),
        SYS_PIPE2 => io::pipe2(a0, a1),
        SYS_PWRITE64 => io::pwrite64(a0, a1, a2, a3, a4),
        SYS_FTRUNCATE => io::ftruncate64(a0, a1, 0),
        SYS_FTRUNCATE64 => io::ftruncate64(a0, a1, a2),
        SYS_TRUNCATE => fs::truncate64(a0, a1, 0),
        SYS_TRUNCATE64 => fs::truncate64(a0, a1, a2),
        SYS_MKDIR => fs::mkdir(a0, a1),
        SYS_MKDIRAT => fs::mkdirat(a0, a1, a2),
        SYS_UNLINK => fs::unlink(a0),
        SYS_UNLINKAT => fs::unlinkat(a0, a1, a2),
        SYS_RMDIR => fs::rmdir(a0),
        SYS_RENAME => fs::rename(a0, a1),
        SYS_RENAMEAT => fs::renameat2(a0, a1, a2, a3, 0),
        SYS_RENAMEAT2 => fs::renameat2(a0, a1, a2, a3, a4),
        SYS_SYMLINK => fs::symlink(a0, a1),
        SYS_SYMLINKAT => fs::symlinkat(a0, a1, a2),
        SYS_LINK => fs::link(a0, a1),
        SYS_LINKAT => fs::linkat(a0, a1, a2, a3, a4),
        SYS_CHDIR => fs::chdir(a0),
        SYS_FCHDIR => fs::fchdir(a0),
        SYS_UMASK => fs::umask(a0),
        SYS_CHMOD => fs::chmod(a0, a1),
        SYS_FCHMOD => fs::fchmod(a0, a1),
        SYS_FCHMODAT => fs::fchmodat(a0, a1, a2),
        SYS_STAT64 => fs::stat64(a0, a1),
        SYS_LSTAT64 => fs::lstat64(a0, a1),
        SYS_FSTATAT64 => fs::fstatat64(a0, a1, a2, a3),
        SYS_GETDENTS64 => fs::getdents64(a0, a1, a2),
        SYS_READLINKAT => fs::readlinkat(a0, a1, a2, a3),
        SYS_ACCESS => fs::access(a0, a1),
        SYS_FACCESSAT => fs::faccessat(a0, a1, a2, 0),
        SYS_FACCESSAT2 => fs::faccessat(a0, a1, a2, a3),
        SYS_GETCWD => fs::getcwd(a0, a1),
        SYS_LSEEK => io::lseek(a0, a1, a2),
        SYS_LLSEEK => io::llseek(a0, a1, a2, a3, a4),
        SYS_PREAD64 => io::pread64(a0, a1, a2, a3, a4),
        SYS_CLOSE => io::close(a0),
        SYS_GETPID => Ok(crate::sched::with_current(|t| t.process.tgid)),
        SYS_GETTID => Ok(crate::sched::current_tid()),
        SYS_BRK => memory::brk(a0),
        SYS_MUNMAP => memory::munmap(a0, a1),
        SYS_MPROTECT => memory::mprotect(a0, a1, a2),
        SYS_MREMAP => memory::mremap(&mut frame.eip, a0, a1, a2, a3, a4),
        SYS_SCHED_YIELD => {
            crate::sched::yield_now();
            Ok(0)
        }
        SYS_NANOSLEEP => sched::nanosleep(a0, a1),
        SYS_CLOCK_NANOSLEEP => sched::clock_nanosleep(a0, a1, a2, a3, Layout::Time32),
        SYS_CLOCK_NANOSLEEP_TIME64 => sched::clock_nanosleep(a0, a1, a2, a3, Layout::Time64),
        SYS_CLOCK_GETTIME => sched::clock_gettime(a0, a1, Layout::Time32),
        SYS_CLOCK_GETTIME64 => sched::clock_gettime(a0, a1, Layout::Time64),
        SYS_CLOCK_GETRES => sched::clock_getres(a0, a1, Layout::Time32),
        SYS_CLOCK_GETRES_TIME64 => sched::clock_getres(a0, a1, Layout::Time64),
        SYS_GETTIMEOFDAY => sched::gettimeofday(a0, a1),
        SYS_TIME => sched::time(a0),
        SYS_FUTEX => sched::futex(a0, a1, a2, a3, a4, a5, Layout::Time32),
        SYS_FUTEX_TIME64 => sched::futex(a0, a1, a2, a3, a4, a5, Layout::Time64),
        SYS_SCHED_SETAFFINITY => sched::set_affinity(a0, a1, a2),
        SYS_SCHED_GETAFFINITY => sched::get_affinity(a0, a1, a2),
        SYS_GETCPU => sched::getcpu(a0, a1),
        SYS_SET_THREAD_AREA => tls::set_thread_area(a0),
        SYS_MODIFY_LDT => tls::modify_ldt(a0, a1, a2),
        SYS_GET_THREAD_AREA => tls::get_thread_area(a0),
        SYS_SET_TID_ADDRESS => process::set_tid_address(a0),
        SYS_SET_ROBUST_LIST => process::set_robust_list(a0, a1),
        SYS_UNAME => process::uname(a0),
        SYS_UGETRLIMIT => process::ugetrlimit(a0, a1),
        SYS_PRLIMIT64 => process::prlimit64(a0, a1, a2, a3),
        SYS_GETRANDOM => process::getrandom(a0, a1, a2),
        SYS_READLINK => fs::readlink(a0, a1, a2),
        // Every process runs as root: uid and gid 0.
        SYS_GETUID => process::get_id(Kind::User, false, Width::Old),
        SYS_GETEUID => process::get_id(Kind::User, true, Width::Old),
        SYS_GETGID => process::get_id(Kind::Group, false, Width::Old),
        SYS_GETEGID => process::get_id(Kind::Group, true, Width::Old),
        SYS_GETUID32 => process::get_id(Kind::User, false, Width::Wide),
        SYS_GETEUID32 => process::get_id(Kind::User, true, Width::Wide),
        SYS_GETGID32 => process::get_id(Kind::Group, false, Width::Wide),
        SYS_GETEGID32 => process::get_id(Kind::Group, true, Width::Wide),
        SYS_IOPERM => process::ioperm(a0, a1, a2),
        SYS_SETUID => process::set_id(Kind::User, a0, Width::Old),
        SYS_SETGID => process::set_id(Kind::Group, a0, Width::Old),
        SYS_SETUID32 => process::set_id(Kind::User, a0, Width::Wide),
        SYS_SETGID32 => process::set_id(Kind::Group, a0, Width::Wide),
        SYS_SETRESUID => process::set_res_ids(Kind::User, [a0, a1, a2], Width::Old),
        SYS_SETRESGID => process::set_res_ids(Kind::Group, [a0, a1, a2], Width::Old),
        SYS_SETRESUID32 => process::set_res_ids(Kind::User, [a0, a1, a2], Width::Wide),
        SYS_SETRESGID32 => process::set_res_ids(Kind::Group, [a0, a1, a2], Width::Wide),
        SYS_GETRESUID => process::get_res_ids(Kind::User, [a0, a1, a2], Width::Old),
        SYS_GETRESGID => process::get_res_ids(Kind::Group, [a0, a1, a2], Width::Old),
        SYS_GETRESUID32 => process::get_res_ids(Kind::User, [a0, a1, a2], Width::Wide),
        SYS_GETRESGID32 => process::get_res_ids(Kind::Group, [a0, a1, a2], Width::Wide),
        SYS_FSTAT64 => io::fstat64(a0, a1),
        SYS_STATX => fs::statx(a0, a1, a2, a4),
        SYS_IOCTL => io::ioctl(a0, a1, a2),
        SYS_POLL => poll::poll(a0, a1, a2),
        SYS_PPOLL => poll::ppoll(a0, a1, a2, a3, a4, Layout::Time32),
        SYS_PPOLL_TIME64 => poll::ppoll(a0, a1, a2, a3, a4, Layout::Time64),
        SYS_SELECT => poll::old_select(a0),
        SYS_NEWSELECT => poll::newselect(a0, a1, a2, a3, a4),
        SYS_PSELECT6 => poll::pselect6(a0, a1, a2, a3, a4, a5, Layout::Time32),
        SYS_PSELECT6_TIME64 => poll::pselect6(a0, a1, a2, a3, a4, a5, Layout::Time64),
        SYS_RT_SIGACTION => signal::rt_sigaction(a0, a1, a2, a3),
        SYS_SIGACTION => signal::sigaction(a0, a1, a2),
        SYS_RT_SIGPROCMASK => signal::rt_sigprocmask(a0, a1, a2, a3),
        SYS_RT_SIGPENDING => signal::rt_sigpending(a0, a1),
        SYS_RT_SIGSUSPEND => signal::rt_sigsuspend(a0, a1),
        SYS_PAUSE => signal::pause(),
        SYS_SIGALTSTACK => signal::sigaltstack(a0, a1, frame.user_esp),
        SYS_RT_SIGRETURN => signal::rt_sigreturn(frame),
        SYS_SIGRETURN => signal::sigreturn(frame),
        SYS_KILL => signal::kill(a0, a1),
        SYS_TGKILL => signal::tgkill(a0, a1, a2),
        SYS_TKILL => signal::tkill(a0, a1),
        SYS_MMAP2 => memory::mmap2(a0, a1, a2, a3, a4, a5),
        number @ SYS_TEMPEST_TEMP_STATS..=SYS_TEMPEST_TEMP_BENCH if !tempest_calls_on() => {
            Err(unknown(number))
        }
        SYS_TEMPEST_TEMP_STATS => temp_stats(a0),
        SYS_TEMPEST_BENCH_BARRIER => bench::barrier(a0),
        SYS_TEMPEST_BENCH_REPORT => bench::report(a0),
        SYS_TEMPEST_KERNEL_SPIN => probe::kernel_spin(a0, a1, a2),
        SYS_TEMPEST_TEMP_HOLD => probe::temp_hold(a0, a1, a2),
        SYS_TEMPEST_TEMP_BENCH => probe::temp_bench(a0),
        number => Err(unknown(number)),
    };
    frame.eax = match result {
        Ok(v) => v,
        Err(e) => e.to_return(),
    };
    probe::maybe_leak_temp();
    count_temp_maps(class, maps_before);
}

/// Adds the temp mappings the running task made since it had made `before` to `class`'s
/// counters: its own (its process's once it is reaped) and this CPU's. On every system
/// call: the common "none" is inline.
#[inline(always)]
pub fn count_temp_maps(class: crate::syscall_table::Class, before: u32) {
    let made = crate::sched::own_temp_maps().wrapping_sub(before);
    if made == 0 {
        return;
    }
    crate::sched::with_current(|t| {
        t.temp_by_class[class.index()].add(made);
        crate::cpu::percpu::this().stats.temp_by_class[class.index()].add(made);
    });
}

/// A call Tempest does not have: `ENOSYS`, and one log line the first time each process
/// makes it, so a user sees at once what a program lacks.
fn unknown(number: u32) -> Errno {
    let process = crate::sched::current_process();
    let first = {
        let mut seen = process.unknown_calls.lock();
        let first = !seen.contains(&number);
        if first {
            seen.push(number);
        }
        first
    };
    if first {
        let (pid, name) = (process.tgid, &process.name);
        match crate::syscall_table::find(number) {
            Some(call) if call.number >= crate::syscall_table::TEMPEST_BASE => log::warn!(
                "pid {pid} ({name}): system call {number:#x} ({}) is one of Tempest's own, off without `tempest-calls` on the kernel command line: -ENOSYS",
                call.name
            ),
            _ => {
                let linux = crate::syscall_table::linux_name(number).unwrap_or("not a Linux call");
                log::warn!(
                    "pid {pid} ({name}): system call {number} ({linux}) is not implemented: -ENOSYS"
                );
            }
        }
    }
    Errno::ENOSYS
}

/// Reads `len` (at most `N`) bytes of the caller's memory at `address`.
fn read_user<const N: usize>(address: u32, len: usize) -> Result<[u8; N], Errno> {
    let mut raw = [0u8; N];
    let process = crate::sched::current_process();
    uaccess::copy_from_user(&process.mem.lock().space, &mut raw[..len], address)?;
    Ok(raw)
}

/// Longest path a call reads (Linux's `PATH_MAX`).
const PATH_MAX: usize = 4096;

/// Reads the NUL-terminated path at `address` in the caller's memory (`EFAULT`,
/// `ENAMETOOLONG` past `PATH_MAX`).
fn read_path(address: u32) -> Result<alloc::vec::Vec<u8>, Errno> {
    let process = crate::sched::current_process();
    let memory = process.mem.lock();
    uaccess::copy_c_string(&memory.space, address, PATH_MAX)
}

/// Writes `bytes` to the caller's memory at `address`.
fn write_user(address: u32, bytes: &[u8]) -> Result<(), Errno> {
    let process = crate::sched::current_process();
    uaccess::copy_to_user(&process.mem.lock().space, address, bytes)
}

/// Tempest's `temp_stats(out)`: `{ process: TempCounters, cpu: TempCounters }`, each
/// `{ maps: u64, unmaps: u64, failures: u64, peak_depth: u32, depth: u32 }`.
fn temp_stats(out: u32) -> SysResult {
    let (cpu, mut process) = crate::sched::with_own_context(|ctx| {
        let mut process = ctx.temp;
        process.absorb(&temp::running_counters());
        (temp::cpu_counters(crate::cpu::percpu::cpu_id()), process)
    });
    process.depth = cpu.depth;
    let mut bytes = [0u8; 64];
    for (i, c) in [process, cpu].iter().enumerate() {
        let b = &mut bytes[i * 32..(i + 1) * 32];
        b[0..8].copy_from_slice(&c.maps.to_le_bytes());
        b[8..16].copy_from_slice(&c.unmaps.to_le_bytes());
        b[16..24].copy_from_slice(&c.failures.to_le_bytes());
        b[24..28].copy_from_slice(&c.peak_depth.to_le_bytes());
        b[28..32].copy_from_slice(&c.depth.to_le_bytes());
    }
    write_user(out, &bytes)?;
    Ok(0)
}

// clone flags (Linux's sched.h).
const CLONE_VM: u32 = 0x0000_0100;
const CLONE_FS: u32 = 0x0000_0200;
const CLONE_FILES: u32 = 0x0000_0400;
const CLONE_SIGHAND: u32 = 0x0000_0800;
const CLONE_THREAD: u32 = 0x0001_0000;
const CLONE_SYSVSEM: u32 = 0x0004_0000;
const CLONE_SETTLS: u32 = 0x0008_0000;
const CLONE_PARENT_SETTID: u32 = 0x0010_0000;
const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
const CLONE_CHILD_SETTID: u32 = 0x0100_0000;
/// Ignored by Linux since 2.6 (musl still passes it).
const CLONE_DETACHED: u32 = 0x0040_0000;
/// Flags a thread may carry besides CLONE_VM | CLONE_THREAD (what glibc's pthread_create
/// passes). `CLONE_CHILD_CLEARTID`: the word at `child_tid` is cleared and woken (a futex
/// wake) when the thread exits, which is how a join waits. `CLONE_SETTLS`: `tls` points
/// at a `user_desc` for one of the thread's TLS entries.
const CLONE_THREAD_EXTRAS: u32 = CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_DETACHED
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_SETTID
    | CLONE_CHILD_CLEARTID;

/// `clone(flags, newsp, parent_tid, tls, child_tid)`: a new thread of the caller's process
/// (`CLONE_VM | CLONE_THREAD` required: Tempest has no fork), starting where the caller
/// returns, with `eax` = 0, stack `newsp`, and the caller's TLS entries (one of them
/// replaced with `CLONE_SETTLS`). Unsupported flags are `-EINVAL`.
fn clone(
    frame: &TrapFrame,
    flags: u32,
    newsp: u32,
    parent_tid: u32,
    tls: u32,
    child_tid: u32,
) -> SysResult {
    if flags & CLONE_VM == 0 {
        return process::fork(frame, flags, newsp, parent_tid, child_tid);
    }
    let required = CLONE_VM | CLONE_THREAD;
    if flags & required != required
        || flags & !(required | CLONE_THREAD_EXTRAS | 0xff) != 0
        || newsp == 0
    {
        return Err(Errno::EINVAL);
    }
    let tls = tls::for_new_thread(flags & CLONE_SETTLS != 0, tls)?;
    let process = crate::sched::current_process();
    let mut child = *frame;
    child.eax = 0;
    child.user_esp = newsp;
    // The tids are written before the thread exists: a bad pointer fails the call with
    // no thread started, and the child never runs before its tid is in place.
    let tid = crate::sched::new_tid();
    {
        let space = &process.mem.lock().space;
        if flags & CLONE_PARENT_SETTID != 0 {
            uaccess::copy_to_user(space, parent_tid, &tid.to_le_bytes())?;
        }
        if flags & CLONE_CHILD_SETTID != 0 {
            uaccess::copy_to_user(space, child_tid, &tid.to_le_bytes())?;
        }
    }
    let clear_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
        child_tid
    } else {
        0
    };
    let cpu = crate::sched::spawn_thread(tid, process.clone(), &child, clear_tid, tls)?;
    log::debug!("pid {}: thread {tid} on cpu {cpu}", process.tgid);
    Ok(tid)
}
