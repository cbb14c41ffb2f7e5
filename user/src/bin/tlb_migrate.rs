//! `tlb_migrate [ROUNDS]`: threads that migrate all the time never read a stale translation
//! of a page another thread keeps remapping.
//!
//! Three reader threads hop from CPU to CPU (`sched_setaffinity` to the next online CPU
//! before every read), so each CPU they leave may go idle with the address space still
//! loaded and the page's translation cached, and a reader may come back to it. The main
//! thread, pinned to CPU 0, maps a fresh page over the shared one (`mmap2` with
//! `MAP_FIXED`) `ROUNDS` times (default 200), writes the round number into it, and only
//! then publishes that round; it waits for the readers to make six reads (six moves)
//! before the next remap. A reader loads the published round `g`, then reads the page:
//! a value other than 0 (a newer page not written yet) and below `g` can only come from the
//! old frame, through a translation a finished shootdown left behind. Exits 0 when no read
//! was stale, else prints `STALE: ...` and exits 1 (the negative control
//! `shootdown-running-only`, which forgets CPUs not running a thread right now, must).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, PROT_READ, PROT_WRITE};
use tempest_user::thread::{usable_cpus, wait_for_count};
use tempest_user::{Args, Thread, println};

tempest_user::entry!(main);

const READERS: usize = 3;
const DEFAULT_ROUNDS: u32 = 200;
const GIVE_UP_MS: u32 = 60_000;
/// Reads (each after a move) between two remaps.
const READS_PER_ROUND: u32 = 2 * READERS as u32;

static PAGE: AtomicU32 = AtomicU32::new(0);
/// The last round whose page is in place and written.
static ROUND: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicU32 = AtomicU32::new(0);
static STARTED: AtomicU32 = AtomicU32::new(0);
static READS: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicU32 = AtomicU32::new(0);
/// Reads made on a CPU other than the previous read's: the migrations actually seen.
static MOVED: AtomicU32 = AtomicU32::new(0);
static CPUS: AtomicU32 = AtomicU32::new(0);

extern "C" fn reader(index: usize) -> ! {
    let cpus = CPUS.load(Ordering::Relaxed);
    let online: u32 = cpus.count_ones();
    let mut next = index as u32;
    let mut last = u32::MAX;
    STARTED.fetch_add(1, Ordering::AcqRel);
    while STOP.load(Ordering::Acquire) == 0 {
        // The next online CPU, round robin.
        next = (next + 1) % 32;
        while cpus & (1 << next) == 0 {
            next = (next + 1) % 32;
        }
        if online > 1 && sys::pin_to_cpu(next) != 0 {
            println!("FAIL: sched_setaffinity to cpu {next}");
            sys::exit_group(1);
        }
        let round = ROUND.load(Ordering::Acquire);
        let p = PAGE.load(Ordering::Relaxed) as *const u32;
        // SAFETY: the page stays mapped readable for the whole run (replaced, never unmapped).
        let seen = unsafe { p.read_volatile() };
        if seen != 0 && seen < round {
            STALE.fetch_add(1, Ordering::AcqRel);
        }
        let cpu = sys::current_cpu() as u32;
        if cpu != last {
            MOVED.fetch_add(1, Ordering::Relaxed);
            last = cpu;
        }
        READS.fetch_add(1, Ordering::Relaxed);
    }
    sys::exit(0)
}

fn main(args: &Args) -> i32 {
    let rounds = args
        .str(1)
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let cpus = usable_cpus();
    CPUS.store(cpus, Ordering::Relaxed);
    if sys::pin_to_cpu(0) != 0 {
        println!("FAIL: cannot pin the main thread to cpu 0");
        return 1;
    }
    let page = sys::map_anonymous(4096);
    if sys::is_error(page) {
        println!("FAIL: mmap2 failed");
        return 1;
    }
    PAGE.store(page as u32, Ordering::Release);
    let mut threads = [const { None }; READERS];
    for (i, slot) in threads.iter_mut().enumerate() {
        match Thread::spawn(reader, i) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                println!("FAIL: clone returned {e}");
                return 1;
            }
        }
    }
    if !wait_for_count(&STARTED, READERS as u32, GIVE_UP_MS) {
        println!("FAIL: the readers did not start");
        sys::exit_group(1);
    }
    println!(
        "tlb_migrate: {READERS} readers hop over cpus {cpus:#x}; {rounds} remaps of page {page:#x}"
    );
    let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED;
    for round in 1..=rounds {
        // SAFETY: the readers only read the page; what they read after each remap is the test.
        let r = unsafe { sys::mmap2(page as usize, 4096, PROT_READ | PROT_WRITE, flags, -1, 0) };
        if r != page {
            println!("FAIL: mmap2(MAP_FIXED) returned {r}");
            sys::exit_group(1);
        }
        // SAFETY: the new page is mapped read-write.
        unsafe { (page as *mut u32).write_volatile(round) };
        ROUND.store(round, Ordering::Release);
        // Each round, every reader reads a few times, on several CPUs, before the next remap.
        if !wait_for_count(
            &READS,
            READS.load(Ordering::Acquire) + READS_PER_ROUND,
            GIVE_UP_MS,
        ) {
            println!("FAIL: the readers stopped reading");
            sys::exit_group(1);
        }
    }
    STOP.store(1, Ordering::Release);
    for t in threads.iter().flatten() {
        if !t.join_timeout(GIVE_UP_MS) {
            println!("FAIL: a reader did not end");
            sys::exit_group(1);
        }
    }
    let (reads, stale, moved) = (
        READS.load(Ordering::Acquire),
        STALE.load(Ordering::Acquire),
        MOVED.load(Ordering::Acquire),
    );
    println!("tlb_migrate: {reads} reads, {moved} of them right after a move to another cpu");
    if stale > 0 {
        println!(
            "STALE: {stale} of {reads} reads saw an older round's frame through a stale translation"
        );
        return 1;
    }
    println!("FRESH: 0 of {reads} reads were stale over {rounds} remaps");
    0
}
