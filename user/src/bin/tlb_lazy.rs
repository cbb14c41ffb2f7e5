//! `tlb_lazy [ROUNDS]`: a TLB shootdown reaches CPUs that are idle with the address space
//! still loaded (lazy TLB), not only those running its threads now.
//!
//! Reader threads, each pinned to a CPU other than the main thread's (up to three), read a
//! shared page, so their CPUs cache its translation, then block on a futex: their CPUs go
//! idle, and a kernel that keeps the last address space loaded on an idle CPU keeps that
//! translation. The main thread maps a new page over the old one (`mmap2` with
//! `MAP_FIXED`), writes the next generation into it, and wakes the readers, which run again
//! on the same CPUs (they are pinned) and read the page: each must see the new generation.
//! Seeing anything else means it read the old frame through a translation the remap's
//! shootdown did not reach. Every round (default 8) starts with the readers re-reading the
//! page, so a stale translation left by an earlier round is caught as well.
//!
//! Exits 0 when every read saw the generation of its round, else prints `STALE: ...` and
//! exits 1 (the negative control `shootdown-running-only`, which forgets CPUs that are not
//! running a thread of the process, must end here). The main thread waits 30 ms before each
//! remap so the readers are asleep; a reader that is still running is shot down like any
//! running CPU, which can only hide a stale read, never invent one.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, FUTEX_PRIVATE_FLAG, FUTEX_WAKE_ALL, PROT_READ, PROT_WRITE};
use tempest_user::thread::{first_and_last, usable_cpus, wait_for_count};
use tempest_user::{Args, Thread, println};

tempest_user::entry!(main);

const MAX_READERS: usize = 3;
const DEFAULT_ROUNDS: u32 = 8;
const SETTLE_MS: u32 = 30;
const GIVE_UP_MS: u32 = 20_000;

/// The shared page, the rounds, and the phase: `2r + 1` tells the readers to read the old
/// generation of round `r`, `2r + 2` to read the new one.
static PAGE: AtomicU32 = AtomicU32::new(0);
static ROUNDS: AtomicU32 = AtomicU32::new(DEFAULT_ROUNDS);
static PHASE: AtomicU32 = AtomicU32::new(0);
/// Reads done, and their verdicts.
static DONE: AtomicU32 = AtomicU32::new(0);
static FRESH: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicU32 = AtomicU32::new(0);
/// Times a reader could not pin itself or was found off its CPU.
static OFF_CPU: AtomicU32 = AtomicU32::new(0);
static READER_CPUS: [AtomicU32; MAX_READERS] = [const { AtomicU32::new(0) }; MAX_READERS];

/// The generations round `r` starts and ends with.
fn old_gen(r: u32) -> u32 {
    2 * r + 1
}
fn new_gen(r: u32) -> u32 {
    2 * r + 2
}

fn read_page() -> u32 {
    let p = PAGE.load(Ordering::Acquire) as *const u32;
    // SAFETY: the page is mapped readable for the whole run (replaced, never unmapped).
    unsafe { p.read_volatile() }
}

/// Sleeps on PHASE until it reaches `phase`.
fn wait_phase(phase: u32) {
    loop {
        let seen = PHASE.load(Ordering::Acquire);
        if seen >= phase {
            return;
        }
        sys::futex_wait(&PHASE, seen, None, FUTEX_PRIVATE_FLAG);
    }
}

/// Counts one read with its verdict (the main thread polls DONE).
fn report(fresh: bool) {
    (if fresh { &FRESH } else { &STALE }).fetch_add(1, Ordering::AcqRel);
    DONE.fetch_add(1, Ordering::AcqRel);
}

extern "C" fn reader(i: usize) -> ! {
    let cpu = READER_CPUS[i].load(Ordering::Acquire);
    let on_cpu = || sys::current_cpu() == cpu as isize;
    if sys::pin_to_cpu(cpu) != 0 || !on_cpu() {
        OFF_CPU.fetch_add(1, Ordering::AcqRel);
    }
    for r in 0..ROUNDS.load(Ordering::Acquire) {
        wait_phase(2 * r + 1);
        // Loads the translation into this CPU's TLB (and checks no stale one is left).
        report(read_page() == old_gen(r));
        // Blocks: this CPU goes idle with the address space loaded.
        wait_phase(2 * r + 2);
        let seen = read_page();
        if !on_cpu() {
            OFF_CPU.fetch_add(1, Ordering::AcqRel);
        }
        report(seen == new_gen(r));
    }
    sys::exit(0)
}

