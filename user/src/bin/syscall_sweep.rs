//! `syscall_sweep`: every system call number from 0 to 1024, and a few far beyond (-1, -2,
//! 0x80000000, -4096, Tempest's own 0x10000 to 0x10006), with bad pointers and odd values
//! in every argument (the kernel half, the null page, the top page, the temp-mapping
//! window, the local APIC's page, buffers straddling the user/kernel boundary and a
//! mapped/unmapped one), from four
//! threads at once (one per CPU when there are four). Each call must come back with a
//! result (an error, most of the time) and the process must live on: no kernel crash, no
//! kill. The QEMU test then checks the kernel's summary (no frame or temp slot leaked) and
//! compares the numbers that answered `-ENOSYS` to every argument set, in the main
//! thread's sweep, with the kernel's table (docs/syscalls.md): exactly the calls Tempest
//! lacks, and every number past Linux's last (450).
//!
//! Left out, because their job is to end or redirect the caller or to signal others:
//! `exit` (1), `kill` (37), `sigreturn` (119), `rt_sigreturn` (173), `tkill` (238),
//! `exit_group` (252), `tgkill` (270); and `pause` (29), which takes no argument to be
//! bad and waits for a signal that never comes, on Linux as here. The calls that make a process (`fork`, `vfork`,
//! `clone` without `CLONE_VM`) are swept like the others: a child they make notices it is
//! not the sweeping process and ends at once.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, ENOSYS};
use tempest_user::{Args, Thread, println};

tempest_user::entry!(main);

const LAST: u32 = 1024;
/// Negative numbers (-1, -2, -4096), the sign bit, and Tempest's own calls (0x10000 to
/// 0x10005), which the suite boots without `tempest-calls`, so they too must be `ENOSYS`.
const FAR: [u32; 11] = [
    u32::MAX,
    0xFFFF_FFFE,
    0x8000_0000,
    0xFFFF_F000,
    0x1_0000,
    0x1_0001,
    0x1_0002,
    0x1_0003,
    0x1_0004,
    0x1_0005,
    0x1_0006,
];
const SKIPPED: [u32; 8] = [1, 29, 37, 119, 173, 238, 252, 270];
const SWEEPERS: usize = 4;

/// A kernel address, the null page, the top page, the temp-mapping window, the local
/// APIC's page, and a buffer that straddles the user/kernel boundary.
const KERNEL: usize = 0xC000_0000;
const NULL_PAGE: usize = 0x10;
const TOP: usize = 0xFFFF_F000;
const TEMP_WINDOW: usize = 0xE000_0000;
const APIC: usize = 0xFEE0_0000;
const STRADDLES_KERNEL: usize = KERNEL - 16;

/// 16 bytes before the end of a mapped page whose next page is unmapped (set by `main`).
static STRADDLES_HOLE: AtomicU32 = AtomicU32::new(0);

/// The sweeping process's pid (set by `main`).
static SWEEPER_PID: AtomicU32 = AtomicU32::new(0);

/// Sweepers that have finished.
static DONE: AtomicU32 = AtomicU32::new(0);

/// The argument sets, each call made once with each; `fd` is the sweeper's own
/// descriptor on /dev/null.
fn sets(fd: usize) -> [[usize; 6]; 10] {
    let hole = STRADDLES_HOLE.load(Ordering::Relaxed) as usize;
    [
        [KERNEL; 6],
        [NULL_PAGE; 6],
        [TOP; 6],
        [fd, KERNEL, 16, KERNEL, KERNEL, KERNEL],
        [KERNEL, 16, 0, 0, 0, 0],
        [12, KERNEL, KERNEL, 8, 0, 0],
        [TEMP_WINDOW; 6],
        [fd, APIC, 64, APIC, APIC, APIC],
        [fd, STRADDLES_KERNEL, 32, STRADDLES_KERNEL, 32, 0],
        [fd, hole, 32, hole, 32, hole],
    ]
}

/// Sweeper `i` (0: the main thread) uses descriptor 3 + i, restored from 8 + i before
/// each call. Returns the numbers that answered `-ENOSYS` to every set, and the calls made.
fn sweep(i: usize, missing: &mut [u32]) -> (usize, usize) {
    let (fd, spare) = (3 + i, 8 + i);
    let mut calls = 0;
    let mut count = 0;
    for nr in (0..=LAST).chain(FAR) {
        if SKIPPED.contains(&nr) {
            continue;
        }
        let mut all_enosys = true;
        for [a, b, c, d, e, f] in sets(fd) {
            sys::syscall2(63, spare, fd); // dup2(spare, fd): /dev/null again
            let r = sys::syscall6(nr, a, b, c, d, e, f);
            if sys::getpid() != SWEEPER_PID.load(Ordering::Relaxed) as isize {
                // A forked copy of this sweeper: it has nothing to sweep.
                sys::exit_group(0);
            }
            calls += 1;
            all_enosys &= r == -(ENOSYS as isize);
        }
        if all_enosys && count < missing.len() {
            missing[count] = nr;
            count += 1;
        }
    }
    (count, calls)
}

extern "C" fn sweeper(i: usize) -> ! {
    let mut missing = [0u32; LAST as usize + 4];
    sweep(i, &mut missing);
    DONE.fetch_add(1, Ordering::AcqRel);
    sys::exit(0)
}

fn main(_: &Args) -> i32 {
    SWEEPER_PID.store(sys::getpid() as u32, Ordering::Relaxed);
    let two = sys::map_anonymous(2 * 4096);
    // SAFETY: the second page of a fresh mapping nothing else uses.
    if sys::is_error(two) || unsafe { sys::munmap(two as usize + 4096, 4096) } != 0 {
        println!("FAIL: cannot set up a page with a hole after it ({two})");
        return 1;
    }
    STRADDLES_HOLE.store(two as u32 + 4096 - 16, Ordering::Relaxed);
    for i in 0..SWEEPERS {
        let (fd, spare) = (3 + i, 8 + i);
        let opened = sys::open(b"/dev/null\0", 2);
        if opened != fd as isize || sys::syscall2(63, fd, spare) != spare as isize {
            println!("FAIL: cannot set up /dev/null on fds {fd} and {spare} ({opened})");
            return 1;
        }
    }
    for i in 1..SWEEPERS {
        if let Err(e) = Thread::spawn(sweeper, i) {
            println!("FAIL: clone of sweeper {i} = {e}");
            return 1;
        }
    }
    let mut missing = [0u32; LAST as usize + 4];
    let (count, calls) = sweep(0, &mut missing);
    while DONE.load(Ordering::Acquire) < SWEEPERS as u32 - 1 {
        sys::syscall0(sys::SYS_SCHED_YIELD);
    }
    for line in missing[..count].chunks(20) {
        print_numbers(line);
    }
    println!(
        "sweep: done: {calls} calls by the main thread ({SWEEPERS} sweepers), {count} numbers answered ENOSYS to every set"
    );
    0
}

/// One line, in one `write` (20 numbers fit the writer's 256 bytes): a kernel log line
/// from another program cannot land in the middle of it and cut numbers off.
fn print_numbers(numbers: &[u32]) {
    use core::fmt::Write as _;
    let mut line = tempest_user::io::FdWriter::new(1);
    let _ = write!(line, "sweep: enosys");
    for n in numbers {
        let _ = write!(line, " {n}");
    }
    let _ = writeln!(line);
}
