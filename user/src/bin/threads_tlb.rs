//! `threads_tlb MODE`: three threads, each on its own CPU when there are four, keep a page's
//! translation hot (they write it in a loop) while the main thread changes the mapping
//! (`mprotect` to read-only, or `munmap`). Once the call has returned it raises a phase
//! flag (release/acquire, no timing); from then on a thread's next write must fault, which
//! ends the process with SIGSEGV (status 139). A write that goes through instead used a
//! stale translation: the threads count it, and the process exits 1 naming it. Only a TLB
//! shootdown that reached every CPU running a thread gets the 139.
//!
//! `threads_tlb remap`: the threads read the page instead (it holds generation 1), and the
//! main thread maps a new zeroed page over it (`mmap2` with `MAP_FIXED`), writes generation
//! 2 into the new page, then raises the phase flag. A thread's next read must see 2; seeing
//! anything else means it read the old frame through a stale translation. The process
//! exits 0 when every thread read 2, else 1. (The kernel takes the new frame before it
//! frees the old one, so the old frame cannot come back as the new page and hide a stale
//! read.)
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use tempest_user::sys::{self, PROT_READ};
use tempest_user::{Args, println};

tempest_user::entry!(main);

const THREADS: u32 = 3;
const STACK: usize = 16 * 1024;

static READY: AtomicU32 = AtomicU32::new(0);
static PHASE: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicU32 = AtomicU32::new(0);
/// Remap mode: threads that read the new page's generation after the phase flag.
static FRESH: AtomicU32 = AtomicU32::new(0);

/// The generations of the page before and after the remap.
const OLD: u32 = 1;
const NEW: u32 = 2;

extern "C" fn reader(page: usize) -> ! {
    let p = page as *const u32;
    // SAFETY: the page is mapped readable for the whole test (replaced, never unmapped).
    let read = || unsafe { p.read_volatile() };
    read();
    READY.fetch_add(1, Ordering::AcqRel);
    loop {
        if PHASE.load(Ordering::Acquire) == 1 {
            let seen = if read() == NEW { &FRESH } else { &STALE };
            seen.fetch_add(1, Ordering::AcqRel);
            sys::exit(0);
        }
        read();
    }
}

extern "C" fn writer(page: usize) -> ! {
    let p = page as *mut u32;
    let mut i: u32 = 0;
    // SAFETY: the page is mapped writable until the main thread changes it; after that a
    // write faults (the point of the test) or goes through a stale translation.
    unsafe { p.add(sys::gettid() as usize % 64).write_volatile(i) };
    READY.fetch_add(1, Ordering::AcqRel);
    loop {
        if PHASE.load(Ordering::Acquire) == 1 {
            // SAFETY: as above: this write must fault.
            unsafe { p.write_volatile(0xdead_beef) };
            STALE.fetch_add(1, Ordering::AcqRel);
            sys::exit(0);
        }
        i = i.wrapping_add(1);
        // SAFETY: as above.
        unsafe { p.add(sys::gettid() as usize % 64).write_volatile(i) };
    }
}

fn main(args: &Args) -> i32 {
    let mode = args.str(1).unwrap_or("mprotect");
    let map = sys::map_anonymous;
    let page = map(4096);
    let stacks = map(THREADS as usize * STACK);
    if sys::is_error(page) || sys::is_error(stacks) {
        println!("FAIL: mmap2 failed");
        return 1;
    }
    if mode == "remap" {
        return remap(page as usize, stacks as usize);
    }
    if !start_threads(writer, page as usize, stacks as usize) {
        return 1;
    }
    println!("threads_tlb: {THREADS} threads write page {page:#x}; about to {mode} it");
    // SAFETY: only the threads use the page, and their accesses after this call are the
    // test: they must fault.
    let r = unsafe {
        match mode {
            "munmap" => sys::munmap(page as usize, 4096),
            _ => sys::mprotect(page as usize, 4096, PROT_READ),
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
fn remap(page: usize, stacks: usize) -> i32 {
    // SAFETY: the page is this program's, mapped read-write, and no thread runs yet.
    unsafe { (page as *mut u32).write_volatile(OLD) };
    if !start_threads(reader, page, stacks) {
        return 1;
    }
    println!("threads_tlb: {THREADS} threads read page {page:#x}; about to map a new page over it");
    let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED;
    // SAFETY: the threads only read the page, and what they read after this call is the test.
    let r = unsafe { sys::mmap2(page, 4096, PROT_READ | sys::PROT_WRITE, flags, -1, 0) };
    if r != page as isize {
        println!("FAIL: mmap2(MAP_FIXED) returned {r}");
        sys::exit_group(1);
    }
    // SAFETY: the new page is mapped read-write.
    unsafe { (page as *mut u32).write_volatile(NEW) };
    println!("threads_tlb: remap returned; the threads' next read must see generation {NEW}");
    PHASE.store(1, Ordering::Release);
    while FRESH.load(Ordering::Acquire) + STALE.load(Ordering::Acquire) < THREADS {
        sys::sched_yield();
    }
    let (fresh, stale) = (FRESH.load(Ordering::Acquire), STALE.load(Ordering::Acquire));
    println!("FRESH: {fresh} of {THREADS} threads read generation {NEW} after remap returned");
    if stale > 0 {
        println!(
            "STALE: {stale} of {THREADS} threads read the old frame through the old translation after remap returned"
        );
    }
    sys::exit_group(i32::from(stale > 0))
}
