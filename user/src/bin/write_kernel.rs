//! `write_kernel`: writing the kernel image (0xC0100000) from user mode must kill the
//! process with SIGSEGV (exit status 139).
#![no_std]
#![no_main]

use tempest_user::{Args, about_to_touch, println};

tempest_user::entry!(main);

const KERNEL_IMAGE: usize = 0xC010_0000;

fn main(_: &Args) -> i32 {
    about_to_touch("write_kernel", "write", KERNEL_IMAGE);
    // SAFETY: the write is expected to fault and end the process.
    unsafe { tempest_user::poke(KERNEL_IMAGE, 0x42) };
    println!("FAIL: wrote the kernel image");
    1
}
