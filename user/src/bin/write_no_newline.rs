//! `write_no_newline`: writes `no newline` without a line end and exits 0, leaving the
//! console in the middle of a line: the kernel's exit record must still start a line of its
//! own, where the runner finds it.
#![no_std]
#![no_main]

use tempest_user::Args;
use tempest_user::sys;

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let msg = b"no newline";
    if sys::write_bytes(1, msg) == msg.len() as isize {
        0
    } else {
        1
    }
}
