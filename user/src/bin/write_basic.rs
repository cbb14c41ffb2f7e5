//! `write_basic`: write() returns the byte count, rejects a closed fd, accepts length 0.
#![no_std]
#![no_main]

use tempest_user::sys::{self, EBADF};
use tempest_user::{Args, Checks};

tempest_user::entry!(main);

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_basic");
    let msg = b"write_basic: this line is one write(1, msg, len)\n";
    c.eq(
        "write(1, msg, len)",
        sys::write_bytes(1, msg),
        msg.len() as isize,
    );
    c.eq(
        "write(7, msg, len) on a closed fd",
        sys::write_bytes(7, msg),
        -EBADF as isize,
    );
    c.eq("write(1, msg, 0)", sys::write(1, msg.as_ptr(), 0), 0);
    c.eq(
        "write(2, msg, len) to stderr",
        sys::write_bytes(2, msg),
        msg.len() as isize,
    );
    c.finish()
}
