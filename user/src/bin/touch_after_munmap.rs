//! `touch_after_munmap`: reading a page after munmap must kill the process with SIGSEGV
//! (exit status 139).
#![no_std]
#![no_main]

use tempest_user::sys::{self, PAGE_SIZE};
use tempest_user::{Args, Checks, about_to_touch, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("touch_after_munmap");
    let Some(addr) = tempest_user::map_scratch_page(&mut c) else {
        return c.finish();
    };
    // SAFETY: the page is ours, and nothing refers to it when it goes.
    unsafe {
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
