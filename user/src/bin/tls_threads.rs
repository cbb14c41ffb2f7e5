//! `tls_threads [ROUNDS]`: thread-local storage through `set_thread_area` and `CLONE_SETTLS`
//! stays each thread's own across context switches.
//!
//! The main thread asks for a TLS entry (`set_thread_area` with entry -1), points it at a
//! block holding its own number, and loads `%gs` with the entry's selector, as glibc does.
//! Three threads are started with `CLONE_SETTLS`, the same entry pointing at blocks of
//! their own; they inherit `%gs`. All four are pinned to one CPU and, for `ROUNDS` rounds
//! (default 2000), read `%gs:0` and give the CPU away: each must always read its own
//! number. A read of another's number means the switch left another task's TLS entry in
//! the GDT (the negative control `no-tls-reload` must end here, exit 1).
//!
//! It also checks the calls: `get_thread_area` gives back what was set; an entry outside
//! 6..=8, a code segment, a 16-bit segment and a bad pointer are refused (`-EINVAL`,
//! `-EFAULT`); entry -1 when the three entries are taken is `-ESRCH`; and clearing the
//! entry `%gs` uses leaves `%gs` null on the way back to user mode instead of faulting.
#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, EFAULT, EINVAL, ESRCH, UserDesc};
use tempest_user::{Args, Checks, Thread, println};

tempest_user::entry!(main);

const THREADS: usize = 3;
const DEFAULT_ROUNDS: u32 = 2000;

/// Each thread's TLS block: its number in the first word.
static BLOCKS: [AtomicU32; THREADS + 1] = [const { AtomicU32::new(0) }; THREADS + 1];
static ROUNDS: AtomicU32 = AtomicU32::new(DEFAULT_ROUNDS);
static WRONG: AtomicU32 = AtomicU32::new(0);
static DONE: AtomicU32 = AtomicU32::new(0);

fn neg(errno: i32) -> isize {
    -(errno as isize)
}

/// `%gs:0`.
fn gs_word() -> u32 {
    let v: u32;
    // SAFETY: reads one word through %gs, which points at this thread's block (or faults,
    // which would end the process: the test then fails).
    unsafe { asm!("mov {}, gs:[0]", out(reg) v, options(nostack, readonly, preserves_flags)) };
    v
}

