//! `write_after_mprotect`: writing a page made read-only by mprotect must kill the process
//! with SIGSEGV (exit status 139).
#![no_std]
#![no_main]

use tempest_user::sys::{self, MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use tempest_user::{Args, Checks, about_to_touch, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_after_mprotect");
    // SAFETY: a new mapping, replacing nothing.
    let ret = unsafe {
        sys::mmap2(
            0,
            PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if !c.check(
        !sys::is_error(ret),
        format_args!("mmap2 of one page = {ret:#x}"),
    ) {
        return c.finish();
    }
    let addr = ret as usize;
    // SAFETY: the page is ours, read-write until the mprotect; only reads follow it here.
    unsafe {
        tempest_user::poke(addr, 0x5a);
        c.eq("the page reads back", tempest_user::peek(addr), 0x5a);
        c.eq(
            "mprotect(addr, 4096, PROT_READ)",
            sys::mprotect(addr, PAGE_SIZE, PROT_READ),
            0,
        );
        c.eq(
            "the read-only page still reads",
            tempest_user::peek(addr),
            0x5a,
        );
    }
    if !c.all_passed() {
        return c.finish();
    }
    about_to_touch(
        "write_after_mprotect",
        "write after mprotect(PROT_READ)",
        addr,
    );
    // SAFETY: the write is expected to fault and end the process.
    unsafe { tempest_user::poke(addr, 0xa5) };
    println!("FAIL: wrote a read-only page");
    1
}
