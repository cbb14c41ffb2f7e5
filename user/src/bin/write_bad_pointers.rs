//! `write_bad_pointers`: write() from memory the process may not read fails with EFAULT
//! (and nothing is written), and the process lives on.
//!
//! The buffers of the partly valid ranges (a valid start that runs into memory the process
//! may not read) are filled with [`FILL`], which appears nowhere else in the output: the
//! QEMU test checks that no run of six of them was printed, so not even the valid part
//! of such a buffer reached the console.
#![no_std]
#![no_main]

use core::hint::black_box;

use tempest_user::sys::{self, EFAULT, PAGE_SIZE};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

/// The byte of every partly valid buffer.
const FILL: u8 = b'Q';

/// First address of the kernel half.
const KERNEL_BASE: usize = 0xC000_0000;

/// A valid buffer in the program image.
static TEXT: [u8; 64] = [FILL; 64];

/// Checks that `write(1, ptr, len)` fails with EFAULT.
fn efault(c: &mut Checks, what: &str, ptr: usize, len: usize) {
    let ret = sys::write(1, ptr as *const u8, len);
    c.check(
        ret == -EFAULT as isize,
        format_args!("{what}: write(1, {ptr:#x}, {len:#x}) = {ret}, expected -EFAULT"),
    );
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_bad_pointers");
    efault(&mut c, "unmapped user address", 0x1000_0000, 16);
    efault(&mut c, "kernel image", 0xC010_0000, 16);
    efault(&mut c, "temp-mapping region", 0xE000_0000, 16);
    efault(&mut c, "NULL", 0, 16);
    efault(
        &mut c,
        "valid pointer, huge length",
        black_box(TEXT.as_ptr()) as usize,
        0x7fff_ffff,
    );
    efault(&mut c, "range wrapping around the top", 0xFFFF_F000, 0x2000);

    // A buffer on the user stack whose range runs on into the kernel half.
    let stack_buf = black_box([FILL; 64]);
    let ptr = stack_buf.as_ptr() as usize;
    efault(
        &mut c,
        "user stack running into the kernel",
        ptr,
        KERNEL_BASE - ptr + 16,
    );
    black_box(&stack_buf);

    // A range that starts in a mapped page and runs into an unmapped one.
    let addr = sys::map_anonymous(2 * PAGE_SIZE);
    if c.check(
        !sys::is_error(addr),
        format_args!("mmap2 of two pages = {addr:#x}"),
    ) {
        let addr = addr as usize;
        // SAFETY: the first page is ours; nothing refers to the second, unmapped here.
        unsafe {
            core::ptr::write_bytes(addr as *mut u8, FILL, PAGE_SIZE);
            let ret = sys::munmap(addr + PAGE_SIZE, PAGE_SIZE);
            c.eq("munmap of the second page", ret, 0);
        }
        // Its first 6 bytes are the last of the mapped page.
        efault(
            &mut c,
            "mapped then unmapped page",
            addr + PAGE_SIZE - 6,
            100,
        );
        efault(
            &mut c,
            "mapped page, length wrapping past 4 GiB",
            addr,
            0usize.wrapping_sub(addr) + 16,
        );
    }
    println!("survived");
    c.finish()
}
