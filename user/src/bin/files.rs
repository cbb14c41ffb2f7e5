//! `files`: `open`, `close` and `write` on descriptors. `/dev/null` takes whole buffers
//! (read through temp mappings, as the counters show) and refuses bad ones with EFAULT;
//! descriptors come lowest-free first, run out with EMFILE, and closed ones are EBADF;
//! bad, unknown and endless paths are refused with EFAULT, ENOENT and ENAMETOOLONG.
#![no_std]
#![no_main]

use tempest_user::sys::{
    self, EBADF, EFAULT, EINVAL, EMFILE, ENAMETOOLONG, ENOENT, O_RDONLY, O_RDWR, O_WRONLY,
    PAGE_SIZE, TempStats,
};
use tempest_user::{Args, Checks};

tempest_user::entry!(main);

const NULL: &[u8] = b"/dev/null\0";
/// Descriptors a process may hold (the kernel's table).
const MAX_FILES: isize = 16;

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("files");
    let big = 16 * PAGE_SIZE;
    let buf = sys::map_anonymous(big + PAGE_SIZE);
    if !c.check(
        !sys::is_error(buf),
        format_args!("mmap2 of 17 pages = {buf:#x}"),
    ) {
        return c.finish();
    }
    let buf = buf as usize;

    let fd = sys::open(NULL, O_WRONLY);
    c.eq("open(/dev/null, O_WRONLY)", fd, 3);
    let fd = fd as i32;
    let msg = b"files: this line goes to /dev/null and must never be printed\n";
    c.eq(
        "write(null, msg)",
        sys::write_bytes(fd, msg),
        msg.len() as isize,
    );
    let mut before = TempStats::default();
    let mut after = TempStats::default();
    sys::temp_stats(&mut before);
    let r = sys::write(fd, buf as *const u8, big);
    sys::temp_stats(&mut after);
    c.eq("write(null, 64 KiB)", r, big as isize);
    let maps = after.process.maps - before.process.maps;
    c.check(
        maps >= 16,
        format_args!("the 64 KiB write made {maps} temp mappings (at least one per page)"),
    );
    c.eq(
        "write(null, unmapped)",
        sys::write(fd, 0x1000_0000 as *const u8, 16),
        -EFAULT as isize,
    );
    c.eq(
        "write(null, kernel image)",
        sys::write(fd, 0xC010_0000 as *const u8, 16),
        -EFAULT as isize,
    );
    // The last page of the mapping is given back: a buffer running into it is refused.
    // SAFETY: nothing refers to that page any more.
    unsafe { sys::munmap(buf + big, PAGE_SIZE) };
    c.eq(
        "write(null, buffer running into an unmapped page)",
        sys::write(fd, (buf + big - 8) as *const u8, 16),
        -EFAULT as isize,
    );

    let ro = sys::open(NULL, O_RDONLY);
    c.eq("open(/dev/null, O_RDONLY)", ro, 4);
    c.eq(
        "write on a read-only fd",
        sys::write_bytes(ro as i32, msg),
        -EBADF as isize,
    );
    c.eq(
        "open(/nonexistent)",
        sys::open(b"/nonexistent\0", O_RDWR),
        -ENOENT as isize,
    );
    c.eq(
        "open(NULL)",
        sys::open_raw(core::ptr::null(), O_RDWR),
        -EFAULT as isize,
    );
    c.eq(
        "open(kernel image)",
        sys::open_raw(0xC010_0000 as *const u8, O_RDWR),
        -EFAULT as isize,
    );
    c.eq(
        "open with access mode 3",
        sys::open(NULL, 3),
        -EINVAL as isize,
    );
    // A path with no NUL in the first 4096 bytes.
    // SAFETY: the first 16 pages are still mapped and writable, and only this uses them.
    unsafe { core::ptr::write_bytes(buf as *mut u8, b'a', big) };
    c.eq(
        "open(4096 bytes without a NUL)",
        sys::open_raw(buf as *const u8, O_RDWR),
        -ENAMETOOLONG as isize,
    );
    // A path that runs into the unmapped page before its NUL.
    c.eq(
        "open(path running into an unmapped page)",
        sys::open_raw((buf + big - 8) as *const u8, O_RDWR),
        -EFAULT as isize,
    );

    c.eq("close(3)", sys::close(fd), 0);
    c.eq("close(3) again", sys::close(fd), -EBADF as isize);
    c.eq(
        "write on a closed fd",
        sys::write_bytes(fd, msg),
        -EBADF as isize,
    );
    c.eq("close(99)", sys::close(99), -EBADF as isize);
    c.eq("open takes the lowest free fd", sys::open(NULL, O_RDWR), 3);

    // 0..=4 are open now: the table takes MAX_FILES - 5 more, then says EMFILE.
    let mut opened = 0;
    let last = loop {
        let r = sys::open(NULL, O_RDWR);
        if r < 0 || opened > MAX_FILES {
            break r;
        }
        opened += 1;
    };
    c.eq("opens until the table is full", opened, MAX_FILES - 5);
    c.eq("the open after that", last, -EMFILE as isize);
    for fd in 3..MAX_FILES as i32 {
        sys::close(fd);
    }
    c.eq("open after closing them", sys::open(NULL, O_RDWR), 3);

    // Standard output is a descriptor like the others (nothing is printed in between).
    let closed = sys::close(1);
    let write_closed = sys::write_bytes(1, msg);
    let reopened = sys::open(b"/dev/console\0", O_WRONLY);
    c.eq("close(1)", closed, 0);
    c.eq("write(1) after close(1)", write_closed, -EBADF as isize);
    c.eq("open(/dev/console) takes fd 1 again", reopened, 1);
    c.finish()
}
