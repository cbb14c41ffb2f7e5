//! `write_cross_page`: a write whose buffer crosses a page boundary is copied whole.
//!
//! Two fresh anonymous pages: the first filled with `A`, the second with `B`; the 100 bytes
//! written from offset 4000 are `<`, 95 `A`, 3 `B`, `>`, printed as one line.
#![no_std]
#![no_main]

use tempest_user::sys::{self, PAGE_SIZE};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const OFFSET: usize = 4000;
const LEN: usize = 100;

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("write_cross_page");
    let addr = sys::map_anonymous(2 * PAGE_SIZE);
    if !c.check(
        !sys::is_error(addr),
        format_args!("mmap2 of two pages = {addr:#x}"),
    ) {
        return c.finish();
    }
    // SAFETY: the two pages just mapped read-write, owned by this function alone.
    let buf = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, 2 * PAGE_SIZE) };
    buf[..PAGE_SIZE].fill(b'A');
    buf[PAGE_SIZE..].fill(b'B');
    buf[OFFSET] = b'<';
    buf[OFFSET + LEN - 1] = b'>';
    println!("the next line is write(1, buf + {OFFSET}, {LEN}), across the page boundary:");
    let n = sys::write(1, buf[OFFSET..].as_ptr(), LEN);
    println!();
    c.eq("write(1, buf + 4000, 100)", n, LEN as isize);
    c.finish()
}
