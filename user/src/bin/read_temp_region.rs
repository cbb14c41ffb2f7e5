//! `read_temp_region`: reading the kernel's temp-mapping window (0xE0000000) from user mode
//! must kill the process with SIGSEGV (exit status 139).
#![no_std]
#![no_main]

use tempest_user::{Args, about_to_touch, println};

tempest_user::entry!(main);

const TEMP_REGION: usize = 0xE000_0000;

fn main(_: &Args) -> i32 {
    about_to_touch("read_temp_region", "read", TEMP_REGION);
    // SAFETY: the read is expected to fault and end the process.
    let byte = unsafe { tempest_user::peek(TEMP_REGION) };
    println!("FAIL: read the temp region (got {byte:#04x})");
    1
}
