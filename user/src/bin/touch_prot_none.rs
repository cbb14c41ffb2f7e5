//! `touch_prot_none`: reading a page mapped `PROT_NONE` (a thread stack's guard page, as
//! glibc and Rust std make them) must kill the process with SIGSEGV (exit status 139);
//! the same page made readable with `mprotect` reads first, to show the mapping is there.
#![no_std]
#![no_main]

use tempest_user::sys::{self, PAGE_SIZE, PROT_READ};
use tempest_user::{Args, Checks, about_to_touch, println};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("touch_prot_none");
    let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS;
    // SAFETY: a fresh anonymous mapping chosen by the kernel.
    let page = unsafe { sys::mmap2(0, PAGE_SIZE, 0, flags, -1, 0) };
    if !c.check(
        !sys::is_error(page),
        format_args!("mmap2(PROT_NONE) = {page:#x}"),
    ) {
        return c.finish();
    }
    let addr = page as usize;
    // SAFETY: the page is ours; only its protection changes.
    unsafe {
        c.eq(
            "mprotect(PROT_READ)",
            sys::mprotect(addr, PAGE_SIZE, PROT_READ),
            0,
        );
        c.eq("the readable page reads 0", tempest_user::peek(addr), 0);
        c.eq("mprotect(PROT_NONE)", sys::mprotect(addr, PAGE_SIZE, 0), 0);
    }
    if !c.all_passed() {
        return c.finish();
    }
    about_to_touch("touch_prot_none", "read of a PROT_NONE page", addr);
    // SAFETY: the read is expected to fault and end the process.
    let byte = unsafe { tempest_user::peek(addr) };
    println!("FAIL: read a PROT_NONE page (got {byte:#04x})");
    1
}
