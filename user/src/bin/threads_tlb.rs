//! `threads_tlb MODE [PAGES]`: three threads, each on its own CPU when there are four, keep
//! the translations of a range of PAGES pages (default 1) hot (they write it in a loop) while the main thread changes the mapping
//! (`mprotect` to read-only, or `munmap`). Once the call has returned it raises a phase
//! flag (release/acquire, no timing); from then on a thread's next write must fault, which
//! ends the process with SIGSEGV (status 139). A write that goes through instead used a
//! stale translation: the threads count it, and the process exits 1 naming it. Only a TLB
//! shootdown that reached every CPU running a thread gets the 139. With several pages, the
//! threads write the range's last page and read all the others (every translation hot,
//! and none written but the last, so that a correctly flushed page cannot end the process
//! early): a shootdown that flushed only the first pages of the range leaves the last one
//! writable, and the write after the flag goes through.
//!
//! `threads_tlb remap`: the threads read the range instead (every page holds generation 1),
//! and the main thread maps new pages over it (`mmap2` with `MAP_FIXED`), which the kernel
//! zero-fills, then raises the phase flag. A thread's next reads (the last, the middle and
//! the first page) must see 0, the new pages; reading 1 means it read an old frame through
//! a stale translation. (The main thread writes nothing into the new pages: its own CPU's
//! stale translations would carry the write to the old frames and hide the readers'. The
//! kernel takes the new frames before it frees the old ones, so an old frame cannot come
//! back as a new page.) The process exits 0 when every thread read the new pages, else 1.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use tempest_user::sys::{self, PROT_READ};
use tempest_user::{Args, println};

tempest_user::entry!(main);

const THREADS: u32 = 3;
const STACK: usize = 16 * 1024;

static READY: AtomicU32 = AtomicU32::new(0);
/// Raised before the change: the threads stop touching the range (their translations stay
/// cached) and count themselves in `STILL`, so that the first access after the change is
/// the checked one (an access to a correctly flushed page in between would end the process
/// and hide a page left stale).
static HOLD: AtomicU32 = AtomicU32::new(0);
static STILL: AtomicU32 = AtomicU32::new(0);
static PHASE: AtomicU32 = AtomicU32::new(0);

/// Once `HOLD` is up: counts the thread in `STILL` and waits for `PHASE`, touching nothing.
fn hold_until_phase() {
    STILL.fetch_add(1, Ordering::AcqRel);
    while PHASE.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
}
static STALE: AtomicU32 = AtomicU32::new(0);
/// Remap mode: threads that read the new page's generation after the phase flag.
static FRESH: AtomicU32 = AtomicU32::new(0);
/// Pages in the range (the second argument).
static PAGES: AtomicU32 = AtomicU32::new(1);
const PAGE: usize = 4096;

/// The range's pages a thread checks after the flag: the last, the middle, the first.
fn checked_pages() -> [usize; 3] {
    let n = PAGES.load(Ordering::Relaxed) as usize;
    [n - 1, n / 2, 0]
}

/// The generations of the pages before and after the remap (the new ones are zero-filled).
const OLD: u32 = 1;
const NEW: u32 = 0;

extern "C" fn reader(page: usize) -> ! {
    let pages = PAGES.load(Ordering::Relaxed) as usize;
    // SAFETY: the range is mapped readable for the whole test (replaced, never unmapped).
    let read = |i: usize| unsafe { ((page + i * PAGE) as *const u32).read_volatile() };
    let touch_all = || (0..pages).for_each(|i| _ = read(i));
    touch_all();
    READY.fetch_add(1, Ordering::AcqRel);
    loop {
        if HOLD.load(Ordering::Acquire) == 1 {
            hold_until_phase();
            let fresh = checked_pages().iter().all(|&i| read(i) == NEW);
            let seen = if fresh { &FRESH } else { &STALE };
            seen.fetch_add(1, Ordering::AcqRel);
            sys::exit(0);
        }
        touch_all();
    }
}

extern "C" fn writer(page: usize) -> ! {
    let pages = PAGES.load(Ordering::Relaxed) as usize;
    let slot = sys::gettid() as usize % 64;
    // SAFETY: the range is mapped writable until the main thread changes it; after that a
    // write faults (the point of the test) or goes through a stale translation.
    let write =
        |i: usize, v: u32| unsafe { ((page + i * PAGE) as *mut u32).add(slot).write_volatile(v) };
    // SAFETY: as above; reads never fault (the range stays mapped readable until munmap,
    // and after munmap a read faults as a write would).
    let read = |i: usize| unsafe { ((page + i * PAGE) as *const u32).read_volatile() };
    let last = pages - 1;
    let mut n: u32 = 0;
    let touch = |n: u32| {
        (0..last).for_each(|i| _ = read(i));
        write(last, n);
    };
    touch(n);
    READY.fetch_add(1, Ordering::AcqRel);
    loop {
        if HOLD.load(Ordering::Acquire) == 1 {
            hold_until_phase();
            // As above: this write, to the range's last page, must fault.
            write(last, 0xdead_beef);
            STALE.fetch_add(1, Ordering::AcqRel);
            sys::exit(0);
        }
        n = n.wrapping_add(1);
        touch(n);
    }
}

