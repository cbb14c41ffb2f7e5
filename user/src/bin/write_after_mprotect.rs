//! `write_after_mprotect`: writing a page made read-only by mprotect must kill the process
//! with SIGSEGV (exit status 139).
#![no_std]
#![no_main]

use tempest_user::sys::{self, PAGE_SIZE, PROT_READ};
use tempest_user::{Args, Checks, about_to_touch, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_after_mprotect");
    let Some(addr) = tempest_user::map_scratch_page(&mut c) else {
        return c.finish();
    };
    // SAFETY: the page is ours; once read-only it is only read here.
    unsafe {
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
