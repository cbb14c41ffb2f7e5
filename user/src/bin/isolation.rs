//! `isolation TAG`: two processes (`isolation A`, `isolation B`) fill the same static array,
//! at the same virtual address, with their own tag and check, across 200 yields, that they
//! never see the other's bytes.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;

use tempest_user::sys;
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const SIZE: usize = 4096;
const ROUNDS: u32 = 200;

/// Initialised (non-zero) so that it lives in .data, in the image both processes load.
struct Shared(UnsafeCell<[u8; SIZE]>);
// SAFETY: each process is single-threaded; the array is only reached through `fill` and
// `count_other`, from main.
unsafe impl Sync for Shared {}

static ARRAY: Shared = Shared(UnsafeCell::new([0x55; SIZE]));

fn base() -> *mut u8 {
    ARRAY.0.get().cast()
}

fn fill(tag: u8) {
    for i in 0..SIZE {
        // SAFETY: i < SIZE, inside ARRAY; volatile so every byte really is stored.
        unsafe { base().add(i).write_volatile(tag) };
    }
}

/// How many bytes are not `tag`.
fn count_other(tag: u8) -> usize {
    // SAFETY: i < SIZE, inside ARRAY; volatile so every byte really is loaded.
    (0..SIZE)
        .filter(|&i| unsafe { base().add(i).read_volatile() } != tag)
        .count()
}

fn main(args: &Args) -> i32 {
    let mut c = Checks::new("isolation");
    let tag = match args.get(1) {
        Some(&[t]) if t.is_ascii_graphic() => t,
        _ => {
            println!("FAIL: usage: isolation TAG (one printable character)");
            return 1;
        }
    };
    let tag_char = tag as char;
    println!("isolation {tag_char}: array at {:p}, {SIZE} bytes", base());
    fill(tag);
    let mut foreign = 0;
    let mut bad_rounds = 0;
    for _ in 0..ROUNDS {
        sys::sched_yield();
        let n = count_other(tag);
        if n != 0 {
            foreign += n;
            bad_rounds += 1;
            fill(tag);
        }
    }
    c.check(
        foreign == 0,
        format_args!(
            "isolation {tag_char}: {ROUNDS} yields, {bad_rounds} rounds saw {foreign} foreign bytes"
        ),
    );
    c.finish()
}