fn main(args: &Args) -> i32 {
    let mode = args.str(1).unwrap_or("mprotect");
    let pages = match args.str(2).map(str::parse::<u32>) {
        None => 1,
        Some(Ok(n)) if (1..=64).contains(&n) => n,
        Some(_) => {
            println!("usage: threads_tlb mprotect|munmap|remap [PAGES 1..=64]");
            return 2;
        }
    };
    PAGES.store(pages, Ordering::Relaxed);
    let len = pages as usize * PAGE;
    let map = sys::map_anonymous;
    let page = map(len);
    let stacks = map(THREADS as usize * STACK);
    if sys::is_error(page) || sys::is_error(stacks) {
        println!("FAIL: mmap2 failed");
        return 1;
    }
    if mode == "remap" {
        return remap(page as usize, len, stacks as usize);
    }
    if !start_threads(writer, page as usize, stacks as usize) {
        return 1;
    }
    println!(
        "threads_tlb: {THREADS} threads write {pages} page(s) at {page:#x}; about to {mode} them"
    );
    hold_threads();
    // SAFETY: only the threads use the range, and their accesses after this call are the
    // test: they must fault.
    let r = unsafe {
        match mode {
            "munmap" => sys::munmap(page as usize, len),
            _ => sys::mprotect(page as usize, len, PROT_READ),
        }
    };
    if r != 0 {
        println!("FAIL: {mode} returned {r}");
        return 1;
    }
    println!("threads_tlb: {mode} returned; the threads' next write must fault");
    PHASE.store(1, Ordering::Release);
    // A faulting thread ends the whole process; until then, see whether any got through.
    for _ in 0..1_000_000 {
        if STALE.load(Ordering::Acquire) == THREADS {
            break;
        }
        sys::sched_yield();
    }
    let stale = STALE.load(Ordering::Acquire);
    println!(
        "STALE: {stale} of {THREADS} threads wrote through the old translation after {mode} returned"
    );
    sys::exit_group(1)
}

/// Raises `HOLD` and waits until every thread has stopped touching the range.
fn hold_threads() {
    HOLD.store(1, Ordering::Release);
    while STILL.load(Ordering::Acquire) < THREADS {
        sys::sched_yield();
    }
}

/// Starts the `THREADS` threads running `entry(page)` on stacks carved from `stacks` and
/// waits until each has touched the page; false (having said why) if one cannot start.
fn start_threads(entry: extern "C" fn(usize) -> !, page: usize, stacks: usize) -> bool {
    for t in 0..THREADS as usize {
        let tid = sys::spawn_thread(entry, page, stacks + (t + 1) * STACK);
        if sys::is_error(tid) {
            println!("FAIL: clone returned {tid}");
            return false;
        }
    }
    while READY.load(Ordering::Acquire) < THREADS {
        sys::sched_yield();
    }
    true
}

/// The remap mode (see the top of the file).
fn remap(page: usize, len: usize, stacks: usize) -> i32 {
    let fill = |value: u32| {
        for at in (page..page + len).step_by(PAGE) {
            // SAFETY: the range is this program's, mapped read-write.
            unsafe { (at as *mut u32).write_volatile(value) };
        }
    };
    fill(OLD);
    if !start_threads(reader, page, stacks) {
        return 1;
    }
    println!("threads_tlb: {THREADS} threads read page {page:#x}; about to map a new page over it");
    hold_threads();
    let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED;
    // SAFETY: the threads only read the page, and what they read after this call is the test.
    let r = unsafe { sys::mmap2(page, len, PROT_READ | sys::PROT_WRITE, flags, -1, 0) };
    if r != page as isize {
        println!("FAIL: mmap2(MAP_FIXED) returned {r}");
        sys::exit_group(1);
    }
    println!("threads_tlb: remap returned; the threads' next reads must see the new pages");
    PHASE.store(1, Ordering::Release);
    while FRESH.load(Ordering::Acquire) + STALE.load(Ordering::Acquire) < THREADS {
        sys::sched_yield();
    }
    let (fresh, stale) = (FRESH.load(Ordering::Acquire), STALE.load(Ordering::Acquire));
    println!("FRESH: {fresh} of {THREADS} threads read the new pages after remap returned");
    if stale > 0 {
        println!(
            "STALE: {stale} of {THREADS} threads read the old frame through the old translation after remap returned"
        );
    }
    sys::exit_group(i32::from(stale > 0))
}