/// Sets PHASE, wakes the readers and waits until `readers` more reads are done.
fn run_phase(phase: u32, readers: u32) -> bool {
    let target = DONE.load(Ordering::Acquire) + readers;
    PHASE.store(phase, Ordering::Release);
    sys::futex_wake(&PHASE, FUTEX_WAKE_ALL, FUTEX_PRIVATE_FLAG);
    wait_for_count(&DONE, target, GIVE_UP_MS)
}

fn main(args: &Args) -> i32 {
    let Some(rounds) = args
        .str(1)
        .map_or(Some(DEFAULT_ROUNDS), |s| s.parse().ok().filter(|&n| n > 0))
    else {
        println!("FAIL: usage: tlb_lazy [ROUNDS > 0]");
        return 1;
    };
    ROUNDS.store(rounds, Ordering::Release);
    let mask = usable_cpus();
    let (main_cpu, _) = first_and_last(mask);
    let others = mask & !(1 << main_cpu);
    // Readers on the other CPUs, one each (on the main thread's CPU if there is no other).
    let cpus = if others == 0 { mask } else { others };
    let mut readers = 0;
    for cpu in (0..32).filter(|b| cpus & (1 << b) != 0).take(MAX_READERS) {
        READER_CPUS[readers].store(cpu, Ordering::Release);
        readers += 1;
    }
    if sys::pin_to_cpu(main_cpu) != 0 {
        println!("FAIL: could not pin the main thread to cpu {main_cpu}");
        return 1;
    }
    let page = sys::map_anonymous(sys::PAGE_SIZE);
    if sys::is_error(page) {
        println!("FAIL: mmap2 = {page}");
        return 1;
    }
    let page = page as usize;
    PAGE.store(page as u32, Ordering::Release);
    let write = |value: u32| {
        // SAFETY: the page is this program's, mapped read-write; readers only read it.
        unsafe { (page as *mut u32).write_volatile(value) }
    };
    write(old_gen(0));
    let mut threads = [None; MAX_READERS];
    for (i, slot) in threads.iter_mut().enumerate().take(readers) {
        match Thread::spawn(reader, i) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                println!("FAIL: clone = {e}");
                sys::exit_group(1);
            }
        }
    }
    println!(
        "tlb_lazy: {readers} readers on cpus {cpus:#x}, main thread on cpu {main_cpu}, {rounds} rounds"
    );
    let n = readers as u32;
    for r in 0..rounds {
        write(old_gen(r));
        if !run_phase(2 * r + 1, n) {
            println!("FAIL: round {r}: the readers did not read the page");
            sys::exit_group(1);
        }
        // Let the readers block and their CPUs go idle.
        sys::sleep_ms(SETTLE_MS);
        let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED;
        // SAFETY: the readers are blocked; what they read after this is the test.
        let ret = unsafe { sys::mmap2(page, sys::PAGE_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0) };
        if ret != page as isize {
            println!("FAIL: round {r}: mmap2(MAP_FIXED) = {ret}");
            sys::exit_group(1);
        }
        write(new_gen(r));
        if !run_phase(2 * r + 2, n) {
            println!("FAIL: round {r}: the readers did not read the new page");
            sys::exit_group(1);
        }
    }
    threads.iter().flatten().for_each(Thread::join);
    let (fresh, stale) = (FRESH.load(Ordering::Acquire), STALE.load(Ordering::Acquire));
    let off = OFF_CPU.load(Ordering::Acquire);
    let total = 2 * rounds * n;
    println!("FRESH: {fresh} of {total} reads saw their round's generation");
    if off != 0 {
        println!("FAIL: {off} times a reader was not on its cpu");
    }
    if stale != 0 {
        println!(
            "STALE: {stale} of {total} reads saw an old frame through a translation the shootdown missed on an idle cpu"
        );
    }
    i32::from(stale != 0 || off != 0)
}
