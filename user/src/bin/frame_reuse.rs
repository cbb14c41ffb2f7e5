//! `frame_reuse [ROUNDS] [PAGES]`: frames freed by `MAP_FIXED` must not be reachable from
//! any CPU once they can be allocated again. Two reader threads (each alone on a CPU at
//! `-smp 4`) keep reading a shared range of PAGES pages (default 8) while the main thread,
//! ROUNDS times (default 400), checks that the range holds its generation, maps fresh
//! pages over it (`mmap2` with `MAP_FIXED`: the kernel frees the old frames) and writes
//! the next generation into them. A reader may see the old generation (the call has not
//! returned yet), the new pages' zero fill, or the new generation; anything else came
//! from a frame that was freed while the reader's CPU still translated the range to it.
//!
//! The kernel must free the old frames only after the shootdown round. Run with
//! `poison-freed` on the kernel command line, every freed frame is filled with 0xAA at
//! once, so a frame freed before the round shows the pattern to a reader that still holds
//! the old translation (the negative control, `free-before-flush`, does exactly that).
//! Beside it, `frame_reuse churn [ROUNDS]` (another process) maps, tags and unmaps pages
//! in a loop, so freed frames are also reused and written by a second owner, as in a busy
//! system. It churns until the racing process has finished (it leaves the file
//! `/frame_reuse.done`), at most ROUNDS (default 100 000) times, so the two overlap
//! however the host shares its cores out.
//!
//! Exits 0 with `frame_reuse: N rounds, ... no foreign value`, or 1 naming the first
//! foreign value (`REUSED: ...`).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use tempest_user::sys::{self, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use tempest_user::{Args, println};

tempest_user::entry!(main);

const PAGE: usize = 4096;
const READERS: u32 = 2;
const STACK: usize = 16 * 1024;
/// The words of each page that are written and read: the first and the last.
const WORDS: [usize; 2] = [0, PAGE / 4 - 1];
/// What `churn` writes into its pages: never a generation.
const CHURN_TAG: u32 = 0xC4C4_0000;
/// The file the racing process leaves when it has finished: `churn` stops then.
const DONE: &[u8] = b"/frame_reuse.done\0";
/// `O_CREAT`.
const O_CREAT: u32 = 0o100;

/// The generation the range holds (0 while a round has not written the new one).
static ROUNDS_DONE: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicU32 = AtomicU32::new(0);
static READY: AtomicU32 = AtomicU32::new(0);
static FINISHED: AtomicU32 = AtomicU32::new(0);
/// The first foreign value seen (0: none), and where.
static FOREIGN: AtomicU32 = AtomicU32::new(0);
static FOREIGN_PAGE: AtomicU32 = AtomicU32::new(0);
/// Generation changes the readers saw (proof that they read while the rounds ran).
static CHANGES: AtomicU32 = AtomicU32::new(0);
static PAGES: AtomicU32 = AtomicU32::new(8);
static LAST_GENERATION: AtomicU32 = AtomicU32::new(0);

fn word(base: usize, page: usize, w: usize) -> *mut u32 {
    (base + page * PAGE + w * 4) as *mut u32
}

