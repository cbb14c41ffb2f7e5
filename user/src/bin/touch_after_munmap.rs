//! `touch_after_munmap`: reading a page after munmap must kill the process with SIGSEGV
//! (exit status 139).
#![no_std]
#![no_main]

use tempest_user::sys::{self, MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE};
use tempest_user::{Args, Checks, about_to_touch, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("touch_after_munmap");
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
    // SAFETY: the page is ours, read-write; then nothing refers to it when it goes.
    unsafe {
        tempest_user::poke(addr, 0x5a);
        c.eq("the page reads back", tempest_user::peek(addr), 0x5a);
        c.eq("munmap(addr, 4096)", sys::munmap(addr, PAGE_SIZE), 0);
    }
    if !c.all_passed() {
        return c.finish();
    }
    about_to_touch("touch_after_munmap", "read after munmap", addr);
    // SAFETY: the read is expected to fault and end the process.
    let byte = unsafe { tempest_user::peek(addr) };
    println!("FAIL: read an unmapped page (got {byte:#04x})");
    1
}