fn gs_selector() -> u32 {
    let v: u32;
    // SAFETY: reads a segment register.
    unsafe { asm!("mov {:e}, gs", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v & 0xffff
}

/// Loads %gs with `selector`.
fn load_gs(selector: u32) {
    // SAFETY: the selector names a present TLS entry of this thread (a fault would end the
    // process, failing the test).
    unsafe { asm!("mov gs, {:e}", in(reg) selector, options(nomem, nostack, preserves_flags)) };
}

/// Reads `%gs:0` `ROUNDS` times, yielding between reads; counts reads of another number.
fn run(me: u32) {
    let mut wrong = 0;
    for _ in 0..ROUNDS.load(Ordering::Relaxed) {
        if gs_word() != me {
            wrong += 1;
        }
        sys::sched_yield();
    }
    WRONG.fetch_add(wrong, Ordering::AcqRel);
    DONE.fetch_add(1, Ordering::AcqRel);
}

extern "C" fn thread(me: usize) -> ! {
    run(me as u32);
    sys::exit(0)
}

fn refusals(c: &mut Checks, entry: u32) {
    let mut outside = UserDesc::data(5, 0x1000);
    c.eq(
        "set_thread_area(entry 5)",
        sys::set_thread_area(&mut outside),
        neg(EINVAL),
    );
    let mut code = UserDesc {
        flags: UserDesc::data(entry, 0).flags | 2 << 1,
        ..UserDesc::data(entry, 0x1000)
    };
    c.eq(
        "set_thread_area(a code segment)",
        sys::set_thread_area(&mut code),
        neg(EINVAL),
    );
    let mut sixteen = UserDesc {
        flags: UserDesc::data(entry, 0).flags & !1,
        ..UserDesc::data(entry, 0x1000)
    };
    c.eq(
        "set_thread_area(a 16-bit segment)",
        sys::set_thread_area(&mut sixteen),
        neg(EINVAL),
    );
    let bad = sys::syscall1(sys::SYS_SET_THREAD_AREA, 0x10);
    c.eq("set_thread_area(bad pointer)", bad, neg(EFAULT));
    let mut get = UserDesc {
        entry_number: 9,
        ..UserDesc::default()
    };
    c.eq(
        "get_thread_area(entry 9)",
        sys::get_thread_area(&mut get),
        neg(EINVAL),
    );
}

fn main(args: &Args) -> i32 {
    let mut c = Checks::new("tls_threads");
    if let Some(r) = args.str(1).and_then(|s| s.parse::<u32>().ok()) {
        ROUNDS.store(r, Ordering::Relaxed);
    }
    c.eq("pin to cpu 0", sys::pin_to_cpu(0), 0);
    for (i, b) in BLOCKS.iter().enumerate() {
        b.store(100 + i as u32, Ordering::Relaxed);
    }
    let mut mine = UserDesc::data(u32::MAX, BLOCKS[0].as_ptr() as usize);
    c.eq(
        "set_thread_area(entry -1)",
        sys::set_thread_area(&mut mine),
        0,
    );
    let entry = mine.entry_number;
    // 6..=8 on i386 Linux and Tempest; 12..=14 for an i386 program on x86_64 Linux (the
    // host this program is also run on, as the oracle).
    c.check(
        (6..=8).contains(&entry) || (12..=14).contains(&entry),
        format_args!("the kernel picked entry {entry}, a TLS entry (6..=8 on i386)"),
    );
    let selector = entry << 3 | 3;
    load_gs(selector);
    c.eq("%gs:0 through the new entry", gs_word(), 100);
    let mut back = UserDesc {
        entry_number: entry,
        ..UserDesc::default()
    };
    c.eq("get_thread_area", sys::get_thread_area(&mut back), 0);
    c.eq("get_thread_area gives back what was set", back, mine);
    refusals(&mut c, entry);

    let mut threads = [None; THREADS];
    for (i, slot) in threads.iter_mut().enumerate() {
        let tls = UserDesc::data(entry, BLOCKS[i + 1].as_ptr() as usize);
        match Thread::spawn_with_tls(thread, 101 + i, &tls) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                c.check(false, format_args!("clone(CLONE_SETTLS) = {e}"));
                return c.finish();
            }
        }
    }
    run(100);
    for t in threads.iter().flatten() {
        t.join();
    }
    let (wrong, done) = (WRONG.load(Ordering::Acquire), DONE.load(Ordering::Acquire));
    let reads = ROUNDS.load(Ordering::Relaxed) * (THREADS as u32 + 1);
    println!(
        "tls_threads: {done} threads, {reads} reads of %gs:0 between switches, {wrong} of another thread's"
    );
    c.eq("reads of another thread's TLS", wrong, 0);

    // The other two entries, then none left.
    let mut more = [
        UserDesc::data(u32::MAX, 0x2000),
        UserDesc::data(u32::MAX, 0x3000),
    ];
    for d in &mut more {
        c.eq(
            "set_thread_area(entry -1) again",
            sys::set_thread_area(d),
            0,
        );
    }
    let mut fourth = UserDesc::data(u32::MAX, 0x4000);
    c.eq(
        "set_thread_area(entry -1) with none free",
        sys::set_thread_area(&mut fourth),
        neg(ESRCH),
    );
    // Clearing the entry %gs uses: the kernel nulls %gs on the way out instead of faulting.
    let mut empty = UserDesc {
        entry_number: entry,
        ..UserDesc::default()
    };
    c.eq(
        "set_thread_area(empty) on the entry %gs uses",
        sys::set_thread_area(&mut empty),
        0,
    );
    c.eq("%gs after its entry was cleared", gs_selector(), 0);
    c.finish()
}