extern "C" fn reader(base: usize) -> ! {
    let pages = PAGES.load(Ordering::Relaxed) as usize;
    let last_generation = LAST_GENERATION.load(Ordering::Relaxed);
    let mut previous = 0;
    READY.fetch_add(1, Ordering::AcqRel);
    while STOP.load(Ordering::Acquire) == 0 {
        for page in 0..pages {
            for w in WORDS {
                // SAFETY: the range stays mapped readable throughout (replaced, never
                // unmapped); what it reads is the test.
                let v = unsafe { word(base, page, w).read_volatile() };
                if v > last_generation {
                    if FOREIGN
                        .compare_exchange(0, v, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                    {
                        FOREIGN_PAGE.store(page as u32, Ordering::Release);
                    }
                } else if v != previous {
                    previous = v;
                    CHANGES.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    FINISHED.fetch_add(1, Ordering::AcqRel);
    sys::exit(0)
}

/// Argument `i` as a number, `default` when it is missing; `None` when it is not a number.
fn number(args: &Args, i: usize, default: u32) -> Option<u32> {
    args.str(i).map_or(Some(default), |s| s.parse().ok())
}

fn main(args: &Args) -> i32 {
    let usage = || {
        println!("usage: frame_reuse [ROUNDS] [PAGES 1..=64] | frame_reuse churn [ROUNDS]");
        2
    };
    if args.str(1) == Some("churn") {
        return number(args, 2, 100_000).map_or_else(usage, churn);
    }
    let (Some(rounds @ 1..), Some(pages @ 1..=64)) = (number(args, 1, 400), number(args, 2, 8))
    else {
        return usage();
    };
    PAGES.store(pages, Ordering::Relaxed);
    LAST_GENERATION.store(rounds + 1, Ordering::Relaxed);
    let len = pages as usize * PAGE;
    let base = sys::map_anonymous(len);
    let stacks = sys::map_anonymous(READERS as usize * STACK);
    if sys::is_error(base) || sys::is_error(stacks) {
        println!("FAIL: mmap2 failed");
        return 1;
    }
    let base = base as usize;
    let fill = |generation: u32| {
        for page in 0..pages as usize {
            for w in WORDS {
                // SAFETY: the range is this program's, mapped read-write.
                unsafe { word(base, page, w).write_volatile(generation) };
            }
        }
    };
    fill(1);
    for r in 0..READERS as usize {
        let tid = sys::spawn_thread(reader, base, stacks as usize + (r + 1) * STACK);
        if sys::is_error(tid) {
            println!("FAIL: clone returned {tid}");
            return 1;
        }
    }
    while READY.load(Ordering::Acquire) < READERS {
        sys::sched_yield();
    }
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    for generation in 1..=rounds {
        for page in 0..pages as usize {
            // SAFETY: as in `fill`.
            let v = unsafe { word(base, page, 0).read_volatile() };
            if v != generation {
                println!(
                    "FAIL: page {page} holds {v:#x} before round {generation}, not {generation}"
                );
                sys::exit_group(1);
            }
        }
        // SAFETY: the range is this program's; the readers only read it, and what they
        // read while and after it is replaced is the test.
        let r = unsafe { sys::mmap2(base, len, PROT_READ | PROT_WRITE, flags, -1, 0) };
        if r != base as isize {
            println!("FAIL: mmap2(MAP_FIXED) returned {r}");
            sys::exit_group(1);
        }
        fill(generation + 1);
        ROUNDS_DONE.store(generation, Ordering::Release);
        if FOREIGN.load(Ordering::Acquire) != 0 {
            break;
        }
    }
    STOP.store(1, Ordering::Release);
    while FINISHED.load(Ordering::Acquire) < READERS {
        sys::sched_yield();
    }
    let fd = sys::open(DONE, sys::O_WRONLY | O_CREAT);
    if fd >= 0 {
        sys::close(fd as i32);
    }
    let (done, changes) = (
        ROUNDS_DONE.load(Ordering::Acquire),
        CHANGES.load(Ordering::Acquire),
    );
    match FOREIGN.load(Ordering::Acquire) {
        0 => {
            println!(
                "frame_reuse: {done} rounds over {pages} pages, readers saw {changes} changes, no foreign value"
            );
            0
        }
        v => {
            let page = FOREIGN_PAGE.load(Ordering::Acquire);
            let what = match v {
                0xAAAA_AAAA => "the poison of a freed frame",
                v if v & 0xFFFF_0000 == CHURN_TAG => "another process's page",
                _ => "an unknown owner",
            };
            println!(
                "REUSED: a reader saw {v:#x} ({what}) at page {page} after {done} rounds: a freed frame was still reachable"
            );
            1
        }
    }
}

/// `churn`: maps 16 pages, tags each, unmaps them, until the racing process has finished
/// (at most ROUNDS times), so that frames freed by it are taken and written by another
/// owner.
fn churn(rounds: u32) -> i32 {
    const CHURN_PAGES: usize = 16;
    let mut done = 0;
    for round in 0..rounds {
        if round % 64 == 0 {
            let fd = sys::open(DONE, sys::O_RDONLY);
            if fd >= 0 {
                sys::close(fd as i32);
                break;
            }
        }
        done = round + 1;
        let p = sys::map_anonymous(CHURN_PAGES * PAGE);
        if sys::is_error(p) {
            println!("FAIL: churn mmap2 returned {p}");
            return 1;
        }
        for page in 0..CHURN_PAGES {
            for w in WORDS {
                // SAFETY: the pages were just mapped read-write for this process.
                unsafe { word(p as usize, page, w).write_volatile(CHURN_TAG | (round & 0xFFFF)) };
            }
        }
        // SAFETY: nothing else uses the pages.
        let r = unsafe { sys::munmap(p as usize, CHURN_PAGES * PAGE) };
        if r != 0 {
            println!("FAIL: churn munmap returned {r}");
            return 1;
        }
    }
    println!("frame_reuse churn: {done} rounds");
    0
}
