//! `exhaust memory | recurse`: a hostile program that takes what the kernel has.
//!
//! `memory`: maps 1 MiB at a time with `mmap2` until the kernel says `ENOMEM` (every page
//! is mapped and zeroed eagerly, so this takes the machine's free frames), gives it all
//! back, then grows the program break 1 MiB at a time until `brk` stops moving it (Linux's
//! answer to no memory: the old break), and gives that back too. Then, to show the kernel
//! is whole, the same 1 MiB is mapped, written and passed to `write` on /dev/null. Exits 0
//! when each step ended as Linux's would; the QEMU test checks that every frame came back.
//!
//! `recurse`: recursion without end, 1 KiB of stack per call, until the stack runs into
//! its guard: the kernel must end the process with SIGSEGV (status 139) and nothing else.
#![no_std]
#![no_main]

use tempest_user::sys::{self, ENOMEM};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const MIB: usize = 1 << 20;
/// More than the machine can have (the user half is 3 GiB).
const MOST: usize = 3 * 1024;

fn main(args: &Args) -> i32 {
    match args.str(1) {
        Some("memory") => memory(),
        Some("recurse") => {
            println!("exhaust: recursing until the stack ends");
            let depth = recurse(0);
            println!("FAIL: the recursion came back at depth {depth}");
            1
        }
        _ => {
            println!("usage: exhaust memory | recurse");
            2
        }
    }
}

fn memory() -> i32 {
    let mut c = Checks::new("exhaust");
    let mut maps = [0usize; MOST];
    let mut count = 0;
    let last = loop {
        let p = sys::map_anonymous(MIB);
        if sys::is_error(p) || count == MOST {
            break p;
        }
        maps[count] = p as usize;
        count += 1;
    };
    c.eq("mmap2 until it fails: the error", last, -(ENOMEM as isize));
    c.check(count > 0, format_args!("{count} MiB mapped before ENOMEM"));
    for &p in &maps[..count] {
        // SAFETY: the ranges were mapped above and nothing uses them.
        c.eq("munmap of a 1 MiB map", unsafe { sys::munmap(p, MIB) }, 0);
    }
    // SAFETY: brk only moves this program's break; nothing lives above it.
    let start = unsafe { sys::brk(0) } as usize;
    let mut brk = start;
    while brk - start < MOST * MIB {
        // SAFETY: as above.
        let moved = unsafe { sys::brk(brk + MIB) } as usize;
        if moved != brk + MIB {
            c.eq("brk when memory ends: the old break", moved, brk);
            break;
        }
        brk = moved;
    }
    let grown = (brk - start) / MIB;
    c.check(
        grown > 0,
        format_args!("the break grew {grown} MiB before memory ended"),
    );
    // SAFETY: as above; shrinking frees what the loop took.
    c.eq(
        "brk back to the start",
        unsafe { sys::brk(start) } as usize,
        start,
    );
    println!("exhaust: {count} MiB by mmap2 until ENOMEM, {grown} MiB by brk, all given back");
    // The kernel is whole: the same memory again, written and copied.
    let p = sys::map_anonymous(MIB);
    c.check(
        !sys::is_error(p),
        format_args!("mmap2 of 1 MiB after exhaustion: {p}"),
    );
    if !sys::is_error(p) {
        // SAFETY: just mapped read-write.
        unsafe { core::ptr::write_bytes(p as *mut u8, b'x', MIB) };
        let fd = sys::open(b"/dev/null\0", 1);
        c.eq(
            "write of 1 MiB to /dev/null",
            sys::write(fd as i32, p as *const u8, MIB),
            MIB as isize,
        );
    }
    c.finish()
}

/// Calls itself with 1 KiB of live stack per level until the stack ends (the frame is
/// used after the call, so the compiler cannot turn the recursion into a loop).
#[inline(never)]
fn recurse(depth: u32) -> u32 {
    if depth == u32::MAX {
        return 0; // never: the stack ends long before
    }
    let mut frame = [0u8; 1024];
    frame[depth as usize % 1024] = depth as u8;
    let deeper = recurse(depth + 1);
    core::hint::black_box(&frame);
    deeper
}
