//! `write_bad_pointers`: write() from memory the process may not read fails with EFAULT
//! (and nothing is written), and the process lives on.
#![no_std]
#![no_main]

use tempest_user::sys::{
    self, EFAULT, MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE,
};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

static TEXT: &[u8] = b"a valid buffer";

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_bad_pointers");
    let mut efault = |what: &str, ptr: usize, len: usize| {
        let ret = sys::write(1, ptr as *const u8, len);
        c.check(
            ret == -EFAULT as isize,
            format_args!("{what}: write(1, {ptr:#x}, {len:#x}) = {ret}, expected -EFAULT"),
        );
    };
    efault("unmapped user address", 0x1000_0000, 16);
    efault("kernel image", 0xC010_0000, 16);
    efault("temp-mapping region", 0xE000_0000, 16);
    efault("NULL", 0, 16);
    efault(
        "valid pointer, huge length",
        TEXT.as_ptr() as usize,
        0x7fff_ffff,
    );
    efault("range wrapping around the top", 0xFFFF_F000, 0x2000);

    // A range that starts in a mapped page and runs into an unmapped one.
    // SAFETY: a new mapping, replacing nothing.
    let addr = unsafe {
        sys::mmap2(
            0,
            2 * PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if c.check(
        !sys::is_error(addr),
        format_args!("mmap2 of two pages = {addr:#x}"),
    ) {
        let addr = addr as usize;
        // SAFETY: the first page is ours; nothing refers to the second, unmapped here.
        unsafe {
            core::ptr::write_bytes(addr as *mut u8, b'x', PAGE_SIZE);
            let ret = sys::munmap(addr + PAGE_SIZE, PAGE_SIZE);
            c.eq("munmap of the second page", ret, 0);
        }
        let ret = sys::write(1, (addr + 4090) as *const u8, 100);
        c.check(
            ret == -EFAULT as isize,
            format_args!(
                "mapped then unmapped page: write(1, {:#x}, 100) = {ret}, expected -EFAULT",
                addr + 4090
            ),
        );
    }
    println!("survived");
    c.finish()
}
